//! `type = "okta"` in the configuration.

use std::sync::Arc;

use async_trait::async_trait;
use keymanager::connector_kit::http::{HttpClient, HttpPolicy};
use keymanager::connector_kit::ConnectorDescriptor;
use keymanager::connector_kit::KeyManagerConfig;
use keymanager::connector_kit::{BuildContext, ConnectorFactory};
use keymanager::connector_kit::{KeyManager, Result};

use crate::{OktaKeyManager, OktaSettings};

/// Builds Okta key managers.
#[derive(Debug, Default, Clone, Copy)]
pub struct OktaFactory;

#[async_trait]
impl ConnectorFactory for OktaFactory {
    fn descriptor(&self) -> ConnectorDescriptor {
        crate::settings::descriptor()
    }

    fn check(&self, config: &KeyManagerConfig) -> std::result::Result<(), keymanager::connector_kit::ConfigError> {
        OktaSettings::from_config(config).map(|_| ())
    }

    async fn build(&self, config: &KeyManagerConfig, ctx: &BuildContext) -> Result<Arc<dyn KeyManager>> {
        let settings = OktaSettings::from_config(config)?;
        let http = match &ctx.http {
            Some(h) => h.clone(),
            None => HttpClient::new(HttpPolicy::default())?,
        };
        Ok(Arc::new(OktaKeyManager::new(&config.name, settings, http)))
    }
}
