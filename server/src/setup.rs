//! What every command shares: the registry of built-in connectors, the configuration (a file, or the embedded
//! default), the data directory, the admin token, and the key managers with the key service built from them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keymanager::config::{Config, KeyManagerConfig};
use keymanager::registry::{BuildContext, ConnectorRegistry, KeyManagers};
use keymanager::service::{KeyService, SqlApplicationStore};
use keymanager::validation::RevocationSink;
use keymanager_resident::{ResidentFactory, ResidentKeyManager};

use crate::Failure;

/// The name of the embedded default's key manager.
pub const DEFAULT_KEY_MANAGER: &str = "Resident Key Manager";
/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9443";

/// The connector types this binary links.
pub fn registry() -> ConnectorRegistry {
    let mut r = ConnectorRegistry::new();
    r.register(Arc::new(ResidentFactory));
    r.register(Arc::new(keymanager_oidc::OidcFactory));
    r.register(Arc::new(keymanager_okta::OktaFactory));
    r.register(Arc::new(keymanager_auth0::Auth0Factory));
    r.register(Arc::new(keymanager_entra::EntraFactory));
    r.register(Arc::new(keymanager_keycloak::KeycloakFactory));
    r
}

/// The configuration file's content, or the embedded default: one resident key manager.
pub fn load_config(file: Option<&Path>) -> Result<Config, Failure> {
    let config = match file {
        Some(f) => Config::load(f)?,
        None => Config {
            key_managers: vec![KeyManagerConfig::new(DEFAULT_KEY_MANAGER, "resident")],
            ..Config::default()
        },
    };
    registry().check(&config)?;
    Ok(config)
}

/// The data directory: the flag, else `[server] data_dir`, else `./data`.
pub fn data_dir(flag: Option<&Path>, config: &Config) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| config.server.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// Everything a command works with.
pub struct Runtime {
    /// The configuration's key managers, their revocations recorded for every node's validators.
    pub key_managers: KeyManagers,
    /// The resident key manager, when one is configured (its HTTP face is served).
    pub resident: Option<(String, ResidentKeyManager)>,
    /// The key service over them and the store.
    pub service: KeyService,
    /// The key service's store, also the log of revocations made through this library.
    pub store: Arc<SqlApplicationStore>,
    /// Its database URL (for the change listener).
    pub database_url: String,
    /// What key managers are built with (also those added at run time).
    pub context: BuildContext,
}

/// Tell `validator` whenever the resident key manager's signing keys change (rotated or retired here, announced by
/// another node, or found by polling): it fetches them again and checks validated tokens again, so a retired key's
/// tokens are refused at once.
pub fn follow_signing_keys(runtime: &Runtime, validator: &Arc<keymanager::validation::TokenValidator>) {
    let Some((name, resident)) = &runtime.resident else {
        return;
    };
    let mut changes = resident.server().keys().watch();
    let validator = Arc::downgrade(validator);
    let name = name.clone();
    tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let Some(validator) = validator.upgrade() else { return };
            validator.signing_keys_changed(&name);
        }
    });
}

/// How often a process without push (SQLite) looks for signing keys another process rotated or retired.
pub const SIGNING_KEY_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a command may create the data directory and database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// It changes things: create what is missing.
    Write,
    /// It only reads: a missing data directory or database is an error, never created.
    ReadOnly,
}

/// Build the key managers and the key service on the configured database (default: SQLite in `data_dir`).
pub async fn build(
    config: &Config,
    data_dir: &Path,
    listen_url: Option<String>,
    access: Access,
) -> Result<Runtime, Failure> {
    let database_url = match (&config.database.url, access) {
        (Some(url), _) => url.clone(),
        (None, Access::Write) => {
            ensure_data_dir(data_dir)?;
            default_database_url(data_dir)?
        }
        (None, Access::ReadOnly) => existing_database_url(data_dir)?,
    };
    let ctx = BuildContext {
        database_url: Some(database_url.clone()),
        database_max_connections: config.database.max_connections,
        public_url: config.server.public_url.clone(),
        listen_url,
        data_dir: Some(data_dir.to_path_buf()),
        http: None,
        egress: keymanager::server_kit::Egress::from_setting(config.server.allow_private_fetches),
        client_certificates: config.server.tls_client_certificates,
    };
    let registry = registry();
    registry.check(config)?;
    let mut key_managers = KeyManagers::default();
    let mut resident = None;
    for km in &config.key_managers {
        if km.kind == keymanager_resident::KIND && resident.is_none() {
            let built = ResidentFactory.build_resident(km, &ctx).await?;
            key_managers.insert(Arc::new(built.clone()), &ResidentFactory)?;
            resident = Some((km.name.clone(), built));
        } else {
            let one = keymanager::config::Config {
                key_managers: vec![km.clone()],
                ..Config::default()
            };
            key_managers.append(registry.build(&one, &ctx).await?)?;
        }
    }
    if let Some((name, built)) = &resident {
        trust_subject_tokens(name, built, &key_managers)?;
    }
    let store = Arc::new(SqlApplicationStore::connect(&database_url, config.database.max_connections).await?);
    // Revocations through the library (any connector) are logged, so validators on every node learn them.
    let key_managers =
        keymanager::validation::record_revocations(&key_managers, vec![store.clone() as Arc<dyn RevocationSink>]);
    let mut service = KeyService::new(key_managers.clone(), store.clone());
    if let Some((name, resident)) = &resident {
        service = service
            .with_users(resident.server().clone())
            .with_signing_keys(name, resident.server().clone());
    }
    Ok(Runtime {
        key_managers,
        resident,
        service,
        store,
        database_url,
        context: ctx,
    })
}

/// Create the data directory, owner-only, when it does not exist. An existing directory keeps its mode (it may be
/// shared on purpose); one that others can read or enter gets a warning, since it holds signing keys.
pub fn ensure_data_dir(dir: &Path) -> Result<(), Failure> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {
            warn_if_open_to_others(dir, &m);
            Ok(())
        }
        Ok(_) => Err(Failure::Usage(format!(
            "the data directory {} exists but is not a directory",
            dir.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder
                .create(dir)
                .map_err(|e| Failure::Usage(format!("cannot create the data directory {}: {e}", dir.display())))
        }
        Err(e) => Err(Failure::Usage(format!(
            "cannot read the data directory {}: {e}",
            dir.display()
        ))),
    }
}

fn warn_if_open_to_others(dir: &Path, meta: &std::fs::Metadata) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o007 != 0 {
            tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"),
                "the data directory is open to other users; it holds signing keys and secret hashes: chmod 700 it");
        }
    }
    #[cfg(not(unix))]
    let _ = (dir, meta);
}

/// The data directory's existing SQLite database, for a command that only reads: never created here.
fn existing_database_url(dir: &Path) -> Result<String, Failure> {
    let path = dir.join("keymanager.db");
    if !path.is_file() {
        return Err(Failure::Usage(format!(
            "no keymanager database at {}: start `keymanager serve` (or run a command that creates something) \
             first, or point --data-dir / KEYMANAGER_DATA_DIR at an existing data directory",
            path.display()
        )));
    }
    Ok(format!("sqlite://{}", path.display()))
}

/// The SQLite URL of the data directory's database, created owner-only (it holds signing keys and secret
/// hashes; SQLite gives its `-wal` and `-shm` files the same mode).
pub fn default_database_url(dir: &Path) -> Result<String, Failure> {
    let path = dir.join("keymanager.db");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(&path)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", path.display())))?;
    Ok(format!("sqlite://{}", path.display()))
}

/// The admin token in `DIR/admin-token`, generated once (mode 0600) when the file does not exist.
pub fn admin_token_file(dir: &Path) -> Result<(String, PathBuf, bool), Failure> {
    let path = dir.join("admin-token");
    refuse_loose_token_file(&path)?;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let token = text.trim().to_owned();
            if token.len() < 32 {
                return Err(Failure::Usage(format!(
                    "{} holds no usable token (at least 32 characters); delete it to generate a new one",
                    path.display()
                )));
            }
            Ok((token, path, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (token, _) = keymanager_resident::AdminToken::generate();
            write_private(&path, &token)
                .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
            Ok((token, path, true))
        }
        Err(e) => Err(Failure::Usage(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Refuse an admin-token file that other users can read or write, as ssh refuses a loose private key: anyone who
/// could read it holds every power of the management API.
fn refuse_loose_token_file(path: &Path) -> Result<(), Failure> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Failure::Usage(format!(
                    "{} is accessible by other users (mode {mode:o}); it grants full admin access. \
                     Run `chmod 600 {}` and start again",
                    path.display(),
                    path.display()
                )));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Write a file readable by its owner only, atomically (a temporary file, synced, then renamed).
pub fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(&tmp)?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// How a server builds key managers added at run time: the built-in connectors, the runtime's build context, these
/// sealing keys, and revocations made through them logged to the store (so validators on every node learn them).
pub fn key_manager_builder(
    runtime: &Runtime,
    sealing: Arc<keymanager::server_kit::SecretBox>,
) -> keymanager::service::key_managers::KeyManagerBuilder {
    let sink = runtime.store.clone() as Arc<dyn RevocationSink>;
    keymanager::service::key_managers::KeyManagerBuilder {
        registry: registry(),
        context: runtime.context.clone(),
        sealing,
        wrap: Arc::new(move |set| keymanager::validation::record_revocations(set, vec![sink.clone()])),
    }
}

/// A subscriber that reloads the run-time key managers when another node announces a change (or one may have been
/// missed).
pub fn on_key_manager_change(service: KeyService) -> keymanager::sql::changes::Subscriber {
    Arc::new(move |c: &keymanager::sql::changes::Change| {
        use keymanager::sql::changes::Change;
        if matches!(c, Change::KeyManagers | Change::CatchUp) {
            let service = service.clone();
            tokio::spawn(async move {
                if let Err(e) = service.reload_key_managers().await {
                    tracing::warn!(error = %e, "cannot reload the key managers after a change");
                }
            });
        }
    })
}

/// Refuse to serve with a secret key that cannot open what the store holds (review 2, finding 9): one line naming
/// the key ids the store needs and those this node has, instead of a node that reports ready and answers 500.
pub async fn check_secret_key(
    runtime: &Runtime,
    service: &keymanager::service::KeyService,
    sealing: &keymanager::server_kit::SecretBox,
) -> Result<(), Failure> {
    let mut samples = service.sealed_samples().await?;
    if let Some((_, resident)) = &runtime.resident {
        samples.extend(resident.server().sealed_samples().await?);
    }
    sealing.check_can_open(samples.iter().map(|(v, c)| (v.as_str(), c.as_str())))?;
    Ok(())
}

/// Hand the resident a validator for the key managers whose tokens it may exchange (`token_exchange_trusted_key_managers`):
/// each must be another key manager of this configuration.
fn trust_subject_tokens(
    name: &str,
    resident: &keymanager_resident::ResidentKeyManager,
    key_managers: &KeyManagers,
) -> Result<(), Failure> {
    let trusted = &resident.server().settings().token_exchange_trusted_key_managers;
    if trusted.is_empty() {
        return Ok(());
    }
    let bad = |why: String| {
        Failure::Usage(format!(
            "key manager `{name}`: token_exchange_trusted_key_managers: {why}"
        ))
    };
    if trusted.iter().any(|t| t == name) {
        return Err(bad(
            "its own tokens are always exchanged; list other key managers".into()
        ));
    }
    let only = key_managers
        .only(trusted)
        .map_err(|e| bad(format!("{e} (name key managers of this configuration)")))?;
    let validator =
        keymanager::validation::TokenValidator::new(&only, keymanager::validation::ValidatorSettings::default())
            .map_err(|e| bad(e.to_string()))?;
    resident.server().trust_subject_tokens(Arc::new(validator));
    Ok(())
}
