//! The pages' command-line examples, run with `trycmd` (clap's snapshot tool): each ```console
//! block of `docs/cli.md`, `docs/api.md` and the README is a list of `$ ` commands and what they
//! print (stdout and stderr together), run in page order against a fresh data directory of its
//! own, so that the sandbox's database starts empty. `[..]` on a page stands for what differs
//! from run to run (an id, a key, a time, a temporary path). A changed answer fails `cargo test`
//! until the page is updated (`TRYCMD=overwrite` rewrites the pages with what ran).

use std::path::Path;

/// Runs the console blocks of `page` with a data directory of their own.
fn run_page(page: &Path) {
    let data = tempfile::tempdir().expect("a temporary data directory");
    trycmd::TestCases::new()
        .register_bin(
            "mosaic-social",
            Path::new(env!("CARGO_BIN_EXE_mosaic-social")),
        )
        // The sandbox's database and secrets key live under XDG_DATA_HOME; HOME too, where
        // the platform's data directory is under it (macOS).
        .env("XDG_DATA_HOME", data.path().display().to_string())
        .env("HOME", data.path().display().to_string())
        // Empty counts as unset: the machine's own settings do not leak into the answers.
        .env("DATABASE_URL", "")
        .env("SECRETS_KEY", "")
        .env("RUST_LOG", "")
        .env("LOG_FORMAT", "")
        .case(page)
        .run();
}

#[test]
fn doc_cli_md_commands_print_what_the_page_shows() {
    run_page(Path::new("docs/cli.md"));
}

#[test]
fn doc_api_md_commands_print_what_the_page_shows() {
    run_page(Path::new("docs/api.md"));
}

/// The README's reader runs the binary through `cargo run --release -q --`; the same commands
/// are run here as the binary itself, from a copy of the page.
#[test]
fn doc_readme_commands_print_what_the_page_shows() {
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    assert!(
        readme.contains("$ cargo run --release -q -- "),
        "the README has no console block to run"
    );
    let copy = tempfile::tempdir().expect("a temporary directory");
    let page = copy.path().join("README.md");
    std::fs::write(
        &page,
        readme.replace("$ cargo run --release -q -- ", "$ mosaic-social "),
    )
    .expect("the copy is written");
    run_page(&page);
}
