//! `keymanager secrets`: the client secrets of an application's keys.

use clap::Subcommand;
use keymanager::api::dto::{CreateSecretDto, CreatedSecretDto, ListDto, SecretDto};

use super::{keys_path, Context, Which};
use crate::client::segment;
use crate::output::{fields, line, print, table, time};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum SecretsCommand {
    /// List the client's secrets, masked.
    ///
    /// Example: keymanager secrets list --app orders --key-type production
    List(Which),
    /// Create a secret; its value is shown once.
    ///
    /// Example: keymanager --json secrets create --app orders --key-type production --expires-in 86400 | jq -r .secretValue
    Create {
        #[command(flatten)]
        which: Which,
        /// A description.
        #[arg(long)]
        description: Option<String>,
        /// Seconds until it expires.
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// Delete a secret. Tokens it issued stay valid until they expire, unless --revoke-tokens.
    ///
    /// Example: keymanager secrets delete --app orders --key-type production --secret-id ID --revoke-tokens
    Delete {
        #[command(flatten)]
        which: Which,
        /// The secret's id (base64url: one that begins with `-` is taken as the id, not as an option).
        #[arg(long, allow_hyphen_values = true)]
        secret_id: String,
        /// Also revoke the tokens issued with it.
        #[arg(long)]
        revoke_tokens: bool,
    },
}

pub(crate) async fn secrets(ctx: &Context, cmd: SecretsCommand) -> Result<(), Failure> {
    let api = ctx.api()?;
    match cmd {
        SecretsCommand::List(which) => {
            let (app, key) = which.resolve(&api).await?;
            let list: ListDto<SecretDto> = api.get(&keys_path(&app, &key, "/secrets")).await?;
            print(ctx.json, &list, |d| {
                let rows: Vec<Vec<String>> = d
                    .list
                    .iter()
                    .map(|s| {
                        vec![
                            s.secret_id.clone(),
                            s.masked_secret.clone(),
                            s.status.as_str().to_owned(),
                            time(s.created_time),
                            s.expires_at.map(time).unwrap_or_else(|| "never".into()),
                            s.description.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                table(
                    &["SECRET ID", "SECRET", "STATUS", "CREATED", "EXPIRES", "DESCRIPTION"],
                    &rows,
                )
            });
        }
        SecretsCommand::Create {
            which,
            description,
            expires_in,
        } => {
            let (app, key) = which.resolve(&api).await?;
            let created: CreatedSecretDto = api
                .post(
                    &keys_path(&app, &key, "/secrets"),
                    &CreateSecretDto {
                        description,
                        expires_in,
                    },
                )
                .await?;
            print(ctx.json, &created, |d| {
                fields(&[
                    ("secret id", d.secret_id.clone()),
                    ("secret", format!("{}  (shown once)", d.secret_value)),
                    ("expires", d.expires_at.map(time).unwrap_or_else(|| "never".into())),
                ])
            });
        }
        SecretsCommand::Delete {
            which,
            secret_id,
            revoke_tokens,
        } => {
            let (app, key) = which.resolve(&api).await?;
            let path = keys_path(
                &app,
                &key,
                &format!("/secrets/{}?revokeTokens={revoke_tokens}", segment(&secret_id)),
            );
            api.delete(&path).await?;
            if !ctx.json {
                line(&format!(
                    "deleted secret {secret_id}{}",
                    if revoke_tokens { " and revoked its tokens" } else { "" }
                ));
            }
        }
    }
    Ok(())
}
