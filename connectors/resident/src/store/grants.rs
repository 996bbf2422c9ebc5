//! Users, authorization codes and refresh tokens: the store side of the user grants.

use keymanager::connector_kit::sql::{col, conflict_or, db_err};
use keymanager::connector_kit::Result;

use super::{insert_revocation, Revoked, Store};

/// A resource owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Login name.
    pub username: String,
    /// Stable subject (`sub`).
    pub subject: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Roles.
    pub roles: Vec<String>,
    /// OpenID Connect claims.
    pub profile: keymanager::connector_kit::UserProfile,
}

/// An authorization code, as stored (hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The grant family its tokens belong to.
    pub grant_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI the authorization request carried; `None` when it carried none (the client's only
    /// registered one was used). Stored as an empty string then.
    pub redirect_uri: Option<String>,
    /// Granted scope (space-separated).
    pub scope: String,
    /// The user.
    pub subject: String,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// `S256` or `plain`.
    pub code_challenge_method: Option<String>,
    /// Expiry.
    pub expires_at: i64,
    /// The authorization request's `nonce` (OpenID Connect), echoed in the ID token.
    pub nonce: Option<String>,
    /// The login session the user authorized in (`sid` of the ID token).
    pub sid: Option<String>,
    /// When the user authenticated (seconds since the epoch).
    pub auth_time: Option<i64>,
}

/// A refresh token, as stored (hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Grant family.
    pub grant_id: String,
    /// Client.
    pub client_id: String,
    /// User.
    pub subject: String,
    /// Scope.
    pub scope: String,
    /// Expiry.
    pub expires_at: i64,
    /// The login session of the grant, when it began with a user's login.
    pub sid: Option<String>,
    /// When the user authenticated, when known.
    pub auth_time: Option<i64>,
    /// Revoked before it was ever used (a sign-out, a user change, a revoked family), as opposed to used and
    /// presented again; read from the store, `false` for a new record.
    pub revoked_unused: bool,
    /// What the token is bound to (the `cnf` of its access tokens, JSON): a public client's DPoP key or
    /// certificate (RFC 9449 §5, RFC 8705 §4); `None` when unbound.
    pub cnf: Option<String>,
}

/// Roles as stored: space-separated.
pub(super) fn roles(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// What using a one-time value (code, refresh token) found.
#[derive(Debug)]
pub enum Use<T> {
    /// Unknown or expired.
    Invalid,
    /// Used before: a replay.
    Replayed(T),
    /// This use won.
    Fresh(T),
}

impl Store {
    /// Add a user; `Conflict` when the name is taken.
    pub async fn insert_user(&self, u: &UserRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_users (username, subject, password_hash, created_at, roles, name, email, email_verified) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&u.username)
        .bind(&u.subject)
        .bind(&u.password_hash)
        .bind(self.now())
        .bind(u.roles.join(" "))
        .bind(u.profile.name.as_deref())
        .bind(u.profile.email.as_deref())
        .bind(i64::from(u.profile.email_verified))
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, || format!("a user named `{}` exists already", u.username)))?;
        Ok(())
    }

    /// A user by name.
    pub async fn get_user(&self, username: &str) -> Result<Option<UserRecord>> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        get_user_in(&mut conn, username).await
    }

    /// Replace a user's OpenID Connect claims.
    pub async fn set_profile(&self, username: &str, profile: &keymanager::connector_kit::UserProfile) -> Result<()> {
        sqlx::query("UPDATE km_users SET name = $2, email = $3, email_verified = $4 WHERE username = $1")
            .bind(username)
            .bind(profile.name.as_deref())
            .bind(profile.email.as_deref())
            .bind(i64::from(profile.email_verified))
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Every user with their roles, sorted by name.
    pub async fn list_users(&self) -> Result<Vec<keymanager::connector_kit::UserInfo>> {
        let rows = sqlx::query("SELECT username, roles, name, email, email_verified FROM km_users ORDER BY username")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(keymanager::connector_kit::UserInfo {
                    username: col(r, 0)?,
                    roles: roles(&col::<String>(r, 1)?),
                    profile: keymanager::connector_kit::UserProfile {
                        name: col(r, 2)?,
                        email: col(r, 3)?,
                        email_verified: col::<i64>(r, 4)? != 0,
                    },
                })
            })
            .collect()
    }

    /// Delete a user, ending its login sessions and revoking its grants in the same transaction (`revoke_until`: how
    /// long the revocation rules must be kept); `NotFound` when there is none.
    pub async fn delete_user(&self, username: &str, revoke_until: i64) -> Result<()> {
        let at = self.now();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let subject = subject_of(&mut tx, username).await?;
        sqlx::query("DELETE FROM km_users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Store::end_subject_in(&mut tx, &subject, at, revoke_until).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Change a user: a new password hash, roles, OpenID Connect claims (each when given), in one transaction. A new
    /// password or changed roles end the user's login sessions and revoke its grants, so nothing it was granted
    /// before outlives the change. `NotFound` when there is no such user.
    pub async fn update_user(&self, username: &str, change: &UserUpdate, revoke_until: i64) -> Result<UserRecord> {
        let at = self.now();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let before = get_user_in(&mut tx, username)
            .await?
            .ok_or_else(|| keymanager::connector_kit::Error::not_found("user", username))?;
        if let Some(hash) = &change.password_hash {
            sqlx::query("UPDATE km_users SET password_hash = $2 WHERE username = $1")
                .bind(username)
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some(roles) = &change.roles {
            sqlx::query("UPDATE km_users SET roles = $2 WHERE username = $1")
                .bind(username)
                .bind(roles.join(" "))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        if let Some(profile) = &change.profile {
            sqlx::query("UPDATE km_users SET name = $2, email = $3, email_verified = $4 WHERE username = $1")
                .bind(username)
                .bind(profile.name.as_deref())
                .bind(profile.email.as_deref())
                .bind(i64::from(profile.email_verified))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let roles_changed = change.roles.as_ref().is_some_and(|r| *r != before.roles);
        if change.password_hash.is_some() || roles_changed {
            Store::end_subject_in(&mut tx, &before.subject, at, revoke_until).await?;
        }
        let after = get_user_in(&mut tx, username)
            .await?
            .ok_or_else(|| keymanager::connector_kit::Error::not_found("user", username))?;
        tx.commit().await.map_err(db_err)?;
        Ok(after)
    }

    /// Store a new authorization code.
    pub async fn insert_code(&self, c: &CodeRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_auth_codes (code_hash, grant_id, client_id, redirect_uri, scope, subject, code_challenge, \
             code_challenge_method, expires_at, used_at, created_at, nonce, sid, auth_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, $12, $13)",
        )
        .bind(&c.code_hash)
        .bind(&c.grant_id)
        .bind(&c.client_id)
        .bind(c.redirect_uri.as_deref().unwrap_or_default())
        .bind(&c.scope)
        .bind(&c.subject)
        .bind(c.code_challenge.as_deref())
        .bind(c.code_challenge_method.as_deref())
        .bind(c.expires_at)
        .bind(self.now())
        .bind(c.nonce.as_deref())
        .bind(c.sid.as_deref())
        .bind(c.auth_time)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Use a code: exactly one caller gets `Fresh`; any later one `Replayed`.
    pub async fn use_code(&self, code_hash: &str) -> Result<Use<CodeRecord>> {
        let at = self.now();
        let row = sqlx::query(
            "SELECT code_hash, grant_id, client_id, redirect_uri, scope, subject, code_challenge, code_challenge_method, \
             expires_at, used_at, nonce, sid, auth_time FROM km_auth_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(r) = row else { return Ok(Use::Invalid) };
        let record = CodeRecord {
            code_hash: col(&r, 0)?,
            grant_id: col(&r, 1)?,
            client_id: col(&r, 2)?,
            redirect_uri: Some(col::<String>(&r, 3)?).filter(|u| !u.is_empty()),
            scope: col(&r, 4)?,
            subject: col(&r, 5)?,
            code_challenge: col(&r, 6)?,
            code_challenge_method: col(&r, 7)?,
            expires_at: col(&r, 8)?,
            nonce: col(&r, 10)?,
            sid: col(&r, 11)?,
            auth_time: col(&r, 12)?,
        };
        if col::<Option<i64>>(&r, 9)?.is_some() {
            return Ok(Use::Replayed(record));
        }
        if record.expires_at <= at {
            return Ok(Use::Invalid);
        }
        // The conditional update decides the race: one exchange wins, every other one is a replay.
        let won = sqlx::query("UPDATE km_auth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL")
            .bind(code_hash)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?
            .rows_affected()
            == 1;
        Ok(if won { Use::Fresh(record) } else { Use::Replayed(record) })
    }

    /// Store a refresh token.
    pub async fn insert_refresh(&self, t: &RefreshRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_refresh_tokens (token_hash, grant_id, client_id, subject, scope, expires_at, used_at, \
             revoked_at, created_at, sid, auth_time, cnf) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8, $9, $10)",
        )
        .bind(&t.token_hash)
        .bind(&t.grant_id)
        .bind(&t.client_id)
        .bind(&t.subject)
        .bind(&t.scope)
        .bind(t.expires_at)
        .bind(self.now())
        .bind(t.sid.as_deref())
        .bind(t.auth_time)
        .bind(t.cnf.as_deref())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Look a refresh token up without using it: `Fresh` when it may still be used, `Replayed` when it was used
    /// or revoked before, `Invalid` when unknown or expired. A refresh checks the whole request against this
    /// before it spends the token with [`Store::use_refresh`].
    pub async fn find_refresh(&self, token_hash: &str) -> Result<Use<RefreshRecord>> {
        let row = sqlx::query(
            "SELECT token_hash, grant_id, client_id, subject, scope, expires_at, used_at, revoked_at, sid, auth_time, \
             cnf FROM km_refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        let Some(r) = row else { return Ok(Use::Invalid) };
        let record = RefreshRecord {
            token_hash: col(&r, 0)?,
            grant_id: col(&r, 1)?,
            client_id: col(&r, 2)?,
            subject: col(&r, 3)?,
            scope: col(&r, 4)?,
            expires_at: col(&r, 5)?,
            sid: col(&r, 8)?,
            auth_time: col(&r, 9)?,
            revoked_unused: col::<Option<i64>>(&r, 6)?.is_none() && col::<Option<i64>>(&r, 7)?.is_some(),
            cnf: col(&r, 10)?,
        };
        if col::<Option<i64>>(&r, 6)?.is_some() || col::<Option<i64>>(&r, 7)?.is_some() {
            return Ok(Use::Replayed(record));
        }
        if record.expires_at <= self.now() {
            return Ok(Use::Invalid);
        }
        Ok(Use::Fresh(record))
    }

    /// Use a refresh token (rotation): exactly one caller gets `Fresh`; a rotated or revoked one is `Replayed`.
    pub async fn use_refresh(&self, token_hash: &str) -> Result<Use<RefreshRecord>> {
        let record = match self.find_refresh(token_hash).await? {
            Use::Fresh(r) => r,
            other => return Ok(other),
        };
        let won = sqlx::query(
            "UPDATE km_refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(token_hash)
        .bind(self.now())
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        Ok(if won { Use::Fresh(record) } else { Use::Replayed(record) })
    }

    /// Revoke a whole grant: its refresh tokens, and (by rule) every access token carrying its `grant_id`.
    pub async fn revoke_grant(&self, grant_id: &str, expires_at: i64) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("UPDATE km_refresh_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL")
            .bind(grant_id)
            .bind(self.now())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_revocation(
            &mut tx,
            &Revoked::Grant {
                grant_id: grant_id.to_owned(),
                expires_at,
            },
            self.now(),
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }
}

/// A user by name, on `conn` (a pooled connection or a transaction).
async fn get_user_in(conn: &mut sqlx::AnyConnection, username: &str) -> Result<Option<UserRecord>> {
    let row = sqlx::query(
        "SELECT username, subject, password_hash, roles, name, email, email_verified FROM km_users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    row.map(|r| {
        Ok(UserRecord {
            username: col(&r, 0)?,
            subject: col(&r, 1)?,
            password_hash: col(&r, 2)?,
            roles: roles(&col::<String>(&r, 3)?),
            profile: keymanager::connector_kit::UserProfile {
                name: col(&r, 4)?,
                email: col(&r, 5)?,
                email_verified: col::<i64>(&r, 6)? != 0,
            },
        })
    })
    .transpose()
}

/// The subject of the user `username`, on `conn`; `NotFound` when there is none.
async fn subject_of(conn: &mut sqlx::AnyConnection, username: &str) -> Result<String> {
    let row = sqlx::query("SELECT subject FROM km_users WHERE username = $1")
        .bind(username)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?
        .ok_or_else(|| keymanager::connector_kit::Error::not_found("user", username))?;
    col(&row, 0)
}

/// What [`Store::update_user`] changes; `None` keeps a field.
#[derive(Clone, Default)]
pub struct UserUpdate {
    /// A new password's hash.
    pub password_hash: Option<String>,
    /// New roles.
    pub roles: Option<Vec<String>>,
    /// New OpenID Connect claims.
    pub profile: Option<keymanager::connector_kit::UserProfile>,
}

impl std::fmt::Debug for UserUpdate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdate")
            .field("password_hash", &self.password_hash.as_ref().map(|_| "[REDACTED]"))
            .field("roles", &self.roles)
            .field("profile", &self.profile)
            .finish()
    }
}
