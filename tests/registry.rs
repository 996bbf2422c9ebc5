//! A third party plugs its own connector into the registry, using nothing but the core crate.

use std::sync::Arc;

use async_trait::async_trait;
// A third-party connector needs only the connector kit; the test's own checks use the gateway kit.
use keymanager::connector_kit::model::*;
use keymanager::connector_kit::{
    BuildContext, ConnectorDescriptor, ConnectorFactory, Error, KeyManager, KeyManagerConfig, Result, Setting,
};
use keymanager::gateway_kit::{Config, ConnectorRegistry, KeyManagers};

/// A connector that registers nothing anywhere: it answers from its own settings.
struct EchoKeyManager {
    name: String,
    issuer: String,
}

#[async_trait]
impl KeyManager for EchoKeyManager {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &str {
        "echo"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    fn token_profile(&self) -> TokenProfile {
        TokenProfile {
            issuer: self.issuer.clone(),
            jwks_uri: None,
            introspection_endpoint: None,
            client_id_claim: "client_id".into(),
            scope_claim: ScopeClaim::SpaceSeparated("scope".into()),
            audience: None,
            algorithms: vec!["ES256".into()],
            access_token_typ: None,
        }
    }
    async fn register_client(&self, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&self.capabilities())?;
        Err(Error::unsupported("register_client"))
    }
    async fn get_client(&self, id: &ClientId) -> Result<OAuthClient> {
        Err(Error::not_found("client", id.as_str()))
    }
    async fn delete_client(&self, id: &ClientId) -> Result<()> {
        Err(Error::not_found("client", id.as_str()))
    }
    async fn issue_token(&self, _: &TokenRequest) -> Result<AccessToken> {
        Err(Error::unsupported("issue_token"))
    }
}

struct EchoFactory;

#[async_trait]
impl ConnectorFactory for EchoFactory {
    fn descriptor(&self) -> ConnectorDescriptor {
        ConnectorDescriptor {
            kind: "echo".into(),
            display_name: "Echo".into(),
            description: "A test connector".into(),
            connection_settings: vec![
                Setting::url("issuer", "Issuer").required(),
                Setting::string("api_token", "API token").secret(),
            ],
            application_properties: vec![Setting::string("tier", "Tier").one_of(&["gold", "silver"])],
        }
    }
    async fn build(&self, config: &KeyManagerConfig, _: &BuildContext) -> Result<Arc<dyn KeyManager>> {
        let issuer = config.settings["issuer"].as_str().unwrap_or_default().to_owned();
        Ok(Arc::new(EchoKeyManager {
            name: config.name.clone(),
            issuer,
        }))
    }
}

fn registry() -> ConnectorRegistry {
    let mut r = ConnectorRegistry::new();
    r.register(Arc::new(EchoFactory));
    r
}

#[tokio::test]
async fn a_third_party_connector_is_built_from_config_and_found_by_name() {
    let config = Config::from_toml_str(
        r#"
        [[key_manager]]
        name = "first"
        type = "echo"
        issuer = "https://idp.example.com"

        [[key_manager]]
        name = "second"
        type = "echo"
        issuer = "http://127.0.0.1:8080"
        "#,
        None,
    )
    .unwrap();
    let kms = registry().build(&config, &BuildContext::default()).await.unwrap();
    assert_eq!(kms.len(), 2);
    let names: Vec<_> = kms.iter().map(|k| k.name().to_owned()).collect();
    assert_eq!(names, ["first", "second"]);
    let km: Arc<dyn KeyManager> = kms.get("second").unwrap();
    assert_eq!(km.token_profile().issuer, "http://127.0.0.1:8080");
    // Optional operations default to Unsupported, naming the operation.
    let err = km.create_secret(&"c".into(), &SecretSpec::default()).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { ref operation } if operation == "create_secret"));
    assert!(matches!(kms.get("third").unwrap_err(), Error::NotFound { .. }));
    // Application properties are checked against the descriptor.
    let mut props = serde_json::Map::new();
    props.insert("tier".into(), "bronze".into());
    let err = kms.check_application_properties("first", &props).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid request (field `additional_properties.tier`): `bronze` is not allowed; expected one of: gold, silver"
    );
    props.insert("tier".into(), "gold".into());
    kms.check_application_properties("first", &props).unwrap();
}

#[tokio::test]
async fn a_key_manager_built_in_code_joins_with_its_factorys_descriptor_only() {
    let mut kms = KeyManagers::default();
    let echo = |name: &str| {
        Arc::new(EchoKeyManager {
            name: name.into(),
            issuer: "https://idp.example.com".into(),
        })
    };
    kms.insert(echo("a"), &EchoFactory).unwrap();
    assert_eq!(kms.descriptor("a").map(|d| d.kind.as_str()), Some("echo"));
    // Another type's factory is refused, and so is a second key manager of the same name.
    let err = kms
        .insert(echo("b"), &keymanager_resident::ResidentFactory)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is of type `echo`, not the factory's `resident`"),
        "{err}"
    );
    assert_eq!(kms.insert(echo("a"), &EchoFactory).unwrap_err().kind(), "conflict");
    assert_eq!(kms.len(), 1);
}

#[test]
fn config_errors_name_file_key_manager_and_field() {
    let check = |text: &str| {
        let config = Config::from_toml_str(text, Some(std::path::Path::new("conf/km.toml"))).unwrap();
        registry().check(&config).unwrap_err().to_string()
    };
    assert_eq!(
        check("[[key_manager]]\nname = \"a\"\ntype = \"okta\"\n"),
        "conf/km.toml: key manager \"a\": field `type`: unknown type `okta`; known types: echo"
    );
    assert_eq!(
        check("[[key_manager]]\nname = \"a\"\ntype = \"echo\"\nissuer = \"https://x\"\nisuer = \"y\"\n"),
        "conf/km.toml: key manager \"a\": field `isuer`: unknown field; known fields: issuer, api_token"
    );
    assert_eq!(
        check("[[key_manager]]\nname = \"a\"\ntype = \"echo\"\n"),
        "conf/km.toml: key manager \"a\": field `issuer`: is required"
    );
    assert_eq!(
        check("[[key_manager]]\nname = \"a\"\ntype = \"echo\"\nissuer = \"http://idp.example.com\"\n"),
        "conf/km.toml: key manager \"a\": field `issuer`: plain http:// is refused for the non-loopback host `idp.example.com`; use https:// or set allow_insecure_http = true"
    );
    let ok = Config::from_toml_str(
        "[[key_manager]]\nname = \"a\"\ntype = \"echo\"\nissuer = \"http://idp.example.com\"\nallow_insecure_http = true\n",
        None,
    )
    .unwrap();
    registry().check(&ok).unwrap();
}
