//! # keymanager-resident
//!
//! The embedded OAuth2 authorization server of [keymanager]: `type = "resident"`.
//!
//! - **Store**: SQLite (a file in WAL mode, the default) or PostgreSQL (several nodes on one database), one
//!   schema, versioned migrations run on start.
//! - **Clients**: confidential or public (`token_endpoint_auth_method = none`), grant types, redirect URIs,
//!   allowed scopes, PKCE policy, per-client token lifetime.
//! - **Secrets**: 256 random bits, stored as SHA-256 hashes and compared in constant time; several per client,
//!   each with an optional description and expiry; the plain value is returned once, at creation, and never
//!   again; listings are masked; `max_secrets_per_client` caps the count. **Deleting a secret does not revoke the
//!   tokens it issued** — they stay valid until they expire — unless the call passes `revoke_tokens = true`.
//! - **Tokens**: `client_credentials`; RFC 9068 JWT access tokens (`typ: at+jwt`) signed with ES256 (default),
//!   RS256 or EdDSA under a `kid`, or opaque tokens; RFC 7662 introspection and RFC 7009 revocation. Issuing a
//!   JWT writes nothing to the database.
//! - **HTTP face** ([`router`]): discovery (RFC 8414 and OpenID), JWKS, token, introspection, revocation, and
//!   dynamic client registration (RFC 7591 / 7592).
//!
//! ```no_run
//! # async fn demo() -> keymanager::connector_kit::Result<()> {
//! use keymanager::connector_kit::model::{ClientSpec, KeyType, TokenRequest};
//! use keymanager::connector_kit::KeyManager;
//! use keymanager_resident::{ResidentKeyManager, ResidentServer, ResidentSettings, Store};
//!
//! let store = Store::connect("sqlite://keymanager.db", None).await?;
//! let server = ResidentServer::open(ResidentSettings::default(), store).await?;
//! let km = ResidentKeyManager::new("Resident Key Manager", server);
//! let client = km
//!     .register_client(&ClientSpec::new("orders", KeyType::Production).with_scopes(["orders:read"]))
//!     .await?;
//! let secret = client.client_secret.clone().expect("a confidential client gets a secret");
//! let token = km.issue_token(&TokenRequest::client_credentials(client.client_id, secret)).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod client_assertion;
mod client_cache;
pub mod client_certificate;
mod client_keys;
mod client_metadata;
mod crypto;
mod dpop_nonce;
mod factory;
mod grants;
mod http;
mod key_manager;
mod keyring;
mod login_guard;
mod login_session;
mod password_hashing;
mod server;
mod settings;
mod signing;
mod signing_key_admin;
mod store;
mod users;

pub use client_assertion::{CLIENT_ASSERTION_TYPE, MAX_ASSERTION_LIFETIME};
pub use client_metadata::ClientMetadata;
pub use factory::ResidentFactory;
pub use grants::{AuthorizationRequest, AuthorizeError, CheckedRequest, Prompt, MAX_PUSHED_REQUESTS_PER_CLIENT};
pub use http::{
    error_family, error_page, oauth_error, router, router_audited, AdminToken, ErrorFamily, RegistrationAudit, ROUTES,
    ROUTE_FAMILIES, STYLESHEET,
};
pub use key_manager::ResidentKeyManager;
pub use keyring::KeyRing;
pub use login_guard::BruteForceSettings;
pub use login_session::{NextStep, SESSION_COOKIE};
pub use server::{AuthenticatedClient, ResidentServer, ACCESS_TOKEN_TYP};
pub use settings::{descriptor, ResidentSettings, SecretStorage, TokenFormat, KIND};
pub use signing::{Algorithm, SigningKey};
pub use store::{ClientRecord, LoginSession, SecretRecord, Store, MIGRATIONS};
pub use users::{ResourceOwner, ResourceOwnerAuthenticator};

use keymanager::connector_kit::model::{Capabilities, GrantType};

/// What the resident key manager supports.
pub fn capabilities(settings: &ResidentSettings) -> Capabilities {
    Capabilities {
        grant_types: vec![
            GrantType::ClientCredentials,
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::Password,
            GrantType::TokenExchange,
        ],
        update_client: true,
        map_existing_client: true,
        regenerate_secret: true,
        multiple_secrets: settings.max_secrets_per_client != Some(1),
        max_secrets_per_client: settings.max_secrets_per_client,
        secret_expiry: true,
        secret_description: true,
        revoke_tokens_with_secret: true,
        introspection: true,
        revocation: true,
        scope_management: true,
        public_clients: true,
        pkce: true,
        pkce_plain: true,
        client_token_lifetime: true,
        retrievable_secrets: settings.client_secret_storage == SecretStorage::Retrievable,
    }
}
