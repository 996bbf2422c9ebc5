//! Client secrets: what to create, what is shown once, and what is listed afterwards.

use serde::{Deserialize, Serialize};

use super::ClientSecret;

/// What to create: a new secret for an existing client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSpec {
    /// A description to tell secrets apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds from now after which the secret no longer authenticates; `None` = never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
}

impl SecretSpec {
    /// Check the spec: a description of at most 255 characters without control characters, and an expiry
    /// within [`MAX_DURATION_SECONDS`](super::MAX_DURATION_SECONDS).
    ///
    /// ```
    /// use keymanager::model::SecretSpec;
    /// assert!(SecretSpec { description: Some("rotation".into()), expires_in: Some(86_400) }.validate().is_ok());
    /// assert!(SecretSpec { description: None, expires_in: Some(u64::MAX) }.validate().is_err());
    /// ```
    pub fn validate(&self) -> crate::Result<()> {
        if let Some(d) = &self.description {
            super::check_text("description", d, 255)?;
        }
        if let Some(e) = self.expires_in {
            super::check_duration("expires_in", e)?;
        }
        Ok(())
    }
}

/// A secret right after creation: the only time its plain value is available.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedSecret {
    /// The provider's id of the secret.
    pub id: String,
    /// The plain secret. Show it to the user once; it cannot be read again.
    pub secret: ClientSecret,
    /// What is listed from now on.
    pub info: SecretInfo,
}

/// Whether a secret authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub enum SecretStatus {
    /// It authenticates.
    Active,
    /// It is kept but does not authenticate (Okta `INACTIVE`).
    Inactive,
    /// Its expiry has passed.
    Expired,
}

impl SecretStatus {
    /// The wire value: `ACTIVE`, `INACTIVE`, `EXPIRED`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SecretStatus::Active => "ACTIVE",
            SecretStatus::Inactive => "INACTIVE",
            SecretStatus::Expired => "EXPIRED",
        }
    }
}

/// A secret as listed: masked, never the plain value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretInfo {
    /// The provider's id of the secret.
    pub id: String,
    /// The masked value, e.g. `Xy3v…********`.
    pub masked: String,
    /// The description given at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: i64,
    /// Expiry time, seconds since the Unix epoch; `None` = never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Whether it authenticates.
    pub status: SecretStatus,
}

/// Mask a secret for listing: its first four characters, then asterisks.
///
/// ```
/// assert_eq!(keymanager::model::mask_secret("abcdefghijklmnop"), "abcd************");
/// assert_eq!(keymanager::model::mask_secret("abc"), "********");
/// ```
pub fn mask_secret(plain: &str) -> String {
    if plain.chars().count() < 12 {
        return "********".into();
    }
    let head: String = plain.chars().take(4).collect();
    format!("{head}{}", "*".repeat(12))
}
