//! Connector registry: `type` name → factory, and the [`KeyManagers`] set built from a configuration.
//!
//! The core knows no connector by name. A binary or gateway registers the factories it links:
//!
//! ```no_run
//! # async fn demo(factory: std::sync::Arc<dyn keymanager::registry::ConnectorFactory>) -> keymanager::Result<()> {
//! use keymanager::{config::Config, registry::{BuildContext, ConnectorRegistry}};
//! let mut registry = ConnectorRegistry::new();
//! registry.register(factory);
//! let config = Config::load("keymanager.toml")?;
//! let key_managers = registry.build(&config, &BuildContext::default()).await?;
//! let km = key_managers.get("Resident Key Manager")?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Config, KeyManagerConfig};
use crate::descriptor::{validate_settings, ConnectorDescriptor};
use crate::error::ConfigError;
use crate::http::HttpClient;
use crate::{Error, KeyManager, Result};

/// What a factory gets besides its own table: shared resources of the process. `Debug` hides the database URL's
/// password.
#[derive(Clone, Default)]
pub struct BuildContext {
    /// `[database] url`, resolved (connectors that keep state use it).
    pub database_url: Option<String>,
    /// `[database] max_connections`.
    pub database_max_connections: Option<u32>,
    /// The public base URL of this process's server, when it serves one.
    pub public_url: Option<String>,
    /// Where this process serves (`scheme://address`), when it serves: what a key manager that is its own issuer
    /// derives its issuer from when no public URL is configured.
    pub listen_url: Option<String>,
    /// The data directory.
    pub data_dir: Option<PathBuf>,
    /// The shared outbound HTTP client; `None` = the connector makes one with default settings.
    pub http: Option<HttpClient>,
    /// What the server may fetch on someone else's say ([`Egress`](crate::egress::Egress)): clients' `jwks_uri`s
    /// at the resident, and every call of a key manager added at run time.
    pub egress: crate::egress::Egress,
    /// This process's server asks TLS clients for certificates (`[server] tls_client_certificates`): a key manager
    /// that authenticates clients may offer RFC 8705's methods and bind tokens to certificates.
    pub client_certificates: bool,
}

impl std::fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field(
                "database_url",
                &self.database_url.as_deref().map(crate::config::redact_url_password),
            )
            .field("public_url", &self.public_url)
            .field("listen_url", &self.listen_url)
            .field("data_dir", &self.data_dir)
            .field("egress", &self.egress)
            .field("client_certificates", &self.client_certificates)
            .finish_non_exhaustive()
    }
}

/// Builds key managers of one `type`.
#[async_trait]
pub trait ConnectorFactory: Send + Sync {
    /// The type's self-description: its settings and application properties.
    fn descriptor(&self) -> ConnectorDescriptor;

    /// Check a table beyond what the descriptor declares (ranges, fields that go together), reading it exactly as
    /// [`build`](Self::build) will, without building anything. `config check` and `serve` both run it, so a
    /// configuration that passes the check does not fail to build for its values.
    fn check(&self, config: &KeyManagerConfig) -> Result<(), ConfigError> {
        let _ = config;
        Ok(())
    }

    /// Build a key manager from its (already validated) table.
    async fn build(&self, config: &KeyManagerConfig, ctx: &BuildContext) -> Result<Arc<dyn KeyManager>>;

    /// The settings of a key manager of this type for the provider whose discovery document this is, when this
    /// connector knows that provider by its metadata (`key-managers discover` proposes it instead of `oidc`); the
    /// operator adds the credentials. `None` (the default): not a provider this connector knows.
    fn recognise(
        &self,
        metadata: &crate::oauth::discovery::ServerMetadata,
    ) -> Option<serde_json::Map<String, serde_json::Value>> {
        let _ = metadata;
        None
    }
}

/// The known connector types.
#[derive(Default, Clone)]
pub struct ConnectorRegistry {
    factories: BTreeMap<String, Arc<dyn ConnectorFactory>>,
}

impl ConnectorRegistry {
    /// The first connector type (in name order) that knows the provider of this discovery document, and the
    /// settings it proposes.
    pub fn recognise(
        &self,
        metadata: &crate::oauth::discovery::ServerMetadata,
    ) -> Option<(String, serde_json::Map<String, serde_json::Value>)> {
        self.factories
            .iter()
            .find_map(|(kind, f)| f.recognise(metadata).map(|settings| (kind.clone(), settings)))
    }

    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a factory under its descriptor's `kind`, replacing any earlier one of that kind.
    pub fn register(&mut self, factory: Arc<dyn ConnectorFactory>) -> &mut Self {
        self.factories.insert(factory.descriptor().kind, factory);
        self
    }

    /// The registered types, sorted.
    pub fn kinds(&self) -> Vec<String> {
        self.factories.keys().cloned().collect()
    }

    /// The descriptor of a type.
    pub fn descriptor(&self, kind: &str) -> Option<ConnectorDescriptor> {
        self.factories.get(kind).map(|f| f.descriptor())
    }

    /// The factory of a type.
    pub fn factory(&self, kind: &str) -> Option<Arc<dyn ConnectorFactory>> {
        self.factories.get(kind).cloned()
    }

    /// Check one key manager's table against its connector's declared settings.
    pub fn check_key_manager(&self, km: &KeyManagerConfig) -> Result<(), ConfigError> {
        let Some(factory) = self.factories.get(&km.kind) else {
            return Err(km.error(
                Some("type"),
                format!("unknown type `{}`; known types: {}", km.kind, self.kinds().join(", ")),
            ));
        };
        validate_settings(
            &km.settings,
            &factory.descriptor().connection_settings,
            km.allow_insecure_http,
        )
        .map_err(|(field, message)| km.error(Some(&field), message))?;
        factory.check(km).map_err(|e| match e.key_manager {
            Some(_) => e,
            None => e.in_key_manager(&km.name),
        })
    }

    /// Check every key manager of a configuration.
    pub fn check(&self, config: &Config) -> Result<(), ConfigError> {
        config.key_managers.iter().try_for_each(|km| self.check_key_manager(km))
    }

    /// Check and build every key manager of a configuration, in file order.
    pub async fn build(&self, config: &Config, ctx: &BuildContext) -> Result<KeyManagers> {
        self.check(config)?;
        let mut set = KeyManagers::default();
        for km in &config.key_managers {
            let factory = &self.factories[&km.kind];
            let built = factory.build(km, ctx).await.map_err(|e| match e {
                Error::Configuration(c) => Error::Configuration(c.in_key_manager(&km.name)),
                other => other,
            })?;
            set.insert(built, factory.as_ref())?;
        }
        Ok(set)
    }
}

impl std::fmt::Debug for ConnectorRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorRegistry")
            .field("kinds", &self.kinds())
            .finish()
    }
}

/// The configured key managers, in configuration order, looked up by name.
#[derive(Default, Clone)]
pub struct KeyManagers {
    entries: Vec<(Arc<dyn KeyManager>, Arc<ConnectorDescriptor>)>,
}

impl KeyManagers {
    /// Add a key manager built by (or in code for) `factory`'s connector type; its name must be new, and its
    /// [`kind`](KeyManager::kind) must be the factory's.
    pub fn insert(&mut self, km: Arc<dyn KeyManager>, factory: &dyn ConnectorFactory) -> Result<()> {
        let descriptor = factory.descriptor();
        if km.kind() != descriptor.kind {
            return Err(Error::invalid_field(
                "type",
                format!(
                    "key manager `{}` is of type `{}`, not the factory's `{}`",
                    km.name(),
                    km.kind(),
                    descriptor.kind
                ),
            ));
        }
        self.push(km, Arc::new(descriptor))
    }

    fn push(&mut self, km: Arc<dyn KeyManager>, descriptor: Arc<ConnectorDescriptor>) -> Result<()> {
        if self.entries.iter().any(|(k, _)| k.name() == km.name()) {
            return Err(Error::conflict(format!(
                "a key manager named `{}` exists already",
                km.name()
            )));
        }
        self.entries.push((km, descriptor));
        Ok(())
    }

    /// Move every key manager of `other` here, in order; their names must be new.
    pub fn append(&mut self, other: KeyManagers) -> Result<()> {
        other.entries.into_iter().try_for_each(|(km, d)| self.push(km, d))
    }

    /// The key manager of this name, or `NotFound`.
    pub fn get(&self, name: &str) -> Result<Arc<dyn KeyManager>> {
        self.entries
            .iter()
            .find(|(k, _)| k.name() == name)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| Error::not_found("key manager", name))
    }

    /// The descriptor of the named key manager's connector.
    pub fn descriptor(&self, name: &str) -> Option<&ConnectorDescriptor> {
        self.entries
            .iter()
            .find(|(k, _)| k.name() == name)
            .map(|(_, d)| d.as_ref())
    }

    /// Check a client spec's `additional_properties` against the named key manager's application properties.
    pub fn check_application_properties(
        &self,
        name: &str,
        properties: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        let descriptor = self
            .descriptor(name)
            .ok_or_else(|| Error::not_found("key manager", name))?;
        validate_settings(properties, &descriptor.application_properties, false)
            .map_err(|(field, message)| Error::invalid_field(format!("additional_properties.{field}"), message))
    }

    /// The same set with every key manager replaced by `f(km)` (a decorator keeping its name).
    pub fn wrap(&self, f: impl Fn(Arc<dyn KeyManager>) -> Arc<dyn KeyManager>) -> KeyManagers {
        KeyManagers {
            entries: self.entries.iter().map(|(k, d)| (f(k.clone()), d.clone())).collect(),
        }
    }

    /// The same set without the key manager named `name` (if it has one).
    pub fn without(&self, name: &str) -> KeyManagers {
        KeyManagers {
            entries: self.entries.iter().filter(|(k, _)| k.name() != name).cloned().collect(),
        }
    }

    /// Only the named key managers, in this set's order; `NotFound` for a name it lacks.
    pub fn only(&self, names: &[String]) -> Result<KeyManagers> {
        if let Some(missing) = names.iter().find(|n| self.get(n).is_err()) {
            return Err(Error::not_found("key manager", missing));
        }
        Ok(KeyManagers {
            entries: self
                .entries
                .iter()
                .filter(|(k, _)| names.iter().any(|n| n == k.name()))
                .cloned()
                .collect(),
        })
    }

    /// All key managers, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn KeyManager>> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl std::fmt::Debug for KeyManagers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|k| k.name().to_owned()))
            .finish()
    }
}
