//! `keymanager`: the command line and server of the keymanager framework.
//!
//! Exit codes: 0 success, 1 a refused operation (the error is printed), 2 bad usage or configuration.

mod config_cmd;
mod serve;
mod setup;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Hand out and check OAuth2 application keys through any key manager.
#[derive(Debug, Parser)]
#[command(name = "keymanager", version, about)]
struct Cli {
    /// Configuration file; without one, the embedded default (resident key manager on SQLite) is used.
    #[arg(long, global = true, env = "KEYMANAGER_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: the resident authorization server's endpoints.
    Serve(serve::ServeArgs),
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file and list its key managers.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

/// A failure and the exit code it maps to.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad usage or configuration: exit 2.
    Usage(String),
    /// A refused operation: exit 1.
    Refused(String),
}

impl From<keymanager::Error> for Failure {
    fn from(e: keymanager::Error) -> Self {
        match e {
            keymanager::Error::Configuration(c) => Failure::Usage(c.to_string()),
            other => Failure::Refused(other.to_string()),
        }
    }
}

impl From<keymanager::error::ConfigError> for Failure {
    fn from(e: keymanager::error::ConfigError) -> Self {
        Failure::Usage(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(cli.config.as_deref(), args).await,
            Command::Config {
                command: ConfigCommand::Check { file },
            } => config_cmd::check(&file),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Refused(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(1)
        }
    }
}
