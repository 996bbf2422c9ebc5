//! Review 2, finding 9: nodes given different secret keys do not split a cluster silently. Key ids are the keys'
//! fingerprints, and a node whose key cannot open what the store holds refuses to start with one line naming the
//! key ids the store needs and the ones it has; with the right key it starts and opens everything.

mod common;

use std::process::{Command, Stdio};

use serde_json::json;

fn key(byte: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([byte; 32])
}

#[test]
fn a_node_without_the_clusters_secret_key_refuses_to_start_and_says_which_it_needs() {
    let shared = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = shared.path().join("keymanager.toml");
    let db = shared.path().join("shared.db");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n",
            db.display()
        ),
    )
    .unwrap();
    // Both keys as an earlier version wrote them: the same id `k1`, different bytes.
    let (key_a, key_b) = (format!("k1:{}", key(1)), format!("k1:{}", key(2)));
    let a = common::serve_config(&config, dir_a.path(), &[("KEYMANAGER_SECRET_KEY", &key_a)]);
    let admin = common::admin_token(dir_a.path());
    let made = reqwest::blocking::Client::new()
        .post(format!("{}/api/key-managers", a.base))
        .bearer_auth(&admin)
        .json(
            &json!({"name": "kc", "type": "keycloak", "settings": {"base_url": "https://kc.example.com",
            "realm": "acme", "admin_client_id": "km-admin", "admin_client_secret": "kc-admin-secret-value"}}),
        )
        .send()
        .unwrap();
    assert_eq!(made.status(), 201, "{}", made.text().unwrap());
    drop(a);
    let start_b = |key: &str| {
        Command::new(common::BIN)
            .args([
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
                dir_b.path().to_str().unwrap(),
            ])
            .args(["serve", "--listen", &format!("127.0.0.1:{}", common::free_port())])
            .env("KEYMANAGER_SECRET_KEY", key)
            .env_remove("KEYMANAGER_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let refused = start_b(&key_b).wait_with_output().unwrap();
    assert!(!refused.status.success(), "a node with another key must not serve");
    let said = String::from_utf8_lossy(&refused.stderr);
    let fp = |k: &str| {
        use base64::Engine;
        keymanager::server_kit::fingerprint(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k.split_once(':').unwrap().1)
                .unwrap(),
        )
    };
    assert!(
        said.contains(&fp(&key_a)) && said.contains(&fp(&key_b)),
        "names the key the store needs and the one it has: {said}"
    );
    // With the cluster's key it starts, and opens what A sealed.
    let b = common::serve_config(&config, dir_b.path(), &[("KEYMANAGER_SECRET_KEY", &key_a)]);
    let listed = reqwest::blocking::Client::new()
        .get(format!("{}/api/key-managers/kc", b.base))
        .bearer_auth(&admin)
        .send()
        .unwrap();
    assert_eq!(listed.status(), 200);
}
