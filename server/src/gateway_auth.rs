//! Forward auth for gateways in any language: `/gateway/auth` on `keymanager serve`, and `keymanager gateway-auth`,
//! a process that only validates (no management API, no OAuth endpoints, nothing written).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keymanager::api::health::{ReadinessCheck, StoreCheck};
use keymanager::config::Config;
use keymanager::forward_auth::ForwardAuth;
use keymanager::sql::changes::{Change, Subscriber};
use keymanager::validation::{TokenValidator, ValidatorSettings};

use crate::{http_server, setup, Failure};

/// The validator gateways are answered with: every configured key manager, the configured leeway, application
/// lookups, the store's revocation feed (polled in the background) and its record of DPoP proofs (shared by every
/// node).
pub fn validator(config: &Config, rt: &setup::Runtime) -> Result<Arc<TokenValidator>, Failure> {
    let mut settings = ValidatorSettings::default();
    if let Some(s) = config.gateway.leeway_seconds {
        settings.leeway = Duration::from_secs(s);
    }
    let validator = Arc::new(
        TokenValidator::new(&rt.key_managers, settings)?
            .with_applications(Arc::new(rt.service.clone()))
            .with_revocation_feed(rt.store.clone())
            .with_proof_log(Arc::new(rt.service.clone())),
    );
    validator.spawn_revocation_poller();
    setup::follow_signing_keys(rt, &validator);
    Ok(validator)
}

/// The `/gateway/auth` routes, and the validator behind them (for the change listener).
pub fn router(config: &Config, rt: &setup::Runtime) -> Result<(axum::Router, Arc<TokenValidator>), Failure> {
    let validator = validator(config, rt)?;
    let router = ForwardAuth::new(validator.clone(), &config.gateway)?.router();
    Ok((router, validator))
}

/// A subscriber that polls a validator's revocation feeds when a revocation is announced (or may have been missed).
pub fn on_revocation(validator: Arc<TokenValidator>) -> Subscriber {
    Arc::new(move |c: &Change| {
        if matches!(c, Change::Revocation | Change::CatchUp) {
            let v = validator.clone();
            tokio::spawn(async move { v.poll_revocations().await });
        }
    })
}

/// The key service of a process that only validates, loaded with the key managers added at run time, when their
/// sealed settings can be opened here (`KEYMANAGER_SECRET_KEY` or `DATA_DIR/secret-key`; none is created). `None`,
/// said in the log, when there is no key: then only the configuration's key managers are validated.
pub async fn runtime_key_managers(
    rt: &setup::Runtime,
    data_dir: &Path,
) -> Result<Option<keymanager::service::KeyService>, Failure> {
    let Some(sealing) = keymanager::server_kit::SecretBox::load_existing(Some(data_dir))? else {
        tracing::warn!(
            "no secret key (KEYMANAGER_SECRET_KEY or DATA_DIR/secret-key): key managers added at run time are not \
             validated here"
        );
        return Ok(None);
    };
    let sealing = Arc::new(sealing);
    let service = rt
        .service
        .clone()
        .with_key_manager_builder(setup::key_manager_builder(rt, sealing.clone()));
    setup::check_secret_key(rt, &service, &sealing).await?;
    service.reload_key_managers().await?;
    Ok(Some(service))
}

/// The environment variable that carries the credential `gateway-auth --events` presents.
pub const GATEWAY_TOKEN_ENV: &str = "KEYMANAGER_GATEWAY_TOKEN";

/// `keymanager gateway-auth --listen ADDR [--events URL]`: forward auth and health only; with `events`, without a
/// database (see [`run_following`]).
pub async fn run(
    config_file: Option<&Path>,
    data_dir: Option<&Path>,
    listen: &str,
    events: Option<&str>,
) -> Result<(), Failure> {
    let config = setup::load_config(config_file)?;
    let Some(proxy) = config.gateway.proxy else {
        return Err(Failure::Usage(
            "gateway-auth needs to know which proxy asks: set [gateway] proxy = \"nginx\", \"traefik\" or \"envoy\""
                .into(),
        ));
    };
    if let Some(events) = events {
        return run_following(&config, listen, events).await;
    }
    let data_dir = setup::data_dir(data_dir, &config);
    let rt = setup::build(&config, &data_dir, None, setup::Access::ReadOnly).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::Usage(format!("cannot listen on {listen}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::Refused(format!("cannot read the bound address: {e}")))?;
    let checks: Vec<Arc<dyn ReadinessCheck>> = vec![Arc::new(StoreCheck(rt.store.clone()))];
    let (auth, validator) = router(&config, &rt)?;
    let mut subscribers = vec![on_revocation(validator.clone())];
    let runtime_key_managers = match runtime_key_managers(&rt, &data_dir).await? {
        Some(service) => {
            validator.follow_key_managers(service.watch_key_managers());
            service.spawn_key_manager_poller(keymanager::service::key_managers::POLL_INTERVAL);
            subscribers.push(setup::on_key_manager_change(service));
            "followed"
        }
        None => "not followed (no secret key)",
    };
    if let Some((_, resident)) = &rt.resident {
        // Rotated and retired signing keys apply here at once (push), or within a poll (SQLite).
        let server = resident.server().clone();
        subscribers.push(Arc::new(move |c: &keymanager::sql::changes::Change| server.apply(c)));
    }
    if keymanager::sql::changes::spawn_listener(&rt.database_url, subscribers).is_none() {
        if let Some((_, resident)) = &rt.resident {
            resident.server().spawn_signing_key_poller(setup::SIGNING_KEY_POLL);
        }
    }
    let banner = format!(
        "  forward auth: http://{bound}/gateway/auth (proxy {}, {} route rule(s), uncovered paths: {:?})\n  run-time key managers: {runtime_key_managers}",
        proxy.as_str(),
        config.gateway.route.len(),
        config.gateway.default,
    );
    serve(&config, listener, auth, checks, &banner).await;
    Ok(())
}

/// Ready once the revocation events are caught up and while the stream is not silent.
struct EventsCheck(Arc<TokenValidator>);

#[async_trait::async_trait]
impl ReadinessCheck for EventsCheck {
    fn name(&self) -> String {
        "revocation events".into()
    }

    async fn check(&self) -> Result<(), String> {
        match self.0.events_caught_up() {
            true => Ok(()),
            false => Err("not caught up with the key service's revocation events".into()),
        }
    }
}

/// `gateway-auth --events URL`: a gateway that shares no database with the key service. The configuration's key
/// managers are built without one (the resident key manager lives in the key service's database: name it here as
/// an `oidc` key manager with its issuer); revocations arrive from the key service's event stream, and until it has
/// been caught up — or while it is silent — every token is refused (503), never accepted on a guess.
pub async fn run_following(config: &Config, listen: &str, events: &str) -> Result<(), Failure> {
    let url = url::Url::parse(events)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| Failure::Usage(format!("--events must be an http(s) URL, not `{events}`")))?;
    let credential = std::env::var(GATEWAY_TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Failure::Usage(format!(
                "--events needs {GATEWAY_TOKEN_ENV}: an access token with keymanager:gateway, or an admin token"
            ))
        })?;
    if let Some(km) = config.key_managers.iter().find(|k| k.kind == keymanager_resident::KIND) {
        return Err(Failure::Usage(format!(
            "key manager `{}`: gateway-auth --events has no database, and the resident key manager lives in the key \
             service's; configure it here as type = \"oidc\" with the key service's issuer",
            km.name
        )));
    }
    let ctx = keymanager::gateway_kit::BuildContext {
        database_url: None,
        database_max_connections: None,
        public_url: None,
        listen_url: None,
        data_dir: None,
        http: None,
        egress: keymanager::server_kit::Egress::from_setting(config.server.allow_private_fetches),
        client_certificates: false,
    };
    let key_managers = setup::registry().build(config, &ctx).await?;
    let mut settings = ValidatorSettings::default();
    if let Some(s) = config.gateway.leeway_seconds {
        settings.leeway = Duration::from_secs(s);
    }
    // DPoP proofs are recorded at the key service, so each is used once across every gateway node.
    let proofs = keymanager::validation::RemoteProofLog::beside_events(&url, credential.clone())?;
    let validator = Arc::new(TokenValidator::new(&key_managers, settings)?.with_proof_log(Arc::new(proofs)));
    let _follower = validator.follow_events(url.clone(), credential);
    validator.spawn_revocation_poller();
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::Usage(format!("cannot listen on {listen}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::Refused(format!("cannot read the bound address: {e}")))?;
    let checks: Vec<Arc<dyn ReadinessCheck>> = vec![Arc::new(EventsCheck(validator.clone()))];
    let auth = ForwardAuth::new(validator.clone(), &config.gateway)?.router();
    let banner = format!(
        "  forward auth: http://{bound}/gateway/auth ({} route rule(s), uncovered paths: {:?})\n  revocation events: {url} (no database)",
        config.gateway.route.len(),
        config.gateway.default,
    );
    serve(config, listener, auth, checks, &banner).await;
    Ok(())
}

/// Serve forward auth and health on `listener` until shutdown, after printing `banner` and the listening line.
async fn serve(
    config: &Config,
    listener: tokio::net::TcpListener,
    auth: axum::Router,
    checks: Vec<Arc<dyn ReadinessCheck>>,
    banner: &str,
) {
    let app = auth
        .merge(keymanager::api::health::router(checks, crate::process_metrics::BUILD))
        .layer(axum::middleware::from_fn(crate::observe::observe));
    if let Ok(bound) = listener.local_addr() {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{banner}\nkeymanager {} gateway-auth listening on http://{bound}",
            env!("CARGO_PKG_VERSION")
        )
        .and_then(|_| out.flush());
    }
    http_server::serve(
        listener,
        app,
        http_server::Limits::from_config(&config.server),
        http_server::shutdown(),
    )
    .await;
}
