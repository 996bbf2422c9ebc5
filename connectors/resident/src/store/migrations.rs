//! Versioned migrations, embedded per dialect; both dialects build the same tables.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType};

use super::Backend;

const SQLITE: &[(i64, &str, &str)] = &[(1, "resident", include_str!("../../migrations/sqlite/0001_resident.sql"))];
const POSTGRES: &[(i64, &str, &str)] = &[(
    1,
    "resident",
    include_str!("../../migrations/postgres/0001_resident.sql"),
)];

/// The embedded migrations of one dialect.
#[derive(Debug)]
pub(crate) struct Embedded(pub Backend);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let list = match self.0 {
            Backend::Sqlite => SQLITE,
            Backend::Postgres => POSTGRES,
        };
        let migrations = list
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    Cow::Borrowed(*description),
                    MigrationType::Simple,
                    Cow::Borrowed(*sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}
