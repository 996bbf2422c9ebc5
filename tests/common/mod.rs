//! Shared by the core's integration tests.
#![allow(dead_code)]

#[path = "../support/missing.rs"]
pub mod missing;

pub mod openapi;

/// A fresh schema on the PostgreSQL of `KEYMANAGER_TEST_POSTGRES_URL` and the URL that selects it; `None` (the test
/// skips, saying so) when the variable is not set.
pub async fn postgres_schema(prefix: &str) -> Option<String> {
    let base = missing::postgres_base()?;
    sqlx::any::install_default_drivers();
    let schema = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let pool = sqlx::AnyPool::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}
