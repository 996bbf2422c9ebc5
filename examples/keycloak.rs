//! The Keycloak connector's whole flow (admin mode): register a client, list its secrets, get a token, introspect
//! it, revoke it, delete the client.
//!
//! Against a real Keycloak: `KEYCLOAK_URL=https://kc.example.com KEYCLOAK_REALM=acme KEYCLOAK_CLIENT_ID=keymanager-admin
//! KEYCLOAK_CLIENT_SECRET=… cargo run --example keycloak` (the admin client needs a service account with the
//! realm-management roles manage-clients, view-clients, query-clients). Here, against a mock serving the bodies in
//! `fixtures/keycloak`: `cargo run --example keycloak -- --mock`.

use std::sync::Arc;

use keymanager::gateway_kit::model::{ClientSecret, ClientSpec, KeyType, RevocationRequest, TokenRequest};
use keymanager::gateway_kit::KeyManager;
use keymanager::gateway_kit::{HttpClient, HttpPolicy};
use keymanager_keycloak::MemoryRegistrations;
use keymanager_keycloak::{KeycloakKeyManager, KeycloakSettings, Mode};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = std::env::args().any(|a| a == "--mock");
    let server = if mock { Some(mock::start().await) } else { None };
    let env = |k: &str| std::env::var(k).map_err(|_| format!("set {k} (or pass --mock)"));
    let (url, realm, id, secret) = match &server {
        Some(s) => (
            s.uri(),
            "acme".to_owned(),
            "keymanager-admin".to_owned(),
            "admin-secret".to_owned(),
        ),
        None => (
            env("KEYCLOAK_URL")?,
            env("KEYCLOAK_REALM")?,
            env("KEYCLOAK_CLIENT_ID")?,
            env("KEYCLOAK_CLIENT_SECRET")?,
        ),
    };
    let settings = KeycloakSettings::new(
        &url,
        &realm,
        &realm,
        Mode::Admin {
            client_id: id,
            client_secret: ClientSecret::new(secret),
        },
    );
    let km = KeycloakKeyManager::new(
        "keycloak",
        settings,
        HttpClient::new(HttpPolicy::default())?,
        Arc::new(MemoryRegistrations::default()),
    );

    let client = km
        .register_client(&ClientSpec::new("keymanager example", KeyType::Sandbox))
        .await?;
    let secret = client.client_secret.clone().ok_or("Keycloak returned no secret")?;
    println!(
        "registered {} (id {})",
        client.client_id, client.additional_properties["id"]
    );
    for s in km.list_secrets(&client.client_id).await? {
        println!("  secret {} {}", s.id, s.masked);
    }
    let token = km
        .issue_token(&TokenRequest::client_credentials(
            client.client_id.clone(),
            secret.clone(),
        ))
        .await?;
    println!("token expires in {:?}s, scopes {:?}", token.expires_in, token.scopes);
    println!(
        "introspection: active={}",
        km.introspect(&token.access_token, None).await?.active
    );
    km.revoke_token(&RevocationRequest {
        token: token.access_token.clone(),
        token_type_hint: None,
        client_id: client.client_id.clone(),
        client_secret: Some(secret),
    })
    .await?;
    println!("revoked");
    km.delete_client(&client.client_id).await?;
    println!("deleted {}", client.client_id);
    Ok(())
}

/// A mock realm answering with the bodies in fixtures/keycloak.
mod mock {
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn fixture(name: &str) -> serde_json::Value {
        let p = format!("{}/fixtures/keycloak/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_default()).unwrap_or_default()
    }

    pub async fn start() -> MockServer {
        let s = MockServer::start().await;
        let ok = |name: &str| ResponseTemplate::new(200).set_body_json(fixture(name));
        let uuid = "3b9f2e6a-7c41-4f0e-9d55-2a8c1e0b7f13";
        let oidc = "/realms/acme/protocol/openid-connect";
        Mock::given(method("POST"))
            .and(path(format!("{oidc}/token/introspect")))
            .respond_with(ok("introspection-active.json"))
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .and(path(format!("{oidc}/revoke")))
            .respond_with(ResponseTemplate::new(200))
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .and(path(format!("{oidc}/token")))
            .respond_with(ok("token.json"))
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .and(path("/admin/realms/acme/clients"))
            .respond_with(ResponseTemplate::new(201).insert_header(
                "Location",
                format!("{}/admin/realms/acme/clients/{uuid}", s.uri()).as_str(),
            ))
            .mount(&s)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/admin/realms/acme/clients/{uuid}/client-secret")))
            .respond_with(ok("client-secret.json"))
            .mount(&s)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/admin/realms/acme/clients/{uuid}/client-secret/rotated")))
            .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-no-rotated-secret.json")))
            .mount(&s)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/admin/realms/acme/clients/{uuid}")))
            .respond_with(ok("client.json"))
            .mount(&s)
            .await;
        Mock::given(method("DELETE"))
            .and(path_regex("^/admin/realms/acme/clients/"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&s)
            .await;
        s
    }
}
