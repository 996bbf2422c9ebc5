//! A gateway protecting an upstream route with keymanager's validation, on the resident key manager in-process.
//!
//! `cargo run --example gateway --features gateway` starts the gateway on a free loopback port, gets a token,
//! calls the protected route with and without it, and exits.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use keymanager::gateway_kit::gateway::{Authenticated, BearerAuthLayer};
use keymanager::gateway_kit::model::{ClientSpec, KeyType, TokenRequest};
use keymanager::gateway_kit::KeyManager;
use keymanager::gateway_kit::KeyManagers;
use keymanager::gateway_kit::{TokenValidator, ValidatorSettings};
use keymanager_resident::{ResidentKeyManager, ResidentServer, ResidentSettings, Store};

/// The upstream route: it only runs for requests with a valid token carrying `orders:read`.
async fn orders(Authenticated(principal): Authenticated) -> String {
    format!(
        "orders for client {} (scopes: {})\n",
        principal.client_id.as_deref().unwrap_or("?"),
        principal.scopes.join(" ")
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!("sqlite://{}", dir.path().join("km.db").display()), None).await?;
    let resident = ResidentKeyManager::new(
        "Resident Key Manager",
        ResidentServer::open(ResidentSettings::default(), store).await?,
    );

    // The validator sees every configured key manager; here just the resident one.
    let mut key_managers = KeyManagers::default();
    key_managers.insert(Arc::new(resident.clone()), &keymanager_resident::ResidentFactory)?;
    let validator = Arc::new(TokenValidator::new(&key_managers, ValidatorSettings::default())?);
    validator.spawn_revocation_poller();

    let app = Router::new()
        .route("/orders", get(orders))
        .layer(BearerAuthLayer::new(validator).require_scopes(["orders:read"]));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/orders", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!("gateway listening: {url}");

    // An application's client and a token for it.
    let client = resident
        .register_client(&ClientSpec::new("shop", KeyType::Production).with_scopes(["orders:read"]))
        .await?;
    let secret = client.client_secret.clone().ok_or("no secret")?;
    let token = resident
        .issue_token(&TokenRequest::client_credentials(client.client_id.clone(), secret).with_scopes(["orders:read"]))
        .await?;

    let http = reqwest::Client::new();
    let without = http.get(&url).send().await?;
    println!(
        "without a token: {} {:?}",
        without.status(),
        without.headers().get("www-authenticate")
    );
    let with = http
        .get(&url)
        .bearer_auth(token.access_token.expose_secret())
        .send()
        .await?;
    println!("with a token:    {} {}", with.status(), with.text().await?.trim());
    Ok(())
}
