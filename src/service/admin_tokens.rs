//! Named admin tokens of the management API: several, each shown once when created, stored as SHA-256 hashes, with a
//! creation time and a last use, revocable by name.
//!
//! Checking a token is a lookup in memory ([`AdminTokens::verify`], synchronous, so every face of the server can use
//! it); the set is reloaded from the store when this process changes it and every few seconds, so a token created or
//! revoked on another node applies here within `RELOAD_EVERY`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sqlx::AnyPool;

use super::audit::{self, Audit};
use crate::sql::changes::{announce, Change};
use crate::sql::{col, conflict_or, db_err};
use crate::{Error, Result};

/// How often the set is reloaded from the store.
pub(crate) const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// A last use is written at most this often per token (seconds).
const TOUCH_EVERY: i64 = 60;

/// An admin token as listed: never the token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct AdminTokenInfo {
    /// Its name.
    pub name: String,
    /// Creation time, seconds since the epoch.
    pub created_time: i64,
    /// Last use, when it was used (written at most once a minute).
    pub last_used_time: Option<i64>,
}

/// The admin tokens, checked in memory, kept in the key service's store.
pub struct AdminTokens {
    pool: AnyPool,
    /// Hash → name.
    hashes: RwLock<HashMap<String, String>>,
    /// A token from the configuration (`[server] admin_token`): always valid, never stored, named `config`.
    configured: Option<String>,
    /// Name → last use written.
    touched: Mutex<HashMap<String, i64>>,
    clock: Arc<dyn crate::model::Clock>,
}

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminTokens").finish_non_exhaustive()
    }
}

/// The name of the token from `[server] admin_token`.
pub(crate) const CONFIGURED: &str = "config";

/// The name of the token `serve` generates into the data directory on first start.
pub const INITIAL: &str = "initial";

fn hash(token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// A new token: 256 random bits, base64url.
fn generate() -> Result<String> {
    let mut buf = [0u8; 32];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| Error::storage("the system has no randomness to make a token"))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

impl AdminTokens {
    /// The tokens of the store behind `pool`, plus the configured one when given.
    pub async fn load(pool: AnyPool, configured: Option<&SecretString>) -> Result<Arc<AdminTokens>> {
        Self::load_with_clock(pool, configured, crate::model::system_clock()).await
    }

    /// [`AdminTokens::load`], reading time (creation, last use) from `clock`.
    pub async fn load_with_clock(
        pool: AnyPool,
        configured: Option<&SecretString>,
        clock: Arc<dyn crate::model::Clock>,
    ) -> Result<Arc<AdminTokens>> {
        let tokens = Arc::new(AdminTokens {
            pool,
            hashes: RwLock::new(HashMap::new()),
            configured: configured.map(|t| hash(t.expose_secret())),
            touched: Mutex::new(HashMap::new()),
            clock,
        });
        tokens.reload().await?;
        Ok(tokens)
    }

    /// Read the set again from the store.
    pub async fn reload(&self) -> Result<()> {
        let rows = sqlx::query("SELECT token_hash, name FROM km_admin_tokens")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut fresh = HashMap::with_capacity(rows.len());
        for r in &rows {
            fresh.insert(col::<String>(r, 0)?, col::<String>(r, 1)?);
        }
        *self.hashes.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// Reload every `RELOAD_EVERY` until the returned task is dropped with the runtime.
    pub fn spawn_reloader(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let tokens = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RELOAD_EVERY);
            loop {
                every.tick().await;
                let Some(t) = tokens.upgrade() else { return };
                if let Err(e) = t.reload().await {
                    tracing::warn!(error = %e, "cannot reload the admin tokens; keeping the loaded ones");
                }
            }
        })
    }

    /// The name of the token presented, when it is a valid admin token.
    pub fn verify(&self, token: &str) -> Option<String> {
        let h = hash(token);
        if self.configured.as_deref() == Some(h.as_str()) {
            return Some(CONFIGURED.into());
        }
        let name = self.hashes.read().unwrap_or_else(|p| p.into_inner()).get(&h).cloned()?;
        self.touch(&name);
        Some(name)
    }

    /// Record a use, at most once a minute per token, without holding up the request.
    fn touch(&self, name: &str) {
        let at = self.clock.now();
        {
            let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            if touched.get(name).is_some_and(|last| at - last < TOUCH_EVERY) {
                return;
            }
            touched.insert(name.to_owned(), at);
        }
        let (pool, name) = (self.pool.clone(), name.to_owned());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let done = sqlx::query("UPDATE km_admin_tokens SET last_used_at = $1 WHERE name = $2")
                    .bind(at)
                    .bind(&name)
                    .execute(&pool)
                    .await;
                if let Err(e) = done {
                    tracing::debug!(error = %e, "cannot record an admin token's last use");
                }
            });
        }
    }

    /// Whether the store holds any token.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.list().await?.is_empty())
    }

    /// Create a token under a new name, with the change's audit record; the token, this once.
    pub async fn create(&self, name: &str, audit: &Audit) -> Result<SecretString> {
        let token = generate()?;
        self.store(name, &token, audit).await?;
        Ok(SecretString::from(token))
    }

    /// Store a given token under a name (the one `serve` generated into the data directory).
    pub async fn insert(&self, name: &str, token: &str) -> Result<()> {
        self.store(name, token, &Audit::default()).await
    }

    async fn store(&self, name: &str, token: &str, audit: &Audit) -> Result<()> {
        crate::model::check_name("name", name)?;
        if name.eq_ignore_ascii_case(CONFIGURED) {
            return Err(Error::invalid_field(
                "name",
                "`config` names the token from the configuration",
            ));
        }
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("INSERT INTO km_admin_tokens (name, token_hash, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(hash(token))
            .bind(self.clock.now())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                conflict_or(e, || {
                    format!("an admin token named `{name}` exists already (names are unique in any letter case)")
                })
            })?;
        audit::append_pending(&mut tx, audit.to_write().as_ref()).await?;
        announce(&mut tx, &Change::AdminTokens).await?;
        tx.commit().await.map_err(db_err)?;
        audit.mark_written();
        self.reload().await
    }

    /// Every stored token, by name.
    pub async fn list(&self) -> Result<Vec<AdminTokenInfo>> {
        let rows = sqlx::query("SELECT name, created_at, last_used_at FROM km_admin_tokens ORDER BY created_at, name")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        // A use this process saw but has not written yet counts too.
        let touched = self.touched.lock().unwrap_or_else(|p| p.into_inner()).clone();
        rows.iter()
            .map(|r| {
                let name: String = col(r, 0)?;
                let stored: Option<i64> = col(r, 2)?;
                let seen = touched.get(&name).copied();
                Ok(AdminTokenInfo {
                    last_used_time: stored.max(seen),
                    created_time: col(r, 1)?,
                    name,
                })
            })
            .collect()
    }

    /// Revoke a token by name. The last stored token cannot be revoked unless a configured one remains, so the
    /// management API never locks its administrators out: the count and the delete happen in one transaction that
    /// first takes every token row (a write to each: row locks on PostgreSQL, the write lock on SQLite), so two
    /// revocations racing each other cannot both see "another one remains" (review 2, finding 10).
    pub async fn revoke(&self, name: &str, audit: &Audit) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("UPDATE km_admin_tokens SET name = name")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let remaining: i64 = sqlx::query("SELECT COUNT(*) FROM km_admin_tokens")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)
            .and_then(|r| col(&r, 0))?;
        let deleted = sqlx::query("DELETE FROM km_admin_tokens WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if deleted == 0 {
            return Err(Error::not_found("admin token", name));
        }
        if remaining <= 1 && self.configured.is_none() {
            return Err(Error::conflict(format!(
                "`{name}` is the last admin token; create another before revoking it"
            )));
        }
        audit::append_pending(&mut tx, audit.to_write().as_ref()).await?;
        announce(&mut tx, &Change::AdminTokens).await?;
        tx.commit().await.map_err(db_err)?;
        audit.mark_written();
        self.reload().await
    }
}
