//! Real callers of a real server: `keymanager serve` with the resident key manager and the oidc connector on the
//! pinned `oidc-provider` peer, both listed in `[server] api_identity`. A resident user (password grant, JWT) and a
//! client of the peer (client credentials, opaque token, introspected) each act through the CLI with
//! `KEYMANAGER_ACCESS_TOKEN`, see only their own applications, and appear in `keymanager audit` by name.

mod common;
#[path = "../../tests/peers/oidc_provider.rs"]
mod oidc_peer;

use std::process::Command;

use common::BIN;
use serde_json::{json, Value};

/// `keymanager --json ARGS…` against `base`, as the holder of an access token or an admin token.
fn km(
    base: &str,
    dir: &std::path::Path,
    auth: (&str, &str),
    args: &[&str],
    stdin: Option<&str>,
) -> (i32, Value, String) {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(["--json", "--server", base, "--data-dir", dir.to_str().unwrap()])
        .args(args)
        .env_remove("KEYMANAGER_ADMIN_TOKEN")
        .env_remove("KEYMANAGER_ACCESS_TOKEN")
        .env(auth.0, auth.1)
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_SERVER")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn resident_users_and_peer_clients_act_as_themselves_through_the_cli() {
    let Some(peer) = oidc_peer::start_provider() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\napi_identity = [\"resident\", \"peer\"]\n\n\
             [[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n\n{}",
            peer.key_manager_table("peer")
        ),
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let base = served.base.as_str();
    let admin_token = common::admin_token(dir.path());
    let admin = ("KEYMANAGER_ADMIN_TOKEN", admin_token.as_str());
    let http = reqwest::blocking::Client::new();

    // The administrator adds a developer and a client developers sign in through (it alone may give a client the
    // management API's scopes).
    let (code, _, err) = km(
        base,
        dir.path(),
        admin,
        &["users", "add", "alice"],
        Some("alice's long password\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = km(
        base,
        dir.path(),
        admin,
        &["apps", "create", "developer-cli", "--owner", "platform"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (code, keys, err) = km(
        base,
        dir.path(),
        admin,
        &[
            "keys",
            "generate",
            "--app",
            "developer-cli",
            "--key-type",
            "production",
            "--key-manager",
            "resident",
            "--grant-types",
            "password",
            "--scopes",
            "keymanager:apps,keymanager:admin",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let (cli_id, cli_secret) = (
        keys["consumerKey"].as_str().unwrap().to_owned(),
        keys["consumerSecret"].as_str().unwrap().to_owned(),
    );

    // Alice signs in (password grant) and asks for both scopes: she lacks the admin role, so she gets apps only.
    let token: Value = http
        .post(format!("{base}/oauth2/token"))
        .basic_auth(&cli_id, Some(&cli_secret))
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", "alice's long password"),
            ("scope", "keymanager:apps keymanager:admin"),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(token["scope"], "keymanager:apps", "{token}");
    let alice_token = token["access_token"].as_str().unwrap().to_owned();
    let alice = ("KEYMANAGER_ACCESS_TOKEN", alice_token.as_str());

    // A client of the peer, registered there with scope keymanager:apps, gets an (opaque) token of its own.
    let reg: Value = http
        .post(format!("{}/reg", peer.issuer))
        .bearer_auth(oidc_peer::IAT)
        .json(&json!({"grant_types": ["client_credentials"], "response_types": [], "redirect_uris": [], "scope": "keymanager:apps"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let peer_id = reg["client_id"].as_str().unwrap().to_owned();
    let token: Value = http
        .post(format!("{}/token", peer.issuer))
        .basic_auth(&peer_id, reg["client_secret"].as_str())
        .form(&[("grant_type", "client_credentials"), ("scope", "keymanager:apps")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let peer_token = token["access_token"].as_str().unwrap().to_owned();
    let robot = ("KEYMANAGER_ACCESS_TOKEN", peer_token.as_str());

    // Each creates an application: its owner is the caller (the peer's subjects are qualified by key manager).
    let (code, app, err) = km(base, dir.path(), alice, &["apps", "create", "orders"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(app["owner"], "alice");
    let (code, app, err) = km(base, dir.path(), robot, &["apps", "create", "billing"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(app["owner"], format!("peer:{peer_id}"));

    // Each lists only their own; the administrator sees all three.
    let names = |list: &Value| -> Vec<String> {
        let mut n: Vec<String> = list["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(&km(base, dir.path(), alice, &["apps", "list"], None).1),
        ["orders"]
    );
    assert_eq!(
        names(&km(base, dir.path(), robot, &["apps", "list"], None).1),
        ["billing"]
    );
    assert_eq!(
        names(&km(base, dir.path(), admin, &["apps", "list"], None).1),
        ["billing", "developer-cli", "orders"]
    );

    // Alice cannot reach the robot's application by name or id, nor the administrator's routes.
    let (code, _, err) = km(base, dir.path(), alice, &["apps", "delete", "billing"], None);
    assert_ne!(code, 0);
    assert!(err.contains("not found"), "{err}");
    let (code, _, err) = km(base, dir.path(), alice, &["users", "list"], None);
    assert_ne!(code, 0);
    assert!(err.contains("keymanager:admin"), "{err}");
    // She manages her own keys end to end.
    let (code, keys, err) = km(
        base,
        dir.path(),
        alice,
        &[
            "keys",
            "generate",
            "--app",
            "orders",
            "--key-type",
            "sandbox",
            "--key-manager",
            "resident",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(keys["consumerSecret"].is_string());

    // A token the server does not accept is refused with a hint.
    let (code, _, err) = km(
        base,
        dir.path(),
        ("KEYMANAGER_ACCESS_TOKEN", "not-a-token"),
        &["apps", "list"],
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("KEYMANAGER_ACCESS_TOKEN"), "{err}");

    // The trail names each actor.
    let (code, trail, err) = km(
        base,
        dir.path(),
        admin,
        &["audit", "--action", "application.create"],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let actors: Vec<(String, String, Option<String>)> = trail["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["actor"]["kind"].as_str().unwrap().to_owned(),
                r["actor"]["name"].as_str().unwrap().to_owned(),
                r["actor"]["keyManager"].as_str().map(str::to_owned),
            )
        })
        .collect();
    assert!(
        actors.contains(&("user".into(), "alice".into(), Some("resident".into()))),
        "{actors:?}"
    );
    assert!(
        actors.contains(&("client".into(), peer_id.clone(), Some("peer".into()))),
        "{actors:?}"
    );
    assert!(
        actors.contains(&("admin_token".into(), "initial".into(), None)),
        "{actors:?}"
    );
    assert!(
        trail["list"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["source"] == "127.0.0.1"),
        "{trail}"
    );
    assert!(
        trail["list"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["requestId"].is_string()),
        "{trail}"
    );
    let (code, _, err) = km(base, dir.path(), alice, &["audit"], None);
    assert_ne!(code, 0, "the trail is for administrators: {err}");

    // Client registration (RFC 7591, with an admin token) and its management (RFC 7592, as the client) are in the
    // same trail; a refused change is recorded as a failure.
    let reg: Value = http
        .post(format!("{base}/oauth2/register"))
        .bearer_auth(&admin_token)
        .json(&json!({"client_name": "registered", "grant_types": ["client_credentials"], "scope": "orders:read"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let (id, rat) = (
        reg["client_id"].as_str().unwrap(),
        reg["registration_access_token"].as_str().unwrap(),
    );
    let widen = http
        .put(format!("{base}/oauth2/register/{id}"))
        .bearer_auth(rat)
        .json(&json!({"client_id": id, "grant_types": ["client_credentials"], "scope": "orders:read keymanager:admin"}))
        .send()
        .unwrap();
    assert_eq!(widen.status(), 400, "a client cannot widen itself");
    let gone = http
        .delete(format!("{base}/oauth2/register/{id}"))
        .bearer_auth(rat)
        .send()
        .unwrap();
    assert_eq!(gone.status(), 204);
    let (code, trail, err) = km(base, dir.path(), admin, &["audit", "--limit", "3"], None);
    assert_eq!(code, 0, "{err}");
    let seen: Vec<(String, String, String, String)> = trail["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_owned(),
                r["actor"]["name"].as_str().unwrap().to_owned(),
                r["outcome"].as_str().unwrap().to_owned(),
                r["target"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let target = format!("clientId={id}");
    assert_eq!(
        seen,
        [
            (
                "registration.delete".into(),
                id.to_owned(),
                "success".into(),
                target.clone()
            ),
            (
                "registration.update".into(),
                id.to_owned(),
                "failure".into(),
                target.clone()
            ),
            ("registration.create".into(), "initial".into(), "success".into(), target),
        ],
        "{trail}"
    );
}
