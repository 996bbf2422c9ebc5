//! The browser and token-endpoint steps of the user-grant tests: a server with a public and a confidential client,
//! the login form posted as a browser would, token requests, and the code flow with PKCE.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use keymanager::model::*;
use keymanager::KeyManager;
use keymanager_resident::{router, AdminToken};
use serde_json::Value;
use tower::ServiceExt;

use super::Harness;

pub const CB: &str = "https://app.example/cb";
pub const USER: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Reply {
    pub status: StatusCode,
    pub location: Option<url::Url>,
    pub cookie: Option<String>,
    pub body: String,
}

pub async fn send(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let location = resp
        .headers()
        .get(header::LOCATION)
        .map(|v| url::Url::parse(v.to_str().unwrap()).unwrap());
    let cookie = resp
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    Reply {
        status,
        location,
        cookie,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub fn query(params: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 32]) + "extra-verifier-chars";
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    (verifier, challenge)
}

pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub struct Setup {
    pub h: Harness,
    pub app: Router,
    pub public: String,
    pub web: (String, String),
}

pub async fn setup(h: Harness) -> Setup {
    h.server.add_user(USER, PASSWORD).await.unwrap();
    let public =
        h.km.register_client(
            &ClientSpec::new("spa", KeyType::Sandbox)
                .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
                .with_redirect_uris([CB].map(|u| u.parse().unwrap()))
                .with_scopes(["openid", "profile", "email", "offline_access"])
                .public(),
        )
        .await
        .unwrap();
    let web =
        h.km.register_client(
            &ClientSpec::new("web", KeyType::Production)
                .with_grant_types([
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::Password,
                ])
                .with_redirect_uris([CB, "https://app.example/other"].map(|u| u.parse().unwrap()))
                .with_scopes(["profile"]),
        )
        .await
        .unwrap();
    let app = router(h.server.clone(), AdminToken::new("admin-token-for-tests-0123456789"));
    Setup {
        h,
        app,
        public: public.client_id.to_string(),
        web: (
            web.client_id.to_string(),
            web.client_secret.unwrap().expose_secret().to_owned(),
        ),
    }
}

/// Open the page, then post the login form as a browser would; returns the answer to the POST.
pub async fn login(s: &Setup, params: &[(&str, &str)], user: &str, password: &str) -> Reply {
    let page = send(
        &s.app,
        Request::get(format!("/oauth2/authorize?{}", query(params)))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let cookie = page.cookie.expect("the page sets the CSRF cookie");
    let csrf = cookie.split_once('=').unwrap().1.to_owned();
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.extend([
        ("csrf", csrf.as_str()),
        ("username", user),
        ("password", password),
        ("decision", "approve"),
    ]);
    send(
        &s.app,
        Request::post("/oauth2/authorize")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(query(&form)))
            .unwrap(),
    )
    .await
}

pub async fn token(s: &Setup, auth: Option<(&str, &str)>, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut req = Request::post("/oauth2/token").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some((id, secret)) = auth {
        req = req.header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    let r = send(&s.app, req.body(Body::from(query(form))).unwrap()).await;
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

pub async fn active(s: &Setup, access: &str) -> bool {
    s.h.km.introspect(&Token::new(access), None).await.unwrap().active
}

/// Sign `user` in through the public client (PKCE S256, state `st`, plus `extra` parameters such as `scope`) and
/// exchange the code: the token endpoint's answer.
pub async fn code_flow(s: &Setup, user: &str, extra: &[(&str, &str)]) -> Value {
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("client_id", s.public.as_str()),
        ("redirect_uri", CB),
        ("response_type", "code"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if !extra.iter().any(|(k, _)| *k == "state") {
        params.push(("state", "st"));
    }
    params.extend_from_slice(extra);
    let r = login(s, &params, user, PASSWORD).await;
    let location = r
        .location
        .clone()
        .unwrap_or_else(|| panic!("no redirect: {} {}", r.status, r.body));
    exchange(s, &location, &verifier).await
}

/// Exchange the code of an authorization response (at `location`) as the public client; the answer must be a token.
pub async fn exchange(s: &Setup, location: &url::Url, verifier: &str) -> Value {
    let code = param(location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    let (st, answer) = token(
        s,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", s.public.as_str()),
            ("code", code.as_str()),
            ("redirect_uri", CB),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{answer}");
    answer
}

/// Refresh as the public client.
pub async fn refresh_public(s: &Setup, refresh_token: &str) -> (StatusCode, Value) {
    token(
        s,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", s.public.as_str()),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// The claims of the ID token in a token answer (decoded; the signature is checked where it matters).
pub fn id_claims(answer: &Value) -> Value {
    let id_token = answer["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no ID token in {answer}"));
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}
