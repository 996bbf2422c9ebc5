//! The egress guard on a server with its defaults (review 2, finding 5): nothing fetched on someone else's say
//! reaches loopback, private, link-local or reserved addresses, however the address is spelled; refusals are
//! 4xx in the route's own error shape, never a 5xx, and happen before any connection is made.

mod common;

use serde_json::{json, Value};

/// Spellings of addresses the server must not fetch on a caller's say (each refused before a connection).
fn forbidden_hosts(port: u16) -> Vec<String> {
    vec![
        format!("https://127.0.0.1:{port}"),
        format!("https://127.1:{port}"),
        format!("https://2130706433:{port}"),
        format!("https://0x7f000001:{port}"),
        format!("https://[::1]:{port}"),
        format!("https://[::ffff:127.0.0.1]:{port}"),
        format!("https://localhost:{port}"),
        "https://169.254.169.254".to_owned(),
        "https://10.0.0.1".to_owned(),
        "https://192.168.0.1".to_owned(),
        "https://[fd00::1]".to_owned(),
        "https://0.0.0.0".to_owned(),
        format!("http://127.0.0.1:{port}"),
    ]
}

#[test]
fn nothing_is_fetched_from_private_addresses_on_a_callers_say() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let base = served.base.as_str();
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let admin = common::admin_token(dir.path());
    let http = reqwest::blocking::Client::new();
    let post = |path: &str, body: Value| {
        let r = http
            .post(format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().unwrap_or(Value::Null))
    };
    let app: Value = post("/api/applications", json!({"name": "shop", "owner": "shop"})).1;
    let app = app["applicationId"].as_str().unwrap().to_owned();
    for (i, host) in forbidden_hosts(port).into_iter().enumerate() {
        // Discovery (WSO2's import from a well-known URL).
        let (status, body) = post("/api/key-managers/discover", json!({"url": format!("{host}/")}));
        assert!((400..500).contains(&status), "discover {host}: {status} {body}");
        // A key manager added at run time: every call it makes passes the guard, its discovery first.
        let (status, body) = post(
            "/api/key-managers",
            json!({"name": format!("peer{i}"), "type": "oidc", "settings": {"issuer": format!("{host}/")}}),
        );
        assert!(
            (400..500).contains(&status),
            "add an oidc key manager at {host}: {status} {body}"
        );
        // A client's jwks_uri, which the server would fetch whenever someone presents an assertion for it.
        let (status, body) = post(
            &format!("/api/applications/{app}/generate-keys"),
            json!({
                "keyType": if i % 2 == 0 { "PRODUCTION" } else { "SANDBOX" },
                "grantTypesToBeSupported": ["client_credentials"],
                "additionalProperties": {"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": format!("{host}/jwks")}
            }),
        );
        assert_eq!(status, 400, "jwks_uri at {host}: {body}");
        assert!(body.to_string().contains("jwks_uri"), "{body}");
    }
    // The key managers list is unchanged: nothing half-added.
    let kms: Value = http
        .get(format!("{base}/api/key-managers"))
        .bearer_auth(&admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(kms["count"], 1, "{kms}");
}
