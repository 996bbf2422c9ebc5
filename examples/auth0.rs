//! The Auth0 connector's whole flow: register a machine-to-machine client (and its grant to the API), get a token,
//! rotate the secret, list the API's scopes, delete the client.
//!
//! Against a real tenant: `AUTH0_DOMAIN=acme.eu.auth0.com AUTH0_CLIENT_ID=… AUTH0_CLIENT_SECRET=…
//! AUTH0_AUDIENCE=https://api.example.com/orders cargo run --example auth0` (the management client needs the
//! Management API scopes of `shared/specs/PROVIDERS-2.md` §A2). Here, against a mock tenant serving the bodies in
//! `fixtures/auth0`: `cargo run --example auth0 -- --mock`.

use keymanager::gateway_kit::model::{ClientSecret, ClientSpec, KeyType, TokenRequest};
use keymanager::gateway_kit::KeyManager;
use keymanager::gateway_kit::{HttpClient, HttpPolicy};
use keymanager_auth0::{Auth0KeyManager, Auth0Settings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _mock; // keeps the mock server alive
    let settings = if std::env::args().any(|a| a == "--mock") {
        let server = mock::start().await;
        let mut s = Auth0Settings::new(
            "tenant.example",
            "mgmt-client",
            ClientSecret::new("mgmt-secret"),
            "https://api.example.com/orders",
        );
        s.base_url = server.uri();
        _mock = Some(server);
        s
    } else {
        _mock = None;
        let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name} (or pass --mock)"));
        Auth0Settings::new(
            &var("AUTH0_DOMAIN")?,
            &var("AUTH0_CLIENT_ID")?,
            ClientSecret::new(var("AUTH0_CLIENT_SECRET")?),
            &var("AUTH0_AUDIENCE")?,
        )
    };
    let km = Auth0KeyManager::new("auth0", settings, HttpClient::new(HttpPolicy::default())?);

    let spec = ClientSpec::new("keymanager example", KeyType::Sandbox).with_scopes(["read:orders"]);
    let client = km.register_client(&spec).await?;
    let secret = client.client_secret.clone().ok_or("Auth0 returned no secret")?;
    println!(
        "registered {} ({}), scopes {}",
        client.client_id, client.name, client.scopes
    );
    let token = km
        .issue_token(&TokenRequest::client_credentials(client.client_id.clone(), secret).with_scopes(["read:orders"]))
        .await?;
    println!("token expires in {:?}s, scopes {}", token.expires_in, token.scopes);
    let rotated = km.regenerate_secret(&client.client_id).await?;
    println!("secret rotated: {}", rotated.client_secret.is_some());
    for s in km.list_scopes().await? {
        println!("  API scope {}", s.name);
    }
    km.delete_client(&client.client_id).await?;
    println!("deleted {}", client.client_id);
    Ok(())
}

/// A mock tenant answering with the bodies in fixtures/auth0.
mod mock {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn fixture(name: &str) -> serde_json::Value {
        let p = format!("{}/fixtures/auth0/responses/{name}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_default()).unwrap_or_default()
    }

    pub async fn start() -> MockServer {
        let s = MockServer::start().await;
        let ok = |status: u16, name: &str| ResponseTemplate::new(status).set_body_json(fixture(name));
        for (verb, route, status, body) in [
            ("POST", "^/api/v2/clients$", 201, "create-client"),
            ("POST", "^/api/v2/client-grants$", 201, "client-grant"),
            ("GET", "^/api/v2/client-grants$", 200, "client-grants"),
            ("POST", "/rotate-secret$", 200, "rotate-secret"),
            ("GET", "^/api/v2/resource-servers/", 200, "resource-server"),
            ("POST", "^/oauth/token$", 200, "token-client-credentials"),
        ] {
            Mock::given(method(verb))
                .and(path_regex(route))
                .respond_with(ok(status, body))
                .mount(&s)
                .await;
        }
        Mock::given(method("DELETE"))
            .and(path_regex("^/api/v2/"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&s)
            .await;
        s
    }
}
