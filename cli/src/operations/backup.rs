//! `keymanager backup FILE` and `keymanager restore FILE`: the SQLite store as one consistent file, taken while the
//! server serves (SQLite's `VACUUM INTO`, a snapshot of one read transaction) and put back into an empty data
//! directory. A PostgreSQL store is backed up with `pg_dump`; the README says what to keep beside it.

use std::path::{Path, PathBuf};

use keymanager::sql::{self, Dialect};

use crate::commands::Context;
use crate::output::line;
use crate::{setup, Failure};

/// The database file in a data directory.
const DATABASE_FILE: &str = "keymanager.db";

pub(crate) async fn backup(ctx: &Context, file: &Path) -> Result<(), Failure> {
    let config = setup::load_config(ctx.config.as_deref())?;
    let dir = setup::data_dir(ctx.data_dir.as_deref(), &config);
    let source = sqlite_database(config.database.url.as_deref(), &dir, "back up")?;
    if !source.is_file() {
        return Err(Failure::Usage(format!(
            "there is no database to back up at {}",
            source.display()
        )));
    }
    if file.exists() {
        return Err(Failure::Usage(format!(
            "{} exists already: name a new file (a backup never overwrites one)",
            file.display()
        )));
    }
    let partial = partial_path(file);
    let _ = std::fs::remove_file(&partial);
    let (pool, _) = sql::connect(&format!("sqlite://{}", source.display()), Some(1)).await?;
    // One read transaction's snapshot: consistent however many writers the serving node has meanwhile.
    sqlx::query("VACUUM INTO $1")
        .bind(partial.display().to_string())
        .execute(&pool)
        .await
        .map_err(|e| Failure::Refused(format!("cannot write the backup to {}: {e}", partial.display())))?;
    pool.close().await;
    finish(&partial, file)?;
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    tracing::info!(file = %file.display(), bytes = size, "backed up the database");
    line(&format!(
        "backed up {} to {} ({size} bytes). Keep the secret key with it (KEYMANAGER_SECRET_KEY or {}): retrievable \
         secrets and key managers' credentials do not open without it.",
        source.display(),
        file.display(),
        dir.join(keymanager::server_kit::SECRET_KEY_FILE).display()
    ));
    Ok(())
}

pub(crate) async fn restore(ctx: &Context, file: &Path) -> Result<(), Failure> {
    let config = setup::load_config(ctx.config.as_deref())?;
    let dir = setup::data_dir(ctx.data_dir.as_deref(), &config);
    let target = sqlite_database(config.database.url.as_deref(), &dir, "restore")?;
    if std::fs::metadata(&target).is_ok_and(|m| m.len() > 0) {
        return Err(Failure::Usage(format!(
            "{} exists: restore goes into an empty data directory (move the old one away first)",
            target.display()
        )));
    }
    if !file.is_file() {
        return Err(Failure::Usage(format!("no backup at {}", file.display())));
    }
    setup::ensure_data_dir(&dir)?;
    let partial = partial_path(&target);
    let _ = std::fs::remove_file(&partial);
    std::fs::copy(file, &partial)
        .map_err(|e| Failure::Refused(format!("cannot copy {} to {}: {e}", file.display(), partial.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Failure::Refused(format!("cannot make {} private: {e}", partial.display())))?;
    }
    // The copy is checked, never the backup itself (opening a database may write beside it).
    if let Err(e) = check_backup(&partial, file).await {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    finish(&partial, &target)?;
    sql::ensure_private_database_file(&target)?;
    tracing::info!(file = %file.display(), "restored the database");
    line(&format!(
        "restored {} into {}. Start the server with the secret key the backup was taken with; migrations a newer \
         version needs run at start.",
        file.display(),
        target.display()
    ));
    Ok(())
}

/// The SQLite file of the configured database, or a usage error for PostgreSQL (`what` names the operation).
fn sqlite_database(url: Option<&str>, dir: &Path, what: &str) -> Result<PathBuf, Failure> {
    match url {
        None => Ok(dir.join(DATABASE_FILE)),
        Some(url) => match sql::dialect(url)? {
            Dialect::Postgres => Err(Failure::Usage(format!(
                "the database is PostgreSQL: {what} it with PostgreSQL's own tools (pg_dump / pg_restore, see the \
                 README's Backups section), and keep the secret key beside the dump"
            ))),
            Dialect::Sqlite => sql::sqlite_file(url)
                .ok_or_else(|| Failure::Usage(format!("an in-memory database has nothing to {what}"))),
        },
    }
}

/// A backup (its copy at `copy`) must be a whole SQLite database of keymanager's before it goes into place.
async fn check_backup(copy: &Path, file: &Path) -> Result<(), Failure> {
    let not_one = |why: String| Failure::Usage(format!("{} is not a keymanager backup: {why}", file.display()));
    let (pool, _) = sql::connect(&format!("sqlite://{}", copy.display()), Some(1))
        .await
        .map_err(|e| not_one(e.to_string()))?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .map_err(|e| not_one(e.to_string()))?;
    if integrity != "ok" {
        return Err(not_one(format!("SQLite's integrity check says {integrity}")));
    }
    let applied = sql::applied_migrations(&pool).await?;
    pool.close().await;
    let first = keymanager::service::MIGRATIONS.sqlite.first().map(|m| m.0);
    if !applied.iter().any(|(v, _, ok)| Some(*v) == first && *ok) {
        return Err(not_one("it holds no key service tables".into()));
    }
    Ok(())
}

fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    file.with_file_name(name)
}

/// Make `partial` durable and give it its final name.
fn finish(partial: &Path, file: &Path) -> Result<(), Failure> {
    let fail = |e: std::io::Error| Failure::Refused(format!("cannot finish {}: {e}", file.display()));
    std::fs::File::open(partial).and_then(|f| f.sync_all()).map_err(fail)?;
    std::fs::rename(partial, file).map_err(fail)?;
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(fail)?;
    }
    Ok(())
}
