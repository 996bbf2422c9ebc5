//! `keymanager serve`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use keymanager::registry::BuildContext;
use keymanager_resident::{AdminToken, ResidentFactory};
use secrecy::ExposeSecret;

use crate::{setup, Failure};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on [default: the config's [server] listen, else 127.0.0.1:9443].
    #[arg(long)]
    listen: Option<String>,
    /// Directory for the SQLite database and the admin token [default: the config's [server] data_dir, else ./data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub(crate) async fn run(config_file: Option<&Path>, args: ServeArgs) -> Result<(), Failure> {
    init_logging();
    let config = setup::load_config(config_file)?;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::load(cert, key)?),
        (None, None) => None,
        _ => {
            return Err(Failure::Usage(
                "[server] tls_cert and tls_key go together: set both or neither".into(),
            ))
        }
    };
    let listen = args
        .listen
        .or(config.server.listen.clone())
        .unwrap_or_else(|| setup::DEFAULT_LISTEN.to_owned());
    let data_dir = args
        .data_dir
        .or(config.server.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("data"));
    setup::ensure_data_dir(&data_dir)?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| Failure::Usage(format!("cannot listen on {listen}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::Refused(format!("cannot read the bound address: {e}")))?;
    let public_url = config
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{}://{bound}", if tls.is_some() { "https" } else { "http" }))
        .trim_end_matches('/')
        .to_owned();
    let database_url = match &config.database.url {
        Some(url) => url.clone(),
        None => setup::default_database_url(&data_dir)?,
    };
    let (admin, admin_note) = match &config.server.admin_token {
        Some(t) => (AdminToken::new(t.expose_secret()), "from the configuration".to_owned()),
        None => {
            let (token, path, created) = setup::admin_token_file(&data_dir)?;
            let verb = if created { "generated into" } else { "read from" };
            (AdminToken::new(&token), format!("{verb} {}", path.display()))
        }
    };
    let ctx = BuildContext {
        database_url: Some(database_url),
        database_max_connections: config.database.max_connections,
        public_url: Some(public_url.clone()),
        data_dir: Some(data_dir.clone()),
        http: None,
    };
    let resident_config = config
        .key_managers
        .iter()
        .find(|k| k.kind == "resident")
        .ok_or_else(|| Failure::Usage("no key manager of type \"resident\" is configured: nothing to serve".into()))?;
    let resident = ResidentFactory.build_resident(resident_config, &ctx).await?;
    let server = resident.server().clone();
    let app = keymanager_resident::router(server.clone(), admin);

    let purge_store = server.store().clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(600));
        loop {
            every.tick().await;
            match purge_store.purge_expired().await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired tokens, revocations and keys"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purge failed"),
            }
        }
    });

    let scheme = if tls.is_some() { "https" } else { "http" };
    let banner = format!(
        "  key manager: {name} (issuer {issuer})\n  admin token: {admin_note}\n  discovery:   \
         {public_url}/.well-known/oauth-authorization-server\nkeymanager {version} listening on {scheme}://{bound}\n",
        name = resident_config.name,
        issuer = server.settings().issuer,
        version = env!("CARGO_PKG_VERSION"),
    );
    // The banner must never stop the server: a closed stdout (a supervisor that went away) is ignored.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|_| out.flush());
    }
    let served = match tls {
        Some(config) => {
            let listener = crate::tls::TlsListener::new(listener, config)
                .map_err(|e| Failure::Refused(format!("cannot start TLS: {e}")))?;
            axum::serve(listener, app).with_graceful_shutdown(shutdown()).await
        }
        None => axum::serve(listener, app).with_graceful_shutdown(shutdown()).await,
    };
    served.map_err(|e| Failure::Refused(format!("server failed: {e}")))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
