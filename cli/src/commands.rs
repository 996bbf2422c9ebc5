//! The commands that work on applications, keys, tokens and secrets, in-process on the configured database.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use keymanager::api::dto::*;
use keymanager::model::{ClientId, ClientSecret, Grant, KeyType, RevocationRequest, SecretSpec, Token};
use keymanager::service::{grant_types, GenerateKeys, KeyMapping};

use crate::output::{fields, print};
use crate::setup::{self, Runtime};
use crate::Failure;

/// Global options every command sees.
pub(crate) struct Context {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub json: bool,
}

impl Context {
    /// The runtime of a command that changes things: the data directory and database are created if need be.
    async fn runtime(&self) -> Result<Runtime, Failure> {
        self.runtime_for(setup::Access::Write).await
    }

    /// The runtime of a command that only reads: it never creates a data directory or a database.
    async fn read_only_runtime(&self) -> Result<Runtime, Failure> {
        self.runtime_for(setup::Access::ReadOnly).await
    }

    async fn runtime_for(&self, access: setup::Access) -> Result<Runtime, Failure> {
        let config = setup::load_config(self.config.as_deref())?;
        let dir = setup::data_dir(self.data_dir.as_deref(), &config);
        setup::build(&config, &dir, config.server.public_url.clone(), access).await
    }

    /// The runtime for a command: read-only when `reads_only`.
    async fn runtime_if(&self, reads_only: bool) -> Result<Runtime, Failure> {
        if reads_only {
            self.read_only_runtime().await
        } else {
            self.runtime().await
        }
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

/// A secret or token: `KEYMANAGER_CLIENT_SECRET` for secrets when set, else the first line of stdin.
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

const SECRET_ENV: &str = "KEYMANAGER_CLIENT_SECRET";

// ----- key-managers -----

#[derive(Debug, Subcommand)]
pub(crate) enum KeyManagersCommand {
    /// List the configured key managers and what they support.
    List,
}

pub(crate) async fn key_managers(ctx: &Context, KeyManagersCommand::List: KeyManagersCommand) -> Result<(), Failure> {
    let rt = ctx.read_only_runtime().await?;
    let dto = ListDto::new(
        rt.key_managers
            .iter()
            .map(|k| KeyManagerDto {
                name: k.name().to_owned(),
                kind: k.kind().to_owned(),
                capabilities: k.capabilities(),
            })
            .collect(),
    );
    print(ctx.json, &dto, |d| {
        d.list
            .iter()
            .map(|k| format!("{}\t(type {})\n", k.name, k.kind))
            .collect()
    });
    Ok(())
}

// ----- apps -----

#[derive(Debug, Subcommand)]
pub(crate) enum AppsCommand {
    /// Create an application.
    Create {
        /// Its name (unique per owner).
        name: String,
        /// Its owner [default: $USER, else admin].
        #[arg(long)]
        owner: Option<String>,
    },
    /// List applications.
    List,
    /// Delete an application and the clients generated for it.
    Delete {
        /// Application id or name.
        app: String,
    },
}

pub(crate) async fn apps(ctx: &Context, cmd: AppsCommand) -> Result<(), Failure> {
    let rt = ctx.runtime_if(matches!(cmd, AppsCommand::List)).await?;
    match cmd {
        AppsCommand::Create { name, owner } => {
            let owner = owner
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "admin".into());
            let app = ApplicationDto::from(rt.service.create_application(&name, &owner).await?);
            print(ctx.json, &app, |a| {
                fields(&[
                    ("application id", a.application_id.clone()),
                    ("name", a.name.clone()),
                    ("owner", a.owner.clone()),
                ])
            });
        }
        AppsCommand::List => {
            let apps = rt.service.applications().await?;
            let dto = ListDto::new(apps.into_iter().map(ApplicationDto::from).collect());
            print(ctx.json, &dto, |d| {
                d.list
                    .iter()
                    .map(|a| format!("{}\t{}\t{}\n", a.application_id, a.name, a.owner))
                    .collect()
            });
        }
        AppsCommand::Delete { app } => {
            let app = rt.service.resolve_application(&app).await?;
            rt.service.delete_application(&app.id).await?;
            if !ctx.json {
                crate::output::line(&format!("deleted application {} ({})", app.name, app.id));
            }
        }
    }
    Ok(())
}

// ----- keys -----

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
    async fn resolve(&self, rt: &Runtime) -> Result<KeyMapping, Failure> {
        let app = rt.service.resolve_application(&self.app).await?;
        Ok(rt
            .service
            .find_mapping(&app.id, key_type(&self.key_type)?, self.key_manager.as_deref())
            .await?)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate keys: register a client for the application at a key manager. The secret is shown once.
    Generate {
        /// Application id or name.
        #[arg(long)]
        app: String,
        /// The key manager [default: the first configured].
        #[arg(long)]
        key_manager: Option<String>,
        /// production or sandbox (any case).
        #[arg(long)]
        key_type: String,
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
    },
    /// Show an application's keys.
    Show {
        /// Application id or name.
        #[arg(long)]
        app: String,
        /// Only this key type.
        #[arg(long)]
        key_type: Option<String>,
    },
    /// Delete keys (a generated client is deleted at its key manager; a mapped one only unmapped).
    Delete(Which),
    /// Map an existing client to the application (its secret on stdin, or KEYMANAGER_CLIENT_SECRET).
    Map {
        /// Application id or name.
        #[arg(long)]
        app: String,
        /// The key manager [default: the first configured].
        #[arg(long)]
        key_manager: Option<String>,
        /// production or sandbox (any case).
        #[arg(long)]
        key_type: String,
        /// The existing client id.
        #[arg(long)]
        client_id: String,
        /// The client is public: read no secret.
        #[arg(long)]
        public_client: bool,
    },
    /// Replace every secret with one new one, shown once.
    RegenerateSecret(Which),
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
            ("scopes", k.scopes.join(" ")),
            ("origin", k.key_origin.clone()),
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

fn first_key_manager(rt: &Runtime, name: Option<String>) -> Result<String, Failure> {
    name.or_else(|| rt.key_managers.iter().next().map(|k| k.name().to_owned()))
        .ok_or_else(|| Failure::Usage("no key manager is configured".into()))
}

pub(crate) async fn keys(ctx: &Context, cmd: KeysCommand) -> Result<(), Failure> {
    let rt = ctx.runtime_if(matches!(cmd, KeysCommand::Show { .. })).await?;
    match cmd {
        KeysCommand::Generate {
            app,
            key_manager,
            key_type: kt,
            grant_types: grants,
            callback_url,
            scopes,
            validity,
            pkce_mandatory,
            pkce_support_plain,
            public_client,
            generate_token,
        } => {
            let app = rt.service.resolve_application(&app).await?;
            let grants = match list(&grants) {
                g if g.is_empty() => vec!["client_credentials".to_owned()],
                g => g,
            };
            let req = GenerateKeys {
                key_type: key_type(&kt)?,
                key_manager: first_key_manager(&rt, key_manager)?,
                grant_types: grant_types(&grants),
                callback_url,
                scopes: list(&scopes),
                validity_time: validity,
                pkce_mandatory,
                pkce_support_plain,
                public_client,
                additional_properties: Default::default(),
                generate_token,
            };
            let generated = rt.service.generate_keys(&app.id, &req).await?;
            print_key(ctx.json, &KeyDto::from(&generated));
        }
        KeysCommand::Show { app, key_type: only } => {
            let app = rt.service.resolve_application(&app).await?;
            let only = only.as_deref().map(key_type).transpose()?;
            let out: Vec<KeyDto> = rt
                .service
                .keys(&app.id)
                .await?
                .iter()
                .filter(|(m, _)| only.is_none_or(|t| t == m.key_type))
                .map(|(m, c)| KeyDto::listing(m, c.as_ref()))
                .collect();
            if ctx.json {
                print(true, &ListDto::new(out), |_| String::new());
            } else {
                out.iter().for_each(|k| print_key(false, k));
            }
        }
        KeysCommand::Delete(which) => {
            let m = which.resolve(&rt).await?;
            rt.service.delete_keys(&m.application_id, &m.id).await?;
            if !ctx.json {
                crate::output::line(&format!("deleted {} keys from {}", m.key_type, m.key_manager));
            }
        }
        KeysCommand::Map {
            app,
            key_manager,
            key_type: kt,
            client_id,
            public_client,
        } => {
            let app = rt.service.resolve_application(&app).await?;
            let secret = if public_client {
                None
            } else {
                Some(ClientSecret::new(read_secret("client secret", Some(SECRET_ENV))?))
            };
            let km = first_key_manager(&rt, key_manager)?;
            let details = rt
                .service
                .map_keys(&app.id, &km, key_type(&kt)?, &ClientId::new(client_id), secret.as_ref())
                .await?;
            print_key(ctx.json, &KeyDto::from(&details));
        }
        KeysCommand::RegenerateSecret(which) => {
            let m = which.resolve(&rt).await?;
            let client = rt.service.regenerate_secret(&m.application_id, &m.id).await?;
            let dto = RegeneratedDto {
                consumer_key: client.client_id.to_string(),
                consumer_secret: client.client_secret.map(|s| s.expose_secret().to_owned()),
            };
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

// ----- token -----

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

pub(crate) async fn token(ctx: &Context, args: TokenArgs) -> Result<(), Failure> {
    let rt = ctx.runtime().await?;
    let m = args.which.resolve(&rt).await?;
    let (secret, grant) = match args.grant_type.as_str() {
        "client_credentials" => (
            ClientSecret::new(read_secret("client secret", Some(SECRET_ENV))?),
            Grant::ClientCredentials,
        ),
        "password" => {
            let username = args
                .username
                .ok_or_else(|| Failure::Usage("--grant-type password needs --username".into()))?;
            let secret = std::env::var(SECRET_ENV)
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    Failure::Usage(format!(
                        "--grant-type password reads the client secret from {SECRET_ENV}"
                    ))
                })?;
            let password = Token::new(read_secret("password", None)?);
            (ClientSecret::new(secret), Grant::Password { username, password })
        }
        other => {
            return Err(Failure::Usage(format!(
                "--grant-type {other}: use client_credentials or password"
            )))
        }
    };
    let token = rt
        .service
        .generate_token(
            &m.application_id,
            &m.id,
            Some(secret),
            grant,
            list(&args.scopes),
            args.validity,
            None,
        )
        .await?;
    let dto = TokenDto::from(&token);
    print(ctx.json, &dto, |t| t.access_token.clone());
    Ok(())
}

// ----- secrets -----

#[derive(Debug, Subcommand)]
pub(crate) enum SecretsCommand {
    /// List the client's secrets, masked.
    List(Which),
    /// Create a secret; its value is shown once.
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
    Delete {
        #[command(flatten)]
        which: Which,
        /// The secret's id.
        #[arg(long)]
        secret_id: String,
        /// Also revoke the tokens issued with it.
        #[arg(long)]
        revoke_tokens: bool,
    },
}

pub(crate) async fn secrets(ctx: &Context, cmd: SecretsCommand) -> Result<(), Failure> {
    let rt = ctx.runtime_if(matches!(cmd, SecretsCommand::List(_))).await?;
    match cmd {
        SecretsCommand::List(which) => {
            let m = which.resolve(&rt).await?;
            let list = rt.service.secrets(&m.application_id, &m.id).await?;
            let dto = ListDto::new(list.iter().map(SecretDto::from).collect());
            print(ctx.json, &dto, |d| {
                d.list
                    .iter()
                    .map(|s| {
                        format!(
                            "{}\t{}\t{:?}\t{}\n",
                            s.secret_id,
                            s.masked_secret,
                            s.status,
                            s.description.clone().unwrap_or_default()
                        )
                    })
                    .collect()
            });
        }
        SecretsCommand::Create {
            which,
            description,
            expires_in,
        } => {
            let m = which.resolve(&rt).await?;
            let issued = rt
                .service
                .create_secret(
                    &m.application_id,
                    &m.id,
                    &SecretSpec {
                        description,
                        expires_in,
                    },
                )
                .await?;
            let dto = CreatedSecretDto::from(&issued);
            print(ctx.json, &dto, |d| {
                fields(&[
                    ("secret id", d.secret_id.clone()),
                    ("secret", format!("{}  (shown once)", d.secret_value)),
                    ("expires at", d.expires_at.map(|e| e.to_string()).unwrap_or_default()),
                ])
            });
        }
        SecretsCommand::Delete {
            which,
            secret_id,
            revoke_tokens,
        } => {
            let m = which.resolve(&rt).await?;
            rt.service
                .delete_secret(&m.application_id, &m.id, &secret_id, revoke_tokens)
                .await?;
            if !ctx.json {
                crate::output::line(&format!(
                    "deleted secret {secret_id}{}",
                    if revoke_tokens { " and revoked its tokens" } else { "" }
                ));
            }
        }
    }
    Ok(())
}

// ----- introspect / revoke -----

#[derive(Debug, Args)]
pub(crate) struct IntrospectArgs {
    /// The key manager [default: the first configured].
    #[arg(long)]
    key_manager: Option<String>,
}

pub(crate) async fn introspect(ctx: &Context, args: IntrospectArgs) -> Result<(), Failure> {
    let rt = ctx.read_only_runtime().await?;
    let km = rt.key_managers.get(&first_key_manager(&rt, args.key_manager)?)?;
    let token = Token::new(read_secret("token", None)?);
    let info = km.introspect(&token, None).await?;
    // RFC 7662's shape in both modes: the answer's own claims.
    let mut claims = info.claims.clone();
    claims.insert("active".into(), info.active.into());
    crate::output::line(&serde_json::to_string_pretty(&claims).unwrap_or_default());
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The key manager [default: the first configured].
    #[arg(long)]
    key_manager: Option<String>,
    /// The client the token was issued to (its secret in KEYMANAGER_CLIENT_SECRET, none for a public client).
    #[arg(long)]
    client_id: String,
}

pub(crate) async fn revoke(ctx: &Context, args: RevokeArgs) -> Result<(), Failure> {
    let rt = ctx.runtime().await?;
    let km = rt.key_managers.get(&first_key_manager(&rt, args.key_manager)?)?;
    let token = Token::new(read_secret("token", None)?);
    let client_secret = std::env::var(SECRET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new);
    km.revoke_token(&RevocationRequest {
        token,
        token_type_hint: None,
        client_id: ClientId::new(args.client_id),
        client_secret,
    })
    .await?;
    if !ctx.json {
        crate::output::line("revoked");
    }
    Ok(())
}

// ----- validate -----

pub(crate) async fn validate(ctx: &Context) -> Result<(), Failure> {
    use keymanager::validation::{TokenValidator, ValidatorSettings};
    use std::sync::Arc;
    let rt = ctx.read_only_runtime().await?;
    let token = read_secret("token", None)?;
    let validator = TokenValidator::new(&rt.key_managers, ValidatorSettings::default())?
        .with_applications(Arc::new(rt.service.clone()))
        .with_revocation_feed(rt.store.clone());
    validator.poll_revocations().await;
    let principal = validator
        .validate(&token)
        .await
        .map_err(|e| Failure::Refused(format!("the token is not valid: {e}")))?;
    crate::output::line(&serde_json::to_string_pretty(principal.as_ref()).unwrap_or_default());
    Ok(())
}

// ----- users -----

#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Add a user (password on stdin, hashed with argon2id).
    Add {
        /// Login name.
        username: String,
    },
    /// List user names.
    List,
    /// Delete a user.
    Delete {
        /// Login name.
        username: String,
    },
}

pub(crate) async fn users(ctx: &Context, cmd: UsersCommand) -> Result<(), Failure> {
    let rt = ctx.runtime_if(matches!(cmd, UsersCommand::List)).await?;
    let (_, resident) = rt
        .resident
        .as_ref()
        .ok_or_else(|| Failure::Usage("no resident key manager is configured: users belong to it".into()))?;
    let server = resident.server();
    match cmd {
        UsersCommand::Add { username } => {
            let password = read_secret("password", None)?;
            let subject = server.add_user(&username, &password).await?;
            print(
                ctx.json,
                &serde_json::json!({"username": username, "subject": subject}),
                |_| format!("added user {username}"),
            );
        }
        UsersCommand::List => {
            let list = server.store().list_users().await?;
            print(ctx.json, &ListDto::new(list), |d| {
                d.list.iter().map(|u| format!("{u}\n")).collect()
            });
        }
        UsersCommand::Delete { username } => {
            server.store().delete_user(&username).await?;
            if !ctx.json {
                crate::output::line(&format!("deleted user {username}"));
            }
        }
    }
    Ok(())
}
