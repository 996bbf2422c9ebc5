//! Rows as Rust values.

use keymanager::connector_kit::model::{GrantType, KeyType, PkcePolicy};

/// A client row.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    /// `client_id`.
    pub client_id: String,
    /// Name.
    pub name: String,
    /// Key type.
    pub key_type: KeyType,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Redirect URIs, each one the policy accepted (a stored one it refuses fails the read: closed).
    pub redirect_uris: Vec<keymanager::connector_kit::model::RedirectUri>,
    /// Allowed scopes.
    pub scopes: keymanager::connector_kit::model::Scopes,
    /// Public client.
    pub public_client: bool,
    /// PKCE policy.
    pub pkce: PkcePolicy,
    /// Maximum access-token lifetime (seconds).
    pub access_token_lifetime: Option<u64>,
    /// Refresh-token lifetime (seconds).
    pub refresh_token_lifetime: Option<u64>,
    /// Additional properties.
    pub additional_properties: serde_json::Map<String, serde_json::Value>,
    /// SHA-256 of the RFC 7592 registration access token, for clients registered over HTTP.
    pub registration_token_hash: Option<String>,
    /// Creation time (epoch seconds).
    pub created_at: i64,
    /// Last change (epoch seconds).
    pub updated_at: i64,
}

/// A client-secret row: the hash, never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    /// Id.
    pub secret_id: String,
    /// Owner.
    pub client_id: String,
    /// SHA-256 of the secret.
    pub secret_hash: String,
    /// Masked value for listing.
    pub masked: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: Option<i64>,
    /// The secret sealed (see `keymanager::secret_box`), for a key manager whose secrets are retrievable.
    pub sealed: Option<String>,
}

impl SecretRecord {
    /// Whether it has expired at `now`.
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// An opaque access token's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Token id.
    pub jti: String,
    /// Client.
    pub client_id: String,
    /// The secret that authenticated the request.
    pub secret_id: Option<String>,
    /// Subject.
    pub subject: String,
    /// Space-separated scopes.
    pub scope: String,
    /// Audience.
    pub audience: String,
    /// Issue time.
    pub issued_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// The grant (code / refresh family) it belongs to, for user grants.
    pub grant_id: Option<String>,
}

/// A stored signing key. `Debug` never shows the private key.
#[derive(Clone)]
pub struct SigningKeyRecord {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// PKCS#8 DER.
    pub private_key: Vec<u8>,
    /// Creation time (from then on it is in the JWKS).
    pub created_at: i64,
    /// When it starts signing (`None`: from its creation): a rotation publishes a key before it signs.
    pub activates_at: Option<i64>,
    /// When it stops (or stopped) signing.
    pub retired_at: Option<i64>,
    /// When it leaves the JWKS.
    pub expires_at: Option<i64>,
}

impl SigningKeyRecord {
    /// Whether it may sign at `now`: activated, and not yet retired.
    pub fn signs_at(&self, now: i64) -> bool {
        self.activates_at.is_none_or(|a| a <= now) && self.retired_at.is_none_or(|r| r > now)
    }

    /// Whether it will sign later: published, not yet activated (and not retired before it began).
    pub fn pending_at(&self, now: i64) -> bool {
        self.activates_at.is_some_and(|a| a > now) && self.retired_at.is_none_or(|r| r > now)
    }
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("activates_at", &self.activates_at)
            .field("retired_at", &self.retired_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
