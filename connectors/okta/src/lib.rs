//! # keymanager-okta
//!
//! A [keymanager] connector for Okta (`type = "okta"`): clients through dynamic client registration
//! (`/oauth2/v1/clients`), PKCE and multiple secrets through the Apps API, tokens through a custom authorization
//! server, scopes through its scopes API. See [`OktaKeyManager`] for the mapping of every operation, and
//! `fixtures/okta/` for the answers it is pinned to.

#![warn(missing_docs)]

mod bodies;
mod errors;
mod factory;
mod key_manager;
mod settings;

pub use errors::MAX_SECRETS;
pub use factory::OktaFactory;
pub use key_manager::OktaKeyManager;
pub use settings::{descriptor, OktaSettings, KIND};
