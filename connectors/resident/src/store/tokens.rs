//! Opaque tokens and revocations.

use keymanager::connector_kit::sql::{col, db_err};
use keymanager::connector_kit::{Error, Result};

use super::*;

impl Store {
    // ----- opaque tokens and revocations -----

    /// Record an opaque token.
    pub async fn insert_token(&self, t: &TokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO km_tokens (token_hash, jti, client_id, secret_id, subject, scope, audience, issued_at, expires_at, \
             grant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&t.token_hash)
        .bind(&t.jti)
        .bind(&t.client_id)
        .bind(t.secret_id.as_deref())
        .bind(&t.subject)
        .bind(&t.scope)
        .bind(&t.audience)
        .bind(t.issued_at)
        .bind(t.expires_at)
        .bind(t.grant_id.as_deref())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Find an opaque token by its hash.
    pub async fn get_token(&self, token_hash: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query(
            "SELECT token_hash, jti, client_id, secret_id, subject, scope, audience, issued_at, expires_at, grant_id \
             FROM km_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|row| {
            let r = &row;
            Ok(TokenRecord {
                token_hash: col(r, 0)?,
                jti: col(r, 1)?,
                client_id: col(r, 2)?,
                secret_id: col(r, 3)?,
                subject: col(r, 4)?,
                scope: col(r, 5)?,
                audience: col(r, 6)?,
                issued_at: col(r, 7)?,
                expires_at: col(r, 8)?,
                grant_id: col(r, 9)?,
            })
        })
        .transpose()
    }

    /// Record a revocation (idempotent).
    pub async fn revoke(&self, r: &Revoked) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert_revocation(&mut tx, r, self.now()).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Whether a token (its `jti`, client, secret and issue time) is covered by a revocation.
    pub async fn is_revoked(
        &self,
        jti: &str,
        client_id: &str,
        secret_id: Option<&str>,
        grant_id: Option<&str>,
        issued_at: i64,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM km_revocations WHERE (kind = 'jti' AND jti = $1) \
             OR (kind = 'secret' AND client_id = $2 AND secret_id = $3 AND issued_before >= $4) \
             OR (kind = 'client' AND client_id = $2 AND issued_before >= $4) \
             OR (kind = 'grant' AND grant_id = $5)",
        )
        .bind(jti)
        .bind(client_id)
        .bind(secret_id.unwrap_or(""))
        .bind(issued_at)
        .bind(grant_id.unwrap_or(""))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.is_some())
    }

    /// Revocations recorded at or after `since` (epoch seconds), for validators.
    pub async fn revocations_since(&self, since: i64) -> Result<Vec<keymanager::connector_kit::model::Revoked>> {
        let rows = sqlx::query(
            "SELECT kind, client_id, secret_id, jti, issued_before, expires_at, grant_id FROM km_revocations \
             WHERE created_at >= $1 AND expires_at > $2",
        )
        .bind(since)
        .bind(self.now())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind: String = col(r, 0)?;
            let client_id: Option<String> = col(r, 1)?;
            let secret_id: Option<String> = col(r, 2)?;
            let jti: Option<String> = col(r, 3)?;
            let issued_before: Option<i64> = col(r, 4)?;
            let expires_at: i64 = col(r, 5)?;
            let grant_id: Option<String> = col(r, 6)?;
            if let ("grant", Some(grant_id)) = (kind.as_str(), grant_id) {
                out.push(Revoked::Grant { grant_id, expires_at });
                continue;
            }
            out.push(match (kind.as_str(), client_id, secret_id, jti, issued_before) {
                ("jti", _, _, Some(jti), _) => Revoked::Jti { jti, expires_at },
                ("secret", Some(client_id), Some(secret_id), _, Some(issued_before)) => Revoked::Secret {
                    client_id,
                    secret_id,
                    issued_before,
                    expires_at,
                },
                ("client", Some(client_id), _, _, Some(issued_before)) => Revoked::Client {
                    client_id,
                    issued_before,
                    expires_at,
                },
                _ => return Err(Error::storage(format!("a revocation of kind `{kind}` is incomplete"))),
            });
        }
        Ok(out)
    }
}

pub(crate) async fn insert_revocation(tx: &mut Tx<'_>, r: &Revoked, created_at: i64) -> Result<()> {
    let grant_id = match r {
        Revoked::Grant { grant_id, .. } => Some(grant_id.as_str()),
        _ => None,
    };
    let (id, kind, client_id, secret_id, jti, issued_before, expires_at) = match r {
        Revoked::Grant { grant_id, expires_at } => (
            format!("grant:{grant_id}"),
            "grant",
            None,
            None,
            None,
            None,
            *expires_at,
        ),
        Revoked::Jti { jti, expires_at } => (
            format!("jti:{jti}"),
            "jti",
            None,
            None,
            Some(jti.as_str()),
            None,
            *expires_at,
        ),
        Revoked::Client {
            client_id,
            issued_before,
            expires_at,
        } => (
            format!("client:{client_id}"),
            "client",
            Some(client_id.as_str()),
            None,
            None,
            Some(*issued_before),
            *expires_at,
        ),
        Revoked::Secret {
            client_id,
            secret_id,
            issued_before,
            expires_at,
        } => (
            format!("secret:{client_id}:{secret_id}"),
            "secret",
            Some(client_id.as_str()),
            Some(secret_id.as_str()),
            None,
            Some(*issued_before),
            *expires_at,
        ),
        Revoked::TokenHash { .. } => {
            return Err(keymanager::connector_kit::Error::invalid_field(
                "revocation",
                "the resident store revokes tokens by jti, not by hash",
            ))
        }
    };
    // Delete-then-insert keeps it idempotent on both dialects without dialect-specific upserts.
    sqlx::query("DELETE FROM km_revocations WHERE id = $1")
        .bind(&id)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    sqlx::query(
        "INSERT INTO km_revocations (id, kind, client_id, secret_id, jti, issued_before, expires_at, created_at, grant_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(kind)
    .bind(client_id)
    .bind(secret_id)
    .bind(jti)
    .bind(issued_before)
    .bind(expires_at)
    .bind(created_at)
    .bind(grant_id)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    keymanager::connector_kit::sql::changes::announce(tx, &keymanager::connector_kit::sql::changes::Change::Revocation)
        .await
}
