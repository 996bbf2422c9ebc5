//! A person's path through the login page, in a real browser: headless Chromium (Debian's `chromium`, driven by
//! playwright-core from tests/peers) logs in, allows, and is redirected with a code that a PKCE client exchanges.
//! The login page's screenshot is kept in target/test-artifacts/login-page.png.

mod common;

use std::path::PathBuf;

use serde_json::{json, Value};

#[test]
fn a_person_signs_in_with_chromium_and_the_pkce_client_gets_tokens() {
    let Some(peers) = common::browser_peers(&["playwright-core"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    common::add_user(dir.path(), &served.base, "alice", "correct horse battery staple");
    let admin = common::admin_token(dir.path());
    let port = common::free_port();
    let redirect_uri = format!("http://127.0.0.1:{port}/cb");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::Client::new();
    let client: Value = rt.block_on(async {
        http.post(format!("{}/oauth2/register", served.base))
            .bearer_auth(&admin)
            .json(&json!({"client_name": "Orders web app", "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none", "scope": "profile offline_access"}))
            .send().await.unwrap().json().await.unwrap()
    });
    let client_id = client["client_id"].as_str().unwrap().to_owned();
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-keymanager-browser";
    let challenge = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ))
    };
    let mut auth = url::Url::parse(&format!("{}/oauth2/authorize", served.base)).unwrap();
    auth.query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "profile offline_access")
        .append_pair("state", "browser-state")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let artifacts = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/test-artifacts"));
    std::fs::create_dir_all(&artifacts).unwrap();
    let shot = artifacts.join("login-page.png");
    let seen = common::run_peer(
        &peers,
        "browser-login.mjs",
        &[
            auth.as_str(),
            &port.to_string(),
            "alice",
            "correct horse battery staple",
            &shot.display().to_string(),
        ],
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 1000,
        "the screenshot was saved"
    );
    let callback = url::Url::parse(seen["callback"].as_str().unwrap()).unwrap();
    let get = |k: &str| {
        callback
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(get("state").as_deref(), Some("browser-state"));
    assert_eq!(get("iss").as_deref(), Some(served.base.as_str()));
    let code = get("code").unwrap();
    rt.block_on(async {
        let tokens: Value = http
            .post(format!("{}/oauth2/token", served.base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", &client_id),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(tokens["refresh_token"].is_string(), "{tokens}");
        let info: Value = http
            .post(format!("{}/oauth2/introspect", served.base))
            .bearer_auth(&admin)
            .form(&[("token", tokens["access_token"].as_str().unwrap())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["active"], true);
        assert_eq!(info["client_id"], client_id.as_str());
        assert_ne!(info["sub"], client_id.as_str(), "the token speaks for alice");
    });
}
