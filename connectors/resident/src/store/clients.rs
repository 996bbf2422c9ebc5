//! Clients and their secrets: created, changed and deleted each in one transaction that locks the client first.

use keymanager::connector_kit::sql::changes::{announce, Change};
use keymanager::connector_kit::sql::{col, db_err};
use keymanager::connector_kit::{Error, Result};
use sqlx::any::AnyRow;

use super::*;

impl Store {
    // ----- clients -----

    /// Insert a client and, when given, its first secret, atomically.
    pub async fn insert_client(&self, c: &ClientRecord, first_secret: Option<&SecretRecord>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO km_clients (client_id, name, key_type, grant_types, redirect_uris, scopes, public_client, \
             pkce_required, pkce_allow_plain, access_token_lifetime, refresh_token_lifetime, additional_properties, \
             registration_token_hash, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1)",
        )
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(c.key_type.as_str())
        .bind(serde_json::to_string(&c.grant_types).unwrap_or_default())
        .bind(serde_json::to_string(&c.redirect_uris).unwrap_or_default())
        .bind(serde_json::to_string(&c.scopes).unwrap_or_default())
        .bind(c.public_client as i64)
        .bind(c.pkce.required as i64)
        .bind(c.pkce.allow_plain as i64)
        .bind(stored_seconds(c.access_token_lifetime)?)
        .bind(stored_seconds(c.refresh_token_lifetime)?)
        .bind(serde_json::Value::Object(c.additional_properties.clone()).to_string())
        .bind(c.registration_token_hash.as_deref())
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(s) = first_secret {
            insert_secret_row(&mut tx, s).await?;
        }
        announce(&mut tx, &Change::Client(c.client_id.clone())).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Replace a client's settings; `NotFound` when it does not exist.
    pub async fn update_client(&self, c: &ClientRecord) -> Result<()> {
        let done = sqlx::query(
            "UPDATE km_clients SET name = $2, grant_types = $3, redirect_uris = $4, scopes = $5, public_client = $6, \
             pkce_required = $7, pkce_allow_plain = $8, access_token_lifetime = $9, refresh_token_lifetime = $10, \
             additional_properties = $11, updated_at = $12, version = version + 1 WHERE client_id = $1",
        )
        .bind(&c.client_id)
        .bind(&c.name)
        .bind(serde_json::to_string(&c.grant_types).unwrap_or_default())
        .bind(serde_json::to_string(&c.redirect_uris).unwrap_or_default())
        .bind(serde_json::to_string(&c.scopes).unwrap_or_default())
        .bind(c.public_client as i64)
        .bind(c.pkce.required as i64)
        .bind(c.pkce.allow_plain as i64)
        .bind(stored_seconds(c.access_token_lifetime)?)
        .bind(stored_seconds(c.refresh_token_lifetime)?)
        .bind(serde_json::Value::Object(c.additional_properties.clone()).to_string())
        .bind(c.updated_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("client", &c.client_id));
        }
        self.announce(&Change::Client(c.client_id.clone())).await
    }

    /// Read a client.
    pub async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>> {
        let row = sqlx::query(
            "SELECT client_id, name, key_type, grant_types, redirect_uris, scopes, public_client, pkce_required, \
             pkce_allow_plain, access_token_lifetime, refresh_token_lifetime, additional_properties, \
             registration_token_hash, created_at, updated_at FROM km_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| client_from_row(&r)).transpose()
    }

    /// Whether a client exists.
    pub async fn client_exists(&self, client_id: &str) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM km_clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(row.is_some())
    }

    /// Delete a client with its secrets and record `rule` (revoking its tokens), atomically; `NotFound` when it
    /// does not exist.
    pub async fn delete_client(&self, client_id: &str, rule: &Revoked) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query("DELETE FROM km_clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("client", client_id));
        }
        for table in ["km_client_secrets", "km_tokens"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1"))
                .bind(client_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        insert_revocation(&mut tx, rule, self.now()).await?;
        announce(&mut tx, &Change::Client(client_id.to_owned())).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Set the hash of a client's registration access token.
    pub async fn set_registration_token_hash(&self, client_id: &str, hash: &str) -> Result<()> {
        sqlx::query("UPDATE km_clients SET registration_token_hash = $2 WHERE client_id = $1")
            .bind(client_id)
            .bind(hash)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    // ----- secrets -----

    /// Add a secret unless the client already holds `max` unexpired ones (`LimitExceeded`).
    pub async fn insert_secret(&self, s: &SecretRecord, max: Option<u32>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        lock_client(&mut tx, &s.client_id).await?;
        if let Some(max) = max {
            let row = sqlx::query(
                "SELECT COUNT(*) FROM km_client_secrets WHERE client_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(&s.client_id)
            .bind(self.now())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
            let count: i64 = col(&row, 0)?;
            if count >= i64::from(max) {
                return Err(Error::limit_exceeded(
                    format!(
                        "client {} already has {count} secrets; at most {max} are allowed (max_secrets_per_client). \
                         Delete one first.",
                        s.client_id
                    ),
                    Some(max),
                ));
            }
        }
        insert_secret_row(&mut tx, s).await?;
        announce(&mut tx, &Change::Client(s.client_id.clone())).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Every sealed secret not sealed under `key_id`: `(client_id, secret_id, sealed)`.
    pub async fn sealed_secrets_not_under(&self, key_id: &str) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT client_id, secret_id, sealed FROM km_client_secrets WHERE sealed IS NOT NULL AND sealed NOT LIKE $1 \
             ORDER BY created_at, secret_id",
        )
        .bind(format!("v1.{key_id}.%"))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| Ok((col(r, 0)?, col(r, 1)?, col(r, 2)?))).collect()
    }

    /// Replace a secret's sealed value with `new` only if it still reads `old`; `false` when it changed or is gone.
    pub async fn swap_sealed_secret(&self, client_id: &str, secret_id: &str, old: &str, new: &str) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE km_client_secrets SET sealed = $4 WHERE client_id = $1 AND secret_id = $2 AND sealed = $3",
        )
        .bind(client_id)
        .bind(secret_id)
        .bind(old)
        .bind(new)
        .execute(&self.pool)
        .await
        .map_err(db_err)?
        .rows_affected();
        Ok(n == 1)
    }

    /// One sealed secret per key it is sealed with (the key id is the value's second part): what a node must be
    /// able to open before it serves. `(client_id, secret_id, sealed)`.
    pub async fn sealed_secret_samples(&self) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT client_id, secret_id, sealed FROM km_client_secrets WHERE sealed IS NOT NULL ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut seen: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for r in &rows {
            let (client_id, secret_id, sealed): (String, String, String) = (col(r, 0)?, col(r, 1)?, col(r, 2)?);
            let id = keymanager::connector_kit::SecretBox::key_id_of(&sealed)
                .unwrap_or_default()
                .to_owned();
            if !seen.contains(&id) {
                seen.push(id);
                out.push((client_id, secret_id, sealed));
            }
        }
        Ok(out)
    }

    /// A client's secrets, oldest first.
    pub async fn list_secrets(&self, client_id: &str) -> Result<Vec<SecretRecord>> {
        let rows = sqlx::query(
            "SELECT secret_id, client_id, secret_hash, masked, description, created_at, expires_at, sealed \
             FROM km_client_secrets WHERE client_id = $1 ORDER BY created_at, secret_id",
        )
        .bind(client_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(secret_from_row).collect()
    }

    /// Delete a secret; with `revoke`, also record a rule revoking the tokens it issued, atomically.
    pub async fn delete_secret(&self, client_id: &str, secret_id: &str, revoke: Option<&Revoked>) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let done = sqlx::query("DELETE FROM km_client_secrets WHERE client_id = $1 AND secret_id = $2")
            .bind(client_id)
            .bind(secret_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("secret", secret_id));
        }
        if let Some(r) = revoke {
            insert_revocation(&mut tx, r, self.now()).await?;
        }
        announce(&mut tx, &Change::Client(client_id.to_owned())).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Replace every secret of a client with `new`, atomically.
    pub async fn replace_secrets(&self, new: &SecretRecord) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        lock_client(&mut tx, &new.client_id).await?;
        sqlx::query("DELETE FROM km_client_secrets WHERE client_id = $1")
            .bind(&new.client_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        insert_secret_row(&mut tx, new).await?;
        announce(&mut tx, &Change::Client(new.client_id.clone())).await?;
        tx.commit().await.map_err(db_err)
    }
}

/// Take the client's row lock (PostgreSQL) / the write lock (SQLite); `NotFound` when there is no such client.
async fn lock_client(tx: &mut Tx<'_>, client_id: &str) -> Result<()> {
    let done = sqlx::query("UPDATE km_clients SET version = version + 1 WHERE client_id = $1")
        .bind(client_id)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("client", client_id));
    }
    Ok(())
}

async fn insert_secret_row(tx: &mut Tx<'_>, s: &SecretRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO km_client_secrets (secret_id, client_id, secret_hash, masked, description, created_at, expires_at, \
         sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&s.secret_id)
    .bind(&s.client_id)
    .bind(&s.secret_hash)
    .bind(&s.masked)
    .bind(s.description.as_deref())
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(s.sealed.as_deref())
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A lifetime as the database column holds it (`BIGINT`); one that does not fit is refused, never wrapped.
fn stored_seconds(v: Option<u64>) -> Result<Option<i64>> {
    v.map(|v| i64::try_from(v).map_err(|_| Error::invalid_field("access_token_lifetime", "is out of range")))
        .transpose()
}

fn client_from_row(r: &AnyRow) -> Result<ClientRecord> {
    let text = |i: usize| col::<String>(r, i);
    let num = |i: usize| col::<i64>(r, i);
    let opt = |i: usize| -> Result<Option<u64>> {
        col::<Option<i64>>(r, i)?
            .map(|v| u64::try_from(v).map_err(|_| Error::storage("a stored lifetime is negative")))
            .transpose()
    };
    let key_type: String = text(2)?;
    Ok(ClientRecord {
        client_id: text(0)?,
        name: text(1)?,
        key_type: key_type.parse()?,
        grant_types: json_list(&text(3)?, "grant_types")?,
        redirect_uris: json_list(&text(4)?, "redirect_uris")?,
        scopes: json_list(&text(5)?, "scopes")?,
        public_client: num(6)? != 0,
        pkce: keymanager::connector_kit::model::PkcePolicy {
            required: num(7)? != 0,
            allow_plain: num(8)? != 0,
        },
        access_token_lifetime: opt(9)?,
        refresh_token_lifetime: opt(10)?,
        additional_properties: json_list(&text(11)?, "additional_properties")?,
        registration_token_hash: col(r, 12)?,
        created_at: num(13)?,
        updated_at: num(14)?,
    })
}

fn secret_from_row(r: &AnyRow) -> Result<SecretRecord> {
    Ok(SecretRecord {
        secret_id: col(r, 0)?,
        client_id: col(r, 1)?,
        secret_hash: col(r, 2)?,
        masked: col(r, 3)?,
        description: col(r, 4)?,
        created_at: col(r, 5)?,
        expires_at: col(r, 6)?,
        sealed: col(r, 7)?,
    })
}
