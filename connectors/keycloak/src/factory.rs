//! `type = "keycloak"` in the configuration.

use std::sync::Arc;

use async_trait::async_trait;
use keymanager::config::KeyManagerConfig;
use keymanager::descriptor::ConnectorDescriptor;
use keymanager::http::{HttpClient, HttpPolicy};
use keymanager::registry::{BuildContext, ConnectorFactory};
use keymanager::sql::registrations::{MemoryRegistrations, RegistrationStore, SqlRegistrations};
use keymanager::{KeyManager, Result};

use crate::{KeycloakKeyManager, KeycloakSettings};

/// Builds Keycloak key managers.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeycloakFactory;

#[async_trait]
impl ConnectorFactory for KeycloakFactory {
    fn descriptor(&self) -> ConnectorDescriptor {
        crate::settings::descriptor()
    }

    fn check(&self, config: &KeyManagerConfig) -> std::result::Result<(), keymanager::error::ConfigError> {
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
