//! The Entra ID connector's whole flow: register an application (service principal, secret, app-role grants), add
//! and list secrets, get a token, delete the application.
//!
//! Against a real tenant: `ENTRA_TENANT_ID=… ENTRA_CLIENT_ID=… ENTRA_CLIENT_SECRET=… ENTRA_API_APPLICATION=…
//! cargo run --example entra` (the management application needs the Graph application permissions
//! `Application.ReadWrite.OwnedBy` and `AppRoleAssignment.ReadWrite.All`; the API application an app role
//! `read:orders` allowed to applications). Here, against a mock tenant serving the bodies in `fixtures/entra`:
//! `cargo run --example entra -- --mock`.

use keymanager::gateway_kit::model::{ClientSecret, ClientSpec, KeyType, SecretSpec, TokenRequest};
use keymanager::gateway_kit::KeyManager;
use keymanager::gateway_kit::{HttpClient, HttpPolicy};
use keymanager_entra::{EntraKeyManager, EntraSettings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _mock; // keeps the mock server alive
    let settings = if std::env::args().any(|a| a == "--mock") {
        let server = mock::start().await;
        let s = EntraSettings::new(
            mock::TENANT,
            "mgmt-app",
            ClientSecret::new("mgmt-secret"),
            "d8f0a7b5-3c4e-4f5a-9b6c-7d8e9f0a1b2c",
        )
        .with_endpoints(&format!("{}/v1.0", server.uri()), &server.uri());
        _mock = Some(server);
        s
    } else {
        _mock = None;
        let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name} (or pass --mock)"));
        EntraSettings::new(
            &var("ENTRA_TENANT_ID")?,
            &var("ENTRA_CLIENT_ID")?,
            ClientSecret::new(var("ENTRA_CLIENT_SECRET")?),
            &var("ENTRA_API_APPLICATION")?,
        )
    };
    let km = EntraKeyManager::new("entra", settings, HttpClient::new(HttpPolicy::default())?);

    let spec = ClientSpec::new("keymanager example", KeyType::Sandbox).with_scopes(["read:orders"]);
    let client = km.register_client(&spec).await?;
    let secret = client.client_secret.clone().ok_or("Entra returned no secret")?;
    println!(
        "registered {} ({}), scopes {}",
        client.client_id, client.name, client.scopes
    );
    let second = km
        .create_secret(
            &client.client_id,
            &SecretSpec {
                description: Some("rotation".into()),
                expires_in: Some(180 * 86_400),
            },
        )
        .await?;
    println!("added secret {} ({:?})", second.id, second.info.description);
    for s in km.list_secrets(&client.client_id).await? {
        println!("  secret {} {} expires {:?}", s.id, s.masked, s.expires_at);
    }
    let token = km
        .issue_token(&TokenRequest::client_credentials(client.client_id.clone(), secret))
        .await?;
    println!("token expires in {:?}s", token.expires_in);
    km.delete_client(&client.client_id).await?;
    println!("deleted {}", client.client_id);
    Ok(())
}

/// A mock tenant answering with the bodies in fixtures/entra.
mod mock {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn fixture(name: &str) -> serde_json::Value {
        let p = format!("{}/fixtures/entra/responses/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_default()).unwrap_or_default()
    }

    pub async fn start() -> MockServer {
        let s = MockServer::start().await;
        for (verb, route, status, body) in [
            ("POST", "/oauth2/v2.0/token$", 200, "token-client-credentials"),
            ("GET", r"^/v1\.0/applications\(appId='d8f0", 200, "api-application"),
            (
                "GET",
                r"^/v1\.0/servicePrincipals\(appId='d8f0",
                200,
                "api-service-principal",
            ),
            (
                "GET",
                r"^/v1\.0/applications\(appId='631a",
                200,
                "application-with-password",
            ),
            ("POST", r"^/v1\.0/applications$", 201, "create-application"),
            ("POST", r"^/v1\.0/servicePrincipals$", 201, "create-service-principal"),
            ("POST", "/addPassword$", 200, "add-password"),
            ("POST", "/appRoleAssignedTo$", 201, "app-role-assignment"),
        ] {
            Mock::given(method(verb))
                .and(path_regex(route))
                .respond_with(ResponseTemplate::new(status).set_body_json(fixture(body)))
                .mount(&s)
                .await;
        }
        Mock::given(method("DELETE"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&s)
            .await;
        s
    }
}
