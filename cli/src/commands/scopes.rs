//! `keymanager scopes`: the scopes a key manager knows, and what each means to the people asked to grant it (the
//! description its consent page shows).

use clap::Subcommand;
use keymanager::api::dto::{ListDto, ScopeDto};

use super::Context;
use crate::client::segment;
use crate::output::{fields, line, print, table};
use crate::Failure;

/// The key manager the scope commands default to: the embedded default's.
const DEFAULT_KEY_MANAGER: &str = "Resident Key Manager";

#[derive(Debug, Subcommand)]
pub(crate) enum ScopesCommand {
    /// List a key manager's scopes with their descriptions (every page).
    ///
    /// Example: keymanager scopes list --key-manager "Resident Key Manager"
    List {
        /// The key manager [default: Resident Key Manager].
        #[arg(long)]
        key_manager: Option<String>,
    },
    /// Register a scope and what it lets an application do, in words people read on the consent page
    /// (administrators).
    ///
    /// Example: keymanager scopes add orders:read --description "Read your orders"
    Add {
        /// The scope token (RFC 6749 §3.3).
        name: String,
        /// What it lets an application do.
        #[arg(long)]
        description: Option<String>,
        /// A short name for it.
        #[arg(long)]
        display_name: Option<String>,
        /// The key manager [default: Resident Key Manager].
        #[arg(long)]
        key_manager: Option<String>,
    },
    /// Remove a scope (administrators). To change a description, remove the scope and add it again.
    ///
    /// Example: keymanager scopes remove orders:read
    Remove {
        /// The scope token.
        name: String,
        /// The key manager [default: Resident Key Manager].
        #[arg(long)]
        key_manager: Option<String>,
    },
}

fn scopes_path(key_manager: Option<&str>) -> String {
    format!(
        "/api/key-managers/{}/scopes",
        segment(key_manager.unwrap_or(DEFAULT_KEY_MANAGER))
    )
}

pub(crate) async fn scopes(ctx: &Context, cmd: ScopesCommand) -> Result<(), Failure> {
    let api = ctx.api()?;
    match cmd {
        ScopesCommand::List { key_manager } => {
            let all: Vec<ScopeDto> = api
                .get_all(&format!("{}?limit=500", scopes_path(key_manager.as_deref())))
                .await?;
            let list = ListDto::new(all);
            print(ctx.json, &list, |d| {
                let rows: Vec<Vec<String>> = d
                    .list
                    .iter()
                    .map(|s| vec![s.name.clone(), s.description.clone().unwrap_or_default()])
                    .collect();
                table(&["SCOPE", "DESCRIPTION"], &rows)
            });
        }
        ScopesCommand::Add {
            name,
            description,
            display_name,
            key_manager,
        } => {
            let body = ScopeDto {
                name,
                description,
                display_name,
            };
            let made: ScopeDto = api.post(&scopes_path(key_manager.as_deref()), &body).await?;
            print(ctx.json, &made, |s| {
                fields(&[
                    ("scope", s.name.clone()),
                    ("description", s.description.clone().unwrap_or_default()),
                ])
            });
        }
        ScopesCommand::Remove { name, key_manager } => {
            api.delete(&format!("{}/{}", scopes_path(key_manager.as_deref()), segment(&name)))
                .await?;
            if !ctx.json {
                line(&format!("removed scope {name}"));
            }
        }
    }
    Ok(())
}
