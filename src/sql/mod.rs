//! Shared by everything that keeps state in the database: one pool on SQLite (WAL, `synchronous = FULL`, created on
//! first use) or PostgreSQL, and versioned migrations that several components keep side by side in sqlx's
//! migration table (each component owns a version range and ignores the others').

pub mod changes;
pub mod registrations;

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyPool, Executor, Row};

use crate::error::ConfigError;
use crate::{Error, Result};

/// The database behind a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A component's migrations: (version, description, SQL), one list per dialect.
pub type Migrations = &'static [(i64, &'static str, &'static str)];

/// The dialect of a database URL, or a configuration error.
pub fn dialect(url: &str) -> Result<Dialect> {
    if url.starts_with("sqlite:") {
        Ok(Dialect::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Dialect::Postgres)
    } else {
        Err(Error::Configuration(
            ConfigError::new("must start with sqlite: or postgres://").at_field("database.url"),
        ))
    }
}

/// The file of a SQLite URL (`sqlite://PATH` or `sqlite:PATH`, query dropped); `None` for an in-memory database.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.split('&').any(|p| p == "mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// A SQLite database file holds signing keys and secret hashes, whatever path it was given: created owner-only
/// (`0600`; SQLite gives its `-wal` and `-shm` files the database's mode), and an existing one that other users can
/// read or write is refused, as ssh refuses a loose private key (review 2, finding 11).
pub fn ensure_private_database_file(path: &std::path::Path) -> Result<()> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(meta) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(Error::Configuration(
                        ConfigError::new(format!(
                            "the database file {shown} is accessible by other users (mode {mode:o}); it holds signing \
                             keys and secret hashes. Run `chmod 600 {shown}` and start again"
                        ))
                        .at_field("database.url"),
                    ));
                }
            }
            #[cfg(not(unix))]
            let _ = meta;
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(path) {
                Ok(_) => Ok(()),
                // Another process created it first: it is checked as an existing file.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => ensure_private_database_file(path),
                Err(e) => Err(Error::Configuration(
                    ConfigError::new(format!("cannot create the database file {shown}: {e}")).at_field("database.url"),
                )),
            }
        }
        Err(e) => Err(Error::Configuration(
            ConfigError::new(format!("cannot read the database file {shown}: {e}")).at_field("database.url"),
        )),
    }
}

/// Open a pool: SQLite files are created when missing (owner-only, [`ensure_private_database_file`]) and run in
/// WAL mode with `synchronous = FULL`, foreign keys on and a 10 s busy timeout.
pub async fn connect(url: &str, max_connections: Option<u32>) -> Result<(AnyPool, Dialect)> {
    sqlx::any::install_default_drivers();
    let dialect = dialect(url)?;
    let sqlite = dialect == Dialect::Sqlite;
    if let Some(file) = sqlite.then(|| sqlite_file(url)).flatten() {
        ensure_private_database_file(&file)?;
    }
    let url = if sqlite && !url.contains('?') {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections.unwrap_or(if sqlite { 4 } else { 10 }))
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                }
                Ok(())
            })
        })
        .after_release(move |conn, _| {
            Box::pin(async move {
                if !sqlite {
                    return Ok(true);
                }
                Ok(released_sqlite_is_clean(conn))
            })
        })
        .connect(&url)
        .await
        .map_err(|e| {
            Error::storage(format!(
                "cannot open the database ({}): {e}",
                crate::config::redact_url_password(&url)
            ))
        })?;
    if sqlite {
        pool.execute("PRAGMA journal_mode = WAL").await.map_err(db_err)?;
    }
    Ok((pool, dialect))
}

/// Whether a SQLite connection coming back to the pool may serve again. When a write fails with `SQLITE_FULL` or
/// an I/O error, SQLite may roll the transaction back itself, and sqlx's count of open transactions then disagrees
/// with the engine's: the next transaction on that connection would be a savepoint whose rollback leaves a write
/// transaction, and the database's write lock, open for ever, so every later write failed with "database is
/// locked" until a restart. A connection that sqlx believes is still in a transaction when it comes back is closed
/// (and replaced on demand). The check reads a counter: no statement runs on a release.
fn released_sqlite_is_clean(conn: &sqlx::AnyConnection) -> bool {
    use sqlx::Connection;
    if conn.is_in_transaction() {
        tracing::warn!("closing a database connection returned inside a transaction");
        return false;
    }
    true
}

#[derive(Debug)]
struct Embedded(Migrations);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let list = self
            .0
            .iter()
            .map(|(v, d, sql)| Migration::new(*v, Cow::Borrowed(*d), MigrationType::Simple, Cow::Borrowed(*sql), false))
            .collect();
        Box::pin(async move { Ok(list) })
    }
}

/// Apply a component's migrations (under PostgreSQL's advisory lock, so several nodes may start at once).
pub async fn migrate(pool: &AnyPool, migrations: Migrations) -> Result<()> {
    let mut migrator = Migrator::new(Embedded(migrations))
        .await
        .map_err(|e| Error::storage(format!("migrations: {e}")))?;
    migrator.set_ignore_missing(true);
    migrator
        .run(pool)
        .await
        .map_err(|e| Error::storage(format!("migrations: {e}")))
}

/// A component's migrations for both dialects, named, for `keymanager migrate --check`.
#[derive(Debug, Clone, Copy)]
pub struct MigrationSet {
    /// The component (`key service`, `resident key manager`, …).
    pub component: &'static str,
    /// Its SQLite migrations.
    pub sqlite: Migrations,
    /// Its PostgreSQL migrations.
    pub postgres: Migrations,
}

impl MigrationSet {
    /// The list for `dialect`.
    pub fn for_dialect(&self, dialect: Dialect) -> Migrations {
        match dialect {
            Dialect::Sqlite => self.sqlite,
            Dialect::Postgres => self.postgres,
        }
    }
}

/// What the database has applied: `(version, description, success)` from sqlx's `_sqlx_migrations` table, none when
/// the table does not exist yet (a new database). Reads only.
pub async fn applied_migrations(pool: &AnyPool) -> Result<Vec<(i64, String, bool)>> {
    let rows = match sqlx::query(
        "SELECT version, description, CAST(CASE WHEN success THEN 1 ELSE 0 END AS BIGINT) FROM _sqlx_migrations \
         ORDER BY version",
    )
    .fetch_all(pool)
    .await
    {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(d)) if d.message().contains("_sqlx_migrations") => return Ok(Vec::new()),
        Err(e) => return Err(db_err(e)),
    };
    rows.iter()
        .map(|r| Ok((col(r, 0)?, col(r, 1)?, col::<i64>(r, 2)? != 0)))
        .collect()
}

/// The migrations of `set` that `migrate` would apply to a database that has applied `applied`, in order.
pub fn pending_migrations(set: Migrations, applied: &[(i64, String, bool)]) -> Vec<(i64, &'static str)> {
    set.iter()
        .filter(|(v, _, _)| !applied.iter().any(|(a, _, ok)| a == v && *ok))
        .map(|(v, d, _)| (*v, *d))
        .collect()
}

/// A database error as the core error a caller can act on: a constraint that a concurrent change broke (a unique
/// or foreign-key violation) is a `Conflict`, so a race answers 409 rather than 500; anything else is a storage
/// error. The database's own text goes to the log only.
pub fn db_err(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() || d.is_foreign_key_violation() => {
            tracing::info!(error = %e, "a write conflicted with a concurrent change");
            Error::conflict("the change conflicts with a concurrent one; read the resource again and retry")
        }
        _ if database_unavailable(&e) => {
            tracing::warn!(error = %e, "the database is unavailable");
            Error::busy("the database is unavailable", UNAVAILABLE_RETRY_AFTER)
        }
        _ => Error::storage(e.to_string()),
    }
}

/// The `Retry-After` of an answer given while the database is unavailable.
pub(crate) const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Whether a database error means the database cannot be used now, rather than that this request was wrong: no
/// connection to be had, a lost connection, a full disk, a lock held too long (SQLite), a server shutting down or
/// out of resources (PostgreSQL classes 08, 53, 57P). Such failures are answered `503` with `Retry-After`.
fn database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(d) => {
            let code = d.code();
            let code = code.as_deref().unwrap_or_default();
            if code.len() == 5 {
                // A PostgreSQL SQLSTATE.
                code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
            } else {
                // A SQLite result code (primary or extended): BUSY 5, LOCKED 6, IOERR 10, FULL 13, CANTOPEN 14.
                code.parse::<i64>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14))
            }
        }
        _ => false,
    }
}

/// A unique violation as `Conflict` with `message`, any other error as a storage error.
pub fn conflict_or(e: sqlx::Error, message: impl FnOnce() -> String) -> Error {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::conflict(message()),
        other => db_err(other),
    }
}

/// The tables that record DPoP proofs once (`jkt`, `jti`, `expires_at`, primary key `(jkt, jti)`): named here, so
/// [`record_proof_once`] never builds SQL from a caller's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofTable {
    /// The resident's token endpoint's proofs (`km_dpop_proofs`).
    TokenEndpoint,
    /// The proofs gateways accepted (`km_gateway_dpop_proofs`, the key service's).
    Gateway,
}

/// Record a DPoP proof (its key's thumbprint `jkt` and its `jti`) in `table` until `expires_at`, once across every
/// node on this database (RFC 9449 §11.1): `true` the first time, and again once the row left has expired (not
/// purged yet); `false` while an earlier record stands.
pub async fn record_proof_once(
    pool: &AnyPool,
    table: ProofTable,
    jkt: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool> {
    let (insert, renew) = match table {
        ProofTable::TokenEndpoint => (
            "INSERT INTO km_dpop_proofs (jkt, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jkt, jti) DO NOTHING",
            "UPDATE km_dpop_proofs SET expires_at = $3 WHERE jkt = $1 AND jti = $2 AND expires_at <= $4",
        ),
        ProofTable::Gateway => (
            "INSERT INTO km_gateway_dpop_proofs (jkt, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (jkt, jti) DO NOTHING",
            "UPDATE km_gateway_dpop_proofs SET expires_at = $3 WHERE jkt = $1 AND jti = $2 AND expires_at <= $4",
        ),
    };
    let inserted = sqlx::query(insert)
        .bind(jkt)
        .bind(jti)
        .bind(expires_at)
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected();
    if inserted == 1 {
        return Ok(true);
    }
    let renewed = sqlx::query(renew)
        .bind(jkt)
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(pool)
        .await
        .map_err(db_err)?
        .rows_affected();
    Ok(renewed == 1)
}

/// Column `i` of a row.
pub fn col<'r, T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>>(r: &'r AnyRow, i: usize) -> Result<T> {
    r.try_get(i).map_err(db_err)
}

#[cfg(test)]
mod unavailable_tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_busy_with_retry_after_not_a_storage_fault() {
        for e in [sqlx::Error::PoolTimedOut, sqlx::Error::PoolClosed] {
            match db_err(e) {
                Error::Busy { retry_after, .. } => assert_eq!(retry_after, UNAVAILABLE_RETRY_AFTER),
                other => panic!("{other}"),
            }
        }
        assert!(matches!(db_err(sqlx::Error::RowNotFound), Error::Storage { .. }));
    }

    #[tokio::test]
    async fn a_locked_sqlite_database_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let (pool, _) = connect(&url, Some(2)).await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)").execute(&pool).await.unwrap();
        let mut holder = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *holder)
            .await
            .unwrap();
        let mut other = pool.acquire().await.unwrap();
        sqlx::query("PRAGMA busy_timeout = 1")
            .execute(&mut *other)
            .await
            .unwrap();
        let e = sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut *other)
            .await
            .unwrap_err();
        assert!(matches!(db_err(e), Error::Busy { .. }));
    }
}
