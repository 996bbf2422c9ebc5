//! [`ApplicationStore`] on SQLite or PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::AnyPool;

use super::migrations::{POSTGRES, SQLITE};
use super::ApplicationStore;
use crate::model::Clock;
use crate::service::audit::{self, AuditPage, AuditQuery, AuditRecord};
use crate::service::model::{
    Application, ApplicationOrder, ApplicationPage, ApplicationQuery, KeyMapping, KeyOrigin, KeyState, StoredKeyManager,
};
use crate::sql::{self, col, conflict_or, db_err, Dialect};
use crate::{Error, Result};

/// [`ApplicationStore`] on SQLite (`sqlite://FILE`) or PostgreSQL (`postgres://…`).
#[derive(Clone)]
pub struct SqlApplicationStore {
    pool: AnyPool,
    dialect: Dialect,
    clock: Arc<dyn Clock>,
}

impl SqlApplicationStore {
    /// The pool, for readiness probes and pool metrics.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Read time from `clock` (tests move a [`ManualClock`](crate::model::ManualClock) instead of sleeping).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }
}

impl std::fmt::Debug for SqlApplicationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlApplicationStore").finish_non_exhaustive()
    }
}

impl SqlApplicationStore {
    /// Connect and run the key service's migrations.
    pub async fn connect(url: &str, max_connections: Option<u32>) -> Result<Self> {
        let (pool, dialect) = sql::connect(url, max_connections).await?;
        sql::migrate(&pool, if dialect == Dialect::Sqlite { SQLITE } else { POSTGRES }).await?;
        Ok(SqlApplicationStore {
            pool,
            dialect,
            clock: crate::model::system_clock(),
        })
    }
}

fn application(r: &AnyRow) -> Result<Application> {
    Ok(Application {
        id: col(r, 0)?,
        name: col(r, 1)?,
        owner: col(r, 2)?,
        created_at: col(r, 3)?,
        description: col(r, 4)?,
        attributes: serde_json::from_str(&col::<String>(r, 5)?)
            .map_err(|e| Error::storage(format!("an application's attributes do not read: {e}")))?,
    })
}

/// The conflict of an application name its owner uses already.
fn name_taken(app: &Application) -> String {
    format!("{} already has an application named `{}`", app.owner, app.name)
}

fn attributes_text(app: &Application) -> String {
    serde_json::to_string(&app.attributes).unwrap_or_else(|_| "{}".into())
}

/// `text` as a LIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn mapping(r: &AnyRow) -> Result<KeyMapping> {
    let key_type: String = col(r, 2)?;
    Ok(KeyMapping {
        id: col(r, 0)?,
        application_id: col(r, 1)?,
        key_type: key_type.parse()?,
        key_manager: col(r, 3)?,
        client_id: col(r, 4)?,
        state: KeyState::Completed,
        origin: match col::<String>(r, 6)?.as_str() {
            "MAPPED" => KeyOrigin::Mapped,
            _ => KeyOrigin::Generated,
        },
        created_at: col(r, 7)?,
    })
}

const APP_COLUMNS: &str = "application_id, name, owner, created_at, description, attributes";
const MAPPING_COLUMNS: &str =
    "key_mapping_id, application_id, key_type, key_manager, client_id, state, origin, created_at";

#[async_trait]
impl ApplicationStore for SqlApplicationStore {
    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }

    async fn insert_application(&self, app: &Application, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO km_applications (application_id, name, owner, created_at, description, attributes) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&app.id)
        .bind(&app.name)
        .bind(&app.owner)
        .bind(app.created_at)
        .bind(&app.description)
        .bind(attributes_text(app))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || name_taken(app)))?;
        audit::append_pending(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn set_owner(&self, id: &str, owner: &str, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query("UPDATE km_applications SET owner = $1 WHERE application_id = $2")
            .bind(owner)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or(e, || format!("{owner} already has an application of that name")))?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("application", id));
        }
        audit::append_pending(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn list_applications(&self, query: &ApplicationQuery) -> Result<ApplicationPage> {
        // Only fixed SQL is spliced in (the order); every value the caller gave is bound.
        let order = match (query.order, query.descending) {
            (ApplicationOrder::CreatedTime, false) => "created_at, application_id",
            (ApplicationOrder::CreatedTime, true) => "created_at DESC, application_id DESC",
            (ApplicationOrder::Name, false) => "LOWER(name), name, application_id",
            (ApplicationOrder::Name, true) => "LOWER(name) DESC, name DESC, application_id DESC",
        };
        let filter = "($1 IS NULL OR owner = $1) AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\' \
                      OR LOWER(COALESCE(description, '')) LIKE $2 ESCAPE '\\')";
        let pattern = query.text.as_deref().map(contains_pattern);
        let rows = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM km_applications WHERE {filter} ORDER BY {order} LIMIT $3 OFFSET $4"
        ))
        .bind(query.owner.as_deref())
        .bind(pattern.as_deref())
        .bind(i64::from(query.limit))
        .bind(i64::from(query.offset))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let total: i64 = col(
            &sqlx::query(&format!("SELECT COUNT(*) FROM km_applications WHERE {filter}"))
                .bind(query.owner.as_deref())
                .bind(pattern.as_deref())
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?,
            0,
        )?;
        Ok(ApplicationPage {
            list: rows.iter().map(application).collect::<Result<_>>()?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    async fn update_application(&self, app: &Application, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query(
            "UPDATE km_applications SET name = $1, description = $2, attributes = $3 WHERE application_id = $4",
        )
        .bind(&app.name)
        .bind(&app.description)
        .bind(attributes_text(app))
        .bind(&app.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || name_taken(app)))?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("application", &app.id));
        }
        audit::append_pending(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn put_secret_description(
        &self,
        key_manager: &str,
        client_id: &str,
        secret_id: &str,
        description: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_secret_descriptions (key_manager, client_id, secret_id, description) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key_manager, client_id, secret_id) DO UPDATE SET description = $4",
        )
        .bind(key_manager)
        .bind(client_id)
        .bind(secret_id)
        .bind(description)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn secret_descriptions(&self, key_manager: &str, client_id: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT secret_id, description FROM km_secret_descriptions WHERE key_manager = $1 AND client_id = $2",
        )
        .bind(key_manager)
        .bind(client_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?))).collect()
    }

    async fn delete_secret_description(&self, key_manager: &str, client_id: &str, secret_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM km_secret_descriptions WHERE key_manager = $1 AND client_id = $2 AND secret_id = $3")
            .bind(key_manager)
            .bind(client_id)
            .bind(secret_id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn list_key_managers(&self) -> Result<Vec<StoredKeyManager>> {
        let rows = sqlx::query(
            "SELECT name, kind, settings, enabled, allow_insecure_http, created_at, updated_at FROM km_key_managers \
             ORDER BY created_at, name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(StoredKeyManager {
                    name: col(r, 0)?,
                    kind: col(r, 1)?,
                    settings: serde_json::from_str(&col::<String>(r, 2)?)
                        .map_err(|e| Error::storage(format!("a key manager's settings do not read: {e}")))?,
                    enabled: col::<i64>(r, 3)? != 0,
                    allow_insecure_http: col::<i64>(r, 4)? != 0,
                    created_at: col(r, 5)?,
                    updated_at: col(r, 6)?,
                })
            })
            .collect()
    }

    async fn put_key_manager(&self, km: &StoredKeyManager, replace: bool, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let settings = serde_json::Value::Object(km.settings.clone()).to_string();
        let done = if replace {
            sqlx::query(
                "UPDATE km_key_managers SET settings = $2, enabled = $3, allow_insecure_http = $4, updated_at = $5 \
                 WHERE name = $1",
            )
            .bind(&km.name)
            .bind(&settings)
            .bind(i64::from(km.enabled))
            .bind(i64::from(km.allow_insecure_http))
            .bind(km.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected()
        } else {
            sqlx::query(
                "INSERT INTO km_key_managers (name, kind, settings, enabled, allow_insecure_http, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&km.name)
            .bind(&km.kind)
            .bind(&settings)
            .bind(i64::from(km.enabled))
            .bind(i64::from(km.allow_insecure_http))
            .bind(km.created_at)
            .bind(km.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or(e, || format!("a key manager named `{}` exists already", km.name)))?
            .rows_affected()
        };
        if done == 0 {
            return Err(Error::not_found("key manager", &km.name));
        }
        audit::append_pending(&mut tx, audit).await?;
        self.append_key_manager_state(&mut tx, &km.name, km.enabled).await?;
        crate::sql::changes::announce(&mut tx, &crate::sql::changes::Change::KeyManagers).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn swap_key_manager_settings(
        &self,
        name: &str,
        expected: &serde_json::Map<String, serde_json::Value>,
        new: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let Some(row) = sqlx::query("SELECT settings FROM km_key_managers WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
        else {
            return Ok(false);
        };
        let stored: String = col(&row, 0)?;
        let current: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&stored)
            .map_err(|e| Error::storage(format!("a key manager's settings do not read: {e}")))?;
        if &current != expected {
            return Ok(false);
        }
        let swapped = sqlx::query("UPDATE km_key_managers SET settings = $3 WHERE name = $1 AND settings = $2")
            .bind(name)
            .bind(&stored)
            .bind(serde_json::Value::Object(new.clone()).to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        tx.commit().await.map_err(db_err)?;
        Ok(swapped == 1)
    }

    async fn delete_key_manager(&self, name: &str, with_mappings: bool, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        if with_mappings {
            sqlx::query("DELETE FROM km_key_mappings WHERE key_manager = $1")
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let done = sqlx::query("DELETE FROM km_key_managers WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("key manager", name));
        }
        audit::append_pending(&mut tx, audit).await?;
        self.append_key_manager_state(&mut tx, name, false).await?;
        crate::sql::changes::announce(&mut tx, &crate::sql::changes::Change::KeyManagers).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn count_mappings_of(&self, key_manager: &str) -> Result<u64> {
        let n: i64 = col(
            &sqlx::query("SELECT COUNT(*) FROM km_key_mappings WHERE key_manager = $1")
                .bind(key_manager)
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?,
            0,
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn get_application(&self, id: &str) -> Result<Option<Application>> {
        let row = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM km_applications WHERE application_id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(application).transpose()
    }

    async fn find_applications_by_name(&self, name: &str) -> Result<Vec<Application>> {
        let rows = sqlx::query(&format!(
            "SELECT {APP_COLUMNS} FROM km_applications WHERE name = $1 ORDER BY created_at"
        ))
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(application).collect()
    }

    async fn delete_application(&self, id: &str, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for sql in [
            "DELETE FROM km_key_mappings WHERE application_id = $1",
            "DELETE FROM km_applications WHERE application_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await.map_err(db_err)?;
        }
        audit::append_pending(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn insert_mapping(&self, m: &KeyMapping, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let inserted = sqlx::query(
            "INSERT INTO km_key_mappings (key_mapping_id, application_id, key_type, key_manager, client_id, state, \
             origin, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&m.id)
        .bind(&m.application_id)
        .bind(m.key_type.as_str())
        .bind(&m.key_manager)
        .bind(&m.client_id)
        .bind(m.state.as_str())
        .bind(m.origin.as_str())
        .bind(m.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {
                audit::append_pending(&mut tx, audit).await?;
                tx.commit().await.map_err(db_err)
            }
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
                Err(Error::not_found("application", &m.application_id))
            }
            Err(e) => {
                drop(tx);
                let held_elsewhere = matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation())
                    && self
                        .find_mapping_by_client(&m.key_manager, &m.client_id)
                        .await?
                        .is_some_and(|other| other.application_id != m.application_id);
                Err(conflict_or(e, || match held_elsewhere {
                    true => format!(
                        "client `{}` of key manager `{}` is held by another application",
                        m.client_id, m.key_manager
                    ),
                    false => format!(
                        "the application already has {} keys from key manager `{}`",
                        m.key_type, m.key_manager
                    ),
                }))
            }
        }
    }

    async fn list_mappings(&self, application_id: &str) -> Result<Vec<KeyMapping>> {
        let rows = sqlx::query(&format!(
            "SELECT {MAPPING_COLUMNS} FROM km_key_mappings WHERE application_id = $1 ORDER BY created_at, key_type"
        ))
        .bind(application_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(mapping).collect()
    }

    async fn find_mapping_by_client(&self, key_manager: &str, client_id: &str) -> Result<Option<KeyMapping>> {
        let row = sqlx::query(&format!(
            "SELECT {MAPPING_COLUMNS} FROM km_key_mappings WHERE key_manager = $1 AND client_id = $2"
        ))
        .bind(key_manager)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(mapping).transpose()
    }

    async fn delete_mapping(&self, mapping_id: &str, audit: Option<&AuditRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("DELETE FROM km_key_mappings WHERE key_mapping_id = $1")
            .bind(mapping_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        audit::append_pending(&mut tx, audit).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        audit::append(&mut conn, record).await
    }

    async fn audit_records(&self, query: &AuditQuery) -> Result<AuditPage> {
        audit::query(&self.pool, query).await
    }

    async fn purge_audit(&self, before: i64) -> Result<u64> {
        audit::purge_before(&self.pool, before).await
    }

    async fn gateway_events(&self, after: i64, limit: u32) -> Result<Vec<crate::model::GatewayEvent>> {
        self.events_after(after, limit).await
    }

    async fn accept_gateway_dpop_proof(&self, jkt: &str, jti: &str, expires_at: i64) -> Result<bool> {
        use std::sync::atomic::{AtomicU32, Ordering};
        /// Inserts since the last purge of proofs too old to be accepted anyway: one in [`PURGE_EVERY`] purges.
        static SINCE_PURGE: AtomicU32 = AtomicU32::new(0);
        const PURGE_EVERY: u32 = 256;
        let now = self.now();
        if SINCE_PURGE.fetch_add(1, Ordering::Relaxed).is_multiple_of(PURGE_EVERY) {
            sqlx::query("DELETE FROM km_gateway_dpop_proofs WHERE expires_at <= $1")
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        }
        crate::sql::record_proof_once(&self.pool, crate::sql::ProofTable::Gateway, jkt, jti, expires_at, now).await
    }

    async fn record_gateway_notice(
        &self,
        key_manager: &str,
        notice: crate::model::GatewayNotice,
        expires_at: i64,
    ) -> Result<()> {
        SqlApplicationStore::record_gateway_notice(self, key_manager, notice, expires_at).await
    }

    async fn record_orphan(&self, key_manager: &str, client_id: &str, reason: &str) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("DELETE FROM km_orphaned_clients WHERE key_manager = $1 AND client_id = $2")
            .bind(key_manager)
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO km_orphaned_clients (key_manager, client_id, reason, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(key_manager)
        .bind(client_id)
        .bind(reason)
        .bind(self.now())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }
}

mod revocation_log {
    use async_trait::async_trait;

    use super::SqlApplicationStore;
    use crate::model::{GatewayEntry, GatewayEvent, GatewayNotice, RevocationFeed, RevocationSink, Revoked};
    use crate::sql::changes::{announce, Change};
    use crate::sql::Dialect;
    use crate::sql::{col, db_err};
    use crate::{Error, Result};

    /// How a key manager's state entry begins in the log (the notice's tag comes first in its JSON).
    const STATE_ENTRY_PREFIX: &str = r#"{"kind":"key_manager_state""#;

    impl SqlApplicationStore {
        /// Append one entry to the log inside `tx`, until `expires_at`. A key manager's state replaces its earlier
        /// state entries (the log keeps the latest, for good); other entries go once every token they name has
        /// expired: the log stays bounded.
        pub(super) async fn append_gateway_entry(
            &self,
            tx: &mut sqlx::Transaction<'_, sqlx::Any>,
            key_manager: &str,
            entry: &GatewayEntry,
            expires_at: i64,
        ) -> Result<()> {
            let text = serde_json::to_string(entry).map_err(|e| Error::storage(e.to_string()))?;
            let now = self.now();
            if self.dialect == Dialect::Postgres {
                // Writers take turns, so entries become visible in the order of their numbers: a follower that
                // read up to N never later finds a committed N-1 it skipped (SQLite writers take turns anyway).
                sqlx::query("SELECT pg_advisory_xact_lock(7401100011)")
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
            }
            sqlx::query("DELETE FROM km_gateway_events WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
            if matches!(entry, GatewayEntry::Notice(GatewayNotice::KeyManagerState { .. })) {
                debug_assert!(text.starts_with(STATE_ENTRY_PREFIX));
                sqlx::query("DELETE FROM km_gateway_events WHERE key_manager = $1 AND entry LIKE $2")
                    .bind(key_manager)
                    .bind(format!("{STATE_ENTRY_PREFIX}%"))
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
            }
            sqlx::query(
                "INSERT INTO km_gateway_events (key_manager, entry, expires_at, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(key_manager)
            .bind(text)
            .bind(expires_at)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
            announce(tx, &Change::Revocation).await
        }

        /// Log a key manager's state (added or enabled: `true`; disabled or removed: `false`) inside `tx`, kept
        /// until the next state replaces it.
        pub(super) async fn append_key_manager_state(
            &self,
            tx: &mut sqlx::Transaction<'_, sqlx::Any>,
            key_manager: &str,
            enabled: bool,
        ) -> Result<()> {
            let notice = GatewayEntry::Notice(GatewayNotice::KeyManagerState { enabled });
            self.append_gateway_entry(tx, key_manager, &notice, i64::MAX).await
        }

        /// Record a notice for gateways, in a transaction of its own.
        pub(super) async fn record_gateway_notice(
            &self,
            key_manager: &str,
            notice: GatewayNotice,
            expires_at: i64,
        ) -> Result<()> {
            let mut tx = self.pool.begin().await.map_err(db_err)?;
            self.append_gateway_entry(&mut tx, key_manager, &GatewayEntry::Notice(notice), expires_at)
                .await?;
            tx.commit().await.map_err(db_err)
        }
    }

    #[async_trait]
    impl RevocationSink for SqlApplicationStore {
        async fn record(&self, key_manager: &str, revoked: &Revoked) -> Result<()> {
            let mut tx = self.pool.begin().await.map_err(db_err)?;
            self.append_gateway_entry(
                &mut tx,
                key_manager,
                &GatewayEntry::Revoked(revoked.clone()),
                revoked.expires_at(),
            )
            .await?;
            tx.commit().await.map_err(db_err)
        }
    }

    impl SqlApplicationStore {
        /// The unexpired entries after number `after`, oldest first, at most `limit`.
        pub(super) async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<GatewayEvent>> {
            let rows = sqlx::query(
                "SELECT seq, key_manager, entry FROM km_gateway_events WHERE seq > $1 AND expires_at > $2 \
                 ORDER BY seq LIMIT $3",
            )
            .bind(after)
            .bind(self.now())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
            rows.iter()
                .map(|r| Ok(GatewayEvent::new(col(r, 0)?, col(r, 1)?, entry(&col::<String>(r, 2)?)?)))
                .collect()
        }
    }

    fn entry(text: &str) -> Result<GatewayEntry> {
        serde_json::from_str(text).map_err(|e| Error::storage(format!("a gateway log entry is not valid: {e}")))
    }

    #[async_trait]
    impl RevocationFeed for SqlApplicationStore {
        async fn revoked_since(&self, since: i64) -> Result<Vec<(String, Revoked)>> {
            let rows = sqlx::query(
                "SELECT key_manager, entry FROM km_gateway_events WHERE created_at >= $1 AND expires_at > $2",
            )
            .bind(since)
            .bind(self.now())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
            // Notices are for gateways without the database: validators here learn of those changes directly.
            let mut out = Vec::new();
            for r in &rows {
                let km: String = col(r, 0)?;
                if let GatewayEntry::Revoked(revoked) = entry(&col::<String>(r, 1)?)? {
                    out.push((km, revoked));
                }
            }
            Ok(out)
        }
    }
}
