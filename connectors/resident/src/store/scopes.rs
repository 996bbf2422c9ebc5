//! Scopes the server knows.

use keymanager::connector_kit::sql::{col, db_err};
use keymanager::connector_kit::{Error, Result};

use super::*;

impl Store {
    // ----- scopes -----

    /// Create a scope; `Conflict` when it exists.
    pub async fn insert_scope(&self, scope: &keymanager::connector_kit::model::Scope) -> Result<()> {
        let res =
            sqlx::query("INSERT INTO km_scopes (name, description, display_name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(&scope.name)
                .bind(scope.description.as_deref())
                .bind(scope.display_name.as_deref())
                .bind(self.now())
                .execute(&self.pool)
                .await;
        res.map(|_| ())
            .map_err(|e| sql::conflict_or(e, || format!("scope `{}` exists already", scope.name)))
    }

    /// Every scope, by name.
    pub async fn list_scopes(&self) -> Result<Vec<keymanager::connector_kit::model::Scope>> {
        let rows = sqlx::query("SELECT name, description, display_name FROM km_scopes ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(keymanager::connector_kit::model::Scope {
                    name: col(r, 0)?,
                    description: col(r, 1)?,
                    display_name: col(r, 2)?,
                })
            })
            .collect()
    }

    /// Delete a scope; `NotFound` when it does not exist.
    pub async fn delete_scope(&self, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM km_scopes WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("scope", name));
        }
        Ok(())
    }
}
