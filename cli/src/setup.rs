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
pub(crate) const DEFAULT_KEY_MANAGER: &str = "Resident Key Manager";
/// Default listen address.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:9443";

/// The connector types this binary links.
pub(crate) fn registry() -> ConnectorRegistry {
    let mut r = ConnectorRegistry::new();
    r.register(Arc::new(ResidentFactory));
    r.register(Arc::new(keymanager_oidc::OidcFactory));
    r.register(Arc::new(keymanager_okta::OktaFactory));
    r.register(Arc::new(keymanager_keycloak::KeycloakFactory));
    r
}

/// The configuration file's content, or the embedded default: one resident key manager.
pub(crate) fn load_config(file: Option<&Path>) -> Result<Config, Failure> {
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
pub(crate) fn data_dir(flag: Option<&Path>, config: &Config) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| config.server.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// Everything a command works with.
pub(crate) struct Runtime {
    pub key_managers: KeyManagers,
    /// The resident key manager, when one is configured (its HTTP face is served).
    pub resident: Option<(String, ResidentKeyManager)>,
    pub service: KeyService,
    /// The key service's store, also the log of revocations made through this library.
    pub store: Arc<SqlApplicationStore>,
}

/// Build the key managers and the key service on the configured database (default: SQLite in `data_dir`).
pub(crate) async fn build(config: &Config, data_dir: &Path, public_url: Option<String>) -> Result<Runtime, Failure> {
    ensure_data_dir(data_dir)?;
    let database_url = match &config.database.url {
        Some(url) => url.clone(),
        None => default_database_url(data_dir)?,
    };
    let ctx = BuildContext {
        database_url: Some(database_url.clone()),
        database_max_connections: config.database.max_connections,
        public_url,
        data_dir: Some(data_dir.to_path_buf()),
        http: None,
    };
    let registry = registry();
    registry.check(config)?;
    let mut key_managers = KeyManagers::default();
    let mut resident = None;
    for km in &config.key_managers {
        let descriptor = registry
            .descriptor(&km.kind)
            .ok_or_else(|| Failure::Usage(format!("unknown key manager type `{}`", km.kind)))?;
        if km.kind == "resident" && resident.is_none() {
            let built = ResidentFactory.build_resident(km, &ctx).await?;
            key_managers.insert(Arc::new(built.clone()), descriptor)?;
            resident = Some((km.name.clone(), built));
        } else {
            let one = keymanager::config::Config {
                key_managers: vec![km.clone()],
                ..Config::default()
            };
            for built in registry.build(&one, &ctx).await?.iter() {
                key_managers.insert(built.clone(), descriptor.clone())?;
            }
        }
    }
    let store = Arc::new(SqlApplicationStore::connect(&database_url, config.database.max_connections).await?);
    // Revocations through the library (any connector) are logged, so validators on every node learn them.
    let key_managers =
        keymanager::validation::record_revocations(&key_managers, vec![store.clone() as Arc<dyn RevocationSink>]);
    let service = KeyService::new(key_managers.clone(), store.clone());
    Ok(Runtime {
        key_managers,
        resident,
        service,
        store,
    })
}

/// Create the data directory (owner-only) if needed.
pub(crate) fn ensure_data_dir(dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Usage(format!("cannot create the data directory {}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// The SQLite URL of the data directory's database, created owner-only (it holds signing keys and secret
/// hashes; SQLite gives its `-wal` and `-shm` files the same mode).
pub(crate) fn default_database_url(dir: &Path) -> Result<String, Failure> {
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
pub(crate) fn admin_token_file(dir: &Path) -> Result<(String, PathBuf, bool), Failure> {
    let path = dir.join("admin-token");
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

/// Write a file readable by its owner only, atomically (a temporary file, synced, then renamed).
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
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
