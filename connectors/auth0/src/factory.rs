//! `type = "auth0"` in the configuration.

use std::sync::Arc;

use async_trait::async_trait;
use keymanager::connector_kit::http::{HttpClient, HttpPolicy};
use keymanager::connector_kit::{BuildContext, ConfigError, ConnectorDescriptor, ConnectorFactory};
use keymanager::connector_kit::{KeyManager, KeyManagerConfig, Result};

use crate::{Auth0KeyManager, Auth0Settings};

/// Builds Auth0 key managers.
#[derive(Debug, Default, Clone, Copy)]
pub struct Auth0Factory;

#[async_trait]
impl ConnectorFactory for Auth0Factory {
    fn descriptor(&self) -> ConnectorDescriptor {
        crate::settings::descriptor()
    }

    fn check(&self, config: &KeyManagerConfig) -> std::result::Result<(), ConfigError> {
        Auth0Settings::from_config(config).map(|_| ())
    }

    /// An Auth0 tenant domain (`TENANT.auth0.com`, `TENANT.REGION.auth0.com`) as issuer: the domain is proposed;
    /// the management client and the API's identifier are the operator's to add. Custom domains are not
    /// recognisable from their metadata: configure `type = "auth0"` by hand.
    fn recognise(
        &self,
        metadata: &keymanager::connector_kit::oauth::discovery::ServerMetadata,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let issuer = url::Url::parse(&metadata.issuer).ok()?;
        let host = issuer.host_str()?.to_ascii_lowercase();
        let tenant = host.strip_suffix(".auth0.com")?;
        if issuer.scheme() != "https" || tenant.is_empty() || !matches!(issuer.path(), "" | "/") {
            return None;
        }
        let mut settings = serde_json::Map::new();
        settings.insert("domain".into(), serde_json::Value::String(host));
        Some(settings)
    }

    async fn build(&self, config: &KeyManagerConfig, ctx: &BuildContext) -> Result<Arc<dyn KeyManager>> {
        let settings = Auth0Settings::from_config(config)?;
        let http = match &ctx.http {
            Some(h) => h.clone(),
            None => HttpClient::new(HttpPolicy::default())?,
        };
        Ok(Arc::new(Auth0KeyManager::new(&config.name, settings, http)))
    }
}

#[cfg(test)]
mod tests {
    use keymanager::connector_kit::oauth::discovery::ServerMetadata;
    use keymanager::connector_kit::ConnectorFactory;

    fn metadata(issuer: &str) -> ServerMetadata {
        serde_json::from_value(serde_json::json!({"issuer": issuer})).expect("metadata")
    }

    #[test]
    fn auth0_tenants_are_recognised_by_their_issuer_and_nothing_else() {
        let proposed = super::Auth0Factory
            .recognise(&metadata("https://acme.eu.auth0.com/"))
            .expect("an Auth0 tenant");
        assert_eq!(proposed["domain"], "acme.eu.auth0.com");
        for other in [
            "https://auth0.com/",
            "https://acme.eu.auth0.com.evil.example/",
            "http://acme.auth0.com/",
            "https://acme.auth0.com/oauth2/default",
            "https://login.microsoftonline.com/tenant/v2.0",
        ] {
            assert!(super::Auth0Factory.recognise(&metadata(other)).is_none(), "{other}");
        }
    }
}
