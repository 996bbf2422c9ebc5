//! What a revocation covers, as key managers report it to validators, and where revocations are recorded and read
//! (the sink a node writes and the feed every node's validator polls).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Somewhere revocations are recorded.
#[async_trait]
pub trait RevocationSink: Send + Sync {
    /// Record that `revoked` was revoked at `key_manager`.
    async fn record(&self, key_manager: &str, revoked: &Revoked) -> crate::Result<()>;
}

/// Somewhere validators read revocations recorded by other nodes.
#[async_trait]
pub trait RevocationFeed: Send + Sync {
    /// Revocations recorded at or after `since` (epoch seconds), with their key manager.
    async fn revoked_since(&self, since: i64) -> crate::Result<Vec<(String, Revoked)>>;
}

/// One revocation: a token, or every token of a client (and secret) issued at or before a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Revoked {
    /// One token by its `jti` claim.
    Jti {
        /// The token id.
        jti: String,
        /// When the token expires (the entry can be dropped then).
        expires_at: i64,
    },
    /// One token by the SHA-256 of its value (base64url), for tokens without a `jti` (opaque ones).
    TokenHash {
        /// base64url(SHA-256(token)).
        hash: String,
        /// When the entry can be dropped.
        expires_at: i64,
    },
    /// Every token of a client issued with one secret at or before `issued_before`.
    Secret {
        /// The client.
        client_id: String,
        /// The secret (the `secret_id` claim of the resident key manager's tokens).
        secret_id: String,
        /// Tokens issued at or before this time (epoch seconds).
        issued_before: i64,
        /// When every token it covers has expired.
        expires_at: i64,
    },
    /// Every token of one grant (an authorization code and the refresh tokens that followed it), by the tokens'
    /// `grant_id` claim: a replayed code or a reused refresh token revokes its whole family.
    Grant {
        /// The grant.
        grant_id: String,
        /// When every token it covers has expired.
        expires_at: i64,
    },
    /// Every token of a client issued at or before `issued_before` (the client was deleted).
    Client {
        /// The client.
        client_id: String,
        /// Tokens issued at or before this time.
        issued_before: i64,
        /// When every token it covers has expired.
        expires_at: i64,
    },
}

impl Revoked {
    /// When the entry can be dropped.
    pub fn expires_at(&self) -> i64 {
        match self {
            Revoked::Jti { expires_at, .. }
            | Revoked::TokenHash { expires_at, .. }
            | Revoked::Secret { expires_at, .. }
            | Revoked::Grant { expires_at, .. }
            | Revoked::Client { expires_at, .. } => *expires_at,
        }
    }
}

/// What a gateway that does not share the key service's database is told besides revocations (the stream's
/// `event: notice`): changes that make tokens it would accept no longer good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GatewayNotice {
    /// The key service answers for the key manager again (`enabled: true`: added or enabled) or no longer
    /// (`false`: disabled or removed). A gateway refuses every token of a key manager the key service does not
    /// answer for, as the key service's own validators do. The latest state of each key manager stays in the log.
    KeyManagerState {
        /// Whether the key service answers for it.
        enabled: bool,
    },
    /// The key manager's signing keys changed: rotated (new keys published), or one retired (`retired`, its key
    /// id). A gateway fetches the keys (JWKS) again before the next token and checks the tokens it validated again,
    /// so a new key's tokens pass at once and a retired key's are refused at once.
    SigningKeys {
        /// The key taken out, for a retirement.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retired: Option<String>,
    },
}

/// What one entry of the gateway log says: a revocation, or a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GatewayEntry {
    /// A revocation.
    Revoked(Revoked),
    /// A notice.
    Notice(GatewayNotice),
}

/// One entry of the gateway event stream (`GET /api/gateway/events`) with its number in the log. Numbers only grow,
/// so a gateway that reconnects asks for what came after the last one it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayEvent {
    /// The entry's number in the log (the Server-Sent Events `id`).
    pub id: i64,
    /// The key manager it is about, by its configured name.
    pub key_manager: String,
    /// For `event: revoked`, what is revoked: a token by its `jti` or the SHA-256 of its value (never the token), a
    /// grant, a secret or a client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revoked>,
    /// For `event: notice`, the notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<GatewayNotice>,
}

impl GatewayEvent {
    /// An event for one log entry.
    pub fn new(id: i64, key_manager: String, entry: GatewayEntry) -> Self {
        let (revoked, notice) = match entry {
            GatewayEntry::Revoked(r) => (Some(r), None),
            GatewayEntry::Notice(n) => (None, Some(n)),
        };
        GatewayEvent {
            id,
            key_manager,
            revoked,
            notice,
        }
    }
}
