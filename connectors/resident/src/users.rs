//! Resource owners: who may log in on the authorization page and use the password grant.
//!
//! Passwords are hashed with argon2id (a slow hash is right for human passwords, unlike the 256-bit client
//! secrets). A gateway with its own user directory implements [`ResourceOwnerAuthenticator`] and hands it to
//! [`ResidentServer::with_authenticator`](crate::ResidentServer::with_authenticator).

use async_trait::async_trait;
use keymanager::connector_kit::{Error, Result};

use crate::password_hashing::{self, Admission};
use crate::store::{Store, UserRecord};

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceOwner {
    /// Stable subject identifier (`sub` of the user's tokens).
    pub subject: String,
    /// Login name.
    pub username: String,
    /// Roles, which decide the role-bound scopes the user may be granted (`keymanager:admin` needs the role `admin`).
    pub roles: Vec<String>,
}

/// Scopes granted only to users holding one of their roles: the management API's administrator scope needs the
/// `admin` role, so a client allowed that scope does not make every user who signs in through it an administrator.
pub const SCOPE_ROLES: &[(&str, &[&str])] = &[("keymanager:admin", &["admin"])];

impl ResourceOwner {
    /// `scopes` without those bound to a role this user lacks (RFC 6749 §3.3 lets a server grant fewer scopes than
    /// asked; the token response names the ones granted).
    pub fn allowed_scopes(
        &self,
        scopes: keymanager::connector_kit::model::Scopes,
    ) -> keymanager::connector_kit::model::Scopes {
        scopes.into_iter().filter(|s| may_be_granted(&self.roles, s)).collect()
    }
}

/// Whether a user with `roles` may be granted `scope` ([`SCOPE_ROLES`]).
pub fn may_be_granted(roles: &[String], scope: &str) -> bool {
    match SCOPE_ROLES.iter().find(|(s, _)| *s == scope) {
        Some((_, needed)) => roles.iter().any(|r| needed.contains(&r.as_str())),
        None => true,
    }
}

/// Whether `scope` is granted only to users with a role.
pub fn needs_a_role(scope: &str) -> bool {
    SCOPE_ROLES.iter().any(|(s, _)| *s == scope)
}

/// Checks a user's credentials.
#[async_trait]
pub trait ResourceOwnerAuthenticator: Send + Sync {
    /// The user, when the name and password match; `None` otherwise (never which of the two was wrong).
    async fn authenticate(&self, username: &str, password: &str) -> Result<Option<ResourceOwner>>;
}

/// Check a user name by the one name rule ([`check_name`](keymanager::connector_kit::model::check_name)): no markup, no look-alike
/// spellings; unique in any letter case (the store's index).
pub fn check_username(username: &str) -> Result<()> {
    keymanager::connector_kit::model::check_name("username", username)
}

/// Users in the resident store.
#[derive(Debug, Clone)]
pub struct StoreUsers {
    store: Store,
}

/// An argon2id hash of a password nobody has, verified for unknown users so that timing does not tell which names
/// exist.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4B3i0sD0Vy7zq3a8C7bQd0E0b3o8yC0l6q1q7JXj8nE";

impl StoreUsers {
    /// Users in this store.
    pub fn new(store: Store) -> Self {
        StoreUsers { store }
    }

    /// Add a user with an argon2id hash of its password; returns its subject, which is its name (as WSO2's
    /// resident key manager does, so an application's owner reads as the user who owns it).
    pub async fn add(&self, user: &keymanager::connector_kit::NewUser) -> Result<String> {
        check_username(&user.username)?;
        check_password(&user.password)?;
        check_roles(&user.roles)?;
        check_profile(&user.profile)?;
        let hash = password_hashing::hash(&user.password, Admission::Wait).await?;
        let subject = user.username.clone();
        self.store
            .insert_user(&UserRecord {
                username: user.username.clone(),
                subject: subject.clone(),
                password_hash: hash,
                roles: user.roles.clone(),
                profile: user.profile.clone(),
            })
            .await?;
        Ok(subject)
    }
}

/// Check roles: each 1 to 64 letters, digits, `.`, `_` or `-` (they are stored space-separated).
fn check_roles(roles: &[String]) -> Result<()> {
    for (i, role) in roles.iter().enumerate() {
        if role.is_empty() || role.len() > 64 || !role.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(Error::invalid_field(
                format!("roles[{i}]"),
                "must be 1 to 64 letters, digits, `.`, `_` or `-`",
            ));
        }
    }
    Ok(())
}

/// Check a password: at least 8 characters.
fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < 8 {
        return Err(Error::invalid_field("password", "must be at least 8 characters"));
    }
    Ok(())
}

/// Check a user's OpenID Connect claims: a name of at most 200 characters, an e-mail address (`local@domain`) of at
/// most 254.
pub fn check_profile(profile: &keymanager::connector_kit::UserProfile) -> Result<()> {
    if let Some(name) = &profile.name {
        keymanager::connector_kit::model::check_text("name", name, 200)?;
    }
    if let Some(email) = &profile.email {
        keymanager::connector_kit::model::check_text("email", email, 254)?;
        let at = email.find('@').unwrap_or(0);
        if at == 0 || at + 1 >= email.len() || email.chars().any(char::is_whitespace) {
            return Err(Error::invalid_field(
                "email",
                "must be an e-mail address (local@domain)",
            ));
        }
    }
    Ok(())
}

impl StoreUsers {
    /// Make the configured users exist with these passwords: new ones are added, a changed password is re-hashed.
    /// A configured profile (`user_profiles`) replaces the stored one; a user without one keeps what the management
    /// API or the CLI gave it.
    pub async fn ensure(&self, settings: &crate::ResidentSettings) -> Result<()> {
        for (name, password) in &settings.users {
            let configured = settings.user_profiles.get(name);
            match self.store.get_user(name).await? {
                None => {
                    let user = keymanager::connector_kit::NewUser {
                        username: name.clone(),
                        password: password.expose_secret().to_owned(),
                        roles: Vec::new(),
                        profile: configured.cloned().unwrap_or_default(),
                    };
                    self.add(&user).await?;
                    tracing::info!(username = %name, "added a configured user");
                }
                Some(u) => {
                    if !password_hashing::verify(password.expose_secret(), &u.password_hash, Admission::Wait).await? {
                        // As through the API: a new password ends what the user was granted with the old one.
                        let hash = password_hashing::hash(password.expose_secret(), Admission::Wait).await?;
                        let longest = settings.max_access_token_lifetime.max(settings.refresh_token_lifetime);
                        let until = keymanager::connector_kit::model::seconds_after(
                            "refresh_token_lifetime",
                            self.store.now(),
                            longest,
                        )?;
                        let update = crate::store::UserUpdate {
                            password_hash: Some(hash),
                            ..Default::default()
                        };
                        self.store.update_user(name, &update, until).await?;
                        tracing::info!(username = %name, "updated a configured user's password; its grants are revoked");
                    }
                    if let Some(profile) = configured.filter(|p| **p != u.profile) {
                        self.store.set_profile(name, profile).await?;
                        tracing::info!(username = %name, "updated a configured user's profile");
                    }
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceOwnerAuthenticator for StoreUsers {
    async fn authenticate(&self, username: &str, password: &str) -> Result<Option<ResourceOwner>> {
        let user = self.store.get_user(username).await?;
        let hash = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .unwrap_or_else(|| DECOY.to_owned());
        let ok = password_hashing::verify(password, &hash, Admission::RefuseWhenFull).await?;
        Ok(match (user, ok) {
            (Some(u), true) => Some(ResourceOwner {
                subject: u.subject,
                username: u.username,
                roles: u.roles,
            }),
            _ => None,
        })
    }
}

/// The management API administers the resident's own users through this.
#[async_trait::async_trait]
impl keymanager::connector_kit::UserDirectory for crate::ResidentServer {
    async fn add_user(&self, user: &keymanager::connector_kit::NewUser) -> keymanager::connector_kit::Result<String> {
        StoreUsers::new(self.store().clone()).add(user).await
    }

    async fn list_users(&self) -> keymanager::connector_kit::Result<Vec<keymanager::connector_kit::UserInfo>> {
        self.store().list_users().await
    }

    async fn update_user(
        &self,
        username: &str,
        change: &keymanager::connector_kit::UserChange,
    ) -> keymanager::connector_kit::Result<keymanager::connector_kit::UserInfo> {
        if let Some(roles) = &change.roles {
            check_roles(roles)?;
        }
        if let Some(profile) = &change.profile {
            check_profile(profile)?;
        }
        let password_hash = match &change.password {
            Some(p) => {
                check_password(p)?;
                Some(password_hashing::hash(p, Admission::Wait).await?)
            }
            None => None,
        };
        let update = crate::store::UserUpdate {
            password_hash,
            roles: change.roles.clone(),
            profile: change.profile.clone(),
        };
        let u = self
            .store()
            .update_user(username, &update, self.revocation_horizon()?)
            .await?;
        Ok(keymanager::connector_kit::UserInfo {
            username: u.username,
            roles: u.roles,
            profile: u.profile,
        })
    }

    async fn delete_user(&self, username: &str) -> keymanager::connector_kit::Result<()> {
        self.store().delete_user(username, self.revocation_horizon()?).await
    }
}

#[cfg(test)]
mod decoy_tests {

    #[test]
    fn role_bound_scopes_are_granted_only_with_their_role() {
        let none: Vec<String> = Vec::new();
        let admin = vec!["admin".to_owned()];
        assert!(!super::may_be_granted(&none, "keymanager:admin"));
        assert!(super::may_be_granted(&admin, "keymanager:admin"));
        assert!(super::may_be_granted(&none, "orders:read"));
        assert!(super::needs_a_role("keymanager:admin") && !super::needs_a_role("keymanager:apps"));
    }

    /// The decoy must cost what a real check costs, or timing tells which names exist.
    #[test]
    fn the_decoy_is_a_default_cost_argon2id_hash() {
        let parsed = argon2::password_hash::phc::PasswordHash::new(super::DECOY).unwrap();
        let params = argon2::Params::try_from(&parsed).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(params.m_cost(), argon2::Params::default().m_cost());
        assert_eq!(params.t_cost(), argon2::Params::default().t_cost());
        assert!(parsed.salt.is_some() && parsed.hash.is_some());
    }
}
