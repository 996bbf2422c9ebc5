//! `keymanager migrate [--check]`: the database's schema migrations. They run at every start, forward only; with
//! `--check` this says what a start of this version would apply, changing nothing, and refuses a database that a
//! newer version has migrated.

use keymanager::sql::{self, MigrationSet};
use serde::Serialize;

use crate::commands::Context;
use crate::output::print;
use crate::{setup, Failure};

/// One component's state.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ComponentDto {
    component: &'static str,
    applied: usize,
    pending: Vec<String>,
    /// Applied versions this binary does not know: a newer version migrated the database.
    unknown: Vec<i64>,
}

/// Every component whose tables may be in the database.
const SETS: [MigrationSet; 3] = [
    keymanager::service::MIGRATIONS,
    keymanager_resident::MIGRATIONS,
    keymanager::sql::registrations::MIGRATIONS,
];

pub(crate) async fn migrate(ctx: &Context, check: bool) -> Result<(), Failure> {
    let config = setup::load_config(ctx.config.as_deref())?;
    let dir = setup::data_dir(ctx.data_dir.as_deref(), &config);
    if !check {
        setup::build(&config, &dir, None, setup::Access::Write).await?;
    }
    let url = match &config.database.url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", dir.join("keymanager.db").display()),
    };
    if url.starts_with("sqlite:") && sql::sqlite_file(&url).is_some_and(|f| !f.is_file()) {
        return Err(Failure::Usage(format!(
            "no database at {}: a first start creates it with every migration",
            keymanager::config::redact_url_password(&url)
        )));
    }
    let (pool, dialect) = sql::connect(&url, Some(1)).await?;
    let applied = sql::applied_migrations(&pool).await?;
    pool.close().await;
    let known: Vec<i64> = SETS
        .iter()
        .flat_map(|s| s.for_dialect(dialect).iter().map(|m| m.0))
        .collect();
    let mut out: Vec<ComponentDto> = Vec::new();
    for set in SETS {
        let list = set.for_dialect(dialect);
        let applied_here = applied
            .iter()
            .filter(|(v, _, ok)| *ok && list.iter().any(|m| m.0 == *v))
            .count();
        // A component with nothing applied is one this database does not use yet (its key manager type is not
        // configured): its tables come with the first key manager that needs them.
        let used = applied_here > 0 || uses(&config, set.component);
        out.push(ComponentDto {
            component: set.component,
            applied: applied_here,
            pending: if used {
                sql::pending_migrations(list, &applied)
                    .into_iter()
                    .map(|(v, d)| format!("{v} {d}"))
                    .collect()
            } else {
                Vec::new()
            },
            unknown: Vec::new(),
        });
    }
    let unknown: Vec<i64> = applied
        .iter()
        .map(|(v, _, _)| *v)
        .filter(|v| !known.contains(v))
        .collect();
    if let Some(first) = out.first_mut() {
        first.unknown = unknown.clone();
    }
    print(ctx.json, &out, |list| {
        list.iter()
            .map(|c| {
                let pending = if c.pending.is_empty() {
                    "nothing to apply".to_owned()
                } else {
                    format!("would apply {}", c.pending.join(", "))
                };
                format!("{:<38} {} applied; {pending}\n", c.component, c.applied)
            })
            .collect()
    });
    if !unknown.is_empty() {
        return Err(Failure::Refused(format!(
            "the database has migration(s) {unknown:?} that this version does not know: a newer keymanager migrated \
             it, and migrations are forward only; run that version (or restore a backup taken before the upgrade)"
        )));
    }
    Ok(())
}

/// Whether the configuration has a key manager that keeps tables of `component`'s.
fn uses(config: &keymanager::config::Config, component: &str) -> bool {
    match component {
        "resident key manager" => config.key_managers.iter().any(|k| k.kind == keymanager_resident::KIND),
        "key service" => true,
        // The registrations' table comes with the first key manager that registers clients (RFC 7591).
        _ => false,
    }
}
