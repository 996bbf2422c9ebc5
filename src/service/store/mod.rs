//! Where applications and key mappings are kept: the [`ApplicationStore`] trait and its SQL implementation on
//! SQLite or PostgreSQL (the same database as the resident key manager).
//! The trait is here; its SQL implementation is in `sql.rs`, the migrations it runs in `migrations.rs`.

mod migrations;
mod sql;

pub use migrations::MIGRATIONS;
pub use sql::SqlApplicationStore;

use std::sync::Arc;

use async_trait::async_trait;

use super::audit::{AuditPage, AuditQuery, AuditRecord};
use super::model::{Application, ApplicationPage, ApplicationQuery, KeyMapping, StoredKeyManager};
use crate::model::Clock;
use crate::Result;

/// Persistence of the key service.
#[async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Whether the store answers (a readiness probe); `Ok` by default.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
    /// The clock every time this store and the key service over it record is read from (injected; the system's
    /// by default).
    fn clock(&self) -> Arc<dyn Clock> {
        crate::model::system_clock()
    }
    /// Add an application, with the change's audit record when given (one transaction); `Conflict` when its owner
    /// has one of that name.
    async fn insert_application(&self, app: &Application, audit: Option<&AuditRecord>) -> Result<()>;
    /// Give an application to another owner, with the change's audit record; `NotFound` when it is gone,
    /// `Conflict` when the new owner has one of that name.
    async fn set_owner(&self, id: &str, owner: &str, audit: Option<&AuditRecord>) -> Result<()>;
    /// A page of applications as `query` asks, with how many match in all.
    async fn list_applications(&self, query: &ApplicationQuery) -> Result<ApplicationPage>;
    /// Replace an application's name, description and attributes, with the change's audit record; `NotFound` when
    /// it is gone, `Conflict` when its owner has another of that name.
    async fn update_application(&self, app: &Application, audit: Option<&AuditRecord>) -> Result<()>;
    /// One application.
    async fn get_application(&self, id: &str) -> Result<Option<Application>>;
    /// Applications of this name (one per owner).
    async fn find_applications_by_name(&self, name: &str) -> Result<Vec<Application>>;
    /// Delete an application and its mappings, with the change's audit record.
    async fn delete_application(&self, id: &str, audit: Option<&AuditRecord>) -> Result<()>;
    /// Add a mapping; `Conflict` when the application has one for that key type and key manager, or another
    /// application holds the client; `NotFound` when the application is gone (deleted meanwhile).
    async fn insert_mapping(&self, mapping: &KeyMapping, audit: Option<&AuditRecord>) -> Result<()>;
    /// An application's mappings, oldest first.
    async fn list_mappings(&self, application_id: &str) -> Result<Vec<KeyMapping>>;
    /// The mapping of a client at a key manager.
    async fn find_mapping_by_client(&self, key_manager: &str, client_id: &str) -> Result<Option<KeyMapping>>;
    /// Delete a mapping, with the change's audit record.
    async fn delete_mapping(&self, mapping_id: &str, audit: Option<&AuditRecord>) -> Result<()>;
    /// Record a client a provider holds that no mapping points to, for an operator to clean up.
    async fn record_orphan(&self, key_manager: &str, client_id: &str, reason: &str) -> Result<()>;
    /// The key managers added at run time, by name.
    async fn list_key_managers(&self) -> Result<Vec<StoredKeyManager>>;
    /// Add a key manager (`Conflict` when the name is taken) or, with `replace`, change one (`NotFound` when it is
    /// gone), with the change's audit record; other nodes are told.
    async fn put_key_manager(&self, km: &StoredKeyManager, replace: bool, audit: Option<&AuditRecord>) -> Result<()>;
    /// Replace a key manager's settings with `new` only if they still equal `expected`; `false` when someone changed
    /// them meanwhile (or the key manager is gone). Nobody is told: what the settings mean does not change (the
    /// secret key's rotation seals the same values again).
    async fn swap_key_manager_settings(
        &self,
        name: &str,
        expected: &serde_json::Map<String, serde_json::Value>,
        new: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool>;
    /// Remove a key manager and, with `with_mappings`, the key mappings that point to it, with the change's audit
    /// record; other nodes are told.
    async fn delete_key_manager(&self, name: &str, with_mappings: bool, audit: Option<&AuditRecord>) -> Result<()>;
    /// How many key mappings point to a key manager.
    async fn count_mappings_of(&self, key_manager: &str) -> Result<u64>;
    /// Keep a secret's description for a key manager that keeps none.
    async fn put_secret_description(
        &self,
        key_manager: &str,
        client_id: &str,
        secret_id: &str,
        description: &str,
    ) -> Result<()>;
    /// The descriptions kept for a client's secrets, by secret id.
    async fn secret_descriptions(&self, key_manager: &str, client_id: &str) -> Result<Vec<(String, String)>>;
    /// Forget a secret's description (its secret is gone).
    async fn delete_secret_description(&self, key_manager: &str, client_id: &str, secret_id: &str) -> Result<()>;
    /// Append an audit record on its own (a change made only at a key manager, or a failure).
    async fn append_audit(&self, record: &AuditRecord) -> Result<()>;
    /// A page of the audit trail, newest first.
    async fn audit_records(&self, query: &AuditQuery) -> Result<AuditPage>;
    /// Drop audit records older than `before` (seconds since the epoch); how many went.
    async fn purge_audit(&self, before: i64) -> Result<u64>;
    /// The revocations logged after entry `after`, oldest first, at most `limit`, leaving out those expired (the
    /// gateway event stream); a store without a log says the operation is unsupported.
    async fn gateway_events(&self, after: i64, limit: u32) -> Result<Vec<crate::model::GatewayEvent>> {
        let _ = (after, limit);
        Err(crate::Error::unsupported("gateway_events"))
    }
    /// Record the first use of a DPoP proof a gateway accepted (its key's thumbprint `jkt` and its `jti`), kept
    /// until `expires_at`: `true` the first time, `false` for a replay ([`crate::model::ProofLog`]); a store
    /// without the record says the operation is unsupported.
    async fn accept_gateway_dpop_proof(&self, jkt: &str, jti: &str, expires_at: i64) -> Result<bool> {
        let _ = (jkt, jti, expires_at);
        Err(crate::Error::unsupported("accept_gateway_dpop_proof"))
    }
    /// Log a notice for gateways that do not share the database, until `expires_at`; a store without a log says
    /// the operation is unsupported.
    async fn record_gateway_notice(
        &self,
        key_manager: &str,
        notice: crate::model::GatewayNotice,
        expires_at: i64,
    ) -> Result<()> {
        let _ = (key_manager, notice, expires_at);
        Err(crate::Error::unsupported("record_gateway_notice"))
    }
}
