//! Contract tests: the keycloak connector against wiremock serving Keycloak's bodies (fixtures/keycloak), in both
//! modes; exact requests, admin-token caching, error mapping, and every JSON body checked against Keycloak's schema.

use std::sync::Arc;

use keymanager::connector_kit::{SecretPolicy, SecretStorage};
use keymanager::http::{HttpClient, HttpPolicy};
use keymanager::model::*;
use keymanager::sql::registrations::{MemoryRegistrations, RegistrationStore};
use keymanager::{Error, KeyManager};
use keymanager_keycloak::{KeycloakKeyManager, KeycloakSettings, Mode};
use serde_json::{json, Value};
use wiremock::matchers::{body_string, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ADMIN_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsInR5cCIgOiAiSldUIiwia2lkIiA6ICJhZG1pbiJ9.eyJleHAiOjE3NjM4NzA0NjB9.sig";
const UUID: &str = "3b9f2e6a-7c41-4f0e-9d55-2a8c1e0b7f13";

fn fixture(name: &str) -> Value {
    let p = format!("{}/../../fixtures/keycloak/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).unwrap()
}

fn admin_bearer() -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {ADMIN_TOKEN}").as_str())
}

struct Kc {
    server: MockServer,
    km: KeycloakKeyManager,
    registrations: Arc<MemoryRegistrations>,
}

async fn admin_mode() -> Kc {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/realms/acme/protocol/openid-connect/token"))
        .and(body_string(
            "grant_type=client_credentials&client_id=keymanager-admin&client_secret=admin-secret-0123456789",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("admin-token.json")))
        .mount(&server)
        .await;
    let mode = Mode::Admin {
        client_id: "keymanager-admin".into(),
        client_secret: ClientSecret::new("admin-secret-0123456789"),
    };
    build(server, mode).await
}

async fn build(server: MockServer, mode: Mode) -> Kc {
    build_with(server, mode, SecretPolicy::default()).await
}

async fn build_with(server: MockServer, mode: Mode, secrets: SecretPolicy) -> Kc {
    let mut settings = KeycloakSettings::new(&server.uri(), "acme", "acme", mode);
    settings.secrets = secrets;
    let registrations = Arc::new(MemoryRegistrations::default());
    let km = KeycloakKeyManager::new(
        "keycloak",
        settings,
        HttpClient::new(HttpPolicy::default()).unwrap(),
        registrations.clone(),
    );
    Kc {
        server,
        km,
        registrations,
    }
}

/// Keycloak's answers to finding `orders-app-production` (by `clientId`) and reading it (by its internal id).
async fn mount_client(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients"))
        .and(query_param("clientId", "orders-app-production"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([fixture("client.json")])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/admin/realms/acme/clients/{UUID}")))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client.json")))
        .mount(server)
        .await;
}

async fn requests(server: &MockServer, m: &str, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == m && r.url.path() == p)
        .collect()
}

fn service_spec() -> ClientSpec {
    ClientSpec::new("orders-app PRODUCTION", KeyType::Production)
        .with_scopes(["orders.read"])
        .with_access_token_lifetime(3600)
}

#[tokio::test]
async fn register_through_the_admin_api_then_read_the_generated_secret() {
    let kc = admin_mode().await;
    Mock::given(method("POST"))
        .and(path("/admin/realms/acme/clients"))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(201).insert_header(
            "Location",
            format!("{}/admin/realms/acme/clients/{UUID}", kc.server.uri()).as_str(),
        ))
        .up_to_n_times(1)
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/admin/realms/acme/clients/{UUID}/client-secret")))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-secret.json")))
        .expect(1)
        .mount(&kc.server)
        .await;
    let client = kc.km.register_client(&service_spec()).await.unwrap();
    assert!(
        client.client_id.as_str().starts_with("orders-app-production-"),
        "{}",
        client.client_id
    );
    assert_eq!(
        client.client_secret.unwrap().expose_secret(),
        "z4Ux09d1GrR5GVUMleJVSPwYkDFdiaxZ"
    );
    assert_eq!(client.additional_properties["id"], UUID);
    let sent: Value =
        serde_json::from_slice(&requests(&kc.server, "POST", "/admin/realms/acme/clients").await[0].body).unwrap();
    let expected = json!({
        "clientId": client.client_id.as_str(),
        "name": "orders-app PRODUCTION",
        "protocol": "openid-connect",
        "enabled": true,
        "publicClient": false,
        "clientAuthenticatorType": "client-secret",
        "standardFlowEnabled": false,
        "implicitFlowEnabled": false,
        "directAccessGrantsEnabled": false,
        "serviceAccountsEnabled": true,
        "redirectUris": [],
        "webOrigins": [],
        "attributes": {
            "oauth2.device.authorization.grant.enabled": "false",
            "use.refresh.tokens": "false",
            "pkce.code.challenge.method": "",
            "access.token.lifespan": "3600"
        },
        "optionalClientScopes": ["orders.read"]
    });
    assert_eq!(sent, expected);
    // A public client with PKCE: no authenticator, S256 required.
    let spa = ClientSpec::new("spa", KeyType::Sandbox)
        .with_grant_types([GrantType::AuthorizationCode])
        .with_redirect_uris(["https://spa.example/cb"].map(|u| u.parse().unwrap()))
        .public()
        .with_pkce(PkcePolicy {
            required: true,
            allow_plain: false,
        });
    Mock::given(method("POST"))
        .and(path("/admin/realms/acme/clients"))
        .respond_with(ResponseTemplate::new(201).insert_header(
            "Location",
            format!("{}/admin/realms/acme/clients/spa-uuid", kc.server.uri()).as_str(),
        ))
        .mount(&kc.server)
        .await;
    let public = kc.km.register_client(&spa).await.unwrap();
    assert!(public.client_secret.is_none() && public.public_client);
    let sent: Value =
        serde_json::from_slice(&requests(&kc.server, "POST", "/admin/realms/acme/clients").await[1].body).unwrap();
    assert_eq!(sent["attributes"]["pkce.code.challenge.method"], "S256");
    assert_eq!(
        (sent["publicClient"].as_bool(), sent.get("clientAuthenticatorType")),
        (Some(true), None)
    );
    assert_eq!(sent["standardFlowEnabled"], true);
}

#[tokio::test]
async fn one_admin_token_serves_many_calls_and_a_401_refreshes_it_once() {
    let kc = admin_mode().await;
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients"))
        .and(query_param("clientId", "orders-app-production"))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([fixture("client.json")])))
        .expect(1)
        .mount(&kc.server)
        .await;
    // The first GET of the client is refused as if the token had expired mid-flight.
    Mock::given(method("GET"))
        .and(path(format!("/admin/realms/acme/clients/{UUID}")))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error-unauthorized.json")))
        .up_to_n_times(1)
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/admin/realms/acme/clients/{UUID}")))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client.json")))
        .mount(&kc.server)
        .await;
    let id = ClientId::new("orders-app-production");
    let client = kc.km.get_client(&id).await.unwrap();
    for _ in 0..5 {
        kc.km.get_client(&id).await.unwrap();
    }
    assert_eq!(client.name, "orders-app PRODUCTION");
    assert_eq!(client.grant_types, [GrantType::ClientCredentials]);
    assert_eq!(client.access_token_lifetime, Some(3600));
    assert_eq!(
        client.scopes,
        ["address", "phone", "organization", "offline_access", "microprofile-jwt"]
    );
    let token_calls = requests(&kc.server, "POST", "/realms/acme/protocol/openid-connect/token")
        .await
        .len();
    assert_eq!(
        token_calls, 2,
        "one token, refreshed once after the 401, for seven admin calls"
    );
}

#[tokio::test]
async fn update_delete_and_optional_scopes() {
    let kc = admin_mode().await;
    let base = format!("/admin/realms/acme/clients/{UUID}");
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients"))
        .and(query_param("clientId", "orders-app-production"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([fixture("client.json")])))
        .mount(&kc.server)
        .await;
    Mock::given(method("PUT"))
        .and(path(&base))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/optional-client-scopes")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-optional-scopes.json")))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/client-scopes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-scopes.json")))
        .mount(&kc.server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!(
            "{base}/optional-client-scopes/2c7e9f10-3d4b-4a8e-b1f2-6e5d4c3b2a19"
        )))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(&base))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client.json")))
        .mount(&kc.server)
        .await;
    let spec = service_spec().with_scopes(["orders.read", "orders.write"]);
    kc.km
        .update_client(&ClientId::new("orders-app-production"), &spec)
        .await
        .unwrap();
    let put: Value = serde_json::from_slice(&requests(&kc.server, "PUT", &base).await[0].body).unwrap();
    assert!(
        put.get("optionalClientScopes").is_none(),
        "Keycloak ignores scopes in a PUT; they are attached one by one"
    );
    assert_eq!(put["clientId"], "orders-app-production");
    // An unknown scope is a clear invalid_scope, refused before anything changes.
    let before = kc.server.received_requests().await.unwrap().len();
    let err = kc
        .km
        .update_client(
            &ClientId::new("orders-app-production"),
            &service_spec().with_scopes(["nope"]),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidScope { .. }), "{err:?}");
    let after: Vec<String> = kc.server.received_requests().await.unwrap()[before..]
        .iter()
        .map(|r| r.method.to_string())
        .collect();
    assert!(
        after.iter().all(|m| m == "GET"),
        "only reads before the refusal: {after:?}"
    );
    Mock::given(method("DELETE"))
        .and(path(&base))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&kc.server)
        .await;
    kc.km
        .delete_client(&ClientId::new("orders-app-production"))
        .await
        .unwrap();
}

#[tokio::test]
async fn current_and_rotated_secrets() {
    let kc = admin_mode().await;
    let base = format!("/admin/realms/acme/clients/{UUID}");
    mount_client(&kc.server).await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/client-secret")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-secret.json")))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/client-secret/rotated")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-secret-rotated.json")))
        .up_to_n_times(1)
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/client-secret/rotated")))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-no-rotated-secret.json")))
        .mount(&kc.server)
        .await;
    let id = ClientId::new("orders-app-production");
    let listed = kc.km.list_secrets(&id).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["current", "rotated"]
    );
    assert_eq!(listed[0].created_at, 1_763_870_400);
    assert!(listed
        .iter()
        .all(|s| s.masked.ends_with("************") && !s.masked.contains("z4Ux09d1GrR5")));
    assert_eq!(
        kc.km.list_secrets(&id).await.unwrap().len(),
        1,
        "no rotated secret without the rotation policy"
    );
    Mock::given(method("DELETE"))
        .and(path(format!("{base}/client-secret/rotated")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&kc.server)
        .await;
    kc.km.delete_secret(&id, "rotated", false).await.unwrap();
    assert!(matches!(
        kc.km.delete_secret(&id, "current", false).await.unwrap_err(),
        Error::Conflict { .. }
    ));
    assert!(matches!(
        kc.km.delete_secret(&id, "rotated", true).await.unwrap_err(),
        Error::Unsupported { .. }
    ));
    Mock::given(method("POST"))
        .and(path(format!("{base}/client-secret")))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-secret-new.json")))
        .expect(2)
        .mount(&kc.server)
        .await;
    let fresh = kc.km.regenerate_secret(&id).await.unwrap();
    assert_eq!(
        fresh.client_secret.unwrap().expose_secret(),
        "Qm3o0b2yKpX8Vd7fL1cRr5nT9wZs4aHj"
    );
    let issued = kc.km.create_secret(&id, &SecretSpec::default()).await.unwrap();
    assert_eq!(issued.id, "current");
    assert!(matches!(
        kc.km
            .create_secret(
                &id,
                &SecretSpec {
                    description: Some("d".into()),
                    expires_in: None
                }
            )
            .await
            .unwrap_err(),
        Error::Unsupported { .. }
    ));
    assert_eq!(kc.km.capabilities().max_secrets_per_client, Some(2));
}

/// WSO2's per-key-manager secret rules on Keycloak: with `client_secret_storage = "retrievable"` a read of the
/// client carries its current secret, read back through `GET …/client-secret`; hashed (the default) never asks for
/// it; `multiple_secrets = false` refuses a second secret before any rotation is made (regenerate replaces it).
#[tokio::test]
async fn retrievable_secrets_and_one_secret_per_client() {
    let base = format!("/admin/realms/acme/clients/{UUID}");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/realms/acme/protocol/openid-connect/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("admin-token.json")))
        .mount(&server)
        .await;
    mount_client(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/client-secret")))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-secret.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/client-secret/rotated")))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-no-rotated-secret.json")))
        .mount(&server)
        .await;
    let mode = || Mode::Admin {
        client_id: "keymanager-admin".into(),
        client_secret: ClientSecret::new("admin-secret-0123456789"),
    };
    let id = ClientId::new("orders-app-production");
    let retrievable = SecretPolicy {
        storage: SecretStorage::Retrievable,
        max_per_client: Some(1),
    };
    let kc = build_with(server, mode(), retrievable).await;
    let client = kc.km.get_client(&id).await.unwrap();
    assert_eq!(
        client.client_secret.expect("shown again").expose_secret(),
        "z4Ux09d1GrR5GVUMleJVSPwYkDFdiaxZ"
    );
    let caps = kc.km.capabilities();
    assert!(caps.retrievable_secrets && !caps.multiple_secrets);
    assert_eq!(caps.max_secrets_per_client, Some(1));
    // One secret per client: a second one is refused before Keycloak rotates anything.
    let e = kc.km.create_secret(&id, &SecretSpec::default()).await.unwrap_err();
    assert!(matches!(e, Error::LimitExceeded { limit: Some(1), .. }), "{e:?}");
    assert!(
        requests(&kc.server, "POST", &format!("{base}/client-secret"))
            .await
            .is_empty(),
        "no rotation was made"
    );
    // Hashed (the default): the secret is never read back.
    let before = requests(&kc.server, "GET", &format!("{base}/client-secret"))
        .await
        .len();
    let kc = build_with(kc.server, mode(), SecretPolicy::default()).await;
    let client = kc.km.get_client(&id).await.unwrap();
    assert!(client.client_secret.is_none());
    assert_eq!(
        requests(&kc.server, "GET", &format!("{base}/client-secret"))
            .await
            .len(),
        before,
        "a hashed key manager never asks for the secret"
    );
    assert!(!kc.km.capabilities().retrievable_secrets);
}

/// An update is several calls at Keycloak (the client's PUT, then each optional scope detached or attached). When a
/// scope call is refused, what was changed is changed back (a scope detached is attached again) and the client's
/// representation read before is put back; the refusal is the answer: a refused update changes nothing.
#[tokio::test]
async fn an_update_refused_half_way_is_put_back() {
    let kc = admin_mode().await;
    let base = format!("/admin/realms/acme/clients/{UUID}");
    mount_client(&kc.server).await;
    Mock::given(method("PUT"))
        .and(path(&base))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(204))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{base}/optional-client-scopes")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-optional-scopes.json")))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/client-scopes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-scopes.json")))
        .mount(&kc.server)
        .await;
    // Detaching what is attached works; attaching the new scope is refused (once), attaching back works.
    Mock::given(method("DELETE"))
        .and(path_regex(format!("^{base}/optional-client-scopes/[^/]+$")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&kc.server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!(
            "{base}/optional-client-scopes/2c7e9f10-3d4b-4a8e-b1f2-6e5d4c3b2a19"
        )))
        .respond_with(ResponseTemplate::new(403).set_body_json(fixture("error-forbidden.json")))
        .with_priority(1)
        .mount(&kc.server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(format!("^{base}/optional-client-scopes/[^/]+$")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&kc.server)
        .await;
    // Wanted: only `orders.write` (not attached yet); attached now: `orders.read`.
    let attached: Vec<Value> = serde_json::from_value(fixture("client-optional-scopes.json")).unwrap();
    let detached_id = attached
        .iter()
        .find(|s| s["name"] != "orders.write")
        .and_then(|s| s["id"].as_str())
        .unwrap()
        .to_owned();
    let spec = service_spec().with_scopes(["orders.write"]);
    let e = kc
        .km
        .update_client(&ClientId::new("orders-app-production"), &spec)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Forbidden { .. }),
        "Keycloak's refusal is the answer: {e:?}"
    );
    let calls: Vec<(String, String)> = kc
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() != "GET" && r.url.path().starts_with(&base))
        .map(|r| (r.method.to_string(), r.url.path().trim_start_matches(&base).to_owned()))
        .collect();
    let scope = |id: &str| format!("/optional-client-scopes/{id}");
    assert_eq!(
        calls,
        [
            ("PUT".to_owned(), String::new()),
            ("DELETE".to_owned(), scope(&detached_id)),
            ("PUT".to_owned(), scope("2c7e9f10-3d4b-4a8e-b1f2-6e5d4c3b2a19")),
            ("PUT".to_owned(), scope(&detached_id)),
            ("PUT".to_owned(), String::new()),
        ],
        "update, detach, refused attach; then attached again and the client put back"
    );
    let puts = requests(&kc.server, "PUT", &base).await;
    let put_back: Value = serde_json::from_slice(&puts[1].body).unwrap();
    let read = fixture("client.json");
    for field in [
        "clientId",
        "name",
        "redirectUris",
        "serviceAccountsEnabled",
        "standardFlowEnabled",
    ] {
        assert_eq!(put_back[field], read[field], "{field} as it was read");
    }
}

/// In registration mode the registration read answers `client_secret` (PROVIDERS.md §2.7): with
/// `client_secret_storage = "retrievable"` it is passed on.
#[tokio::test]
async fn retrievable_secrets_in_registration_mode() {
    let server = MockServer::start().await;
    let mode = Mode::Registration {
        initial_access_token: Token::new("iat-jwt"),
    };
    let retrievable = SecretPolicy {
        storage: SecretStorage::Retrievable,
        max_per_client: None,
    };
    let kc = build_with(server, mode, retrievable).await;
    let uri = format!(
        "{}/realms/acme/clients-registrations/openid-connect/3e4ea0f3-59ea-434a-92f2-b0d3b54443e9",
        kc.server.uri()
    );
    let mut answer = fixture("registration-client.json");
    answer["registration_client_uri"] = json!(uri);
    answer.as_object_mut().unwrap().remove("client_id_issued_at");
    let id = ClientId::new("3e4ea0f3-59ea-434a-92f2-b0d3b54443e9");
    kc.registrations
        .put(
            "keycloak",
            id.as_str(),
            &keymanager::sql::registrations::Registration {
                uri: uri.clone(),
                token: Token::new(answer["registration_access_token"].as_str().unwrap()),
            },
        )
        .await
        .unwrap();
    Mock::given(method("GET"))
        .and(path(
            "/realms/acme/clients-registrations/openid-connect/3e4ea0f3-59ea-434a-92f2-b0d3b54443e9",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(&answer))
        .expect(1)
        .mount(&kc.server)
        .await;
    assert!(kc.km.capabilities().retrievable_secrets);
    let read = kc.km.get_client(&id).await.unwrap();
    assert_eq!(
        read.client_secret.expect("shown again").expose_secret(),
        "rmoEXFc1Z5tGTApxanBW7STlWODqRTYx"
    );
}

#[tokio::test]
async fn tokens_introspection_revocation_and_scopes() {
    let kc = admin_mode().await;
    Mock::given(method("POST"))
        .and(path("/realms/acme/protocol/openid-connect/token"))
        .and(header(
            "authorization",
            "Basic b3JkZXJzLWFwcC1wcm9kdWN0aW9uOno0VXgwOWQxR3JSNUdWVU1sZUpWU1B3WWtERmRpYXha",
        ))
        .and(body_string("grant_type=client_credentials&scope=profile+email"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("token.json")))
        .expect(1)
        .mount(&kc.server)
        .await;
    let token = kc
        .km
        .issue_token(
            &TokenRequest::client_credentials(
                "orders-app-production",
                ClientSecret::new("z4Ux09d1GrR5GVUMleJVSPwYkDFdiaxZ"),
            )
            .with_scopes(["profile", "email"]),
        )
        .await
        .unwrap();
    assert_eq!((token.expires_in, token.scopes.len()), (Some(300), 2));
    Mock::given(method("POST"))
        .and(path("/realms/acme/protocol/openid-connect/token/introspect"))
        .and(header(
            "authorization",
            "Basic a2V5bWFuYWdlci1hZG1pbjphZG1pbi1zZWNyZXQtMDEyMzQ1Njc4OQ==",
        ))
        .and(body_string("token=t.o.k&token_type_hint=access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("introspection-active.json")))
        .expect(1)
        .mount(&kc.server)
        .await;
    let info = kc.km.introspect(&Token::new("t.o.k"), None).await.unwrap();
    assert_eq!(
        (info.active, info.client_id.as_deref()),
        (true, Some("orders-app-production"))
    );
    Mock::given(method("POST"))
        .and(path("/realms/acme/protocol/openid-connect/revoke"))
        .and(body_string("token=t.o.k"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&kc.server)
        .await;
    kc.km
        .revoke_token(&RevocationRequest {
            token: Token::new("t.o.k"),
            token_type_hint: None,
            client_id: "orders-app-production".into(),
            client_secret: Some(ClientSecret::new("s")),
        })
        .await
        .unwrap();
    let err = {
        Mock::given(method("POST"))
            .and(path("/realms/acme/protocol/openid-connect/token"))
            .and(body_string("grant_type=client_credentials&scope=orders.write"))
            .respond_with(ResponseTemplate::new(400).set_body_json(fixture("error-invalid-scope.json")))
            .mount(&kc.server)
            .await;
        kc.km
            .issue_token(&TokenRequest::client_credentials("c", ClientSecret::new("s")).with_scopes(["orders.write"]))
            .await
            .unwrap_err()
    };
    assert!(matches!(err, Error::InvalidScope { .. }), "{err:?}");
    Mock::given(method("POST"))
        .and(path("/admin/realms/acme/client-scopes"))
        .and(admin_bearer())
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&kc.server)
        .await;
    let mut scope = Scope::new("orders.read");
    scope.description = Some("Read orders".into());
    kc.km.register_scope(&scope).await.unwrap();
    let sent: Value =
        serde_json::from_slice(&requests(&kc.server, "POST", "/admin/realms/acme/client-scopes").await[0].body)
            .unwrap();
    assert_eq!(
        sent,
        json!({"name": "orders.read", "description": "Read orders", "protocol": "openid-connect",
        "attributes": {"include.in.token.scope": "true", "display.on.consent.screen": "true"}})
    );
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/client-scopes"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-scopes.json")))
        .mount(&kc.server)
        .await;
    assert_eq!(kc.km.list_scopes().await.unwrap().len(), 2);
    Mock::given(method("DELETE"))
        .and(path(
            "/admin/realms/acme/client-scopes/2c7e9f10-3d4b-4a8e-b1f2-6e5d4c3b2a19",
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&kc.server)
        .await;
    kc.km.delete_scope("orders.write").await.unwrap();
    let profile = kc.km.token_profile();
    assert_eq!(
        (profile.client_id_claim.as_str(), profile.issuer),
        ("azp", format!("{}/realms/acme", kc.server.uri()))
    );
}

#[tokio::test]
async fn each_keycloak_error_shape_maps_to_its_kind() {
    let kc = admin_mode().await;
    Mock::given(method("POST"))
        .and(path("/admin/realms/acme/clients"))
        .respond_with(ResponseTemplate::new(409).set_body_json(fixture("error-conflict.json")))
        .mount(&kc.server)
        .await;
    let e = kc.km.register_client(&service_spec()).await.unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert_eq!(
        e.provider().unwrap().message.as_deref(),
        Some("Client orders-app-production already exists")
    );
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients"))
        .and(query_param("clientId", "missing"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&kc.server)
        .await;
    assert!(matches!(
        kc.km.get_client(&ClientId::new("missing")).await.unwrap_err(),
        Error::NotFound { .. }
    ));
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients"))
        .and(query_param("clientId", "gone"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": "gone-uuid", "clientId": "gone"}])))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients/gone-uuid"))
        .respond_with(ResponseTemplate::new(404).set_body_json(fixture("error-not-found.json")))
        .mount(&kc.server)
        .await;
    match kc.km.get_client(&ClientId::new("gone")).await.unwrap_err() {
        Error::NotFound { resource, id, provider } => {
            assert_eq!((resource.as_str(), id.as_str()), ("client", "gone"));
            assert_eq!(provider.unwrap().code.as_deref(), Some("Could not find client"));
        }
        other => panic!("{other:?}"),
    }
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/client-scopes"))
        .respond_with(ResponseTemplate::new(403).set_body_json(fixture("error-forbidden.json")))
        .mount(&kc.server)
        .await;
    assert!(matches!(
        kc.km.list_scopes().await.unwrap_err(),
        Error::Forbidden { .. }
    ));
    Mock::given(method("POST"))
        .and(path("/realms/acme/protocol/openid-connect/token"))
        .and(body_string("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error-invalid-client.json")))
        .mount(&kc.server)
        .await;
    let e = kc
        .km
        .issue_token(&TokenRequest::client_credentials("c", ClientSecret::new("wrong")))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unauthorized { .. }), "{e:?}");
    Mock::given(method("PUT"))
        .and(path(format!("/admin/realms/acme/clients/{UUID}")))
        .respond_with(ResponseTemplate::new(400).set_body_json(fixture("error-invalid-input.json")))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/realms/acme/clients"))
        .and(query_param("clientId", "orders-app-production"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([fixture("client.json")])))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/admin/realms/acme/clients/{UUID}/optional-client-scopes"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/admin/realms/acme/clients/{UUID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client.json")))
        .mount(&kc.server)
        .await;
    let no_scopes = service_spec().with_scopes(Vec::<String>::new());
    let e = kc
        .km
        .update_client(&ClientId::new("orders-app-production"), &no_scopes)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
    // A broken admin client: its token request fails, clearly.
    let other = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/realms/acme/protocol/openid-connect/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("error-invalid-client.json")))
        .mount(&other)
        .await;
    let broken = build(
        other,
        Mode::Admin {
            client_id: "x".into(),
            client_secret: ClientSecret::new("y"),
        },
    )
    .await;
    let e = broken.km.list_scopes().await.unwrap_err();
    assert!(e.to_string().contains("the admin client could not get a token"), "{e}");
}

#[tokio::test]
async fn registration_mode_keeps_the_registration_access_token_keycloak_replaces_on_every_update() {
    let server = MockServer::start().await;
    let kc = build(
        server,
        Mode::Registration {
            initial_access_token: Token::new("iat-jwt"),
        },
    )
    .await;
    let reg_base = format!("{}/realms/acme/clients-registrations/openid-connect", kc.server.uri());
    let mut answer = fixture("registration-client.json");
    answer["registration_client_uri"] = json!(format!("{reg_base}/3e4ea0f3-59ea-434a-92f2-b0d3b54443e9"));
    Mock::given(method("POST"))
        .and(path("/realms/acme/clients-registrations/openid-connect"))
        .and(header("authorization", "Bearer iat-jwt"))
        .respond_with(ResponseTemplate::new(201).set_body_json(&answer))
        .expect(1)
        .mount(&kc.server)
        .await;
    let spec = ClientSpec::new("orders-app PRODUCTION", KeyType::Production).with_scopes(["orders.read"]);
    let client = kc.km.register_client(&spec).await.unwrap();
    assert_eq!(client.client_id.as_str(), "3e4ea0f3-59ea-434a-92f2-b0d3b54443e9");
    assert!(client.client_secret.is_some());
    let sent: Value = serde_json::from_slice(
        &requests(&kc.server, "POST", "/realms/acme/clients-registrations/openid-connect").await[0].body,
    )
    .unwrap();
    assert_eq!(
        sent,
        json!({"client_name": "orders-app PRODUCTION", "redirect_uris": [], "grant_types": ["client_credentials"],
        "response_types": [], "token_endpoint_auth_method": "client_secret_basic", "scope": "orders.read"})
    );
    assert!(
        sent.get("client_id").is_none(),
        "Keycloak refuses a POST naming a client_id"
    );
    let rat1 = answer["registration_access_token"].as_str().unwrap().to_owned();
    let path_c = "/realms/acme/clients-registrations/openid-connect/3e4ea0f3-59ea-434a-92f2-b0d3b54443e9";
    // The update answers with a new token; the old one is dead from then on.
    let mut updated = answer.clone();
    updated["registration_access_token"] = json!("rat-2");
    updated.as_object_mut().unwrap().remove("client_secret");
    Mock::given(method("PUT"))
        .and(path(path_c))
        .and(header("authorization", format!("Bearer {rat1}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(&updated))
        .expect(1)
        .mount(&kc.server)
        .await;
    kc.km.update_client(&client.client_id, &spec).await.unwrap();
    let put: Value = serde_json::from_slice(&requests(&kc.server, "PUT", path_c).await[0].body).unwrap();
    assert_eq!(
        put["client_id"], "3e4ea0f3-59ea-434a-92f2-b0d3b54443e9",
        "a PUT names the client"
    );
    assert_eq!(
        kc.registrations
            .get("keycloak", client.client_id.as_str())
            .await
            .unwrap()
            .unwrap()
            .token
            .expose_secret(),
        "rat-2"
    );
    Mock::given(method("GET"))
        .and(path(path_c))
        .and(header("authorization", "Bearer rat-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&updated))
        .expect(1)
        .mount(&kc.server)
        .await;
    let read = kc.km.get_client(&client.client_id).await.unwrap();
    assert_eq!(read.name, "orders-app PRODUCTION");
    assert!(read.client_secret.is_none(), "hashed (the default): never passed on");
    Mock::given(method("DELETE"))
        .and(path(path_c))
        .and(header("authorization", "Bearer rat-2"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&kc.server)
        .await;
    kc.km.delete_client(&client.client_id).await.unwrap();
    assert!(matches!(
        kc.km.get_client(&client.client_id).await.unwrap_err(),
        Error::NotFound { .. }
    ));
    // What the registration service cannot express is refused before any call.
    let pkce = ClientSpec::new("spa", KeyType::Sandbox)
        .with_grant_types([GrantType::AuthorizationCode])
        .with_redirect_uris(["https://spa.example/cb"].map(|u| u.parse().unwrap()))
        .public()
        .with_pkce(PkcePolicy {
            required: true,
            allow_plain: false,
        });
    assert!(matches!(
        kc.km.register_client(&pkce).await.unwrap_err(),
        Error::Unsupported { .. }
    ));
    assert!(matches!(
        kc.km
            .register_client(&spec.clone().with_access_token_lifetime(60))
            .await
            .unwrap_err(),
        Error::Unsupported { .. }
    ));
    assert!(matches!(
        kc.km.list_secrets(&client.client_id).await.unwrap_err(),
        Error::Unsupported { .. }
    ));
}

// ----- schema check -----

fn validator(def: &str) -> jsonschema::Validator {
    let schemas = fixture("schemas.json");
    let root = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": schemas["$defs"], "$ref": format!("#/$defs/{def}")});
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{def}: {e}"))
}

fn check(def: &str, value: &Value, what: &str) {
    let errors: Vec<String> = validator(def)
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not follow Keycloak's {def}: {errors:#?}"
    );
}

#[test]
fn fixtures_follow_keycloak_schemas_and_the_check_can_fail() {
    check("ClientRepresentation", &fixture("client.json"), "client.json");
    for f in [
        "client-secret.json",
        "client-secret-new.json",
        "client-secret-rotated.json",
    ] {
        check("CredentialRepresentation", &fixture(f), f);
    }
    for s in fixture("client-scopes.json").as_array().unwrap() {
        check("ClientScopeRepresentation", s, "client-scopes.json");
    }
    check(
        "ErrorRepresentation",
        &fixture("error-conflict.json"),
        "error-conflict.json",
    );
    let v = validator("ClientRepresentation");
    let mut bad = fixture("client.json");
    bad["pkceRequired"] = json!(true);
    assert!(!v.is_valid(&bad), "an undefined field fails");
    let mut bad = fixture("client.json");
    bad["publicClient"] = json!("no");
    assert!(!v.is_valid(&bad), "a wrong type fails");
    let mut bad = fixture("client.json");
    bad.as_object_mut().unwrap().remove("clientId");
    assert!(!v.is_valid(&bad), "a missing clientId fails");
}

#[tokio::test]
async fn every_admin_json_body_the_connector_sends_follows_keycloak_schemas() {
    let kc = admin_mode().await;
    Mock::given(method("POST"))
        .and(path("/admin/realms/acme/clients"))
        .respond_with(ResponseTemplate::new(201).insert_header(
            "Location",
            format!("{}/admin/realms/acme/clients/{UUID}", kc.server.uri()).as_str(),
        ))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/admin/realms/acme/clients/{UUID}/client-secret")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client-secret.json")))
        .mount(&kc.server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("/admin/realms/acme/clients/{UUID}")))
        .respond_with(ResponseTemplate::new(204))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!(
            "/admin/realms/acme/clients/{UUID}/optional-client-scopes"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&kc.server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/admin/realms/acme/clients/{UUID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("client.json")))
        .mount(&kc.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/admin/realms/acme/client-scopes"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&kc.server)
        .await;
    let specs = [
        service_spec().with_scopes(Vec::<String>::new()),
        ClientSpec::new("web", KeyType::Production)
            .with_grant_types([
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::Password,
                GrantType::DeviceCode,
            ])
            .with_redirect_uris(["https://app.example/cb"].map(|u| u.parse().unwrap()))
            .with_pkce(PkcePolicy {
                required: true,
                allow_plain: true,
            }),
        ClientSpec::new("spa", KeyType::Sandbox)
            .with_grant_types([GrantType::AuthorizationCode, GrantType::Implicit])
            .with_redirect_uris(["https://spa.example/cb"].map(|u| u.parse().unwrap()))
            .public(),
    ];
    for spec in &specs {
        let c = kc.km.register_client(spec).await.unwrap();
        kc.km.update_client(&c.client_id, spec).await.unwrap();
    }
    kc.km.register_scope(&Scope::new("orders.read")).await.unwrap();
    let mut checked = 0;
    for r in kc.server.received_requests().await.unwrap() {
        let def = match (r.method.as_str(), r.url.path()) {
            ("POST" | "PUT", p)
                if p.starts_with("/admin/realms/acme/clients")
                    && !p.contains("scope")
                    && !p.ends_with("client-secret") =>
            {
                "ClientRepresentation"
            }
            ("POST", "/admin/realms/acme/client-scopes") => "ClientScopeRepresentation",
            _ => continue,
        };
        check(
            def,
            &serde_json::from_slice(&r.body).unwrap(),
            &format!("{} {}", r.method, r.url.path()),
        );
        checked += 1;
    }
    assert_eq!(checked, 3 * 2 + 1);
}
