//! What a test does when a component it needs is not on the machine. Under CI (`CI` set) that is a failure; elsewhere
//! the test says so on the test runner's own output (written past libtest's capture, so a passing test still shows
//! it) and appends a line to `KEYMANAGER_SKIP_LOG`, which `scripts/test` sums up at the end of the run.
#![allow(dead_code)]

use std::io::Write;

/// Report that `component` is missing (`how` says how to get it): panics under CI, else records the skip.
pub fn missing(component: &str, how: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("a test");
    if std::env::var_os("CI").is_some() {
        panic!("{test} needs {component}, which is missing, and CI does not skip: {how}");
    }
    let line = format!("SKIPPED {test}: {component} is missing ({how})");
    let _ = writeln!(std::io::stderr(), "{line}");
    if let Some(log) = std::env::var_os("KEYMANAGER_SKIP_LOG") {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// `KEYMANAGER_TEST_POSTGRES_URL`, or `None` after reporting it missing.
pub fn postgres_base() -> Option<String> {
    match std::env::var("KEYMANAGER_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            missing(
                "PostgreSQL",
                "set KEYMANAGER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test",
            );
            None
        }
    }
}
