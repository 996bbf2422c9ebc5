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

/// A subject token of another key manager named in `token_exchange_trusted_key_managers` (here a second
/// `keymanager serve`, configured as an `oidc` key manager) is validated as a gateway validates it and exchanged;
/// the new token keeps its subject and names its issuer. Without the trust, or with a forged token, it is refused.
#[test]
fn a_token_of_a_trusted_key_manager_is_exchanged() {
    let partner_dir = tempfile::tempdir().unwrap();
    let partner = common::serve(partner_dir.path());
    let partner_admin = common::admin_token(partner_dir.path());
    let outside = common::register_client(
        &partner.base,
        &partner_admin,
        &json!({"client_name": "partner app", "grant_types": ["client_credentials"], "scope": "orders:read"}),
    );
    let http = reqwest::blocking::Client::new();
    let token = |base: &str, id: &str, secret: &str, form: &[(&str, &str)]| -> Value {
        http.post(format!("{base}/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let subject = token(
        &partner.base,
        outside["client_id"].as_str().unwrap(),
        outside["client_secret"].as_str().unwrap(),
        &[("grant_type", "client_credentials")],
    );
    let subject = subject["access_token"].as_str().unwrap().to_owned();

    let serve_trusting = |trusted: &str| {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("keymanager.toml");
        std::fs::write(
            &config,
            format!(
                "[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\n\
                 token_exchange_trusted_key_managers = [{trusted}]\n\n\
                 [[key_manager]]\nname = \"partner\"\ntype = \"oidc\"\nissuer = \"{}\"\n",
                partner.base
            ),
        )
        .unwrap();
        let served = common::serve_config(&config, dir.path(), &[]);
        let admin = common::admin_token(dir.path());
        let api = common::register_client(
            &served.base,
            &admin,
            &json!({"client_name": "orders-api", "scope": "orders:read",
                    "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"]}),
        );
        (dir, served, api)
    };
    let exchange = |base: &str, api: &Value, subject: &str| {
        token(
            base,
            api["client_id"].as_str().unwrap(),
            api["client_secret"].as_str().unwrap(),
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
                ("subject_token", subject),
                ("subject_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ],
        )
    };
    let claims = |jwt: &str| -> Value {
        use base64::Engine;
        let payload = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };

    let (_dir, served, api) = serve_trusting("\"partner\"");
    let exchanged = exchange(&served.base, &api, &subject);
    let issued = exchanged["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{exchanged}"));
    let issued = claims(issued);
    let original = claims(&subject);
    assert_eq!(issued["iss"], served.base, "{issued}");
    assert_eq!(issued["sub"], original["sub"], "the subject stays");
    assert_eq!(issued["act"]["subject_issuer"], partner.base, "{issued}");
    assert_eq!(issued["act"]["sub"], api["client_id"]);
    assert_eq!(issued["scope"], "orders:read");
    assert!(
        issued["exp"].as_i64() <= original["exp"].as_i64(),
        "never outlives the subject token"
    );
    // A token whose signature does not verify is refused, and so is any token where nothing is trusted.
    let forged = format!("{}x", &subject[..subject.len() - 1]);
    assert_eq!(exchange(&served.base, &api, &forged)["error"], "invalid_grant");
    let (_dir2, untrusting, api2) = serve_trusting("");
    assert_eq!(exchange(&untrusting.base, &api2, &subject)["error"], "invalid_grant");
}
