//! Applications and their key mappings.

use serde::{Deserialize, Serialize};

use crate::model::{AccessToken, GrantType, KeyType, OAuthClient};

/// An application: what a developer registers and asks keys for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Id.
    pub id: String,
    /// Name (unique per owner).
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Creation time, seconds since the epoch.
    pub created_at: i64,
    /// What it is for (optional).
    #[serde(default)]
    pub description: Option<String>,
    /// Attributes (WSO2's key/value pairs): tier, team, cost centre, ….
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
}

/// How to sort a list of applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApplicationOrder {
    /// By creation time (the default).
    #[default]
    CreatedTime,
    /// By name.
    Name,
}

/// A page of applications to list: whose, matching what, in which order.
#[derive(Debug, Clone, Default)]
pub struct ApplicationQuery {
    /// Only this owner's; all when `None`.
    pub owner: Option<String>,
    /// Only those whose name or description contains this text (any case).
    pub text: Option<String>,
    /// Sort key.
    pub order: ApplicationOrder,
    /// Newest or Z first.
    pub descending: bool,
    /// Page size.
    pub limit: u32,
    /// Items skipped.
    pub offset: u32,
}

/// One page of applications, with how many match in all.
#[derive(Debug, Clone)]
pub struct ApplicationPage {
    /// This page.
    pub list: Vec<Application>,
    /// How many match.
    pub total: u64,
}

/// The state of a key mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyState {
    /// The client exists at the key manager and the mapping is stored.
    Completed,
    /// The mapping is stored but the key manager no longer has the client (deleted there, outside this
    /// service). Delete the keys to clean up.
    ClientMissing,
}

impl KeyState {
    /// `COMPLETED`.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyState::Completed => "COMPLETED",
            KeyState::ClientMissing => "CLIENT_MISSING",
        }
    }
}

/// Where a mapping's client came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyOrigin {
    /// Registered by "generate keys": deleting the keys deletes the client at the key manager.
    Generated,
    /// An existing client mapped with "map keys": deleting the keys only forgets the mapping.
    Mapped,
}

impl KeyOrigin {
    /// `GENERATED` or `MAPPED`.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyOrigin::Generated => "GENERATED",
            KeyOrigin::Mapped => "MAPPED",
        }
    }
}

/// Which client of which key manager holds an application's keys of one key type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMapping {
    /// Id.
    pub id: String,
    /// The application.
    pub application_id: String,
    /// Production or sandbox.
    pub key_type: KeyType,
    /// The key manager's configured name.
    pub key_manager: String,
    /// The client id (consumer key) at that key manager.
    pub client_id: String,
    /// State.
    pub state: KeyState,
    /// Where the client came from.
    pub origin: KeyOrigin,
    /// Creation time, seconds since the epoch.
    pub created_at: i64,
}

/// "Generate keys": what to register for an application.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateKeys {
    /// Production or sandbox.
    pub key_type: KeyType,
    /// The key manager's configured name.
    pub key_manager: String,
    /// Grant types the client may use.
    pub grant_types: Vec<GrantType>,
    /// The redirect URI, for the grants that need one.
    pub callback_url: Option<String>,
    /// Scopes the client may request.
    pub scopes: crate::model::Scopes,
    /// Lifetime of the first token, seconds.
    pub validity_time: Option<u64>,
    /// PKCE required.
    pub pkce_mandatory: bool,
    /// PKCE `plain` allowed.
    pub pkce_support_plain: bool,
    /// A public client (no secret).
    pub public_client: bool,
    /// Provider-specific properties.
    pub additional_properties: serde_json::Map<String, serde_json::Value>,
    /// Issue a first token right away.
    pub generate_token: bool,
}

/// What "generate keys" produced. The client carries its plain secret: show it once.
#[derive(Debug, Clone)]
pub struct GeneratedKeys {
    /// The stored mapping.
    pub mapping: KeyMapping,
    /// The client, with its secret.
    pub client: OAuthClient,
    /// The first token, when one was asked for and could be issued.
    pub token: Option<AccessToken>,
    /// Why the first token could not be issued (the keys exist all the same), as the typed error the key manager
    /// gave.
    pub token_error: Option<std::sync::Arc<crate::Error>>,
}

/// A key mapping with its client as the key manager reports it now.
#[derive(Debug, Clone)]
pub struct KeyDetails {
    /// The mapping.
    pub mapping: KeyMapping,
    /// The client.
    pub client: OAuthClient,
}

/// New settings for an application's existing keys.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateKeys {
    /// Grant types the client may use.
    pub grant_types: Vec<GrantType>,
    /// The redirect URI.
    pub callback_url: Option<String>,
    /// Scopes the client may request.
    pub scopes: crate::model::Scopes,
    /// PKCE required.
    pub pkce_mandatory: bool,
    /// PKCE `plain` allowed.
    pub pkce_support_plain: bool,
    /// Provider-specific properties.
    pub additional_properties: serde_json::Map<String, serde_json::Value>,
    /// The longest lifetime of the client's access tokens (seconds); `None` keeps what it has.
    pub access_token_lifetime: Option<u64>,
}

/// A key manager added at run time, as stored: its connector settings with the secret ones sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredKeyManager {
    /// Name.
    pub name: String,
    /// Connector type.
    pub kind: String,
    /// Connector settings; those its descriptor marks secret are sealed strings (`keymanager::server_kit::SecretBox`).
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Whether it takes new keys and tokens.
    pub enabled: bool,
    /// Plain `http://` endpoints allowed off loopback.
    pub allow_insecure_http: bool,
    /// When it was added (seconds since the epoch).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}
