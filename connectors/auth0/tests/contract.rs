//! The auth0 connector against a wiremock Auth0 loaded from `fixtures/auth0/`: every call's method, path, headers
//! and body in order, every JSON body the connector sends checked against Auth0's published request schemas, every
//! answer a fixture that follows Auth0's response schemas; errors, throttling and token caching.

use std::time::Duration;

use keymanager::connector_kit::http::{HttpClient, HttpPolicy};
use keymanager::connector_kit::model::*;
use keymanager::connector_kit::{Error, KeyManager};
use keymanager_auth0::{Auth0KeyManager, Auth0Settings};
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const API: &str = "https://api.example.com/orders";
const CLIENT: &str = "AaiyAPdpYdesoKnqjj8HJqRn4T5titww";
const MANAGEMENT_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjEyMzQ1In0.management";

fn read(name: &str) -> Value {
    let p = format!("{}/../../fixtures/auth0/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
}

/// Check `value` against schema `name` of the Management (`management`) or Authentication (`authentication`) API.
fn check(api: &str, name: &str, value: &Value, what: &str) {
    let spec = read(&format!("{api}-subset.json"));
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": {"schemas": spec["components"]["schemas"]},
        "$ref": format!("#/components/schemas/{name}"),
    });
    let v = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{name}: {e}"));
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} does not follow Auth0's {name}: {errors:#?}");
}

#[test]
fn every_fixture_follows_auth0s_schemas() {
    for (schema, file) in [
        ("CreateClientResponseContent", "create-client"),
        ("GetClientResponseContent", "get-client"),
        ("GetClientResponseContent", "get-client-with-secret"),
        ("UpdateClientResponseContent", "get-client"),
        ("RotateClientSecretResponseContent", "rotate-secret"),
        ("CreateClientGrantResponseContent", "client-grant"),
        ("UpdateClientGrantResponseContent", "client-grant-updated"),
        ("ListClientGrantResponseContent", "client-grants"),
        ("GetResourceServerResponseContent", "resource-server"),
        ("ManagementApiError", "error-inexistent-client"),
        ("ManagementApiError", "error-insufficient-scope"),
        ("ManagementApiError", "error-too-many-requests"),
    ] {
        check("management", schema, &read(&format!("responses/{file}.json")), file);
    }
    for (schema, file) in [
        ("TokenResponse", "management-token"),
        ("TokenResponse", "token-client-credentials"),
        ("ErrorResponse", "error-access-denied"),
    ] {
        check("authentication", schema, &read(&format!("responses/{file}.json")), file);
    }
}

fn respond(status: u16, file: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(read(&format!("responses/{file}.json")))
}

fn key_manager(server: &MockServer, retrievable: bool) -> Auth0KeyManager {
    let mut settings = Auth0Settings::new(
        "tenant.example",
        "mgmt-client",
        ClientSecret::new("mgmt-secret-value"),
        API,
    );
    settings.base_url = server.uri();
    if retrievable {
        settings.secrets = keymanager::connector_kit::SecretPolicy {
            storage: keymanager::connector_kit::SecretStorage::Retrievable,
            max_per_client: None,
        };
    }
    let policy = HttpPolicy {
        initial_backoff: Duration::from_millis(10),
        ..HttpPolicy::default()
    };
    Auth0KeyManager::new("auth0", settings, HttpClient::new(policy).unwrap())
}

async fn mount_management_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains(
            "audience=https%3A%2F%2Ftenant.example%2Fapi%2Fv2%2F",
        ))
        .respond_with(respond(200, "management-token"))
        .mount(server)
        .await;
}

/// Every request the mock saw, as `METHOD /path?query`.
async fn calls(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{} {}?{q}", r.method, r.url.path()),
            None => format!("{} {}", r.method, r.url.path()),
        })
        .collect()
}

fn form(r: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&r.body).into_owned().collect()
}

/// Each JSON body sent to the Management API checked against its request schema; each call carries the cached
/// management token.
async fn check_requests(server: &MockServer) {
    for r in server.received_requests().await.unwrap_or_default() {
        let p = r.url.path();
        if p == "/oauth/token" || p == "/oauth/revoke" {
            assert_eq!(
                r.headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/x-www-form-urlencoded"),
                "{p}"
            );
            continue;
        }
        assert_eq!(
            r.headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some(format!("Bearer {MANAGEMENT_TOKEN}").as_str()),
            "{} {p}",
            r.method
        );
        let schema = match (r.method.as_str(), p) {
            ("POST", "/api/v2/clients") => "CreateClientRequestContent",
            ("PATCH", p) if p.starts_with("/api/v2/clients/") => "UpdateClientRequestContent",
            ("POST", "/api/v2/client-grants") => "CreateClientGrantRequestContent",
            ("PATCH", p) if p.starts_with("/api/v2/client-grants/") => "UpdateClientGrantRequestContent",
            ("PATCH", p) if p.starts_with("/api/v2/resource-servers/") => "UpdateResourceServerRequestContent",
            (_, _) => {
                assert!(r.body.is_empty(), "{} {p} sends no body", r.method);
                continue;
            }
        };
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        check("management", schema, &body, &format!("{} {p}", r.method));
    }
}

#[tokio::test]
async fn generate_keys_get_update_rotate_and_delete_follow_auth0s_calls_in_order() {
    let server = MockServer::start().await;
    mount_management_token(&server).await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("audience=https%3A%2F%2Fapi.example.com%2Forders"))
        .and(body_string_contains(format!("client_id={CLIENT}")))
        .respond_with(respond(200, "token-client-credentials"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/clients"))
        .respond_with(respond(201, "create-client"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/client-grants"))
        .respond_with(respond(201, "client-grant"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/client-grants"))
        .respond_with(respond(200, "client-grants"))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v2/client-grants/cgr_4pI9a42haOLLWnwq"))
        .respond_with(respond(200, "client-grant-updated"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/clients/{CLIENT}")))
        .respond_with(respond(200, "get-client-with-secret"))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("/api/v2/clients/{CLIENT}")))
        .respond_with(respond(200, "get-client"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/api/v2/clients/{CLIENT}/rotate-secret")))
        .respond_with(respond(200, "rotate-secret"))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;

    let km = key_manager(&server, false);
    let spec = ClientSpec::new("orders-production", KeyType::Production).with_scopes(["read:orders"]);
    let client = km.register_client(&spec).await.unwrap();
    assert_eq!(client.client_id.as_str(), CLIENT);
    let secret = client.client_secret.clone().expect("the secret, shown once");
    assert_eq!(client.scopes, Scopes::from(vec!["read:orders".to_owned()]));

    let token = km
        .issue_token(&TokenRequest::client_credentials(CLIENT, secret.clone()).with_scopes(["read:orders"]))
        .await
        .unwrap();
    assert_eq!(token.expires_in, Some(86400));

    let read = km.get_client(&ClientId::from(CLIENT)).await.unwrap();
    assert!(read.client_secret.is_none(), "hashed secrets: never read back");
    assert_eq!(read.scopes, Scopes::from(vec!["read:orders".to_owned()]));

    let wider = spec.clone().with_scopes(["read:orders", "write:orders"]);
    let updated = km.update_client(&ClientId::from(CLIENT), &wider).await.unwrap();
    assert_eq!(updated.scopes.len(), 2);
    assert!(updated.client_secret.is_none());

    let rotated = km.regenerate_secret(&ClientId::from(CLIENT)).await.unwrap();
    assert_ne!(
        rotated.client_secret.unwrap().expose_secret(),
        secret.expose_secret(),
        "a new secret"
    );
    km.delete_client(&ClientId::from(CLIENT)).await.unwrap();

    let g = format!("client_id={CLIENT}&audience=https%3A%2F%2Fapi.example.com%2Forders");
    assert_eq!(
        calls(&server).await,
        vec![
            "POST /oauth/token".to_owned(),
            "POST /api/v2/clients".into(),
            "POST /api/v2/client-grants".into(),
            "POST /oauth/token".into(),
            format!("GET /api/v2/clients/{CLIENT}"),
            format!("GET /api/v2/client-grants?{g}"),
            format!("PATCH /api/v2/clients/{CLIENT}"),
            format!("GET /api/v2/client-grants?{g}"),
            "PATCH /api/v2/client-grants/cgr_4pI9a42haOLLWnwq".into(),
            format!("POST /api/v2/clients/{CLIENT}/rotate-secret"),
            format!("GET /api/v2/client-grants?{g}"),
            format!("GET /api/v2/client-grants?{g}"),
            "DELETE /api/v2/client-grants/cgr_4pI9a42haOLLWnwq".into(),
            format!("DELETE /api/v2/clients/{CLIENT}"),
        ],
        "one management token for every call, then the calls of PROVIDERS-2 §A9 in order"
    );
    check_requests(&server).await;
    let requests = server.received_requests().await.unwrap();
    let management = form(&requests[0]);
    for field in [
        ("grant_type", "client_credentials"),
        ("client_id", "mgmt-client"),
        ("client_secret", "mgmt-secret-value"),
        ("audience", "https://tenant.example/api/v2/"),
    ] {
        assert!(management.contains(&(field.0.into(), field.1.into())), "{management:?}");
    }
    let created: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert_eq!(created["app_type"], "non_interactive");
    assert_eq!(created["grant_types"], json!(["client_credentials"]));
    let grant: Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(
        grant,
        json!({"client_id": CLIENT, "audience": API, "scope": ["read:orders"]})
    );
    let app_token = form(&requests[3]);
    assert!(app_token.contains(&("audience".into(), API.into())), "{app_token:?}");
    assert!(
        app_token.contains(&("scope".into(), "read:orders".into())),
        "{app_token:?}"
    );
}

#[tokio::test]
async fn a_retrievable_secret_is_read_back_and_a_hashed_one_never() {
    let server = MockServer::start().await;
    mount_management_token(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/clients/{CLIENT}")))
        .respond_with(respond(200, "get-client-with-secret"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/client-grants"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let read = key_manager(&server, true)
        .get_client(&ClientId::from(CLIENT))
        .await
        .unwrap();
    assert_eq!(
        read.client_secret.unwrap().expose_secret(),
        read_secret("get-client-with-secret")
    );
    assert!(read.scopes.is_empty(), "no grant, no scopes");
    let hashed = key_manager(&server, false)
        .get_client(&ClientId::from(CLIENT))
        .await
        .unwrap();
    assert!(hashed.client_secret.is_none());
}

fn read_secret(file: &str) -> String {
    read(&format!("responses/{file}.json"))["client_secret"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn what_auth0_cannot_do_is_refused_by_name_without_a_call() {
    let server = MockServer::start().await;
    let km = key_manager(&server, false);
    let id = ClientId::from(CLIENT);
    let named = |e: Error, what: &str| match e {
        Error::Unsupported { operation } => assert!(operation.contains(what), "{operation}"),
        other => panic!("expected unsupported {what}, got {other:?}"),
    };
    named(
        km.create_secret(&id, &SecretSpec::default()).await.unwrap_err(),
        "create_secret",
    );
    named(km.list_secrets(&id).await.unwrap_err(), "list_secrets");
    named(km.delete_secret(&id, "x", false).await.unwrap_err(), "delete_secret");
    named(km.introspect(&Token::new("t"), None).await.unwrap_err(), "introspect");
    let revoke = RevocationRequest {
        token: Token::new("an-access-token"),
        token_type_hint: Some(TokenTypeHint::AccessToken),
        client_id: id.clone(),
        client_secret: Some(ClientSecret::new("s")),
    };
    named(km.revoke_token(&revoke).await.unwrap_err(), "access token");
    let mut pkce = ClientSpec::new("web", KeyType::Production)
        .with_grant_types([GrantType::AuthorizationCode])
        .with_redirect_uris(["https://app.example/cb"].map(|u| u.parse().unwrap()));
    pkce.pkce.required = true;
    named(km.register_client(&pkce).await.unwrap_err(), "PKCE");
    assert!(!km.capabilities().multiple_secrets && !km.capabilities().introspection);
    assert!(calls(&server).await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_refresh_token_is_revoked_at_oauth_revoke() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/revoke"))
        .and(body_string_contains("token=v1.refresh"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    key_manager(&server, false)
        .revoke_token(&RevocationRequest {
            token: Token::new("v1.refresh"),
            token_type_hint: Some(TokenTypeHint::RefreshToken),
            client_id: ClientId::from(CLIENT),
            client_secret: Some(ClientSecret::new("s")),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_grant_leaves_no_client_behind() {
    let server = MockServer::start().await;
    mount_management_token(&server).await;
    Mock::given(method("POST"))
        .and(path("/api/v2/clients"))
        .respond_with(respond(201, "create-client"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v2/client-grants"))
        .respond_with(respond(403, "error-insufficient-scope"))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/api/v2/clients/{CLIENT}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let err = key_manager(&server, false)
        .register_client(&ClientSpec::new("orders", KeyType::Production))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("insufficient_scope") || err.to_string().contains("Insufficient scope"),
        "{err}"
    );
    assert!(!err.to_string().contains("mgmt-secret-value"));
}

#[tokio::test]
async fn a_missing_client_is_not_found_a_refused_token_is_fetched_again_and_throttling_waits() {
    let server = MockServer::start().await;
    mount_management_token(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/clients/missing"))
        .respond_with(respond(404, "error-inexistent-client"))
        .mount(&server)
        .await;
    match key_manager(&server, false)
        .get_client(&ClientId::from("missing"))
        .await
        .unwrap_err()
    {
        Error::NotFound { .. } => {}
        other => panic!("expected not found, got {other:?}"),
    }

    // A 401 drops the cached management token: the next call fetches a new one and succeeds.
    let server = MockServer::start().await;
    mount_management_token(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/clients/{CLIENT}")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "statusCode": 401, "error": "Unauthorized", "message": "Expired token received for JSON Web Token validation"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // A 429 on a read waits for X-RateLimit-Reset and tries again.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/clients/{CLIENT}")))
        .respond_with(
            respond(429, "error-too-many-requests")
                .insert_header("X-RateLimit-Limit", "2")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", now.to_string().as_str()),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/clients/{CLIENT}")))
        .and(header("authorization", format!("Bearer {MANAGEMENT_TOKEN}").as_str()))
        .respond_with(respond(200, "get-client"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/client-grants"))
        .respond_with(respond(200, "client-grants"))
        .mount(&server)
        .await;
    let read = key_manager(&server, false)
        .get_client(&ClientId::from(CLIENT))
        .await
        .unwrap();
    assert_eq!(read.name, "orders-production");
    let seen = calls(&server).await;
    assert_eq!(
        seen.iter().filter(|c| *c == "POST /oauth/token").count(),
        2,
        "the refused token was fetched again: {seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|c| *c == &format!("GET /api/v2/clients/{CLIENT}"))
            .count(),
        3,
        "401, 429, then the answer: {seen:?}"
    );
}

#[tokio::test]
async fn scopes_are_the_apis_and_a_change_sends_the_whole_list() {
    let server = MockServer::start().await;
    mount_management_token(&server).await;
    let encoded = "https%3A%2F%2Fapi.example.com%2Forders";
    Mock::given(method("GET"))
        .and(path(format!("/api/v2/resource-servers/{encoded}")))
        .respond_with(respond(200, "resource-server"))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/v2/resource-servers/5ed4c0f6b3c8f30d0d9a4c3e"))
        .respond_with(respond(200, "resource-server"))
        .mount(&server)
        .await;
    let km = key_manager(&server, false);
    let names: Vec<String> = km.list_scopes().await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["read:orders", "write:orders"]);
    km.register_scope(&Scope {
        name: "admin:orders".into(),
        description: Some("Administer orders".into()),
        display_name: None,
    })
    .await
    .unwrap();
    km.delete_scope("write:orders").await.unwrap();
    match km.delete_scope("nope").await.unwrap_err() {
        Error::NotFound { .. } => {}
        other => panic!("{other:?}"),
    }
    check_requests(&server).await;
    let patches: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        patches,
        vec![
            json!({"scopes": [
                {"value": "read:orders", "description": "Read orders"},
                {"value": "write:orders", "description": "Write orders"},
                {"value": "admin:orders", "description": "Administer orders"}
            ]}),
            json!({"scopes": [{"value": "read:orders", "description": "Read orders"}]}),
        ]
    );
}
