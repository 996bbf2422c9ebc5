//! # keymanager-keycloak
//!
//! A [keymanager] connector for Keycloak (`type = "keycloak"`), through the admin REST API (with an
//! admin service account, whose token is cached and refreshed once on a 401) or, with only an initial access
//! token, the OpenID Connect client registration service. See [`KeycloakKeyManager`] for what each mode does, and
//! `fixtures/keycloak/` for the answers it is pinned to.

#![warn(missing_docs)]

mod errors;
mod factory;
mod key_manager;
mod representation;
mod settings;

pub use factory::KeycloakFactory;
pub use key_manager::{KeycloakKeyManager, CURRENT_SECRET, ROTATED_SECRET};
/// Where a key manager keeps the client ids it registered (in memory for a library user, SQL for the server).
pub use keymanager::connector_kit::sql::registrations::{MemoryRegistrations, RegistrationStore, SqlRegistrations};
pub use representation::{client_from, client_id_for, representation};
pub use settings::{descriptor, KeycloakSettings, Mode, KIND};
