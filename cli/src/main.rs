//! `keymanager`: the command line and server of the keymanager framework.
//!
//! `serve` runs the server; every management command (apps, keys, token, secrets, introspect, revoke, users,
//! key-managers) is a client of that server's management API (`--server`, `KEYMANAGER_SERVER`); `config check` and
//! `validate` work locally from the configuration. Secrets and tokens are read from stdin (or
//! `KEYMANAGER_CLIENT_SECRET`), never from an argument. Exit codes: 0 success, 1 a refused operation (the error is
//! printed), 2 bad usage or configuration.

mod client;
mod commands;
mod config_cmd;
mod operations;
mod output;

pub(crate) use keymanager_server::{setup, Failure};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `--version`: the version, the commit and the core features compiled in, on one line
/// ("0.1.0 (commit abc123def456, features gateway,server,service,sql,validation)").
fn long_version() -> &'static str {
    use keymanager_server::build::{COMMIT, FEATURES, VERSION};
    Box::leak(format!("{VERSION} (commit {COMMIT}, features {FEATURES})").into_boxed_str())
}

/// Hand out and check OAuth2 application keys through any key manager.
#[derive(Debug, Parser)]
#[command(name = "keymanager", version, about)]
struct Cli {
    /// Configuration file; without one, the embedded default (resident key manager on SQLite) is used.
    #[arg(long, global = true, help_heading = "Global options", env = "KEYMANAGER_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory [default: the config's [server] data_dir, else ./data].
    #[arg(long, global = true, help_heading = "Global options", env = "KEYMANAGER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Print the management API's JSON shapes instead of text.
    #[arg(long, global = true, help_heading = "Global options")]
    json: bool,
    /// The server the management commands talk to [default: the config's public_url or listen, else
    /// http://127.0.0.1:9443].
    #[arg(long, global = true, help_heading = "Global options", env = "KEYMANAGER_SERVER")]
    server: Option<String>,
    /// A file holding the admin token [default: KEYMANAGER_ADMIN_TOKEN, else the config's admin_token, else
    /// DATA_DIR/admin-token].
    #[arg(long, global = true, help_heading = "Global options")]
    token_file: Option<PathBuf>,
    /// Log format on stderr: text or json.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "KEYMANAGER_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: the management API, health, metrics and the resident key manager's OAuth endpoints.
    ///
    /// Example: keymanager serve --listen 127.0.0.1:9443
    Serve(ServeArgs),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The server's key managers.
    KeyManagers {
        #[command(subcommand)]
        command: commands::KeyManagersCommand,
    },
    /// Applications.
    Apps {
        #[command(subcommand)]
        command: commands::AppsCommand,
    },
    /// An application's keys (OAuth clients).
    Keys {
        #[command(subcommand)]
        command: commands::KeysCommand,
    },
    /// Issue an access token for an application's keys (client secret on stdin).
    ///
    /// Example: printf '%s\n' "$SECRET" | keymanager --json token --app orders --key-type production | jq -r .accessToken
    Token(commands::TokenArgs),
    /// Sign a person in with an application's keys, as a native app does: the authorization code flow with PKCE
    /// through a loopback redirect (RFC 8252), the ID token verified, the tokens printed. A confidential client's
    /// secret is read from KEYMANAGER_CLIENT_SECRET.
    ///
    /// Example: keymanager login --app orders --key-type production --scopes openid,profile
    Login(commands::LoginArgs),
    /// An application's client secrets.
    Secrets {
        #[command(subcommand)]
        command: commands::SecretsCommand,
    },
    /// Introspect a token (read from stdin) at the key manager of an application's keys (or --key-manager).
    ///
    /// Example: printf '%s\n' "$TOKEN" | keymanager introspect --app orders --key-type production
    Introspect(commands::IntrospectArgs),
    /// Revoke a token (read from stdin) as the client holding it (its secret in KEYMANAGER_CLIENT_SECRET).
    ///
    /// Example: printf '%s\n' "$TOKEN" | KEYMANAGER_CLIENT_SECRET="$SECRET" keymanager revoke --app orders --key-type production
    Revoke(commands::RevokeArgs),
    /// Validate a bearer token (read from stdin) as a gateway would, from the configuration, and print its Principal.
    ///
    /// Example: printf '%s\n' "$TOKEN" | keymanager validate
    Validate,
    /// Users of the resident key manager (who sign in on its login page and use the password grant).
    Users {
        #[command(subcommand)]
        command: commands::UsersCommand,
    },
    /// The scopes a key manager knows, and what each means to the people asked to grant it.
    Scopes {
        #[command(subcommand)]
        command: commands::ScopesCommand,
    },
    /// The resident key manager's signing keys: list, rotate (published before they sign), retire (administrators).
    SigningKeys {
        #[command(subcommand)]
        command: commands::SigningKeysCommand,
    },
    /// The management API's named admin tokens.
    AdminTokens {
        #[command(subcommand)]
        command: commands::AdminTokensCommand,
    },
    /// The audit trail of the management API: who changed what, when, from where (administrators only).
    ///
    /// Example: keymanager audit --app orders --since 2026-11-29T00:00:00Z
    Audit(commands::AuditArgs),
    /// Forward auth for gateways in any language (nginx auth_request, Traefik forwardAuth, Envoy ext_authz): a
    /// process that only validates tokens, at /gateway/auth, with the configuration's [[gateway.route]] rules.
    ///
    /// Example: keymanager --config keymanager.toml gateway-auth --listen 127.0.0.1:9444
    GatewayAuth(GatewayAuthArgs),
    /// The secret key that seals retrievable secrets and run-time key managers' credentials: generate, status,
    /// rotate (on the store directly).
    SecretKey {
        #[command(subcommand)]
        command: operations::SecretKeyCommand,
    },
    /// Back up the SQLite database to a new FILE while the server serves (a consistent snapshot). For PostgreSQL use
    /// pg_dump. Keep the secret key with the backup.
    ///
    /// Example: keymanager backup /var/backups/keymanager-$(date +%F).db
    Backup {
        /// The backup file to create (never overwritten).
        file: PathBuf,
    },
    /// Restore a backup into an empty data directory (the server stopped).
    ///
    /// Example: keymanager --data-dir /var/lib/keymanager restore /var/backups/keymanager-2026-12-06.db
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// Apply the database migrations this version needs (a start does too), or with --check say what it would
    /// apply, changing nothing.
    ///
    /// Example: keymanager migrate --check
    Migrate {
        /// Say what would be applied; apply nothing.
        #[arg(long)]
        check: bool,
    },
    /// Print a shell completion script.
    ///
    /// Example: keymanager completions bash > /etc/bash_completion.d/keymanager
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of the program or of one command, or write every page into a directory (one
    /// per command, as git has: keymanager.1, keymanager-apps.1, keymanager-apps-create.1, …).
    ///
    /// Example: keymanager man --dir /usr/local/share/man/man1 ; keymanager man apps create | man -l -
    Man {
        /// The command whose page to print (`apps create`); none: the program's.
        command: Vec<String>,
        /// Write every page into this directory instead.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<PathBuf>,
    },
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// One line per event for people (colour only on a terminal).
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file: every problem at once, or its key managers.
    ///
    /// Example: keymanager config check km.toml   (or: KEYMANAGER_CONFIG=km.toml keymanager --json config check)
    Check {
        /// The file to check [default: --config, else KEYMANAGER_CONFIG].
        file: Option<PathBuf>,
    },
    /// Print the configuration reference (Markdown): every setting of every section and of every key manager type,
    /// with its type, default and meaning, from the descriptions `config check` checks against.
    ///
    /// Example: keymanager config reference > docs/configuration.md
    Reference,
}

/// `keymanager serve`'s arguments.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on [default: the config's [server] listen, else 127.0.0.1:9443].
    #[arg(long)]
    listen: Option<String>,
}

/// `keymanager gateway-auth`'s arguments.
#[derive(Debug, clap::Args)]
struct GatewayAuthArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9444")]
    listen: String,
    /// Validate without a database: follow this key service's revocation events
    /// (`https://KEYS.example/api/gateway/events`), presenting `KEYMANAGER_GATEWAY_TOKEN` (an access token with
    /// `keymanager:gateway`, or an admin token). Only the configuration's key managers are validated; name them as
    /// the key service does.
    #[arg(long, value_name = "URL")]
    events: Option<String>,
}

/// `keymanager man`: one page (the program's, or a command's), or every page into `dir`.
fn man_pages(path: &[String], dir: Option<&std::path::Path>) -> Result<(), Failure> {
    let root = <Cli as clap::CommandFactory>::command();
    let render = |cmd: clap::Command| -> Result<Vec<u8>, Failure> {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .map_err(|e| Failure::Refused(format!("cannot render the manual page: {e}")))?;
        Ok(page)
    };
    if let Some(dir) = dir {
        // Every command, named as git names its pages: the path of subcommand names joined by `-`.
        let mut todo = vec![("keymanager".to_owned(), root)];
        let mut written = 0;
        while let Some((name, cmd)) = todo.pop() {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let sub_name = format!("{name}-{}", sub.get_name());
                todo.push((sub_name.clone(), sub.clone().name(sub_name)));
            }
            let file = dir.join(format!("{name}.1"));
            std::fs::write(&file, render(cmd.name(name.clone()))?)
                .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", file.display())))?;
            written += 1;
        }
        crate::output::line(&format!("wrote {written} manual pages into {}", dir.display()));
        return Ok(());
    }
    let mut cmd = root;
    let mut name = "keymanager".to_owned();
    for part in path {
        let sub = cmd
            .find_subcommand(part)
            .cloned()
            .ok_or_else(|| Failure::Usage(format!("`{}` has no command `{part}`", name.replace('-', " "))))?;
        name = format!("{name}-{part}");
        cmd = sub.name(name.clone());
    }
    crate::output::raw(&render(cmd)?);
    Ok(())
}

/// Logs to stderr, filtered by `RUST_LOG` (default: `info` for `serve`, warnings for the other commands): text
/// with colour only on a terminal, or one JSON object per line.
fn init_logging(serving: bool, format: LogFormat) {
    use std::io::IsTerminal;
    let default = if serving { "info,sqlx=warn" } else { "warn,sqlx=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}

fn main() -> ExitCode {
    // Every file and directory this process creates is its owner's alone (0600 / 0700), whatever path it was
    // given: the data it writes holds signing keys, secret hashes and tokens.
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o077));
    let matches = <Cli as clap::CommandFactory>::command()
        .version(long_version())
        .get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_logging(
        matches!(cli.command, Command::Serve(_) | Command::GatewayAuth(_)),
        cli.log_format,
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let ctx = commands::Context {
        config: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        json: cli.json,
        target: client::Target {
            server: cli.server.clone(),
            token_file: cli.token_file.clone(),
        },
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => {
                keymanager_server::serve::run(cli.config.as_deref(), cli.data_dir.as_deref(), args.listen).await
            }
            Command::GatewayAuth(args) => {
                keymanager_server::gateway_auth::run(
                    cli.config.as_deref(),
                    cli.data_dir.as_deref(),
                    &args.listen,
                    args.events.as_deref(),
                )
                .await
            }
            Command::Config {
                command: ConfigCommand::Check { file },
            } => config_cmd::check(file.as_deref(), cli.config.as_deref(), cli.json),
            Command::Config {
                command: ConfigCommand::Reference,
            } => {
                config_cmd::reference(cli.json);
                Ok(())
            }
            Command::KeyManagers { command } => commands::key_managers(&ctx, command).await,
            Command::Apps { command } => commands::apps(&ctx, command).await,
            Command::Keys { command } => commands::keys(&ctx, command).await,
            Command::Token(args) => commands::token(&ctx, args).await,
            Command::Login(args) => commands::login(&ctx, args).await,
            Command::Secrets { command } => commands::secrets(&ctx, command).await,
            Command::Introspect(args) => commands::introspect(&ctx, args).await,
            Command::Revoke(args) => commands::revoke(&ctx, args).await,
            Command::Validate => commands::validate(&ctx).await,
            Command::Users { command } => commands::users(&ctx, command).await,
            Command::AdminTokens { command } => commands::admin_tokens(&ctx, command).await,
            Command::SigningKeys { command } => commands::signing_keys(&ctx, command).await,
            Command::Scopes { command } => commands::scopes(&ctx, command).await,
            Command::Audit(args) => commands::audit(&ctx, args).await,
            Command::SecretKey { command } => operations::secret_key(&ctx, command).await,
            Command::Backup { file } => operations::backup(&ctx, &file).await,
            Command::Restore { file } => operations::restore(&ctx, &file).await,
            Command::Migrate { check } => operations::migrate(&ctx, check).await,
            Command::Completions { shell } => {
                // Into memory first: the generator panics on a closed pipe, `raw` ignores one.
                let mut script = Vec::new();
                clap_complete::generate(
                    shell,
                    &mut <Cli as clap::CommandFactory>::command(),
                    "keymanager",
                    &mut script,
                );
                crate::output::raw(&script);
                Ok(())
            }
            Command::Man { command, dir } => man_pages(&command, dir.as_deref()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("error: {}", crate::output::printable(&m));
            ExitCode::from(2)
        }
        Err(Failure::Refused(m)) => {
            eprintln!("error: {}", crate::output::printable(&m));
            ExitCode::from(1)
        }
        Err(Failure::Reported) => ExitCode::from(2),
    }
}

#[cfg(test)]
mod parse_tests {
    use clap::Parser;

    /// Secret ids are base64url: one that begins with `-` is the option's value, not another option (a CI run met
    /// one).
    #[test]
    fn a_secret_id_may_begin_with_a_hyphen() {
        let cli = super::Cli::try_parse_from([
            "keymanager",
            "secrets",
            "delete",
            "--app",
            "orders",
            "--key-type",
            "production",
            "--secret-id",
            "-2cfxSHX_BXReD2B",
        ])
        .unwrap();
        assert!(format!("{cli:?}").contains("\"-2cfxSHX_BXReD2B\""), "{cli:?}");
    }
}
