//! The audit trail: one [`AuditRecord`] per change through the management API (and the registration endpoints):
//! who, what, on which ids, with what outcome, from where. Never a secret or a token.
//!
//! A change the key service keeps in its own store is written in the same transaction as its record
//! ([`Audit::to_write`] hands the store the record; the store marks it written). A change made only at a key manager
//! (a secret, a token) has its record appended once the key manager acknowledged it; a failure has a record with
//! [`Outcome::Failure`]. Records are never updated (the table refuses it); `purge_before` drops old ones for the
//! retention.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool};

pub use crate::model::{Actor, ActorKind, AuditRecord, AuditSink, Outcome};
use crate::sql::{col, db_err};
use crate::Result;

/// The audit of one change in flight, shared by the layer that knows the request and the code that makes the
/// change. `Audit::default()` audits nothing (a library caller with no trail).
#[derive(Debug, Clone, Default)]
pub struct Audit(Option<Arc<Pending>>);

#[derive(Debug)]
struct Pending {
    record: Mutex<AuditRecord>,
    written: AtomicBool,
}

impl Audit {
    /// Audit a change with this record.
    pub fn new(record: AuditRecord) -> Self {
        Audit(Some(Arc::new(Pending {
            record: Mutex::new(record),
            written: AtomicBool::new(false),
        })))
    }

    fn edit(&self, f: impl FnOnce(&mut AuditRecord)) {
        if let Some(p) = &self.0 {
            f(&mut p.record.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// The application concerned (known only once created, for a new one).
    pub fn set_application(&self, id: &str) {
        self.edit(|r| r.application_id = Some(id.to_owned()));
    }

    /// Add an id concerned, as `name=value` (once: a pair already named is not repeated).
    pub fn add_target(&self, name: &str, value: &str) {
        self.edit(|r| {
            let pair = format!("{name}={value}");
            r.target = Some(match r.target.take() {
                Some(t) if t.split(", ").any(|p| p == pair) => t,
                Some(t) => format!("{t}, {pair}"),
                None => pair,
            });
        });
    }

    /// Forget the application concerned: a creation that failed made none.
    pub fn clear_application(&self) {
        self.edit(|r| r.application_id = None);
    }

    /// The record as it stands.
    pub fn record(&self) -> Option<AuditRecord> {
        self.0
            .as_ref()
            .map(|p| p.record.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// The record of a successful change, for the store to write in the change's own transaction; `None` when
    /// nothing is audited or the record was written already (a change made of several writes records once).
    pub fn to_write(&self) -> Option<AuditRecord> {
        match &self.0 {
            Some(p) if !p.written.load(Ordering::Acquire) => self.record(),
            _ => None,
        }
    }

    /// Whether the record was written.
    pub fn is_written(&self) -> bool {
        self.0.as_ref().is_some_and(|p| p.written.load(Ordering::Acquire))
    }

    /// Note that the record was written (by the store, with the change).
    pub fn mark_written(&self) {
        if let Some(p) = &self.0 {
            p.written.store(true, Ordering::Release);
        }
    }
}

/// Which records to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this actor's (admin token name, subject or client id).
    pub actor: Option<String>,
    /// Only this application's.
    pub application_id: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// From this time on (seconds since the epoch, inclusive).
    pub since: Option<i64>,
    /// Before this time (exclusive).
    pub until: Option<i64>,
    /// At most this many (newest first).
    pub limit: u32,
    /// Skipping this many.
    pub offset: u32,
}

/// A page of records, newest first, and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// The records.
    pub records: Vec<AuditRecord>,
    /// How many records match the query.
    pub total: u64,
}

const COLUMNS: &str = "audit_id, at, actor_kind, actor, actor_key_manager, action, application_id, target, outcome, \
                       detail, request_id, source";

/// Append a record on a connection (inside the change's transaction).
pub(crate) async fn append(conn: &mut AnyConnection, r: &AuditRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO km_audit (at, actor_kind, actor, actor_key_manager, action, application_id, target, outcome, \
         detail, request_id, source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(r.time)
    .bind(r.actor.kind.as_str())
    .bind(&r.actor.name)
    .bind(&r.actor.key_manager)
    .bind(&r.action)
    .bind(&r.application_id)
    .bind(&r.target)
    .bind(r.outcome.as_str())
    .bind(&r.detail)
    .bind(&r.request_id)
    .bind(&r.source)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Write `audit`'s record, when it has one still to write, in the transaction of a change; marks it written once
/// the caller commits (call [`Audit::mark_written`] after the commit).
pub(crate) async fn append_pending(conn: &mut AnyConnection, audit: Option<&AuditRecord>) -> Result<()> {
    match audit {
        Some(r) => append(conn, r).await,
        None => Ok(()),
    }
}

fn record(r: &AnyRow) -> Result<AuditRecord> {
    let outcome: String = col(r, 8)?;
    Ok(AuditRecord {
        id: Some(col(r, 0)?),
        time: col(r, 1)?,
        actor: Actor {
            kind: ActorKind::parse(&col::<String>(r, 2)?)
                .ok_or_else(|| crate::Error::storage("an unknown actor kind in the audit trail"))?,
            name: col(r, 3)?,
            key_manager: col(r, 4)?,
        },
        action: col(r, 5)?,
        application_id: col(r, 6)?,
        target: col(r, 7)?,
        outcome: if outcome == "success" {
            Outcome::Success
        } else {
            Outcome::Failure
        },
        detail: col(r, 9)?,
        request_id: col(r, 10)?,
        source: col(r, 11)?,
    })
}

/// Read a page of records.
pub(crate) async fn query(pool: &AnyPool, q: &AuditQuery) -> Result<AuditPage> {
    // Each filter is `($n IS NULL OR column op $n)`, so one statement serves every combination.
    let filters = "($1 IS NULL OR actor = $1) AND ($2 IS NULL OR application_id = $2) AND ($3 IS NULL OR action = $3) \
                   AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5)";
    macro_rules! bound {
        ($sql:expr) => {
            sqlx::query($sql)
                .bind(&q.actor)
                .bind(&q.application_id)
                .bind(&q.action)
                .bind(q.since)
                .bind(q.until)
        };
    }
    let count_sql = format!("SELECT COUNT(*) FROM km_audit WHERE {filters}");
    let total: i64 = col(&bound!(&count_sql).fetch_one(pool).await.map_err(db_err)?, 0)?;
    let page_sql = format!("SELECT {COLUMNS} FROM km_audit WHERE {filters} ORDER BY audit_id DESC LIMIT $6 OFFSET $7");
    let rows = bound!(&page_sql)
        .bind(i64::from(q.limit))
        .bind(i64::from(q.offset))
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
    Ok(AuditPage {
        records: rows.iter().map(record).collect::<Result<_>>()?,
        total: u64::try_from(total).unwrap_or(0),
    })
}

/// Delete records older than `before` (seconds since the epoch); how many went.
pub(crate) async fn purge_before(pool: &AnyPool, before: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM km_audit WHERE at < $1")
        .bind(before)
        .execute(pool)
        .await
        .map_err(db_err)?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_named_twice_is_recorded_once() {
        let audit = Audit::new(AuditRecord::new(
            crate::model::Actor {
                kind: crate::model::ActorKind::AdminToken,
                name: "ops".into(),
                key_manager: None,
            },
            "user.update",
        ));
        audit.add_target("username", "alice");
        audit.add_target("username", "alice");
        audit.add_target("role", "admin");
        assert_eq!(
            audit.record().unwrap().target.as_deref(),
            Some("username=alice, role=admin")
        );
    }
}
