//! Every path that checks a user's password goes through one lockout, with the caller's address: the token
//! endpoint's password grant and the management API's `generate-token` with `grantType: password` (review 2,
//! finding 6: the latter passed no address, so guesses through it were never counted per address). The login page
//! shares the same guard (`repeated_failures_lock_out_the_name_and_the_address` in the resident's tests).

mod common;

use serde_json::{json, Value};

/// One path that checks a password: (user, password) to the HTTP status.
type PasswordPath<'a> = dyn Fn(&str, &str) -> u16 + 'a;

#[test]
fn failures_on_every_password_path_count_against_one_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("keymanager.toml");
    std::fs::write(
        &config,
        "[[key_manager]]\nname = \"resident\"\ntype = \"resident\"\nlogin_failures_per_user = 100\n\
         login_failures_per_address = 4\nlockout_seconds = 60\n",
    )
    .unwrap();
    let served = common::serve_config(&config, dir.path(), &[]);
    let base = served.base.as_str();
    let admin = common::admin_token(dir.path());
    common::add_user(dir.path(), base, "alice", "alice's long password");
    let http = reqwest::blocking::Client::new();
    let api = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .unwrap()
    };
    let app: Value = api("/api/applications", json!({"name": "shop", "owner": "shop"}))
        .json()
        .unwrap();
    let app = app["applicationId"].as_str().unwrap().to_owned();
    let keys: Value = api(
        &format!("/api/applications/{app}/generate-keys"),
        json!({"keyType": "PRODUCTION", "keyManager": "resident", "grantTypesToBeSupported": ["password"]}),
    )
    .json()
    .unwrap();
    let (client_id, secret, mapping) = (
        keys["consumerKey"].as_str().unwrap().to_owned(),
        keys["consumerSecret"].as_str().unwrap().to_owned(),
        keys["keyMappingId"].as_str().unwrap().to_owned(),
    );
    // The paths that check a password, each sending (user, password) and answering the HTTP status.
    let through_api = |user: &str, password: &str| {
        api(
            &format!("/api/applications/{app}/oauth-keys/{mapping}/generate-token"),
            json!({"consumerSecret": secret, "grantType": "password", "username": user, "password": password}),
        )
        .status()
        .as_u16()
    };
    let through_token_endpoint = |user: &str, password: &str| {
        http.post(format!("{base}/oauth2/token"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("grant_type", "password"), ("username", user), ("password", password)])
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    let paths: [(&str, &PasswordPath); 2] = [
        ("management API generate-token", &through_api),
        ("token endpoint", &through_token_endpoint),
    ];
    for (name, path) in paths {
        assert_eq!(
            path("alice", "alice's long password"),
            200,
            "{name}: the right password"
        );
    }
    // Four failures on other names, alternating between the paths, from this one address.
    for i in 0..4 {
        let (name, path) = paths[i % 2];
        let status = path(&format!("guess{i}"), "wrong");
        assert!(
            [400, 401, 403].contains(&status),
            "{name}: a wrong password answered {status}"
        );
    }
    // The address is locked on every path, even for the right password.
    for (name, path) in paths {
        assert_eq!(
            path("alice", "alice's long password"),
            429,
            "{name} after the address's lockout"
        );
    }
}
