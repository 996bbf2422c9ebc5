//! Token exchange (RFC 8693) through `keymanager serve`: clients registered over RFC 7591 with the grant and an
//! audience policy; the exchange is answered and written to the audit trail (the client and the audience, never a
//! token).

mod common;

use serde_json::{json, Value};

#[test]
fn a_token_exchange_is_answered_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let admin = common::admin_token(dir.path());
    let http = reqwest::blocking::Client::new();
    let register = |body: Value| -> (String, String) {
        let r = common::register_client(&served.base, &admin, &body);
        (
            r["client_id"].as_str().unwrap().to_owned(),
            r["client_secret"].as_str().unwrap().to_owned(),
        )
    };
    let (caller, caller_secret) =
        register(json!({"client_name": "shop", "grant_types": ["client_credentials"], "scope": "orders:read"}));
    let (api, api_secret) = register(json!({"client_name": "orders-api",
        "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"], "scope": "orders:read",
        "token_exchange_audiences": ["https://stock.example"]}));
    let token = |id: &str, secret: &str, form: &[(&str, &str)]| -> Value {
        http.post(format!("{}/oauth2/token", served.base))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let subject = token(&caller, &caller_secret, &[("grant_type", "client_credentials")]);
    let subject = subject["access_token"].as_str().unwrap();
    let exchanged = token(
        &api,
        &api_secret,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("subject_token", subject),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("audience", "https://stock.example"),
        ],
    );
    assert_eq!(
        exchanged["issued_token_type"], "urn:ietf:params:oauth:token-type:access_token",
        "{exchanged}"
    );
    let trail: Value = http
        .get(format!("{}/api/audit?action=token.exchange", served.base))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let records = trail["list"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{trail}");
    assert_eq!(records[0]["actor"]["name"], api.as_str());
    let target = records[0]["target"].as_str().unwrap();
    assert!(target.contains("audience=https://stock.example"), "{target}");
    assert!(!trail.to_string().contains(subject), "no token in the trail");
}
