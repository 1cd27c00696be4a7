//! The pages' HTTP examples, replayed: every fenced `sh` block with a `curl` in `docs/api.md`
//! and the README is run, in page order, against a fresh sandbox (`serve --sandbox` in-process,
//! with its simulated Ayrshare and default settings), and the `json` block that follows it is
//! compared with the answer, status included. Ids, keys and times differ on every run, so they
//! are matched by their form, and each id the page shows is bound to the one the run produced:
//! a later request that names it sends the real one, and the page must name the same id where
//! the run gives the same id. A changed answer fails here until the page is updated.
//!
//! What a page can say, in HTML comments (invisible when rendered), before a block:
//! - `<!-- replay: status 409 -->` before a `json` block: the answer's status (200 otherwise);
//! - `<!-- replay: subset -->` before a `json` block: the page shows some fields of each object,
//!   each of which must be as shown (for shortened answers);
//! - `<!-- replay: skip, REASON -->` before an `sh` block: not run, for the reason given.
//!
//! In an `sh` block, the replay understands `curl` (`-X`, `-H`, `-d`, a URL on
//! `http://127.0.0.1:8080`), `export NAME=VALUE` and `NAME=$(date -u -d '+N seconds' ...)`
//! (`$MOSAIC_KEY` and `$KEY` are always the sandbox's demo key), `sleep N`, and
//! `cargo run ... -- keys revoke ...` (revokes the demo key, as the command does from another
//! process). Anything else in a replayed block fails the test, so that nothing on the page
//! escapes the check by accident.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::Utc;
use mosaic_social::app::{App, Mode};
use mosaic_social::config::Config;
use mosaic_social::domain::ApiKeySecret;
use mosaic_social::store::DynStore;
use regex::Regex;
use serde_json::Value;
use tokio::sync::oneshot;

/// One fenced block of a page and the replay markers written before it.
#[derive(Debug)]
struct Block {
    lang: String,
    text: String,
    markers: Vec<String>,
    /// Its first line, 1-based, for the failure message.
    line: usize,
}

/// The page's fenced blocks, in order, each with the `<!-- replay: ... -->` markers that came
/// after the previous block.
fn blocks(page: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut markers = Vec::new();
    let mut lines = page.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(marker) = trimmed
            .strip_prefix("<!-- replay:")
            .and_then(|rest| rest.trim_end().strip_suffix("-->"))
        {
            markers.push(marker.trim().to_owned());
            continue;
        }
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let indent = line.len() - trimmed.len();
        let mut text = String::new();
        for (_, line) in lines.by_ref() {
            if line.trim_start().starts_with("```") {
                break;
            }
            text.push_str(line.get(indent..).unwrap_or(line.trim_start()));
            text.push('\n');
        }
        blocks.push(Block {
            lang: info.trim().to_owned(),
            text,
            markers: std::mem::take(&mut markers),
            line: n + 1,
        });
    }
    blocks
}

/// The forms of what differs from run to run, most specific first. An id's form binds it;
/// a time only has to be a time.
static VOLATILE: LazyLock<Vec<(&'static str, Regex, bool)>> = LazyLock::new(|| {
    [
        (
            "uuid",
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            true,
        ),
        (
            "time",
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})",
            false,
        ),
        ("key", r"mk_[A-Za-z0-9_-]{8,43}", true),
        ("cursor", r"[A-Za-z0-9_-]{40,}={0,2}", true),
        ("ayrshare id", r"\b[A-Za-z0-9]{20}\b", true),
        ("platform id", r"\b\d{12,20}\b", true),
    ]
    .into_iter()
    .map(|(name, pattern, binds)| (name, Regex::new(pattern).unwrap(), binds))
    .collect()
});

/// The volatile parts of `text`, as (start, end, form), without overlaps.
fn volatile_parts(text: &str) -> Vec<(usize, usize, usize)> {
    let mut parts: Vec<(usize, usize, usize)> = Vec::new();
    for (form, (_, pattern, _)) in VOLATILE.iter().enumerate() {
        for found in pattern.find_iter(text) {
            let overlaps = parts
                .iter()
                .any(|&(s, e, _)| found.start() < e && s < found.end());
            if !overlaps {
                parts.push((found.start(), found.end(), form));
            }
        }
    }
    parts.sort();
    parts
}

/// What the page's ids stand for in this run.
#[derive(Default)]
struct Bindings {
    /// The page's value → this run's.
    ids: HashMap<String, String>,
}

impl Bindings {
    /// Whether `actual` is `expected` with each volatile part replaced by one of the same form
    /// (and each id by the one it is bound to); binds the ids seen for the first time.
    fn matches(&mut self, expected: &str, actual: &str) -> bool {
        if expected == actual {
            return true;
        }
        let parts = volatile_parts(expected);
        if parts.is_empty() {
            return false;
        }
        let mut pattern = String::from("^");
        let mut last = 0;
        for &(start, end, form) in &parts {
            pattern.push_str(&regex::escape(&expected[last..start]));
            pattern.push('(');
            pattern.push_str(
                VOLATILE[form]
                    .1
                    .as_str()
                    .trim_start_matches(r"\b")
                    .trim_end_matches(r"\b"),
            );
            pattern.push(')');
            last = end;
        }
        pattern.push_str(&regex::escape(&expected[last..]));
        pattern.push('$');
        let Some(captures) = Regex::new(&pattern).unwrap().captures(actual) else {
            return false;
        };
        let mut new = Vec::new();
        for (i, &(start, end, form)) in parts.iter().enumerate() {
            if !VOLATILE[form].2 {
                continue;
            }
            let (shown, got) = (&expected[start..end], &captures[i + 1]);
            match self.ids.get(shown) {
                Some(bound) if bound != got => return false,
                Some(_) => {}
                None => new.push((shown.to_owned(), got.to_owned())),
            }
        }
        self.ids.extend(new);
        true
    }

    /// `text` with every id the page showed replaced by this run's.
    fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        // Longest first, so that a key's prefix does not replace part of the whole key.
        let mut ids: Vec<_> = self.ids.iter().collect();
        ids.sort_by_key(|(shown, _)| std::cmp::Reverse(shown.len()));
        for (shown, got) in ids {
            out = out.replace(shown.as_str(), got);
        }
        out
    }
}

/// Compares the page's answer with the run's; the first difference, with its JSON path.
fn compare(
    expected: &Value,
    actual: &Value,
    subset: bool,
    bindings: &mut Bindings,
    at: &str,
) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            if !subset {
                let extra: Vec<_> = a.keys().filter(|k| !e.contains_key(*k)).collect();
                if !extra.is_empty() {
                    return Err(format!(
                        "{at}: the answer has fields the page lacks: {extra:?}"
                    ));
                }
            }
            for (key, value) in e {
                let Some(got) = a.get(key) else {
                    return Err(format!("{at}.{key}: on the page, not in the answer"));
                };
                compare(value, got, subset, bindings, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(format!(
                    "{at}: {} items on the page, {} in the answer",
                    e.len(),
                    a.len()
                ));
            }
            for (i, (value, got)) in e.iter().zip(a).enumerate() {
                compare(value, got, subset, bindings, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        (Value::String(e), Value::String(a)) if bindings.matches(e, a) => Ok(()),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!("{at}: the page shows {e}, the answer is {a}")),
    }
}

/// Logical lines of an `sh` block: continuations and quotes across lines joined, blank and
/// comment lines dropped.
fn commands(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        if current.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        if open_quote(&current) {
            current.push('\n');
        } else {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// Whether `text` ends inside a quoted string (a body written over several lines).
fn open_quote(text: &str) -> bool {
    let mut quote = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') => return false,
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    quote.is_some()
}

/// The words of a shell command line: quotes, `$NAME` and `$(date ...)` expanded, a `#` comment
/// dropped.
fn words(line: &str, vars: &HashMap<String, String>) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '#' if word.is_none() => break,
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    w.push(c);
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        '$' => w.push_str(&expand(&mut chars, vars)?),
                        c => w.push(c),
                    }
                }
            }
            '$' => {
                let value = expand(&mut chars, vars)?;
                word.get_or_insert_with(String::new).push_str(&value);
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

/// What follows a `$`: a variable, or `$(date -u -d '+N seconds' +FORMAT)`.
fn expand(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    vars: &HashMap<String, String>,
) -> Result<String, String> {
    if chars.peek() == Some(&'(') {
        chars.next();
        let inner: String = chars.by_ref().take_while(|&c| c != ')').collect();
        let seconds = Regex::new(r"^date -u -d '\+(\d+) seconds' \+%Y-%m-%dT%H:%M:%SZ$")
            .unwrap()
            .captures(inner.trim())
            .ok_or_else(|| format!("a command substitution the replay cannot run: $({inner})"))?[1]
            .parse::<i64>()
            .unwrap();
        let at = Utc::now() + chrono::Duration::seconds(seconds);
        return Ok(at.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    }
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    vars.get(&name)
        .cloned()
        .ok_or_else(|| format!("${name} is not set at this point of the page"))
}

/// A `curl` command line, as a request.
struct Curl {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

fn parse_curl(words: &[String]) -> Result<Curl, String> {
    let mut curl = Curl {
        method: String::new(),
        url: String::new(),
        headers: Vec::new(),
        body: None,
    };
    let mut args = words.iter().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-s" | "-sS" | "--silent" => {}
            "-X" | "--request" => curl.method = args.next().ok_or("-X without a method")?.clone(),
            "-H" | "--header" => {
                let header = args.next().ok_or("-H without a header")?;
                let (name, value) = header.split_once(':').ok_or("a header without ':'")?;
                curl.headers
                    .push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "-d" | "--data" | "--data-raw" => {
                curl.body = Some(args.next().ok_or("-d without a body")?.clone());
            }
            url if url.starts_with("http://127.0.0.1:8080") => curl.url = url.to_owned(),
            other => return Err(format!("a curl option the replay does not know: {other}")),
        }
    }
    if curl.url.is_empty() {
        return Err("curl without a URL on http://127.0.0.1:8080".into());
    }
    if curl.method.is_empty() {
        curl.method = if curl.body.is_some() { "POST" } else { "GET" }.into();
    }
    Ok(curl)
}

/// The sandbox as `serve --sandbox` runs it, on a port of its own, and its demo key.
struct Sandbox {
    address: String,
    store: DynStore,
    key: String,
    /// Whether a page has shown the demo key yet.
    demo_key_shown: bool,
    shutdown: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    async fn start() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sandbox.db", dir.path().display());
        // Only the database differs from the sandbox's defaults: the reconciler runs at its
        // default interval, as it does for the README's reader.
        let config = Config::from_lookup(|name| (name == "DATABASE_URL").then(|| url.clone()))
            .expect("the sandbox's config");
        let app = App::build(&config, Mode::Sandbox)
            .await
            .expect("the sandbox builds");
        let store = app.store().clone();
        // As the first start does: the organization `demo` and its key.
        let organization = store.ensure_organization("demo").await.unwrap();
        let key = ApiKeySecret::generate();
        store
            .insert_api_key(
                organization.id,
                &key.hash(),
                &key.prefix(),
                Some("sandbox demo"),
            )
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .expect("the sandbox serves");
        });
        Sandbox {
            address,
            store,
            key: key.expose().to_owned(),
            demo_key_shown: false,
            shutdown: Some(shutdown),
            server,
            _dir: dir,
        }
    }

    /// The key a page's `mk_...` stands for: the demo key for the first one the page shows,
    /// a new key of `demo` for each other one (bound, with its prefix).
    async fn key_for(&mut self, shown: &str, bindings: &mut Bindings) -> String {
        if let Some(key) = bindings.ids.get(shown) {
            return key.clone();
        }
        let key = if self.demo_key_shown {
            let organization = self.store.ensure_organization("demo").await.unwrap();
            let key = ApiKeySecret::generate();
            self.store
                .insert_api_key(organization.id, &key.hash(), &key.prefix(), Some("docs"))
                .await
                .unwrap();
            key.expose().to_owned()
        } else {
            self.demo_key_shown = true;
            self.key.clone()
        };
        bindings.ids.insert(shown.to_owned(), key.clone());
        bindings
            .ids
            .insert(shown[..11].to_owned(), key[..11].to_owned());
        key
    }

    async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = self.server.await;
    }
}

/// Replays `page` (its text, named `name` in failures) against a fresh sandbox; the number of
/// answers compared.
async fn replay(name: &str, page: &str) -> usize {
    let mut sandbox = Sandbox::start().await;
    let client = reqwest::Client::new();
    let mut bindings = Bindings::default();
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("MOSAIC_KEY".into(), sandbox.key.clone());
    vars.insert("KEY".into(), sandbox.key.clone());
    let mut compared = 0;
    let mut answer: Option<(u16, Value, usize)> = None;
    for block in blocks(page) {
        let at = format!("{name}:{}", block.line);
        match block.lang.as_str() {
            "sh" => {
                answer = None;
                if block.markers.iter().any(|m| m.starts_with("skip")) {
                    continue;
                }
                // A block without a request is not replayed, but the keys it exports are
                // those the next blocks use.
                let replayed = block.text.contains("curl ");
                for line in commands(&block.text) {
                    if !replayed
                        && !line.trim_start().starts_with("export MOSAIC_KEY=")
                        && !line.trim_start().starts_with("export KEY=")
                    {
                        continue;
                    }
                    let line = bindings.apply(&line);
                    let words = words(&line, &vars).unwrap_or_else(|e| panic!("{at}: {e}: {line}"));
                    let Some(first) = words.first() else { continue };
                    match first.as_str() {
                        "curl" => {
                            let curl =
                                parse_curl(&words).unwrap_or_else(|e| panic!("{at}: {e}: {line}"));
                            let url =
                                curl.url
                                    .replacen("http://127.0.0.1:8080", &sandbox.address, 1);
                            let method =
                                reqwest::Method::from_bytes(curl.method.as_bytes()).unwrap();
                            let mut request = client.request(method, &url);
                            for (name, value) in &curl.headers {
                                request = request.header(name, value);
                            }
                            if let Some(body) = curl.body {
                                request = request.body(body);
                            }
                            let response = request.send().await.unwrap();
                            let status = response.status().as_u16();
                            let text = response.text().await.unwrap();
                            let body = serde_json::from_str(&text)
                                .unwrap_or_else(|e| panic!("{at}: not JSON ({e}): {text}"));
                            answer = Some((status, body, block.line));
                        }
                        "export" => {
                            let (name, value) = words[1].split_once('=').unwrap();
                            let value = if value.starts_with("mk_") {
                                sandbox.key_for(value, &mut bindings).await
                            } else {
                                value.to_owned()
                            };
                            vars.insert(name.to_owned(), value);
                        }
                        "sleep" => {
                            let secs: f64 = words[1].parse().unwrap();
                            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                        }
                        "cargo" | "mosaic-social" if words.iter().any(|w| w == "revoke") => {
                            // The page's prefix, already replaced by the bound key's.
                            let prefix = words.last().unwrap();
                            sandbox.store.revoke_api_key(prefix).await.unwrap();
                        }
                        assignment if words.len() == 1 && assignment.contains('=') => {
                            let (name, value) = assignment.split_once('=').unwrap();
                            vars.insert(name.to_owned(), value.to_owned());
                        }
                        _ => panic!("{at}: a command the replay does not run: {line}"),
                    }
                }
            }
            "json" => {
                let Some((status, body, from)) = answer.take() else {
                    continue;
                };
                let expected_status = block
                    .markers
                    .iter()
                    .find_map(|m| {
                        m.split(',')
                            .find_map(|part| part.trim().strip_prefix("status "))
                            .map(|s| s.trim().parse::<u16>().unwrap())
                    })
                    .unwrap_or(200);
                let subset = block
                    .markers
                    .iter()
                    .any(|m| m.split(',').any(|part| part.trim() == "subset"));
                let expected: Value = serde_json::from_str(&block.text)
                    .unwrap_or_else(|e| panic!("{at}: the page's answer is not JSON: {e}"));
                assert_eq!(
                    status, expected_status,
                    "{at}: the request at line {from} answered {status} {body}, the page says {expected_status}"
                );
                if let Err(difference) = compare(&expected, &body, subset, &mut bindings, "$") {
                    panic!(
                        "{at}: the answer to the request at line {from} differs from the page: \
                         {difference}\nthe answer: {body}"
                    );
                }
                compared += 1;
            }
            _ => answer = None,
        }
    }
    sandbox.stop().await;
    compared
}

#[tokio::test]
async fn doc_api_md_walk_through_answers_as_the_page_shows() {
    let page = std::fs::read_to_string("docs/api.md").unwrap();
    let compared = replay("docs/api.md", &page).await;
    // So that a page reorganized out of the replay's reach cannot pass by comparing nothing.
    assert!(compared >= 5, "only {compared} answers were compared");
}

#[tokio::test]
async fn doc_readme_tour_answers_as_the_page_shows() {
    let page = std::fs::read_to_string("README.md").unwrap();
    let compared = replay("README.md", &page).await;
    assert!(compared >= 4, "only {compared} answers were compared");
}

#[test]
fn doc_replay_binds_ids_and_refuses_a_changed_value() {
    let mut bindings = Bindings::default();
    let shown = serde_json::json!({"tracking_id": "c904536c-f6f8-4008-ade9-432795e817cf",
        "post_id": "EGsvPssGXE9Spm5OcYqO", "tracked_status": "posted",
        "created_at": "2026-11-28T13:45:13.125844Z"});
    let got = serde_json::json!({"tracking_id": "0b6c39ed-ccc5-45fe-a008-0d98a8611d67",
        "post_id": "FoumT95hgha6BEHoTz3w", "tracked_status": "posted",
        "created_at": "2027-01-02T03:04:05.1Z"});
    compare(&shown, &got, false, &mut bindings, "$").unwrap();
    assert_eq!(
        bindings.apply("/social/post/EGsvPssGXE9Spm5OcYqO"),
        "/social/post/FoumT95hgha6BEHoTz3w"
    );
    // The same id on the page must be the same id in the run.
    let other = serde_json::json!({"tracking_id": "11111111-ccc5-45fe-a008-0d98a8611d67",
        "post_id": "FoumT95hgha6BEHoTz3w", "tracked_status": "posted",
        "created_at": "2027-01-02T03:04:05Z"});
    assert!(compare(&shown, &other, false, &mut bindings, "$").is_err());
    let changed = serde_json::json!({"tracking_id": "0b6c39ed-ccc5-45fe-a008-0d98a8611d67",
        "post_id": "FoumT95hgha6BEHoTz3w", "tracked_status": "scheduled",
        "created_at": "2027-01-02T03:04:05Z"});
    assert!(compare(&shown, &changed, false, &mut bindings, "$").is_err());
}
