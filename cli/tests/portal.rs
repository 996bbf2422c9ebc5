//! The Developer Portal in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core from
//! tests/peers) walks the whole journey of `portal-journey.mjs` against `keymanager serve` on the embedded default,
//! with axe-core on every page at desktop width and at 375 px. Screenshots of every page are kept under
//! target/test-artifacts/portal/.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::BIN;
use serde_json::Value;

const PASSWORD: &str = "a long enough password";

fn peers() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/peers"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = Path::new(&chromium).exists()
        && dir.join("node_modules/playwright-core").exists()
        && dir.join("node_modules/axe-core").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if ready {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI must run the portal's browser test: .ci/run installs chromium, scripts/test the npm peers");
    }
    eprintln!("skipping: chromium, node or tests/peers/node_modules is missing");
    None
}

fn add_user(dir: &Path, base: &str, name: &str, roles: &[&str]) {
    let mut args = vec![
        "--data-dir",
        dir.to_str().unwrap(),
        "--server",
        base,
        "users",
        "add",
        name,
    ];
    for r in roles {
        args.extend(["--role", r]);
    }
    let mut child = Command::new(BIN)
        .args(&args)
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_SERVER")
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .env_remove("KEYMANAGER_ACCESS_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(PASSWORD.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success(), "users add {name}");
}

#[test]
fn developers_and_an_administrator_use_the_portal_in_chromium() {
    let Some(peers) = peers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    for (name, roles) in [("alice", &[][..]), ("bob", &[][..]), ("root", &["admin"][..])] {
        add_user(dir.path(), &served.base, name, roles);
    }
    // The portal answers with its protections.
    let resp = reqwest::blocking::get(format!("{}/portal", served.base)).unwrap();
    assert_eq!(resp.status(), 200);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");

    let artifacts = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-artifacts/portal"));
    let out = Command::new("node")
        .current_dir(&peers)
        .arg("portal-journey.mjs")
        .arg(&served.base)
        .arg(&artifacts)
        .arg(PASSWORD)
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        out.status.success(),
        "the journey failed: {summary:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        summary["violations"],
        serde_json::json!([]),
        "serious or critical accessibility problems"
    );
    let pages = summary["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 10, "{summary:#}");
    for p in pages {
        for width in ["desktop", "375"] {
            let shot = artifacts.join(format!("{}-{width}.png", p.as_str().unwrap()));
            assert!(
                std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000),
                "{}",
                shot.display()
            );
        }
    }

    // The portal acted through the management API: the trail names alice.
    let token = common::admin_token(dir.path());
    let trail: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/audit?actor=alice&limit=100", served.base))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let actions: Vec<&str> = trail["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    for a in [
        "application.create",
        "keys.generate",
        "secret.create",
        "secret.delete",
        "token.generate",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}
