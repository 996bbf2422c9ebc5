//! `keymanager login`: a person signs in with an application's keys, as a native app does (RFC 8252): the
//! authorization code flow with PKCE S256, the redirect caught on a loopback address (§7.3, a free port unless
//! `--port` pins one), the code exchanged, the ID token verified (signature against the provider's JWKS, `iss`,
//! `aud`, `exp`, `nonce`, `at_hash`), and the tokens printed. The provider's endpoints come from its OpenID discovery
//! document; the flow is `openidconnect`'s, its requests sent through the core HTTP kit.

use std::collections::HashMap;
use std::time::Duration;

use axum::response::IntoResponse;
use clap::Args;
use keymanager::api::dto::{KeyDto, KeyManagerDto, ListDto};
use keymanager::http::{HttpClient, HttpPolicy, Idempotency};
use keymanager::oauth::KitClient;
use openidconnect::core::{CoreClient, CoreResponseType};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde::Serialize;
use tokio::sync::mpsc;

use super::{list, Context, Which, SECRET_ENV};
use crate::output::print;
use crate::Failure;

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    #[command(flatten)]
    which: Which,
    /// Scopes, comma-separated.
    #[arg(long, default_value = "openid")]
    scopes: String,
    /// The loopback port the redirect comes back to [default: a free one]. Pin it for a provider that compares the
    /// registered redirect URI exactly, port included.
    #[arg(long)]
    port: Option<u16>,
    /// The path of the redirect URI.
    #[arg(long, default_value = "/callback")]
    redirect_path: String,
    /// How long to wait for the sign-in, seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Only print the URL to open; do not try to open a browser.
    #[arg(long)]
    no_browser: bool,
}

/// What `--json` prints: the token answer and the verified ID token's claims.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginDto {
    access_token: String,
    token_type: String,
    validity_time: Option<u64>,
    token_scopes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token_claims: Option<serde_json::Value>,
}

/// Example: `keymanager login --app orders --key-type production --scopes openid,profile`
pub(crate) async fn login(ctx: &Context, args: LoginArgs) -> Result<(), Failure> {
    let api = ctx.api()?;
    let (_, key) = args.which.resolve(&api).await?;
    let managers: ListDto<KeyManagerDto> = api.get("/api/key-managers").await?;
    let manager = managers
        .list
        .iter()
        .find(|m| m.name == key.key_manager)
        .ok_or_else(|| Failure::Refused(format!("the server has no key manager `{}`", key.key_manager)))?;
    let secret = client_secret(&key)?;
    let http = HttpClient::new(HttpPolicy {
        request_timeout: Duration::from_secs(15),
        ..HttpPolicy::default()
    })?;
    let metadata = keymanager::oauth::discovery::discover_openid(&http, &manager.issuer)
        .await
        .map_err(|e| {
            Failure::Refused(format!(
                "key manager `{}` (issuer {}) has no usable OpenID provider metadata: {}",
                manager.name,
                manager.issuer,
                keymanager::error::chain(&e)
            ))
        })?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port.unwrap_or(0)))
        .await
        .map_err(|e| Failure::Refused(format!("cannot listen on 127.0.0.1 for the redirect: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::Refused(format!("cannot listen on 127.0.0.1 for the redirect: {e}")))?
        .port();
    if !args.redirect_path.starts_with('/') {
        return Err(Failure::Usage("--redirect-path must begin with /".into()));
    }
    let redirect = format!("http://127.0.0.1:{port}{}", args.redirect_path);
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(key.consumer_key.clone()),
        secret.map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.clone()).map_err(|e| Failure::Usage(e.to_string()))?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let scopes = list(&Some(args.scopes.clone()));
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scopes(scopes.iter().filter(|s| *s != "openid").cloned().map(Scope::new))
        .set_pkce_challenge(challenge)
        .url();
    eprintln!(
        "Sign in at this address:\n  {url}\nWaiting up to {} s for the redirect to {redirect} …",
        args.timeout
    );
    if !args.no_browser {
        open_browser(url.as_str());
    }
    let answer = wait_for_redirect(listener, &args.redirect_path, Duration::from_secs(args.timeout)).await?;
    if let Some(error) = answer.get("error") {
        return Err(Failure::Refused(format!(
            "the key manager refused the sign-in: {error}{}",
            answer
                .get("error_description")
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        )));
    }
    let state_ok = answer.get("state").is_some_and(|s| {
        aws_lc_rs::constant_time::verify_slices_are_equal(s.as_bytes(), state.secret().as_bytes()).is_ok()
    });
    if !state_ok {
        return Err(Failure::Refused(
            "the redirect's state is not the one sent: not this sign-in's answer".into(),
        ));
    }
    // RFC 9207: a server that names itself must name the issuer this flow began with.
    if let Some(iss) = answer.get("iss") {
        if iss.trim_end_matches('/') != manager.issuer.trim_end_matches('/') {
            return Err(Failure::Refused(format!(
                "the redirect names issuer `{iss}`, not `{}` (RFC 9207)",
                manager.issuer
            )));
        }
    }
    let code = answer
        .get("code")
        .ok_or_else(|| Failure::Refused("the redirect carries no code".into()))?;
    let token = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|e| Failure::Refused(format!("the provider has no token endpoint: {e}")))?
        .set_pkce_verifier(verifier)
        .request_async(&KitClient::new(&http, Idempotency::NonIdempotent))
        .await
        .map_err(|e| Failure::Refused(format!("the code exchange failed: {}", exchange_error(e))))?;
    let claims = match token.id_token() {
        Some(id_token) => {
            let verifier = client.id_token_verifier();
            let claims = id_token
                .claims(&verifier, &nonce)
                .map_err(|e| Failure::Refused(format!("the ID token does not verify: {e}")))?;
            if let Some(expected) = claims.access_token_hash() {
                let alg = id_token
                    .signing_alg()
                    .map_err(|e| Failure::Refused(format!("the ID token does not verify: {e}")))?;
                let key = id_token
                    .signing_key(&verifier)
                    .map_err(|e| Failure::Refused(format!("the ID token does not verify: {e}")))?;
                let actual = AccessTokenHash::from_token(token.access_token(), alg, key)
                    .map_err(|e| Failure::Refused(format!("the ID token does not verify: {e}")))?;
                if actual != *expected {
                    return Err(Failure::Refused(
                        "the ID token's at_hash does not match the access token".into(),
                    ));
                }
            }
            // Every claim as the provider sent it (the typed claims keep only those OpenID Connect Core names).
            Some(verified_payload(&id_token.to_string())?)
        }
        None if scopes.iter().any(|s| s == "openid") => {
            return Err(Failure::Refused(
                "the provider answered no ID token although openid was asked for".into(),
            ))
        }
        None => None,
    };
    let out = LoginDto {
        access_token: token.access_token().secret().clone(),
        token_type: token.token_type().as_ref().to_owned(),
        validity_time: token.expires_in().map(|d| d.as_secs()),
        token_scopes: token
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or(scopes),
        refresh_token: token.refresh_token().map(|r| r.secret().clone()),
        id_token: token.id_token().map(|t| t.to_string()),
        id_token_claims: claims,
    };
    print(ctx.json, &out, |o| {
        let who = o
            .id_token_claims
            .as_ref()
            .and_then(|c| c.get("sub"))
            .and_then(|s| s.as_str())
            .map(|s| format!("Signed in as {s} at {}\n", manager.issuer))
            .unwrap_or_default();
        format!("{who}{}", o.access_token)
    });
    Ok(())
}

/// The claims of an ID token whose signature and claims were verified, every one as sent.
fn verified_payload(id_token: &str) -> Result<serde_json::Value, Failure> {
    use base64::Engine;
    let payload = id_token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        .ok_or_else(|| Failure::Refused("the ID token is not a compact JWS".into()))?;
    serde_json::from_slice(&payload).map_err(|e| Failure::Refused(format!("the ID token's claims do not read: {e}")))
}

/// The client secret of confidential keys, from `KEYMANAGER_CLIENT_SECRET`; none for a public client.
fn client_secret(key: &KeyDto) -> Result<Option<String>, Failure> {
    let secret = std::env::var(SECRET_ENV).ok().filter(|s| !s.is_empty());
    match (secret, key.bypass_client_credentials) {
        (s, true) => Ok(s),
        (Some(s), false) => Ok(Some(s)),
        (None, false) => Err(Failure::Usage(format!(
            "these keys are a confidential client: put its secret in {SECRET_ENV}"
        ))),
    }
}

fn exchange_error<T: openidconnect::ErrorResponse + 'static>(
    e: openidconnect::RequestTokenError<keymanager::Error, T>,
) -> String {
    match e {
        openidconnect::RequestTokenError::Request(e) => keymanager::error::chain(&e),
        other => other.to_string(),
    }
}

/// Open `url` in the desktop's browser when there is a desktop; otherwise nothing (the URL is printed).
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        Some("open")
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        Some("xdg-open")
    } else {
        None
    };
    if let Some(program) = opener {
        let started = std::process::Command::new(program)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        if let Err(e) = started {
            tracing::debug!(error = %e, program, "no browser could be opened; the URL is printed");
        }
    }
}

/// Wait for the browser to come back to `path` on the listener: the redirect's query parameters. Any other request
/// is answered 404 and waiting goes on.
async fn wait_for_redirect(
    listener: tokio::net::TcpListener,
    path: &str,
    timeout: Duration,
) -> Result<HashMap<String, String>, Failure> {
    let (tx, mut rx) = mpsc::channel::<HashMap<String, String>>(1);
    let route = path.to_owned();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let tx = tx.clone();
        let route = route.clone();
        async move {
            if uri.path() != route {
                return (axum::http::StatusCode::NOT_FOUND, "not the redirect URI").into_response();
            }
            let params: HashMap<String, String> = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
            let refused = params.contains_key("error");
            let _ = tx.try_send(params);
            axum::response::Html(if refused {
                "<!doctype html><title>Sign-in refused</title><p>The sign-in was refused; see the terminal.</p>"
            } else {
                "<!doctype html><title>Signed in</title><p>Signed in. You can close this window and return to the terminal.</p>"
            })
            .into_response()
        }
    });
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let got = tokio::time::timeout(timeout, rx.recv()).await;
    server.abort();
    match got {
        Ok(Some(params)) => Ok(params),
        _ => Err(Failure::Refused(format!(
            "no sign-in came back within {} s; run the command again",
            timeout.as_secs()
        ))),
    }
}
