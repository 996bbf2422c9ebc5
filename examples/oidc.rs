//! The oidc connector against any issuer: register a client, read it, get a token, introspect it, revoke it, and
//! delete the client.
//!
//! ```text
//! cargo run --example oidc -- ISSUER [INITIAL_ACCESS_TOKEN]
//! ```
//! Introspection credentials come from the environment: `OIDC_INTROSPECTION_CLIENT_ID` and
//! `OIDC_INTROSPECTION_CLIENT_SECRET`, or `OIDC_INTROSPECTION_TOKEN` (a bearer token). Against a running
//! `keymanager serve`, the admin token is both the initial access token and an introspection token:
//! `OIDC_INTROSPECTION_TOKEN=$(cat data/admin-token) cargo run --example oidc -- http://127.0.0.1:9443 $(cat data/admin-token)`

use std::sync::Arc;

use keymanager::gateway_kit::model::{ClientSecret, ClientSpec, KeyType, RevocationRequest, Token, TokenRequest};
use keymanager::gateway_kit::KeyManager;
use keymanager::gateway_kit::{HttpClient, HttpPolicy};
use keymanager_oidc::{MemoryRegistrations, OidcKeyManager, OidcSettings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let issuer = args.next().ok_or("usage: oidc ISSUER [INITIAL_ACCESS_TOKEN]")?;
    let mut settings = OidcSettings::new(issuer);
    settings.initial_access_token = args.next().map(Token::new);
    if let (Ok(id), Ok(secret)) = (
        std::env::var("OIDC_INTROSPECTION_CLIENT_ID"),
        std::env::var("OIDC_INTROSPECTION_CLIENT_SECRET"),
    ) {
        settings.introspection_client = Some((id, ClientSecret::new(secret)));
    }
    settings.introspection_token = std::env::var("OIDC_INTROSPECTION_TOKEN").ok().map(Token::new);

    let http = HttpClient::new(HttpPolicy::default())?;
    let km = OidcKeyManager::connect("oidc", settings, http, Arc::new(MemoryRegistrations::default())).await?;
    println!("capabilities: {:?}", km.capabilities());

    let client = km
        .register_client(&ClientSpec::new("keymanager example", KeyType::Sandbox).with_scopes(["openid"]))
        .await?;
    let secret = client
        .client_secret
        .clone()
        .ok_or("the provider returned no client secret")?;
    println!("registered client {}", client.client_id);
    println!("read back: {}", km.get_client(&client.client_id).await?.name);

    let token = km
        .issue_token(&TokenRequest::client_credentials(
            client.client_id.clone(),
            secret.clone(),
        ))
        .await?;
    println!(
        "token: {} scopes {:?}, expires in {:?}s",
        token.token_type, token.scopes, token.expires_in
    );
    if km.capabilities().introspection {
        println!(
            "introspection: active={}",
            km.introspect(&token.access_token, None).await?.active
        );
    }
    if km.capabilities().revocation {
        km.revoke_token(&RevocationRequest {
            token: token.access_token.clone(),
            token_type_hint: None,
            client_id: client.client_id.clone(),
            client_secret: Some(secret),
        })
        .await?;
        println!("revoked");
    }
    km.delete_client(&client.client_id).await?;
    println!("deleted client {}", client.client_id);
    Ok(())
}
