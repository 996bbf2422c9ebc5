//! `type = "keycloak"` in the configuration.

use std::sync::Arc;

use async_trait::async_trait;
use keymanager::connector_kit::http::{HttpClient, HttpPolicy};
use keymanager::connector_kit::sql::registrations::{MemoryRegistrations, RegistrationStore, SqlRegistrations};
use keymanager::connector_kit::ConnectorDescriptor;
use keymanager::connector_kit::KeyManagerConfig;
use keymanager::connector_kit::{BuildContext, ConnectorFactory};
use keymanager::connector_kit::{KeyManager, Result};

use crate::{KeycloakKeyManager, KeycloakSettings};

/// Builds Keycloak key managers.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeycloakFactory;

#[async_trait]
impl ConnectorFactory for KeycloakFactory {
    fn descriptor(&self) -> ConnectorDescriptor {
        crate::settings::descriptor()
    }

    fn check(&self, config: &KeyManagerConfig) -> std::result::Result<(), keymanager::connector_kit::ConfigError> {
        KeycloakSettings::from_config(config).map(|_| ())
    }

    async fn build(&self, config: &KeyManagerConfig, ctx: &BuildContext) -> Result<Arc<dyn KeyManager>> {
        let settings = KeycloakSettings::from_config(config)?;
        let http = match &ctx.http {
            Some(h) => h.clone(),
            None => HttpClient::new(HttpPolicy::default())?,
        };
        let registrations: Arc<dyn RegistrationStore> = match &ctx.database_url {
            Some(url) => Arc::new(SqlRegistrations::connect(url, ctx.database_max_connections).await?),
            None => Arc::new(MemoryRegistrations::default()),
        };
        Ok(Arc::new(KeycloakKeyManager::new(
            &config.name,
            settings,
            http,
            registrations,
        )))
    }
}
