//! The README's shell walkthrough, run as written against a fresh server on a non-default port: if the README and
//! the CLI drift apart, this fails.

mod common;

use std::process::Command;

/// The fenced block after `<!-- walkthrough -->`.
fn walkthrough() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let after = readme
        .split("<!-- walkthrough -->")
        .nth(1)
        .expect("the README marks its walkthrough");
    let body = after.split("```sh\n").nth(1).unwrap();
    body.split("\n```").next().unwrap().to_owned()
}

#[test]
fn the_readme_walkthrough_runs_against_a_fresh_server() {
    if Command::new("jq").arg("--version").output().is_err() {
        common::missing("jq", "apt-get install jq; .ci/run installs it");
        return;
    }
    let script = walkthrough();
    let first = script.lines().next().unwrap();
    assert!(first.starts_with("km() {"), "the walkthrough defines km first: {first}");
    // The same script, with km the binary under test instead of `cargo run`.
    let script = script.replacen(first, "km() { \"$KM_BIN\" \"$@\"; }", 1);
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .env("KM_BIN", common::BIN)
        .env("KEYMANAGER_SERVER", &served.base)
        .env("KEYMANAGER_DATA_DIR", dir.path())
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .env_remove("KEYMANAGER_CLIENT_SECRET")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the walkthrough failed:\n{stdout}\n{stderr}");
    // Introspection at the server and validation from the configuration agree on the token (one issuer).
    assert!(stdout.contains("\"active\": true"), "{stdout}");
    assert!(
        stdout.contains("\"keyManager\": \"Resident Key Manager\""),
        "validate prints camelCase: {stdout}"
    );
    assert!(stdout.contains("revoked"), "{stdout}");
    assert!(stdout.contains("added user alice"), "{stdout}");
    assert!(stdout.contains("deleted application orders"), "{stdout}");
}
