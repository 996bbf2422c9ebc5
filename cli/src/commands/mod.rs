//! The management commands, one module per noun. Every one is a client of the running server's management API
//! ([`ApiClient`]); only `validate` (the gateway's own view, from the configuration) works locally.

mod admin_tokens;
mod apps;
mod audit;
mod key_managers;
mod keys;
mod login;
mod scopes;
mod secrets;
mod signing_keys;
mod tokens;
mod users;
mod validate;

pub(crate) use admin_tokens::{admin_tokens, AdminTokensCommand};
pub(crate) use apps::{apps, AppsCommand};
pub(crate) use audit::{audit, AuditArgs};
pub(crate) use key_managers::{key_managers, KeyManagersCommand};
pub(crate) use keys::{keys, KeysCommand};
pub(crate) use login::{login, LoginArgs};
pub(crate) use scopes::{scopes, ScopesCommand};
pub(crate) use secrets::{secrets, SecretsCommand};
pub(crate) use signing_keys::{signing_keys, SigningKeysCommand};
pub(crate) use tokens::{introspect, revoke, token, IntrospectArgs, RevokeArgs, TokenArgs};
pub(crate) use users::{users, UsersCommand};
pub(crate) use validate::validate;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::Args;
use keymanager::api::dto::{ApplicationDto, KeyDto, ListDto};
use keymanager::model::KeyType;

use crate::client::{segment, ApiClient, Target};
use crate::setup;
use crate::Failure;

/// Global options every command sees.
pub(crate) struct Context {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub json: bool,
    pub target: Target,
}

impl Context {
    /// The management API of the server this CLI talks to.
    pub fn api(&self) -> Result<ApiClient, Failure> {
        let config = setup::load_config(self.config.as_deref())?;
        let dir = setup::data_dir(self.data_dir.as_deref(), &config);
        ApiClient::new(&self.target, &config, &dir)
    }
}

fn key_type(text: &str) -> Result<KeyType, Failure> {
    text.parse()
        .map_err(|e: keymanager::Error| Failure::Usage(e.to_string()))
}

fn list(text: &Option<String>) -> Vec<String> {
    text.as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A secret or token: `env` when set, else the first line of stdin.
fn read_secret(what: &str, env: Option<&str>) -> Result<String, Failure> {
    if let Some(v) = env.and_then(|name| std::env::var(name).ok()).filter(|v| !v.is_empty()) {
        return Ok(v);
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{what}: ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Usage(format!("cannot read the {what} from stdin: {e}")))?;
    let value = line.trim().to_owned();
    if value.is_empty() {
        return Err(Failure::Usage(format!(
            "no {what} on stdin{}",
            env.map(|e| format!(" (or in {e})")).unwrap_or_default()
        )));
    }
    Ok(value)
}

/// Where a client secret may come from instead of stdin.
const SECRET_ENV: &str = "KEYMANAGER_CLIENT_SECRET";

/// An application by id, or by name when exactly one has it.
async fn application(api: &ApiClient, id_or_name: &str) -> Result<ApplicationDto, Failure> {
    if let Ok(app) = api
        .get::<ApplicationDto>(&format!("/api/applications/{}", segment(id_or_name)))
        .await
    {
        return Ok(app);
    }
    let search = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("query", id_or_name)
        .append_pair("limit", "500")
        .finish();
    let found: Vec<ApplicationDto> = api.get_all(&format!("/api/applications?{search}")).await?;
    let named: Vec<&ApplicationDto> = found.iter().filter(|a| a.name == id_or_name).collect();
    match named.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Failure::Refused(format!("application not found: {id_or_name}"))),
        many => Err(Failure::Refused(format!(
            "{} applications are named `{id_or_name}`; use the application id",
            many.len()
        ))),
    }
}

/// The keys of an application: `--app`, `--key-type`, and `--key-manager` when it has keys of that type in several.
#[derive(Debug, Args)]
pub(crate) struct Which {
    /// Application id or name.
    #[arg(long)]
    app: String,
    /// production or sandbox (any case).
    #[arg(long)]
    key_type: String,
    /// The key manager, when the application has keys of this type in several.
    #[arg(long)]
    key_manager: Option<String>,
}

impl Which {
    /// The application's id and the keys selected.
    async fn resolve(&self, api: &ApiClient) -> Result<(String, KeyDto), Failure> {
        let app = application(api, &self.app).await?;
        let wanted = key_type(&self.key_type)?;
        let keys: ListDto<KeyDto> = api
            .get(&format!(
                "/api/applications/{}/oauth-keys",
                segment(&app.application_id)
            ))
            .await?;
        let mut found: Vec<KeyDto> = keys
            .list
            .into_iter()
            .filter(|k| k.key_type == wanted.as_str())
            .filter(|k| self.key_manager.as_deref().is_none_or(|m| m == k.key_manager))
            .collect();
        match found.len() {
            1 => Ok((app.application_id, found.remove(0))),
            0 => Err(Failure::Refused(format!(
                "application `{}` has no {} keys{}",
                app.name,
                wanted.as_str(),
                self.key_manager
                    .as_deref()
                    .map(|m| format!(" from key manager `{m}`"))
                    .unwrap_or_default()
            ))),
            n => Err(Failure::Usage(format!(
                "application `{}` has {} keys in {n} key managers; choose one with --key-manager",
                app.name,
                wanted.as_str()
            ))),
        }
    }
}

/// `/api/applications/{app}/oauth-keys/{mapping}` and what follows.
fn keys_path(app: &str, key: &KeyDto, rest: &str) -> String {
    format!(
        "/api/applications/{}/oauth-keys/{}{rest}",
        segment(app),
        segment(&key.key_mapping_id)
    )
}
