//! The tower layer and axum extractor in front of a route, with tokens of the resident key manager.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use keymanager::gateway::{Authenticated, BearerAuthLayer};
use keymanager::model::*;
use keymanager::registry::KeyManagers;
use keymanager::validation::{TokenValidator, ValidatorSettings};
use keymanager::KeyManager;
use keymanager_resident::{ResidentKeyManager, ResidentServer, ResidentSettings, Store};
use tower::ServiceExt;

async fn orders(Authenticated(p): Authenticated) -> String {
    format!("orders for {}", p.client_id.as_deref().unwrap_or("?"))
}

#[tokio::test]
async fn the_layer_admits_valid_tokens_and_answers_rfc6750_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("km.db").display()), None)
        .await
        .unwrap();
    let km = ResidentKeyManager::new(
        "Resident Key Manager",
        ResidentServer::open(ResidentSettings::default(), store).await.unwrap(),
    );
    let client = km
        .register_client(&ClientSpec::new("shop", KeyType::Production).with_scopes(["orders:read", "profile"]))
        .await
        .unwrap();
    let secret = client.client_secret.clone().unwrap();
    let token = |scopes: &[&str]| {
        let req = TokenRequest::client_credentials(client.client_id.clone(), secret.clone())
            .with_scopes(scopes.iter().copied());
        let km = km.clone();
        async move {
            km.issue_token(&req)
                .await
                .unwrap()
                .access_token
                .expose_secret()
                .to_owned()
        }
    };
    let mut kms = KeyManagers::default();
    kms.insert(Arc::new(km.clone()), &keymanager_resident::ResidentFactory)
        .unwrap();
    let validator = Arc::new(TokenValidator::new(&kms, ValidatorSettings::default()).unwrap());
    let app = Router::new()
        .route("/orders", get(orders))
        .layer(BearerAuthLayer::new(validator.clone()).require_scopes(["orders:read"]));
    let call = |auth: Option<String>| {
        let app = app.clone();
        async move {
            let mut req = Request::get("/orders");
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            let resp = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            let challenge = resp
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
            (status, challenge, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let good = token(&["orders:read"]).await;
    let (s, _, body) = call(Some(format!("Bearer {good}"))).await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::OK, format!("orders for {}", client.client_id).as_str())
    );
    let (s, challenge, _) = call(None).await;
    assert_eq!(
        (s, challenge.as_str()),
        (StatusCode::UNAUTHORIZED, "Bearer realm=\"keymanager\"")
    );
    let (s, challenge, _) = call(Some("Bearer not-a-jwt.x.y".into())).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.starts_with("Bearer realm=\"keymanager\", error=\"invalid_token\""),
        "{challenge}"
    );
    let narrow = token(&["profile"]).await;
    let (s, challenge, _) = call(Some(format!("Bearer {narrow}"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        challenge,
        "Bearer realm=\"keymanager\", error=\"insufficient_scope\", scope=\"orders:read\""
    );
    // Revoked through the key manager: refused after the next poll of its revocation record.
    km.revoke_token(&RevocationRequest {
        token: Token::new(good.clone()),
        token_type_hint: None,
        client_id: client.client_id.clone(),
        client_secret: Some(secret.clone()),
    })
    .await
    .unwrap();
    validator.poll_revocations().await;
    let (s, challenge, _) = call(Some(format!("Bearer {good}"))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("revoked"), "{challenge}");
}
