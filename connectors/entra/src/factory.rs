//! `type = "entra"` in the configuration.

use std::sync::Arc;

use async_trait::async_trait;
use keymanager::connector_kit::http::{HttpClient, HttpPolicy};
use keymanager::connector_kit::oauth::discovery::ServerMetadata;
use keymanager::connector_kit::{BuildContext, ConfigError, ConnectorDescriptor, ConnectorFactory};
use keymanager::connector_kit::{KeyManager, KeyManagerConfig, Result};
use serde_json::{Map, Value};

use crate::{EntraKeyManager, EntraSettings};

/// Builds Entra ID key managers.
#[derive(Debug, Default, Clone, Copy)]
pub struct EntraFactory;

#[async_trait]
impl ConnectorFactory for EntraFactory {
    fn descriptor(&self) -> ConnectorDescriptor {
        crate::settings::descriptor()
    }

    fn check(&self, config: &KeyManagerConfig) -> std::result::Result<(), ConfigError> {
        EntraSettings::from_config(config).map(|_| ())
    }

    async fn build(&self, config: &KeyManagerConfig, ctx: &BuildContext) -> Result<Arc<dyn KeyManager>> {
        let settings = EntraSettings::from_config(config)?;
        let http = match &ctx.http {
            Some(h) => h.clone(),
            None => HttpClient::new(HttpPolicy::default())?,
        };
        Ok(Arc::new(EntraKeyManager::new(&config.name, settings, http)))
    }

    /// An Entra v2.0 issuer (`https://login.microsoftonline.com/{tenant}/v2.0`, or a national cloud's
    /// `login.microsoftonline.us` / `login.partner.microsoftonline.cn`): the tenant and login URL are proposed; the
    /// management application and the API application are the operator's to add.
    fn recognise(&self, metadata: &ServerMetadata) -> Option<Map<String, Value>> {
        let issuer = url::Url::parse(&metadata.issuer).ok()?;
        let host = issuer.host_str()?.to_ascii_lowercase();
        let known = [
            "login.microsoftonline.com",
            "login.microsoftonline.us",
            "login.partner.microsoftonline.cn",
        ];
        if issuer.scheme() != "https" || !known.contains(&host.as_str()) {
            return None;
        }
        let mut segments = issuer.path_segments()?;
        let tenant = segments.next().filter(|t| !t.is_empty())?.to_owned();
        if segments.next() != Some("v2.0") || segments.next().is_some_and(|s| !s.is_empty()) {
            return None;
        }
        let mut settings = Map::new();
        settings.insert("tenant_id".into(), Value::String(tenant));
        if host != "login.microsoftonline.com" {
            settings.insert("login_url".into(), Value::String(format!("https://{host}")));
        }
        Some(settings)
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
    fn entra_tenants_are_recognised_by_their_v2_issuer_and_nothing_else() {
        let p = super::EntraFactory
            .recognise(&metadata(
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            ))
            .expect("an Entra tenant");
        assert_eq!(p["tenant_id"], "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert!(p.get("login_url").is_none());
        let us = super::EntraFactory
            .recognise(&metadata(
                "https://login.microsoftonline.us/contoso.onmicrosoft.us/v2.0",
            ))
            .expect("a national cloud");
        assert_eq!(us["login_url"], "https://login.microsoftonline.us");
        for other in [
            "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
            "https://login.microsoftonline.com.evil.example/t/v2.0",
            "https://login.microsoftonline.com/t/v2.0/extra",
            "https://acme.eu.auth0.com/",
        ] {
            assert!(super::EntraFactory.recognise(&metadata(other)).is_none(), "{other}");
        }
    }
}
