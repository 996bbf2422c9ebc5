//! Key managers at run time on two `keymanager serve` nodes sharing one PostgreSQL store: an `oidc` key manager on
//! the pinned `oidc-provider` peer is added on node A from the command line (its secrets from a file) and used on
//! node B at once (LISTEN/NOTIFY): keys and a token made through B, the token accepted by `/gateway/auth` on both
//! nodes and by a `keymanager gateway-auth` process on the same store; a change of its settings on A is in use on B; disabling it on A refuses its tokens at every node's
//! `/gateway/auth` and new keys on B; removing it applies on B too; no secret of it is in the database in the
//! clear.

mod common;
#[path = "../../tests/peers/oidc_provider.rs"]
mod oidc_peer;

use std::time::Duration;

use serde_json::{json, Value};

#[test]
fn a_key_manager_added_on_one_node_is_used_on_the_other() {
    let Some(base) = common::postgres_base() else {
        return;
    };
    let Some(peer) = oidc_peer::start_provider() else {
        return;
    };
    let url = common::postgres_schema(&base, "km_rtkm", None);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = dir_a.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"{url}\"\n\n[server]\nallow_private_fetches = true\n\n[gateway]\nproxy = \"nginx\"\ndefault = \"authenticated\"\n\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n"),
    )
    .unwrap();
    // Both nodes seal and open with the same key.
    let key = format!("k1:{}", {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([42u8; 32])
    });
    let env = [("KEYMANAGER_SECRET_KEY", key.as_str())];
    let a = common::serve_config(&config, dir_a.path(), &env);
    let b = common::serve_config(&config, dir_b.path(), &env);
    // A third process that only validates (`keymanager gateway-auth`), on the same store and secret key.
    let dir_c = tempfile::tempdir().unwrap();
    let listen_c = format!("127.0.0.1:{}", common::free_port());
    let c = common::serve_with_env(
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir_c.path().to_str().unwrap(),
            "gateway-auth",
            "--listen",
            &listen_c,
        ],
        &env,
    );
    let admin = common::admin_token(dir_a.path());

    // Added on A from the command line, the secrets from a file.
    let secrets = dir_a.path().join("peer-secrets.json");
    std::fs::write(
        &secrets,
        json!({"initial_access_token": oidc_peer::IAT, "introspection_client_secret": oidc_peer::RS_SECRET})
            .to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(common::BIN)
        .args([
            "--json",
            "--server",
            &a.base,
            "key-managers",
            "add",
            "peer",
            "--type",
            "oidc",
        ])
        .args(["--setting", &format!("issuer={}", peer.issuer)])
        .args(["--setting", &format!("introspection_client_id={}", oidc_peer::RS_ID)])
        .arg("--settings-file")
        .arg(&secrets)
        .env("KEYMANAGER_ADMIN_TOKEN", &admin)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["settings"]["initial_access_token"], "********", "{added}");

    let http = reqwest::blocking::Client::new();
    let call = |node: &str, method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{node}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .unwrap()
    };
    let listed_on_b = || {
        let list: Value = call(&b.base, reqwest::Method::GET, "/api/key-managers", Value::Null)
            .json()
            .unwrap();
        list["list"].as_array().unwrap().iter().any(|k| k["name"] == "peer")
    };
    let took = common::until("node B lists the key manager added on A", listed_on_b);
    assert!(took < Duration::from_secs(5), "pushed, not polled");
    // B uses it: keys generated at the peer through node B.
    let app: Value = call(
        &b.base,
        reqwest::Method::POST,
        "/api/applications",
        json!({"name": "shop", "owner": "shop"}),
    )
    .json()
    .unwrap();
    let app = app["applicationId"].as_str().unwrap().to_owned();
    let generate = format!("/api/applications/{app}/generate-keys");
    let made = call(
        &b.base,
        reqwest::Method::POST,
        &generate,
        json!({"keyType": "PRODUCTION", "keyManager": "peer", "grantTypesToBeSupported": ["client_credentials"],
               "generateToken": true}),
    );
    assert!(made.status().is_success());
    let made: Value = made.json().unwrap();
    let token = made["token"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("a first token from the peer: {made}"))
        .to_owned();
    let client_id = made["consumerKey"].as_str().unwrap().to_owned();
    // Gateways in any language accept it at either node: the validators follow the key managers added at run time.
    let gateway = |node: &str| {
        http.get(format!("{node}/gateway/auth"))
            .bearer_auth(&token)
            .header("x-original-method", "GET")
            .header("x-original-uri", "/orders")
            .send()
            .unwrap()
    };
    for node in [&a.base, &b.base, &c.base] {
        common::until("forward auth accepts the run-time key manager's token", || {
            gateway(node).status() == reqwest::StatusCode::OK
        });
        let r = gateway(node);
        assert_eq!(r.status(), reqwest::StatusCode::OK, "{node}: {:?}", r.headers());
        assert_eq!(r.headers()["x-auth-key-manager"], "peer");
        assert_eq!(r.headers()["x-auth-client-id"], client_id.as_str());
        assert_eq!(r.headers()["x-auth-application"], app.as_str());
    }

    // Changed on A (a setting and a secret kept by leaving it out): in use on B.
    let r = call(
        &a.base,
        reqwest::Method::PUT,
        "/api/key-managers/peer",
        json!({"settings": {"scope_claim_form": "space_separated"}}),
    );
    assert!(r.status().is_success(), "{}", r.text().unwrap());
    let took = common::until("node B shows the changed settings", || {
        let k: Value = call(&b.base, reqwest::Method::GET, "/api/key-managers/peer", Value::Null)
            .json()
            .unwrap();
        k["settings"]["scope_claim_form"] == "space_separated" && k["settings"]["initial_access_token"] == "********"
    });
    assert!(took < Duration::from_secs(5), "pushed, not polled");
    // Rebuilt on B from the changed settings, with the sealed secrets kept: it still introspects at the peer.
    common::until("node B validates with the rebuilt key manager", || {
        gateway(&b.base).status() == reqwest::StatusCode::OK
    });

    // Disabled on A: B takes no new keys there.
    let r = call(
        &a.base,
        reqwest::Method::PUT,
        "/api/key-managers/peer",
        json!({"enabled": false}),
    );
    assert!(r.status().is_success());
    common::until("node B sees the key manager disabled", || {
        let k: Value = call(&b.base, reqwest::Method::GET, "/api/key-managers/peer", Value::Null)
            .json()
            .unwrap();
        k["enabled"] == false
    });
    // A disabled key manager's tokens are refused by every node's forward auth, though they were remembered.
    for node in [&a.base, &b.base, &c.base] {
        common::until("forward auth refuses the disabled key manager's token", || {
            gateway(node).status() == reqwest::StatusCode::UNAUTHORIZED
        });
    }
    let refused = call(
        &b.base,
        reqwest::Method::POST,
        &generate,
        json!({"keyType": "SANDBOX", "keyManager": "peer", "grantTypesToBeSupported": ["client_credentials"]}),
    );
    assert_eq!(
        refused.status(),
        reqwest::StatusCode::CONFLICT,
        "no new keys at a disabled key manager"
    );
    // Its mappings stay visible.
    let keys: Value = call(
        &b.base,
        reqwest::Method::GET,
        &format!("/api/applications/{app}/oauth-keys"),
        Value::Null,
    )
    .json()
    .unwrap();
    assert_eq!(keys["count"], 1, "{keys}");

    // No secret of it in the clear in the database.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stored: Vec<String> = rt.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let rows = sqlx::query("SELECT settings FROM km_key_managers")
            .fetch_all(&pool)
            .await
            .unwrap();
        rows.iter().map(|r| sqlx::Row::get::<String, _>(r, 0)).collect()
    });
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].contains(oidc_peer::IAT) && !stored[0].contains(oidc_peer::RS_SECRET),
        "sealed at rest: {}",
        stored[0]
    );

    // Removed on A (forced: a mapping points to it): gone on B.
    let r = call(&a.base, reqwest::Method::DELETE, "/api/key-managers/peer", Value::Null);
    assert_eq!(r.status(), reqwest::StatusCode::CONFLICT);
    let r = call(
        &a.base,
        reqwest::Method::DELETE,
        "/api/key-managers/peer?force=true",
        Value::Null,
    );
    assert_eq!(r.status(), reqwest::StatusCode::NO_CONTENT);
    common::until("node B forgets the removed key manager", || !listed_on_b());
}
