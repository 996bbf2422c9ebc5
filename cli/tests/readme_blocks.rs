//! Every shell block of the README is either run by a test or marked as a fragment (issue 30): a block is preceded
//! by a marker — `<!-- walkthrough -->` (run by `readme_walkthrough.rs`), `<!-- runs: NAME -->` (run here, as
//! written, against a fresh server), `<!-- setup: run|test -->` (the two set-up commands; the test command is the
//! one `.ci/run` runs) or `<!-- fragment: why -->`. A new block without a marker fails this test, and so does a
//! runnable block that uses a value it does not capture (the scripts run with `set -u`).

mod common;

use std::path::Path;
use std::process::Command;

/// (marker, block) for every shell block, in README order.
fn blocks() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim();
        if ["```sh", "```bash", "```shell", "```console"].contains(&fence) {
            let marker = lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_owned())
                .unwrap_or_default();
            let end = lines[i + 1..]
                .iter()
                .position(|l| l.trim() == "```")
                .map(|n| i + 1 + n)
                .unwrap_or(lines.len());
            out.push((marker, lines[i + 1..end].join("\n")));
            i = end;
        }
        i += 1;
    }
    out
}

#[test]
fn every_shell_block_is_run_by_a_test_or_marked_as_a_fragment() {
    let blocks = blocks();
    assert!(
        blocks.len() >= 8,
        "the README's shell blocks were found: {}",
        blocks.len()
    );
    for (marker, block) in &blocks {
        let known = marker == "<!-- walkthrough -->"
            || marker.starts_with("<!-- runs: ")
            || marker.starts_with("<!-- fragment: ")
            || marker == "<!-- setup: run -->"
            || marker == "<!-- setup: test -->";
        assert!(
            known,
            "a README shell block without a marker (runs:, fragment:, setup:):\n{marker}\n{block}"
        );
    }
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/run")).unwrap();
    let test = blocks
        .iter()
        .find(|(m, _)| m == "<!-- setup: test -->")
        .expect("the README's test command");
    assert!(
        ci.contains(test.1.trim()),
        "CI runs the README's test command `{}`",
        test.1.trim()
    );
}

#[test]
fn the_runnable_readme_blocks_run_against_a_fresh_server() {
    let tools = ["jq", "curl"]
        .iter()
        .all(|t| Command::new(t).arg("--version").output().is_ok());
    if !tools {
        common::missing("jq or curl", "apt-get install jq curl; .ci/run installs them");
        return;
    }
    let runnable: Vec<(String, String)> = blocks()
        .into_iter()
        .filter(|(m, _)| m.starts_with("<!-- runs: "))
        .collect();
    assert!(runnable.len() >= 4, "{runnable:?}");
    for (marker, block) in runnable {
        // Each block on a server of its own, with its data directory at ./data as the README's commands expect.
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let served = common::serve(&data);
        let script = format!(
            "km() {{ \"$KM_BIN\" \"$@\"; }}\n{}",
            block.replace("http://127.0.0.1:9443", &served.base)
        );
        let out = run(&script, dir.path(), &data, &served.base);
        assert!(
            out.status.success(),
            "{marker} failed:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn run(script: &str, cwd: &Path, data: &Path, base: &str) -> std::process::Output {
    Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(cwd)
        .env("KM_BIN", common::BIN)
        .env("KEYMANAGER_SERVER", base)
        .env("KEYMANAGER_DATA_DIR", data)
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .env_remove("KEYMANAGER_ACCESS_TOKEN")
        .env_remove("KEYMANAGER_CLIENT_SECRET")
        .output()
        .unwrap()
}
