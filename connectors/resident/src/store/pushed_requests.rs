//! Pushed authorization requests (RFC 9126): what a client pushed, under the SHA-256 of the `request_uri` it was
//! given, for one client, until it expires or the authorization it asked for is given.

use keymanager::connector_kit::sql::{col, db_err};
use keymanager::connector_kit::Result;

use super::Store;

impl Store {
    /// Keep a pushed request (its parameters as JSON) until `expires_at`; requests already expired go first. A
    /// client holding `limit` live requests already is `Busy`: the table stays bounded.
    pub async fn insert_pushed_request(
        &self,
        request_hash: &str,
        client_id: &str,
        params: &str,
        expires_at: i64,
        limit: u64,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        sqlx::query("DELETE FROM km_pushed_requests WHERE expires_at <= $1")
            .bind(self.now())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let held: i64 = col(
            &sqlx::query("SELECT COUNT(*) FROM km_pushed_requests WHERE client_id = $1")
                .bind(client_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?,
            0,
        )?;
        if u64::try_from(held).unwrap_or(0) >= limit {
            return Err(keymanager::connector_kit::Error::busy(
                format!("client `{client_id}` holds {held} pushed requests; they expire within minutes"),
                std::time::Duration::from_secs(60),
            ));
        }
        sqlx::query(
            "INSERT INTO km_pushed_requests (request_hash, client_id, params, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(request_hash)
        .bind(client_id)
        .bind(params)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    /// The parameters pushed under `request_hash` by `client_id`, while the request lives.
    pub async fn find_pushed_request(&self, request_hash: &str, client_id: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT params FROM km_pushed_requests WHERE request_hash = $1 AND client_id = $2 AND expires_at > $3",
        )
        .bind(request_hash)
        .bind(client_id)
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| col(&r, 0)).transpose()
    }

    /// Use a pushed request up: it cannot start another authorization.
    pub async fn delete_pushed_request(&self, request_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM km_pushed_requests WHERE request_hash = $1")
            .bind(request_hash)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
