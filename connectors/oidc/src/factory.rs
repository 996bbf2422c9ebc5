//! `type = "oidc"` in the configuration.

use std::sync::Arc;

use async_trait::async_trait;
use keymanager::connector_kit::http::{HttpClient, HttpPolicy};
use keymanager::connector_kit::ConnectorDescriptor;
use keymanager::connector_kit::KeyManagerConfig;
use keymanager::connector_kit::{BuildContext, ConnectorFactory};
use keymanager::connector_kit::{KeyManager, Result};

use crate::{OidcKeyManager, OidcSettings};
use keymanager::connector_kit::sql::registrations::{MemoryRegistrations, RegistrationStore, SqlRegistrations};

/// Builds oidc key managers. Discovery runs at build time: an unreachable issuer is a clear start-up error.
#[derive(Debug, Default, Clone, Copy)]
pub struct OidcFactory;

#[async_trait]
impl ConnectorFactory for OidcFactory {
    fn descriptor(&self) -> ConnectorDescriptor {
        crate::settings::descriptor()
    }

    fn check(&self, config: &KeyManagerConfig) -> std::result::Result<(), keymanager::connector_kit::ConfigError> {
        OidcSettings::from_config(config).map(|_| ())
    }

    async fn build(&self, config: &KeyManagerConfig, ctx: &BuildContext) -> Result<Arc<dyn KeyManager>> {
        let settings = OidcSettings::from_config(config)?;
        let http = match &ctx.http {
            Some(h) => h.clone(),
            None => HttpClient::new(HttpPolicy::default())?,
        };
        let registrations: Arc<dyn RegistrationStore> = match &ctx.database_url {
            Some(url) => Arc::new(SqlRegistrations::connect(url, ctx.database_max_connections).await?),
            None => {
                tracing::warn!(key_manager = %config.name, "no database: RFC 7592 registration tokens are kept in memory \
                    and lost on restart");
                Arc::new(MemoryRegistrations::default())
            }
        };
        Ok(Arc::new(
            OidcKeyManager::connect(&config.name, settings, http, registrations).await?,
        ))
    }
}
