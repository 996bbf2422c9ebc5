//! The audit trail's vocabulary: who ([`Actor`]) did what ([`AuditRecord`]) with what [`Outcome`], and where records
//! go ([`AuditSink`]). The key service keeps them (`service::audit`); a key manager's own HTTP endpoints (the
//! resident's client registration) write to the same sink.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub enum ActorKind {
    /// An admin token, by its name.
    AdminToken,
    /// A user of a key manager, by the subject of their access token.
    User,
    /// A client acting as itself (client credentials), by its client id.
    Client,
}

impl ActorKind {
    /// `admin_token`, `user` or `client`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ActorKind::AdminToken => "admin_token",
            ActorKind::User => "user",
            ActorKind::Client => "client",
        }
    }

    /// The kind [`as_str`](Self::as_str) names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin_token" => Some(ActorKind::AdminToken),
            "user" => Some(ActorKind::User),
            "client" => Some(ActorKind::Client),
            _ => None,
        }
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Actor {
    /// What kind of caller.
    pub kind: ActorKind,
    /// The admin token's name, the user's subject or the client id.
    pub name: String,
    /// The key manager that issued the caller's access token (users and clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_manager: Option<String>,
}

/// Whether a change was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub enum Outcome {
    /// Made and acknowledged.
    Success,
    /// Refused or failed; nothing was changed by this service.
    Failure,
}

impl Outcome {
    /// `success` or `failure`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct AuditRecord {
    /// Its id in the trail (ascending in time); `None` before it is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// When, seconds since the epoch.
    pub time: i64,
    /// Who.
    pub actor: Actor,
    /// What, as `noun.verb` (`application.create`, `secret.delete`, …).
    pub action: String,
    /// The application concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// The other ids concerned, as `name=value` pairs (`keyMappingId=…`, `secretId=…`, `username=…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether it was made.
    pub outcome: Outcome,
    /// For a failure, the answer's status and reason (`404 Not Found`); never the request's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request id (`X-Request-Id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The caller's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl AuditRecord {
    /// A record of `action` by `actor` now (by the system clock), to be completed.
    pub fn new(actor: Actor, action: impl Into<String>) -> Self {
        Self::at(actor, action, super::now())
    }

    /// A record of `action` by `actor` at `time` (seconds since the epoch, from the service's clock).
    pub fn at(actor: Actor, action: impl Into<String>, time: i64) -> Self {
        AuditRecord {
            id: None,
            time,
            actor,
            action: action.into(),
            application_id: None,
            target: None,
            outcome: Outcome::Success,
            detail: None,
            request_id: None,
            source: None,
        }
    }
}

impl AuditRecord {
    /// This record, as a failure answered with `status` (`reason` its phrase): `detail` is `404 Not Found`.
    pub fn failed(mut self, status: u16, reason: &str) -> Self {
        self.outcome = Outcome::Failure;
        self.detail = Some(format!("{status} {reason}").trim_end().to_owned());
        self
    }
}

/// Where audit records go.
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Append a record; an error means it was not kept (the change it records must not be acknowledged).
    async fn append(&self, record: &AuditRecord) -> Result<()>;
}
