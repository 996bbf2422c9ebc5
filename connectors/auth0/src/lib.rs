//! # keymanager-auth0
//!
//! A [keymanager] connector for Auth0 (`type = "auth0"`): clients through the Management API v2 (`/api/v2/clients`),
//! their access to one API through client grants (`/api/v2/client-grants`), the API's scopes through its resource
//! server (`/api/v2/resource-servers`), tokens at `/oauth/token` with the API as `audience`. The connector's own
//! Management API token comes by client credentials and is cached until shortly before it expires. See
//! [`Auth0KeyManager`] for every operation, and `fixtures/auth0/` for the schemas and answers it is pinned to.

#![warn(missing_docs)]

mod bodies;
mod errors;
mod factory;
mod key_manager;
mod settings;

pub use errors::Auth0Errors;
pub use factory::Auth0Factory;
pub use key_manager::Auth0KeyManager;
pub use settings::{descriptor, Auth0Settings, KIND};
