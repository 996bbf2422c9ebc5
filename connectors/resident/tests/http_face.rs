//! The resident server's HTTP face (RFC 6749, 7009, 7591, 7592, 7662, 8414), on both store backends.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::Harness;
use keymanager::model::*;
use keymanager::KeyManager;
use keymanager_resident::{router, AdminToken};
use serde_json::{json, Value};
use tower::ServiceExt;

const ADMIN: &str = "admin-token-for-tests-0123456789";

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    json: Value,
}

async fn call(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Reply { status, headers, json }
}

fn form(path: &str, auth: Option<String>, body: &str) -> Request<Body> {
    let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

fn basic(id: &str, secret: &str) -> Option<String> {
    Some(format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))))
}

fn json_req(method: &str, path: &str, bearer: Option<&str>, body: Value) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = bearer {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::from(body.to_string())).unwrap()
}

/// Seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A JWT's claims (the signature is not looked at).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// An OAuth refusal: this status and this `error`.
#[track_caller]
fn refused(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!((r.status, r.json["error"].as_str()), (status, Some(code)), "{}", r.json);
}

fn app(h: &Harness) -> Router {
    router(h.server.clone(), AdminToken::new(ADMIN))
}

async fn client(h: &Harness) -> (String, String) {
    let c =
        h.km.register_client(&ClientSpec::new("svc", KeyType::Production).with_scopes(["orders:read"]))
            .await
            .unwrap();
    (
        c.client_id.to_string(),
        c.client_secret.unwrap().expose_secret().to_owned(),
    )
}

async fn discovery_and_jwks(h: Harness) {
    let app = app(&h);
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let r = call(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json["issuer"], "http://127.0.0.1:9443");
        assert_eq!(r.json["token_endpoint"], "http://127.0.0.1:9443/oauth2/token");
        assert_eq!(r.json["jwks_uri"], "http://127.0.0.1:9443/oauth2/jwks");
        assert_eq!(r.json["registration_endpoint"], "http://127.0.0.1:9443/oauth2/register");
    }
    let r = call(&app, Request::get("/oauth2/jwks").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, 200);
    let key = &r.json["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("EC"), Some("P-256"), Some("ES256"))
    );
}

async fn client_credentials_with_each_auth_method(h: Harness) {
    let app = app(&h);
    let (id, secret) = client(&h).await;
    let by_basic = call(
        &app,
        form(
            "/oauth2/token",
            basic(&id, &secret),
            "grant_type=client_credentials&scope=orders%3Aread",
        ),
    )
    .await;
    assert_eq!(by_basic.status, 200, "{}", by_basic.json);
    assert_eq!(by_basic.json["token_type"], "Bearer");
    assert_eq!(by_basic.json["scope"], "orders:read");
    assert_eq!(by_basic.json["expires_in"], 3600);
    assert_eq!(by_basic.headers[header::CACHE_CONTROL], "no-store");
    let by_post = call(
        &app,
        form(
            "/oauth2/token",
            None,
            &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
        ),
    )
    .await;
    assert_eq!(by_post.status, 200, "{}", by_post.json);
    let both = call(
        &app,
        form(
            "/oauth2/token",
            basic(&id, &secret),
            &format!("grant_type=client_credentials&client_secret={secret}"),
        ),
    )
    .await;
    refused(&both, StatusCode::BAD_REQUEST, "invalid_request");
    let unsupported = call(
        &app,
        form("/oauth2/token", basic(&id, &secret), "grant_type=urn:example:nope"),
    )
    .await;
    assert_eq!(unsupported.json["error"], "unsupported_grant_type");
    let missing = call(&app, form("/oauth2/token", basic(&id, &secret), "scope=x")).await;
    assert_eq!(missing.json["error"], "invalid_request");
    let bad_scope = call(
        &app,
        form(
            "/oauth2/token",
            basic(&id, &secret),
            "grant_type=client_credentials&scope=admin",
        ),
    )
    .await;
    refused(&bad_scope, StatusCode::BAD_REQUEST, "invalid_scope");
    let json_body = call(
        &app,
        Request::post("/oauth2/token")
            .header(header::AUTHORIZATION, basic(&id, &secret).unwrap())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(json_body.json["error"], "invalid_request");
}

async fn wrong_expired_and_deleted_secrets_are_invalid_client(h: Harness) {
    let app = app(&h);
    let (id, secret) = client(&h).await;
    let check = |r: Reply| {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.json["error"], "invalid_client");
        let challenge = r.headers[header::WWW_AUTHENTICATE].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Basic"), "{challenge}");
    };
    check(
        call(
            &app,
            form("/oauth2/token", basic(&id, "wrong"), "grant_type=client_credentials"),
        )
        .await,
    );
    check(
        call(
            &app,
            form(
                "/oauth2/token",
                basic("no-such-client", &secret),
                "grant_type=client_credentials",
            ),
        )
        .await,
    );
    check(call(&app, form("/oauth2/token", None, "grant_type=client_credentials")).await);
    // An expired secret.
    let cid: ClientId = id.clone().into();
    let expiring =
        h.km.create_secret(
            &cid,
            &SecretSpec {
                description: None,
                expires_in: Some(2),
            },
        )
        .await
        .unwrap();
    let ok = call(
        &app,
        form(
            "/oauth2/token",
            basic(&id, expiring.secret.expose_secret()),
            "grant_type=client_credentials",
        ),
    )
    .await;
    assert_eq!(ok.status, 200);
    h.clock.advance(std::time::Duration::from_secs(3));
    check(
        call(
            &app,
            form(
                "/oauth2/token",
                basic(&id, expiring.secret.expose_secret()),
                "grant_type=client_credentials",
            ),
        )
        .await,
    );
    // A deleted secret.
    let first =
        h.km.list_secrets(&cid)
            .await
            .unwrap()
            .into_iter()
            .find(|s| s.masked.starts_with(&secret[..4]))
            .unwrap();
    h.km.delete_secret(&cid, &first.id, false).await.unwrap();
    check(
        call(
            &app,
            form("/oauth2/token", basic(&id, &secret), "grant_type=client_credentials"),
        )
        .await,
    );
}

async fn introspection_and_revocation(h: Harness) {
    let app = app(&h);
    let (id, secret) = client(&h).await;
    let (other, other_secret) = client(&h).await;
    let token = call(
        &app,
        form("/oauth2/token", basic(&id, &secret), "grant_type=client_credentials"),
    )
    .await
    .json["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = format!("token={token}&token_type_hint=access_token");
    // Its own client sees it active, with RFC 7662 fields.
    let own = call(&app, form("/oauth2/introspect", basic(&id, &secret), &body)).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.json["active"], true);
    assert_eq!(own.json["client_id"], id.as_str());
    assert_eq!(own.json["token_type"], "Bearer");
    assert!(own.json.get("secret_id").is_none());
    // Another client learns nothing.
    let foreign = call(&app, form("/oauth2/introspect", basic(&other, &other_secret), &body)).await;
    assert_eq!(foreign.json, json!({"active": false}));
    // The admin token sees every token; no credentials or a wrong bearer are refused.
    let admin = call(&app, form("/oauth2/introspect", Some(format!("Bearer {ADMIN}")), &body)).await;
    assert_eq!(admin.json["active"], true);
    assert_eq!(call(&app, form("/oauth2/introspect", None, &body)).await.status, 401);
    assert_eq!(
        call(&app, form("/oauth2/introspect", Some("Bearer nope".into()), &body))
            .await
            .status,
        401
    );
    // Revocation: another client is refused, its own client succeeds, then it is inactive; unknown tokens are fine.
    let refused = call(&app, form("/oauth2/revoke", basic(&other, &other_secret), &body)).await;
    assert_eq!(refused.status, 400);
    let revoked = call(&app, form("/oauth2/revoke", basic(&id, &secret), &body)).await;
    assert_eq!((revoked.status, &revoked.json), (StatusCode::OK, &Value::Null));
    assert_eq!(
        call(&app, form("/oauth2/introspect", basic(&id, &secret), &body))
            .await
            .json,
        json!({"active": false})
    );
    assert_eq!(
        call(&app, form("/oauth2/revoke", basic(&id, &secret), "token=garbage"))
            .await
            .status,
        200
    );
    assert_eq!(
        call(&app, form("/oauth2/revoke", basic(&id, "bad"), "token=garbage"))
            .await
            .status,
        401
    );
}

async fn dynamic_registration_rfc7591_and_7592(h: Harness) {
    let app = app(&h);
    let metadata = json!({
        "client_name": "partner-app", "grant_types": ["client_credentials"], "scope": "orders:read",
        "token_endpoint_auth_method": "client_secret_basic", "unknown_member": "ignored"
    });
    let none = call(&app, json_req("POST", "/oauth2/register", None, metadata.clone())).await;
    assert_eq!(none.status, 401);
    assert!(none.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let wrong = call(
        &app,
        json_req("POST", "/oauth2/register", Some("wrong"), metadata.clone()),
    )
    .await;
    refused(&wrong, StatusCode::UNAUTHORIZED, "invalid_token");
    let bad = call(
        &app,
        json_req(
            "POST",
            "/oauth2/register",
            Some(ADMIN),
            json!({"grant_types": ["authorization_code"]}),
        ),
    )
    .await;
    refused(&bad, StatusCode::BAD_REQUEST, "invalid_redirect_uri");
    let made = call(
        &app,
        json_req("POST", "/oauth2/register", Some(ADMIN), metadata.clone()),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.json);
    let id = made.json["client_id"].as_str().unwrap().to_owned();
    let secret = made.json["client_secret"].as_str().unwrap().to_owned();
    let rat = made.json["registration_access_token"].as_str().unwrap().to_owned();
    assert_eq!(made.json["client_secret_expires_at"], 0);
    assert_eq!(
        made.json["registration_client_uri"],
        format!("http://127.0.0.1:9443/oauth2/register/{id}")
    );
    // The registered client works at the token endpoint.
    assert_eq!(
        call(
            &app,
            form("/oauth2/token", basic(&id, &secret), "grant_type=client_credentials")
        )
        .await
        .status,
        200
    );
    let path = format!("/oauth2/register/{id}");
    // RFC 7592 with a wrong or missing registration access token: 401, whether or not the client exists.
    for token in [Some("wrong"), None, Some(ADMIN)] {
        let r = call(&app, json_req("GET", &path, token, Value::Null)).await;
        assert_eq!(r.status, 401, "{token:?}");
    }
    assert_eq!(
        call(&app, json_req("GET", "/oauth2/register/nope", Some(&rat), Value::Null))
            .await
            .status,
        401
    );
    let read = call(&app, json_req("GET", &path, Some(&rat), Value::Null)).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json["client_name"], "partner-app");
    assert!(read.json.get("client_secret").is_none());
    let mut changed = metadata.clone();
    changed["client_id"] = json!(id);
    changed["client_name"] = json!("partner-app v2");
    let updated = call(&app, json_req("PUT", &path, Some(&rat), changed.clone())).await;
    assert_eq!(
        (updated.status, updated.json["client_name"].as_str()),
        (StatusCode::OK, Some("partner-app v2"))
    );
    changed["client_id"] = json!("someone-else");
    assert_eq!(
        call(&app, json_req("PUT", &path, Some(&rat), changed)).await.status,
        400
    );
    assert_eq!(
        call(&app, json_req("DELETE", &path, Some("wrong"), Value::Null))
            .await
            .status,
        401
    );
    assert_eq!(
        call(&app, json_req("DELETE", &path, Some(&rat), Value::Null))
            .await
            .status,
        204
    );
    assert_eq!(
        call(&app, json_req("GET", &path, Some(&rat), Value::Null)).await.status,
        401
    );
    assert_eq!(
        call(
            &app,
            form("/oauth2/token", basic(&id, &secret), "grant_type=client_credentials")
        )
        .await
        .status,
        401
    );
}

async fn oversized_bodies_are_refused(h: Harness) {
    let app = app(&h);
    let big = "a".repeat(keymanager_resident_body_limit() + 1);
    let r = call(
        &app,
        form("/oauth2/token", None, &format!("grant_type=client_credentials&x={big}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json["error"], "invalid_request", "RFC 6749 JSON, not plain text");
}

/// Review findings 11 and 16: a parameter sent twice, or sent empty, is `invalid_request` (RFC 6749 §3.1), in JSON
/// on the token endpoint and as the HTML error page on the browser endpoint.
async fn duplicated_oauth_parameters_are_refused(h: Harness) {
    let app = app(&h);
    let (id, secret) = client(&h).await;
    for body in [
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&scope=orders:read&scope=",
        "grant_type=client_credentials&scope=orders:read&scope=orders:read",
        "grant_type=client_credentials&scope=orders:read%20%20orders:read",
    ] {
        let r = call(&app, form("/oauth2/token", basic(&id, &secret), body)).await;
        assert_eq!(r.status, 400, "{body}: {}", r.json);
        assert!(
            matches!(r.json["error"].as_str(), Some("invalid_request" | "invalid_scope")),
            "{body}: {}",
            r.json
        );
    }
    let ok = call(
        &app,
        form(
            "/oauth2/token",
            basic(&id, &secret),
            "grant_type=client_credentials&scope=orders:read",
        ),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    let query = format!(
        "response_type=code&client_id={id}&client_id={id}&state=s&code_challenge=\
         E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    );
    let resp = app
        .clone()
        .oneshot(
            Request::get(format!("/oauth2/authorize?{query}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let ct = resp.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/html"), "{ct}");
    let page = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    assert!(
        String::from_utf8_lossy(&page).contains("client_id"),
        "the page names the parameter"
    );
}

fn keymanager_resident_body_limit() -> usize {
    64 * 1024
}

/// Review finding 1: with only its registration access token a client may narrow its registration, never widen
/// it; each widening is `400 invalid_client_metadata` naming the field, and changes nothing.
async fn a_client_cannot_widen_itself_through_rfc7592(h: Harness) {
    let app = app(&h);
    let metadata = json!({
        "client_name": "partner", "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": ["https://partner.example/cb"], "scope": "orders:read orders:write",
        "access_token_lifetime": 600, "pkce_required": true
    });
    let made = call(
        &app,
        json_req("POST", "/oauth2/register", Some(ADMIN), metadata.clone()),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.json);
    let id = made.json["client_id"].as_str().unwrap().to_owned();
    let rat = made.json["registration_access_token"].as_str().unwrap().to_owned();
    let path = format!("/oauth2/register/{id}");
    let mut base = metadata.clone();
    base["client_id"] = json!(id);
    let widenings = [
        ("scope", json!("orders:read orders:write admin")),
        (
            "grant_types",
            json!(["authorization_code", "refresh_token", "password"]),
        ),
        (
            "redirect_uris",
            json!(["https://partner.example/cb", "https://evil.example/cb"]),
        ),
        ("access_token_lifetime", json!(86_400)),
        ("access_token_lifetime", Value::Null),
        ("pkce_required", json!(false)),
        ("pkce_allow_plain", json!(true)),
        ("token_endpoint_auth_method", json!("none")),
        // Review 2, finding 4: taking the client over with keys of one's own, or sending users anywhere.
        ("token_endpoint_auth_method", json!("private_key_jwt")),
        ("jwks_uri", json!("https://attacker.example/jwks")),
        (
            "jwks",
            json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "use": "sig"}]}),
        ),
        ("post_logout_redirect_uris", json!(["https://attacker.example/"])),
        ("key_type", json!("SANDBOX")),
    ];
    for (field, value) in widenings {
        let mut body = base.clone();
        body[field] = value.clone();
        let r = call(&app, json_req("PUT", &path, Some(&rat), body)).await;
        // RFC 7591 §3.2.2: a redirect URI problem has its own code.
        let code = if field == "redirect_uris" {
            "invalid_redirect_uri"
        } else {
            "invalid_client_metadata"
        };
        refused(&r, StatusCode::BAD_REQUEST, code);
        let described = r.json["error_description"].as_str().unwrap_or_default();
        let named = match field {
            "pkce_required" | "pkce_allow_plain" => "pkce",
            _ => field,
        };
        assert!(described.contains(named), "{field}: {described}");
    }
    let read = call(&app, json_req("GET", &path, Some(&rat), Value::Null)).await;
    assert_eq!(read.json["scope"], "orders:read orders:write", "nothing changed");
    assert_eq!(read.json["token_endpoint_auth_method"], "client_secret_basic");
    assert!(
        read.json.get("jwks_uri").is_none() && read.json.get("jwks").is_none(),
        "{}",
        read.json
    );
    assert_eq!(read.json["access_token_lifetime"], 600);
    // Narrowing is the client's own business.
    let mut narrower = base.clone();
    narrower["scope"] = json!("orders:read");
    narrower["grant_types"] = json!(["authorization_code"]);
    narrower["access_token_lifetime"] = json!(300);
    narrower["redirect_uris"] = json!(["https://partner.example/cb2"]);
    let r = call(&app, json_req("PUT", &path, Some(&rat), narrower)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["scope"], "orders:read");
    // The admin may still widen, through the key manager.
    let widened =
        h.km.update_client(
            &ClientId::new(&id),
            &ClientSpec::new("partner", KeyType::Production)
                .with_grant_types([GrantType::AuthorizationCode])
                .with_redirect_uris(["https://partner.example/cb"].map(|u| u.parse().unwrap()))
                .with_scopes(["orders:read", "admin"]),
        )
        .await
        .unwrap();
    assert!(widened.scopes.contains("admin"));
}

/// DPoP at the token endpoint (RFC 9449 §5): a proof binds the token to its key (`token_type: DPoP`, `cnf.jkt`),
/// introspection says so, a proof is used once and only for this endpoint, a client registered with
/// `dpop_bound_access_tokens` cannot get a token without one, and our own gateway validator then accepts the token
/// only with a proof of that key.
async fn dpop_binds_tokens_to_the_clients_key(h: Harness) {
    use keymanager::validation::dpop::ProofKey;
    use keymanager::validation::{Presented, TokenValidator, ValidationError, ValidatorSettings};
    let app = app(&h);
    let endpoint = "http://127.0.0.1:9443/oauth2/token";
    let r = call(
        &app,
        Request::get("/.well-known/openid-configuration")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.json["dpop_signing_alg_values_supported"],
        json!(["ES256", "RS256", "EdDSA"])
    );
    let (id, secret) = client(&h).await;
    let key = ProofKey::es256().unwrap();
    let with_proof = |proof: &str| {
        let mut req = form("/oauth2/token", basic(&id, &secret), "grant_type=client_credentials");
        req.headers_mut().insert("dpop", proof.parse().unwrap());
        req
    };
    let proof = key.proof("POST", endpoint, now(), None);
    let r = call(&app, with_proof(&proof)).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["token_type"], "DPoP");
    let token = r.json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&token)["cnf"]["jkt"], key.thumbprint());
    // Used once; for this endpoint only.
    let again = call(&app, with_proof(&proof)).await;
    refused(&again, StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    let elsewhere = key.proof("POST", "http://127.0.0.1:9443/oauth2/revoke", now(), None);
    let r = call(&app, with_proof(&elsewhere)).await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    // Used once across nodes: another node on the same store (its own process memory) refuses it too.
    let other_node = router(
        keymanager_resident::ResidentServer::open(
            common::settings(),
            keymanager_resident::Store::connect(&h.url, None).await.unwrap(),
        )
        .await
        .unwrap(),
        AdminToken::new(ADMIN),
    );
    let proof = key.proof("POST", endpoint, now(), None);
    assert_eq!(call(&app, with_proof(&proof)).await.status, 200);
    let r = call(&other_node, with_proof(&proof)).await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    let fresh = key.proof("POST", endpoint, now(), None);
    assert_eq!(
        call(&other_node, with_proof(&fresh)).await.status,
        200,
        "a new proof there"
    );
    // Introspection names the key.
    let r = call(
        &app,
        form("/oauth2/introspect", basic(&id, &secret), &format!("token={token}")),
    )
    .await;
    assert_eq!(
        (r.json["active"].as_bool(), r.json["cnf"]["jkt"].as_str()),
        (Some(true), Some(key.thumbprint().as_str()))
    );
    // Our gateway: only as DPoP with a proof of that key.
    let mut kms = keymanager::registry::KeyManagers::default();
    kms.insert(std::sync::Arc::new(h.km.clone()), &keymanager_resident::ResidentFactory)
        .unwrap();
    let validator = TokenValidator::new(&kms, ValidatorSettings::default()).unwrap();
    let api = "https://api.example/orders";
    let as_bearer = Presented {
        scheme: TokenScheme::Bearer,
        token: &token,
        proof: None,
        method: "GET",
        uri: Some(api),
        client_certificate: None,
    };
    assert_eq!(
        validator.validate_presented(&as_bearer).await.unwrap_err(),
        ValidationError::DpopBound
    );
    let at_api = key.proof("GET", api, now(), Some(&token));
    let as_dpop = Presented {
        scheme: TokenScheme::Dpop,
        proof: Some(&at_api),
        ..as_bearer
    };
    assert!(validator.validate_presented(&as_dpop).await.is_ok());
    // A client that must use DPoP gets nothing without a proof.
    let mut spec = ClientSpec::new("bound", KeyType::Production).with_scopes(["orders:read"]);
    spec.additional_properties
        .insert("dpop_bound_access_tokens".into(), json!(true));
    let bound = h.km.register_client(&spec).await.unwrap();
    let (bid, bsecret) = (
        bound.client_id.to_string(),
        bound.client_secret.unwrap().expose_secret().to_owned(),
    );
    let r = call(
        &app,
        form("/oauth2/token", basic(&bid, &bsecret), "grant_type=client_credentials"),
    )
    .await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    let mut req = form("/oauth2/token", basic(&bid, &bsecret), "grant_type=client_credentials");
    req.headers_mut()
        .insert("dpop", key.proof("POST", endpoint, now(), None).parse().unwrap());
    let r = call(&app, req).await;
    assert_eq!(
        (r.status, r.json["token_type"].as_str()),
        (StatusCode::OK, Some("DPoP")),
        "{}",
        r.json
    );
}

/// Pushed authorization requests (RFC 9126): a client pushes its request (authenticated, checked as the
/// authorization endpoint checks it) and gets a short-lived `request_uri` that only it can use, once; discovery
/// names the endpoint.
async fn pushed_authorization_requests(h: Harness) {
    let app = app(&h);
    let r = call(
        &app,
        Request::get("/.well-known/openid-configuration")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        r.json["pushed_authorization_request_endpoint"],
        "http://127.0.0.1:9443/oauth2/par"
    );
    assert_eq!(r.json["require_pushed_authorization_requests"], false);
    let web =
        h.km.register_client(
            &ClientSpec::new("web", KeyType::Production)
                .with_grant_types([GrantType::AuthorizationCode])
                .with_redirect_uris(["https://web.example/cb"].map(|u| u.parse().unwrap()))
                .with_scopes(["openid"]),
        )
        .await
        .unwrap();
    let (id, secret) = (
        web.client_id.to_string(),
        web.client_secret.unwrap().expose_secret().to_owned(),
    );
    let (other, _) = client(&h).await;
    let push = |body: &str| form("/oauth2/par", basic(&id, &secret), body);
    let good = "response_type=code&redirect_uri=https%3A%2F%2Fweb.example%2Fcb&scope=openid&state=s1\
                &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    let r = call(&app, push(good)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let uri = r.json["request_uri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"), "{uri}");
    assert_eq!(r.json["expires_in"], 300);
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let authorize = |client: &str, request_uri: &str| {
        Request::get(format!(
            "/oauth2/authorize?client_id={}&request_uri={}",
            enc(client),
            enc(request_uri)
        ))
        .body(Body::empty())
        .unwrap()
    };
    let page = app.clone().oneshot(authorize(&id, &uri)).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the pushed request starts the login");
    for (client_id, request_uri, why) in [
        (other.as_str(), uri.as_str(), "another client's request"),
        (
            id.as_str(),
            "urn:ietf:params:oauth:request_uri:made-up",
            "an unknown request",
        ),
        (id.as_str(), "https://evil.example/request", "not ours"),
    ] {
        let r = app.clone().oneshot(authorize(client_id, request_uri)).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{why}");
    }
    // Refused at the push: a request_uri inside, another client's id, a redirect URI not registered, no client.
    for body in [
        format!("{good}&request_uri={}", enc(&uri)),
        format!("{good}&client_id={other}"),
        good.replace("web.example%2Fcb", "evil.example%2Fcb"),
    ] {
        let r = call(&app, push(&body)).await;
        refused(&r, StatusCode::BAD_REQUEST, "invalid_request");
    }
    let r = call(&app, form("/oauth2/par", None, good)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.json);
    // Used up once its authorization is given.
    h.server.use_up_pushed(&uri).await.unwrap();
    let r = app.clone().oneshot(authorize(&id, &uri)).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Bounded: a client holds at most so many live pushed requests.
    for _ in 0..keymanager_resident::MAX_PUSHED_REQUESTS_PER_CLIENT {
        assert_eq!(call(&app, push(good)).await.status, StatusCode::CREATED);
    }
    refused(
        &call(&app, push(good)).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    );
}

/// Token exchange (RFC 8693): a resource server registered for it exchanges a token it received for one with a
/// narrower audience (from its own list) and scope, naming itself as the party acting; the subject stays, the expiry
/// does not grow, and everything outside the policy is refused by name.
async fn token_exchange_narrows_and_names_the_actor(h: Harness) {
    let app = app(&h);
    let r = call(
        &app,
        Request::get("/.well-known/openid-configuration")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(r.json["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("urn:ietf:params:oauth:grant-type:token-exchange")));
    // The caller's token: orders:read and orders:write.
    let caller = h
        .km
        .register_client(&ClientSpec::new("shop", KeyType::Production).with_scopes(["orders:read", "orders:write"]))
        .await
        .unwrap();
    let (cid, csecret) = (
        caller.client_id.to_string(),
        caller.client_secret.unwrap().expose_secret().to_owned(),
    );
    let r = call(
        &app,
        form("/oauth2/token", basic(&cid, &csecret), "grant_type=client_credentials"),
    )
    .await;
    let subject = r.json["access_token"].as_str().unwrap().to_owned();
    // The resource server: may exchange, for one audience, and may hold orders:read only.
    let mut spec = ClientSpec::new("orders-api", KeyType::Production)
        .with_grant_types([GrantType::TokenExchange])
        .with_scopes(["orders:read"]);
    spec.additional_properties
        .insert("token_exchange_audiences".into(), json!(["https://stock.example"]));
    let rs = h.km.register_client(&spec).await.unwrap();
    let (rid, rsecret) = (
        rs.client_id.to_string(),
        rs.client_secret.unwrap().expose_secret().to_owned(),
    );
    let exchange = |extra: &str| {
        form(
            "/oauth2/token",
            basic(&rid, &rsecret),
            &format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token={subject}\
                 &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token{extra}"
            ),
        )
    };
    let r = call(&app, exchange("&audience=https%3A%2F%2Fstock.example")).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(
        r.json["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(r.json["scope"], "orders:read", "narrowed to what both hold");
    let (before, after) = (payload(&subject), payload(r.json["access_token"].as_str().unwrap()));
    assert_eq!(after["sub"], before["sub"], "the subject stays");
    assert_eq!(after["aud"], "https://stock.example");
    assert_eq!(after["act"], json!({"sub": rid}), "the resource server acts");
    assert_eq!(after["client_id"], rid.as_str());
    assert!(
        after["exp"].as_i64() <= before["exp"].as_i64(),
        "no longer than the token exchanged"
    );
    // Refused by name: an audience not listed, a scope the token does not carry, a token not ours or not active,
    // a client not registered for the grant, an unknown token type.
    for (extra, code) in [
        ("&audience=https%3A%2F%2Fevil.example", "invalid_target"),
        ("&scope=admin", "invalid_scope"),
    ] {
        let r = call(&app, exchange(extra)).await;
        refused(&r, StatusCode::BAD_REQUEST, code);
    }
    let r = call(
        &app,
        form(
            "/oauth2/token",
            basic(&rid, &rsecret),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=not-ours\
             &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
        ),
    )
    .await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_grant");
    let r = call(
        &app,
        form(
            "/oauth2/token",
            basic(&cid, &csecret),
            &format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token={subject}\
                 &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"
            ),
        ),
    )
    .await;
    refused(&r, StatusCode::BAD_REQUEST, "unauthorized_client");
    let r = call(&app, exchange("")).await;
    assert_eq!(r.status, 200, "no audience asked: the server's own");
    let r = call(
        &app,
        form(
            "/oauth2/token",
            basic(&rid, &rsecret),
            &format!(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token={subject}\
                 &subject_token_type=urn%3Aexample%3Asaml"
            ),
        ),
    )
    .await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_request");
    // Once the token exchanged is revoked, it is exchanged no more.
    let r = call(
        &app,
        form("/oauth2/revoke", basic(&cid, &csecret), &format!("token={subject}")),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(&app, exchange("")).await;
    refused(&r, StatusCode::BAD_REQUEST, "invalid_grant");
}

on_both_backends!(
    token_exchange_narrows_and_names_the_actor,
    pushed_authorization_requests,
    dpop_binds_tokens_to_the_clients_key,
    a_client_cannot_widen_itself_through_rfc7592,
    discovery_and_jwks,
    client_credentials_with_each_auth_method,
    wrong_expired_and_deleted_secrets_are_invalid_client,
    introspection_and_revocation,
    dynamic_registration_rfc7591_and_7592,
    oversized_bodies_are_refused,
    duplicated_oauth_parameters_are_refused,
);
