//! `keymanager key-managers`: what the server has configured, and proposals for new ones.

use clap::Subcommand;
use keymanager::api::dto::{DiscoverDto, DiscoveredDto, KeyManagerDto};

use super::Context;
use crate::output::{print, table};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum KeyManagersCommand {
    /// List the server's key managers and their types.
    ///
    /// Example: keymanager key-managers list
    List,
    /// Read a provider's well-known metadata and propose a key manager for it (a [[key_manager]] table to paste into
    /// the configuration), with the grants, PKCE methods and client authentication it supports. Administrators.
    ///
    /// Example: keymanager key-managers discover https://idp.example.com/realms/acme
    Discover {
        /// The issuer, or its well-known metadata URL.
        url: String,
    },
}

pub(crate) async fn key_managers(ctx: &Context, cmd: KeyManagersCommand) -> Result<(), Failure> {
    let api = ctx.api()?;
    match cmd {
        KeyManagersCommand::List => {
            let all: Vec<KeyManagerDto> = api.get_all("/api/key-managers?limit=500").await?;
            let list = keymanager::api::dto::ListDto::new(all);
            print(ctx.json, &list, |d| {
                let rows: Vec<Vec<String>> = d
                    .list
                    .iter()
                    .map(|k| vec![k.name.clone(), k.kind.clone(), k.issuer.clone()])
                    .collect();
                table(&["NAME", "TYPE", "ISSUER"], &rows)
            });
        }
        KeyManagersCommand::Discover { url } => {
            let found: DiscoveredDto = api.post("/api/key-managers/discover", &DiscoverDto { url }).await?;
            print(ctx.json, &found, |d| {
                let supports = |what: &str, l: &[String]| match l.is_empty() {
                    true => String::new(),
                    false => format!("# {what}: {}\n", l.join(", ")),
                };
                format!(
                    "{}{}{}{}{}",
                    if d.openid {
                        "# an OpenID provider\n"
                    } else {
                        "# an OAuth 2.0 authorization server (RFC 8414)\n"
                    },
                    supports("grant types", &d.grant_types),
                    supports("PKCE methods", &d.code_challenge_methods),
                    supports("client authentication", &d.token_endpoint_auth_methods),
                    d.config_toml
                )
            });
        }
    }
    Ok(())
}
