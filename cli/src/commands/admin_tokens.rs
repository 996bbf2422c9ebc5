//! `keymanager admin-tokens`: the management API's named admin tokens.

use clap::Subcommand;
use keymanager::api::dto::{CreateAdminTokenDto, CreatedAdminTokenDto, ListDto};
use keymanager::service::admin_tokens::AdminTokenInfo;

use super::Context;
use crate::client::segment;
use crate::output::{fields, line, print, table, time};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum AdminTokensCommand {
    /// Create a named admin token; it is shown once.
    ///
    /// Example: keymanager --json admin-tokens create ci | jq -r .token
    Create {
        /// Its name: 1 to 64 letters, digits, `.`, `_` or `-`.
        name: String,
    },
    /// List the admin tokens (names, creation, last use; never the tokens).
    ///
    /// Example: keymanager admin-tokens list
    List,
    /// Revoke an admin token (not the last one).
    ///
    /// Example: keymanager admin-tokens revoke initial
    Revoke {
        /// Its name.
        name: String,
    },
}

pub(crate) async fn admin_tokens(ctx: &Context, cmd: AdminTokensCommand) -> Result<(), Failure> {
    let api = ctx.api()?;
    match cmd {
        AdminTokensCommand::Create { name } => {
            let created: CreatedAdminTokenDto = api.post("/api/admin-tokens", &CreateAdminTokenDto { name }).await?;
            print(ctx.json, &created, |c| {
                fields(&[
                    ("name", c.name.clone()),
                    ("token", format!("{}  (shown once)", c.token)),
                ])
            });
        }
        AdminTokensCommand::List => {
            let list: ListDto<AdminTokenInfo> = api.get("/api/admin-tokens").await?;
            print(ctx.json, &list, |d| {
                let rows: Vec<Vec<String>> = d
                    .list
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            time(t.created_time),
                            t.last_used_time.map(time).unwrap_or_else(|| "never".into()),
                        ]
                    })
                    .collect();
                table(&["NAME", "CREATED", "LAST USED"], &rows)
            });
        }
        AdminTokensCommand::Revoke { name } => {
            api.delete(&format!("/api/admin-tokens/{}", segment(&name))).await?;
            if !ctx.json {
                line(&format!("revoked admin token {name}"));
            }
        }
    }
    Ok(())
}
