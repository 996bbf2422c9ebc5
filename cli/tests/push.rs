//! Two `keymanager serve` nodes on one PostgreSQL store: a change made on node A is applied by node B at once
//! (LISTEN/NOTIFY), within 250 ms where polling and the caches would take up to 5 s: a revoked token is refused at B's
//! `/gateway/auth`, a new admin token works at B, a deleted secret no longer gets tokens at B.

mod common;

use std::time::Duration;

use serde_json::{json, Value};

/// The bound this test holds push to (polling would take up to 5 s); the measured figure is printed.
const BOUND: Duration = Duration::from_millis(250);

#[test]
fn a_change_on_one_node_applies_on_the_other_at_once() {
    let Some(base) = common::postgres_base() else {
        return;
    };
    let url = common::postgres_schema(&base, "km_push", None);
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let config = dir_a.path().join("keymanager.toml");
    std::fs::write(
        &config,
        format!("[database]\nurl = \"{url}\"\n\n[gateway]\nproxy = \"nginx\"\ndefault = \"authenticated\"\n\n[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n"),
    )
    .unwrap();
    let a = common::serve_config(&config, dir_a.path(), &[]);
    let b = common::serve_config(&config, dir_b.path(), &[]);
    let admin = common::admin_token(dir_a.path());
    let http = reqwest::blocking::Client::new();
    let api = |base: &str, token: &str, method: reqwest::Method, path: &str, body: Value| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .unwrap()
    };
    let ok = |r: reqwest::blocking::Response| -> Value {
        assert!(r.status().is_success(), "{}", r.status());
        r.json().unwrap_or(Value::Null)
    };
    let app = ok(api(
        &a.base,
        &admin,
        reqwest::Method::POST,
        "/api/applications",
        json!({"name": "shop", "owner": "shop"}),
    ));
    let app = app["applicationId"].as_str().unwrap().to_owned();
    let keys = ok(api(
        &a.base,
        &admin,
        reqwest::Method::POST,
        &format!("/api/applications/{app}/generate-keys"),
        json!({"keyType": "PRODUCTION", "grantTypesToBeSupported": ["client_credentials"], "generateToken": true}),
    ));
    let (client, secret, mapping) = (
        keys["consumerKey"].as_str().unwrap().to_owned(),
        keys["consumerSecret"].as_str().unwrap().to_owned(),
        keys["keyMappingId"].as_str().unwrap().to_owned(),
    );
    let token = keys["token"]["accessToken"].as_str().unwrap().to_owned();
    let at_b = |token: &str| common::gateway_status(&http, &b.base, token);
    assert_eq!(at_b(&token), 200, "node B validates node A's token");

    // A revocation on A: refused at B's gateway endpoint at once.
    ok(api(
        &a.base,
        &admin,
        reqwest::Method::POST,
        &format!("/api/applications/{app}/oauth-keys/{mapping}/revoke-token"),
        json!({"token": token, "consumerSecret": secret}),
    ));
    let took = common::until("revocation on A refused at B", || at_b(&token) == 401);
    assert!(took < BOUND, "revocation took {took:?}");

    // An admin token created on A works on B at once.
    let created = ok(api(
        &a.base,
        &admin,
        reqwest::Method::POST,
        "/api/admin-tokens",
        json!({"name": "ops"}),
    ));
    let ops = created["token"].as_str().unwrap().to_owned();
    let took = common::until("admin token from A accepted at B", || {
        api(&b.base, &ops, reqwest::Method::GET, "/api/key-managers", Value::Null).status() == 200
    });
    assert!(took < BOUND, "admin token took {took:?}");

    // A secret B has cached, deleted on A: B issues no more tokens with it at once.
    let token_at_b = |secret: &str| {
        http.post(format!("{}/oauth2/token", b.base))
            .basic_auth(&client, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let added = ok(api(
        &a.base,
        &admin,
        reqwest::Method::POST,
        &format!("/api/applications/{app}/oauth-keys/{mapping}/secrets"),
        json!({"description": "second"}),
    ));
    let second = added["secretValue"].as_str().unwrap().to_owned();
    let second_id = added["secretId"].as_str().unwrap().to_owned();
    common::until("new secret from A accepted at B", || token_at_b(&second) == 200);
    ok(api(
        &a.base,
        &admin,
        reqwest::Method::DELETE,
        &format!("/api/applications/{app}/oauth-keys/{mapping}/secrets/{second_id}"),
        Value::Null,
    ));
    let took = common::until("deleted secret refused at B", || token_at_b(&second) == 401);
    assert!(took < BOUND, "secret deletion took {took:?}");
    assert_eq!(token_at_b(&secret), 200, "the first secret still works");
}
