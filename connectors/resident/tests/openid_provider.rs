//! The resident as an OpenID Provider, on both store backends, through the real HTTP face: login sessions (`sid`,
//! `prompt`, `max_age`, consent remembered), RP-initiated logout, `private_key_jwt` client authentication (inline
//! keys and a `jwks_uri`, replay refused) and ID tokens in RS256 beside the configured algorithm.

mod common;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::IntoResponse;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::flows::*;
use common::Harness;
use keymanager::model::*;
use keymanager::KeyManager;
use serde_json::{json, Value};

const BYE: &str = "https://app.example/bye";

fn get(path: String, cookie: Option<&str>) -> Request<Body> {
    let mut req = Request::get(path);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.body(Body::empty()).unwrap()
}

/// GET the authorization endpoint with these parameters, with the browser's cookie when given.
async fn authorize_get(s: &Setup, params: &[(&str, &str)], cookie: Option<&str>) -> Reply {
    send(&s.app, get(format!("/oauth2/authorize?{}", query(params)), cookie)).await
}

/// The `error` the authorization endpoint sent the browser back with.
fn error_of(r: &Reply) -> Option<String> {
    param(r.location.as_ref().expect("a redirect"), "error")
}

/// The authorization request of the public client for `scope`, with PKCE; the verifier comes back too.
fn authorize_params<'a>(s: &'a Setup, scope: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", s.public.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Sign in with the password; returns the session cookie (`km_session=…`) and the token answer.
async fn sign_in(s: &Setup, scope: &str) -> (String, Value) {
    let (verifier, challenge) = pkce();
    let r = login(s, &authorize_params(s, scope, &challenge), USER, PASSWORD).await;
    let cookie = r.cookie.clone().expect("the sign-in sets the session cookie");
    assert!(cookie.starts_with("km_session="), "{cookie}");
    let answer = exchange(s, r.location.as_ref().expect("a redirect"), &verifier).await;
    (cookie, answer)
}

/// OpenID Connect Core §3.1.2.1 with a login session: the same browser is signed in again without a password (the
/// ID token carries the session's `sid` and the first `auth_time`); `prompt=none` is answered from the session;
/// new scopes need consent (`consent_required` under `prompt=none`); `prompt=login` and an exceeded `max_age` ask
/// for the password again; a refresh keeps `sid` and `auth_time`.
async fn a_login_session_signs_the_user_in_again(h: Harness) {
    let s = setup(h).await;
    let (cookie, first) = sign_in(&s, "openid profile offline_access").await;
    let first_claims = id_claims(&first);
    let sid = first_claims["sid"]
        .as_str()
        .expect("the ID token carries sid")
        .to_owned();
    assert!(!cookie.contains(&sid), "the sid is not the cookie");

    // Same scopes, same browser: straight back with a code.
    let (verifier, challenge) = pkce();
    let q = query(&authorize_params(&s, "openid profile offline_access", &challenge));
    let r = send(&s.app, get(format!("/oauth2/authorize?{q}"), Some(&cookie))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let again = id_claims(&exchange(&s, r.location.as_ref().unwrap(), &verifier).await);
    assert_eq!(again["sid"], sid.as_str());
    assert_eq!(again["auth_time"], first_claims["auth_time"]);
    assert_eq!(again["sub"], USER);

    // prompt=none: from the session; without one, login_required.
    let mut none = authorize_params(&s, "openid profile", &challenge);
    none.push(("prompt", "none"));
    let r = authorize_get(&s, &none, Some(&cookie)).await;
    let location = r.location.clone().expect("a redirect");
    assert!(param(&location, "code").is_some(), "{location}");
    let r = authorize_get(&s, &none, None).await;
    assert_eq!(error_of(&r).as_deref(), Some("login_required"));
    let r = send(
        &s.app,
        get(
            format!("/oauth2/authorize?{}", query(&none)),
            Some("km_session=forged-value"),
        ),
    )
    .await;
    assert_eq!(error_of(&r).as_deref(), Some("login_required"));

    // A scope not allowed yet: the consent page, or consent_required under prompt=none.
    let mut more = authorize_params(&s, "openid email", &challenge);
    let r = authorize_get(&s, &more, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("You are signed in as <strong>alice</strong>"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("type=\"password\""), "no password asked: {}", r.body);
    let csrf = r.cookie.clone().expect("the consent page sets its CSRF cookie");
    more.push(("prompt", "none"));
    let refused = authorize_get(&s, &more, Some(&cookie)).await;
    assert_eq!(error_of(&refused).as_deref(), Some("consent_required"));
    more.pop();
    // Allowing it: the code comes at once, and the scope is remembered.
    let csrf_value = csrf.split_once('=').unwrap().1.to_owned();
    let mut form = more.clone();
    form.extend([("csrf", csrf_value.as_str()), ("decision", "approve")]);
    let allowed = send(
        &s.app,
        Request::post("/oauth2/authorize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("{cookie}; {csrf}"))
            .body(Body::from(query(&form)))
            .unwrap(),
    )
    .await;
    let answer = exchange(&s, allowed.location.as_ref().expect("a redirect"), &verifier).await;
    assert_eq!(id_claims(&answer)["sid"], sid.as_str());
    more.push(("prompt", "none"));
    let r = authorize_get(&s, &more, Some(&cookie)).await;
    assert!(param(r.location.as_ref().unwrap(), "code").is_some());
    // The consent form without its session is refused, never a code: its token was bound to the session.
    let without = send(
        &s.app,
        Request::post("/oauth2/authorize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, csrf.clone())
            .body(Body::from(query(&form)))
            .unwrap(),
    )
    .await;
    assert_eq!(without.status, StatusCode::BAD_REQUEST);
    assert!(
        without.location.is_none() && without.body.contains("security token"),
        "{}",
        without.body
    );

    // prompt=login, or a session older than max_age: the password again.
    let mut login_again = authorize_params(&s, "openid", &challenge);
    login_again.push(("prompt", "login"));
    let r = authorize_get(&s, &login_again, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("type=\"password\""));
    s.h.clock.advance(std::time::Duration::from_secs(100));
    let mut old = authorize_params(&s, "openid", &challenge);
    old.push(("max_age", "50"));
    let r = authorize_get(&s, &old, Some(&cookie)).await;
    assert!(
        r.status == StatusCode::OK && r.body.contains("type=\"password\""),
        "{}",
        r.status
    );
    old.push(("prompt", "none"));
    let r = authorize_get(&s, &old, Some(&cookie)).await;
    assert_eq!(error_of(&r).as_deref(), Some("login_required"));
    old.retain(|(k, _)| *k != "prompt" && *k != "max_age");
    old.push(("max_age", "500"));
    let r = authorize_get(&s, &old, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "a fresh enough session: {}", r.body);

    // A refresh keeps the session's sid and auth_time.
    let (st, refreshed) = refresh_public(&s, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{refreshed}");
    let claims = id_claims(&refreshed);
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["auth_time"], first_claims["auth_time"]);

    // The session ends by itself after login_session_lifetime.
    s.h.clock.advance(std::time::Duration::from_secs(
        s.h.server.settings().login_session_lifetime,
    ));
    let r = authorize_get(&s, &none, Some(&cookie)).await;
    assert_eq!(error_of(&r).as_deref(), Some("login_required"));
}

/// RP-Initiated Logout 1.0: with an `id_token_hint` of the browser's session the logout is immediate, the user is
/// sent to the registered `post_logout_redirect_uri` with `state`, the session no longer signs in and its grants are
/// revoked; an unregistered redirect URI or a forged hint is an error page; without a hint the user confirms.
async fn rp_initiated_logout_ends_the_session(h: Harness) {
    let s = setup(h).await;
    let mut spec = ClientSpec::new("spa", KeyType::Sandbox)
        .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .with_redirect_uris([CB].map(|u| u.parse().unwrap()))
        .with_scopes(["openid", "offline_access"])
        .public();
    spec.additional_properties
        .insert("post_logout_redirect_uris".into(), json!([BYE]));
    let client = s.h.km.update_client(&ClientId::new(&s.public), &spec).await.unwrap();
    assert_eq!(client.additional_properties["post_logout_redirect_uris"], json!([BYE]));
    let discovery = send(&s.app, get("/.well-known/openid-configuration".into(), None)).await;
    let discovery: Value = serde_json::from_str(&discovery.body).unwrap();
    assert_eq!(
        discovery["end_session_endpoint"],
        format!("{}/oauth2/logout", s.h.server.settings().issuer)
    );

    let (cookie, answer) = sign_in(&s, "openid offline_access").await;
    let id_token = answer["id_token"].as_str().unwrap();
    let logout = |params: Vec<(&str, &str)>, cookie: Option<String>| {
        let app = s.app.clone();
        let q = query(&params);
        async move { send(&app, get(format!("/oauth2/logout?{q}"), cookie.as_deref())).await }
    };

    // Refused without redirecting: a URI the client did not register, a forged hint.
    let r = logout(
        vec![
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        Some(cookie.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.location.is_none() && r.body.contains("not registered"), "{}", r.body);
    // Review 2 (low): the end-session endpoint is a browser route: its errors are pages, not JSON wrapping a page.
    assert!(
        !r.body.trim_start().starts_with('{') && r.body.to_ascii_lowercase().contains("<html"),
        "{}",
        r.body
    );
    // Review 2 (low): no hint, no session: a registered URI is still not redirected to (RP-Initiated Logout §3).
    let r = logout(
        vec![
            ("client_id", s.public.as_str()),
            ("post_logout_redirect_uri", BYE),
            ("state", "x"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.location.is_none() && r.body.contains("signed out"), "{}", r.body);
    let mut forged = id_token.to_owned();
    forged.pop();
    forged.push(if id_token.ends_with('A') { 'B' } else { 'A' });
    let r = logout(
        vec![("id_token_hint", &forged), ("post_logout_redirect_uri", BYE)],
        Some(cookie.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let access = answer["access_token"].as_str().unwrap();
    let r = logout(vec![("id_token_hint", access)], Some(cookie.clone())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "an access token is no id_token_hint");
    assert!(active(&s, access).await, "nothing was ended by the refused requests");

    // The real thing.
    let r = logout(
        vec![
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", BYE),
            ("state", "bye-1"),
        ],
        Some(cookie.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.location.clone().unwrap();
    assert_eq!(to.as_str(), format!("{BYE}?state=bye-1"));
    assert!(
        r.cookie.as_deref() == Some("km_session="),
        "the cookie is cleared: {:?}",
        r.cookie
    );
    // The session signs nobody in any more; its tokens are revoked.
    let (_, challenge) = pkce();
    let mut none = authorize_params(&s, "openid", &challenge);
    none.push(("prompt", "none"));
    let r = authorize_get(&s, &none, Some(&cookie)).await;
    assert_eq!(error_of(&r).as_deref(), Some("login_required"));
    assert!(!active(&s, access).await, "the session's access token is revoked");
    let (st, refused) = refresh_public(&s, answer["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{refused}");
    // Issue 30: said as what happened, not as a replay.
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("sign-in session ended"),
        "{refused}"
    );

    // Without a hint the user confirms (a form with a CSRF token), then is signed out.
    let (cookie, answer) = sign_in(&s, "openid").await;
    let r = logout(vec![], Some(cookie.clone())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Sign out of this server?"), "{}", r.body);
    let csrf = r.cookie.clone().expect("a CSRF cookie");
    let forged = send(
        &s.app,
        Request::post("/oauth2/logout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("{cookie}; {csrf}"))
            .body(Body::from(query(&[("confirm", "yes"), ("csrf", "wrong")])))
            .unwrap(),
    )
    .await;
    assert!(
        forged.body.contains("Sign out of this server?"),
        "a forged confirmation only asks again"
    );
    assert!(active(&s, answer["access_token"].as_str().unwrap()).await);
    let value = csrf.split_once('=').unwrap().1.to_owned();
    let done = send(
        &s.app,
        Request::post("/oauth2/logout")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("{cookie}; {csrf}"))
            .body(Body::from(query(&[("confirm", "yes"), ("csrf", value.as_str())])))
            .unwrap(),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains("You are signed out"), "{}", done.body);
    let r = authorize_get(&s, &none, Some(&cookie)).await;
    assert_eq!(error_of(&r).as_deref(), Some("login_required"));
}

/// A P-256 key pair of a client: its private key and its public JWK.
fn client_key(kid: &str) -> (EcdsaKeyPair, Value) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    (pair, jwk)
}

fn sign(pair: &EcdsaKeyPair, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "ES256", "kid": kid, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = pair.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

async fn with_assertion(s: &Setup, path: &str, assertion: &str, extra: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut form = vec![
        ("client_assertion_type", keymanager_resident::CLIENT_ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    let r = send(
        &s.app,
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(query(&form)))
            .unwrap(),
    )
    .await;
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

fn machine_spec() -> ClientSpec {
    ClientSpec::new("machine", KeyType::Production)
        .with_grant_types([GrantType::ClientCredentials])
        .with_scopes(["orders:read"])
}

/// `private_key_jwt` (RFC 7523 §2.2, §3; Core §9): a client registered with its public key gets no secret and gets
/// tokens with assertions signed by its key, at the token and introspection endpoints; a replayed `jti`, a wrong
/// `aud`, an expired assertion, another key, or two methods at once are refused; its keys may come from a
/// `jwks_uri`.
async fn private_key_jwt_authenticates_with_the_clients_own_key(h: Harness) {
    let s = setup(h).await;
    let issuer = s.h.server.settings().issuer.clone();
    let (pair, jwk) = client_key("k1");
    let mut spec = machine_spec();
    spec.additional_properties
        .insert("token_endpoint_auth_method".into(), json!("private_key_jwt"));
    spec.additional_properties.insert("jwks".into(), json!({"keys": [jwk]}));
    let client = s.h.km.register_client(&spec).await.unwrap();
    assert!(
        client.client_secret.is_none(),
        "a private_key_jwt client gets no secret"
    );
    let id = client.client_id.to_string();
    let now = s.h.server.store().now();
    let claims =
        |aud: &str, exp: i64, jti: &str| json!({"iss": id, "sub": id, "aud": aud, "exp": exp, "iat": now, "jti": jti});
    let token_endpoint = format!("{issuer}/oauth2/token");
    let grant = [("grant_type", "client_credentials")];

    let assertion = sign(&pair, "k1", &claims(&token_endpoint, now + 60, "j-1"));
    let (st, answer) = with_assertion(&s, "/oauth2/token", &assertion, &grant).await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    let access = answer["access_token"].as_str().unwrap().to_owned();
    let (st, again) = with_assertion(&s, "/oauth2/token", &assertion, &grant).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{again}");
    assert_eq!(again["error"], "invalid_client");
    assert!(
        again["error_description"].as_str().unwrap().contains("used before"),
        "{again}"
    );

    let (other, _) = client_key("k1");
    for (why, assertion) in [
        (
            "aud",
            sign(&pair, "k1", &claims("https://other.example", now + 60, "j-2")),
        ),
        ("expired", sign(&pair, "k1", &claims(&token_endpoint, now - 120, "j-3"))),
        (
            "far exp",
            sign(&pair, "k1", &claims(&token_endpoint, now + 7200, "j-4")),
        ),
        (
            "another key",
            sign(&other, "k1", &claims(&token_endpoint, now + 60, "j-5")),
        ),
        (
            "unknown kid",
            sign(&pair, "k9", &claims(&token_endpoint, now + 60, "j-6")),
        ),
        (
            "no jti",
            sign(
                &pair,
                "k1",
                &json!({"iss": id, "sub": id, "aud": token_endpoint, "exp": now + 60}),
            ),
        ),
        (
            "iss",
            sign(
                &pair,
                "k1",
                &json!({"iss": "x", "sub": id, "aud": token_endpoint, "exp": now + 60, "jti": "j-7"}),
            ),
        ),
        ("not a JWT", "not-a-jwt".to_owned()),
    ] {
        let (st, body) = with_assertion(&s, "/oauth2/token", &assertion, &grant).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{why}: {body}");
        assert_eq!(body["error"], "invalid_client", "{why}");
    }
    // The issuer is an audience too; introspection takes an assertion for its own URL.
    let (st, _) = with_assertion(
        &s,
        "/oauth2/token",
        &sign(&pair, "k1", &claims(&issuer, now + 60, "j-8")),
        &grant,
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let introspect = format!("{issuer}/oauth2/introspect");
    let (st, info) = with_assertion(
        &s,
        "/oauth2/introspect",
        &sign(&pair, "k1", &claims(&introspect, now + 60, "j-9")),
        &[("token", access.as_str())],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{info}");
    assert_eq!(info["active"], true);
    // Revocation takes an assertion for its own URL too.
    let revoke = format!("{issuer}/oauth2/revoke");
    let (st, _) = with_assertion(
        &s,
        "/oauth2/revoke",
        &sign(&pair, "k1", &claims(&revoke, now + 60, "j-12")),
        &[("token", access.as_str())],
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert!(!active(&s, &access).await, "revoked with an assertion");
    // Two methods at once, or a wrong assertion type.
    let r = send(
        &s.app,
        Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(
                header::AUTHORIZATION,
                format!("Basic {}", STANDARD.encode(format!("{id}:x"))),
            )
            .body(Body::from(query(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", keymanager_resident::CLIENT_ASSERTION_TYPE),
                (
                    "client_assertion",
                    &sign(&pair, "k1", &claims(&token_endpoint, now + 60, "j-10")),
                ),
            ])))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let (st, body) = send_form(
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "saml"),
            ("client_assertion", "x"),
        ],
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    // Such a client has no secrets to add.
    let err =
        s.h.km
            .create_secret(&client.client_id, &SecretSpec::default())
            .await
            .unwrap_err();
    assert!(err.to_string().contains("private_key_jwt"), "{err}");
    // A secret-authenticated client cannot use an assertion.
    let (st, _) = with_assertion(
        &s,
        "/oauth2/token",
        &sign(
            &pair,
            "k1",
            &json!({"iss": s.web.0, "sub": s.web.0, "aud": token_endpoint, "exp": now + 60, "jti": "j-11"}),
        ),
        &grant,
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Keys published at a jwks_uri (read once, read again for an unknown kid).
    let (pair2, jwk2) = client_key("k2");
    let served = std::sync::Arc::new(std::sync::Mutex::new(json!({"keys": [jwk2]})));
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (doc, counted, fails) = (served.clone(), reads.clone(), failing.clone());
    let jwks_app = axum::Router::new().route(
        "/keys",
        axum::routing::get(move || {
            let (doc, counted, fails) = (doc.clone(), counted.clone(), fails.clone());
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if fails.load(std::sync::atomic::Ordering::SeqCst) {
                    return axum::http::StatusCode::BAD_GATEWAY.into_response();
                }
                axum::Json(doc.lock().unwrap().clone()).into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/keys", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, jwks_app).await });
    let mut spec = machine_spec();
    spec.additional_properties
        .insert("token_endpoint_auth_method".into(), json!("private_key_jwt"));
    spec.additional_properties.insert("jwks_uri".into(), json!(uri));
    let remote = s.h.km.register_client(&spec).await.unwrap();
    let rid = remote.client_id.to_string();
    let remote_claims = |jti: &str| json!({"iss": rid, "sub": rid, "aud": token_endpoint, "exp": now + 60, "jti": jti});
    let (st, body) = with_assertion(&s, "/oauth2/token", &sign(&pair2, "k2", &remote_claims("r-1")), &grant).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // The client rolls its key over: a new kid is read again from the jwks_uri (after the refetch interval).
    let (pair3, jwk3) = client_key("k3");
    *served.lock().unwrap() = json!({"keys": [jwk3]});
    s.h.clock.advance(std::time::Duration::from_secs(11));
    let now = s.h.server.store().now();
    let rolled = json!({"iss": rid, "sub": rid, "aud": token_endpoint, "exp": now + 60, "jti": "r-2"});
    let (st, body) = with_assertion(&s, "/oauth2/token", &sign(&pair3, "k3", &rolled), &grant).await;
    assert_eq!(st, StatusCode::OK, "{body}");

    // Review 2, finding 5: whoever knows the client id cannot make the server fetch its jwks_uri at will. Assertions
    // naming unknown kids against a failing jwks_uri: one read (and its one retry) per refetch interval, the failure
    // remembered in between.
    failing.store(true, std::sync::atomic::Ordering::SeqCst);
    s.h.clock.advance(std::time::Duration::from_secs(11));
    let before = reads.load(std::sync::atomic::Ordering::SeqCst);
    let now = s.h.server.store().now();
    let (pair9, _) = client_key("k9");
    for i in 0..40 {
        let claims = json!({"iss": rid, "sub": rid, "aud": token_endpoint, "exp": now + 60, "jti": format!("f-{i}")});
        let (st, _) = with_assertion(&s, "/oauth2/token", &sign(&pair9, "k9", &claims), &grant).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let fetched = reads.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(
        (1..=2).contains(&fetched),
        "40 assertions made {fetched} reads of the jwks_uri"
    );
    s.h.clock.advance(std::time::Duration::from_secs(11));
    let claims = json!({"iss": rid, "sub": rid, "aud": token_endpoint, "exp": now + 60, "jti": "f-after"});
    with_assertion(&s, "/oauth2/token", &sign(&pair9, "k9", &claims), &grant).await;
    assert!(
        reads.load(std::sync::atomic::Ordering::SeqCst) - before > fetched,
        "read again after the interval"
    );
    failing.store(false, std::sync::atomic::Ordering::SeqCst);

    // Registration checks the keys: a private key, or none at all, is refused by name.
    let mut bad = machine_spec();
    bad.additional_properties
        .insert("token_endpoint_auth_method".into(), json!("private_key_jwt"));
    let err = s.h.km.register_client(&bad).await.unwrap_err();
    assert!(
        matches!(&err, keymanager::Error::InvalidRequest { field: Some(f), .. } if f == "additional_properties.token_endpoint_auth_method"),
        "{err}"
    );
}

async fn send_form(s: &Setup, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = send(
        &s.app,
        Request::post("/oauth2/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(query(form)))
            .unwrap(),
    )
    .await;
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

/// OpenID Connect Core §15.1: RS256 is always available. The JWKS holds a current ES256 and RS256 key, discovery
/// lists both, a client that registers `id_token_signed_response_alg: RS256` gets RS256 ID tokens (others the
/// configured ES256), and a rotation replaces both keys; an algorithm the server does not sign with is refused.
async fn rs256_id_tokens_beside_the_configured_algorithm(h: Harness) {
    let s = setup(h).await;
    let jwks = s.h.server.keys().jwks().await.unwrap();
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["ES256", "RS256"]);
    let discovery = send(&s.app, get("/.well-known/openid-configuration".into(), None)).await;
    let discovery: Value = serde_json::from_str(&discovery.body).unwrap();
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["ES256", "RS256"])
    );
    // A complete OpenID provider's document, as `openidconnect` reads it.
    let typed: keymanager::oauth::discovery::OpenIdMetadata = serde_json::from_value(discovery.clone()).unwrap();
    let read = keymanager::oauth::discovery::ServerMetadata::from(&typed);
    assert!(read.openid);
    assert_eq!(
        read.end_session_endpoint,
        Some(format!("{}/oauth2/logout", s.h.server.settings().issuer))
    );
    assert_eq!(discovery["authorization_response_iss_parameter_supported"], true);
    assert!(discovery["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("private_key_jwt")));

    let header_of = |answer: &Value| -> Value {
        let t = answer["id_token"].as_str().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(t.split('.').next().unwrap()).unwrap()).unwrap()
    };
    let (_, es) = sign_in(&s, "openid").await;
    assert_eq!(header_of(&es)["alg"], "ES256");
    assert_eq!(es["access_token"].as_str().map(|t| t.split('.').count()), Some(3));

    let mut spec = ClientSpec::new("spa", KeyType::Sandbox)
        .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .with_redirect_uris([CB].map(|u| u.parse().unwrap()))
        .with_scopes(["openid", "profile", "email", "offline_access"])
        .public();
    spec.additional_properties
        .insert("id_token_signed_response_alg".into(), json!("RS256"));
    s.h.km.update_client(&ClientId::new(&s.public), &spec).await.unwrap();
    let (_, rs) = sign_in(&s, "openid").await;
    let header = header_of(&rs);
    assert_eq!(header["alg"], "RS256");
    // It verifies with the RS256 key of the JWKS.
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap();
    let (alg, key) = keymanager::validation::jwk_public_key(jwk).unwrap();
    assert_eq!(alg, "RS256");
    let t = rs["id_token"].as_str().unwrap();
    let (input, sig) = t.rsplit_once('.').unwrap();
    key.verify_sig(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
        .expect("the RS256 ID token verifies");

    let before: Vec<String> = algs_and_kids(&s).await.into_iter().map(|(_, k)| k).collect();
    s.h.server.keys().rotate().await.unwrap();
    let after = algs_and_kids(&s).await;
    assert_eq!(
        after.len(),
        4,
        "two new current keys, two retired ones still published: {after:?}"
    );
    assert_eq!(after[0].0, "ES256");
    assert_eq!(after[1].0, "RS256");
    assert!(!before.contains(&after[0].1) && !before.contains(&after[1].1));

    spec.additional_properties
        .insert("id_token_signed_response_alg".into(), json!("PS256"));
    let err =
        s.h.km
            .update_client(&ClientId::new(&s.public), &spec)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("id_token_signed_response_alg"), "{err}");
}

async fn algs_and_kids(s: &Setup) -> Vec<(String, String)> {
    let jwks = s.h.server.keys().jwks().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["alg"].as_str().unwrap().to_owned(),
                k["kid"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Dynamic registration (RFC 7591, OpenID Connect Dynamic Client Registration §2) takes the OpenID metadata: a
/// `private_key_jwt` client with its `jwks` gets no secret and its registration says so; bad keys are
/// `invalid_client_metadata` naming the member.
async fn registration_takes_openid_client_metadata(h: Harness) {
    let s = setup(h).await;
    let (_, jwk) = client_key("k1");
    let register = |body: Value| {
        let app = s.app.clone();
        async move {
            send(
                &app,
                Request::post("/oauth2/register")
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::AUTHORIZATION, "Bearer admin-token-for-tests-0123456789")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
        }
    };
    let r = register(json!({
        "client_name": "rp", "grant_types": ["authorization_code"], "redirect_uris": [CB],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [jwk]},
        "post_logout_redirect_uris": [BYE], "id_token_signed_response_alg": "RS256",
    }))
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let answer: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["token_endpoint_auth_method"], "private_key_jwt");
    assert!(answer.get("client_secret").is_none(), "{answer}");
    assert_eq!(answer["jwks"]["keys"][0]["kid"], "k1");
    assert_eq!(answer["post_logout_redirect_uris"], json!([BYE]));
    assert_eq!(answer["id_token_signed_response_alg"], "RS256");

    let r = register(json!({
        "redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]},
    }))
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    assert!(
        body["error_description"].as_str().unwrap().starts_with("jwks.keys[0]"),
        "{body}"
    );
}

/// Issue 30: the login page says each scope in words: the description registered for it (through the key manager,
/// as `keymanager scopes add` and the API do), else the server's own; it names the application and links its policy
/// and terms when it registered them; it carries the product's stylesheet and no script.
async fn the_login_page_says_what_is_asked_in_words(h: Harness) {
    let s = setup(h).await;
    s.h.km
        .register_scope(&Scope {
            name: "profile".into(),
            description: Some("See the name on your badge".into()),
            display_name: None,
        })
        .await
        .unwrap();
    let mut spec = ClientSpec::new("spa", KeyType::Sandbox)
        .with_grant_types([GrantType::AuthorizationCode])
        .with_redirect_uris([CB].map(|u| u.parse().unwrap()))
        .with_scopes(["openid", "profile"])
        .public();
    spec.additional_properties
        .insert("policy_uri".into(), json!("https://spa.example.com/privacy"));
    s.h.km.update_client(&ClientId::new(&s.public), &spec).await.unwrap();
    let (_, challenge) = pkce();
    let r = authorize_get(&s, &authorize_params(&s, "openid profile", &challenge), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for want in [
        "<strong>spa</strong> asks you to sign in",
        "See the name on your badge",
        "Know who you are",
        "href=\"https://spa.example.com/privacy\"",
        "--accent",
    ] {
        assert!(r.body.contains(want), "{want}: {}", r.body);
    }
    assert!(!r.body.contains("<script"), "{}", r.body);
}

/// A client cannot switch between secrets and its own keys or certificate by an update (its secrets would stay and
/// still authenticate), and mutual TLS is refused by a server that does not ask TLS clients for certificates.
async fn a_client_cannot_switch_between_secrets_and_its_own_keys(h: Harness) {
    let s = setup(h).await;
    let field = |e: keymanager::Error| match e {
        keymanager::Error::InvalidRequest { field, message, .. } => (field.unwrap_or_default(), message),
        other => panic!("not a field error: {other}"),
    };
    let with_secret = s.h.km.register_client(&machine_spec()).await.unwrap();
    assert!(with_secret.client_secret.is_some());
    let (_, jwk) = client_key("k1");
    let mut keyed = machine_spec();
    keyed
        .additional_properties
        .insert("token_endpoint_auth_method".into(), json!("private_key_jwt"));
    keyed
        .additional_properties
        .insert("jwks".into(), json!({"keys": [jwk]}));
    let (name, why) = field(s.h.km.update_client(&with_secret.client_id, &keyed).await.unwrap_err());
    assert_eq!(name, "additional_properties.token_endpoint_auth_method", "{why}");
    let keyed_client = s.h.km.register_client(&keyed).await.unwrap();
    let (name, _) = field(
        s.h.km
            .update_client(&keyed_client.client_id, &machine_spec())
            .await
            .unwrap_err(),
    );
    assert_eq!(name, "additional_properties.token_endpoint_auth_method");
    // The same method may stay.
    assert!(s.h.km.update_client(&keyed_client.client_id, &keyed).await.is_ok());

    let mut mtls = machine_spec();
    mtls.additional_properties
        .insert("token_endpoint_auth_method".into(), json!("tls_client_auth"));
    mtls.additional_properties
        .insert("tls_client_auth_san_dns".into(), json!("orders.example"));
    let (name, why) = field(s.h.km.register_client(&mtls).await.unwrap_err());
    assert_eq!(name, "additional_properties.token_endpoint_auth_method");
    assert!(why.contains("tls_client_certificates"), "{why}");
}

on_both_backends!(
    a_client_cannot_switch_between_secrets_and_its_own_keys,
    the_login_page_says_what_is_asked_in_words,
    a_login_session_signs_the_user_in_again,
    rp_initiated_logout_ends_the_session,
    private_key_jwt_authenticates_with_the_clients_own_key,
    rs256_id_tokens_beside_the_configured_algorithm,
    registration_takes_openid_client_metadata,
);

/// The OpenID Foundation's Basic OP test plan, item by item as a checklist (the conformance suite itself cannot run
/// here): each assertion names the plan's test it stands for.
async fn basic_op_checklist(h: Harness) {
    let s = setup(h).await;
    let (verifier, challenge) = pkce();
    let authorize = |params: Vec<(&str, &str)>, cookie: Option<&str>| {
        let app = s.app.clone();
        let q = query(&params);
        let cookie = cookie.map(str::to_owned);
        async move { send(&app, get(format!("/oauth2/authorize?{q}"), cookie.as_deref())).await }
    };
    // oidcc-server: the code flow with nonce; the ID token's iss, aud, azp, nonce, at_hash, exp, iat.
    let mut base = authorize_params(&s, "openid", &challenge);
    base.push(("nonce", "checklist-nonce"));
    let r = login(&s, &base, USER, PASSWORD).await;
    let cookie = r.cookie.clone().unwrap();
    let location = r.location.clone().unwrap();
    assert_eq!(
        param(&location, "iss").as_deref(),
        Some(s.h.server.settings().issuer.as_str()),
        "oidcc-server: iss (RFC 9207)"
    );
    let code = param(&location, "code").unwrap();
    let exchange_form = [
        ("grant_type", "authorization_code"),
        ("client_id", s.public.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", verifier.as_str()),
    ];
    let (st, answer) = token(&s, None, &exchange_form).await;
    assert_eq!(st, StatusCode::OK);
    let claims = id_claims(&answer);
    assert_eq!(
        claims["nonce"], "checklist-nonce",
        "oidcc-ensure-request-with-nonce-is-echoed"
    );
    assert_eq!(claims["aud"], s.public.as_str(), "oidcc-server: aud");
    assert_eq!(claims["azp"], s.public.as_str(), "oidcc-server: azp");
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        answer["access_token"].as_str().unwrap().as_bytes(),
    );
    assert_eq!(
        claims["at_hash"],
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]),
        "oidcc-server: at_hash"
    );
    // oidcc-codereuse: a second exchange fails, and revokes what the first one issued.
    let (st, again) = token(&s, None, &exchange_form).await;
    assert_eq!(
        (st, again["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "oidcc-codereuse"
    );
    assert!(
        !active(&s, answer["access_token"].as_str().unwrap()).await,
        "oidcc-codereuse: tokens revoked"
    );
    // oidcc-prompt-none-not-logged-in: login_required at the redirect URI.
    let mut none = authorize_params(&s, "openid", &challenge);
    none.push(("prompt", "none"));
    let r = authorize(none.clone(), None).await;
    assert_eq!(
        error_of(&r).as_deref(),
        Some("login_required"),
        "oidcc-prompt-none-not-logged-in"
    );
    // oidcc-prompt-none-logged-in: a code without a page.
    let r = authorize(none, Some(&cookie)).await;
    assert!(
        param(r.location.as_ref().unwrap(), "code").is_some(),
        "oidcc-prompt-none-logged-in"
    );
    // oidcc-prompt-login and oidcc-max-age-1 (max_age=0 here): the user authenticates again.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let mut p = authorize_params(&s, "openid", &challenge);
        p.push(extra);
        let r = authorize(p, Some(&cookie)).await;
        assert!(
            r.status == StatusCode::OK && r.body.contains("type=\"password\""),
            "oidcc-{extra:?}: {}",
            r.status
        );
    }
    // oidcc-ensure-registered-redirect-uri: an unregistered redirect URI is shown, never redirected to.
    let mut bad = authorize_params(&s, "openid", &challenge);
    bad.retain(|(k, _)| *k != "redirect_uri");
    bad.push(("redirect_uri", "https://attacker.example/cb"));
    let r = authorize(bad, Some(&cookie)).await;
    assert!(
        r.status == StatusCode::BAD_REQUEST && r.location.is_none(),
        "oidcc-ensure-registered-redirect-uri"
    );
    // oidcc-response-type-missing / unsupported response_type: unsupported_response_type at the redirect URI.
    for response_type in ["token", "id_token", "code id_token"] {
        let mut p = authorize_params(&s, "openid", &challenge);
        p.retain(|(k, _)| *k != "response_type");
        p.push(("response_type", response_type));
        let r = authorize(p, Some(&cookie)).await;
        assert_eq!(
            error_of(&r).as_deref(),
            Some("unsupported_response_type"),
            "response_type={response_type}"
        );
    }
    // oidcc-userinfo-get / -post-header / -post-body.
    let (_, fresh) = sign_in(&s, "openid profile").await;
    let access = fresh["access_token"].as_str().unwrap().to_owned();
    for req in [
        Request::get("/oauth2/userinfo")
            .header(header::AUTHORIZATION, format!("Bearer {access}"))
            .body(Body::empty())
            .unwrap(),
        Request::post("/oauth2/userinfo")
            .header(header::AUTHORIZATION, format!("Bearer {access}"))
            .body(Body::empty())
            .unwrap(),
        Request::post("/oauth2/userinfo")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(query(&[("access_token", access.as_str())])))
            .unwrap(),
    ] {
        let r = send(&s.app, req).await;
        assert_eq!(r.status, StatusCode::OK, "oidcc-userinfo: {}", r.body);
        assert_eq!(serde_json::from_str::<Value>(&r.body).unwrap()["sub"], USER);
    }
    // oidcc-id-token-hint (RP-initiated logout with the hint ends the session).
    let (cookie, answer) = sign_in(&s, "openid").await;
    let q = query(&[("id_token_hint", answer["id_token"].as_str().unwrap())]);
    let r = send(&s.app, get(format!("/oauth2/logout?{q}"), Some(&cookie))).await;
    assert!(
        r.status == StatusCode::OK && r.body.contains("You are signed out"),
        "oidcc-rp-initiated-logout"
    );
    let mut none = authorize_params(&s, "openid", &challenge);
    none.push(("prompt", "none"));
    let r = authorize(none, Some(&cookie)).await;
    assert_eq!(error_of(&r).as_deref(), Some("login_required"));
    // oidcc-discovery: the document an OpenID client library reads as a complete provider's.
    let d = send(&s.app, get("/.well-known/openid-configuration".into(), None)).await;
    let typed: keymanager::oauth::discovery::OpenIdMetadata = serde_json::from_str(&d.body).unwrap();
    assert_eq!(
        typed.issuer().as_str(),
        s.h.server.settings().issuer.as_str(),
        "oidcc-discovery-issuer"
    );
}

on_both_backends!(basic_op_checklist);
