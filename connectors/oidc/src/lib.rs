//! # keymanager-oidc
//!
//! A [keymanager] connector for any standards-based authorization server (`type = "oidc"`): Auth0,
//! Curity, Ory Hydra, ZITADEL, node `oidc-provider`, keymanager's own resident server… with no provider-specific
//! code.
//!
//! - **Discovery**: `{issuer}/.well-known/openid-configuration`, falling back to RFC 8414
//!   `/.well-known/oauth-authorization-server`; the metadata's `issuer` must equal the configured one. Every
//!   endpoint can be overridden.
//! - **Clients**: RFC 7591 registration (with the `initial_access_token` when configured), RFC 7592 read, update
//!   and delete with the registration access token, which is kept in the database next to the key mappings and
//!   replaced whenever the provider rotates it. Standard metadata cannot express PKCE, per-client token lifetimes,
//!   secret rotation or several secrets: those are `Unsupported` here (the provider's own policy applies).
//! - **Tokens**: `client_credentials`, `refresh_token`, `password` and the `authorization_code` exchange with a PKCE
//!   verifier; RFC 7662 introspection (as `introspection_client_id` / `_secret`, or with `introspection_token`);
//!   RFC 7009 revocation as the token's client. Capabilities follow the discovery document.

#![warn(missing_docs)]

mod discovery;
mod factory;
mod key_manager;
mod metadata;
mod settings;

pub use discovery::{discover, well_known_urls, Metadata};
pub use factory::OidcFactory;
pub use key_manager::OidcKeyManager;
pub use keymanager::connector_kit::sql::registrations::{
    MemoryRegistrations, Registration, RegistrationStore, SqlRegistrations,
};
pub use settings::{descriptor, OidcSettings, KIND};
