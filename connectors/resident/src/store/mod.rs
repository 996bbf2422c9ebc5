//! The resident key manager's store: one implementation over `sqlx::Any`, on SQLite (a file in WAL mode, the
//! default) or PostgreSQL (several nodes on one database). Both dialects share one schema, created by versioned
//! migrations on first start.
//!
//! Every write that must be atomic runs in one transaction that starts with a write (locking the client row in
//! PostgreSQL and taking SQLite's write lock at once), so a crash leaves either all of it or none.

mod grants;
mod records;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keymanager::sql::{self, col, db_err, Migrations};
use keymanager::{Error, Result};
use sqlx::any::AnyRow;
use sqlx::AnyPool;

const SQLITE: Migrations = &[
    (1, "resident", include_str!("../../migrations/sqlite/0001_resident.sql")),
    (
        2,
        "user grants",
        include_str!("../../migrations/sqlite/0002_user_grants.sql"),
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
];

pub use grants::{CodeRecord, RefreshRecord, Use, UserRecord};
pub use keymanager::model::Revoked;
pub use records::{ClientRecord, SecretRecord, SigningKeyRecord, TokenRecord};

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

use keymanager::model::Clock;
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
            clock: keymanager::model::system_clock(),
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

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for other components sharing the database.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    // ----- clients -----

    /// Insert a client and, when given, its first secret, atomically.
    pub async fn insert_client(&self, c: &ClientRecord, first_secret: Option<&SecretRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO km_clients (client_id, name, key_type, grant_types, redirect_uris, scopes, public_client, \
             pkce_required, pkce_allow_plain, access_token_lifetime, refresh_token_lifetime, additional_properties, \
             registration_token_hash, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1)",
        )
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(c.key_type.as_str())
        .bind(serde_json::to_string(&c.grant_types).unwrap_or_default())
        .bind(serde_json::to_string(&c.redirect_uris).unwrap_or_default())
        .bind(serde_json::to_string(&c.scopes).unwrap_or_default())
        .bind(c.public_client as i64)
        .bind(c.pkce.required as i64)
        .bind(c.pkce.allow_plain as i64)
        .bind(stored_seconds(c.access_token_lifetime)?)
        .bind(stored_seconds(c.refresh_token_lifetime)?)
        .bind(serde_json::Value::Object(c.additional_properties.clone()).to_string())
        .bind(c.registration_token_hash.as_deref())
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(s) = first_secret {
            insert_secret_row(&mut tx, s).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// Replace a client's settings; `NotFound` when it does not exist.
    pub async fn update_client(&self, c: &ClientRecord) -> Result<()> {
        let done = sqlx::query(
            "UPDATE km_clients SET name = $2, grant_types = $3, redirect_uris = $4, scopes = $5, public_client = $6, \
             pkce_required = $7, pkce_allow_plain = $8, access_token_lifetime = $9, refresh_token_lifetime = $10, \
             additional_properties = $11, updated_at = $12, version = version + 1 WHERE client_id = $1",
        )
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(serde_json::to_string(&c.grant_types).unwrap_or_default())
        .bind(serde_json::to_string(&c.redirect_uris).unwrap_or_default())
        .bind(serde_json::to_string(&c.scopes).unwrap_or_default())
        .bind(c.public_client as i64)
        .bind(c.pkce.required as i64)
        .bind(c.pkce.allow_plain as i64)
        .bind(stored_seconds(c.access_token_lifetime)?)
        .bind(stored_seconds(c.refresh_token_lifetime)?)
        .bind(serde_json::Value::Object(c.additional_properties.clone()).to_string())
        .bind(c.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("client", &c.client_id));
        }
        Ok(())
    }

    /// Read a client.
    pub async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>> {
        let row = sqlx::query(
            "SELECT client_id, name, key_type, grant_types, redirect_uris, scopes, public_client, pkce_required, \
             pkce_allow_plain, access_token_lifetime, refresh_token_lifetime, additional_properties, \
             registration_token_hash, created_at, updated_at FROM km_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| client_from_row(&r)).transpose()
    }

    /// Whether a client exists.
    pub async fn client_exists(&self, client_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM km_clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(row.is_some())
    }

    /// Delete a client with its secrets and record `rule` (revoking its tokens), atomically; `NotFound` when it
    /// does not exist.
    pub async fn delete_client(&self, client_id: &str, rule: &Revoked) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query("DELETE FROM km_clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("client", client_id));
        }
        for table in ["km_client_secrets", "km_tokens"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1"))
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        insert_revocation(&mut tx, rule, self.now()).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Set the hash of a client's registration access token.
    pub async fn set_registration_token_hash(&self, client_id: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE km_clients SET registration_token_hash = $2 WHERE client_id = $1")
            .bind(client_id)
            .bind(hash)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    // ----- secrets -----

    /// Add a secret unless the client already holds `max` unexpired ones (`LimitExceeded`).
    pub async fn insert_secret(&self, s: &SecretRecord, max: Option<u32>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        lock_client(&mut tx, &s.client_id).await?;
        if let Some(max) = max {
            let row = sqlx::query(
                "SELECT COUNT(*) FROM km_client_secrets WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(&s.client_id)
            .bind(self.now())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            let count: i64 = col(&row, 0)?;
            if count >= i64::from(max) {
                return Err(Error::limit_exceeded(
                    format!(
                        "client {} already has {count} secrets; at most {max} are allowed (max_secrets_per_client). \
                         Delete one first.",
                        s.client_id
                    ),
                    Some(max),
                ));
            }
        }
        insert_secret_row(&mut tx, s).await?;
        tx.commit().await.map_err(db_err)
    }

    /// A client's secrets, oldest first.
    pub async fn list_secrets(&self, client_id: &str) -> Result<Vec<SecretRecord>> {
        let rows = sqlx::query(
            "SELECT secret_id, client_id, secret_hash, masked, description, created_at, expires_at \
             FROM km_client_secrets WHERE client_id = $1 ORDER BY created_at, secret_id",
        )
        .bind(client_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(secret_from_row).collect()
    }

    /// Delete a secret; with `revoke`, also record a rule revoking the tokens it issued, atomically.
    pub async fn delete_secret(&self, client_id: &str, secret_id: &str, revoke: Option<&Revoked>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query("DELETE FROM km_client_secrets WHERE client_id = $1 AND secret_id = $2")
            .bind(client_id)
            .bind(secret_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("secret", secret_id));
        }
        if let Some(r) = revoke {
            insert_revocation(&mut tx, r, self.now()).await?;
        }
        tx.commit().await.map_err(db_err)
    }

    /// Replace every secret of a client with `new`, atomically.
    pub async fn replace_secrets(&self, new: &SecretRecord) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        lock_client(&mut tx, &new.client_id).await?;
        sqlx::query("DELETE FROM km_client_secrets WHERE client_id = $1")
            .bind(&new.client_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_secret_row(&mut tx, new).await?;
        tx.commit().await.map_err(db_err)
    }

    // ----- scopes -----

    /// Create a scope; `Conflict` when it exists.
    pub async fn insert_scope(&self, scope: &keymanager::model::Scope) -> Result<()> {
        let res =
            sqlx::query("INSERT INTO km_scopes (name, description, display_name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&scope.name)
                .bind(scope.description.as_deref())
                .bind(scope.display_name.as_deref())
                .bind(self.now())
                .execute(&self.pool)
                .await;
        res.map(|_| ())
            .map_err(|e| sql::conflict_or(e, || format!("scope `{}` exists already", scope.name)))
    }

    /// Every scope, by name.
    pub async fn list_scopes(&self) -> Result<Vec<keymanager::model::Scope>> {
        let rows = sqlx::query("SELECT name, description, display_name FROM km_scopes ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(keymanager::model::Scope {
                    name: col(r, 0)?,
                    description: col(r, 1)?,
                    display_name: col(r, 2)?,
                })
            })
            .collect()
    }

    /// Delete a scope; `NotFound` when it does not exist.
    pub async fn delete_scope(&self, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM km_scopes WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("scope", name));
        }
        Ok(())
    }

    // ----- opaque tokens and revocations -----

    /// Record an opaque token.
    pub async fn insert_token(&self, t: &TokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_tokens (token_hash, jti, client_id, secret_id, subject, scope, audience, issued_at, expires_at, \
             grant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&t.token_hash)
        .bind(&t.jti)
        .bind(&t.client_id)
        .bind(t.secret_id.as_deref())
        .bind(&t.subject)
        .bind(&t.scope)
        .bind(&t.audience)
        .bind(t.issued_at)
        .bind(t.expires_at)
        .bind(t.grant_id.as_deref())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Find an opaque token by its hash.
    pub async fn get_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(
            "SELECT token_hash, jti, client_id, secret_id, subject, scope, audience, issued_at, expires_at, grant_id \
             FROM km_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|row| {
            let r = &row;
            Ok(TokenRecord {
                token_hash: col(r, 0)?,
                jti: col(r, 1)?,
                client_id: col(r, 2)?,
                secret_id: col(r, 3)?,
                subject: col(r, 4)?,
                scope: col(r, 5)?,
                audience: col(r, 6)?,
                issued_at: col(r, 7)?,
                expires_at: col(r, 8)?,
                grant_id: col(r, 9)?,
            })
        })
        .transpose()
    }

    /// Record a revocation (idempotent).
    pub async fn revoke(&self, r: &Revoked) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert_revocation(&mut tx, r, self.now()).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Whether a token (its `jti`, client, secret and issue time) is covered by a revocation.
    pub async fn is_revoked(
        &self,
        jti: &str,
        client_id: &str,
        secret_id: Option<&str>,
        grant_id: Option<&str>,
        issued_at: i64,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM km_revocations WHERE (kind = 'jti' AND jti = $1) \
             OR (kind = 'secret' AND client_id = $2 AND secret_id = $3 AND issued_before >= $4) \
             OR (kind = 'client' AND client_id = $2 AND issued_before >= $4) \
             OR (kind = 'grant' AND grant_id = $5)",
        )
        .bind(jti)
        .bind(client_id)
        .bind(secret_id.unwrap_or(""))
        .bind(issued_at)
        .bind(grant_id.unwrap_or(""))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.is_some())
    }

    /// Revocations recorded at or after `since` (epoch seconds), for validators.
    pub async fn revocations_since(&self, since: i64) -> Result<Vec<keymanager::model::Revoked>> {
        let rows = sqlx::query(
            "SELECT kind, client_id, secret_id, jti, issued_before, expires_at, grant_id FROM km_revocations \
             WHERE created_at >= $1 AND expires_at > $2",
        )
        .bind(since)
        .bind(self.now())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind: String = col(r, 0)?;
            let client_id: Option<String> = col(r, 1)?;
            let secret_id: Option<String> = col(r, 2)?;
            let jti: Option<String> = col(r, 3)?;
            let issued_before: Option<i64> = col(r, 4)?;
            let expires_at: i64 = col(r, 5)?;
            let grant_id: Option<String> = col(r, 6)?;
            if let ("grant", Some(grant_id)) = (kind.as_str(), grant_id) {
                out.push(Revoked::Grant { grant_id, expires_at });
                continue;
            }
            out.push(match (kind.as_str(), client_id, secret_id, jti, issued_before) {
                ("jti", _, _, Some(jti), _) => Revoked::Jti { jti, expires_at },
                ("secret", Some(client_id), Some(secret_id), _, Some(issued_before)) => Revoked::Secret {
                    client_id,
                    secret_id,
                    issued_before,
                    expires_at,
                },
                ("client", Some(client_id), _, _, Some(issued_before)) => Revoked::Client {
                    client_id,
                    issued_before,
                    expires_at,
                },
                _ => return Err(Error::storage(format!("a revocation of kind `{kind}` is incomplete"))),
            });
        }
        Ok(out)
    }

    // ----- signing keys -----

    /// Every signing key not yet past its JWKS expiry, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, alg, private_key, created_at, retired_at, expires_at FROM km_signing_keys \
             WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC, kid DESC",
        )
        .bind(self.now())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let pk: String = col(r, 2)?;
                Ok(SigningKeyRecord {
                    kid: col(r, 0)?,
                    alg: col(r, 1)?,
                    private_key: STANDARD
                        .decode(pk)
                        .map_err(|_| Error::storage("a stored signing key is not valid base64"))?,
                    created_at: col(r, 3)?,
                    retired_at: col(r, 4)?,
                    expires_at: col(r, 5)?,
                })
            })
            .collect()
    }

    /// Store a new signing key and retire the current ones of any algorithm: they stop signing now and leave the
    /// JWKS `keep_for` seconds later, when the last token they signed has expired.
    pub async fn rotate_signing_key(&self, new: &SigningKeyRecord, keep_for: i64) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let at = self.now();
        sqlx::query("UPDATE km_signing_keys SET retired_at = $1, expires_at = $2 WHERE retired_at IS NULL")
            .bind(at)
            .bind(at.saturating_add(keep_for))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO km_signing_keys (kid, alg, private_key, created_at, retired_at, expires_at) \
             VALUES ($1, $2, $3, $4, NULL, NULL)",
        )
        .bind(&new.kid)
        .bind(&new.alg)
        .bind(STANDARD.encode(&new.private_key))
        .bind(new.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    /// Delete what has expired: opaque tokens, revocation entries, retired signing keys.
    pub async fn purge_expired(&self) -> Result<u64> {
        let at = self.now();
        let mut n = 0;
        for sql in [
            "DELETE FROM km_tokens WHERE expires_at < $1",
            "DELETE FROM km_revocations WHERE expires_at < $1",
            "DELETE FROM km_signing_keys WHERE expires_at IS NOT NULL AND expires_at < $1",
        ] {
            n += sqlx::query(sql)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
        }
        Ok(n)
    }
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Take the client's row lock (PostgreSQL) / the write lock (SQLite); `NotFound` when there is no such client.
async fn lock_client(tx: &mut Tx<'_>, client_id: &str) -> Result<()> {
    let done = sqlx::query("UPDATE km_clients SET version = version + 1 WHERE client_id = $1")
        .bind(client_id)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("client", client_id));
    }
    Ok(())
}

async fn insert_secret_row(tx: &mut Tx<'_>, s: &SecretRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO km_client_secrets (secret_id, client_id, secret_hash, masked, description, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&s.secret_id)
    .bind(&s.client_id)
    .bind(&s.secret_hash)
    .bind(&s.masked)
    .bind(s.description.as_deref())
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn insert_revocation(tx: &mut Tx<'_>, r: &Revoked, created_at: i64) -> Result<()> {
    let grant_id = match r {
        Revoked::Grant { grant_id, .. } => Some(grant_id.as_str()),
        _ => None,
    };
    let (id, kind, client_id, secret_id, jti, issued_before, expires_at) = match r {
        Revoked::Grant { grant_id, expires_at } => (
            format!("grant:{grant_id}"),
            "grant",
            None,
            None,
            None,
            None,
            *expires_at,
        ),
        Revoked::Jti { jti, expires_at } => (
            format!("jti:{jti}"),
            "jti",
            None,
            None,
            Some(jti.as_str()),
            None,
            *expires_at,
        ),
        Revoked::Client {
            client_id,
            issued_before,
            expires_at,
        } => (
            format!("client:{client_id}"),
            "client",
            Some(client_id.as_str()),
            None,
            None,
            Some(*issued_before),
            *expires_at,
        ),
        Revoked::Secret {
            client_id,
            secret_id,
            issued_before,
            expires_at,
        } => (
            format!("secret:{client_id}:{secret_id}"),
            "secret",
            Some(client_id.as_str()),
            Some(secret_id.as_str()),
            None,
            Some(*issued_before),
            *expires_at,
        ),
        Revoked::TokenHash { .. } => {
            return Err(keymanager::Error::invalid_field(
                "revocation",
                "the resident store revokes tokens by jti, not by hash",
            ))
        }
    };
    // Delete-then-insert keeps it idempotent on both dialects without dialect-specific upserts.
    sqlx::query("DELETE FROM km_revocations WHERE id = $1")
        .bind(&id)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO km_revocations (id, kind, client_id, secret_id, jti, issued_before, expires_at, created_at, grant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(kind)
    .bind(client_id)
    .bind(secret_id)
    .bind(jti)
    .bind(issued_before)
    .bind(expires_at)
    .bind(created_at)
    .bind(grant_id)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A lifetime as the database column holds it (`BIGINT`); one that does not fit is refused, never wrapped.
fn stored_seconds(v: Option<u64>) -> Result<Option<i64>> {
    v.map(|v| i64::try_from(v).map_err(|_| Error::invalid_field("access_token_lifetime", "is out of range")))
        .transpose()
}

fn client_from_row(r: &AnyRow) -> Result<ClientRecord> {
    let text = |i: usize| col::<String>(r, i);
    let num = |i: usize| col::<i64>(r, i);
    let opt = |i: usize| -> Result<Option<u64>> {
        col::<Option<i64>>(r, i)?
            .map(|v| u64::try_from(v).map_err(|_| Error::storage("a stored lifetime is negative")))
            .transpose()
    };
    let key_type: String = text(2)?;
    Ok(ClientRecord {
        client_id: text(0)?,
        name: text(1)?,
        key_type: key_type.parse()?,
        grant_types: json_list(&text(3)?, "grant_types")?,
        redirect_uris: json_list(&text(4)?, "redirect_uris")?,
        scopes: json_list(&text(5)?, "scopes")?,
        public_client: num(6)? != 0,
        pkce: keymanager::model::PkcePolicy {
            required: num(7)? != 0,
            allow_plain: num(8)? != 0,
        },
        access_token_lifetime: opt(9)?,
        refresh_token_lifetime: opt(10)?,
        additional_properties: json_list(&text(11)?, "additional_properties")?,
        registration_token_hash: col(r, 12)?,
        created_at: num(13)?,
        updated_at: num(14)?,
    })
}

fn secret_from_row(r: &AnyRow) -> Result<SecretRecord> {
    Ok(SecretRecord {
        secret_id: col(r, 0)?,
        client_id: col(r, 1)?,
        secret_hash: col(r, 2)?,
        masked: col(r, 3)?,
        description: col(r, 4)?,
        created_at: col(r, 5)?,
        expires_at: col(r, 6)?,
    })
}
