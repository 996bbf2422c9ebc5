//! Login sessions of the login page, the consents given in them, and the `jti`s of client assertions already
//! accepted.

use keymanager::connector_kit::sql::{col, db_err};
use keymanager::connector_kit::Result;

use super::{insert_revocation, Revoked, Store};

/// A login session, as stored: the cookie itself is kept as its SHA-256 only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// SHA-256 of the session cookie.
    pub session_hash: String,
    /// The session's id, as ID tokens carry it (`sid`, OpenID Connect Front-Channel Logout §3): not the cookie.
    pub sid: String,
    /// The user's subject.
    pub subject: String,
    /// The user's login name.
    pub username: String,
    /// The user's roles when they signed in (they decide role-bound scopes for the session's authorizations).
    pub roles: Vec<String>,
    /// When the user authenticated (seconds since the epoch).
    pub auth_time: i64,
    /// When the session ends by itself.
    pub expires_at: i64,
}

impl Store {
    /// Start a login session.
    pub async fn insert_session(&self, s: &LoginSession) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_login_sessions (session_hash, sid, subject, username, roles, auth_time, expires_at, \
             ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(&s.session_hash)
        .bind(&s.sid)
        .bind(&s.subject)
        .bind(&s.username)
        .bind(s.roles.join(" "))
        .bind(s.auth_time)
        .bind(s.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// The live session whose cookie hashes to `session_hash`: not ended, not expired.
    pub async fn find_session(&self, session_hash: &str) -> Result<Option<LoginSession>> {
        let row = sqlx::query(
            "SELECT session_hash, sid, subject, username, roles, auth_time, expires_at FROM km_login_sessions \
             WHERE session_hash = $1 AND ended_at IS NULL AND expires_at > $2",
        )
        .bind(session_hash)
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| {
            Ok(LoginSession {
                session_hash: col(&r, 0)?,
                sid: col(&r, 1)?,
                subject: col(&r, 2)?,
                username: col(&r, 3)?,
                roles: super::grants::roles(&col::<String>(&r, 4)?),
                auth_time: col(&r, 5)?,
                expires_at: col(&r, 6)?,
            })
        })
        .transpose()
    }

    /// The scopes the user allowed `client_id` in session `sid` (space-separated), if any.
    pub async fn session_consent(&self, sid: &str, client_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT scope FROM km_session_consents WHERE sid = $1 AND client_id = $2")
            .bind(sid)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| col(&r, 0)).transpose()
    }

    /// Record that the user allowed `client_id` these scopes (space-separated) in session `sid`.
    pub async fn record_consent(&self, sid: &str, client_id: &str, scope: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_session_consents (sid, client_id, scope) VALUES ($1, $2, $3) \
             ON CONFLICT (sid, client_id) DO UPDATE SET scope = $3",
        )
        .bind(sid)
        .bind(client_id)
        .bind(scope)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// End session `sid` and revoke every grant that began in it (its refresh tokens, and by rule its access
    /// tokens), in one transaction. `revoke_until` is how long the rules must be kept. Returns whether a live
    /// session ended.
    pub async fn end_session(&self, sid: &str, revoke_until: i64) -> Result<bool> {
        let at = self.now();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let ended = sqlx::query("UPDATE km_login_sessions SET ended_at = $2 WHERE sid = $1 AND ended_at IS NULL")
            .bind(sid)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected()
            == 1;
        sqlx::query("DELETE FROM km_session_consents WHERE sid = $1")
            .bind(sid)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let grants =
            sqlx::query("SELECT DISTINCT grant_id FROM km_refresh_tokens WHERE sid = $1 AND revoked_at IS NULL")
                .bind(sid)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
        sqlx::query("UPDATE km_refresh_tokens SET revoked_at = $2 WHERE sid = $1 AND revoked_at IS NULL")
            .bind(sid)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        for row in &grants {
            let grant_id: String = col(row, 0)?;
            insert_revocation(
                &mut tx,
                &Revoked::Grant {
                    grant_id,
                    expires_at: revoke_until,
                },
                at,
            )
            .await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(ended)
    }

    /// Within `tx`: end every login session of `subject` and revoke every grant made for it (its refresh tokens, and
    /// by rule every access token of a grant made for it: `km_user_grants`). `revoke_until` is how long the rules
    /// must be kept.
    pub(super) async fn end_subject_in(
        tx: &mut super::Tx<'_>,
        subject: &str,
        at: i64,
        revoke_until: i64,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM km_session_consents WHERE sid IN (SELECT sid FROM km_login_sessions WHERE subject = $1)",
        )
        .bind(subject)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
        sqlx::query("UPDATE km_login_sessions SET ended_at = $2 WHERE subject = $1 AND ended_at IS NULL")
            .bind(subject)
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        let grants = sqlx::query(
            "SELECT grant_id FROM km_user_grants WHERE subject = $1 AND expires_at > $2 \
             UNION SELECT grant_id FROM km_refresh_tokens WHERE subject = $1 AND revoked_at IS NULL",
        )
        .bind(subject)
        .bind(at)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_err)?;
        sqlx::query("UPDATE km_refresh_tokens SET revoked_at = $2 WHERE subject = $1 AND revoked_at IS NULL")
            .bind(subject)
            .bind(at)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
        for row in &grants {
            let grant_id: String = col(row, 0)?;
            insert_revocation(
                tx,
                &Revoked::Grant {
                    grant_id,
                    expires_at: revoke_until,
                },
                at,
            )
            .await?;
        }
        if !grants.is_empty() {
            // Validators on every node poll the revocations now, not at their next interval.
            keymanager::connector_kit::sql::changes::announce(
                tx,
                &keymanager::connector_kit::sql::changes::Change::Revocation,
            )
            .await?;
        }
        Ok(())
    }

    /// Record a grant made for a user (authorization code or password) until `expires_at`, when the last token it
    /// could issue has expired; ending the user's grants revokes it by its id.
    pub async fn record_user_grant(
        &self,
        grant_id: &str,
        subject: &str,
        client_id: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_user_grants (grant_id, subject, client_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(grant_id)
        .bind(subject)
        .bind(client_id)
        .bind(self.now())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Accept a DPoP proof's `jti` for its key once across every node on this store (RFC 9449 §11.1): `true` the
    /// first time, `false` for a replay until `expires_at` (the proof is too old to be accepted after it).
    pub async fn accept_dpop_proof(&self, jkt: &str, jti: &str, expires_at: i64) -> Result<bool> {
        use keymanager::connector_kit::sql::{record_proof_once, ProofTable};
        record_proof_once(&self.pool, ProofTable::TokenEndpoint, jkt, jti, expires_at, self.now()).await
    }

    /// Accept a client assertion's `jti` once (RFC 7523 §3 item 7): `true` the first time, `false` for a replay
    /// until the assertion has expired. The client's expired entries are dropped on the way.
    pub async fn accept_assertion(&self, client_id: &str, jti: &str, expires_at: i64) -> Result<bool> {
        sqlx::query("DELETE FROM km_client_assertions WHERE client_id = $1 AND expires_at < $2")
            .bind(client_id)
            .bind(self.now())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        let inserted = sqlx::query(
            "INSERT INTO km_client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO NOTHING",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(inserted == 1)
    }
}
