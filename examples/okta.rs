//! The Okta connector's whole flow: register a client, add and list secrets, get a token, introspect it, revoke it,
//! delete the client.
//!
//! Against a real org: `OKTA_ORG_URL=https://dev-000000.okta.com OKTA_API_TOKEN=… cargo run --example okta`
//! (introspection needs `OKTA_INTROSPECTION_CLIENT_ID` / `_SECRET`; the default authorization server needs an access
//! policy admitting client_credentials). Here, against a mock server serving Okta's own bodies from
//! `fixtures/okta`: `cargo run --example okta -- --mock`.

use keymanager::gateway_kit::model::{
    ClientSecret, ClientSpec, KeyType, RevocationRequest, SecretSpec, Token, TokenRequest,
};
use keymanager::gateway_kit::KeyManager;
use keymanager::gateway_kit::{HttpClient, HttpPolicy};
use keymanager_okta::{OktaKeyManager, OktaSettings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _mock; // keeps the mock server alive
    let mut settings = if std::env::args().any(|a| a == "--mock") {
        let server = mock::start().await;
        let s = OktaSettings::new(&server.uri(), "default", Token::new("mock-api-token"));
        _mock = Some(server);
        s
    } else {
        _mock = None;
        let org = std::env::var("OKTA_ORG_URL").map_err(|_| "set OKTA_ORG_URL and OKTA_API_TOKEN, or pass --mock")?;
        let token = std::env::var("OKTA_API_TOKEN").map_err(|_| "set OKTA_API_TOKEN")?;
        OktaSettings::new(&org, "default", Token::new(token))
    };
    if let (Ok(id), Ok(secret)) = (
        std::env::var("OKTA_INTROSPECTION_CLIENT_ID"),
        std::env::var("OKTA_INTROSPECTION_CLIENT_SECRET"),
    ) {
        settings.introspection_client = Some((id, ClientSecret::new(secret)));
    } else if _mock.is_some() {
        settings.introspection_client = Some(("0oaIntrospector".into(), ClientSecret::new("introspector-secret")));
    }
    let km = OktaKeyManager::new("okta", settings, HttpClient::new(HttpPolicy::default())?);

    let client = km
        .register_client(&ClientSpec::new("keymanager example", KeyType::Sandbox))
        .await?;
    let secret = client.client_secret.clone().ok_or("Okta returned no secret")?;
    println!("registered {} ({})", client.client_id, client.name);
    let second = km.create_secret(&client.client_id, &SecretSpec::default()).await?;
    println!("added secret {}", second.id);
    for s in km.list_secrets(&client.client_id).await? {
        println!("  secret {} {} {:?}", s.id, s.masked, s.status);
    }
    let token = km
        .issue_token(&TokenRequest::client_credentials(
            client.client_id.clone(),
            secret.clone(),
        ))
        .await?;
    println!("token expires in {:?}s", token.expires_in);
    if km.capabilities().introspection {
        println!(
            "introspection: active={}",
            km.introspect(&token.access_token, None).await?.active
        );
    }
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

/// A mock org answering with the bodies in fixtures/okta.
mod mock {
    use wiremock::matchers::{method, path, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn fixture(name: &str) -> serde_json::Value {
        let p = format!("{}/fixtures/okta/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_default()).unwrap_or_default()
    }

    pub async fn start() -> MockServer {
        let s = MockServer::start().await;
        let ok = |status: u16, name: &str| ResponseTemplate::new(status).set_body_json(fixture(name));
        Mock::given(method("POST"))
            .and(path("/oauth2/v1/clients"))
            .respond_with(ok(201, "responses/dcr-service-client.json"))
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .and(path_regex("/credentials/secrets$"))
            .respond_with(ok(201, "examples/management.oAuth2ClientSecretResponse.json"))
            .mount(&s)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("/credentials/secrets$"))
            .respond_with(ok(200, "examples/management.oAuthClientSecretListResponse.json"))
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .and(path("/oauth2/default/v1/token"))
            .respond_with(ok(200, "responses/token-client-credentials.json"))
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .and(path("/oauth2/default/v1/introspect"))
            .respond_with(ok(200, "examples/oauth.IntrospectionAccessToken.json"))
            .mount(&s)
            .await;
        Mock::given(method("POST"))
            .and(path("/oauth2/default/v1/revoke"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&s)
            .await;
        Mock::given(method("DELETE"))
            .and(path_regex("^/oauth2/v1/clients/"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&s)
            .await;
        s
    }
}
