//! Property test over what providers answer: every connector (Okta, Keycloak, Auth0, Entra ID, OpenID) is pointed at a mock server
//! that answers every request with a status and a body drawn from the providers' own fixtures with values changed,
//! fields dropped or the body garbled. Whatever arrives, each operation returns a value or a typed error, never a
//! panic, and a 2xx body that is not JSON is `MalformedResponse`.

use std::sync::Arc;
use std::time::Duration;

use keymanager::config::KeyManagerConfig;
use keymanager::http::{HttpClient, HttpPolicy};
use keymanager::model::*;
use keymanager::registry::{BuildContext, ConnectorFactory};
use keymanager::{Error, KeyManager};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use wiremock::matchers::{any as any_request, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Every JSON fixture of the providers.
fn fixtures() -> Vec<Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                // Answers only: the providers' API descriptions (OpenAPI documents) are not something they answer.
                if let Ok(v) = serde_json::from_str::<Value>(&std::fs::read_to_string(&p).unwrap()) {
                    if v.get("openapi").is_none() {
                        out.push(v);
                    }
                }
            }
        }
    }
    assert!(out.len() > 20, "fixtures missing");
    out
}

/// Change the `pick`-th leaf (in document order) of `doc` to `with`, or drop it when `with` is `None`.
fn change(doc: &mut Value, pick: &mut usize, with: &Option<Value>) -> bool {
    match doc {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                let leaf = !matches!(map[&k], Value::Object(_) | Value::Array(_));
                if leaf {
                    if *pick == 0 {
                        match with {
                            Some(v) => map.insert(k, v.clone()),
                            None => map.remove(&k),
                        };
                        return true;
                    }
                    *pick -= 1;
                } else if let Some(child) = map.get_mut(&k) {
                    if change(child, pick, with) {
                        return true;
                    }
                }
            }
            false
        }
        Value::Array(items) => items.iter_mut().any(|item| change(item, pick, with)),
        _ => false,
    }
}

fn value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        any::<i64>().prop_map(|n| Some(Value::from(n))),
        any::<u64>().prop_map(|n| Some(Value::from(n))),
        any::<bool>().prop_map(|b| Some(Value::from(b))),
        "\\PC{0,20}".prop_map(|s| Some(Value::from(s))),
        Just(Some(serde_json::json!([]))),
        Just(Some(serde_json::json!({}))),
        Just(Some(serde_json::json!([null, 1, "x"]))),
    ]
}

/// A body for the mock: a fixture with up to three leaves changed, a garbled fixture, or arbitrary bytes.
fn body(fixtures: Arc<Vec<Value>>) -> impl Strategy<Value = Vec<u8>> {
    let n = fixtures.len();
    let f = fixtures.clone();
    let changed = (0..n, proptest::collection::vec((0usize..40, value()), 0..4)).prop_map(move |(i, edits)| {
        let mut doc = f[i].clone();
        for (pick, with) in &edits {
            let mut pick = *pick;
            change(&mut doc, &mut pick, with);
        }
        doc.to_string().into_bytes()
    });
    let garbled = (0..n, any::<prop::sample::Index>()).prop_map(move |(i, cut)| {
        let text = fixtures[i].to_string().into_bytes();
        let at = cut.index(text.len().max(1));
        text[..at.min(text.len())].to_vec()
    });
    prop_oneof![
        6 => changed,
        2 => garbled,
        1 => proptest::collection::vec(any::<u8>(), 0..200),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => Just(200u16),
        1 => Just(201u16),
        1 => Just(204u16),
        1 => prop::sample::select(vec![400u16, 401, 403, 404, 409, 410, 429, 500, 502, 503]),
    ]
}

fn config(kind: &str, base: &str) -> KeyManagerConfig {
    let km = KeyManagerConfig::new(kind, kind);
    match kind {
        "okta" => km
            .with("org_url", base)
            .with("api_token", "00aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789-_")
            .with("introspection_client_id", "0oaIntrospector")
            .with("introspection_client_secret", "introspector-secret"),
        "auth0" => km
            .with("domain", "tenant.example")
            .with("base_url", base)
            .with("management_client_id", "mgmt-client")
            .with("management_client_secret", "mgmt-secret")
            .with("audience", "https://api.example.com/orders"),
        "entra" => km
            .with("tenant_id", "72f988bf-86f1-41af-91ab-2d7cd011db47")
            .with("client_id", "mgmt-app")
            .with("client_secret", "mgmt-secret")
            .with("api_application", "d8f0a7b5-3c4e-4f5a-9b6c-7d8e9f0a1b2c")
            .with("graph_url", format!("{base}/v1.0").as_str())
            .with("login_url", base),
        "keycloak" => km
            .with("base_url", base)
            .with("realm", "demo")
            .with("admin_client_id", "km-admin")
            .with("admin_client_secret", "admin-secret"),
        _ => km.with("issuer", base).with("initial_access_token", "iat-123"),
    }
}

fn factory(kind: &str) -> Arc<dyn ConnectorFactory> {
    match kind {
        "okta" => Arc::new(keymanager_okta::OktaFactory),
        "keycloak" => Arc::new(keymanager_keycloak::KeycloakFactory),
        "auth0" => Arc::new(keymanager_auth0::Auth0Factory),
        "entra" => Arc::new(keymanager_entra::EntraFactory),
        _ => Arc::new(keymanager_oidc::OidcFactory),
    }
}

/// Every operation a gateway or the key service calls, once each; panics propagate to the runner.
async fn exercise(km: &dyn KeyManager) -> Vec<keymanager::Result<()>> {
    let id = ClientId::new("0oa1");
    let spec = ClientSpec::new("svc", KeyType::Production).with_scopes(["orders:read"]);
    vec![
        km.register_client(&spec).await.map(drop),
        km.get_client(&id).await.map(drop),
        km.update_client(&id, &spec).await.map(drop),
        km.list_secrets(&id).await.map(drop),
        km.create_secret(&id, &SecretSpec::default()).await.map(drop),
        km.regenerate_secret(&id).await.map(drop),
        km.issue_token(&TokenRequest::client_credentials(
            "0oa1",
            ClientSecret::new("s3cret-value"),
        ))
        .await
        .map(drop),
        km.introspect(&Token::new("eyJ.x.y"), None).await.map(drop),
        km.list_scopes().await.map(drop),
        km.jwks().await.map(drop),
        km.delete_client(&id).await.map(drop),
    ]
}

#[test]
fn every_connector_turns_any_provider_answer_into_a_value_or_a_typed_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockServer::start());
    let http = HttpClient::new(HttpPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(2),
        ..HttpPolicy::default()
    })
    .unwrap();
    let fixtures = Arc::new(fixtures());
    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    let kinds = prop::sample::select(vec!["okta", "keycloak", "oidc", "auth0", "entra"]);
    let malformed_seen = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&(kinds, status(), body(fixtures)), |(kind, status, body)| {
            rt.block_on(async {
                server.reset().await;
                // The preamble each connector needs before its first call answers well, so that the drawn answer
                // reaches the operation's own parser: Keycloak's admin token, OpenID discovery.
                let base = server.uri();
                Mock::given(method("POST"))
                    .and(path("/realms/demo/protocol/openid-connect/token"))
                    .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                        "access_token": "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjk5OTk5OTk5OTl9.sig",
                        "expires_in": 60, "token_type": "Bearer"})))
                    .with_priority(1)
                    .mount(&server)
                    .await;
                Mock::given(method("GET"))
                    .and(path("/.well-known/openid-configuration"))
                    .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                        "issuer": base,
                        "authorization_endpoint": format!("{base}/authorize"),
                        "token_endpoint": format!("{base}/token"),
                        "jwks_uri": format!("{base}/jwks"),
                        "registration_endpoint": format!("{base}/register"),
                        "introspection_endpoint": format!("{base}/introspect"),
                        "revocation_endpoint": format!("{base}/revoke"),
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"]})))
                    .with_priority(1)
                    .mount(&server)
                    .await;
                Mock::given(any_request())
                    .respond_with(ResponseTemplate::new(status).set_body_raw(body.clone(), "application/json"))
                    .with_priority(5)
                    .mount(&server)
                    .await;
            });
            let ctx = BuildContext {
                http: Some(http.clone()),
                ..BuildContext::default()
            };
            let built = rt.block_on(async {
                tokio::time::timeout(
                    Duration::from_secs(20),
                    factory(kind).build(&config(kind, &server.uri()), &ctx),
                )
                .await
            });
            let Ok(built) = built else {
                panic!("{kind}: building hung")
            };
            let km = built.map_err(|e| TestCaseError::fail(format!("{kind}: cannot build: {e}")))?;
            let results = rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(30), exercise(km.as_ref())).await })
                .unwrap_or_else(|_| panic!("{kind}: an operation hung on status {status}"));
            let not_json = serde_json::from_slice::<Value>(&body).is_err() && !body.iter().all(u8::is_ascii_whitespace);
            for r in results {
                if let Err(e) = r {
                    // Every error is one of the kinds a caller can act on, with a message.
                    prop_assert!(!e.to_string().is_empty());
                    if matches!(e, Error::MalformedResponse { .. }) {
                        malformed_seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    if (200..300).contains(&status) && not_json {
                        prop_assert!(
                            !matches!(e, Error::Storage { .. }),
                            "{kind}: a garbled answer became a storage error: {e}"
                        );
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(
        malformed_seen.into_inner() > 0,
        "no answer was ever found malformed: the bodies never reached a parser"
    );
}
