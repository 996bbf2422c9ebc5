//! The resident key manager's store: one implementation over `sqlx::Any`, on SQLite (a file in WAL mode, the
//! default) or PostgreSQL (several nodes on one database). Both dialects share one schema, created by versioned
//! migrations on first start.
//!
//! Every write that must be atomic runs in one transaction that starts with a write (locking the client row in
//! PostgreSQL and taking SQLite's write lock at once), so a crash leaves either all of it or none.

mod clients;
mod grants;
mod pushed_requests;
mod records;
mod scopes;
mod sessions;
mod signing_keys;
mod tokens;

use tokens::insert_revocation;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keymanager::connector_kit::sql::{self, Migrations};
use keymanager::connector_kit::{Error, Result};
use sqlx::AnyPool;

/// This component's migrations, for `keymanager migrate --check`.
pub const MIGRATIONS: sql::MigrationSet = sql::MigrationSet {
    component: "resident key manager",
    sqlite: SQLITE,
    postgres: POSTGRES,
};

const SQLITE: Migrations = &[
    (1, "resident", include_str!("../../migrations/sqlite/0001_resident.sql")),
    (
        2,
        "user grants",
        include_str!("../../migrations/sqlite/0002_user_grants.sql"),
    ),
    (
        3,
        "server facts",
        include_str!("../../migrations/sqlite/0003_server_facts.sql"),
    ),
    (
        4,
        "user roles",
        include_str!("../../migrations/sqlite/0004_user_roles.sql"),
    ),
    (
        5,
        "code nonce",
        include_str!("../../migrations/sqlite/0005_code_nonce.sql"),
    ),
    (
        6,
        "user claims",
        include_str!("../../migrations/sqlite/0006_user_claims.sql"),
    ),
    (
        7,
        "login sessions",
        include_str!("../../migrations/sqlite/0007_login_sessions.sql"),
    ),
    (
        8,
        "sealed secrets",
        include_str!("../../migrations/sqlite/0008_sealed_secrets.sql"),
    ),
    (
        9,
        "user grant index",
        include_str!("../../migrations/sqlite/0009_user_grant_index.sql"),
    ),
    (
        10,
        "user names unique in any case",
        include_str!("../../migrations/sqlite/0010_user_names.sql"),
    ),
    (
        11,
        "signing key activation",
        include_str!("../../migrations/sqlite/0011_signing_key_activation.sql"),
    ),
    (
        12,
        "pushed authorization requests",
        include_str!("../../migrations/sqlite/0012_pushed_requests.sql"),
    ),
    (
        13,
        "refresh token binding",
        include_str!("../../migrations/sqlite/0013_refresh_token_binding.sql"),
    ),
    (
        14,
        "DPoP proofs",
        include_str!("../../migrations/sqlite/0014_dpop_proofs.sql"),
    ),
];
const POSTGRES: Migrations = &[
    (
        1,
        "resident",
        include_str!("../../migrations/postgres/0001_resident.sql"),
    ),
    (
        2,
        "user grants",
        include_str!("../../migrations/postgres/0002_user_grants.sql"),
    ),
    (
        3,
        "server facts",
        include_str!("../../migrations/postgres/0003_server_facts.sql"),
    ),
    (
        4,
        "user roles",
        include_str!("../../migrations/postgres/0004_user_roles.sql"),
    ),
    (
        5,
        "code nonce",
        include_str!("../../migrations/postgres/0005_code_nonce.sql"),
    ),
    (
        6,
        "user claims",
        include_str!("../../migrations/postgres/0006_user_claims.sql"),
    ),
    (
        7,
        "login sessions",
        include_str!("../../migrations/postgres/0007_login_sessions.sql"),
    ),
    (
        8,
        "sealed secrets",
        include_str!("../../migrations/postgres/0008_sealed_secrets.sql"),
    ),
    (
        9,
        "user grant index",
        include_str!("../../migrations/postgres/0009_user_grant_index.sql"),
    ),
    (
        10,
        "user names unique in any case",
        include_str!("../../migrations/postgres/0010_user_names.sql"),
    ),
    (
        11,
        "signing key activation",
        include_str!("../../migrations/postgres/0011_signing_key_activation.sql"),
    ),
    (
        12,
        "pushed authorization requests",
        include_str!("../../migrations/postgres/0012_pushed_requests.sql"),
    ),
    (
        13,
        "refresh token binding",
        include_str!("../../migrations/postgres/0013_refresh_token_binding.sql"),
    ),
    (
        14,
        "DPoP proofs",
        include_str!("../../migrations/postgres/0014_dpop_proofs.sql"),
    ),
];

pub use grants::{CodeRecord, RefreshRecord, Use, UserRecord, UserUpdate};
pub use keymanager::connector_kit::model::Revoked;
pub use records::{ClientRecord, SecretRecord, SigningKeyRecord, TokenRecord};
pub use sessions::LoginSession;

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

use keymanager::connector_kit::model::Clock;
use std::sync::Arc;

fn json_list<T: serde::de::DeserializeOwned>(text: &str, column: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::storage(format!("column {column} holds invalid JSON: {e}")))
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish()
    }
}

impl Store {
    /// Connect to `sqlite://PATH` (created if missing) or `postgres://…`, and run the migrations.
    pub async fn connect(url: &str, max_connections: Option<u32>) -> Result<Store> {
        let (pool, dialect) = sql::connect(url, max_connections).await?;
        let backend = match dialect {
            sql::Dialect::Sqlite => Backend::Sqlite,
            sql::Dialect::Postgres => Backend::Postgres,
        };
        sql::migrate(&pool, if backend == Backend::Sqlite { SQLITE } else { POSTGRES }).await?;
        Ok(Store {
            pool,
            backend,
            clock: keymanager::connector_kit::model::system_clock(),
        })
    }

    /// This store (and the server on it) reads time from `clock`; the system clock by default.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Store {
        self.clock = clock;
        self
    }

    /// The clock every expiry on this store is decided by.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Seconds since the Unix epoch by this store's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Whether the database answers (a readiness probe).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(keymanager::connector_kit::sql::db_err)?;
        Ok(())
    }

    /// A fact every process on this store agrees on (`issuer`), when one was recorded.
    pub async fn fact(&self, name: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT value FROM km_server_facts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(keymanager::connector_kit::sql::db_err)?;
        row.map(|r| keymanager::connector_kit::sql::col(&r, 0)).transpose()
    }

    /// Record a fact unless one is recorded already; the recorded value either way (the first writer wins, so
    /// processes starting together agree).
    pub async fn settle_fact(&self, name: &str, value: &str) -> Result<String> {
        sqlx::query("INSERT INTO km_server_facts (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(keymanager::connector_kit::sql::db_err)?;
        Ok(self.fact(name).await?.unwrap_or_else(|| value.to_owned()))
    }

    /// Replace a fact (a configured value overrides what was recorded).
    pub async fn replace_fact(&self, name: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_server_facts (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(keymanager::connector_kit::sql::db_err)?;
        Ok(())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for other components sharing the database.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

impl Store {
    /// Announce a change to the other nodes on this store (PostgreSQL; nothing on SQLite), after a write that was
    /// not in a transaction of its own.
    pub(crate) async fn announce(&self, change: &keymanager::connector_kit::sql::changes::Change) -> Result<()> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(keymanager::connector_kit::sql::db_err)?;
        keymanager::connector_kit::sql::changes::announce(&mut conn, change).await
    }
}
