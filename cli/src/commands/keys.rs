//! `keymanager keys`: an application's keys (OAuth clients).

use clap::Subcommand;
use keymanager::api::dto::{
    ApplicationDto, GenerateKeysDto, KeyDto, KeyManagerDto, ListDto, MapKeysDto, RegeneratedDto,
};

use super::{application, key_type, keys_path, list, read_secret, Context, Which, SECRET_ENV};
use crate::client::{segment, ApiClient};
use crate::output::{fields, line, print};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate keys: register a client for the application at a key manager. The secret is shown once.
    ///
    /// Example: keymanager --json keys generate --app orders --key-type production | jq -r .consumerSecret
    Generate {
        #[command(flatten)]
        to: NewKeys,
        /// Grant types, comma-separated [default: client_credentials].
        #[arg(long)]
        grant_types: Option<String>,
        /// Redirect URI.
        #[arg(long)]
        callback_url: Option<String>,
        /// Allowed scopes, comma-separated.
        #[arg(long)]
        scopes: Option<String>,
        /// Lifetime of the first token, seconds.
        #[arg(long)]
        validity: Option<u64>,
        /// Require PKCE.
        #[arg(long)]
        pkce_mandatory: bool,
        /// Allow PKCE method plain.
        #[arg(long)]
        pkce_support_plain: bool,
        /// A public client (no secret).
        #[arg(long)]
        public_client: bool,
        /// Issue a first token too.
        #[arg(long)]
        generate_token: bool,
        /// A key manager's client property, NAME=VALUE (repeatable); VALUE is read as JSON when it is JSON (true,
        /// 3, ["a"], {"keys": […]}), else as text. `keymanager config reference` lists each type's.
        ///
        /// Example: --property dpop_bound_access_tokens=true --property tls_client_auth_san_dns=orders.example
        #[arg(long = "property", value_name = "NAME=VALUE")]
        properties: Vec<String>,
    },
    /// Show an application's keys.
    ///
    /// Example: keymanager keys show --app orders
    Show {
        /// Application id or name.
        #[arg(long)]
        app: String,
        /// Only this key type.
        #[arg(long)]
        key_type: Option<String>,
    },
    /// Delete keys (a generated client is deleted at its key manager; a mapped one only unmapped).
    ///
    /// Example: keymanager keys delete --app orders --key-type sandbox
    Delete(Which),
    /// Map an existing client to the application (its secret on stdin, or KEYMANAGER_CLIENT_SECRET).
    ///
    /// Example: printf '%s\n' "$SECRET" | keymanager keys map --app legacy --key-type production --client-id abc
    Map {
        #[command(flatten)]
        to: NewKeys,
        /// The existing client id.
        #[arg(long)]
        client_id: String,
        /// The client is public: read no secret.
        #[arg(long)]
        public_client: bool,
    },
    /// Replace every secret with one new one, shown once.
    ///
    /// Example: keymanager keys regenerate-secret --app orders --key-type production
    RegenerateSecret(Which),
}

/// Where new keys go: an application, a key type, a key manager.
#[derive(Debug, clap::Args)]
pub(crate) struct NewKeys {
    /// Application id or name.
    #[arg(long)]
    app: String,
    /// production or sandbox (any case).
    #[arg(long)]
    key_type: String,
    /// The key manager [default: the first configured].
    #[arg(long)]
    key_manager: Option<String>,
}

impl NewKeys {
    /// The application, the key type's wire name and the key manager's name.
    async fn resolve(self, api: &ApiClient) -> Result<(ApplicationDto, String, String), Failure> {
        let app = application(api, &self.app).await?;
        let kt = key_type(&self.key_type)?.as_str().to_owned();
        let km = key_manager_or_first(api, self.key_manager).await?;
        Ok((app, kt, km))
    }
}

fn print_key(json: bool, key: &KeyDto) {
    print(json, key, |k| {
        let mut out = fields(&[
            ("key mapping id", k.key_mapping_id.clone()),
            ("key manager", k.key_manager.clone()),
            ("key type", k.key_type.clone()),
            ("consumer key", k.consumer_key.clone()),
            (
                "consumer secret",
                k.consumer_secret
                    .clone()
                    .map(|s| format!("{s}  (shown once)"))
                    .unwrap_or_default(),
            ),
            ("grant types", k.supported_grant_types.join(", ")),
            ("callback url", k.callback_url.clone().unwrap_or_default()),
            ("scopes", k.scopes.to_string()),
            ("origin", k.key_origin.clone()),
            ("state", k.key_state.clone()),
            (
                "access token",
                k.token.as_ref().map(|t| t.access_token.clone()).unwrap_or_default(),
            ),
            ("token error", k.token_error.clone().unwrap_or_default()),
        ]);
        out.push('\n');
        out
    });
}

/// The named key manager, else the server's first.
pub(super) async fn key_manager_or_first(api: &ApiClient, name: Option<String>) -> Result<String, Failure> {
    if let Some(n) = name {
        return Ok(n);
    }
    let all: ListDto<KeyManagerDto> = api.get("/api/key-managers").await?;
    all.list
        .into_iter()
        .next()
        .map(|k| k.name)
        .ok_or_else(|| Failure::Usage("the server has no key manager configured".into()))
}

pub(crate) async fn keys(ctx: &Context, cmd: KeysCommand) -> Result<(), Failure> {
    let api = ctx.api()?;
    match cmd {
        KeysCommand::Generate {
            to,
            grant_types: grants,
            callback_url,
            scopes,
            validity,
            pkce_mandatory,
            pkce_support_plain,
            public_client,
            generate_token,
            properties,
        } => {
            let additional_properties = client_properties(&properties)?;
            let (app, key_type, key_manager) = to.resolve(&api).await?;
            let grants = match list(&grants) {
                g if g.is_empty() => vec!["client_credentials".to_owned()],
                g => g,
            };
            let body = GenerateKeysDto {
                key_type,
                key_manager: Some(key_manager),
                grant_types_to_be_supported: grants,
                callback_url,
                scopes: list(&scopes).into(),
                validity_time: validity,
                pkce_mandatory,
                pkce_support_plain,
                bypass_client_credentials: public_client,
                additional_properties,
                generate_token,
            };
            let path = format!("/api/applications/{}/generate-keys", segment(&app.application_id));
            let key: KeyDto = api.post(&path, &body).await?;
            print_key(ctx.json, &key);
        }
        KeysCommand::Show { app, key_type: only } => {
            let app = application(&api, &app).await?;
            let only = only.as_deref().map(key_type).transpose()?;
            let all: ListDto<KeyDto> = api
                .get(&format!(
                    "/api/applications/{}/oauth-keys",
                    segment(&app.application_id)
                ))
                .await?;
            let shown: Vec<KeyDto> = all
                .list
                .into_iter()
                .filter(|k| only.is_none_or(|t| t.as_str() == k.key_type))
                .collect();
            if ctx.json {
                print(true, &ListDto::new(shown), |_| String::new());
            } else if shown.is_empty() {
                line(&format!("application {} has no keys yet", app.name));
            } else {
                shown.iter().for_each(|k| print_key(false, k));
            }
        }
        KeysCommand::Delete(which) => {
            let (app, key) = which.resolve(&api).await?;
            api.delete(&keys_path(&app, &key, "")).await?;
            if !ctx.json {
                line(&format!("deleted {} keys from {}", key.key_type, key.key_manager));
            }
        }
        KeysCommand::Map {
            to,
            client_id,
            public_client,
        } => {
            let (app, key_type, key_manager) = to.resolve(&api).await?;
            let consumer_secret = if public_client {
                None
            } else {
                Some(read_secret("client secret", Some(SECRET_ENV))?)
            };
            let body = MapKeysDto {
                consumer_key: client_id,
                consumer_secret,
                key_manager: Some(key_manager),
                key_type,
            };
            let path = format!("/api/applications/{}/map-keys", segment(&app.application_id));
            let key: KeyDto = api.post(&path, &body).await?;
            print_key(ctx.json, &key);
        }
        KeysCommand::RegenerateSecret(which) => {
            let (app, key) = which.resolve(&api).await?;
            let dto: RegeneratedDto = api
                .post(&keys_path(&app, &key, "/regenerate-secret"), &serde_json::json!({}))
                .await?;
            print(ctx.json, &dto, |d| {
                fields(&[
                    ("consumer key", d.consumer_key.clone()),
                    (
                        "consumer secret",
                        d.consumer_secret
                            .clone()
                            .map(|s| format!("{s}  (shown once)"))
                            .unwrap_or_default(),
                    ),
                ])
            });
        }
    }
    Ok(())
}

/// `--property NAME=VALUE` options as a client's additional properties: VALUE as JSON when it reads as JSON, else as
/// text; a property given twice or without `=` is a usage error.
fn client_properties(given: &[String]) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    let mut out = serde_json::Map::new();
    for p in given {
        let (name, value) = p
            .split_once('=')
            .filter(|(n, _)| !n.trim().is_empty())
            .ok_or_else(|| Failure::Usage(format!("--property {p}: write NAME=VALUE")))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        if out.insert(name.trim().to_owned(), value).is_some() {
            return Err(Failure::Usage(format!("--property {}: given twice", name.trim())));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_read_json_values_or_text() {
        let got = client_properties(&[
            "dpop_bound_access_tokens=true".into(),
            "tls_client_auth_san_dns=orders.example".into(),
            "token_exchange_audiences=[\"https://a.example\"]".into(),
        ])
        .unwrap();
        assert_eq!(got["dpop_bound_access_tokens"], serde_json::json!(true));
        assert_eq!(got["tls_client_auth_san_dns"], "orders.example");
        assert_eq!(
            got["token_exchange_audiences"],
            serde_json::json!(["https://a.example"])
        );
        assert!(client_properties(&["no-equals".into()]).is_err());
        assert!(client_properties(&["=x".into()]).is_err());
        assert!(client_properties(&["a=1".into(), "a=2".into()]).is_err());
    }
}
