//! Named admin tokens: several, each shown once and stored hashed, with creation and last use; the generated first
//! one is one of them and can be revoked once another exists; a revoked token is refused at once.

mod common;

use std::process::Command;

use common::BIN;

/// `keymanager --json ARGS…` against `base` with `token`: exit code and JSON.
fn km(base: &str, dir: &std::path::Path, token: &str, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = Command::new(BIN)
        .args(["--json", "--server", base, "--data-dir", dir.to_str().unwrap()])
        .args(args)
        .env("KEYMANAGER_ADMIN_TOKEN", token)
        .env_remove("KEYMANAGER_CONFIG")
        .env_remove("KEYMANAGER_SERVER")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn named_admin_tokens_are_created_listed_used_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let initial = common::admin_token(dir.path());
    let base = served.base.as_str();

    let (code, listed, err) = km(base, dir.path(), &initial, &["admin-tokens", "list"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(listed["list"][0]["name"], "initial");
    assert!(
        listed["list"][0]["lastUsedTime"].is_i64(),
        "the list call itself is a use: {listed}"
    );

    // The generated first token cannot be revoked while it is the only one.
    let (code, _, err) = km(base, dir.path(), &initial, &["admin-tokens", "revoke", "initial"]);
    assert_eq!(code, 1);
    assert!(err.contains("last admin token"), "{err}");

    let (code, created, err) = km(base, dir.path(), &initial, &["admin-tokens", "create", "ci"]);
    assert_eq!(code, 0, "{err}");
    let ci = created["token"].as_str().unwrap().to_owned();
    assert!(ci.len() >= 43);
    let (code, _, err) = km(base, dir.path(), &initial, &["admin-tokens", "create", "ci"]);
    assert_eq!(code, 1, "a name is unique: {err}");
    for bad in ["bad name", "--name-like-an-option"] {
        let (code, _, err) = km(base, dir.path(), &initial, &["admin-tokens", "create", "--", bad]);
        assert_eq!(code, 1, "{bad}: {err}");
        assert!(err.contains("name"), "{err}");
    }

    // The new token works, and the first one can now be revoked: refused at once.
    assert_eq!(km(base, dir.path(), &ci, &["apps", "list"]).0, 0);
    assert_eq!(km(base, dir.path(), &ci, &["admin-tokens", "revoke", "initial"]).0, 0);
    let (code, _, err) = km(base, dir.path(), &initial, &["apps", "list"]);
    assert_eq!(code, 1);
    assert!(err.contains("admin"), "{err}");
    let (_, listed, _) = km(base, dir.path(), &ci, &["admin-tokens", "list"]);
    let names: Vec<&str> = listed["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["ci"]);
    assert!(!listed.to_string().contains(&ci), "a listing never shows a token");

    // The store keeps hashes only.
    let db = std::fs::read(dir.path().join("keymanager.db")).unwrap();
    assert!(
        !db.windows(ci.len()).any(|w| w == ci.as_bytes()),
        "the token is stored in the clear"
    );

    // After a restart the named tokens still hold; the revoked first one stays revoked.
    drop(served);
    let again = common::serve(dir.path());
    assert_eq!(km(&again.base, dir.path(), &ci, &["apps", "list"]).0, 0);
    assert_eq!(km(&again.base, dir.path(), &initial, &["apps", "list"]).0, 1);
}
