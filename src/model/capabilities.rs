//! What a connector can do.

use serde::{Deserialize, Serialize};

use super::GrantType;

/// Which optional operations a key manager supports. An operation it does not support returns
/// [`Error::Unsupported`](crate::Error::Unsupported), never a silent no-op.
///
/// A field missing from a serialized form reads as `false` (or none), so a client reads the capabilities of a server
/// older or newer than itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub struct Capabilities {
    /// Grant types it can register clients for; empty = any.
    pub grant_types: Vec<GrantType>,
    /// `update_client`.
    pub update_client: bool,
    /// `map_client`: take over a client that exists at the provider.
    pub map_existing_client: bool,
    /// `regenerate_secret`.
    pub regenerate_secret: bool,
    /// `create_secret` / `list_secrets` / `delete_secret`.
    pub multiple_secrets: bool,
    /// The most secrets a client may hold, when the provider or the configuration limits it.
    pub max_secrets_per_client: Option<u32>,
    /// Secrets can carry an expiry.
    pub secret_expiry: bool,
    /// Secrets can carry a description.
    pub secret_description: bool,
    /// Deleting a secret can revoke the tokens issued with it.
    pub revoke_tokens_with_secret: bool,
    /// `introspect`.
    pub introspection: bool,
    /// `revoke_token`.
    pub revocation: bool,
    /// `register_scope` / `list_scopes` / `delete_scope`.
    pub scope_management: bool,
    /// Public clients (no secret).
    pub public_clients: bool,
    /// PKCE can be required.
    pub pkce: bool,
    /// PKCE method `plain` can be allowed.
    pub pkce_plain: bool,
    /// Per-client access-token lifetime.
    pub client_token_lifetime: bool,
    /// A client's secret is shown again after it was made (`get_client` carries it): `client_secret_storage =
    /// "retrievable"`.
    pub retrievable_secrets: bool,
}
