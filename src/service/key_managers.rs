//! Key managers at run time: added, changed, disabled and removed through the management API while the server
//! runs, kept in the store with their secret settings sealed (`crate::secret_box`), built by the same connector
//! registry as the configuration's, and applied without a restart on every node sharing the store (the change is
//! announced; each node reloads). The configuration file's key managers are read-only here.
//!
//! A disabled key manager takes no new keys and issues no tokens through the service; its mappings stay visible.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{audit::Audit, KeyService, StoredKeyManager};
use crate::config::KeyManagerConfig;
use crate::registry::{BuildContext, ConnectorRegistry, KeyManagers};
use crate::secret_box::SecretBox;
use crate::{Error, KeyManager, Result};

/// What is in use: the set, and which of it is disabled.
#[derive(Clone, Default)]
pub(crate) struct Live {
    pub set: KeyManagers,
    pub disabled: HashSet<String>,
}

impl Live {
    /// The key managers in use that are enabled.
    fn enabled(&self) -> KeyManagers {
        self.disabled
            .iter()
            .fold(self.set.clone(), |set, name| set.without(name))
    }
}

/// The run-time key managers built so far: by name, what their stored row said when built (its type, settings as
/// stored and `allow_insecure_http`), and the key manager. A reload rebuilds only what changed, so an unchanged key
/// manager keeps its instance (its caches, its management token, the validators' signing keys).
pub(crate) type Built = std::collections::HashMap<String, (String, KeyManagers)>;

/// What of a stored key manager its instance is built from (`enabled` is not: it only gates new keys).
fn build_fingerprint(stored: &StoredKeyManager) -> String {
    format!(
        "{}\n{}\n{}",
        stored.kind,
        stored.allow_insecure_http,
        Value::Object(stored.settings.clone())
    )
}

/// How this service builds key managers at run time.
pub struct KeyManagerBuilder {
    /// The connector types it may build.
    pub registry: ConnectorRegistry,
    /// What they are built with (database, data directory, HTTP client).
    pub context: BuildContext,
    /// The keys that seal secret settings.
    pub sealing: Arc<SecretBox>,
    /// Applied to every key manager built (the server records revocations made through each).
    pub wrap: Arc<dyn Fn(&KeyManagers) -> KeyManagers + Send + Sync>,
}

impl std::fmt::Debug for KeyManagerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManagerBuilder")
            .field("kinds", &self.registry.kinds())
            .finish_non_exhaustive()
    }
}

/// A key manager to add.
#[derive(Debug, Clone)]
pub struct NewKeyManager {
    /// Its name (unique).
    pub name: String,
    /// Its connector type.
    pub kind: String,
    /// Its connector settings, as the connector's descriptor declares them.
    pub settings: Map<String, Value>,
    /// Whether it takes new keys at once.
    pub enabled: bool,
    /// Plain `http://` endpoints allowed off loopback.
    pub allow_insecure_http: bool,
}

/// A change to a key manager added at run time: settings given replace the stored ones (a secret setting left out
/// keeps its value; `null` removes a setting); `enabled` switches it.
#[derive(Debug, Clone, Default)]
pub struct KeyManagerChange {
    /// Settings to replace.
    pub settings: Option<Map<String, Value>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// What the API shows of a key manager.
#[derive(Debug, Clone)]
pub struct KeyManagerView {
    /// The key manager.
    pub key_manager: Arc<dyn KeyManager>,
    /// Defined in the configuration file (not changed here).
    pub read_only: bool,
    /// Takes new keys and tokens.
    pub enabled: bool,
    /// Its settings with every secret one shown as `********` (run-time ones only).
    pub settings: Option<Map<String, Value>>,
}

/// How often a server reloads the run-time key managers when no change is pushed to it (SQLite, or a PostgreSQL
/// listener that is reconnecting); a reload that finds nothing changed reads one table.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);

/// Secret settings are write-only: this stands for them.
pub(crate) const HIDDEN: &str = "********";

/// The settings that hold a sealed value, with their field names.
fn sealed_settings(settings: &Map<String, Value>) -> impl Iterator<Item = (&str, &str)> {
    settings.iter().filter_map(|(field, value)| {
        let text = value.as_str()?;
        SecretBox::key_id_of(text).map(|_| (field.as_str(), text))
    })
}

fn sealing_context(name: &str, field: &str) -> String {
    format!("key_manager:{name}:{field}")
}

impl KeyService {
    /// Let this service add, change and remove key managers at run time (and load those stored).
    pub fn with_key_manager_builder(mut self, builder: KeyManagerBuilder) -> Self {
        self.builder = Some(Arc::new(builder));
        self
    }

    /// One sealed setting per key id among the key managers stored, with its context, for
    /// [`SecretBox::check_can_open`](crate::secret_box::SecretBox::check_can_open).
    pub async fn sealed_samples(&self) -> Result<Vec<(String, String)>> {
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for km in self.store.list_key_managers().await? {
            for (field, sealed) in sealed_settings(&km.settings) {
                if let Some(id) = SecretBox::key_id_of(sealed).filter(|id| !seen.iter().any(|s| s == id)) {
                    seen.push(id.to_owned());
                    out.push((sealed.to_owned(), sealing_context(&km.name, field)));
                }
            }
        }
        Ok(out)
    }

    /// Where the stored key managers hold values `sealing`'s first key did not seal (`key_manager:NAME:FIELD`).
    pub async fn sealed_not_under(&self, sealing: &SecretBox) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for km in self.store.list_key_managers().await? {
            for (field, sealed) in sealed_settings(&km.settings) {
                if SecretBox::key_id_of(sealed) != Some(sealing.sealing_key_id()) {
                    out.push(sealing_context(&km.name, field));
                }
            }
        }
        Ok(out)
    }

    /// Seal every stored key manager's sealed settings again under `sealing`'s first key (`keymanager secret-key
    /// rotate`). Safe beside a serving node: each key manager's settings are swapped only if nobody changed them
    /// since they were read (else read again, up to 5 times); resumable: what the first key sealed is left as it is.
    /// Returns how many values were sealed again.
    pub async fn reseal_key_managers(&self, sealing: &SecretBox) -> Result<usize> {
        let mut resealed = 0;
        for name in self.store.list_key_managers().await?.into_iter().map(|km| km.name) {
            let mut attempts = 0;
            loop {
                let Some(km) = self
                    .store
                    .list_key_managers()
                    .await?
                    .into_iter()
                    .find(|k| k.name == name)
                else {
                    break; // removed meanwhile
                };
                let mut settings = km.settings.clone();
                let mut changed = 0;
                for (field, sealed) in sealed_settings(&km.settings) {
                    if let Some(new) = sealing.reseal(sealed, &sealing_context(&km.name, field))? {
                        settings.insert(field.to_owned(), Value::String(new));
                        changed += 1;
                    }
                }
                if changed == 0
                    || self
                        .store
                        .swap_key_manager_settings(&name, &km.settings, &settings)
                        .await?
                {
                    resealed += changed;
                    break;
                }
                attempts += 1;
                if attempts >= 5 {
                    return Err(Error::conflict(format!(
                        "key manager `{name}` kept changing while its settings were sealed again; run the rotation again"
                    )));
                }
            }
        }
        Ok(resealed)
    }

    /// What this service may fetch on someone else's say (the run-time builder's; without one, public only).
    pub fn egress(&self) -> crate::egress::Egress {
        self.builder.as_deref().map(|b| b.context.egress).unwrap_or_default()
    }

    fn builder(&self) -> Result<&KeyManagerBuilder> {
        self.builder
            .as_deref()
            .ok_or_else(|| Error::unsupported("key managers at run time (this service was built without them)"))
    }

    fn secret_fields(&self, kind: &str) -> Result<Vec<String>> {
        self.settings_where(kind, |s| s.secret)
    }

    /// The settings of a connector type that say where its calls (and so its secrets) go: every `Url` setting,
    /// whatever its name, so a URL setting added to a connector later is one too.
    fn destination_fields(&self, kind: &str) -> Result<Vec<String>> {
        self.settings_where(kind, |s| s.kind == crate::descriptor::SettingKind::Url)
    }

    /// The connector type that knows the provider of this discovery document, its proposed settings and the
    /// descriptor's required settings the proposal leaves to the operator; `None` when only `oidc` fits.
    pub fn recognise_provider(
        &self,
        metadata: &crate::oauth::discovery::ServerMetadata,
    ) -> Option<(String, serde_json::Map<String, serde_json::Value>, Vec<String>)> {
        let registry = &self.builder().ok()?.registry;
        let (kind, settings) = registry.recognise(metadata)?;
        let missing = registry
            .descriptor(&kind)
            .map(|d| {
                d.connection_settings
                    .iter()
                    .filter(|s| s.required && !settings.contains_key(&s.name))
                    .map(|s| s.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        Some((kind, settings, missing))
    }

    /// The names of a connector type's settings that `which` picks.
    fn settings_where(&self, kind: &str, which: impl Fn(&crate::descriptor::Setting) -> bool) -> Result<Vec<String>> {
        let descriptor = self
            .builder()?
            .registry
            .descriptor(kind)
            .ok_or_else(|| Error::invalid_field("type", format!("unknown connector type `{kind}`")))?;
        Ok(descriptor
            .connection_settings
            .iter()
            .filter(|s| which(s))
            .map(|s| s.name.clone())
            .collect())
    }

    /// Build a key manager from its table (checked against its connector's descriptor first: unknown fields,
    /// wrong types and missing required ones are refused by name, as `settings.FIELD`).
    async fn build_one(&self, config: &KeyManagerConfig) -> Result<Arc<dyn KeyManager>> {
        let b = self.builder()?;
        b.registry.check_key_manager(config).map_err(|e| {
            // The table's own fields keep their names; the connector's settings are under `settings`.
            let field = match e.field {
                Some(f) if f == "type" || f == "name" || f == "allow_insecure_http" => f,
                Some(f) => format!("settings.{f}"),
                None => "settings".into(),
            };
            Error::invalid_field(field, e.message)
        })?;
        let one = crate::config::Config {
            key_managers: vec![config.clone()],
            ..Default::default()
        };
        // A key manager added at run time is someone's say, not the operator's file: every call it makes passes the
        // egress guard.
        let context = crate::registry::BuildContext {
            http: Some(crate::http::HttpClient::guarded(
                crate::http::HttpPolicy::default(),
                b.context.egress,
            )?),
            ..b.context.clone()
        };
        let built = b.registry.build(&one, &context).await?;
        (b.wrap)(&built).get(&config.name)
    }

    /// The table of a stored key manager, its secrets unsealed.
    fn config_of(&self, stored: &StoredKeyManager) -> Result<KeyManagerConfig> {
        let b = self.builder()?;
        let mut settings = stored.settings.clone();
        for field in self.secret_fields(&stored.kind)? {
            if let Some(Value::String(sealed)) = settings.get(&field) {
                let plain = b.sealing.open(sealed, &sealing_context(&stored.name, &field))?;
                settings.insert(field, Value::String(plain));
            }
        }
        Ok(KeyManagerConfig {
            name: stored.name.clone(),
            kind: stored.kind.clone(),
            allow_insecure_http: stored.allow_insecure_http,
            settings,
            source: None,
        })
    }

    /// The stored form of a table: secret settings sealed.
    fn sealed(&self, config: &KeyManagerConfig) -> Result<Map<String, Value>> {
        let b = self.builder()?;
        let mut settings = config.settings.clone();
        for field in self.secret_fields(&config.kind)? {
            if let Some(v) = settings.get(&field) {
                let plain = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                settings.insert(
                    field.clone(),
                    Value::String(b.sealing.seal(&plain, &sealing_context(&config.name, &field))?),
                );
            }
        }
        Ok(settings)
    }

    /// Load the key managers stored for run time and use them beside the configuration's. Only rows that changed
    /// since the last load are built again; one that cannot be built (its provider is down, its key is missing) is
    /// left out, and said so, until the next reload.
    pub async fn reload_key_managers(&self) -> Result<()> {
        if self.builder.is_none() {
            return Ok(());
        }
        let _changing = self.changing.lock().await;
        let stored = self.store.list_key_managers().await?;
        let before = self.built.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut built = Built::new();
        let mut live = Live {
            set: (*self.fixed).clone(),
            disabled: HashSet::new(),
        };
        for s in &stored {
            if self.fixed.get(&s.name).is_ok() {
                tracing::warn!(key_manager = %s.name, "a stored key manager has a configured one's name; the configuration's wins");
                continue;
            }
            let fingerprint = build_fingerprint(s);
            let one = match before.get(&s.name) {
                Some((f, one)) if *f == fingerprint => Ok(one.clone()),
                _ => match self.config_of(s) {
                    Ok(config) => match self.build_one(&config).await {
                        Ok(km) => self.single(km, &s.kind),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                },
            };
            match one {
                Ok(one) => {
                    built.insert(s.name.clone(), (fingerprint, one.clone()));
                    live.set.append(one)?;
                    if !s.enabled {
                        live.disabled.insert(s.name.clone());
                    }
                }
                Err(e) => {
                    tracing::warn!(key_manager = %s.name, error = %crate::error::chain(&e), "a stored key manager cannot be built; it is left out");
                }
            }
        }
        let changed = before.len() != built.len()
            || built
                .iter()
                .any(|(n, (f, _))| before.get(n).is_none_or(|(g, _)| g != f));
        let was = self.live.read().unwrap_or_else(|p| p.into_inner()).disabled.clone();
        *self.built.lock().unwrap_or_else(|p| p.into_inner()) = built;
        if changed || was != live.disabled {
            self.change_live(|l| {
                *l = live;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Reload the run-time key managers every `every` (the fallback when no change is pushed, and SQLite's way),
    /// for as long as the process runs. A reload that finds nothing changed reads one table and builds nothing.
    pub fn spawn_key_manager_poller(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = service.reload_key_managers().await {
                    tracing::warn!(error = %crate::error::chain(&e), "cannot reload the key managers");
                }
            }
        })
    }

    /// The enabled key managers in use, now and after every change (added, changed, disabled, enabled, removed, on
    /// this node or, once reloaded, on another): token validators follow it (`TokenValidator::follow_key_managers`
    /// of the `validation` feature).
    pub fn watch_key_managers(&self) -> tokio::sync::watch::Receiver<KeyManagers> {
        self.published.subscribe()
    }

    /// Change what is in use, and publish the enabled set (under the lock, so the published order is the order of
    /// changes).
    fn change_live(&self, f: impl FnOnce(&mut Live) -> Result<()>) -> Result<()> {
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        let mut next = live.clone();
        f(&mut next)?;
        self.published.send_replace(next.enabled());
        *live = next;
        Ok(())
    }

    /// Remember what a stored key manager was built from, so the next reload keeps this instance.
    fn remember_built(&self, stored: &StoredKeyManager, one: &KeyManagers) {
        self.built
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(stored.name.clone(), (build_fingerprint(stored), one.clone()));
    }

    /// A set of one built key manager, with its connector's descriptor.
    fn single(&self, km: Arc<dyn KeyManager>, kind: &str) -> Result<KeyManagers> {
        let b = self.builder()?;
        let factory = b
            .registry
            .factory(kind)
            .ok_or_else(|| Error::invalid_field("type", format!("unknown connector type `{kind}`")))?;
        let mut one = KeyManagers::default();
        one.insert(km, factory.as_ref())?;
        Ok(one)
    }

    /// Every key manager in use, with whether it is the configuration's and whether it is enabled.
    pub async fn key_manager_views(&self) -> Result<Vec<KeyManagerView>> {
        let stored = match self.builder {
            Some(_) => self.store.list_key_managers().await?,
            None => Vec::new(),
        };
        let live = self.live.read().unwrap_or_else(|p| p.into_inner()).clone();
        Ok(live
            .set
            .iter()
            .map(|km| {
                let settings = stored.iter().find(|s| s.name == km.name()).map(|s| {
                    let secret = self.secret_fields(&s.kind).unwrap_or_default();
                    s.settings
                        .iter()
                        .map(|(k, v)| match secret.contains(k) {
                            true => (k.clone(), Value::String(HIDDEN.into())),
                            false => (k.clone(), v.clone()),
                        })
                        .collect()
                });
                KeyManagerView {
                    key_manager: km.clone(),
                    read_only: self.fixed.get(km.name()).is_ok(),
                    enabled: !live.disabled.contains(km.name()),
                    settings,
                }
            })
            .collect())
    }

    /// Refuse new keys and tokens at a disabled key manager.
    pub(crate) fn check_enabled(&self, name: &str) -> Result<()> {
        if self
            .live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .disabled
            .contains(name)
        {
            return Err(Error::conflict(format!(
                "key manager `{name}` is disabled: it takes no new keys and issues no tokens"
            )));
        }
        Ok(())
    }

    fn not_configured_here(&self, name: &str) -> Result<()> {
        if self.fixed.get(name).is_ok() {
            return Err(Error::conflict(format!(
                "key manager `{name}` is defined in the configuration file; change it there"
            )));
        }
        Ok(())
    }

    /// Add a key manager: checked against its connector, built (a provider it must reach at build time is
    /// reached now), stored with its secrets sealed, and in use here at once (on other nodes when they hear of it).
    pub async fn add_key_manager(&self, new: &NewKeyManager, audit: &Audit) -> Result<KeyManagerView> {
        let _changing = self.changing.lock().await;
        super::check_text("name", &new.name, 100)?;
        self.not_configured_here(&new.name)?;
        if new.kind == "resident" {
            return Err(Error::invalid_field(
                "type",
                "the resident key manager is one per database and lives in the configuration file",
            ));
        }
        if self.key_managers().get(&new.name).is_ok() {
            return Err(Error::conflict(format!(
                "a key manager named `{}` exists already",
                new.name
            )));
        }
        let config = KeyManagerConfig {
            name: new.name.clone(),
            kind: new.kind.clone(),
            allow_insecure_http: new.allow_insecure_http,
            settings: new.settings.clone(),
            source: None,
        };
        let km = self.build_one(&config).await?;
        let at = self.now();
        let stored = StoredKeyManager {
            name: new.name.clone(),
            kind: new.kind.clone(),
            settings: self.sealed(&config)?,
            enabled: new.enabled,
            allow_insecure_http: new.allow_insecure_http,
            created_at: at,
            updated_at: at,
        };
        self.store
            .put_key_manager(&stored, false, audit.to_write().as_ref())
            .await?;
        audit.mark_written();
        let one = self.single(km, &new.kind)?;
        self.remember_built(&stored, &one);
        self.change_live(|live| {
            // A reload on another node's announcement may have brought it in already.
            live.set = live.set.without(&new.name);
            live.set.append(one)?;
            if !new.enabled {
                live.disabled.insert(new.name.clone());
            }
            Ok(())
        })?;
        tracing::info!(key_manager = %new.name, kind = %new.kind, "added a key manager");
        self.view(&new.name).await
    }

    /// Change a key manager added at run time: its settings (rebuilt and checked like a new one) or whether it is
    /// enabled.
    pub async fn update_key_manager(
        &self,
        name: &str,
        change: &KeyManagerChange,
        audit: &Audit,
    ) -> Result<KeyManagerView> {
        self.not_configured_here(name)?;
        let _changing = self.changing.lock().await;
        let mut stored = self
            .store
            .list_key_managers()
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::not_found("key manager", name))?;
        if let Some(settings) = &change.settings {
            let mut config = self.config_of(&stored)?;
            let secret = self.secret_fields(&stored.kind)?;
            // Secrets kept from before go only where they went before: a change of destination must bring them
            // again (review 2, finding 8).
            let destinations = self.destination_fields(&stored.kind)?;
            let moved: Vec<&String> = settings
                .iter()
                .filter(|(k, v)| destinations.contains(k) && config.settings.get(k.as_str()) != Some(v))
                .map(|(k, _)| k)
                .collect();
            if let Some(first) = moved.first() {
                let given = |k: &str| matches!(settings.get(k), Some(Value::String(v)) if v != HIDDEN);
                let kept: Vec<&String> = secret
                    .iter()
                    .filter(|k| config.settings.contains_key(k.as_str()) && !given(k))
                    .collect();
                if let Some(missing) = kept.first() {
                    let names = kept.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
                    return Err(Error::invalid_field(
                        format!("settings.{missing}"),
                        format!(
                            "changing `{first}` changes where this key manager's secrets are sent; send {names} again \
                             in the same change"
                        ),
                    ));
                }
            }
            for (k, v) in settings {
                match v {
                    Value::Null => {
                        config.settings.remove(k);
                    }
                    // The placeholder a listing shows keeps the value.
                    Value::String(s) if s == HIDDEN && secret.contains(k) => {}
                    v => {
                        config.settings.insert(k.clone(), v.clone());
                    }
                }
            }
            let km = self.build_one(&config).await?;
            stored.settings = self.sealed(&config)?;
            stored.enabled = change.enabled.unwrap_or(stored.enabled);
            stored.updated_at = self.now();
            self.store
                .put_key_manager(&stored, true, audit.to_write().as_ref())
                .await?;
            audit.mark_written();
            let one = self.single(km, &stored.kind)?;
            self.remember_built(&stored, &one);
            self.change_live(|live| {
                let mut set = live.set.without(name);
                set.append(one)?;
                live.set = set;
                Ok(())
            })?;
        } else if let Some(enabled) = change.enabled {
            stored.enabled = enabled;
            stored.updated_at = self.now();
            self.store
                .put_key_manager(&stored, true, audit.to_write().as_ref())
                .await?;
            audit.mark_written();
        }
        self.change_live(|live| {
            match stored.enabled {
                true => live.disabled.remove(name),
                false => live.disabled.insert(name.to_owned()),
            };
            Ok(())
        })?;
        tracing::info!(key_manager = %name, enabled = stored.enabled, "changed a key manager");
        self.view(name).await
    }

    /// Remove a key manager added at run time. One that key mappings still point to is `Conflict` unless `force`
    /// (then its mappings go too; the clients stay at the provider).
    pub async fn remove_key_manager(&self, name: &str, force: bool, audit: &Audit) -> Result<()> {
        let _changing = self.changing.lock().await;
        self.not_configured_here(name)?;
        let held = self.store.count_mappings_of(name).await?;
        if held > 0 && !force {
            return Err(Error::conflict(format!(
                "key manager `{name}` holds {held} key mapping(s); remove them first, or force the removal (the \
                 mappings go, the clients stay at the provider)"
            )));
        }
        self.store
            .delete_key_manager(name, force, audit.to_write().as_ref())
            .await?;
        audit.mark_written();
        self.built.lock().unwrap_or_else(|p| p.into_inner()).remove(name);
        self.change_live(|live| {
            live.set = live.set.without(name);
            live.disabled.remove(name);
            Ok(())
        })?;
        tracing::info!(key_manager = %name, force, "removed a key manager");
        Ok(())
    }

    /// One key manager as the API shows it.
    pub async fn view(&self, name: &str) -> Result<KeyManagerView> {
        self.key_manager_views()
            .await?
            .into_iter()
            .find(|v| v.key_manager.name() == name)
            .ok_or_else(|| Error::not_found("key manager", name))
    }
}
