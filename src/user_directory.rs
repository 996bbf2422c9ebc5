//! The people who sign in at a key manager that keeps its own users (the resident one): what the management API
//! needs to list, add and remove them, without knowing which key manager keeps them.

use async_trait::async_trait;

use crate::Result;

/// A user to add. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Password (the directory hashes it).
    pub password: String,
    /// Roles, which decide the scopes the user may be granted (the resident binds `keymanager:admin` to `admin`).
    pub roles: Vec<String>,
    /// What OpenID Connect's `profile` and `email` scopes show of the user.
    pub profile: UserProfile,
}

/// The user's claims for OpenID Connect (Core §5.1): `name` with scope `profile`, `email` and `email_verified` with
/// scope `email`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProfile {
    /// Full name.
    pub name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Whether the address was verified.
    pub email_verified: bool,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .field("roles", &self.roles)
            .field("profile", &self.profile)
            .finish()
    }
}

/// A user as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// Login name.
    pub username: String,
    /// Roles.
    pub roles: Vec<String>,
    /// OpenID Connect claims.
    pub profile: UserProfile,
}

/// A change to a user; `None` keeps a field. `Debug` hides the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// A new password (the directory hashes it).
    pub password: Option<String>,
    /// New roles (they replace the old ones).
    pub roles: Option<Vec<String>>,
    /// New OpenID Connect claims (they replace the old ones).
    pub profile: Option<UserProfile>,
}

impl std::fmt::Debug for UserChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserChange")
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .field("roles", &self.roles)
            .field("profile", &self.profile)
            .finish()
    }
}

/// A directory of resource owners the management API can administer.
#[async_trait]
pub trait UserDirectory: Send + Sync {
    /// Add a user with a password (hashed by the directory); its stable subject (`sub`).
    async fn add_user(&self, user: &NewUser) -> Result<String>;
    /// The users, sorted by name.
    async fn list_users(&self) -> Result<Vec<UserInfo>>;
    /// Change a user. A new password or changed roles end what the user was granted before (its sessions, and the
    /// tokens of its grants). `NotFound` when there is none of that name.
    async fn update_user(&self, username: &str, change: &UserChange) -> Result<UserInfo> {
        let _ = (username, change);
        Err(crate::Error::unsupported("update_user"))
    }
    /// Remove a user, ending what it was granted (its sessions, and the tokens of its grants); `NotFound` when there
    /// is none of that name.
    async fn delete_user(&self, username: &str) -> Result<()>;
}
