//! Review finding 8, as a property: any value in any field of any connector's settings is accepted or refused with a
//! typed configuration error naming the key manager, never a panic; and a resident table that passes the check
//! builds on a real store.

use std::sync::Arc;

use keymanager::config::KeyManagerConfig;
use keymanager::registry::{BuildContext, ConnectorFactory, ConnectorRegistry};
use proptest::prelude::*;
use serde_json::{json, Value};

fn registry() -> ConnectorRegistry {
    let mut r = ConnectorRegistry::new();
    r.register(Arc::new(keymanager_resident::ResidentFactory));
    r.register(Arc::new(keymanager_oidc::OidcFactory));
    r.register(Arc::new(keymanager_okta::OktaFactory));
    r.register(Arc::new(keymanager_keycloak::KeycloakFactory));
    r
}

/// Minimal valid tables, one per type, that a property then spoils one field of.
fn base(kind: &str) -> KeyManagerConfig {
    let km = KeyManagerConfig::new("km", kind);
    match kind {
        "okta" => km.with("org_url", "https://dev-1.okta.com").with("api_token", "t0k3n"),
        "keycloak" => km
            .with("base_url", "https://kc.example")
            .with("realm", "acme")
            .with("admin_client_id", "a")
            .with("admin_client_secret", "s"),
        "oidc" => km.with("issuer", "https://idp.example"),
        _ => km,
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(json!(0)),
        Just(json!(-1)),
        any::<bool>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[ -~]{0,30}".prop_map(Value::from),
        Just(json!("https://idp.example/x")),
        Just(json!("http://10.0.0.1/x")),
        Just(json!(["a:passwordpassword", 3])),
        Just(json!({"nested": true})),
        Just(Value::Null),
    ]
}

fn field_of_some_type() -> impl Strategy<Value = (String, String)> {
    let registry = registry();
    let pairs: Vec<(String, String)> = registry
        .kinds()
        .into_iter()
        .flat_map(|kind| {
            let d = registry.descriptor(&kind).unwrap();
            let mut names: Vec<String> = d.connection_settings.iter().map(|s| s.name.clone()).collect();
            names.push("not_a_field".into());
            names.into_iter().map(move |n| (kind.clone(), n))
        })
        .collect();
    prop::sample::select(pairs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_value_in_any_connector_setting_is_a_typed_answer((kind, field) in field_of_some_type(), value in any_json()) {
        let km = base(&kind).with(&field, value);
        if let Err(e) = registry().check_key_manager(&km) {
            prop_assert_eq!(e.key_manager.as_deref(), Some("km"));
            prop_assert!(e.field.is_some(), "{e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// What the check passes, `serve` builds: the resident on a fresh SQLite store, with any lifetime settings.
    #[test]
    fn a_resident_table_that_passes_the_check_builds(
        lifetime in prop_oneof![Just(None), any::<u64>().prop_map(Some), (1u64..100_000).prop_map(Some)],
        max in prop_oneof![Just(None), any::<u64>().prop_map(Some), (1u64..1_000_000).prop_map(Some)],
        refresh in prop_oneof![Just(None), any::<u64>().prop_map(Some)],
        cache in prop_oneof![Just(None), (0u64..5000).prop_map(Some)],
    ) {
        let mut km = base("resident");
        for (k, v) in [("access_token_lifetime", lifetime), ("max_access_token_lifetime", max),
                       ("refresh_token_lifetime", refresh), ("client_cache_seconds", cache)] {
            if let Some(v) = v { km = km.with(k, v); }
        }
        if registry().check_key_manager(&km).is_ok() {
            let dir = tempfile::tempdir().unwrap();
            let ctx = BuildContext {
                database_url: Some(format!("sqlite://{}", dir.path().join("km.db").display())),
                ..BuildContext::default()
            };
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let built = rt.block_on(keymanager_resident::ResidentFactory.build(&km, &ctx));
            prop_assert!(built.is_ok(), "{:?}", built.err());
        }
    }
}
