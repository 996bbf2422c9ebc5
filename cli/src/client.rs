//! The management API as the command line sees it: one HTTP client for every management command, so the CLI and a
//! running server can never disagree (no second code path, no stale reads, one issuer).
//!
//! Where it goes: `--server URL` (env `KEYMANAGER_SERVER`), else the configuration's `[server] public_url`, else its
//! `listen` address, else `http://127.0.0.1:9443`. With what: `KEYMANAGER_ADMIN_TOKEN`, else a user's access token from
//! `KEYMANAGER_ACCESS_TOKEN` (scope `keymanager:apps` or `keymanager:admin`, from a key manager in the server's
//! `api_identity`), else `--token-file`, else the configuration's `admin_token`, else `DATA_DIR/admin-token` (what
//! `serve` generated).

use std::path::{Path, PathBuf};
use std::time::Duration;

use keymanager::api::dto::ErrorDto;
use keymanager::config::Config;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::setup::DEFAULT_LISTEN;
use crate::Failure;

/// Where the CLI finds the server and how it authenticates, as given on the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    /// `--server` / `KEYMANAGER_SERVER`.
    pub server: Option<String>,
    /// `--token-file`.
    pub token_file: Option<PathBuf>,
}

/// A client of one server's management API.
pub(crate) struct ApiClient {
    http: reqwest::Client,
    base: String,
    token: SecretString,
    /// Whether the token is an admin token (else a user's access token).
    pub admin: bool,
}

impl ApiClient {
    /// The client for `target`, completed from the configuration and the data directory.
    pub fn new(target: &Target, config: &Config, data_dir: &Path) -> Result<ApiClient, Failure> {
        let tls = config.server.tls_cert.is_some();
        let base = target
            .server
            .clone()
            .or_else(|| config.server.public_url.clone())
            .or_else(|| {
                config
                    .server
                    .listen
                    .as_ref()
                    .map(|l| format!("{}://{l}", if tls { "https" } else { "http" }))
            })
            .unwrap_or_else(|| format!("http://{DEFAULT_LISTEN}"));
        let base = base.trim_end_matches('/').to_owned();
        url::Url::parse(&base).map_err(|e| Failure::Usage(format!("--server `{base}` is not a URL: {e}")))?;
        let (token, admin) = bearer_token(target, config, data_dir)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60));
        // A server with its own certificate (often self-signed): trust that certificate too.
        if let Some(cert) = &config.server.tls_cert {
            let pem = std::fs::read(cert)
                .map_err(|e| Failure::Usage(format!("cannot read [server] tls_cert {}: {e}", cert.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| Failure::Usage(format!("[server] tls_cert is not a PEM certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder.build().map_err(|e| {
            Failure::Refused(format!(
                "cannot start the HTTP client: {}",
                keymanager::error::chain(&e)
            ))
        })?;
        Ok(ApiClient {
            http,
            base,
            token,
            admin,
        })
    }

    /// `GET path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        self.call(Method::GET, path, None::<&()>).await
    }

    /// Every item of a list route, page after page (following `pagination.next`).
    pub async fn get_all<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, Failure> {
        let base = path.split('?').next().unwrap_or(path).to_owned();
        let mut next = Some(path.to_owned());
        let mut all = Vec::new();
        while let Some(at) = next.take() {
            let page: keymanager::api::dto::ListDto<T> = self.get(&at).await?;
            all.extend(page.list);
            next = page.pagination.and_then(|p| p.next).map(|q| format!("{base}?{q}"));
        }
        Ok(all)
    }

    /// `POST path` with a JSON body.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, Failure> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `POST path` with a JSON body, for a `204 No Content` answer.
    pub async fn post_empty<B: Serialize>(&self, path: &str, body: &B) -> Result<(), Failure> {
        self.send(Method::POST, path, Some(body)).await.map(drop)
    }

    /// `PUT path` with a JSON body.
    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, Failure> {
        self.call(Method::PUT, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<(), Failure> {
        self.send(Method::DELETE, path, None::<&()>).await.map(drop)
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, Failure> {
        let bytes = self.send(method, path, body).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Failure::Refused(format!("the server at {} answered unreadable JSON: {e}", self.base)))
    }

    async fn send<B: Serialize>(&self, method: Method, path: &str, body: Option<&B>) -> Result<Vec<u8>, Failure> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url).bearer_auth(self.token.expose_secret());
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?.to_vec();
        if status.is_success() {
            return Ok(bytes);
        }
        Err(refusal(status, &bytes, &self.base))
    }

    fn unreachable(&self, e: &reqwest::Error) -> Failure {
        let chain = keymanager::error::chain(e);
        // A TLS client meeting a plain-HTTP server reads its answer as a corrupt TLS record.
        if self.base.starts_with("https://")
            && (chain.contains("corrupt message")
                || chain.contains("InvalidContentType")
                || chain.contains("wrong version"))
        {
            return Failure::Refused(format!(
                "the server at {} speaks plain HTTP, not HTTPS: use --server {}",
                self.base,
                self.base.replacen("https://", "http://", 1)
            ));
        }
        let how = if e.is_connect() {
            "cannot connect"
        } else if e.is_timeout() {
            "timed out"
        } else {
            "the request failed"
        };
        Failure::Refused(format!(
            "{how} to the keymanager server at {} ({}). Start it with `keymanager serve`, or point the CLI at \
             it with --server URL or KEYMANAGER_SERVER.",
            self.base, chain
        ))
    }
}

/// A refused request in the API's error shape, as one line (with each field-level problem).
fn refusal(status: StatusCode, body: &[u8], base: &str) -> Failure {
    let Ok(e) = serde_json::from_slice::<ErrorDto>(body) else {
        return Failure::Refused(format!("the server at {base} answered {status}"));
    };
    let mut text = e.description;
    for f in e.errors {
        if text == f.message {
            text = format!("{}: {}", f.field, f.message);
        } else {
            text.push_str(&format!("; {}: {}", f.field, f.message));
        }
    }
    if status == StatusCode::UNAUTHORIZED {
        text.push_str(
            " (the CLI sends KEYMANAGER_ADMIN_TOKEN, else KEYMANAGER_ACCESS_TOKEN, else --token-file, else the \
             config's admin_token, else DATA_DIR/admin-token)",
        );
    }
    Failure::Refused(text)
}

/// The bearer token to send, and whether it is an admin token.
fn bearer_token(target: &Target, config: &Config, data_dir: &Path) -> Result<(SecretString, bool), Failure> {
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    };
    if let Some(t) = env("KEYMANAGER_ADMIN_TOKEN") {
        return Ok((SecretString::from(t), true));
    }
    if let Some(t) = env("KEYMANAGER_ACCESS_TOKEN") {
        return Ok((SecretString::from(t), false));
    }
    let file = match (&target.token_file, &config.server.admin_token) {
        (Some(f), _) => f.clone(),
        (None, Some(t)) => return Ok((t.clone(), true)),
        (None, None) => data_dir.join("admin-token"),
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        Failure::Usage(format!(
            "cannot read the admin token from {} ({e}); `keymanager serve` writes it there on first start, or set \
             KEYMANAGER_ADMIN_TOKEN",
            file.display()
        ))
    })?;
    Ok((SecretString::from(text.trim().to_owned()), true))
}

pub(crate) use keymanager_server::path_segment as segment;
