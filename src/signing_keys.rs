//! The signing keys of the key manager that signs JWTs here (the resident), as an operation the management API and
//! the CLI administer: list them, rotate them (publish new keys before they sign, keep the old ones published until
//! their tokens have expired) and retire one at once (a compromised key).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// A signing key's place in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub enum SigningKeyPhase {
    /// In the JWKS, not signing yet (a rotation's pre-publication).
    Published,
    /// Signing, and in the JWKS.
    Signing,
    /// No longer signing; in the JWKS until the tokens it signed have expired.
    Verifying,
}

/// One signing key, never its private part. Times are seconds since the epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct SigningKeyInfo {
    /// Key id (`kid`).
    pub kid: String,
    /// JWS algorithm.
    pub alg: String,
    /// Its phase now.
    pub phase: SigningKeyPhase,
    /// Created, and published from then on.
    pub created_at: i64,
    /// Signs from (`None`: from its creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activates_at: Option<i64>,
    /// Stops (or stopped) signing at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
    /// Leaves the JWKS at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// How a rotation runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyRotation {
    /// Seconds between publishing the new keys and their first signature; `None`: the key manager's setting.
    pub pre_publish_seconds: Option<u64>,
    /// Seconds the old keys stay published after they stop signing; `None`: the longest token lifetime, so every
    /// token they signed still verifies.
    pub retire_after_seconds: Option<u64>,
}

/// What administers signing keys (the resident key manager implements it).
#[async_trait]
pub trait SigningKeyAdmin: Send + Sync {
    /// Every published key, newest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyInfo>>;
    /// Rotate: new keys (one per algorithm in use) published now, signing after the pre-publication; returns the
    /// keys afterwards. Every node applies it at once.
    async fn rotate_signing_keys(&self, rotation: KeyRotation) -> Result<Vec<SigningKeyInfo>>;
    /// Take one key out of the JWKS now: tokens it signed stop validating. The key that signs now is refused
    /// (`Conflict`: rotate first); an unknown `kid` is `NotFound`.
    async fn retire_signing_key(&self, kid: &str) -> Result<SigningKeyInfo>;
    /// Seconds within which every token signed now has expired (the longest token lifetime): how long gateways
    /// must remember that a key was retired.
    fn longest_token_lifetime(&self) -> u64;
}
