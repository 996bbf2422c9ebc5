//! The Developer Portal in a real browser: headless Chromium (Debian's `chromium`, driven by playwright-core from
//! tests/peers) walks the whole journey of `portal-journey.mjs` against `keymanager serve` on the embedded default,
//! with axe-core on every page at desktop width and at 375 px. Screenshots of every page are kept under
//! target/test-artifacts/portal/.

mod common;
#[path = "../../tests/peers/oidc_provider.rs"]
mod oidc_peer;

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
    // Every authorization request must be pushed first (RFC 9126): the portal's own sign-in pushes its.
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        "[[key_manager]]\nname = \"Resident Key Manager\"\ntype = \"resident\"\nrequire_pushed_authorization_requests = true\n",
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
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
    assert_eq!(pages.len(), 12, "{summary:#}");
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

/// Signing in through another key manager of `api_identity` (`[[portal.sign_in]]`): the pinned `oidc-provider`
/// peer with its development login pages; the user's applications carry the peer's qualified subject; signing out
/// ends the peer's session too (RP-Initiated Logout), so the next sign-in asks for the login again.
#[test]
fn a_developer_signs_in_through_another_key_manager() {
    let Some(peers) = common::browser_peers(&["playwright-core", "oidc-provider"]) else {
        return;
    };
    let Some(provider) = oidc_peer::start_interactive() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    // The portal's client at the provider, registered there (RFC 7591) for this server's callback.
    let reg: Value = reqwest::blocking::Client::new()
        .post(format!("{}/reg", provider.issuer))
        .bearer_auth(oidc_peer::IAT)
        .json(&serde_json::json!({
            "redirect_uris": [format!("{base}/portal/callback")],
            "post_logout_redirect_uris": [format!("{base}/portal")],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "scope": "openid keymanager:apps",
        }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\napi_identity = [\"resident\", \"company\"]\n\n\
             [[portal.sign_in]]\nkey_manager = \"company\"\nlabel = \"Sign in with the company\"\n\
             client_id = \"{}\"\nclient_secret = \"{}\"\nscopes = [\"openid\", \"keymanager:apps\"]\n\n\
             [[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n\n\
             [[key_manager]]\nname = \"company\"\ntype = \"oidc\"\nissuer = \"{}\"\ninitial_access_token = \"{}\"\n\
             introspection_client_id = \"{}\"\nintrospection_client_secret = \"{}\"\n",
            reg["client_id"].as_str().unwrap(),
            reg["client_secret"].as_str().unwrap(),
            provider.issuer,
            oidc_peer::IAT,
            oidc_peer::RS_ID,
            oidc_peer::RS_SECRET
        ),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{port}");
    let served = common::serve_with_env(
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir.path().to_str().unwrap(),
            "serve",
            "--listen",
            &listen,
        ],
        &[],
    );
    let artifacts = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-artifacts/portal"));
    std::fs::create_dir_all(&artifacts).unwrap();
    let out = Command::new("node")
        .current_dir(&peers)
        .args([
            "portal-sign-in.mjs",
            &served.base,
            "Sign in with the company",
            "carol",
            "carols-app",
        ])
        .arg(&artifacts)
        .output()
        .unwrap();
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(
        out.status.success(),
        "{summary:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary["user"], "carol", "{summary}");
    assert!(
        summary["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "signing in again asks for the login"),
        "signing out of the portal ends the provider's session too: {summary}"
    );
    assert_eq!(
        summary["owner"], "company:carol",
        "a subject of the second key manager is qualified: {summary}"
    );
    let list: Value = reqwest::blocking::Client::new()
        .get(format!("{}/api/applications", served.base))
        .bearer_auth(common::admin_token(dir.path()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        list["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "carols-app" && a["owner"] == "company:carol"),
        "{list}"
    );
}
