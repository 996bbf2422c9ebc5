//! `keymanager key-managers`: what the server has configured.

use clap::Subcommand;
use keymanager::api::dto::{KeyManagerDto, ListDto};

use super::Context;
use crate::output::{print, table};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum KeyManagersCommand {
    /// List the server's key managers and their types.
    ///
    /// Example: keymanager key-managers list
    List,
}

pub(crate) async fn key_managers(ctx: &Context, KeyManagersCommand::List: KeyManagersCommand) -> Result<(), Failure> {
    let list: ListDto<KeyManagerDto> = ctx.api()?.get("/api/key-managers").await?;
    print(ctx.json, &list, |d| {
        let rows: Vec<Vec<String>> = d.list.iter().map(|k| vec![k.name.clone(), k.kind.clone()]).collect();
        table(&["NAME", "TYPE"], &rows)
    });
    Ok(())
}
