//! The key service and management API over a test connector: failure handling, authentication, malformed input,
//! missing capabilities, and the OpenAPI document against the real routes.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use keymanager::api::{router, ROUTES};
use keymanager::config::KeyManagerConfig;
use keymanager::connector_kit::{ConnectorDescriptor, Setting};
use keymanager::model::*;
use keymanager::registry::{BuildContext, ConnectorFactory, KeyManagers};
use keymanager::service::{
    Application, ApplicationStore, AuditPage, AuditQuery, AuditRecord, KeyMapping, KeyService, SqlApplicationStore,
};
use keymanager::{Error, KeyManager, Result};
use serde_json::{json, Value};
use tower::ServiceExt;

const ADMIN: &str = "test-admin-token";

/// An in-memory key manager whose register and delete can be made to fail.
/// The `memory` connector type: its key managers are built in code here.
struct MemoryFactory;

#[async_trait]
impl ConnectorFactory for MemoryFactory {
    fn descriptor(&self) -> ConnectorDescriptor {
        ConnectorDescriptor {
            kind: "memory".into(),
            display_name: "Memory".into(),
            description: "test".into(),
            connection_settings: vec![],
            application_properties: vec![Setting::string("tier", "Tier").one_of(&["gold"])],
        }
    }

    async fn build(&self, _: &KeyManagerConfig, _: &BuildContext) -> Result<Arc<dyn KeyManager>> {
        Err(Error::unsupported("building a memory key manager from a table"))
    }
}

#[derive(Default)]
struct Memory {
    clients: Mutex<HashMap<String, OAuthClient>>,
    fail_register: AtomicBool,
    fail_delete: AtomicBool,
    /// Milliseconds each registration takes, to hold a race window open.
    register_delay_ms: std::sync::atomic::AtomicU64,
    /// Whether it keeps secrets at all (off: the trait's `Unsupported` answers).
    keeps_secrets: AtomicBool,
    /// Secrets by client, kept like Okta's: without descriptions.
    secrets: Mutex<HashMap<String, Vec<SecretInfo>>>,
}

#[async_trait]
impl KeyManager for Memory {
    fn name(&self) -> &str {
        "memory"
    }
    fn kind(&self) -> &str {
        "memory"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            grant_types: vec![GrantType::ClientCredentials],
            multiple_secrets: true,
            secret_description: false,
            ..Capabilities::default()
        }
    }
    async fn create_secret(&self, id: &ClientId, spec: &SecretSpec) -> Result<IssuedSecret> {
        if !self.keeps_secrets.load(Ordering::SeqCst) {
            return Err(Error::unsupported("create_secret"));
        }
        if spec.description.is_some() {
            return Err(Error::unsupported("secret descriptions (this provider keeps none)"));
        }
        let mut all = self.secrets.lock().unwrap();
        let list = all.entry(id.to_string()).or_default();
        let info = SecretInfo {
            id: format!("s{}", list.len() + 1),
            masked: "sec*****".into(),
            description: None,
            created_at: 1,
            expires_at: None,
            status: SecretStatus::Active,
        };
        list.push(info.clone());
        Ok(IssuedSecret {
            id: info.id.clone(),
            secret: ClientSecret::new(format!("secret-{}", info.id)),
            info,
        })
    }
    async fn list_secrets(&self, id: &ClientId) -> Result<Vec<SecretInfo>> {
        if !self.keeps_secrets.load(Ordering::SeqCst) {
            return Err(Error::unsupported("list_secrets"));
        }
        Ok(self
            .secrets
            .lock()
            .unwrap()
            .get(id.as_str())
            .cloned()
            .unwrap_or_default())
    }
    async fn delete_secret(&self, id: &ClientId, secret_id: &str, _revoke: bool) -> Result<()> {
        let mut all = self.secrets.lock().unwrap();
        let list = all.entry(id.to_string()).or_default();
        let before = list.len();
        list.retain(|s| s.id != secret_id);
        if list.len() == before {
            return Err(Error::not_found("secret", secret_id));
        }
        Ok(())
    }
    fn token_profile(&self) -> TokenProfile {
        TokenProfile {
            issuer: "https://memory.example".into(),
            jwks_uri: None,
            introspection_endpoint: None,
            client_id_claim: "client_id".into(),
            scope_claim: ScopeClaim::SpaceSeparated("scope".into()),
            audience: None,
            algorithms: vec![],
            access_token_typ: None,
        }
    }
    async fn register_client(&self, spec: &ClientSpec) -> Result<OAuthClient> {
        let delay = self.register_delay_ms.load(Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        if self.fail_register.load(Ordering::SeqCst) {
            return Err(Error::Upstream(Box::new(keymanager::error::ProviderError::from_body(
                503, b"down", None,
            ))));
        }
        let id = format!("client-{}", self.clients.lock().unwrap().len() + 1);
        let client = OAuthClient {
            client_id: ClientId::new(&id),
            client_secret: Some(ClientSecret::new(format!("{id}-secret"))),
            name: spec.name.clone(),
            grant_types: spec.grant_types.clone(),
            redirect_uris: spec.redirect_uri_strings(),
            scopes: spec.scopes.clone(),
            public_client: spec.public_client,
            pkce: spec.pkce,
            access_token_lifetime: None,
            refresh_token_lifetime: None,
            created_at: None,
            additional_properties: spec.additional_properties.clone(),
        };
        let mut stored = client.clone();
        stored.client_secret = None;
        self.clients.lock().unwrap().insert(id, stored);
        Ok(client)
    }
    async fn get_client(&self, id: &ClientId) -> Result<OAuthClient> {
        self.clients
            .lock()
            .unwrap()
            .get(id.as_str())
            .cloned()
            .ok_or_else(|| Error::not_found("client", id.as_str()))
    }
    async fn delete_client(&self, id: &ClientId) -> Result<()> {
        if self.fail_delete.load(Ordering::SeqCst) {
            return Err(Error::Timeout {
                message: "provider timed out".into(),
            });
        }
        self.clients
            .lock()
            .unwrap()
            .remove(id.as_str())
            .map(|_| ())
            .ok_or_else(|| Error::not_found("client", id.as_str()))
    }
    async fn map_client(&self, id: &ClientId, secret: Option<&ClientSecret>) -> Result<OAuthClient> {
        match secret {
            Some(s) if s.expose_secret() == format!("{id}-secret") => self.get_client(id).await,
            _ => Err(Error::unauthorized("client authentication failed")),
        }
    }
    async fn issue_token(&self, req: &TokenRequest) -> Result<AccessToken> {
        match &req.client_secret {
            Some(s) if s.expose_secret() == format!("{}-secret", req.client_id) => Ok(AccessToken {
                access_token: Token::new(format!("token-of-{}", req.client_id)),
                token_type: "Bearer".into(),
                expires_in: req.validity.or(Some(3600)),
                scopes: req.scopes.clone(),
                refresh_token: None,
                id_token: None,
            }),
            _ => Err(Error::unauthorized("client authentication failed")),
        }
    }
}

/// A store whose mapping inserts can be made to fail.
struct Flaky {
    inner: SqlApplicationStore,
    fail_mappings: AtomicBool,
}

#[async_trait]
impl ApplicationStore for Flaky {
    async fn insert_application(&self, a: &Application, audit: Option<&AuditRecord>) -> Result<()> {
        self.inner.insert_application(a, audit).await
    }
    async fn set_owner(&self, id: &str, owner: &str, audit: Option<&AuditRecord>) -> Result<()> {
        self.inner.set_owner(id, owner, audit).await
    }
    async fn list_applications(
        &self,
        query: &keymanager::service::ApplicationQuery,
    ) -> Result<keymanager::service::ApplicationPage> {
        self.inner.list_applications(query).await
    }
    async fn update_application(&self, a: &Application, audit: Option<&AuditRecord>) -> Result<()> {
        self.inner.update_application(a, audit).await
    }
    async fn put_secret_description(&self, km: &str, c: &str, s: &str, d: &str) -> Result<()> {
        if self.fail_mappings.load(Ordering::SeqCst) {
            return Err(Error::storage("disk full"));
        }
        self.inner.put_secret_description(km, c, s, d).await
    }
    async fn list_key_managers(&self) -> Result<Vec<keymanager::service::StoredKeyManager>> {
        self.inner.list_key_managers().await
    }
    async fn swap_key_manager_settings(
        &self,
        name: &str,
        expected: &serde_json::Map<String, serde_json::Value>,
        new: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool> {
        self.inner.swap_key_manager_settings(name, expected, new).await
    }
    async fn put_key_manager(
        &self,
        km: &keymanager::service::StoredKeyManager,
        replace: bool,
        audit: Option<&AuditRecord>,
    ) -> Result<()> {
        self.inner.put_key_manager(km, replace, audit).await
    }
    async fn delete_key_manager(&self, name: &str, with_mappings: bool, audit: Option<&AuditRecord>) -> Result<()> {
        self.inner.delete_key_manager(name, with_mappings, audit).await
    }
    async fn count_mappings_of(&self, km: &str) -> Result<u64> {
        self.inner.count_mappings_of(km).await
    }
    async fn secret_descriptions(&self, km: &str, c: &str) -> Result<Vec<(String, String)>> {
        self.inner.secret_descriptions(km, c).await
    }
    async fn delete_secret_description(&self, km: &str, c: &str, s: &str) -> Result<()> {
        self.inner.delete_secret_description(km, c, s).await
    }
    async fn get_application(&self, id: &str) -> Result<Option<Application>> {
        self.inner.get_application(id).await
    }
    async fn find_applications_by_name(&self, n: &str) -> Result<Vec<Application>> {
        self.inner.find_applications_by_name(n).await
    }
    async fn delete_application(&self, id: &str, audit: Option<&AuditRecord>) -> Result<()> {
        self.inner.delete_application(id, audit).await
    }
    async fn insert_mapping(&self, m: &KeyMapping, audit: Option<&AuditRecord>) -> Result<()> {
        if self.fail_mappings.load(Ordering::SeqCst) {
            return Err(Error::storage("disk full"));
        }
        self.inner.insert_mapping(m, audit).await
    }
    async fn list_mappings(&self, app: &str) -> Result<Vec<KeyMapping>> {
        self.inner.list_mappings(app).await
    }
    async fn find_mapping_by_client(&self, km: &str, client: &str) -> Result<Option<KeyMapping>> {
        self.inner.find_mapping_by_client(km, client).await
    }
    async fn delete_mapping(&self, id: &str, audit: Option<&AuditRecord>) -> Result<()> {
        self.inner.delete_mapping(id, audit).await
    }
    async fn record_orphan(&self, km: &str, id: &str, reason: &str) -> Result<()> {
        self.inner.record_orphan(km, id, reason).await
    }
    async fn append_audit(&self, r: &AuditRecord) -> Result<()> {
        self.inner.append_audit(r).await
    }
    async fn audit_records(&self, q: &AuditQuery) -> Result<AuditPage> {
        self.inner.audit_records(q).await
    }
    async fn purge_audit(&self, before: i64) -> Result<u64> {
        self.inner.purge_audit(before).await
    }
}

struct Fixture {
    app: Router,
    memory: Arc<Memory>,
    store: Arc<Flaky>,
    url: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ks.db").display());
    let store = Arc::new(Flaky {
        inner: SqlApplicationStore::connect(&url, None).await.unwrap(),
        fail_mappings: AtomicBool::new(false),
    });
    let memory = Arc::new(Memory::default());
    let mut kms = KeyManagers::default();
    kms.insert(memory.clone(), &MemoryFactory).unwrap();
    let service = KeyService::new(kms, store.clone());
    let app = router(service, Arc::new(|t: &str| (t == ADMIN).then(|| "test".to_owned())));
    Fixture {
        app,
        memory,
        store,
        url,
        _dir: dir,
    }
}

async fn call(app: &Router, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::from(body.unwrap_or("").to_owned())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store", "{method} {path}");
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    common::openapi::check(method, path, status.as_u16(), &body);
    (status, body)
}

async fn new_app(f: &Fixture) -> String {
    let (s, body) = call(
        &f.app,
        "POST",
        "/api/applications",
        Some(ADMIN),
        Some(r#"{"name":"orders","owner":"alice"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["applicationId"].as_str().unwrap().to_owned()
}

fn assert_error_shape(body: &Value, code: u16) {
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].is_string() && body["description"].is_string() && body["errors"].is_array(),
        "{body}"
    );
}

#[tokio::test]
async fn a_failing_provider_call_stores_nothing() {
    let f = fixture().await;
    let id = new_app(&f).await;
    f.memory.fail_register.store(true, Ordering::SeqCst);
    let (s, body) = call(
        &f.app,
        "POST",
        &format!("/api/applications/{id}/generate-keys"),
        Some(ADMIN),
        Some(r#"{"keyType":"production","keyManager":"memory"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    assert_error_shape(&body, 502);
    let (_, keys) = call(
        &f.app,
        "GET",
        &format!("/api/applications/{id}/oauth-keys"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(keys["count"], 0);
}

#[tokio::test]
async fn a_mapping_that_cannot_be_stored_deletes_the_client_again_or_records_it() {
    let f = fixture().await;
    let id = new_app(&f).await;
    f.store.fail_mappings.store(true, Ordering::SeqCst);
    let path = format!("/api/applications/{id}/generate-keys");
    let body = r#"{"keyType":"SANDBOX","keyManager":"memory"}"#;
    let (s, _) = call(&f.app, "POST", &path, Some(ADMIN), Some(body)).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(f.memory.clients.lock().unwrap().is_empty(), "the client was cleaned up");
    // When the clean-up fails too, the client is recorded as orphaned, not forgotten.
    f.memory.fail_delete.store(true, Ordering::SeqCst);
    let (s, _) = call(&f.app, "POST", &path, Some(ADMIN), Some(body)).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(f.memory.clients.lock().unwrap().len(), 1);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&f.url).await.unwrap();
    let row: (String, String) = sqlx::query_as("SELECT key_manager, client_id FROM km_orphaned_clients")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row, ("memory".to_owned(), "client-1".to_owned()));
}

#[tokio::test]
async fn generate_keys_then_token_secret_once_and_one_mapping_per_environment() {
    let f = fixture().await;
    let id = new_app(&f).await;
    let path = format!("/api/applications/{id}/generate-keys");
    let (s, key) = call(
        &f.app,
        "POST",
        &path,
        Some(ADMIN),
        Some(r#"{"keyType":"PRODUCTION","keyManager":"memory","scopes":["a"],"generateToken":true,"validityTime":60}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{key}");
    assert_eq!(key["consumerSecret"], "client-1-secret");
    assert_eq!(key["keyState"], "COMPLETED");
    assert_eq!(key["token"]["validityTime"], 60);
    assert_eq!(key["token"]["tokenScopes"], json!(["a"]));
    let (s, body) = call(
        &f.app,
        "POST",
        &path,
        Some(ADMIN),
        Some(r#"{"keyType":"production","keyManager":"memory"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let mapping = key["keyMappingId"].as_str().unwrap();
    let (s, shown) = call(
        &f.app,
        "GET",
        &format!("/api/applications/{id}/oauth-keys/{mapping}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(shown.get("consumerSecret").is_none(), "the secret is shown once");
    let (s, token) = call(
        &f.app,
        "POST",
        &format!("/api/applications/{id}/oauth-keys/{mapping}/generate-token"),
        Some(ADMIN),
        Some(r#"{"consumerSecret":"client-1-secret","scopes":["a"]}"#),
    )
    .await;
    assert_eq!(
        (s, token["accessToken"].as_str()),
        (StatusCode::OK, Some("token-of-client-1"))
    );
    // A wrong consumer secret is a refusal of those keys, not of the caller: 400 invalid_client naming the
    // field, and no challenge that would send the caller to fix their own token (issue 30, item 1).
    let mut req = Request::builder()
        .method("POST")
        .uri(format!("/api/applications/{id}/oauth-keys/{mapping}/generate-token"))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"));
    req = req.header("x-test", "wrong-secret");
    let resp = f
        .app
        .clone()
        .oneshot(req.body(Body::from(r#"{"consumerSecret":"wrong"}"#)).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.headers().get(header::WWW_AUTHENTICATE).is_none());
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
    let refused: Value = serde_json::from_slice(&bytes).unwrap();
    common::openapi::check(
        "POST",
        &format!("/api/applications/{id}/oauth-keys/{mapping}/generate-token"),
        400,
        &refused,
    );
    assert_error_shape(&refused, 400);
    assert_eq!(refused["message"], "invalid_client", "{refused}");
    assert_eq!(refused["errors"][0]["field"], "consumerSecret", "{refused}");
    assert!(refused["description"]
        .as_str()
        .unwrap()
        .contains("consumer secret was not accepted"));
    // Deleting the application deletes its generated clients.
    let (s, _) = call(&f.app, "DELETE", &format!("/api/applications/{id}"), Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(f.memory.clients.lock().unwrap().is_empty());
    let (s, _) = call(&f.app, "GET", &format!("/api/applications/{id}"), Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_key_manager_missing_capability_and_bad_input_are_clear_4xx() {
    let f = fixture().await;
    let id = new_app(&f).await;
    let path = format!("/api/applications/{id}/generate-keys");
    let (s, body) = call(
        &f.app,
        "POST",
        &path,
        Some(ADMIN),
        Some(r#"{"keyType":"PRODUCTION","keyManager":"okta"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["field"], "keyManager");
    assert!(
        body["description"].as_str().unwrap().contains("configured: memory"),
        "{body}"
    );
    // A callback URL the redirect URI policy refuses: 400 naming `callbackUrl`, before any key manager is asked.
    for bad in ["http://app.example/cb", "https://a.example/cb#x", "javascript:alert(1)"] {
        let body = json!({"keyType": "PRODUCTION", "keyManager": "memory",
            "grantTypesToBeSupported": ["client_credentials"], "callbackUrl": bad});
        let (s, body) = call(&f.app, "POST", &path, Some(ADMIN), Some(&body.to_string())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["errors"][0]["field"], "callbackUrl", "{bad}: {body}");
    }
    // A grant type the test connector does not support.
    let (s, body) = call(&f.app, "POST", &path, Some(ADMIN), Some(
        r#"{"keyType":"PRODUCTION","keyManager":"memory","grantTypesToBeSupported":["authorization_code"],"callbackUrl":"https://a.example/cb"}"#)).await;
    assert_eq!(
        (s, body["message"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Not Supported")),
        "{body}"
    );
    let (s, body) = call(
        &f.app,
        "POST",
        &path,
        Some(ADMIN),
        Some(r#"{"keyType":"PRODUCTION","keyManager":"memory","additionalProperties":{"tier":"tin"}}"#),
    )
    .await;
    assert_eq!(
        (s, body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("additionalProperties.tier"))
    );
    let (s, body) = call(&f.app, "POST", &path, Some(ADMIN), Some(r#"{"keyType":"staging"}"#)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    // Secrets are an optional capability the test connector lacks.
    let (_, key) = call(
        &f.app,
        "POST",
        &path,
        Some(ADMIN),
        Some(r#"{"keyType":"SANDBOX","keyManager":"memory"}"#),
    )
    .await;
    let mapping = key["keyMappingId"].as_str().unwrap();
    let (s, body) = call(
        &f.app,
        "POST",
        &format!("/api/applications/{id}/oauth-keys/{mapping}/secrets"),
        Some(ADMIN),
        Some("{}"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["description"].as_str().unwrap().contains("create_secret"),
        "{body}"
    );
    // Malformed JSON and unknown fields name what is wrong.
    let (s, body) = call(&f.app, "POST", "/api/applications", Some(ADMIN), Some("{\"name\": ")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error_shape(&body, 400);
    let (s, body) = call(
        &f.app,
        "POST",
        "/api/applications",
        Some(ADMIN),
        Some(r#"{"name":"x","owner":7}"#),
    )
    .await;
    assert_eq!(
        (s, body["errors"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("owner"))
    );
    let (s, body) = call(
        &f.app,
        "POST",
        "/api/applications",
        Some(ADMIN),
        Some(r#"{"name":"x","owner":"o","color":"red"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        body["description"].as_str().unwrap().contains("unknown field `color`"),
        "{body}"
    );
    let (s, _) = call(
        &f.app,
        "POST",
        "/api/applications",
        Some(ADMIN),
        Some(r#"{"name":"orders","owner":"alice"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = call(&f.app, "GET", "/api/no-such-route", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_route_but_the_document_needs_the_admin_token() {
    let f = fixture().await;
    for (method, path) in ROUTES {
        let concrete = path
            .replace("{applicationId}", "a")
            .replace("{keyMappingId}", "m")
            .replace("{secretId}", "s")
            .replace("{keyManager}", "k")
            .replace("{username}", "u")
            .replace("{name}", "n")
            .replace("{scope}", "s");
        let method = method.to_uppercase();
        for token in [None, Some("wrong")] {
            let (s, body) = call(&f.app, &method, &concrete, token, Some("{}")).await;
            if *path == "/api/openapi.json" {
                assert_eq!(s, StatusCode::OK);
            } else {
                assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path} with {token:?}");
                assert_error_shape(&body, 401);
            }
        }
    }
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_real_routes() {
    let f = fixture().await;
    let (s, doc) = call(&f.app, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        &doc,
        common::openapi::document(),
        "the served document is the generated one"
    );
    // Each operation's security is its route's rule: an admin token or one of the scopes that opens it.
    for (method, path, access, _) in keymanager::api::access::RULES {
        let security = &doc["paths"][*path][*method]["security"];
        let scopes: Vec<&str> = security
            .as_array()
            .map(|all| {
                all.iter()
                    .filter_map(|r| r.get("accessToken"))
                    .filter_map(|s| s[0].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(scopes, access.scopes(), "{method} {path}");
        let admin_token = security
            .as_array()
            .is_some_and(|all| all.iter().any(|r| r.get("adminToken").is_some()));
        assert_eq!(admin_token, !access.scopes().is_empty(), "{method} {path}");
    }
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.push((method.to_owned(), path.clone()));
            }
        }
    }
    let mut served: Vec<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    // Every documented operation answers (not 404/405) on the real router.
    for (method, path) in &served {
        let concrete = path
            .replace("{applicationId}", "a")
            .replace("{keyMappingId}", "m")
            .replace("{secretId}", "s")
            .replace("{keyManager}", "k")
            .replace("{username}", "u")
            .replace("{name}", "n")
            .replace("{scope}", "s");
        let (s, _) = call(&f.app, &method.to_uppercase(), &concrete, Some(ADMIN), Some("{}")).await;
        assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        if !path.contains('{') {
            assert_ne!(s, StatusCode::NOT_FOUND, "{method} {path}");
        }
    }
    // Every $ref resolves.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/").skip(1) {
        let target = &part[..part.find('"').unwrap()];
        let mut node = &doc;
        for seg in target.split('/') {
            node = &node[seg];
        }
        assert!(!node.is_null(), "dangling $ref #/{target}");
    }
}

/// The key service's store on PostgreSQL (when `KEYMANAGER_TEST_POSTGRES_URL` is set), sharing one schema with the
/// resident key manager's tables, migrated in both orders.
#[tokio::test]
async fn the_store_works_on_postgres_next_to_the_resident_tables() {
    for resident_first in [true, false] {
        let Some(url) = common::postgres_schema("km_api").await else {
            return;
        };
        let store = if resident_first {
            keymanager_resident::Store::connect(&url, None).await.unwrap();
            SqlApplicationStore::connect(&url, None).await.unwrap()
        } else {
            let s = SqlApplicationStore::connect(&url, None).await.unwrap();
            keymanager_resident::Store::connect(&url, None).await.unwrap();
            s
        };
        // Both connect again cleanly (each ignores the other's migrations).
        SqlApplicationStore::connect(&url, None).await.unwrap();
        keymanager_resident::Store::connect(&url, None).await.unwrap();

        let app = Application {
            id: "a1".into(),
            name: "orders".into(),
            owner: "alice".into(),
            created_at: 1,
            description: Some("takes orders".into()),
            attributes: [("tier".to_owned(), "gold".to_owned())].into_iter().collect(),
        };
        store.insert_application(&app, None).await.unwrap();
        assert_eq!(
            store.get_application("a1").await.unwrap().as_ref(),
            Some(&app),
            "attributes kept"
        );
        assert!(matches!(
            store
                .insert_application(
                    &Application {
                        id: "a2".into(),
                        ..app.clone()
                    },
                    None
                )
                .await,
            Err(Error::Conflict { .. })
        ));
        let mapping = KeyMapping {
            id: "m1".into(),
            application_id: "a1".into(),
            key_type: KeyType::Production,
            key_manager: "memory".into(),
            client_id: "c1".into(),
            state: keymanager::service::KeyState::Completed,
            origin: keymanager::service::KeyOrigin::Generated,
            created_at: 2,
        };
        store.insert_mapping(&mapping, None).await.unwrap();
        assert!(matches!(
            store
                .insert_mapping(
                    &KeyMapping {
                        id: "m2".into(),
                        ..mapping.clone()
                    },
                    None
                )
                .await,
            Err(Error::Conflict { .. })
        ));
        assert_eq!(store.list_mappings("a1").await.unwrap(), vec![mapping]);
        assert_eq!(store.find_applications_by_name("orders").await.unwrap(), vec![app]);
        store.record_orphan("memory", "c9", "test").await.unwrap();
        store.record_orphan("memory", "c9", "again").await.unwrap();
        store.delete_application("a1", None).await.unwrap();
        assert!(store.get_application("a1").await.unwrap().is_none());
        assert!(store.list_mappings("a1").await.unwrap().is_empty());
    }
}

async fn named_app(f: &Fixture, name: &str) -> String {
    let (s, body) = call(
        &f.app,
        "POST",
        "/api/applications",
        Some(ADMIN),
        Some(&json!({"name": name, "owner": "alice"}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    body["applicationId"].as_str().unwrap().to_owned()
}

/// Review finding 7: a client is held by at most one application per key manager (409), and a client deleted at
/// the provider behind the service's back is listed as `CLIENT_MISSING` instead of failing the listing.
#[tokio::test]
async fn a_client_has_one_holder_and_a_missing_client_does_not_break_the_listing() {
    let f = fixture().await;
    let first = named_app(&f, "orders").await;
    let second = named_app(&f, "billing").await;
    let (s, key) = call(
        &f.app,
        "POST",
        &format!("/api/applications/{first}/generate-keys"),
        Some(ADMIN),
        Some(r#"{"keyType":"PRODUCTION","keyManager":"memory"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{key}");
    let client = key["consumerKey"].as_str().unwrap().to_owned();
    let body = json!({"consumerKey": client, "consumerSecret": format!("{client}-secret"), "keyType": "SANDBOX",
        "keyManager": "memory"});
    let map = |app: String, body: Value| {
        let app_router = f.app.clone();
        async move {
            call(
                &app_router,
                "POST",
                &format!("/api/applications/{app}/map-keys"),
                Some(ADMIN),
                Some(&body.to_string()),
            )
            .await
        }
    };
    for app in [&second, &first] {
        let (s, answer) = map(app.clone(), body.clone()).await;
        assert_eq!(s, StatusCode::CONFLICT, "{answer}");
        assert_error_shape(&answer, 409);
    }
    // Review 2 (low): without the client's secret nobody learns whether it is held: the secret is checked first.
    let mut guess = body.clone();
    guess["consumerSecret"] = json!("a guess");
    let (s, answer) = map(second.clone(), guess).await;
    assert_ne!(s, StatusCode::CONFLICT, "{answer}");
    assert!(!answer.to_string().contains("held"), "{answer}");
    // The store refuses it too, whatever the caller checked before (a race between two map-keys).
    let store = SqlApplicationStore::connect(&f.url, None).await.unwrap();
    let held = store
        .insert_mapping(
            &KeyMapping {
                id: "m-race".into(),
                application_id: second.clone(),
                key_type: KeyType::Sandbox,
                key_manager: "memory".into(),
                client_id: client.clone(),
                state: keymanager::service::KeyState::Completed,
                origin: keymanager::service::KeyOrigin::Mapped,
                created_at: 1,
            },
            None,
        )
        .await;
    assert!(
        matches!(&held, Err(Error::Conflict { message, .. }) if message.contains("another application")),
        "{held:?}"
    );
    // The provider loses the client: the listing still answers, and says so.
    f.memory.clients.lock().unwrap().clear();
    let (s, list) = call(
        &f.app,
        "GET",
        &format!("/api/applications/{first}/oauth-keys"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["list"][0]["keyState"], "CLIENT_MISSING");
    assert_eq!(list["list"][0]["consumerKey"], client.as_str());
    let (s, _) = call(
        &f.app,
        "DELETE",
        &format!("/api/applications/{first}"),
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
}

/// Review finding 9: generate-keys racing delete-application answers 2xx, 404 or 409, never a 5xx, and leaves no
/// mapping behind a deleted application.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generate_keys_racing_delete_application_is_never_a_5xx() {
    let f = fixture().await;
    // Registration takes long enough for the delete to land between the existence check and the insert.
    f.memory.register_delay_ms.store(30, Ordering::SeqCst);
    for round in 0..20 {
        let app = named_app(&f, &format!("race-{round}")).await;
        let generate = {
            let router = f.app.clone();
            let path = format!("/api/applications/{app}/generate-keys");
            tokio::spawn(async move {
                call(
                    &router,
                    "POST",
                    &path,
                    Some(ADMIN),
                    Some(r#"{"keyType":"PRODUCTION","keyManager":"memory"}"#),
                )
                .await
            })
        };
        let delete = {
            let router = f.app.clone();
            let path = format!("/api/applications/{app}");
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(if round % 2 == 0 { 5 } else { 0 })).await;
                call(&router, "DELETE", &path, Some(ADMIN), None).await
            })
        };
        for (status, body) in [generate.await.unwrap(), delete.await.unwrap()] {
            assert!(
                status.is_success() || status == StatusCode::NOT_FOUND || status == StatusCode::CONFLICT,
                "round {round}: {status} {body}"
            );
            if !status.is_success() {
                assert_error_shape(&body, status.as_u16());
            }
        }
        let store = SqlApplicationStore::connect(&f.url, None).await.unwrap();
        if store.get_application(&app).await.unwrap().is_none() {
            assert!(store.list_mappings(&app).await.unwrap().is_empty(), "round {round}");
        }
    }
}

/// Authorization is decided in one place for the whole route table: a route added without a rule fails here, a
/// route that changes something names the action its audit record carries, and no rule is left for a route that
/// is gone.
#[test]
fn every_route_has_an_access_decision() {
    use keymanager::api::access::{rule, Access, RULES};
    for (method, path) in ROUTES {
        let r = rule(method, path).unwrap_or_else(|| panic!("{method} {path} has no access decision"));
        assert_eq!(
            r.access == Access::Public,
            *path == "/api/openapi.json",
            "{method} {path}"
        );
        // Reads carry no action; every change does (introspection and discovery are POSTs that change nothing; a
        // gateway recording a DPoP proof it accepted is one write per request, bookkeeping no one audits).
        let changes = *method != "get"
            && !path.ends_with("/introspect")
            && !path.ends_with("/discover")
            && *path != "/api/gateway/dpop-proofs";
        assert_eq!(r.action.is_some(), changes, "{method} {path}: audit action");
    }
    for (method, path, _, _) in RULES {
        assert!(
            ROUTES.contains(&(*method, *path)),
            "a rule for a route that is not served: {method} {path}"
        );
    }
    assert_eq!(rule("get", "/api/not-a-route"), None);
}

/// The application lifecycle on one store: 1,000 applications paged (WSO2's `pagination`), searched (any case, `%`
/// and `_` literal) and sorted; updates of name, description and attributes, a taken name `409`; bad paging and
/// attributes refused by field; every list route pages. Run on SQLite and on PostgreSQL.
async fn lifecycle_on(url: &str) {
    let store = Arc::new(SqlApplicationStore::connect(url, None).await.unwrap());
    let mut kms = KeyManagers::default();
    kms.insert(Arc::new(Memory::default()), &MemoryFactory).unwrap();
    let app = router(
        KeyService::new(kms, store.clone()),
        Arc::new(|t: &str| (t == ADMIN).then(|| "test".to_owned())),
    );
    let mut ids = Vec::new();
    for i in 0..1000 {
        let description = if i % 100 == 7 {
            ", \"description\": \"Has 50% OFF\""
        } else {
            ""
        };
        let (s, body) = call(
            &app,
            "POST",
            "/api/applications",
            Some(ADMIN),
            Some(&format!(r#"{{"name": "App-{i:04}", "owner": "alice"{description}}}"#)),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        ids.push(body["applicationId"].as_str().unwrap().to_owned());
    }
    let get = |q: String| {
        let app = app.clone();
        async move { call(&app, "GET", &format!("/api/applications{q}"), Some(ADMIN), None).await }
    };
    // The first page: 25 of 1,000, a next page and no previous one.
    let (s, first) = get(String::new()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (first["count"].as_u64(), first["pagination"]["total"].as_u64()),
        (Some(25), Some(1000))
    );
    assert_eq!(first["pagination"]["next"], "limit=25&offset=25");
    assert!(first["pagination"].get("previous").is_none());
    // Every page, oldest first (ties by id): each application once.
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut next = Some("limit=300".to_owned());
    while let Some(q) = next.take() {
        let (_, page) = get(format!("?{q}")).await;
        seen.extend(page["list"].as_array().unwrap().iter().map(|a| {
            (
                a["createdTime"].as_i64().unwrap(),
                a["applicationId"].as_str().unwrap().to_owned(),
            )
        }));
        next = page["pagination"]["next"].as_str().map(str::to_owned);
    }
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "in (createdTime, id) order, no repeats"
    );
    let mut all: Vec<String> = seen.into_iter().map(|(_, id)| id).collect();
    all.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert!(all == expected, "every application exactly once ({} seen)", all.len());
    let (_, last) = get("?limit=300&offset=900".into()).await;
    assert_eq!(
        (last["count"].as_u64(), last["pagination"]["previous"].as_str()),
        (Some(100), Some("limit=300&offset=600"))
    );
    // Search: name or description, any case; LIKE's wildcards taken literally.
    for (q, total) in [
        ("app-09", 100),
        ("APP-099", 10),
        ("50%", 10),
        ("%", 10),
        ("_", 0),
        ("nothing", 0),
    ] {
        let (s, page) = get(format!(
            "?query={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        ))
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(page["pagination"]["total"].as_u64(), Some(total), "query {q}");
    }
    let (_, page) = get("?query=app-09&limit=5&offset=5".into()).await;
    assert_eq!(page["pagination"]["next"], "query=app-09&limit=5&offset=10");
    // Order.
    let (_, z) = get("?sortBy=name&sortOrder=desc&limit=1".into()).await;
    assert_eq!(z["list"][0]["name"], "App-0999");
    let (_, newest) = get("?sortOrder=desc&limit=1".into()).await;
    let (_, oldest) = get("?limit=1".into()).await;
    assert!(newest["list"][0]["createdTime"].as_i64() >= oldest["list"][0]["createdTime"].as_i64());
    let (_, everything) = get("?sortOrder=desc&limit=500".into()).await;
    assert_eq!(everything["list"][0], newest["list"][0]);
    // Bad paging, by field.
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?sortBy=owner", "sortBy"),
        ("?sortOrder=up", "sortOrder"),
    ] {
        let (s, body) = get(q.into()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(body["errors"][0]["field"], field, "{q}: {body}");
    }
    let (s, _) = get("?page=2".into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "an unknown parameter");

    // Updates.
    let put = |id: &str, body: Value| {
        let app = app.clone();
        let path = format!("/api/applications/{id}");
        async move { call(&app, "PUT", &path, Some(ADMIN), Some(&body.to_string())).await }
    };
    let (s, body) = put(&ids[0], json!({"name": "App-0001"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "the owner has one of that name: {body}");
    let (s, body) = put(
        &ids[0],
        json!({"name": "Orders", "description": "Takes orders", "attributes": {"tier": "gold", "team": "shop"}}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        (body["name"].as_str(), body["attributes"]["tier"].as_str()),
        (Some("Orders"), Some("gold"))
    );
    let (_, read) = call(&app, "GET", &format!("/api/applications/{}", ids[0]), Some(ADMIN), None).await;
    assert_eq!(read["description"], "Takes orders");
    assert_eq!(read["attributes"], json!({"team": "shop", "tier": "gold"}));
    // Left out stays; an empty description goes; attributes are replaced together.
    let (_, body) = put(&ids[0], json!({"description": "", "attributes": {"tier": "silver"}})).await;
    assert_eq!((body["name"].as_str(), body.get("description")), (Some("Orders"), None));
    assert_eq!(body["attributes"], json!({"tier": "silver"}));
    let many: serde_json::Map<String, Value> = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    for (bad, field) in [
        (json!({"attributes": {"bad key": "v"}}), "attributes.bad key"),
        (json!({"attributes": many}), "attributes"),
        (json!({"attributes": {"k": "a\u{7}b"}}), "attributes.k"),
        (json!({"name": ""}), "name"),
        (json!({"owner": "bob"}), ""),
    ] {
        let (s, body) = put(&ids[0], bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {body}");
        if !field.is_empty() {
            assert_eq!(body["errors"][0]["field"], field, "{bad}: {body}");
        }
    }
    let (s, _) = put("no-such-application", json!({"name": "x"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, trail) = call(&app, "GET", "/api/audit?action=application.update", Some(ADMIN), None).await;
    assert_eq!(
        trail["pagination"]["total"].as_u64(),
        Some(9),
        "every update attempt is recorded: {trail}"
    );
    // The other list routes page too.
    let (s, kms) = call(&app, "GET", "/api/key-managers?limit=1", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (kms["count"].as_u64(), kms["pagination"]["total"].as_u64()),
        (Some(1), Some(1))
    );
    let (s, _) = call(&app, "GET", "/api/admin-tokens?limit=9999", Some(ADMIN), None).await;
    assert_ne!(s, StatusCode::OK);
}

#[tokio::test]
async fn the_application_lifecycle_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    lifecycle_on(&format!("sqlite://{}", dir.path().join("ks.db").display())).await;
}

#[tokio::test]
async fn the_application_lifecycle_on_postgres() {
    if let Some(url) = common::postgres_schema("km_life").await {
        lifecycle_on(&url).await;
    }
}

/// An application with production keys at the memory key manager, which keeps secrets: its id and the keys'
/// secrets path.
async fn app_with_secrets(f: &Fixture) -> (String, String, Value) {
    f.memory.keeps_secrets.store(true, Ordering::SeqCst);
    let id = new_app(f).await;
    let (s, keys) = call(
        &f.app,
        "POST",
        &format!("/api/applications/{id}/generate-keys"),
        Some(ADMIN),
        Some(r#"{"keyType":"production","keyManager":"memory"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{keys}");
    let secrets = format!(
        "/api/applications/{id}/oauth-keys/{}/secrets",
        keys["keyMappingId"].as_str().unwrap()
    );
    (id, secrets, keys)
}

/// A provider that keeps no secret descriptions (as Okta): the key service keeps them beside the secrets it makes
/// there, shows them in listings, forgets them with the secret; a description that cannot be kept undoes the secret.
#[tokio::test]
async fn descriptions_are_kept_for_providers_that_keep_none() {
    let f = fixture().await;
    let (_, secrets, keys) = app_with_secrets(&f).await;
    let (s, made) = call(
        &f.app,
        "POST",
        &secrets,
        Some(ADMIN),
        Some(r#"{"description":"for the Q3 rotation"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["description"], "for the Q3 rotation", "{made}");
    let (_, plain) = call(&f.app, "POST", &secrets, Some(ADMIN), Some("{}")).await;
    let (_, listed) = call(&f.app, "GET", &secrets, Some(ADMIN), None).await;
    let described: Vec<(&str, Option<&str>)> = listed["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["secretId"].as_str().unwrap(), s["description"].as_str()))
        .collect();
    assert!(
        described.contains(&(made["secretId"].as_str().unwrap(), Some("for the Q3 rotation"))),
        "{listed}"
    );
    assert!(
        described.contains(&(plain["secretId"].as_str().unwrap(), None)),
        "{listed}"
    );
    // A description that cannot be kept: no secret is left at the provider.
    let before = f.memory.secrets.lock().unwrap().values().map(Vec::len).sum::<usize>();
    f.store.fail_mappings.store(true, Ordering::SeqCst);
    let (s, body) = call(&f.app, "POST", &secrets, Some(ADMIN), Some(r#"{"description":"lost"}"#)).await;
    f.store.fail_mappings.store(false, Ordering::SeqCst);
    assert!(s.is_server_error(), "{s} {body}");
    let after = f.memory.secrets.lock().unwrap().values().map(Vec::len).sum::<usize>();
    assert_eq!(after, before, "the secret was undone");
    // Deleting the secret forgets its description.
    let one = format!("{secrets}/{}", made["secretId"].as_str().unwrap());
    let (s, _) = call(&f.app, "DELETE", &one, Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let kept = f
        .store
        .secret_descriptions("memory", keys["consumerKey"].as_str().unwrap())
        .await
        .unwrap();
    assert!(kept.is_empty(), "{kept:?}");
}

/// Key managers at run time, through the API of two services on one store (two nodes): added (checked against the
/// connector's descriptor, by field), listed with their secrets hidden and stored sealed, seen by the other node on
/// reload, changed, disabled (no new keys; an enabled one is tried at its provider), removed (409 while mappings
/// point to it, unless forced); the configuration's stay read-only.
#[tokio::test]
async fn key_managers_are_managed_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ks.db").display());
    let key = keymanager::server_kit::new_key().unwrap();
    let node = |store: Arc<SqlApplicationStore>| {
        let mut kms = KeyManagers::default();
        kms.insert(Arc::new(Memory::default()), &MemoryFactory).unwrap();
        let mut registry = keymanager::registry::ConnectorRegistry::new();
        registry.register(Arc::new(keymanager_keycloak::KeycloakFactory));
        let service = KeyService::new(kms, store).with_key_manager_builder(
            keymanager::service::key_managers::KeyManagerBuilder {
                registry,
                context: keymanager::registry::BuildContext {
                    // The providers here are wiremock servers on this machine.
                    egress: keymanager::server_kit::Egress::AllowPrivate,
                    ..Default::default()
                },
                sealing: Arc::new(keymanager::server_kit::SecretBox::from_text(&format!("k1:{key}")).unwrap()),
                wrap: Arc::new(|set: &KeyManagers| set.clone()),
            },
        );
        (
            service.clone(),
            router(service, Arc::new(|t: &str| (t == ADMIN).then(|| "test".to_owned()))),
        )
    };
    let store = Arc::new(SqlApplicationStore::connect(&url, None).await.unwrap());
    let (a_service, a) = node(store.clone());
    let (b_service, b) = node(Arc::new(SqlApplicationStore::connect(&url, None).await.unwrap()));
    let settings = json!({"base_url": "https://kc.example.com", "realm": "acme", "admin_client_id": "km-admin",
                          "admin_client_secret": "kc-admin-secret-value"});
    let post = |body: Value| {
        let a = a.clone();
        async move { call(&a, "POST", "/api/key-managers", Some(ADMIN), Some(&body.to_string())).await }
    };
    // Refused by field.
    for (body, field) in [
        (
            json!({"name": "kc", "type": "keycloak", "settings": {"realm": "acme"}}),
            "settings.base_url",
        ),
        (
            json!({"name": "kc", "type": "keycloak", "settings": {"base_url": "https://kc.example.com", "realm": "acme", "bogus": 1}}),
            "settings.bogus",
        ),
        (
            json!({"name": "kc", "type": "keycloak", "settings": {"base_url": 7, "realm": "acme"}}),
            "settings.base_url",
        ),
        (json!({"name": "kc", "type": "resident"}), "type"),
        (json!({"name": "kc", "type": "nothing"}), "type"),
    ] {
        let (s, body) = post(body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["errors"][0]["field"], field, "{body}");
    }
    let (s, body) = post(json!({"name": "memory", "type": "keycloak", "settings": settings})).await;
    assert_eq!(s, StatusCode::CONFLICT, "a configured key manager's name: {body}");
    // Added: listed with the secret hidden, stored sealed.
    let (s, made) = post(json!({"name": "kc", "type": "keycloak", "settings": settings})).await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(
        (made["readOnly"].as_bool(), made["enabled"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(made["settings"]["admin_client_secret"], "********");
    assert_eq!(made["settings"]["realm"], "acme");
    let (s, _) = post(json!({"name": "kc", "type": "keycloak", "settings": settings})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let rows = sqlx::query("SELECT settings FROM km_key_managers")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let stored: String = sqlx::Row::get(&rows[0], 0);
    assert!(
        !stored.contains("kc-admin-secret-value") && stored.contains("v1.f"),
        "sealed at rest: {stored}"
    );
    // The other node sees it once it reloads (on PostgreSQL an announcement makes it reload).
    let (_, listed) = call(&b, "GET", "/api/key-managers", Some(ADMIN), None).await;
    assert_eq!(listed["count"], 1, "{listed}");
    let published = b_service.watch_key_managers();
    b_service.reload_key_managers().await.unwrap();
    let (_, listed) = call(&b, "GET", "/api/key-managers", Some(ADMIN), None).await;
    assert_eq!(listed["count"], 2, "{listed}");
    // Published to validators; a reload that finds nothing changed keeps the instance (its caches).
    let built = published.borrow().get("kc").expect("published on reload");
    b_service.reload_key_managers().await.unwrap();
    assert!(
        Arc::ptr_eq(&built, &published.borrow().get("kc").unwrap()),
        "unchanged: not rebuilt"
    );
    // Nor on the node that added it (it remembers what it built from the row it wrote).
    let on_a = a_service.key_managers().get("kc").unwrap();
    a_service.reload_key_managers().await.unwrap();
    assert!(Arc::ptr_eq(&on_a, &a_service.key_managers().get("kc").unwrap()));
    // Changed: the settings given replace, the secret left hidden keeps its value.
    let (s, changed) = call(
        &a,
        "PUT",
        "/api/key-managers/kc",
        Some(ADMIN),
        Some(r#"{"settings": {"realm": "shop", "admin_client_secret": "********"}}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(changed["settings"]["realm"], "shop");
    b_service.reload_key_managers().await.unwrap();
    let (_, on_b) = call(&b, "GET", "/api/key-managers/kc", Some(ADMIN), None).await;
    assert_eq!(
        on_b["settings"]["realm"], "shop",
        "the secret still opens on the other node: {on_b}"
    );
    let rebuilt = published.borrow().get("kc").unwrap();
    assert!(!Arc::ptr_eq(&built, &rebuilt), "changed settings: rebuilt");
    assert_eq!(rebuilt.token_profile().issuer, "https://kc.example.com/realms/shop");
    // Review 2, finding 8: the sealed secret goes only where it went: a new host needs the secret sent again, in
    // the same change, whichever URL setting moves.
    for moved in [
        r#"{"settings": {"base_url": "https://attacker.example"}}"#,
        r#"{"settings": {"base_url": "https://attacker.example", "admin_client_secret": "********"}}"#,
    ] {
        let (s, body) = call(&a, "PUT", "/api/key-managers/kc", Some(ADMIN), Some(moved)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{moved}: {body}");
        assert_eq!(body["errors"][0]["field"], "settings.admin_client_secret", "{body}");
    }
    let (_, still) = call(&a, "GET", "/api/key-managers/kc", Some(ADMIN), None).await;
    assert_eq!(
        still["settings"]["base_url"], "https://kc.example.com",
        "nothing changed: {still}"
    );
    let (s, body) = call(
        &a,
        "PUT",
        "/api/key-managers/kc",
        Some(ADMIN),
        Some(r#"{"settings": {"base_url": "https://kc2.example.com", "admin_client_secret": "new-secret-for-kc2"}}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "with the secret sent again: {body}");
    let (s, _) = call(
        &a,
        "PUT",
        "/api/key-managers/kc",
        Some(ADMIN),
        Some(r#"{"settings": {"base_url": "https://kc.example.com", "admin_client_secret": "kc-admin-secret-value"}}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    b_service.reload_key_managers().await.unwrap();
    let rebuilt = published.borrow().get("kc").unwrap();
    // Enabled: generating keys is tried at the provider (unreachable here); disabled: refused before it.
    let (_, app_body) = call(
        &a,
        "POST",
        "/api/applications",
        Some(ADMIN),
        Some(r#"{"name":"orders","owner":"alice"}"#),
    )
    .await;
    let app_id = app_body["applicationId"].as_str().unwrap().to_owned();
    let generate = format!("/api/applications/{app_id}/generate-keys");
    let keys_body = r#"{"keyType":"production","keyManager":"kc"}"#;
    let (s, _) = call(&a, "POST", &generate, Some(ADMIN), Some(keys_body)).await;
    assert_ne!(s, StatusCode::CONFLICT, "enabled: the provider is asked");
    let (s, _) = call(
        &a,
        "PUT",
        "/api/key-managers/kc",
        Some(ADMIN),
        Some(r#"{"enabled": false}"#),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = call(&a, "POST", &generate, Some(ADMIN), Some(keys_body)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(body["description"].as_str().unwrap().contains("disabled"), "{body}");
    // Gateways without the database are told, in the same transaction: the log keeps one state per key manager,
    // the latest.
    let states = |events: Vec<keymanager::model::GatewayEvent>| -> Vec<(String, bool)> {
        events
            .into_iter()
            .filter_map(|e| match e.notice {
                Some(keymanager::model::GatewayNotice::KeyManagerState { enabled }) => Some((e.key_manager, enabled)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        states(a_service.gateway_events(0, 100).await.unwrap()),
        [("kc".to_owned(), false)]
    );
    // Disabled on the other node too once it reloads: no longer published to validators, the instance kept.
    b_service.reload_key_managers().await.unwrap();
    assert!(
        published.borrow().get("kc").is_err(),
        "a disabled key manager is not validated"
    );
    assert!(Arc::ptr_eq(&rebuilt, &b_service.key_managers().get("kc").unwrap()));
    // Removed: not while a mapping points to it, unless forced.
    store
        .insert_mapping(
            &KeyMapping {
                id: "m-kc".into(),
                application_id: app_id.clone(),
                key_type: KeyType::Production,
                key_manager: "kc".into(),
                client_id: "client-at-kc".into(),
                state: keymanager::service::KeyState::Completed,
                origin: keymanager::service::KeyOrigin::Mapped,
                created_at: 1,
            },
            None,
        )
        .await
        .unwrap();
    let (s, body) = call(&a, "DELETE", "/api/key-managers/kc", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    assert!(
        body["description"].as_str().unwrap().contains("1 key mapping"),
        "{body}"
    );
    let (s, _) = call(&a, "DELETE", "/api/key-managers/kc?force=true", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = call(&a, "GET", "/api/key-managers/kc", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let events = a_service.gateway_events(0, 100).await.unwrap();
    assert_eq!(
        states(events.clone()),
        [("kc".to_owned(), false)],
        "removed: {events:?}"
    );
    assert!(
        events.windows(2).all(|w| w[0].id < w[1].id),
        "numbered in order: {events:?}"
    );
    assert!(
        store.list_mappings(&app_id).await.unwrap().is_empty(),
        "forced: its mappings went"
    );
    // The configuration's are read-only.
    for (m, body) in [("PUT", Some(r#"{"enabled": false}"#)), ("DELETE", None)] {
        let (s, body) = call(&a, m, "/api/key-managers/memory", Some(ADMIN), body).await;
        assert_eq!(s, StatusCode::CONFLICT, "{m}: {body}");
    }
    let (_, trail) = call(&a, "GET", "/api/audit?action=key_manager.update", Some(ADMIN), None).await;
    assert!(trail["pagination"]["total"].as_u64().unwrap() >= 2, "{trail}");
}

/// Review 2, finding 10: two administrators revoking each other's token at once cannot leave none: of two racing
/// cross-revocations exactly one succeeds, whatever the interleaving, on both backends.
async fn the_last_admin_token_survives_a_race_on(url: &str) {
    use keymanager::service::admin_tokens::AdminTokens;
    let store = SqlApplicationStore::connect(url, None).await.unwrap();
    // Two handles, as two nodes would have.
    let a = AdminTokens::load(store.pool().clone(), None).await.unwrap();
    let b = AdminTokens::load(
        SqlApplicationStore::connect(url, None).await.unwrap().pool().clone(),
        None,
    )
    .await
    .unwrap();
    for round in 0..20 {
        let (x, y) = (format!("x{round}"), format!("y{round}"));
        a.create(&x, &keymanager::service::Audit::default()).await.unwrap();
        a.create(&y, &keymanager::service::Audit::default()).await.unwrap();
        // Leave exactly these two.
        for t in a.list().await.unwrap() {
            if t.name != x && t.name != y {
                a.revoke(&t.name, &keymanager::service::Audit::default()).await.unwrap();
            }
        }
        let audit = keymanager::service::Audit::default();
        let (one, other) = tokio::join!(a.revoke(&x, &audit), b.revoke(&y, &audit));
        let left = a.list().await.unwrap().len();
        assert_eq!(left, 1, "round {round}: {one:?} / {other:?} left {left} tokens");
        assert!(
            one.is_ok() != other.is_ok(),
            "round {round}: exactly one wins: {one:?} / {other:?}"
        );
        let lost = one.err().or(other.err()).unwrap();
        assert!(
            matches!(lost, Error::Conflict { .. }) || matches!(lost, Error::NotFound { .. }),
            "{lost}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_token_survives_a_race_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    the_last_admin_token_survives_a_race_on(&format!("sqlite://{}", dir.path().join("t.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_admin_token_survives_a_race_on_postgres() {
    if let Some(url) = common::postgres_schema("km_race").await {
        the_last_admin_token_survives_a_race_on(&url).await;
    }
}

/// Review 2 (low): a method a route does not take is `405` with `Allow`, in the API's error shape, whoever asks
/// (invented methods included), never a `401` that sends the caller to fix their token.
#[tokio::test]
async fn a_method_a_route_does_not_take_is_405_with_allow() {
    let f = fixture().await;
    for (method, path, allow) in [
        ("PATCH", "/api/applications", "POST, GET"),
        ("FOO", "/api/applications", "POST, GET"),
        ("BREW", "/api/applications/x/map-keys", "POST"),
        ("GET", "/api/key-managers/discover", "POST"),
    ] {
        for token in [None, Some(ADMIN)] {
            let mut req = Request::builder().method(method).uri(path);
            if let Some(t) = token {
                req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
            }
            let resp = f.app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} {token:?}"
            );
            assert_eq!(resp.headers()[header::ALLOW], allow, "{method} {path}");
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
            assert_error_shape(&serde_json::from_slice(&bytes).unwrap(), 405);
        }
    }
}

/// Review 2 (low): one text check for every human-readable field: a bidirectional override (which can make
/// `evil\u{202e}gpj.exe` read as `evilexe.jpg`) is refused in each, by name.
#[tokio::test]
async fn bidirectional_overrides_are_refused_in_every_human_readable_field() {
    let f = fixture().await;
    let (app, secrets, _) = app_with_secrets(&f).await;
    let bad = "evil\u{202e}gpj.exe";
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            "/api/applications".into(),
            json!({"name": bad, "owner": "alice"}),
            "name",
        ),
        (
            "POST",
            "/api/applications".into(),
            json!({"name": "a", "owner": bad}),
            "owner",
        ),
        (
            "POST",
            "/api/applications".into(),
            json!({"name": "b", "owner": "alice", "description": bad}),
            "description",
        ),
        (
            "POST",
            "/api/applications".into(),
            json!({"name": "c", "owner": "alice", "attributes": {"tier": bad}}),
            "attributes.tier",
        ),
        ("PUT", format!("/api/applications/{app}"), json!({"name": bad}), "name"),
        (
            "PUT",
            format!("/api/applications/{app}"),
            json!({"description": bad}),
            "description",
        ),
        (
            "PUT",
            format!("/api/applications/{app}"),
            json!({"attributes": {"x": bad}}),
            "attributes.x",
        ),
        ("POST", secrets.clone(), json!({"description": bad}), "description"),
    ];
    for (method, path, body, field) in cases {
        let (s, answer) = call(&f.app, method, &path, Some(ADMIN), Some(&body.to_string())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {path} {body}: {answer}");
        assert_eq!(answer["errors"][0]["field"], field, "{method} {path}: {answer}");
    }
}

/// Issue 30 (item 4): a creation that failed records no application id (none was made).
#[tokio::test]
async fn a_failed_creation_names_no_application_in_the_trail() {
    let f = fixture().await;
    new_app(&f).await;
    let (s, _) = call(
        &f.app,
        "POST",
        "/api/applications",
        Some(ADMIN),
        Some(r#"{"name":"orders","owner":"alice"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let page = f
        .store
        .audit_records(&AuditQuery {
            action: Some("application.create".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let failed: Vec<&AuditRecord> = page
        .records
        .iter()
        .filter(|r| r.outcome == keymanager::service::Outcome::Failure)
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", page.records);
    assert_eq!(failed[0].application_id, None, "{:?}", failed[0]);
}

/// An Auth0 key manager added at run time through the API, then an application's keys through it, all against a
/// wiremock Auth0 serving `fixtures/auth0/`: generate keys (client + grant), a token for the API, a regenerated
/// secret, the one-secret model refused by name, and the client and its grant deleted with the keys.
#[tokio::test]
async fn auth0_keys_through_the_management_api() {
    let auth0 = mock_provider(
        "auth0",
        &[
            ("POST", "^/api/v2/clients$", 201, "create-client"),
            ("POST", "^/api/v2/client-grants$", 201, "client-grant"),
            ("GET", "^/api/v2/client-grants$", 200, "client-grants"),
            ("POST", "/rotate-secret$", 200, "rotate-secret"),
            ("POST", "^/oauth/token$", 200, "token-client-credentials"),
            ("DELETE", "^/api/v2/", 204, ""),
        ],
    )
    .await;
    let (app, _dir) = run_time_node(Arc::new(keymanager_auth0::Auth0Factory)).await;
    let settings = json!({"domain": "tenant.example", "base_url": auth0.uri(), "management_client_id": "mgmt-client",
                          "management_client_secret": "mgmt-secret-value", "audience": "https://api.example.com/orders"});
    let base = keys_with_a_token(
        &app,
        ("auth0", settings, "management_client_secret"),
        "AaiyAPdpYdesoKnqjj8HJqRn4T5titww",
    )
    .await;
    let (s, rotated) = call(&app, "POST", &format!("{base}/regenerate-secret"), Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::OK, "{rotated}");
    let (s, refused) = call(
        &app,
        "POST",
        &format!("{base}/secrets"),
        Some(ADMIN),
        Some(r#"{"description":"second"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("one secret"), "{refused}");
    let (s, body) = call(&app, "DELETE", &base, Some(ADMIN), None).await;
    assert!(s.is_success(), "{body}");
    let seen = seen_by(&auth0).await;
    for call in [
        "POST /api/v2/clients",
        "POST /api/v2/client-grants",
        "POST /api/v2/clients/AaiyAPdpYdesoKnqjj8HJqRn4T5titww/rotate-secret",
        "DELETE /api/v2/client-grants/cgr_4pI9a42haOLLWnwq",
        "DELETE /api/v2/clients/AaiyAPdpYdesoKnqjj8HJqRn4T5titww",
    ] {
        assert!(seen.iter().any(|c| c == call), "{call} in {seen:#?}");
    }
}

/// A wiremock provider answering each `(method, path regex, status, fixture)` with
/// `fixtures/PROVIDER/responses/FIXTURE.json` (an empty fixture: no body).
async fn mock_provider(provider: &str, routes: &[(&str, &str, u16, &str)]) -> wiremock::MockServer {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    for (verb, route, status, body) in routes {
        let mut answer = ResponseTemplate::new(*status);
        if !body.is_empty() {
            let p = format!(
                "{}/fixtures/{provider}/responses/{body}.json",
                env!("CARGO_MANIFEST_DIR")
            );
            answer = answer.set_body_json(serde_json::from_str::<Value>(&std::fs::read_to_string(p).unwrap()).unwrap());
        }
        Mock::given(method(*verb))
            .and(path_regex(*route))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    server
}

/// Every request `server` received, as `METHOD /path`.
async fn seen_by(server: &wiremock::MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

/// Add a key manager `(kind, settings, its secret setting)` through the API (the secret answered hidden), create an
/// application, generate production keys with `read:orders` there (client id `client`) and get a token with them:
/// the keys' path.
async fn keys_with_a_token(
    app: &Router,
    (kind, settings, secret_setting): (&str, Value, &str),
    client: &str,
) -> String {
    let (s, made) = call(
        app,
        "POST",
        "/api/key-managers",
        Some(ADMIN),
        Some(&json!({"name": kind, "type": kind, "settings": settings}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["settings"][secret_setting], "********");
    let (s, created) = call(
        app,
        "POST",
        "/api/applications",
        Some(ADMIN),
        Some(r#"{"name":"orders","owner":"alice"}"#),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["applicationId"].as_str().unwrap().to_owned();
    let (s, keys) = call(
        app,
        "POST",
        &format!("/api/applications/{id}/generate-keys"),
        Some(ADMIN),
        Some(
            &json!({"keyType": "PRODUCTION", "keyManager": kind, "grantTypesToBeSupported": ["client_credentials"],
                    "scopes": ["read:orders"]})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{keys}");
    assert_eq!(keys["consumerKey"], client);
    let secret = keys["consumerSecret"].as_str().unwrap().to_owned();
    let mapping = keys["keyMappingId"].as_str().unwrap().to_owned();
    let base = format!("/api/applications/{id}/oauth-keys/{mapping}");
    let (s, token) = call(
        app,
        "POST",
        &format!("{base}/generate-token"),
        Some(ADMIN),
        Some(&json!({"consumerSecret": secret}).to_string()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{token}");
    base
}

/// A management API whose only key managers are added at run time, of the type `factory` builds (the providers
/// are wiremock servers on this machine).
async fn run_time_node(factory: Arc<dyn ConnectorFactory>) -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ks.db").display());
    let key = keymanager::server_kit::new_key().unwrap();
    let mut registry = keymanager::registry::ConnectorRegistry::new();
    registry.register(factory);
    let service = KeyService::new(
        KeyManagers::default(),
        Arc::new(SqlApplicationStore::connect(&url, None).await.unwrap()),
    )
    .with_key_manager_builder(keymanager::service::key_managers::KeyManagerBuilder {
        registry,
        context: keymanager::registry::BuildContext {
            egress: keymanager::server_kit::Egress::AllowPrivate,
            ..Default::default()
        },
        sealing: Arc::new(keymanager::server_kit::SecretBox::from_text(&format!("k1:{key}")).unwrap()),
        wrap: Arc::new(|set: &KeyManagers| set.clone()),
    });
    (
        router(service, Arc::new(|t: &str| (t == ADMIN).then(|| "test".to_owned()))),
        dir,
    )
}

/// An Entra ID key manager added at run time through the API, then an application's keys through it, against a
/// wiremock Graph and identity platform serving `fixtures/entra/`: generate keys (application, service principal,
/// secret, role grant), a token, a second secret with a description and expiry, one secret deleted by key id, and
/// the application deleted with the keys.
#[tokio::test]
async fn entra_keys_through_the_management_api() {
    let entra = mock_provider(
        "entra",
        &[
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
            ("POST", "/addPassword$", 200, "add-password-second"),
            ("POST", "/appRoleAssignedTo$", 201, "app-role-assignment"),
            ("POST", "/removePassword$", 204, ""),
            ("DELETE", r"appId='631a96bc-a705-4eda-9f99-fdaf9f54f6a2'\)$", 204, ""),
        ],
    )
    .await;
    let (app, _dir) = run_time_node(Arc::new(keymanager_entra::EntraFactory)).await;
    let settings = json!({"tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47", "client_id": "mgmt-app",
                          "client_secret": "mgmt-secret-value", "api_application": "d8f0a7b5-3c4e-4f5a-9b6c-7d8e9f0a1b2c",
                          "graph_url": format!("{}/v1.0", entra.uri()), "login_url": entra.uri()});
    let base = keys_with_a_token(
        &app,
        ("entra", settings, "client_secret"),
        "631a96bc-a705-4eda-9f99-fdaf9f54f6a2",
    )
    .await;
    let (s, second) = call(
        &app,
        "POST",
        &format!("{base}/secrets"),
        Some(ADMIN),
        Some(r#"{"description":"rotation","expiresIn":86400}"#),
    )
    .await;
    assert!(s.is_success(), "{second}");
    let (s, listed) = call(&app, "GET", &format!("{base}/secrets"), Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::OK, "{listed}");
    assert!(
        listed.to_string().contains("d1f8c7b3-4a2e-4f6b-9c8d-0e1f2a3b4c5d"),
        "{listed}"
    );
    let (s, body) = call(
        &app,
        "DELETE",
        &format!("{base}/secrets/d1f8c7b3-4a2e-4f6b-9c8d-0e1f2a3b4c5d"),
        Some(ADMIN),
        None,
    )
    .await;
    assert!(s.is_success(), "{body}");
    let (s, body) = call(&app, "DELETE", &base, Some(ADMIN), None).await;
    assert!(s.is_success(), "{body}");
    let seen = seen_by(&entra).await;
    for call in [
        "POST /v1.0/applications",
        "POST /v1.0/servicePrincipals",
        "POST /v1.0/servicePrincipals/5d6e7f80-91a2-4b3c-8d4e-5f60718293a4/appRoleAssignedTo",
        "POST /v1.0/applications/03ef14b0-ca33-4840-8f4f-d6e91916010e/removePassword",
        "DELETE /v1.0/applications(appId='631a96bc-a705-4eda-9f99-fdaf9f54f6a2')",
    ] {
        assert!(seen.iter().any(|c| c == call), "{call} in {seen:#?}");
    }
}

/// The answer check is strict: an undeclared member, a wrong type, a status the document does not list and a body
/// on a bodiless answer all fail it; a conforming answer passes.
#[test]
fn the_answer_check_refuses_what_the_document_does_not_say() {
    let app = json!({"applicationId": "a", "name": "orders", "owner": "alice", "createdTime": 1,
        "attributes": {}});
    let fails = |method: &'static str, path: &'static str, status: u16, body: Value| {
        std::panic::catch_unwind(move || common::openapi::check(method, path, status, &body)).is_err()
    };
    std::fs::write(
        std::env::temp_dir().join("keymanager-openapi.json"),
        serde_json::to_string_pretty(common::openapi::document()).unwrap(),
    )
    .unwrap();
    assert!(
        !fails("GET", "/api/applications/a", 200, app.clone()),
        "a conforming answer"
    );
    let mut extra = app.clone();
    extra["secretField"] = json!("x");
    assert!(fails("GET", "/api/applications/a", 200, extra), "an undeclared member");
    let mut wrong = app.clone();
    wrong["name"] = json!(7);
    assert!(fails("GET", "/api/applications/a", 200, wrong), "a wrong type");
    assert!(
        fails("DELETE", "/api/applications/a", 204, app),
        "a body on a bodiless answer"
    );
    assert!(
        fails("GET", "/api/applications", 302, Value::Null),
        "a status the document does not list"
    );
    assert!(!fails(
        "GET",
        "/api/applications/a",
        404,
        json!({"code": 404, "message": "Not Found", "description": "no such application", "errors": []})
    ));
}

/// The gateways' record of DPoP proofs (RFC 9449 §11.1) on the key service's store: a proof is a first use once, a
/// replay until it is too old to be accepted anywhere ([`PROOF_RECORD_SECONDS`]), and then, its row not yet purged,
/// a first use again rather than a replay forever; malformed input is refused by name. PostgreSQL's half runs in
/// `a_dpop_proof_is_used_once_across_every_gateway_node`.
#[tokio::test]
async fn the_dpop_proof_record_remembers_a_proof_while_it_could_be_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ks.db").display());
    let clock = ManualClock::new();
    let store = SqlApplicationStore::connect(&url, None)
        .await
        .unwrap()
        .with_clock(clock.clone());
    let service = KeyService::new(KeyManagers::default(), Arc::new(store));
    let jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    assert!(service.accept_gateway_dpop_proof(jkt, "p1").await.unwrap());
    assert!(!service.accept_gateway_dpop_proof(jkt, "p1").await.unwrap(), "a replay");
    assert!(
        service.accept_gateway_dpop_proof(jkt, "p2").await.unwrap(),
        "another jti"
    );
    let other = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbW";
    assert!(
        service.accept_gateway_dpop_proof(other, "p1").await.unwrap(),
        "another key"
    );
    clock.advance(std::time::Duration::from_secs(PROOF_RECORD_SECONDS as u64 - 1));
    assert!(
        !service.accept_gateway_dpop_proof(jkt, "p1").await.unwrap(),
        "still remembered"
    );
    clock.advance(std::time::Duration::from_secs(2));
    assert!(
        service.accept_gateway_dpop_proof(jkt, "p1").await.unwrap(),
        "too old to matter"
    );
    for (jkt, jti, field) in [
        ("short", "p", "jkt"),
        ("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X=", "p", "jkt"),
        (jkt, "", "jti"),
        (jkt, &"x".repeat(257), "jti"),
    ] {
        let e = service.accept_gateway_dpop_proof(jkt, jti).await.unwrap_err();
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
}
