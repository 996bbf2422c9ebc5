//! Signing keys, their rotation, and the purge of everything expired.

use keymanager::connector_kit::sql::{col, db_err};
use keymanager::connector_kit::{Error, Result};

use super::*;

impl Store {
    // ----- signing keys -----

    /// Every signing key not yet past its JWKS expiry, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, alg, private_key, created_at, retired_at, expires_at, activates_at FROM km_signing_keys \
             WHERE expires_at IS NULL OR expires_at > $1 ORDER BY created_at DESC, kid DESC",
        )
        .bind(self.now())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let pk: String = col(r, 2)?;
                Ok(SigningKeyRecord {
                    kid: col(r, 0)?,
                    alg: col(r, 1)?,
                    private_key: STANDARD
                        .decode(pk)
                        .map_err(|_| Error::storage("a stored signing key is not valid base64"))?,
                    created_at: col(r, 3)?,
                    retired_at: col(r, 4)?,
                    expires_at: col(r, 5)?,
                    activates_at: col(r, 6)?,
                })
            })
            .collect()
    }

    /// A cheap summary of the signing keys' table that changes whenever a key is added, retired or removed: what a
    /// node without push (SQLite) polls to learn another process's rotation.
    pub async fn signing_keys_version(&self) -> Result<String> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(MAX(created_at), 0) AS BIGINT), \
             CAST(COALESCE(SUM(COALESCE(expires_at, 0)), 0) AS BIGINT) FROM km_signing_keys",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(format!(
            "{}:{}:{}",
            col::<i64>(&row, 0)?,
            col::<i64>(&row, 1)?,
            col::<i64>(&row, 2)?
        ))
    }

    /// Store new signing keys (one per algorithm in use), signing from `activates_at`, and retire the keys that sign
    /// until then: they stop signing at `activates_at` and leave the JWKS `keep_for` seconds later, when the last
    /// token they signed has expired. Keys already set to retire keep their time.
    pub async fn rotate_signing_key(&self, new: &[SigningKeyRecord], activates_at: i64, keep_for: i64) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("UPDATE km_signing_keys SET retired_at = $1, expires_at = $2 WHERE retired_at IS NULL")
            .bind(activates_at)
            .bind(activates_at.saturating_add(keep_for))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_signing_keys(&mut tx, new, Some(activates_at)).await?;
        keymanager::connector_kit::sql::changes::announce(
            &mut tx,
            &keymanager::connector_kit::sql::changes::Change::SigningKeys,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    /// Store a new signing key beside the current ones (an algorithm that had none), retiring nothing.
    pub async fn add_signing_key(&self, new: &SigningKeyRecord) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        insert_signing_keys(&mut tx, std::slice::from_ref(new), None).await?;
        keymanager::connector_kit::sql::changes::announce(
            &mut tx,
            &keymanager::connector_kit::sql::changes::Change::SigningKeys,
        )
        .await?;
        tx.commit().await.map_err(db_err)
    }

    /// Take a key out of the JWKS now (it stops signing too): tokens it signed no longer validate. `false` when
    /// there is no such key (or it is gone already).
    pub async fn retire_signing_key(&self, kid: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let at = self.now();
        let n = sqlx::query(
            "UPDATE km_signing_keys SET retired_at = CASE WHEN retired_at IS NULL OR retired_at > $2 THEN $2 \
             ELSE retired_at END, expires_at = $2 WHERE kid = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(kid)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        keymanager::connector_kit::sql::changes::announce(
            &mut tx,
            &keymanager::connector_kit::sql::changes::Change::SigningKeys,
        )
        .await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n == 1)
    }

    /// Delete what has expired: opaque tokens, revocation entries, retired signing keys, login sessions (and their
    /// consents), accepted client assertions, user grants whose tokens have all expired.
    pub async fn purge_expired(&self) -> Result<u64> {
        let at = self.now();
        let mut n = 0;
        for sql in [
            "DELETE FROM km_tokens WHERE expires_at < $1",
            "DELETE FROM km_revocations WHERE expires_at < $1",
            "DELETE FROM km_signing_keys WHERE expires_at IS NOT NULL AND expires_at < $1",
            "DELETE FROM km_login_sessions WHERE expires_at < $1",
            "DELETE FROM km_client_assertions WHERE expires_at < $1",
            "DELETE FROM km_dpop_proofs WHERE expires_at < $1",
            "DELETE FROM km_user_grants WHERE expires_at < $1",
        ] {
            n += sqlx::query(sql)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
        }
        n += sqlx::query("DELETE FROM km_session_consents WHERE sid NOT IN (SELECT sid FROM km_login_sessions)")
            .execute(&self.pool)
            .await
            .map_err(db_err)?
            .rows_affected();
        Ok(n)
    }
}

async fn insert_signing_keys(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &[SigningKeyRecord],
    activates_at: Option<i64>,
) -> Result<()> {
    for key in new {
        sqlx::query(
            "INSERT INTO km_signing_keys (kid, alg, private_key, created_at, retired_at, expires_at, activates_at) \
             VALUES ($1, $2, $3, $4, NULL, NULL, $5)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(STANDARD.encode(&key.private_key))
        .bind(key.created_at)
        .bind(activates_at)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}
