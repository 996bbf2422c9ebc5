//! A client library nobody here wrote (npm `openid-client` and `jose`, pinned in tests/peers) against
//! `keymanager serve`: discovery, client_credentials, JWT check against the JWKS, introspection, revocation.

mod common;

use std::path::PathBuf;

fn peers() -> Option<PathBuf> {
    common::npm_peers()
}

#[test]
fn openid_client_and_jose_work_against_keymanager_serve() {
    let Some(peers) = peers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let admin = common::admin_token(dir.path());
    let registered = common::register_client(
        &served.base,
        &admin,
        &serde_json::json!({
            "client_name": "openid-client interop",
            "grant_types": ["client_credentials"],
            "scope": "orders:read orders:write",
        }),
    );
    let client_id = registered["client_id"].as_str().unwrap();
    let seen = common::run_peer(
        &peers,
        "openid-client-flow.mjs",
        &[
            &served.base,
            client_id,
            registered["client_secret"].as_str().unwrap(),
            "orders:read",
        ],
    );
    assert_eq!(seen["issuer"], served.base.as_str());
    assert_eq!(seen["token_type"], "bearer");
    assert_eq!(seen["alg"], "ES256");
    assert_eq!(seen["client_id_claim"], client_id);
    assert_eq!(seen["scope_claim"], "orders:read");
    assert_eq!(seen["introspection_active"], true);
    assert_eq!(seen["introspection_client_id"], client_id);
    assert_eq!(seen["after_revocation_active"], false);
}

#[test]
fn openid_client_completes_authorization_code_with_pkce_against_keymanager_serve() {
    let Some(peers) = peers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    common::add_user(dir.path(), &served.base, "bob", "bob's long password");
    let admin = common::admin_token(dir.path());
    let redirect = "https://app.example/callback";
    // Once the usual way; once by a client that must push its requests first (RFC 9126).
    for par in [false, true] {
        let registered = common::register_client(
            &served.base,
            &admin,
            &serde_json::json!({"client_name": "spa", "grant_types": ["authorization_code", "refresh_token"],
                "redirect_uris": [redirect], "token_endpoint_auth_method": "none",
                "scope": "openid profile offline_access", "require_pushed_authorization_requests": par}),
        );
        let mut args = vec![
            "openid-client-code-flow.mjs",
            &served.base,
            registered["client_id"].as_str().unwrap(),
            redirect,
            "bob",
            "bob's long password",
        ];
        if par {
            args.push("par");
        }
        let seen = common::run_peer(&peers, args[0], &args[1..]);
        assert_eq!(seen["pushed"], par, "{seen}");
        if par {
            assert_eq!(
                seen["unpushed_status"], 400,
                "a client that must push is refused a request it did not push"
            );
        }
        assert_eq!(seen["scope"], "openid profile offline_access");
        assert_eq!(seen["has_refresh_token"], true);
        assert_eq!(seen["refreshed_rotates"], true);
        // OpenID Connect: openid-client checked the ID token (iss, aud, exp, iat, nonce) before handing it over.
        let claims = &seen["id_token_claims"];
        assert_eq!(claims["sub"], "bob");
        assert_eq!(claims["iss"], served.base.as_str());
        assert_eq!(claims["aud"], registered["client_id"]);
        assert_eq!(claims["azp"], registered["client_id"]);
        assert!(
            claims["nonce"].is_string() && claims["at_hash"].is_string() && claims["auth_time"].is_i64(),
            "{claims}"
        );
        assert_eq!(seen["userinfo"]["sub"], "bob", "UserInfo speaks for the same user");
        assert_eq!(seen["refreshed_id_token_sub"], "bob", "a refresh brings a new ID token");
    }
}

/// `private_key_jwt` with keys made by `jose` (ES256, RS256, EdDSA): registered by RFC 7591 with the public JWK (no
/// secret issued), openid-client's `PrivateKeyJwt` gets a token, a hand-made assertion works once and its replay is
/// refused, and introspection takes an assertion too.
#[test]
fn private_key_jwt_with_keys_made_by_jose() {
    let Some(peers) = peers() else { return };
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let admin = common::admin_token(dir.path());
    let seen = common::run_peer(&peers, "private-key-jwt.mjs", &[&served.base, &admin]);
    assert!(
        seen["auth_methods"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("private_key_jwt")),
        "{seen}"
    );
    for alg in ["ES256", "RS256", "EdDSA"] {
        let a = &seen["algorithms"][alg];
        assert_eq!(a["client_secret_issued"], false, "{alg}: {a}");
        assert_eq!(a["token_type"], "bearer", "{alg}: {a}");
        assert_eq!(a["scope"], "orders:read", "{alg}: {a}");
        assert_eq!(a["first_status"], 200, "{alg}: {a}");
        assert_eq!(a["replay_status"], 401, "{alg}: {a}");
        assert_eq!(a["replay_error"], "invalid_client", "{alg}: {a}");
        assert_eq!(a["introspection_active"], true, "{alg}: {a}");
    }
}
