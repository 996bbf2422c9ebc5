//! `keymanager serve`: the management API and, when a resident key manager is configured, its OAuth endpoints.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use keymanager_resident::AdminToken;
use secrecy::ExposeSecret;

use crate::{http_server, setup, Failure};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on [default: the config's [server] listen, else 127.0.0.1:9443].
    #[arg(long)]
    listen: Option<String>,
}

pub(crate) async fn run(config_file: Option<&Path>, data_dir: Option<&Path>, args: ServeArgs) -> Result<(), Failure> {
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
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listen = args
        .listen
        .or(config.server.listen.clone())
        .unwrap_or_else(|| setup::DEFAULT_LISTEN.to_owned());
    let data_dir = setup::data_dir(data_dir, &config);
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
        .unwrap_or_else(|| format!("{scheme}://{bound}"))
        .trim_end_matches('/')
        .to_owned();
    let (admin, admin_note) = match &config.server.admin_token {
        Some(t) => (AdminToken::new(t.expose_secret()), "from the configuration".to_owned()),
        None => {
            let (token, path, created) = setup::admin_token_file(&data_dir)?;
            let verb = if created { "generated into" } else { "read from" };
            (AdminToken::new(&token), format!("{verb} {}", path.display()))
        }
    };
    let runtime = setup::build(
        &config,
        &data_dir,
        Some(format!("{scheme}://{bound}")),
        setup::Access::Write,
    )
    .await?;
    let verifier = {
        let admin = admin.clone();
        Arc::new(move |t: &str| admin.verify(t)) as keymanager::api::AdminVerifier
    };
    let mut app = keymanager::api::router(runtime.service.clone(), verifier);
    let mut lines = vec![format!(
        "  management API: {public_url}/api (openapi: {public_url}/api/openapi.json)"
    )];
    if let Some((name, resident)) = &runtime.resident {
        let server = resident.server().clone();
        app = keymanager_resident::router(server.clone(), admin).merge(app);
        lines.push(format!("  key manager: {name} (issuer {})", server.settings().issuer));
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
        lines.push(format!(
            "  discovery:   {public_url}/.well-known/oauth-authorization-server"
        ));
    }
    lines.push(format!("  admin token: {admin_note}"));
    lines.push(format!(
        "keymanager {} listening on {scheme}://{bound}",
        env!("CARGO_PKG_VERSION")
    ));
    // The banner must never stop the server: a closed stdout (a supervisor that went away) is ignored.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out
            .write_all((lines.join("\n") + "\n").as_bytes())
            .and_then(|_| out.flush());
    }
    let limits = http_server::Limits::from_config(&config.server);
    let app = app.layer(axum::middleware::from_fn(move |req, next| {
        http_server::request_timeout(limits.request_timeout, req, next)
    }));
    match tls {
        Some(config) => {
            let listener = crate::tls::TlsListener::new(listener, config)
                .map_err(|e| Failure::Refused(format!("cannot start TLS: {e}")))?;
            http_server::serve(listener, app, limits, shutdown()).await
        }
        None => http_server::serve(listener, app, limits, shutdown()).await,
    }
    Ok(())
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
