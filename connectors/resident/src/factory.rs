//! `type = "resident"` in the configuration.

use std::sync::Arc;

use async_trait::async_trait;
use keymanager::connector_kit::ConnectorDescriptor;
use keymanager::connector_kit::KeyManagerConfig;
use keymanager::connector_kit::{BuildContext, ConnectorFactory};
use keymanager::connector_kit::{KeyManager, Result};

use crate::settings::ResidentSettings;
use crate::store::Store;
use crate::{ResidentKeyManager, ResidentServer};

/// Builds resident key managers. One resident key manager per database: two would share its clients and keys.
#[derive(Debug, Default, Clone, Copy)]
pub struct ResidentFactory;

#[async_trait]
impl ConnectorFactory for ResidentFactory {
    fn descriptor(&self) -> ConnectorDescriptor {
        crate::settings::descriptor()
    }

    fn check(&self, config: &KeyManagerConfig) -> std::result::Result<(), keymanager::connector_kit::ConfigError> {
        ResidentSettings::from_config(config, None).map(|_| ())
    }

    async fn build(&self, config: &KeyManagerConfig, ctx: &BuildContext) -> Result<Arc<dyn KeyManager>> {
        Ok(Arc::new(self.build_resident(config, ctx).await?))
    }
}

impl ResidentFactory {
    /// Build the concrete key manager, e.g. to serve its HTTP face next to the registry's set.
    pub async fn build_resident(&self, config: &KeyManagerConfig, ctx: &BuildContext) -> Result<ResidentKeyManager> {
        let mut settings = ResidentSettings::from_config(config, ctx.public_url.as_deref())?;
        settings.egress = ctx.egress;
        settings.client_certificates = ctx.client_certificates;
        if let Some(listen) = &ctx.listen_url {
            settings = settings.with_derived_issuer(listen);
        }
        if settings.client_secret_storage == crate::SecretStorage::Retrievable {
            settings.secret_box = Some(Arc::new(keymanager::connector_kit::SecretBox::load(
                ctx.data_dir.as_deref(),
            )?));
        }
        let url = settings
            .database_url
            .clone()
            .or_else(|| ctx.database_url.clone())
            .ok_or_else(|| {
                config.error(
                    Some("database_url"),
                    "the resident key manager needs a database: set [database] url",
                )
            })?;
        let store = Store::connect(&url, ctx.database_max_connections).await?;
        let server = ResidentServer::open(settings, store).await?;
        Ok(ResidentKeyManager::new(&config.name, server))
    }
}
