//! Where connectors keep what RFC 7592 needs for each client they registered: the registration client URI and the
//! registration access token (replaced whenever the provider rotates it). Shared by every connector that registers
//! clients through RFC 7591 (the oidc connector, Keycloak's registration service mode).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::Token;
use crate::sql::{self, col, db_err, Dialect, Migrations};
use crate::Result;
use async_trait::async_trait;
use sqlx::AnyPool;

/// A client's RFC 7592 handle.
#[derive(Debug, Clone)]
pub struct Registration {
    /// `registration_client_uri`.
    pub uri: String,
    /// `registration_access_token`.
    pub token: Token,
}

/// Keeps registrations.
#[async_trait]
pub trait RegistrationStore: Send + Sync {
    /// Insert or replace.
    async fn put(&self, key_manager: &str, client_id: &str, registration: &Registration) -> Result<()>;
    /// Read.
    async fn get(&self, key_manager: &str, client_id: &str) -> Result<Option<Registration>>;
    /// Forget.
    async fn delete(&self, key_manager: &str, client_id: &str) -> Result<()>;
}

/// In memory: for tests and for a process without a database (registrations are lost on restart).
#[derive(Debug, Default)]
pub struct MemoryRegistrations(Mutex<HashMap<(String, String), Registration>>);

#[async_trait]
impl RegistrationStore for MemoryRegistrations {
    async fn put(&self, km: &str, id: &str, r: &Registration) -> Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((km.into(), id.into()), r.clone());
        Ok(())
    }
    async fn get(&self, km: &str, id: &str) -> Result<Option<Registration>> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(km.into(), id.into()))
            .cloned())
    }
    async fn delete(&self, km: &str, id: &str) -> Result<()> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(km.into(), id.into()));
        Ok(())
    }
}

/// This component's migrations, for `keymanager migrate --check`.
pub const MIGRATIONS: sql::MigrationSet = sql::MigrationSet {
    component: "client registrations (oidc connector)",
    sqlite: SQLITE,
    postgres: POSTGRES,
};

const SQLITE: Migrations = &[(
    2_000_001,
    "client registrations",
    include_str!("migrations/sqlite/2000001_client_registrations.sql"),
)];
const POSTGRES: Migrations = &[(
    2_000_001,
    "client registrations",
    include_str!("migrations/postgres/2000001_client_registrations.sql"),
)];

/// In the configured database, next to the key mappings.
#[derive(Clone)]
pub struct SqlRegistrations {
    pool: AnyPool,
}

impl std::fmt::Debug for SqlRegistrations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlRegistrations").finish_non_exhaustive()
    }
}

impl SqlRegistrations {
    /// Connect and migrate.
    pub async fn connect(url: &str, max_connections: Option<u32>) -> Result<Self> {
        let (pool, dialect) = sql::connect(url, max_connections).await?;
        sql::migrate(&pool, if dialect == Dialect::Sqlite { SQLITE } else { POSTGRES }).await?;
        Ok(SqlRegistrations { pool })
    }
}

use crate::model::now;

#[async_trait]
impl RegistrationStore for SqlRegistrations {
    async fn put(&self, km: &str, id: &str, r: &Registration) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("DELETE FROM km_client_registrations WHERE key_manager = $1 AND client_id = $2")
            .bind(km)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO km_client_registrations (key_manager, client_id, registration_client_uri, \
             registration_access_token, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(km)
        .bind(id)
        .bind(&r.uri)
        .bind(r.token.expose_secret())
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn get(&self, km: &str, id: &str) -> Result<Option<Registration>> {
        let row = sqlx::query(
            "SELECT registration_client_uri, registration_access_token FROM km_client_registrations \
             WHERE key_manager = $1 AND client_id = $2",
        )
        .bind(km)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(Registration {
                uri: col(&r, 0)?,
                token: Token::new(col::<String>(&r, 1)?),
            })
        })
        .transpose()
    }

    async fn delete(&self, km: &str, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM km_client_registrations WHERE key_manager = $1 AND client_id = $2")
            .bind(km)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
