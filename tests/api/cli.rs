//! The built binary, run as a person or a script would: the key and workspace commands, startup
//! errors, and a newcomer's first `serve --sandbox`.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::support::{Backend, Database, expect_error, response_json};

const BIN: &str = env!("CARGO_BIN_EXE_mosaic-social");

/// The binary with a clean environment: only what a test sets, in `dir`, which is also its home
/// (so the embedded databases go to `dir/data/mosaic-social`).
pub fn command(dir: &Path, database_url: Option<&str>) -> Command {
    command_at(dir, dir, database_url)
}

/// The binary run in `cwd` by a user whose home is `home`.
fn command_at(cwd: &Path, home: &Path, database_url: Option<&str>) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        // Profile keys are stored encrypted: the commands that store one need the key.
        .env("SECRETS_KEY", crate::support::TEST_SECRETS_KEY)
        .current_dir(cwd)
        .kill_on_drop(true);
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
}

pub async fn run_args(dir: &Path, database_url: Option<&str>, args: &[&str]) -> Output {
    command(dir, database_url)
        .args(args)
        .output()
        .await
        .unwrap()
}

/// Runs a command line given as one string (for arguments without spaces).
pub async fn run(dir: &Path, database_url: Option<&str>, line: &str) -> Output {
    run_args(
        dir,
        database_url,
        &line.split_whitespace().collect::<Vec<_>>(),
    )
    .await
}

pub fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A success's last stdout line: where commands put what a script needs.
pub fn last_line_of_success(output: &Output) -> String {
    assert!(output.status.success(), "{output:?}");
    stdout_lines(output)
        .last()
        .cloned()
        .expect("a line on stdout")
}

/// The sandbox's database file under a test's home.
fn sandbox_db(home: &Path) -> std::path::PathBuf {
    home.join("data/mosaic-social/sandbox.db")
}

/// A failure: non-zero exit and exactly one line on stderr (besides the `database:` line that
/// says which database the command used), which must mention `expected`.
pub fn assert_fails_with_one_line(output: &Output, expected: &[&str]) {
    assert!(!output.status.success(), "exit status {:?}", output.status);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("database: "))
        .collect();
    assert_eq!(lines.len(), 1, "stderr: {stderr}");
    for word in expected {
        assert!(
            lines[0].contains(word),
            "{word:?} missing from {:?}",
            lines[0]
        );
    }
}

async fn keys_commands_work_as_scripts_expect(backend: Backend) {
    let Some(database) = Database::create(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = Some(database.url());

    // Blank names are refused as typed, before anything is written.
    for args in [
        &["keys", "create", "--organization", "   "][..],
        &["keys", "create", "--organization", "acme", "--label", " \t"],
        &[
            "workspaces",
            "create",
            "--organization",
            "acme",
            "--name",
            "",
        ],
    ] {
        let blank = run_args(dir.path(), url, args).await;
        assert_fails_with_one_line(&blank, &["must not be blank"]);
    }
    let store =
        mosaic_social::store::connect(database.url(), Default::default(), Default::default())
            .await
            .unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.count_organizations().await.unwrap(), 0);

    let created = run_args(
        dir.path(),
        url,
        &[
            "keys",
            "create",
            "--organization",
            "acme",
            "--label",
            "ci bot",
        ],
    )
    .await;
    let key = last_line_of_success(&created);
    assert!(key.starts_with("mk_") && key.len() >= 35, "{key}");
    let second = run(dir.path(), url, "keys create --organization acme").await;
    let second_key = last_line_of_success(&second);
    assert_ne!(key, second_key);

    let listed = run(dir.path(), url, "keys list --organization acme").await;
    assert!(listed.status.success());
    let lines = stdout_lines(&listed);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let fields: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(fields.len(), 5, "{fields:?}");
    assert_eq!(fields[1], &key[..11]);
    assert_eq!(fields[2], "ci bot");
    assert!(fields[3].ends_with('Z'), "{}", fields[3]);
    assert_eq!(fields[4], "active");
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains(&key[11..]),
        "a whole key was listed"
    );

    let revoked = run_args(dir.path(), url, &["keys", "revoke", &key[..11]]).await;
    assert!(revoked.status.success(), "{revoked:?}");
    let listed = run(dir.path(), url, "keys list --organization acme").await;
    assert!(stdout_lines(&listed)[0].ends_with("\trevoked"));
    assert!(stdout_lines(&listed)[1].ends_with("\tactive"));
    // By id works too.
    let id = stdout_lines(&listed)[1]
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        run_args(dir.path(), url, &["keys", "revoke", &id])
            .await
            .status
            .success()
    );

    let unknown = run(dir.path(), url, "keys revoke mk_nothere").await;
    assert_fails_with_one_line(&unknown, &["mk_nothere"]);
    let nobody = run(dir.path(), url, "keys list --organization nobody").await;
    assert_fails_with_one_line(&nobody, &["nobody"]);

    let workspace = run(
        dir.path(),
        url,
        "workspaces create --organization acme --name brand-b --ayrshare-profile-key PK-B",
    )
    .await;
    let id = last_line_of_success(&workspace);
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    let again = run(
        dir.path(),
        url,
        "workspaces create --organization acme --name brand-b",
    )
    .await;
    assert_fails_with_one_line(&again, &["brand-b"]);
    let unknown_org = run(
        dir.path(),
        url,
        "workspaces create --organization initech --name w",
    )
    .await;
    assert_fails_with_one_line(&unknown_org, &["initech"]);

    let listed = run(dir.path(), url, "workspaces list --organization acme").await;
    assert!(listed.status.success(), "{listed:?}");
    let lines = stdout_lines(&listed);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let primary: Vec<&str> = lines[0].split('\t').collect();
    assert_eq!(
        primary[1..],
        ["primary", primary[2], "primary", "no-profile-key"]
    );
    assert!(primary[2].ends_with('Z'), "{}", primary[2]);
    let brand: Vec<&str> = lines[1].split('\t').collect();
    assert_eq!(brand[0], id);
    assert_eq!(
        brand[1..],
        ["brand-b", brand[2], "secondary", "profile-key"]
    );
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains("PK-B"),
        "a profile key was listed"
    );
    let nobody = run(dir.path(), url, "workspaces list --organization nobody").await;
    assert_fails_with_one_line(&nobody, &["nobody"]);
}

#[tokio::test]
async fn keys_commands_work_as_scripts_expect_on_sqlite() {
    keys_commands_work_as_scripts_expect(Backend::Sqlite).await;
}

#[tokio::test]
async fn keys_commands_work_as_scripts_expect_on_postgres() {
    keys_commands_work_as_scripts_expect(Backend::Postgres).await;
}

/// `workspaces create` for `name` in `acme` with `args` after it and `stdin` on standard input.
async fn create_workspace(
    dir: &Path,
    url: &str,
    name: &str,
    args: &[&str],
    stdin: &[u8],
) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut child = command(dir, Some(url))
        .args([
            "workspaces",
            "create",
            "--organization",
            "acme",
            "--name",
            name,
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // The command may stop reading early (a key that is too long): a broken pipe is fine.
    let _ = input.write_all(stdin).await;
    drop(input);
    child.wait_with_output().await.unwrap()
}

async fn a_profile_key_is_read_from_standard_input_or_a_file(backend: Backend) {
    let Some(database) = Database::create(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = database.url();
    last_line_of_success(&run(dir.path(), Some(url), "keys create --organization acme").await);
    let secrets = mosaic_social::secrets::Secrets::new(Some(
        mosaic_social::secrets::Keyring::from_base64(crate::support::TEST_SECRETS_KEY, None)
            .unwrap(),
    ));
    let store = mosaic_social::store::connect(url, Default::default(), secrets)
        .await
        .unwrap();
    let organization = store.find_organization("acme").await.unwrap().unwrap().id;
    let key_of = async |id: &str| {
        use secrecy::ExposeSecret;
        let workspace = store
            .find_workspace(organization, Some(id.parse().unwrap()))
            .await
            .unwrap()
            .unwrap();
        workspace
            .ayrshare_profile_key
            .map(|k| k.expose_secret().to_owned())
    };

    // `-`: from standard input; the final line break is not part of the key.
    let created = create_workspace(
        dir.path(),
        url,
        "from-stdin",
        &["--ayrshare-profile-key", "-"],
        b"PK-STDIN-1\n",
    )
    .await;
    assert_eq!(
        key_of(&last_line_of_success(&created)).await.as_deref(),
        Some("PK-STDIN-1")
    );
    // From a file, written the Windows way.
    let file = dir.path().join("profile-key");
    std::fs::write(&file, "PK-FILE-2\r\n").unwrap();
    let path = file.to_str().unwrap();
    let created = create_workspace(
        dir.path(),
        url,
        "from-file",
        &["--ayrshare-profile-key-file", path],
        b"",
    )
    .await;
    assert_eq!(
        key_of(&last_line_of_success(&created)).await.as_deref(),
        Some("PK-FILE-2")
    );

    // Refused, with nothing written and the key never echoed.
    std::fs::write(&file, "PK-SECRET-3\nsecond line\n").unwrap();
    let two_lines = create_workspace(
        dir.path(),
        url,
        "w1",
        &["--ayrshare-profile-key-file", path],
        b"",
    )
    .await;
    assert_fails_with_one_line(&two_lines, &["more than one line"]);
    assert!(!String::from_utf8_lossy(&two_lines.stderr).contains("PK-SECRET-3"));
    let empty = create_workspace(
        dir.path(),
        url,
        "w2",
        &["--ayrshare-profile-key", "-"],
        b"\n",
    )
    .await;
    assert_fails_with_one_line(&empty, &["empty"]);
    let endless = create_workspace(
        dir.path(),
        url,
        "w3",
        &["--ayrshare-profile-key-file", "/dev/zero"],
        b"",
    )
    .await;
    assert_fails_with_one_line(&endless, &["longer than 1024 bytes"]);
    let missing = create_workspace(
        dir.path(),
        url,
        "w4",
        &["--ayrshare-profile-key-file", "/nonexistent/key"],
        b"",
    )
    .await;
    assert_fails_with_one_line(&missing, &["/nonexistent/key"]);
    let both = create_workspace(
        dir.path(),
        url,
        "w5",
        &[
            "--ayrshare-profile-key",
            "PK",
            "--ayrshare-profile-key-file",
            path,
        ],
        b"",
    )
    .await;
    assert_fails_with_one_line(&both, &["--ayrshare-profile-key-file"]);
    let names: Vec<String> = store
        .list_workspaces(organization)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.name)
        .collect();
    assert_eq!(names, ["primary", "from-stdin", "from-file"]);

    // The help says why.
    let help = run(dir.path(), Some(url), "workspaces create --help").await;
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--ayrshare-profile-key-file") && help.contains("`ps`"),
        "{help}"
    );
}

#[tokio::test]
async fn a_profile_key_is_read_from_standard_input_or_a_file_on_sqlite() {
    a_profile_key_is_read_from_standard_input_or_a_file(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_profile_key_is_read_from_standard_input_or_a_file_on_postgres() {
    a_profile_key_is_read_from_standard_input_or_a_file(Backend::Postgres).await;
}

#[tokio::test]
async fn serving_without_an_ayrshare_key_names_both_ways_out() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(dir.path(), None, "serve").await;
    assert_fails_with_one_line(&output, &["AYRSHARE_API_KEY", "--sandbox"]);
    // No subcommand means serve.
    let output = run(dir.path(), None, "").await;
    assert_fails_with_one_line(&output, &["AYRSHARE_API_KEY"]);
}

#[tokio::test]
async fn a_malformed_setting_stops_startup_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("BIND_ADDR", "everywhere"),
        ("AYRSHARE_TIMEOUT_SECS", "-1"),
        ("DATABASE_URL", "mysql://db"),
        ("RUST_LOG", "mosaic=loud"),
        ("LOG_FORMAT", "xml"),
    ] {
        let output = command(dir.path(), None)
            .env(name, value)
            .env("AYRSHARE_API_KEY", "k")
            .arg("serve")
            .output()
            .await
            .unwrap();
        assert_fails_with_one_line(&output, &[name]);
    }
    // A missing argument is named.
    let output = run(dir.path(), None, "keys create").await;
    assert_fails_with_one_line(&output, &["--organization", "--help"]);
    let output = run(dir.path(), None, "workspaces create --organization acme").await;
    assert_fails_with_one_line(&output, &["--name"]);

    // A credential that cannot travel in a header stops startup, without being printed.
    let output = command(dir.path(), None)
        .env("AYRSHARE_API_KEY", "abc\u{1}SECRET")
        .arg("serve")
        .output()
        .await
        .unwrap();
    assert_fails_with_one_line(&output, &["AYRSHARE_API_KEY"]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("SECRET"));
}

#[tokio::test]
async fn a_malformed_env_file_is_named_without_printing_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "AYRSHARE_API_KEY=TOP SECRET-456 x\"y\n",
    )
    .unwrap();
    let output = run(dir.path(), None, "keys list --organization acme").await;
    assert_fails_with_one_line(&output, &[".env", "AYRSHARE_API_KEY"]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("SECRET"));
}

/// A running `serve --sandbox`: its address, the demo key it printed, and where its metrics are
/// when they have a listener of their own.
pub struct Sandbox {
    pub child: Child,
    pub address: String,
    pub key: Option<String>,
    pub metrics: Option<String>,
    /// What the `database:` line said.
    database: String,
    _stdout: Lines<BufReader<ChildStdout>>,
}

async fn start_sandbox(dir: &Path) -> Sandbox {
    start_sandbox_with(dir, &[], Stdio::null()).await
}

/// `serve --sandbox` with further settings, its stderr (the log) going to `stderr`.
pub async fn start_sandbox_with(dir: &Path, env: &[(&str, &str)], stderr: Stdio) -> Sandbox {
    let mut child = command(dir, None)
        .env("BIND_ADDR", "127.0.0.1:0")
        .envs(env.iter().copied())
        .args(["serve", "--sandbox"])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut key = None;
    let mut metrics = None;
    let mut database = String::new();
    let mut banner = false;
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            banner |= line.contains("SANDBOX MODE");
            if let Some(k) = line.strip_prefix("demo API key: ") {
                key = Some(k.trim().to_owned());
            }
            if let Some(d) = line.strip_prefix("database: ") {
                database = d.trim().to_owned();
            }
            if let Some(m) = line.strip_prefix("metrics on ") {
                metrics = Some(m.trim().to_owned());
            }
            if let Some(address) = line.strip_prefix("mosaic-social listening on ") {
                return address.trim().to_owned();
            }
        }
        panic!("serve --sandbox ended before listening");
    })
    .await
    .expect("serve --sandbox started within a minute");
    assert!(banner, "the sandbox banner was printed");
    Sandbox {
        child,
        address,
        key,
        metrics,
        database,
        _stdout: lines,
    }
}

fn terminate(child: &Child) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn a_newcomer_runs_the_sandbox_and_the_documented_curl_works() {
    let dir = tempfile::tempdir().unwrap();
    let mut sandbox = start_sandbox(dir.path()).await;
    let key = sandbox
        .key
        .clone()
        .expect("the demo key is printed on the first start");
    assert!(sandbox_db(dir.path()).exists());
    assert_eq!(
        sandbox.database,
        format!("sqlite://{}", sandbox_db(dir.path()).display())
    );
    let client = reqwest::Client::new();

    // The documentation's example, with a date in the future.
    let response = client
        .post(format!("{}/social/post", sandbox.address))
        .bearer_auth(&key)
        .json(&json!({
            "post": "New product update 🚀",
            "platforms": ["x", "linkedin"],
            "media_urls": ["https://cdn.yourdomain.com/media/launch.mp4"],
            "schedule_date": "2036-03-10T16:00:00Z"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-mosaic-sandbox"], "true");
    let body = response_json(response).await;
    for field in [
        "post_id",
        "status",
        "links",
        "results",
        "error",
        "tracking_id",
        "tracked_status",
    ] {
        assert!(body.get(field).is_some(), "{field} missing: {body}");
    }
    assert_eq!(body["status"], "scheduled");
    assert_eq!(body["tracked_status"], "scheduled");
    assert!(
        body["post_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{body}"
    );
    assert_eq!(body["links"], json!([]));
    assert_eq!(body["results"], json!([]));
    assert_eq!(body["error"], Value::Null);
    assert!(uuid::Uuid::parse_str(body["tracking_id"].as_str().unwrap()).is_ok());

    // Published now: links and results per platform, X reported as x.
    let response = client
        .post(format!("{}/social/post", sandbox.address))
        .bearer_auth(&key)
        .json(&json!({"post": "Now!", "platforms": ["x", "linkedin"]}))
        .send()
        .await
        .unwrap();
    let body = response_json(response).await;
    assert_eq!(body["tracked_status"], "posted", "{body}");
    assert_eq!(body["links"].as_array().unwrap().len(), 2);
    assert_eq!(body["results"][0]["platform"], "x");
    assert!(body["results"][0]["post_id"].is_string());

    let tracked = client
        .get(format!(
            "{}/social/post/track/{}",
            sandbox.address,
            body["tracking_id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response_json(tracked).await["tracked_status"], "posted");

    terminate(&sandbox.child);
    let status = tokio::time::timeout(Duration::from_secs(20), sandbox.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");

    // A second start finds the organization and prints no new key.
    let mut again = start_sandbox(dir.path()).await;
    assert!(again.key.is_none());
    again.child.kill().await.unwrap();
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish_and_a_revoked_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut sandbox = start_sandbox(dir.path()).await;
    let key = sandbox.key.clone().unwrap();
    let client = reqwest::Client::new();

    // Revoked from another process: refused within the contract's 5 seconds, even though the
    // server has seen the key (and keeps the answer for mosaic_social::publishing::LOOKUP_TTL).
    let second = run(
        dir.path(),
        None,
        "keys create --sandbox --organization demo",
    )
    .await;
    let second_key = last_line_of_success(&second);
    let track = format!(
        "{}/social/post/track/{}",
        sandbox.address,
        uuid::Uuid::new_v4()
    );
    let known = client
        .get(&track)
        .bearer_auth(&second_key)
        .send()
        .await
        .unwrap();
    expect_error(known, 404, "not_found").await;
    let revoked = run_args(
        dir.path(),
        None,
        &["keys", "revoke", "--sandbox", &second_key[..11]],
    )
    .await;
    assert!(revoked.status.success(), "{revoked:?}");
    // The bound only ends the test if the key is never refused.
    tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let answer = client
                .get(&track)
                .bearer_auth(&second_key)
                .send()
                .await
                .unwrap();
            if answer.status() == 401 {
                expect_error(answer, 401, "invalid_api_key").await;
                break;
            }
            expect_error(answer, 404, "not_found").await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the revoked key is refused");

    // A slow Ayrshare answer is still in flight when SIGTERM arrives.
    let request = client
        .post(format!("{}/social/post", sandbox.address))
        .bearer_auth(&key)
        .json(&json!({"post": "slow one [mock:slow:1500]", "platforms": ["linkedin"]}))
        .send();
    let in_flight = tokio::spawn(request);
    // Wait until the record is written as pending (it is, before Ayrshare is called), so the
    // signal surely arrives while the request is in flight.
    let database = format!("sqlite://{}", sandbox_db(dir.path()).display());
    let mut conn = sqlx::SqliteConnection::connect(&database).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let pending: i64 = sqlx::query_scalar(
                "select count(*) from scheduled_social_posts_v2 where tracked_status = 'pending'",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
            if pending == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the record is written as pending");
    assert!(
        !in_flight.is_finished(),
        "the slow request already finished"
    );
    terminate(&sandbox.child);
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response_json(response).await;
    assert_eq!(body["tracked_status"], "posted");
    let status = tokio::time::timeout(Duration::from_secs(20), sandbox.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_request_and_tracking_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut sandbox = start_sandbox_with(
        dir.path(),
        &[
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
            ("METRICS_BIND_ADDR", "127.0.0.1:0"),
        ],
        Stdio::piped(),
    )
    .await;
    let key = sandbox.key.clone().unwrap();
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/social/post", sandbox.address))
        .bearer_auth(&key)
        .header("x-request-id", "json-log-check-7")
        .json(&json!({"post": "logged", "platforms": ["linkedin"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tracking_id = response_json(response).await["tracking_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // METRICS_BIND_ADDR: /metrics is on its own listener, and only there.
    let metrics_url = sandbox
        .metrics
        .clone()
        .expect("the metrics address is printed");
    let scrape = client.get(&metrics_url).send().await.unwrap();
    assert_eq!(scrape.status(), 200);
    let text = scrape.text().await.unwrap();
    assert!(text.contains("mosaic_http_requests_total"), "{text}");
    let main = client
        .get(format!("{}/metrics", sandbox.address))
        .send()
        .await
        .unwrap();
    expect_error(main, 404, "not_found").await;

    // The container health check: `healthcheck URL` exits 0 on 2xx only, unless --any-status.
    let readyz = format!("{}/readyz", sandbox.address);
    let healthy = run_args(dir.path(), None, &["healthcheck", &readyz]).await;
    assert!(
        last_line_of_success(&healthy).ends_with("200 OK"),
        "{healthy:?}"
    );
    let nowhere = format!("{}/nowhere", sandbox.address);
    let missing = run_args(dir.path(), None, &["healthcheck", &nowhere]).await;
    assert_fails_with_one_line(&missing, &["404"]);
    let answered = run_args(dir.path(), None, &["healthcheck", "--any-status", &nowhere]).await;
    assert!(answered.status.success(), "{answered:?}");

    terminate(&sandbox.child);
    let mut stderr = sandbox.child.stderr.take().unwrap();
    let mut log = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut log)
        .await
        .unwrap();
    sandbox.child.wait().await.unwrap();

    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "json-log-check-7")
        .collect();
    assert!(
        of_request
            .iter()
            .any(|l| l["tracking_id"] == tracking_id.as_str()),
        "no line of the request carries its tracking id: {log}"
    );
    let finished = of_request
        .iter()
        .find(|l| l["message"] == "request finished")
        .unwrap_or_else(|| panic!("no 'request finished' line: {log}"));
    assert_eq!(finished["status"], 200);
    assert_eq!(finished["span"]["path"], "/social/post");
}

#[tokio::test]
async fn the_sandbox_never_uses_database_url_and_its_database_is_found_from_anywhere() {
    let home = tempfile::tempdir().unwrap();
    // A production DATABASE_URL left in the shell: unreachable here, so touching it would fail.
    // A password no printed key or path can contain by chance (a random key holds `pw` about
    // once in a hundred runs; `%` is not in the key alphabet).
    let production = "postgres://app:pw%25secret@127.0.0.1:1/production";
    let mut child = command(home.path(), Some(production))
        .env("BIND_ADDR", "127.0.0.1:0")
        .args(["serve", "--sandbox"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.starts_with("mosaic-social listening on ");
            seen.push(line);
            if done {
                return;
            }
        }
        panic!("serve --sandbox ended: {seen:?}");
    })
    .await
    .expect("serve --sandbox started within a minute");
    let said = seen.join("\n");
    assert!(said.contains("DATABASE_URL is not used"), "{said}");
    assert!(
        said.contains(&format!(
            "database: sqlite://{}",
            sandbox_db(home.path()).display()
        )),
        "{said}"
    );
    assert!(!said.contains("pw%25secret"), "{said}");
    child.kill().await.unwrap();

    // From another directory, the same user's sandbox database holds the demo organization.
    let elsewhere = tempfile::tempdir().unwrap();
    let listed = command_at(elsewhere.path(), home.path(), Some(production))
        .args(["keys", "list", "--sandbox", "--organization", "demo"])
        .output()
        .await
        .unwrap();
    assert_eq!(stdout_lines(&listed).len(), 1, "{listed:?}");
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(stderr.contains("sandbox.db"), "{stderr}");
    // Without --sandbox the same command goes to DATABASE_URL, named without its password.
    let production_keys = command_at(elsewhere.path(), home.path(), Some(production))
        .args(["keys", "list", "--organization", "demo"])
        .output()
        .await
        .unwrap();
    assert!(!production_keys.status.success());
    let stderr = String::from_utf8_lossy(&production_keys.stderr);
    assert!(
        stderr.contains("database: postgres://app@127.0.0.1:1/production"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw%25secret"), "{stderr}");
}

#[tokio::test]
async fn migrate_creates_a_missing_postgres_database_and_serve_says_to_run_it() {
    let Some(admin_url) = crate::support::postgres_admin_url() else {
        return;
    };
    let name = format!("mosaic_test_{}", uuid::Uuid::new_v4().simple());
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    // Dropped at the end, whatever happens.
    let database = Database::Postgres {
        admin_url,
        url: url.to_string(),
        name: name.clone(),
    };
    let dir = tempfile::tempdir().unwrap();

    let serve = command(dir.path(), Some(database.url()))
        .env("AYRSHARE_API_KEY", "k")
        .arg("serve")
        .output()
        .await
        .unwrap();
    assert_fails_with_one_line(&serve, &[&name, "does not exist", "migrate"]);

    let migrated = run(dir.path(), Some(database.url()), "migrate").await;
    assert_eq!(last_line_of_success(&migrated), "migrations applied");
    let stderr = String::from_utf8_lossy(&migrated.stderr);
    assert!(stderr.contains("created the database"), "{stderr}");
    let again = run(dir.path(), Some(database.url()), "migrate").await;
    assert!(again.status.success(), "{again:?}");
    assert!(!String::from_utf8_lossy(&again.stderr).contains("created"));
    let key = run(
        dir.path(),
        Some(database.url()),
        "keys create --organization acme",
    )
    .await;
    assert!(last_line_of_success(&key).starts_with("mk_"));
}

/// `secrets rotate`: re-seals under the new key (the old one as previous), a second run finds
/// nothing to do, and without SECRETS_KEY it says what to set.
async fn secrets_rotate_reseals_under_the_new_key(backend: Backend) {
    let Some(database) = Database::create(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = database.url();
    last_line_of_success(&run(dir.path(), Some(url), "keys create --organization acme").await);
    last_line_of_success(
        &run(
            dir.path(),
            Some(url),
            "workspaces create --organization acme --name b --ayrshare-profile-key PK-CLI-ROT",
        )
        .await,
    );
    const NEW: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let rotate = async || {
        command(dir.path(), Some(url))
            .args(["secrets", "rotate"])
            .env("SECRETS_KEY", NEW)
            .env("SECRETS_KEY_PREVIOUS", crate::support::TEST_SECRETS_KEY)
            .output()
            .await
            .unwrap()
    };
    let first = last_line_of_success(&rotate().await);
    assert!(
        first.starts_with("re-encrypted 1 stored secrets under key "),
        "{first}"
    );
    let second = last_line_of_success(&rotate().await);
    assert!(
        second.starts_with("re-encrypted 0 stored secrets"),
        "{second}"
    );
    let keyless = command(dir.path(), Some(url))
        .args(["secrets", "rotate"])
        .env("SECRETS_KEY", "")
        .output()
        .await
        .unwrap();
    assert_fails_with_one_line(&keyless, &["SECRETS_KEY is not set"]);
}

#[tokio::test]
async fn secrets_rotate_reseals_under_the_new_key_on_sqlite() {
    secrets_rotate_reseals_under_the_new_key(Backend::Sqlite).await;
}

#[tokio::test]
async fn secrets_rotate_reseals_under_the_new_key_on_postgres() {
    secrets_rotate_reseals_under_the_new_key(Backend::Postgres).await;
}

/// `workspaces create --create-ayrshare-profile` against the shipped mock: the profile is made
/// and its key kept; a lost answer fails in one line, and the rerun reports the orphan without
/// a second `POST /profiles`.
async fn workspaces_create_makes_the_ayrshare_profile(backend: Backend) {
    let Some(database) = Database::create(backend).await else {
        return;
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let mock = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let config = mosaic_social::mock_ayrshare::MockConfig {
            api_key: Some(crate::support::AYRSHARE_KEY.to_owned()),
            ..Default::default()
        };
        mosaic_social::mock_ayrshare::serve(listener, config, std::future::pending())
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let url = Some(database.url());
    let workspaces = |name: &str| {
        let mut command = command(dir.path(), url);
        command
            .env("AYRSHARE_API_KEY", crate::support::AYRSHARE_KEY)
            .env("AYRSHARE_BASE_URL", format!("{mock}/api"))
            .args([
                "workspaces",
                "create",
                "--organization",
                "acme",
                "--name",
                name,
                "--create-ayrshare-profile",
            ]);
        command
    };
    let creates = || async {
        let journal: serde_json::Value = reqwest::Client::new()
            .get(format!("{mock}/mock/requests?path=/api/profiles&limit=100"))
            .bearer_auth(crate::support::AYRSHARE_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        journal["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["method"] == "POST")
            .count()
    };
    assert!(
        run(dir.path(), url, "keys create --organization acme")
            .await
            .status
            .success()
    );

    let made = workspaces("brand").output().await.unwrap();
    let id: uuid::Uuid = last_line_of_success(&made).parse().unwrap();
    let store =
        mosaic_social::store::connect(database.url(), Default::default(), Default::default())
            .await
            .unwrap();
    let org = store.find_organization("acme").await.unwrap().unwrap();
    // Sealed under SECRETS_KEY (this store has none to open it): only whether it is there.
    let workspace = store
        .find_workspace_info(org.id, id)
        .await
        .unwrap()
        .unwrap();
    assert!(workspace.has_profile_key);
    assert_eq!(workspace.profile_state.as_deref(), Some("created"));
    assert_eq!(creates().await, 1);

    // The client's own warning may come first; the error is the last line.
    let last_error_line = |output: &Output| {
        assert!(!output.status.success(), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .to_owned()
    };
    let lost = workspaces("gone [mock:lost:50]").output().await.unwrap();
    let line = last_error_line(&lost);
    assert!(
        line.starts_with("error: ") && line.contains("send the same request again"),
        "{line}"
    );
    assert_eq!(creates().await, 2);
    let rerun = workspaces("gone [mock:lost:50]").output().await.unwrap();
    let line = last_error_line(&rerun);
    assert!(
        line.contains("orphaned") && line.contains("dashboard"),
        "{line}"
    );
    assert_eq!(creates().await, 2, "the rerun made no second profile");
}

#[tokio::test]
async fn workspaces_create_makes_the_ayrshare_profile_on_sqlite() {
    workspaces_create_makes_the_ayrshare_profile(Backend::Sqlite).await;
}

#[tokio::test]
async fn workspaces_create_makes_the_ayrshare_profile_on_postgres() {
    workspaces_create_makes_the_ayrshare_profile(Backend::Postgres).await;
}
