//! The Developer Portal in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core from
//! tests/peers) walks the whole journey of `portal-journey.mjs` against `keymanager serve` on the embedded default,
//! with axe-core on every page at desktop width and at 375 px. Screenshots of every page are kept under
//! target/test-artifacts/portal/.

mod common;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const PASSWORD: &str = "a long enough password";

#[test]
fn developers_and_an_administrator_use_the_portal_in_chromium() {
    let Some(peers) = common::browser_peers(&["playwright-core", "axe-core"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    for (name, roles) in [("alice", &[][..]), ("bob", &[][..]), ("root", &["admin"][..])] {
        common::add_user_with_roles(dir.path(), &served.base, name, PASSWORD, roles);
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
