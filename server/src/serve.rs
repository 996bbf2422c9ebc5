//! `keymanager serve`: the management API and, when a resident key manager is configured, its OAuth endpoints.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keymanager_resident::AdminToken;

use keymanager::api::health::{ReadinessCheck, StoreCheck};
use keymanager::service::admin_tokens::{self, AdminTokens};

use crate::{http_server, setup, Failure};

/// Serve until SIGINT or SIGTERM: the configuration `config_file` (else the embedded default), the data directory
/// `data_dir` (else the configuration's, else `./data`), listening on `listen` (else `[server] listen`, else
/// `127.0.0.1:9443`). What `keymanager serve` runs; an application may run it too.
pub async fn run(config_file: Option<&Path>, data_dir: Option<&Path>, listen: Option<String>) -> Result<(), Failure> {
    crate::process_metrics::mark_start();
    let config = setup::load_config(config_file)?;
    let tls = crate::tls::load(&config.server)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listen = listen
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
    // Listening on every address (0.0.0.0, [::]) names no address a client can use: this host's loopback stands in
    // until [server] public_url says which (a container's usual case).
    let reachable = match bound.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, bound.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, bound.port()))
        }
        _ => bound,
    };
    if reachable != bound && config.server.public_url.is_none() {
        tracing::warn!(
            listen = %bound,
            public_url = %format!("{scheme}://{reachable}"),
            "listening on every address without [server] public_url: the issuer and the links the server gives are \
             this loopback address; set public_url to the address clients use"
        );
    }
    let public_url = config
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{reachable}"))
        .trim_end_matches('/')
        .to_owned();
    let Built {
        router: app,
        mut banner,
    } = app(&config, &data_dir, &public_url, &format!("{scheme}://{reachable}")).await?;
    banner.push(format!(
        "keymanager {} listening on {scheme}://{bound}",
        env!("CARGO_PKG_VERSION")
    ));
    // The banner must never stop the server: a closed stdout (a supervisor that went away) is ignored.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out
            .write_all((banner.join("\n") + "\n").as_bytes())
            .and_then(|_| out.flush());
    }
    let limits = http_server::Limits::from_config(&config.server);
    let app = app
        .layer(axum::middleware::from_fn(move |req, next| {
            http_server::request_timeout(limits.request_timeout, req, next)
        }))
        .layer(axum::middleware::from_fn(crate::observe::observe));
    match tls {
        Some(tls) => {
            let listener = crate::tls::TlsListener::new(listener, tls)
                .map_err(|e| Failure::Refused(format!("cannot start TLS: {e}")))?;
            http_server::serve(listener, app, limits, http_server::shutdown()).await
        }
        None => http_server::serve(listener, app, limits, http_server::shutdown()).await,
    }
    Ok(())
}

/// What [`app`] builds: the routes, and the lines `keymanager serve` prints about them.
pub struct Built {
    /// Every route `keymanager serve` answers (the management API, health, metrics unless they have a listener of
    /// their own, the portal, forward auth, the resident's OAuth endpoints), without the request timeout and access
    /// log layers `run` adds: an application that embeds them adds its own.
    pub router: axum::Router,
    /// What is served where, one line each.
    pub banner: Vec<String>,
}

/// Build everything `keymanager serve` serves from `config`, with its state in `data_dir`, as an axum `Router` an
/// application can merge into its own and serve itself. `public_url` is the address clients use (the resident's
/// issuer); `listen_url` an address this process itself answers on. Background work (admin-token and key-manager
/// reloads, signing-key changes, the audit purge, a metrics listener of its own) is spawned on the current Tokio
/// runtime.
pub async fn app(
    config: &keymanager::config::Config,
    data_dir: &Path,
    public_url: &str,
    listen_url: &str,
) -> Result<Built, Failure> {
    let public_url = public_url.to_owned();
    let data_dir = data_dir.to_path_buf();
    let runtime = setup::build(config, &data_dir, Some(listen_url.to_owned()), setup::Access::Write).await?;
    // Named admin tokens, kept hashed in the key service's store; the first one is generated into the data
    // directory on first start (or imported from it, for a data directory made before named tokens).
    let tokens = AdminTokens::load_with_clock(
        runtime.store.pool().clone(),
        config.server.admin_token.as_ref(),
        keymanager::service::ApplicationStore::clock(runtime.store.as_ref()),
    )
    .await?;
    let admin_note = if config.server.admin_token.is_some() {
        "from the configuration (plus any named admin tokens in the store)".to_owned()
    } else if tokens.is_empty().await? {
        let (token, path, created) = setup::admin_token_file(&data_dir)?;
        tokens.insert(admin_tokens::INITIAL, &token).await?;
        let verb = if created { "generated into" } else { "imported from" };
        format!("`{}` {verb} {}", admin_tokens::INITIAL, path.display())
    } else {
        let file = data_dir.join("admin-token");
        if file.is_file() {
            format!(
                "named admin tokens in the store (`keymanager admin-tokens list`); the first is in {}",
                file.display()
            )
        } else {
            // Another node made the store: its first token is in that node's data directory, not here.
            "named admin tokens in the shared store (`keymanager admin-tokens list`); the first was written into \
             the data directory of the node that created the store"
                .to_owned()
        }
    };
    tokens.spawn_reloader();
    let admin = {
        let tokens = tokens.clone();
        AdminToken::from_check(move |t| tokens.verify(t))
    };
    let verifier = {
        let tokens = tokens.clone();
        Arc::new(move |t: &str| tokens.verify(t)) as keymanager::api::AdminVerifier
    };
    // Key managers added at run time: built by the same registry, their secret settings sealed under the secret
    // key (KEYMANAGER_SECRET_KEY or DATA_DIR/secret-key), loaded now and again whenever a node announces a change.
    let sealing = Arc::new(keymanager::server_kit::SecretBox::load(Some(&data_dir))?);
    let builder = setup::key_manager_builder(&runtime, sealing.clone());
    let service = runtime
        .service
        .clone()
        .with_admin_tokens(tokens.clone())
        .with_key_manager_builder(builder);
    setup::check_secret_key(&runtime, &service, &sealing).await?;
    service.reload_key_managers().await?;
    let identity = api_identity(config, &runtime)?;
    let identity_validator = identity.as_ref().map(|i| i.validator.clone());
    let identity_names: Vec<String> = identity.as_ref().map(|i| i.names.clone()).unwrap_or_default();
    let callers = match &identity {
        Some(i) => format!("admin tokens and access tokens of {}", i.names.join(", ")),
        None => "admin tokens only".to_owned(),
    };
    spawn_audit_purge(&service, config);
    let reloadable = service.clone();
    let api = keymanager::api::router_with(
        service,
        keymanager::api::ApiAuth {
            admin: verifier,
            identity: identity.map(|i| i.api),
            write_quota: Some(keymanager::api::quota::QuotaSettings {
                burst: config
                    .server
                    .api_write_burst
                    .unwrap_or(keymanager::api::quota::WRITE_BURST),
                per_second: config
                    .server
                    .api_writes_per_second
                    .unwrap_or(keymanager::api::quota::WRITES_PER_SECOND),
            }),
        },
    );
    let mut app = api.clone();
    if config.portal.enabled == Some(true) && runtime.resident.is_none() {
        return Err(Failure::Usage(
            "[portal] enabled needs a resident key manager (people sign in to the portal through it)".into(),
        ));
    }
    let mut lines = vec![
        format!("  management API: {public_url}/api (openapi: {public_url}/api/openapi.json)"),
        format!("  callers:     {callers}"),
    ];
    if let Some((name, resident)) = &runtime.resident {
        let server = resident.server().clone();
        let audit = keymanager_resident::RegistrationAudit {
            sink: Arc::new(runtime.service.clone()),
            key_manager: name.clone(),
        };
        let oauth = keymanager_resident::router_audited(server.clone(), admin, Some(audit));
        app = oauth.clone().merge(app);
        lines.push(format!("  key manager: {name} (issuer {})", server.settings().issuer));
        if config.portal.enabled != Some(false) {
            let client = crate::portal::client(&server, &data_dir, &public_url).await?;
            let push = server.settings().require_pushed_authorization_requests;
            let mut providers = vec![crate::portal::Provider::resident(name, client, oauth, push)];
            let http = keymanager::http::HttpClient::new(keymanager::http::HttpPolicy {
                request_timeout: Duration::from_secs(15),
                ..keymanager::http::HttpPolicy::default()
            })
            .map_err(|e| Failure::Refused(format!("cannot start the HTTP client: {e}")))?
            .with_metrics_label("portal");
            for sign_in in &config.portal.sign_in {
                if !identity_names.contains(&sign_in.key_manager) {
                    return Err(Failure::Usage(format!(
                        "[portal] sign_in `{}` must be in [server] api_identity too: the management API accepts its \
                         tokens only then",
                        sign_in.key_manager
                    )));
                }
                let issuer = runtime.key_managers.get(&sign_in.key_manager)?.token_profile().issuer;
                providers.push(crate::portal::Provider::external(sign_in, &issuer, &http).await?);
            }
            app = app.merge(crate::portal::router(
                api.clone(),
                providers,
                &public_url,
                http,
                sealing.clone(),
            ));
            lines.push(format!("  portal:      {public_url}/portal"));
        }
        server.spawn_scheduled_rotation();
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
    // Forward auth for gateways in any language.
    let (forward_auth, gateway_validator) = crate::gateway_auth::router(config, &runtime)?;
    // It answers for the key managers added at run time too, and forgets disabled and removed ones.
    gateway_validator.follow_key_managers(reloadable.watch_key_managers());
    reloadable.spawn_key_manager_poller(keymanager::service::key_managers::POLL_INTERVAL);
    app = app.merge(forward_auth);
    // Push from the other nodes on the same PostgreSQL store (polling stays the fallback).
    let mut subscribers = vec![crate::gateway_auth::on_revocation(gateway_validator)];
    if let Some(v) = &identity_validator {
        subscribers.push(crate::gateway_auth::on_revocation(v.clone()));
    }
    {
        let tokens = tokens.clone();
        subscribers.push(Arc::new(move |c: &keymanager::sql::changes::Change| {
            use keymanager::sql::changes::Change;
            if matches!(c, Change::AdminTokens | Change::CatchUp) {
                let tokens = tokens.clone();
                tokio::spawn(async move {
                    if let Err(e) = tokens.reload().await {
                        tracing::warn!(error = %e, "cannot reload the admin tokens after a change");
                    }
                });
            }
        }));
    }
    if let Some((_, resident)) = &runtime.resident {
        let server = resident.server().clone();
        subscribers.push(Arc::new(move |c: &keymanager::sql::changes::Change| server.apply(c)));
    }
    subscribers.push(setup::on_key_manager_change(reloadable.clone()));
    if keymanager::sql::changes::spawn_listener(&runtime.database_url, subscribers).is_some() {
        lines.push("  changes:     pushed between nodes (PostgreSQL LISTEN/NOTIFY), polled as a fallback".into());
    } else if let Some((_, resident)) = &runtime.resident {
        // SQLite: other processes on the file (gateway-auth, another node) rotate keys too.
        resident.server().spawn_signing_key_poller(setup::SIGNING_KEY_POLL);
    }
    lines.push(match config.gateway.proxy {
        Some(proxy) => format!(
            "  forward auth: {public_url}/gateway/auth (proxy {}, {} route rule(s))",
            proxy.as_str(),
            config.gateway.route.len()
        ),
        None => "  forward auth: off (set [gateway] proxy to nginx, traefik or envoy)".into(),
    });
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    // Health: public, for orchestrators and load balancers.
    let mut checks: Vec<Arc<dyn ReadinessCheck>> = vec![Arc::new(StoreCheck(runtime.store.clone()))];
    if let Some((name, resident)) = &runtime.resident {
        checks.push(Arc::new(ResidentCheck {
            name: name.clone(),
            server: resident.server().clone(),
        }));
    }
    app = app.merge(keymanager::api::health::router(checks, crate::process_metrics::BUILD));
    lines.push(format!(
        "  health:      {public_url}/health/live, {public_url}/health/ready"
    ));
    // Metrics: on the main address, or on one of their own.
    if config.server.metrics != Some(false) {
        let handle = crate::metrics::install().map_err(Failure::Refused)?;
        let pools = Pools {
            key_service: runtime.store.pool().clone(),
            resident: runtime
                .resident
                .as_ref()
                .map(|(_, r)| r.server().store().pool().clone()),
        };
        let metrics_app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let (handle, pools) = (handle.clone(), pools.clone());
                async move {
                    pools.sample();
                    let mut text = handle.render();
                    text.push_str(&crate::process_metrics::render());
                    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
                }
            }),
        );
        match &config.server.metrics_listen {
            Some(addr) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| Failure::Usage(format!("cannot listen on metrics_listen {addr}: {e}")))?;
                lines.push(format!("  metrics:     http://{addr}/metrics"));
                let limits = http_server::Limits::from_config(&config.server);
                tokio::spawn(http_server::serve(
                    listener,
                    metrics_app,
                    limits,
                    http_server::shutdown(),
                ));
            }
            None => {
                lines.push(format!("  metrics:     {public_url}/metrics"));
                app = app.merge(metrics_app);
            }
        }
    }
    lines.push(format!("  admin token: {admin_note}"));
    Ok(Built {
        router: app,
        banner: lines,
    })
}

/// The resident key manager is ready: its store answers and a signing key is loaded.
struct ResidentCheck {
    name: String,
    server: Arc<keymanager_resident::ResidentServer>,
}

#[async_trait::async_trait]
impl ReadinessCheck for ResidentCheck {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn check(&self) -> Result<(), String> {
        self.server.ready().await.map_err(|e| e.detail())
    }
}

/// The store pools, sampled into gauges when `/metrics` is scraped.
#[derive(Clone)]
struct Pools {
    key_service: sqlx::AnyPool,
    resident: Option<sqlx::AnyPool>,
}

impl Pools {
    fn sample(&self) {
        crate::metrics::store_pool("key_service", &self.key_service);
        if let Some(p) = &self.resident {
            crate::metrics::store_pool("resident", p);
        }
    }
}

/// The management API's callers by access token: who they may come from, and the validator that checks them.
struct Identity {
    api: keymanager::api::access::ApiIdentity,
    names: Vec<String>,
    validator: Arc<keymanager::validation::TokenValidator>,
}

/// The key managers whose access tokens the management API accepts: `[server] api_identity`, else the resident
/// key manager when one is configured; `None` for admin tokens only.
fn api_identity(config: &keymanager::config::Config, runtime: &setup::Runtime) -> Result<Option<Identity>, Failure> {
    let names: Vec<String> = match &config.server.api_identity {
        Some(list) => list.clone(),
        None => runtime.resident.iter().map(|(name, _)| name.clone()).collect(),
    };
    if names.is_empty() {
        return Ok(None);
    }
    let only = runtime.key_managers.only(&names)?;
    let validator = keymanager::validation::TokenValidator::new(&only, Default::default())?
        .with_revocation_feed(runtime.store.clone());
    let validator = Arc::new(validator);
    validator.spawn_revocation_poller();
    setup::follow_signing_keys(runtime, &validator);
    Ok(Some(Identity {
        api: keymanager::api::access::ApiIdentity::new(validator.clone(), names.clone()),
        names,
        validator,
    }))
}

/// Drop audit records past `[server] audit_retention_days`, now and then every hour.
fn spawn_audit_purge(service: &keymanager::service::KeyService, config: &keymanager::config::Config) {
    let days = config
        .server
        .audit_retention_days
        .unwrap_or(keymanager::config::DEFAULT_AUDIT_RETENTION_DAYS);
    let retention = Duration::from_secs(u64::from(days) * 86_400);
    let service = service.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            match service.purge_audit(retention).await {
                Ok(n) if n > 0 => tracing::info!(records = n, days, "purged audit records past their retention"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging the audit trail failed; retrying in an hour"),
            }
        }
    });
}
