//! The resident key manager in-process, on a temporary SQLite file: register an application's client, add a
//! second secret, get a token, introspect it, rotate the signing key, revoke, and clean up.
//!
//! Run it with `cargo run --example resident`.

use keymanager::gateway_kit::model::{ClientSpec, KeyType, RevocationRequest, SecretSpec, TokenRequest};
use keymanager::gateway_kit::KeyManager;
use keymanager_resident::{ResidentKeyManager, ResidentServer, ResidentSettings, Store};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("keymanager.db").display());
    let store = Store::connect(&url, None).await?;
    let server = ResidentServer::open(ResidentSettings::default(), store).await?;
    let km = ResidentKeyManager::new("Resident Key Manager", server.clone());

    // "Generate keys" for an application's production environment.
    let spec =
        ClientSpec::new("orders-app PRODUCTION", KeyType::Production).with_scopes(["orders:read", "orders:write"]);
    let client = km.register_client(&spec).await?;
    let secret = client
        .client_secret
        .clone()
        .ok_or("a confidential client gets a secret")?;
    println!("consumer key:    {}", client.client_id);
    println!("consumer secret: {} (shown once)", secret.expose_secret());

    // A second secret for rotation, expiring in 30 days.
    let second = km
        .create_secret(
            &client.client_id,
            &SecretSpec {
                description: Some("rotation".into()),
                expires_in: Some(30 * 86_400),
            },
        )
        .await?;
    for s in km.list_secrets(&client.client_id).await? {
        println!("secret {}  {}  {:?}  {:?}", s.id, s.masked, s.description, s.status);
    }

    // A token with the second secret, then introspection.
    let request =
        TokenRequest::client_credentials(client.client_id.clone(), second.secret.clone()).with_scopes(["orders:read"]);
    let token = km.issue_token(&request).await?;
    println!(
        "access token ({}s): {}…",
        token.expires_in.unwrap_or_default(),
        &token.access_token.expose_secret()[..40]
    );
    let info = km.introspect(&token.access_token, None).await?;
    println!(
        "introspection: active={} client_id={:?} scopes={:?}",
        info.active, info.client_id, info.scopes
    );

    // Rotate the signing key: the old token still verifies, new tokens use the new key.
    let kid = server.keys().rotate().await?;
    println!(
        "rotated signing key, now {kid}; old token active: {}",
        km.introspect(&token.access_token, None).await?.active
    );

    // Revoke as the client, and delete the client.
    km.revoke_token(&RevocationRequest {
        token: token.access_token.clone(),
        token_type_hint: None,
        client_id: client.client_id.clone(),
        client_secret: Some(secret),
    })
    .await?;
    println!(
        "after revocation: active={}",
        km.introspect(&token.access_token, None).await?.active
    );
    km.delete_client(&client.client_id).await?;
    println!("client deleted");
    Ok(())
}
