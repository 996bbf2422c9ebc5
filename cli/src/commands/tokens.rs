//! `keymanager token`, `introspect` and `revoke`: tokens of an application's keys, through the server.

use clap::Args;
use keymanager::api::dto::{GenerateTokenDto, IntrospectDto, RevokeDto, RevokeTokenDto, TokenDto};

use super::{keys_path, list, read_secret, Context, Which, SECRET_ENV};
use crate::client::segment;
use crate::output::{line, print};
use crate::Failure;

#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    which: Which,
    /// Scopes, comma-separated.
    #[arg(long)]
    scopes: Option<String>,
    /// Lifetime, seconds.
    #[arg(long)]
    validity: Option<u64>,
    /// client_credentials (default: client secret on stdin), or password (for testing: the user's password on
    /// stdin, the client secret in KEYMANAGER_CLIENT_SECRET).
    #[arg(long, default_value = "client_credentials")]
    grant_type: String,
    /// The user, with --grant-type password.
    #[arg(long)]
    username: Option<String>,
}

/// Example: `printf '%s\n' "$SECRET" | keymanager token --app orders --key-type production`
pub(crate) async fn token(ctx: &Context, args: TokenArgs) -> Result<(), Failure> {
    let api = ctx.api()?;
    let (app, key) = args.which.resolve(&api).await?;
    let mut body = GenerateTokenDto {
        scopes: list(&args.scopes).into(),
        validity_period: args.validity,
        ..GenerateTokenDto::default()
    };
    match args.grant_type.as_str() {
        "client_credentials" => {
            if key.bypass_client_credentials {
                return Err(Failure::Usage(
                    "these keys are a public client: client_credentials needs a confidential one".into(),
                ));
            }
            body.consumer_secret = Some(read_secret("client secret", Some(SECRET_ENV))?);
        }
        "password" => {
            let username = args
                .username
                .ok_or_else(|| Failure::Usage("--grant-type password needs --username".into()))?;
            body.consumer_secret = std::env::var(SECRET_ENV).ok().filter(|s| !s.is_empty());
            if body.consumer_secret.is_none() && !key.bypass_client_credentials {
                return Err(Failure::Usage(format!(
                    "--grant-type password reads the client secret from {SECRET_ENV}"
                )));
            }
            body.grant_type = Some("password".into());
            body.username = Some(username);
            body.password = Some(read_secret("password", None)?);
        }
        other => {
            return Err(Failure::Usage(format!(
                "--grant-type {other}: use client_credentials or password"
            )))
        }
    }
    let token: TokenDto = api.post(&keys_path(&app, &key, "/generate-token"), &body).await?;
    print(ctx.json, &token, |t| t.access_token.clone());
    Ok(())
}

/// The application's keys (`--app`, `--key-type`), or a key manager and a raw client id.
#[derive(Debug, Args)]
pub(crate) struct TokenOwner {
    /// Application id or name.
    #[arg(long, requires = "key_type", conflicts_with = "client_id")]
    app: Option<String>,
    /// production or sandbox (any case), with --app.
    #[arg(long, requires = "app")]
    key_type: Option<String>,
    /// The key manager: with --app when the application has keys of this type in several, else where the token
    /// was issued [default: the first configured].
    #[arg(long)]
    key_manager: Option<String>,
    /// A raw client id instead of --app/--key-type.
    #[arg(long)]
    client_id: Option<String>,
}

impl TokenOwner {
    fn which(&self) -> Option<Which> {
        match (&self.app, &self.key_type) {
            (Some(app), Some(kt)) => Some(Which {
                app: app.clone(),
                key_type: kt.clone(),
                key_manager: self.key_manager.clone(),
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct IntrospectArgs {
    #[command(flatten)]
    owner: TokenOwner,
}

/// The key manager to ask: that of the selected keys, else `--key-manager`, else the server's first.
async fn key_manager_for(api: &crate::client::ApiClient, owner: &TokenOwner) -> Result<String, Failure> {
    match owner.which() {
        Some(which) => Ok(which.resolve(api).await?.1.key_manager),
        None => super::keys::key_manager_or_first(api, owner.key_manager.clone()).await,
    }
}

/// Example: `printf '%s\n' "$TOKEN" | keymanager introspect --app orders --key-type production`
pub(crate) async fn introspect(ctx: &Context, args: IntrospectArgs) -> Result<(), Failure> {
    let api = ctx.api()?;
    let km = key_manager_for(&api, &args.owner).await?;
    let token = read_secret("token", None)?;
    let claims: serde_json::Map<String, serde_json::Value> = api
        .post(
            &format!("/api/key-managers/{}/introspect", segment(&km)),
            &IntrospectDto {
                token,
                token_type_hint: None,
            },
        )
        .await?;
    // RFC 7662's shape in both modes: the answer's own claims.
    line(&serde_json::to_string_pretty(&claims).unwrap_or_default());
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    owner: TokenOwner,
}

/// Example: `printf '%s\n' "$TOKEN" | KEYMANAGER_CLIENT_SECRET="$SECRET" keymanager revoke --app orders --key-type production`
pub(crate) async fn revoke(ctx: &Context, args: RevokeArgs) -> Result<(), Failure> {
    let api = ctx.api()?;
    let token = read_secret("token", None)?;
    let secret = std::env::var(SECRET_ENV).ok().filter(|s| !s.is_empty());
    if let Some(which) = args.owner.which() {
        let (app, key) = which.resolve(&api).await?;
        api.post_empty(
            &keys_path(&app, &key, "/revoke-token"),
            &RevokeTokenDto {
                token,
                consumer_secret: secret,
            },
        )
        .await?;
    } else {
        let client_id = args
            .owner
            .client_id
            .clone()
            .ok_or_else(|| Failure::Usage("say whose token it is: --app and --key-type, or --client-id".into()))?;
        let km = key_manager_for(&api, &args.owner).await?;
        api.post_empty(
            &format!("/api/key-managers/{}/revoke", segment(&km)),
            &RevokeDto {
                token,
                client_id,
                client_secret: secret,
                token_type_hint: None,
            },
        )
        .await?;
    }
    if !ctx.json {
        line("revoked");
    }
    Ok(())
}
