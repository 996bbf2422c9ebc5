//! The entra connector against a wiremock Microsoft Graph and identity platform loaded from `fixtures/entra/`:
//! every call's method, path and body in order, every JSON body the connector sends checked against Graph's
//! published schemas (and every top-level member declared there), every answer a fixture that follows them;
//! replication delays, throttling, token caching and what Entra cannot do.

use std::time::Duration;

use keymanager::connector_kit::http::{HttpClient, HttpPolicy};
use keymanager::connector_kit::model::*;
use keymanager::connector_kit::{Error, KeyManager};
use keymanager_entra::{EntraKeyManager, EntraSettings};
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const API_APP: &str = "d8f0a7b5-3c4e-4f5a-9b6c-7d8e9f0a1b2c";
const API_OBJ: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const API_SP: &str = "5d6e7f80-91a2-4b3c-8d4e-5f60718293a4";
const APP_OBJ: &str = "03ef14b0-ca33-4840-8f4f-d6e91916010e";
const APP_ID: &str = "631a96bc-a705-4eda-9f99-fdaf9f54f6a2";
const SP: &str = "6cbbd7e4-2d07-4a5a-a6b4-5a4c0b5ee1b9";
const READ: &str = "0c7b5e0a-2b1f-4b7e-9d0e-6f3a2c1d4e5f";
const WRITE: &str = "1d8c6f1b-3c2a-4c8f-8e1f-7a4b3d2e5f60";
const KEY: &str = "d1f8c7b3-4a2e-4f6b-9c8d-0e1f2a3b4c5d";

fn read(name: &str) -> Value {
    let p = format!("{}/../../fixtures/entra/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
}

fn spec() -> Value {
    read("graph-subset.json")
}

/// Check `value` against `schema` (a JSON Schema using Graph's `#/components/schemas/…`).
fn check_against(schema: Value, value: &Value, what: &str) {
    let spec = spec();
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": {"schemas": spec["components"]["schemas"]},
        "allOf": [schema],
    });
    let v = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{what}: {e}"));
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what} does not follow Graph's schema: {errors:#?}");
}

fn check(name: &str, value: &Value, what: &str) {
    check_against(json!({"$ref": format!("#/components/schemas/{name}")}), value, what);
}

/// The properties a schema declares, through its `allOf` chain.
fn declared(name: &str) -> Vec<String> {
    let spec = spec();
    let mut out = Vec::new();
    let mut todo = vec![spec["components"]["schemas"][name].clone()];
    while let Some(s) = todo.pop() {
        if let Some(r) = s["$ref"].as_str() {
            todo.push(spec["components"]["schemas"][r.trim_start_matches("#/components/schemas/")].clone());
        }
        for part in s["allOf"].as_array().into_iter().flatten() {
            todo.push(part.clone());
        }
        if let Some(p) = s["properties"].as_object() {
            out.extend(p.keys().cloned());
        }
    }
    out
}

#[test]
fn every_fixture_follows_graphs_schemas() {
    for (schema, file) in [
        ("microsoft.graph.application", "api-application"),
        ("microsoft.graph.application", "create-application"),
        ("microsoft.graph.application", "application-with-password"),
        ("microsoft.graph.servicePrincipal", "api-service-principal"),
        ("microsoft.graph.servicePrincipal", "create-service-principal"),
        ("microsoft.graph.passwordCredential", "add-password"),
        ("microsoft.graph.passwordCredential", "add-password-second"),
        ("microsoft.graph.appRoleAssignment", "app-role-assignment"),
        (
            "microsoft.graph.appRoleAssignmentCollectionResponse",
            "app-role-assignments",
        ),
        ("microsoft.graph.ODataErrors.ODataError", "error-not-found"),
        ("microsoft.graph.ODataErrors.ODataError", "error-no-backing-application"),
        ("microsoft.graph.ODataErrors.ODataError", "error-too-many-requests"),
    ] {
        let value = read(&format!("responses/{file}.json"));
        check(schema, &value, file);
        for key in value.as_object().unwrap().keys() {
            assert!(
                declared(schema).contains(key) || key.starts_with("@odata"),
                "{file}: `{key}` is not a member of {schema}"
            );
        }
    }
    // The identity platform's token answer and error (learn.microsoft.com's examples).
    let token = read("responses/token-client-credentials.json");
    assert_eq!(token["token_type"], "Bearer");
    assert!(
        token.get("refresh_token").is_none(),
        "no refresh token for client credentials"
    );
    let err = read("responses/error-invalid-scope.json");
    assert!(err["error_description"].as_str().unwrap().starts_with("AADSTS70011:"));
}

fn respond(status: u16, file: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(read(&format!("responses/{file}.json")))
}

fn key_manager(server: &MockServer) -> EntraKeyManager {
    let mut settings = EntraSettings::new(TENANT, "mgmt-app", ClientSecret::new("mgmt-secret-value"), API_APP)
        .with_endpoints(&format!("{}/v1.0", server.uri()), &server.uri());
    settings.replication_backoff = Duration::from_millis(10);
    let policy = HttpPolicy {
        initial_backoff: Duration::from_millis(10),
        ..HttpPolicy::default()
    };
    EntraKeyManager::new("entra", settings, HttpClient::new(policy).unwrap())
}

async fn mount(server: &MockServer, verb: &str, route: &str, status: u16, file: Option<&str>) {
    let template = match file {
        Some(f) => respond(status, f),
        None => ResponseTemplate::new(status),
    };
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(template)
        .mount(server)
        .await;
}

async fn mount_tenant(server: &MockServer) {
    let token = format!("/{TENANT}/oauth2/v2.0/token");
    Mock::given(method("POST"))
        .and(path(token.as_str()))
        .and(body_string_contains("client_id=mgmt-app"))
        .respond_with(respond(200, "token-management"))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(token.as_str()))
        .and(body_string_contains(format!("client_id={APP_ID}")))
        .respond_with(respond(200, "token-client-credentials"))
        .mount(server)
        .await;
    mount(
        server,
        "GET",
        &format!("/v1.0/applications(appId='{API_APP}')"),
        200,
        Some("api-application"),
    )
    .await;
    mount(
        server,
        "GET",
        &format!("/v1.0/servicePrincipals(appId='{API_APP}')"),
        200,
        Some("api-service-principal"),
    )
    .await;
}

async fn calls(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

fn form(r: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&r.body).into_owned().collect()
}

/// Each JSON body sent to Graph checked against its schema, every top-level member a declared one.
async fn check_requests(server: &MockServer) {
    let spec = spec();
    for r in server.received_requests().await.unwrap_or_default() {
        let p = r.url.path().to_owned();
        if p.ends_with("/oauth2/v2.0/token") {
            continue;
        }
        assert!(
            r.headers
                .get("authorization")
                .is_some_and(|v| v.as_bytes().starts_with(b"Bearer eyJ")),
            "{} {p} carries the Graph token",
            r.method
        );
        if r.body.is_empty() {
            continue;
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let what = format!("{} {p}", r.method);
        let (schema, named) = match r.method.as_str() {
            "POST" if p.ends_with("/addPassword") || p.ends_with("/removePassword") => {
                let action = if p.ends_with("/addPassword") {
                    "addPassword"
                } else {
                    "removePassword"
                };
                let s = &spec["paths"][format!("/applications/{{application-id}}/{action}")]["post"]["requestBody"]
                    ["content"]["application/json"]["schema"];
                (s.clone(), None)
            }
            "POST" | "PATCH" if p.starts_with("/v1.0/applications") => {
                (json!(null), Some("microsoft.graph.application"))
            }
            "POST" if p.ends_with("/appRoleAssignedTo") => (json!(null), Some("microsoft.graph.appRoleAssignment")),
            "POST" if p == "/v1.0/servicePrincipals" => (json!(null), Some("microsoft.graph.servicePrincipal")),
            _ => panic!("{what}: a body nobody expected"),
        };
        match named {
            Some(name) => {
                check(name, &body, &what);
                for key in body.as_object().unwrap().keys() {
                    assert!(
                        declared(name).contains(key),
                        "{what}: `{key}` is not a member of {name}"
                    );
                }
            }
            None => {
                check_against(schema.clone(), &body, &what);
                for key in body.as_object().unwrap().keys() {
                    assert!(schema["properties"].get(key).is_some(), "{what}: `{key}` is undeclared");
                }
            }
        }
    }
}

#[tokio::test]
async fn generate_keys_waits_for_replication_and_follows_graphs_calls_in_order() {
    let server = MockServer::start().await;
    mount_tenant(&server).await;
    mount(&server, "POST", "/v1.0/applications", 201, Some("create-application")).await;
    // Just made: the first service-principal create finds no application yet (PROVIDERS-2 §E9).
    Mock::given(method("POST"))
        .and(path("/v1.0/servicePrincipals"))
        .respond_with(respond(400, "error-no-backing-application"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount(
        &server,
        "POST",
        "/v1.0/servicePrincipals",
        201,
        Some("create-service-principal"),
    )
    .await;
    mount(
        &server,
        "POST",
        &format!("/v1.0/applications/{APP_OBJ}/addPassword"),
        200,
        Some("add-password"),
    )
    .await;
    mount(
        &server,
        "POST",
        &format!("/v1.0/servicePrincipals/{API_SP}/appRoleAssignedTo"),
        201,
        Some("app-role-assignment"),
    )
    .await;

    let km = key_manager(&server);
    let spec = ClientSpec::new("orders-production", KeyType::Production).with_scopes(["read:orders"]);
    let client = km.register_client(&spec).await.unwrap();
    assert_eq!(client.client_id.as_str(), APP_ID);
    assert_eq!(
        client.client_secret.unwrap().expose_secret(),
        read("responses/add-password.json")["secretText"].as_str().unwrap()
    );
    assert_eq!(
        calls(&server).await,
        vec![
            format!("POST /{TENANT}/oauth2/v2.0/token"),
            format!("GET /v1.0/applications(appId='{API_APP}')"),
            format!("GET /v1.0/servicePrincipals(appId='{API_APP}')"),
            "POST /v1.0/applications".into(),
            "POST /v1.0/servicePrincipals".into(),
            "POST /v1.0/servicePrincipals".into(),
            format!("POST /v1.0/applications/{APP_OBJ}/addPassword"),
            format!("POST /v1.0/servicePrincipals/{API_SP}/appRoleAssignedTo"),
        ],
        "PROVIDERS-2 §E7, the service principal retried once"
    );
    check_requests(&server).await;
    let requests = server.received_requests().await.unwrap();
    let token = form(&requests[0]);
    for field in [
        ("grant_type", "client_credentials"),
        ("client_id", "mgmt-app"),
        ("client_secret", "mgmt-secret-value"),
        ("scope", &format!("{}/.default", server.uri()) as &str),
    ] {
        assert!(token.contains(&(field.0.into(), field.1.into())), "{token:?}");
    }
    let app: Value = serde_json::from_slice(&requests[3].body).unwrap();
    assert_eq!(
        app["requiredResourceAccess"],
        json!([{"resourceAppId": API_APP, "resourceAccess": [{"id": READ, "type": "Role"}]}])
    );
    let assignment: Value = serde_json::from_slice(&requests[7].body).unwrap();
    assert_eq!(
        assignment,
        json!({"principalId": SP, "resourceId": API_SP, "appRoleId": READ})
    );
}

#[tokio::test]
async fn a_failure_after_the_application_exists_deletes_it_again() {
    let server = MockServer::start().await;
    mount_tenant(&server).await;
    mount(&server, "POST", "/v1.0/applications", 201, Some("create-application")).await;
    mount(
        &server,
        "POST",
        "/v1.0/servicePrincipals",
        201,
        Some("create-service-principal"),
    )
    .await;
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/applications/{APP_OBJ}/addPassword")))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation."}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v1.0/applications/{APP_OBJ}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let err = key_manager(&server)
        .register_client(&ClientSpec::new("orders", KeyType::Production))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Authorization_RequestDenied") || err.to_string().contains("Insufficient"),
        "{err}"
    );
    assert!(!err.to_string().contains("mgmt-secret-value"));
}

#[tokio::test]
async fn secrets_have_descriptions_and_expiry_and_go_by_key_id() {
    let server = MockServer::start().await;
    mount_tenant(&server).await;
    mount(
        &server,
        "GET",
        &format!("/v1.0/applications(appId='{APP_ID}')"),
        200,
        Some("application-with-password"),
    )
    .await;
    mount(
        &server,
        "POST",
        &format!("/v1.0/applications/{APP_OBJ}/addPassword"),
        200,
        Some("add-password-second"),
    )
    .await;
    mount(
        &server,
        "POST",
        &format!("/v1.0/applications/{APP_OBJ}/removePassword"),
        204,
        None,
    )
    .await;
    let km = key_manager(&server);
    let id = ClientId::from(APP_ID);
    let listed = km.list_secrets(&id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, KEY);
    assert_eq!(listed[0].masked, "Qx8************");
    assert_eq!(listed[0].description.as_deref(), Some("keymanager"));
    assert!(listed[0].expires_at.is_some());
    let made = km
        .create_secret(
            &id,
            &SecretSpec {
                description: Some("rotation".into()),
                expires_in: Some(182 * 86_400),
            },
        )
        .await
        .unwrap();
    assert_eq!(made.info.description.as_deref(), Some("rotation"));
    km.delete_secret(&id, KEY, false).await.unwrap();
    match km.delete_secret(&id, "not-a-key", false).await.unwrap_err() {
        Error::NotFound { .. } => {}
        other => panic!("{other:?}"),
    }
    check_requests(&server).await;
    let requests = server.received_requests().await.unwrap();
    let add: Value = requests
        .iter()
        .find(|r| r.url.path().ends_with("/addPassword"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .unwrap();
    assert_eq!(add["passwordCredential"]["displayName"], "rotation");
    assert!(add["passwordCredential"]["endDateTime"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let remove: Value = requests
        .iter()
        .find(|r| r.url.path().ends_with("/removePassword"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .unwrap();
    assert_eq!(remove, json!({"keyId": KEY}));
}

#[tokio::test]
async fn get_update_token_and_delete() {
    let server = MockServer::start().await;
    mount_tenant(&server).await;
    mount(
        &server,
        "GET",
        &format!("/v1.0/applications(appId='{APP_ID}')"),
        200,
        Some("application-with-password"),
    )
    .await;
    mount(
        &server,
        "GET",
        &format!("/v1.0/servicePrincipals(appId='{APP_ID}')"),
        200,
        Some("create-service-principal"),
    )
    .await;
    mount(
        &server,
        "GET",
        &format!("/v1.0/servicePrincipals/{API_SP}/appRoleAssignedTo"),
        200,
        Some("app-role-assignments"),
    )
    .await;
    mount(&server, "PATCH", &format!("/v1.0/applications/{APP_OBJ}"), 204, None).await;
    mount(
        &server,
        "POST",
        &format!("/v1.0/servicePrincipals/{API_SP}/appRoleAssignedTo"),
        201,
        Some("app-role-assignment"),
    )
    .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let km = key_manager(&server);
    let id = ClientId::from(APP_ID);
    let read_back = km.get_client(&id).await.unwrap();
    assert_eq!(read_back.scopes, Scopes::from(vec!["read:orders".to_owned()]));
    assert!(read_back.client_secret.is_none());

    // Now write:orders only: one assignment added, the other removed.
    let spec = ClientSpec::new("orders-production", KeyType::Production).with_scopes(["write:orders"]);
    km.update_client(&id, &spec).await.unwrap();
    let token = km
        .issue_token(
            &TokenRequest::client_credentials(APP_ID, ClientSecret::new("Qx8Q~s")).with_scopes(["write:orders"]),
        )
        .await
        .unwrap();
    assert_eq!(token.expires_in, Some(3599));
    km.delete_client(&id).await.unwrap();
    match km.get_client(&ClientId::from("not-a-guid'")).await.unwrap_err() {
        Error::NotFound { .. } => {}
        other => panic!("{other:?}"),
    }
    check_requests(&server).await;
    let seen = calls(&server).await;
    let assignment = read("responses/app-role-assignment.json")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for call in [
        format!("PATCH /v1.0/applications/{APP_OBJ}"),
        format!("POST /v1.0/servicePrincipals/{API_SP}/appRoleAssignedTo"),
        format!("DELETE /v1.0/servicePrincipals/{API_SP}/appRoleAssignedTo/{assignment}"),
        format!("DELETE /v1.0/applications(appId='{APP_ID}')"),
    ] {
        assert!(seen.contains(&call), "{call} in {seen:#?}");
    }
    let requests = server.received_requests().await.unwrap();
    let added: Value = requests
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/appRoleAssignedTo"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .unwrap();
    assert_eq!(added["appRoleId"], WRITE);
    let app_token = requests
        .iter()
        .find(|r| r.url.path().ends_with("/token") && form(r).contains(&("client_id".into(), APP_ID.into())))
        .map(form)
        .unwrap();
    assert!(
        app_token.contains(&("scope".into(), format!("api://{API_APP}/.default"))),
        "Entra is asked for the API's .default scope: {app_token:?}"
    );
    assert!(
        !seen.iter().any(|c| c.contains(API_OBJ) && c.starts_with("PATCH")),
        "the API is not touched"
    );
}

#[tokio::test]
async fn what_entra_cannot_do_is_refused_by_name_without_a_call() {
    let server = MockServer::start().await;
    let km = key_manager(&server);
    let named = |e: Error, what: &str| match e {
        Error::Unsupported { operation } => assert!(operation.contains(what), "{operation}"),
        other => panic!("expected unsupported {what}, got {other:?}"),
    };
    named(km.introspect(&Token::new("t"), None).await.unwrap_err(), "introspect");
    let revoke = RevocationRequest {
        token: Token::new("t"),
        token_type_hint: None,
        client_id: ClientId::from(APP_ID),
        client_secret: None,
    };
    named(km.revoke_token(&revoke).await.unwrap_err(), "revoke_token");
    named(
        km.delete_secret(&ClientId::from(APP_ID), KEY, true).await.unwrap_err(),
        "tokens of one secret",
    );
    let caps = km.capabilities();
    assert!(caps.secret_description && caps.secret_expiry && caps.multiple_secrets);
    assert!(!caps.introspection && !caps.revocation && !caps.retrievable_secrets);
    assert!(calls(&server).await.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_scope_is_an_app_role_and_deleting_one_disables_it_first() {
    let server = MockServer::start().await;
    mount_tenant(&server).await;
    mount(&server, "PATCH", &format!("/v1.0/applications/{API_OBJ}"), 204, None).await;
    let km = key_manager(&server);
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
    check_requests(&server).await;
    let patches: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(patches.len(), 3);
    let added = patches[0]["appRoles"].as_array().unwrap();
    assert_eq!(added.len(), 3);
    assert_eq!(added[2]["value"], "admin:orders");
    assert_eq!(added[2]["allowedMemberTypes"], json!(["Application"]));
    let disabled = patches[1]["appRoles"].as_array().unwrap();
    assert_eq!(disabled[1]["isEnabled"], false);
    assert_eq!(patches[2]["appRoles"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn throttling_waits_for_retry_after_on_reads() {
    let server = MockServer::start().await;
    mount_tenant(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/v1.0/applications(appId='{APP_ID}')")))
        .respond_with(respond(429, "error-too-many-requests").insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount(
        &server,
        "GET",
        &format!("/v1.0/applications(appId='{APP_ID}')"),
        200,
        Some("application-with-password"),
    )
    .await;
    let listed = key_manager(&server)
        .list_secrets(&ClientId::from(APP_ID))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let gets = calls(&server).await.into_iter().filter(|c| c.contains(APP_ID)).count();
    assert_eq!(gets, 2, "429, then the answer");
}
