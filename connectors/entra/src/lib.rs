//! # keymanager-entra
//!
//! A [keymanager] connector for Microsoft Entra ID (`type = "entra"`): a client is an application and its service
//! principal (Microsoft Graph `/applications`, `/servicePrincipals`), its secrets are `passwordCredentials` added and
//! removed by key id, and its scopes are app roles of one API application, granted to the client's service principal
//! (`appRoleAssignedTo`) and requested as `api://{appId}/.default`. See [`EntraKeyManager`] for every operation,
//! and `fixtures/entra/` for the schemas and answers it is pinned to.

#![warn(missing_docs)]

mod bodies;
mod errors;
mod factory;
mod graph;
mod key_manager;
mod settings;

pub use errors::GraphErrors;
pub use factory::EntraFactory;
pub use key_manager::EntraKeyManager;
pub use settings::{descriptor, EntraSettings, KIND};
