//! The people who sign in at a key manager that keeps its own users (the resident one): what the management API
//! needs to list, add and remove them, without knowing which key manager keeps them.

use async_trait::async_trait;

use crate::Result;

/// A directory of resource owners the management API can administer.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// Add a user with a password (hashed by the directory); its stable subject (`sub`).
    async fn add_user(&self, username: &str, password: &str) -> Result<String>;
    /// The user names, sorted.
    async fn list_users(&self) -> Result<Vec<String>>;
    /// Remove a user; `NotFound` when there is none of that name.
    async fn delete_user(&self, username: &str) -> Result<()>;
}
