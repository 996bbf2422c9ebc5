//! `keymanager key-managers`: what the server has configured, and proposals for new ones.

use clap::Subcommand;
use keymanager::api::dto::{CreateKeyManagerDto, DiscoverDto, DiscoveredDto, KeyManagerDto, UpdateKeyManagerDto};
use serde_json::{Map, Value};

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
    /// Add a key manager while the server runs (administrators): stored with its secret settings sealed, used at
    /// once on every node. Give secrets in a settings file (JSON object, "-" for stdin), not on the command line.
    ///
    /// Example: keymanager key-managers add acme --type keycloak --setting base_url=https://kc.example.com --setting realm=acme --settings-file secrets.json
    Add {
        /// Its name.
        name: String,
        /// Its connector type: oidc, okta, keycloak, auth0 or entra (`keymanager config reference` lists their settings).
        #[arg(long = "type")]
        kind: String,
        #[command(flatten)]
        settings: SettingsArgs,
        /// Add it disabled (it takes no keys until enabled).
        #[arg(long)]
        disabled: bool,
        /// Allow plain http:// endpoints off loopback.
        #[arg(long)]
        allow_insecure_http: bool,
    },
    /// Change the settings of a key manager added at run time (those given replace; a secret left out keeps its value).
    ///
    /// Example: keymanager key-managers update acme --setting realm=shop
    Update {
        /// Its name.
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Show a key manager and its settings (secrets hidden).
    ///
    /// Example: keymanager key-managers show acme
    Show {
        /// Its name.
        name: String,
    },
    /// Let a disabled key manager take new keys and tokens again.
    ///
    /// Example: keymanager key-managers enable acme
    Enable {
        /// Its name.
        name: String,
    },
    /// Stop a key manager taking new keys and tokens (its mappings stay).
    ///
    /// Example: keymanager key-managers disable acme
    Disable {
        /// Its name.
        name: String,
    },
    /// Remove a key manager added at run time; with --force also while key mappings point to it (they go; the
    /// clients stay at the provider).
    ///
    /// Example: keymanager key-managers remove acme
    Remove {
        /// Its name.
        name: String,
        /// Remove it with its key mappings.
        #[arg(long)]
        force: bool,
    },
}

/// Connector settings from the command line and a file.
#[derive(Debug, clap::Args)]
pub(crate) struct SettingsArgs {
    /// A setting, KEY=VALUE (a JSON value, else text); repeat for more. Not for secrets.
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// A JSON object of settings ("-" for stdin), for secrets.
    #[arg(long)]
    settings_file: Option<std::path::PathBuf>,
}

impl SettingsArgs {
    fn read(&self) -> Result<Map<String, Value>, Failure> {
        let mut out = match &self.settings_file {
            Some(path) => {
                let text = if path.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())
                } else {
                    std::fs::read_to_string(path)
                }
                .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
                match serde_json::from_str(&text) {
                    Ok(Value::Object(m)) => m,
                    _ => {
                        return Err(Failure::Usage(format!(
                            "{} is not a JSON object of settings",
                            path.display()
                        )))
                    }
                }
            }
            None => Map::new(),
        };
        for s in &self.settings {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| Failure::Usage(format!("--setting {s}: expected KEY=VALUE")))?;
            let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
            out.insert(k.to_owned(), value);
        }
        Ok(out)
    }
}

fn show(k: &KeyManagerDto) -> String {
    let mut out = crate::output::fields(&[
        ("name", k.name.clone()),
        ("type", k.kind.clone()),
        ("issuer", k.issuer.clone()),
        ("enabled", k.enabled.to_string()),
        (
            "defined in",
            if k.read_only {
                "the configuration file"
            } else {
                "the store (run time)"
            }
            .into(),
        ),
    ]);
    for (name, v) in k.settings.iter().flatten() {
        out.push_str(&format!("\n  {name} = {v}"));
    }
    out
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
        KeyManagersCommand::Add {
            name,
            kind,
            settings,
            disabled,
            allow_insecure_http,
        } => {
            let body = CreateKeyManagerDto {
                name,
                kind,
                settings: settings.read()?,
                enabled: !disabled,
                allow_insecure_http,
            };
            let made: KeyManagerDto = api.post("/api/key-managers", &body).await?;
            print(ctx.json, &made, show);
        }
        KeyManagersCommand::Update { name, settings } => {
            let body = UpdateKeyManagerDto {
                settings: Some(settings.read()?),
                enabled: None,
            };
            let changed: KeyManagerDto = api.put(&path(&name), &body).await?;
            print(ctx.json, &changed, show);
        }
        KeyManagersCommand::Show { name } => {
            let k: KeyManagerDto = api.get(&path(&name)).await?;
            print(ctx.json, &k, show);
        }
        KeyManagersCommand::Enable { name } => switch(ctx, &api, &name, true).await?,
        KeyManagersCommand::Disable { name } => switch(ctx, &api, &name, false).await?,
        KeyManagersCommand::Remove { name, force } => {
            let at = if force {
                format!("{}?force=true", path(&name))
            } else {
                path(&name)
            };
            api.delete(&at).await?;
            if !ctx.json {
                crate::output::line(&format!("removed key manager {name}"));
            }
        }
    }
    Ok(())
}

fn path(name: &str) -> String {
    format!("/api/key-managers/{}", crate::client::segment(name))
}

async fn switch(ctx: &Context, api: &crate::client::ApiClient, name: &str, enabled: bool) -> Result<(), Failure> {
    let body = UpdateKeyManagerDto {
        settings: None,
        enabled: Some(enabled),
    };
    let changed: KeyManagerDto = api.put(&path(name), &body).await?;
    print(ctx.json, &changed, show);
    Ok(())
}
