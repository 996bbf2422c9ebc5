//! User grants on both store backends: authorization code with PKCE, refresh rotation and reuse detection, the
//! password grant, and the login page's CSRF protection, through the real HTTP face.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::flows::*;
use common::Harness;
use keymanager::model::*;
use keymanager::KeyManager;
use serde_json::Value;
use tower::ServiceExt;

async fn pkce_rules(h: Harness) {
    let s = setup(h).await;
    let (verifier, challenge) = pkce();
    let base = [
        ("client_id", s.public.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("state", "xyz"),
    ];
    // A public client must send a challenge: told at its redirect URI, with iss.
    let r = send(
        &s.app,
        Request::get(format!("/oauth2/authorize?{}", query(&base)))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let loc = r.location.unwrap();
    assert_eq!(
        (param(&loc, "error").as_deref(), param(&loc, "state").as_deref()),
        (Some("invalid_request"), Some("xyz"))
    );
    assert_eq!(param(&loc, "iss").as_deref(), Some("http://127.0.0.1:9443"));
    // plain is refused when the client does not allow it; an absent method means plain.
    for extra in [
        vec![
            ("code_challenge", verifier.as_str()),
            ("code_challenge_method", "plain"),
        ],
        vec![("code_challenge", verifier.as_str())],
    ] {
        let mut p = base.to_vec();
        p.extend(extra);
        let r = send(
            &s.app,
            Request::get(format!("/oauth2/authorize?{}", query(&p)))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(param(&r.location.unwrap(), "error").as_deref(), Some("invalid_request"));
    }
    // S256 round trip.
    let mut p = base.to_vec();
    p.extend([
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("scope", "profile offline_access"),
    ]);
    let r = login(&s, &p, USER, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.location.unwrap();
    assert_eq!(
        (param(&loc, "state").as_deref(), param(&loc, "iss").as_deref()),
        (Some("xyz"), Some("http://127.0.0.1:9443"))
    );
    let code = param(&loc, "code").unwrap();
    // A wrong verifier fails (and spends the code); a missing one too.
    let (st, body) = token(
        &s,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &s.public),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &(verifier.clone() + "x")),
        ],
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let r = login(&s, &p, USER, PASSWORD).await;
    let code = param(&r.location.unwrap(), "code").unwrap();
    let (st, body) = token(
        &s,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &s.public),
            ("code", &code),
            ("redirect_uri", CB),
        ],
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "no verifier"
    );
    let r = login(&s, &p, USER, PASSWORD).await;
    let code = param(&r.location.unwrap(), "code").unwrap();
    let (st, body) = token(
        &s,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &s.public),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "profile offline_access");
    assert!(
        body["refresh_token"].is_string(),
        "offline_access brings a refresh token"
    );
    let info =
        s.h.km
            .introspect(&Token::new(body["access_token"].as_str().unwrap()), None)
            .await
            .unwrap();
    assert!(info.active);
    let subject = info.sub.unwrap();
    assert_ne!(subject, s.public, "the token speaks for the user");

    // plain accepted for a client that allows it.
    let plain_client =
        s.h.km
            .register_client(
                &ClientSpec::new("legacy", KeyType::Sandbox)
                    .with_grant_types([GrantType::AuthorizationCode])
                    .with_redirect_uris([CB].map(|u| u.parse().unwrap()))
                    .public()
                    .with_pkce(PkcePolicy {
                        required: true,
                        allow_plain: true,
                    }),
            )
            .await
            .unwrap();
    let id = plain_client.client_id.to_string();
    let p = [
        ("client_id", id.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("code_challenge", verifier.as_str()),
        ("code_challenge_method", "plain"),
    ];
    let r = login(&s, &p, USER, PASSWORD).await;
    let code = param(&r.location.unwrap(), "code").unwrap();
    let (st, _) = token(
        &s,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK);
}

async fn bad_clients_and_redirect_uris_are_shown_not_redirected(h: Harness) {
    let s = setup(h).await;
    for p in [
        vec![
            ("client_id", s.web.0.as_str()),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
        ],
        vec![
            ("client_id", "no-such-client"),
            ("redirect_uri", CB),
            ("response_type", "code"),
        ],
        vec![("client_id", s.web.0.as_str()), ("response_type", "code")],
    ] {
        let r = send(
            &s.app,
            Request::get(format!("/oauth2/authorize?{}", query(&p)))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{p:?}");
        assert!(r.location.is_none(), "never redirected: {p:?}");
        assert!(r.body.contains("role=\"alert\""), "{}", r.body);
    }
    // Denying goes back to the client.
    let p = [
        ("client_id", s.web.0.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("state", "s1"),
    ];
    let page = send(
        &s.app,
        Request::get(format!("/oauth2/authorize?{}", query(&p)))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let cookie = page.cookie.unwrap();
    let csrf = cookie.split_once('=').unwrap().1.to_owned();
    let mut form = p.to_vec();
    form.extend([("csrf", csrf.as_str()), ("decision", "deny")]);
    let r = send(
        &s.app,
        Request::post("/oauth2/authorize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie.clone())
            .body(Body::from(query(&form)))
            .unwrap(),
    )
    .await;
    assert_eq!(param(&r.location.unwrap(), "error").as_deref(), Some("access_denied"));
    // No CSRF token, or a wrong one: refused on the page.
    let mut form = p.to_vec();
    form.extend([("username", USER), ("password", PASSWORD), ("decision", "approve")]);
    let r = send(
        &s.app,
        Request::post("/oauth2/authorize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(query(&form)))
            .unwrap(),
    )
    .await;
    assert_eq!((r.status, r.location.is_none()), (StatusCode::BAD_REQUEST, true));
    assert!(r.body.contains("security token"));
    form.push(("csrf", "forged"));
    let r = send(
        &s.app,
        Request::post("/oauth2/authorize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(query(&form)))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A wrong password shows the page again.
    let r = login(&s, &p, USER, "wrong password").await;
    assert_eq!((r.status, r.location.is_none()), (StatusCode::UNAUTHORIZED, true));
    assert!(r.body.contains("Wrong username or password."));
}

async fn code_replay_revokes_and_codes_are_bound_to_their_client(h: Harness) {
    let s = setup(h).await;
    let (id, secret) = (s.web.0.clone(), s.web.1.clone());
    let p = [
        ("client_id", id.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
    ];
    let code = param(&login(&s, &p, USER, PASSWORD).await.location.unwrap(), "code").unwrap();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
    ];
    let (st, first) = token(&s, Some((&id, &secret)), &exchange).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let access = first["access_token"].as_str().unwrap().to_owned();
    let refresh = first["refresh_token"].as_str().unwrap().to_owned();
    assert!(active(&s, &access).await);
    let (st, again) = token(&s, Some((&id, &secret)), &exchange).await;
    assert_eq!(
        (st, again["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(
        !active(&s, &access).await,
        "a replayed code revokes the tokens issued from it"
    );
    let (st, _) = token(
        &s,
        Some((&id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "and the refresh token of that grant");
    // Another client cannot use this client's code; the redirect URI must match the request's.
    let code = param(&login(&s, &p, USER, PASSWORD).await.location.unwrap(), "code").unwrap();
    let (st, body) = token(
        &s,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &s.public),
            ("code", &code),
            ("redirect_uri", CB),
        ],
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let code = param(&login(&s, &p, USER, PASSWORD).await.location.unwrap(), "code").unwrap();
    let (st, _) = token(
        &s,
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://app.example/other"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(h: Harness) {
    let s = setup(h).await;
    let (id, secret) = (s.web.0.clone(), s.web.1.clone());
    let p = [
        ("client_id", id.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "profile"),
    ];
    let code = param(&login(&s, &p, USER, PASSWORD).await.location.unwrap(), "code").unwrap();
    let (_, first) = token(
        &s,
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
        ],
    )
    .await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (st, second) = token(
        &s,
        Some((&id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();
    let a2 = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2, "rotated on use");
    assert!(active(&s, &a2).await);
    // Reusing the rotated token: refused, and the whole family goes.
    let (st, reuse) = token(
        &s,
        Some((&id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &r1)],
    )
    .await;
    assert_eq!(
        (st, reuse["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(!active(&s, &a2).await);
    let (st, _) = token(
        &s,
        Some((&id, &secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", &r2)],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}

async fn the_password_grant_is_off_unless_the_client_enables_it(h: Harness) {
    let s = setup(h).await;
    let (id, secret) = (s.web.0.clone(), s.web.1.clone());
    let (st, body) = token(
        &s,
        Some((&id, &secret)),
        &[
            ("grant_type", "password"),
            ("username", USER),
            ("password", PASSWORD),
            ("scope", "profile"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert!(active(&s, body["access_token"].as_str().unwrap()).await);
    let (st, body) = token(
        &s,
        Some((&id, &secret)),
        &[("grant_type", "password"), ("username", USER), ("password", "nope")],
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (st, body) = token(
        &s,
        Some((&id, &secret)),
        &[
            ("grant_type", "password"),
            ("username", "mallory"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let service =
        s.h.km
            .register_client(&ClientSpec::new("svc", KeyType::Production))
            .await
            .unwrap();
    let (sid, ssecret) = (
        service.client_id.to_string(),
        service.client_secret.unwrap().expose_secret().to_owned(),
    );
    let (st, body) = token(
        &s,
        Some((&sid, &ssecret)),
        &[("grant_type", "password"), ("username", USER), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
}

/// Review finding 2: a refresh refused for its scope must not spend the token; the corrected retry succeeds and the
/// family stays alive.
async fn a_refused_refresh_leaves_the_token_usable(h: Harness) {
    let s = setup(h).await;
    let (id, secret) = (s.web.0.clone(), s.web.1.clone());
    let p = [
        ("client_id", id.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "profile"),
    ];
    let code = param(&login(&s, &p, USER, PASSWORD).await.location.unwrap(), "code").unwrap();
    let (_, first) = token(
        &s,
        Some((&id, &secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
        ],
    )
    .await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let a1 = first["access_token"].as_str().unwrap().to_owned();
    let (st, refused) = token(
        &s,
        Some((&id, &secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("scope", "admin"),
        ],
    )
    .await;
    assert_eq!(
        (st, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (st, _) = token(
        &s,
        Some((&id, &secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("scope", "profile  x"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, retried) = token(
        &s,
        Some((&id, &secret)),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("scope", "profile"),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "the corrected retry is not a replay: {retried}");
    assert!(active(&s, &a1).await, "the family was not revoked");
}

/// Review finding 10: `redirect_uri` at the code exchange is required exactly when the authorization request
/// carried one (RFC 6749 §4.1.3).
async fn redirect_uri_at_the_exchange_only_when_the_request_had_one(h: Harness) {
    let s = setup(h).await;
    let (verifier, challenge) = pkce();
    let with_pkce = |p: &mut Vec<(&str, String)>| {
        p.push(("code_challenge", challenge.clone()));
        p.push(("code_challenge_method", "S256".into()));
    };
    // Left out of the request (the client has one registered): the exchange may leave it out too.
    let mut p: Vec<(&str, String)> = vec![
        ("client_id", s.public.clone()),
        ("response_type", "code".into()),
        ("scope", "profile".into()),
    ];
    with_pkce(&mut p);
    let p_ref: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = login(&s, &p_ref, USER, PASSWORD).await;
    let loc = r.location.expect("redirected with a code");
    assert!(loc.as_str().starts_with(CB), "{loc}");
    let code = param(&loc, "code").unwrap();
    let (st, body) = token(
        &s,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &s.public),
            ("code", &code),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // Sent in the request: the exchange must send it, identical.
    p.push(("redirect_uri", CB.into()));
    let p_ref: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let code = param(&login(&s, &p_ref, USER, PASSWORD).await.location.unwrap(), "code").unwrap();
    let (st, body) = token(
        &s,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &s.public),
            ("code", &code),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{body}"
    );
}

/// OpenID Connect (Core §3.1.3.6, §3.1.3.7, §5.3): with `openid`, the code exchange answers an ID token signed with a
/// key of the JWKS, for the client (`aud`, `azp`), the user (`sub`), echoing the `nonce`, with `auth_time` and the
/// access token's `at_hash`; a refresh answers a new one; UserInfo speaks for the same user and needs `openid`;
/// without `openid` there is no ID token. A bad `nonce` is refused.
async fn id_tokens_follow_openid_connect(h: Harness) {
    let s = setup(h).await;
    let answer = code_flow(
        &s,
        USER,
        &[("scope", "openid profile offline_access"), ("nonce", "n-0S6_WzA2Mj")],
    )
    .await;
    let id_token = answer["id_token"].as_str().expect("an ID token");
    let access = answer["access_token"].as_str().unwrap();
    let mut parts = id_token.split('.');
    let (h64, c64, sig64) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h64).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c64).unwrap()).unwrap();
    // Signed by a key of the JWKS (ES256 by default).
    let jwks = s.h.server.keys().jwks().await.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the kid is in the JWKS");
    let mut point = vec![4u8];
    point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, point);
    key.verify(
        format!("{h64}.{c64}").as_bytes(),
        &URL_SAFE_NO_PAD.decode(sig64).unwrap(),
    )
    .expect("the ID token's signature verifies");
    assert_eq!(header["alg"], "ES256");
    assert_eq!(claims["iss"], s.h.server.settings().issuer.as_str());
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["aud"], s.public.as_str());
    assert_eq!(claims["azp"], s.public.as_str());
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    assert!(claims["exp"].as_i64().unwrap() > claims["iat"].as_i64().unwrap());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access.as_bytes());
    assert_eq!(
        claims["at_hash"],
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16]),
        "at_hash (Core §3.1.3.6)"
    );

    // UserInfo: the same user, for a token with openid, in the header or the body.
    let info = send(
        &s.app,
        Request::get("/oauth2/userinfo")
            .header(header::AUTHORIZATION, format!("Bearer {access}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    assert_eq!(serde_json::from_str::<Value>(&info.body).unwrap()["sub"], USER);
    let posted = send(
        &s.app,
        Request::post("/oauth2/userinfo")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(query(&[("access_token", access)])))
            .unwrap(),
    )
    .await;
    assert_eq!(posted.status, StatusCode::OK, "{}", posted.body);
    let none = send(&s.app, Request::get("/oauth2/userinfo").body(Body::empty()).unwrap()).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);

    // A refresh brings a new ID token, without the nonce.
    let (st, refreshed) = refresh_public(&s, answer["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{refreshed}");
    let again: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(
                refreshed["id_token"]
                    .as_str()
                    .expect("a new ID token")
                    .split('.')
                    .nth(1)
                    .unwrap(),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(again["sub"], USER);
    assert!(again.get("nonce").is_none());

    // Without openid: no ID token, and UserInfo refuses the token.
    let answer = code_flow(&s, USER, &[("scope", "profile")]).await;
    assert!(answer.get("id_token").is_none(), "{answer}");
    let info = send(
        &s.app,
        Request::get("/oauth2/userinfo")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", answer["access_token"].as_str().unwrap()),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(info.status, StatusCode::FORBIDDEN, "{}", info.body);

    // A nonce that is not printable is refused at the authorization endpoint.
    let (_, challenge) = pkce();
    let bad = [
        ("client_id", s.public.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "openid"),
        ("nonce", "bad\u{7}nonce"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = send(
        &s.app,
        Request::get(format!("/oauth2/authorize?{}", query(&bad)))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(
        page.status.is_redirection() || page.status == StatusCode::BAD_REQUEST,
        "{}",
        page.status
    );
    if let Some(l) = &page.location {
        assert_eq!(param(l, "error").as_deref(), Some("invalid_request"));
    }
}

/// OpenID Connect Core §3.1.2.1 on a server without login sessions: `prompt=none` is `login_required` (with the
/// state), unknown or combined prompt values and a malformed `max_age` are `invalid_request`, `prompt=login`,
/// `max_age=0` and `login_hint` show the login page (the hint filled in, escaped).
async fn prompt_max_age_and_login_hint(h: Harness) {
    let s = setup(h).await;
    let (_, challenge) = pkce();
    let base = [
        ("client_id", s.public.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, &str)> = base.to_vec();
        p.extend_from_slice(extra);
        query(&p)
    };
    let get = |q: String| {
        let app = s.app.clone();
        async move {
            send(
                &app,
                Request::get(format!("/oauth2/authorize?{q}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
        }
    };
    for (extra, error) in [
        (&[("prompt", "none")][..], "login_required"),
        (&[("prompt", "none login")][..], "invalid_request"),
        (&[("prompt", "sometimes")][..], "invalid_request"),
        (&[("max_age", "-1")][..], "invalid_request"),
        (&[("max_age", "ten")][..], "invalid_request"),
    ] {
        let r = get(with(extra)).await;
        let location = r
            .location
            .clone()
            .unwrap_or_else(|| panic!("{extra:?}: {} {}", r.status, r.body));
        assert_eq!(param(&location, "error").as_deref(), Some(error), "{extra:?}");
        assert_eq!(param(&location, "state").as_deref(), Some("st-1"), "{extra:?}");
    }
    for extra in [&[("prompt", "login consent")][..], &[("max_age", "0")][..]] {
        let r = get(with(extra)).await;
        assert_eq!(r.status, StatusCode::OK, "{extra:?}: {}", r.body);
    }
    let r = get(with(&[("login_hint", "bob\"><script>")])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("value=\"bob&quot;&gt;&lt;script&gt;\""), "{}", r.body);
    // The whole flow with max_age=0: the ID token carries auth_time.
    let answer = code_flow(&s, USER, &[("scope", "openid"), ("state", "st-2"), ("max_age", "0")]).await;
    let claims = id_claims(&answer);
    assert!(claims["auth_time"].is_i64(), "{claims}");
}

/// Profile and e-mail claims (OpenID Connect Core §5.4): `name` with scope `profile`, `email` and
/// `email_verified` with scope `email`, in the ID token and from UserInfo; nothing the scopes do not allow.
async fn claims_follow_the_granted_scopes(h: Harness) {
    let s = setup(h).await;
    let carol = keymanager::NewUser {
        username: "carol".into(),
        password: PASSWORD.into(),
        roles: vec![],
        profile: keymanager::UserProfile {
            name: Some("Carol Example".into()),
            email: Some("carol@example.com".into()),
            email_verified: true,
        },
    };
    keymanager::UserDirectory::add_user(s.h.server.as_ref(), &carol)
        .await
        .unwrap();
    let bad = keymanager::NewUser {
        username: "dave".into(),
        profile: keymanager::UserProfile {
            email: Some("not an address".into()),
            ..Default::default()
        },
        ..carol.clone()
    };
    assert!(keymanager::UserDirectory::add_user(s.h.server.as_ref(), &bad)
        .await
        .is_err());
    for (scope, name, email) in [
        ("openid profile email", true, true),
        ("openid profile", true, false),
        ("openid email", false, true),
        ("openid", false, false),
    ] {
        let answer = code_flow(&s, "carol", &[("scope", scope)]).await;
        let claims = id_claims(&answer);
        let info = send(
            &s.app,
            Request::get("/oauth2/userinfo")
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", answer["access_token"].as_str().unwrap()),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let info: Value = serde_json::from_str(&info.body).unwrap();
        for seen in [&claims, &info] {
            assert_eq!(seen["sub"], "carol");
            assert_eq!(seen.get("name").is_some(), name, "{scope}: {seen}");
            assert_eq!(seen.get("email").is_some(), email, "{scope}: {seen}");
            if name {
                assert_eq!(seen["name"], "Carol Example");
            }
            if email {
                assert_eq!(
                    (&seen["email"], &seen["email_verified"]),
                    (&Value::from("carol@example.com"), &Value::from(true))
                );
            }
        }
    }
}

/// A user's new password or changed roles end what it was granted before (its refresh tokens, and by rule the access
/// tokens of its grants); a change of its claims alone does not; deleting the user ends it all too.
async fn changing_or_deleting_a_user_ends_what_it_was_granted(h: Harness) {
    use keymanager::{UserChange, UserDirectory, UserProfile};
    let s = setup(h).await;
    let (id, secret) = (s.web.0.clone(), s.web.1.clone());
    let password_grant = |password: &'static str| {
        let (id, secret, s) = (id.clone(), secret.clone(), &s);
        async move {
            let (st, body) = token(
                s,
                Some((&id, &secret)),
                &[
                    ("grant_type", "password"),
                    ("username", USER),
                    ("password", password),
                    ("scope", "profile"),
                ],
            )
            .await;
            (st, body)
        }
    };
    let refresh = |r: String| {
        let (id, secret, s) = (id.clone(), secret.clone(), &s);
        async move {
            token(
                s,
                Some((&id, &secret)),
                &[("grant_type", "refresh_token"), ("refresh_token", &r)],
            )
            .await
        }
    };
    let pair = |body: &Value| {
        (
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().expect("a refresh token").to_owned(),
        )
    };
    let users = s.h.server.as_ref();
    // Its claims alone: what it holds stays.
    let (st, body) = password_grant(PASSWORD).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (a1, r1) = pair(&body);
    let claims = UserChange {
        profile: Some(UserProfile {
            name: Some("Alice Example".into()),
            ..UserProfile::default()
        }),
        ..UserChange::default()
    };
    let changed = users.update_user(USER, &claims).await.unwrap();
    assert_eq!(changed.profile.name.as_deref(), Some("Alice Example"));
    assert!(active(&s, &a1).await);
    let (st, body) = refresh(r1).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (a2, r2) = pair(&body);
    // Changed roles: the refresh token is refused, the access token no longer active.
    let roles = UserChange {
        roles: Some(vec!["auditor".into()]),
        ..UserChange::default()
    };
    assert_eq!(users.update_user(USER, &roles).await.unwrap().roles, ["auditor"]);
    let (st, body) = refresh(r2).await;
    assert_eq!(
        (st, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert!(!active(&s, &a2).await, "the access token of the grant is revoked");
    // The same roles again change nothing.
    let (_, body) = password_grant(PASSWORD).await;
    let (a3, _) = pair(&body);
    users.update_user(USER, &roles).await.unwrap();
    assert!(active(&s, &a3).await);
    // A new password: the old one no longer signs in, and what was granted before ends.
    let new_password = UserChange {
        password: Some("another horse battery".into()),
        ..UserChange::default()
    };
    users.update_user(USER, &new_password).await.unwrap();
    assert!(!active(&s, &a3).await);
    let (st, _) = password_grant(PASSWORD).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, body) = password_grant("another horse battery").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (a4, r4) = pair(&body);
    // Refused by name before anything changes.
    let short = UserChange {
        password: Some("short".into()),
        roles: Some(vec!["admin".into()]),
        ..UserChange::default()
    };
    let e = users.update_user(USER, &short).await.unwrap_err();
    assert!(matches!(&e, keymanager::Error::InvalidRequest { .. }), "{e:?}");
    assert!(active(&s, &a4).await, "a refused change ends nothing");
    // Deleted: everything it holds ends.
    users.delete_user(USER).await.unwrap();
    assert!(!active(&s, &a4).await);
    let (st, _) = refresh(r4).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(matches!(
        users.update_user(USER, &claims).await.unwrap_err(),
        keymanager::Error::NotFound { .. }
    ));
}

/// A public client's refresh token is bound to the DPoP key it proved (RFC 9449 §5): a refresh needs a proof of the
/// same key; none, or another key's, is `invalid_dpop_proof` and leaves the token usable.
async fn a_public_clients_refresh_token_is_bound_to_its_dpop_key(h: Harness) {
    use keymanager::validation::dpop::ProofKey;
    let s = setup(h).await;
    let endpoint = "http://127.0.0.1:9443/oauth2/token";
    let key = ProofKey::es256().unwrap();
    let thief = ProofKey::es256().unwrap();
    let post = |form: Vec<(&str, String)>, proof: Option<String>| {
        let mut req = Request::post("/oauth2/token").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(p) = proof {
            req = req.header("dpop", p);
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        send(&s.app, req.body(Body::from(query(&form))).unwrap())
    };
    let (verifier, challenge) = pkce();
    let params = [
        ("client_id", s.public.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("scope", "openid offline_access"),
        ("state", "st"),
    ];
    let r = login(&s, &params, USER, PASSWORD).await;
    let code = param(r.location.as_ref().unwrap(), "code").unwrap();
    let r = post(
        vec![
            ("grant_type", "authorization_code".into()),
            ("client_id", s.public.clone()),
            ("code", code),
            ("redirect_uri", CB.into()),
            ("code_verifier", verifier),
        ],
        Some(key.proof("POST", endpoint, keymanager::model::now(), None)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let answer: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(answer["token_type"], "DPoP");
    let refresh_token = answer["refresh_token"]
        .as_str()
        .expect("a bound refresh token")
        .to_owned();
    let refresh = |proof: Option<String>| {
        post(
            vec![
                ("grant_type", "refresh_token".into()),
                ("client_id", s.public.clone()),
                ("refresh_token", refresh_token.clone()),
            ],
            proof,
        )
    };
    for (why, proof) in [
        ("no proof", None),
        (
            "another key",
            Some(thief.proof("POST", endpoint, keymanager::model::now(), None)),
        ),
    ] {
        let r = refresh(proof).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{why}: {}", r.body);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["error"], "invalid_dpop_proof", "{why}: {body}");
    }
    let r = refresh(Some(key.proof("POST", endpoint, keymanager::model::now(), None))).await;
    assert_eq!(r.status, StatusCode::OK, "the same key, after the refusals: {}", r.body);
    let again: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(again["token_type"], "DPoP");
    assert!(again["refresh_token"].is_string(), "rotated, still bound");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(again["access_token"].as_str().unwrap().split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
}

on_both_backends!(
    a_public_clients_refresh_token_is_bound_to_its_dpop_key,
    changing_or_deleting_a_user_ends_what_it_was_granted,
    id_tokens_follow_openid_connect,
    claims_follow_the_granted_scopes,
    prompt_max_age_and_login_hint,
    pkce_rules,
    a_refused_refresh_leaves_the_token_usable,
    redirect_uri_at_the_exchange_only_when_the_request_had_one,
    bad_clients_and_redirect_uris_are_shown_not_redirected,
    code_replay_revokes_and_codes_are_bound_to_their_client,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    the_password_grant_is_off_unless_the_client_enables_it,
);

/// Users declared in the configuration are created at start, and a changed password replaces the stored one.
#[tokio::test]
async fn configured_users_are_created_and_kept_in_step() {
    let (url, _dir) = common::sqlite_url().await;
    let open_with = |password: &'static str, email: Option<&'static str>| {
        let url = url.clone();
        async move {
            let settings = keymanager_resident::ResidentSettings {
                users: vec![("dave".into(), Token::new(password))],
                user_profiles: email
                    .map(|e| {
                        let profile = keymanager::UserProfile {
                            name: Some("Dave".into()),
                            email: Some(e.into()),
                            email_verified: true,
                        };
                        [("dave".to_owned(), profile)].into_iter().collect()
                    })
                    .unwrap_or_default(),
                ..common::settings()
            };
            let store = keymanager_resident::Store::connect(&url, None).await.unwrap();
            keymanager_resident::ResidentServer::open(settings, store)
                .await
                .unwrap()
        }
    };
    let open = |password: &'static str| open_with(password, None);
    let server = open("first password").await;
    assert!(server
        .authenticate_user("dave", "first password", None)
        .await
        .unwrap()
        .is_some());
    let subject = server
        .authenticate_user("dave", "first password", None)
        .await
        .unwrap()
        .unwrap()
        .subject;
    let server = open("second password").await;
    assert!(server
        .authenticate_user("dave", "first password", None)
        .await
        .unwrap()
        .is_none());
    let again = server
        .authenticate_user("dave", "second password", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.subject, subject, "the same user, with a new password");
    // Configured claims are applied, and replaced when the configuration changes; without any, the stored ones stay.
    let email = |server: std::sync::Arc<keymanager_resident::ResidentServer>| async move {
        let claims = server.user_claims("dave", &["email".into()]).await.unwrap();
        claims.get("email").and_then(Value::as_str).map(str::to_owned)
    };
    let server = open_with("second password", Some("dave@example.com")).await;
    assert_eq!(email(server).await.as_deref(), Some("dave@example.com"));
    let server = open_with("second password", Some("dave@example.org")).await;
    assert_eq!(email(server).await.as_deref(), Some("dave@example.org"));
    let server = open("second password").await;
    assert_eq!(email(server).await.as_deref(), Some("dave@example.org"));
}

/// A password-grant request as if from `address`.
async fn password_from(s: &Setup, address: &str, user: &str, password: &str) -> (StatusCode, Option<String>, Value) {
    let (id, secret) = &s.web;
    let mut req = Request::post("/oauth2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        )
        .body(Body::from(query(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
        ])))
        .unwrap();
    let peer: std::net::SocketAddr = format!("{address}:40000").parse().unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
    let resp = s.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let retry = resp
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    (status, retry, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Review finding 3: repeated failures lock out the user name (even for the right password, and for names that do
/// not exist), then the client address across names; the login page does the same; a lockout is answered before
/// any password is checked, with `Retry-After`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_out_the_name_and_the_address() {
    let (url, dir) = common::sqlite_url().await;
    let settings = keymanager_resident::ResidentSettings {
        brute_force: keymanager_resident::BruteForceSettings {
            failures_per_user: 3,
            failures_per_address: 5,
            lockout_seconds: 60,
            max_lockout_seconds: 600,
        },
        ..common::settings()
    };
    let s = setup(common::harness_on(url, Some(dir), settings).await).await;
    let from = "192.0.2.7";
    for _ in 0..3 {
        let (st, _, body) = password_from(&s, from, USER, "wrong").await;
        assert_eq!(
            (st, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
    // Locked: the right password is refused too, with the time left.
    let (st, retry, body) = password_from(&s, from, USER, PASSWORD).await;
    assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    // From another address the name is locked all the same; another name is not.
    assert_eq!(
        password_from(&s, "198.51.100.1", USER, PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        password_from(&s, "198.51.100.1", "nobody", "x").await.0,
        StatusCode::BAD_REQUEST
    );
    // Two more failures from the first address, on other names, lock the address out for every name.
    password_from(&s, from, "nobody", "x").await;
    let (st, _, _) = password_from(&s, from, "someone", "x").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        password_from(&s, from, "ghost", "x").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The login page counts the same failures: the locked name is told to wait, on the page.
    let p = [
        ("client_id", s.web.0.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("state", "s"),
        ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
        ("code_challenge_method", "S256"),
    ];
    let r = login(&s, &p, USER, PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("Too many failed sign-ins"), "{}", r.body);
}
