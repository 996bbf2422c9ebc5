//! The connector's own Management API token: client credentials for `https://DOMAIN/api/v2/`, cached until a tenth
//! of its lifetime before it expires, dropped on a 401 so the next call fetches a fresh one.

use std::time::{Duration, Instant};

use keymanager::connector_kit::http::HttpClient;
use keymanager::connector_kit::model::{ClientSecret, Token, TokenEndpointAuthMethod, TokenRequest};
use keymanager::connector_kit::{oauth, Error, Result};

/// The cache.
pub(crate) struct ManagementTokens {
    endpoint: String,
    audience: String,
    client_id: String,
    client_secret: ClientSecret,
    cached: tokio::sync::Mutex<Option<(Token, Instant)>>,
}

impl ManagementTokens {
    pub fn new(endpoint: String, audience: String, client_id: String, client_secret: ClientSecret) -> Self {
        ManagementTokens {
            endpoint,
            audience,
            client_id,
            client_secret,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A valid token: the cached one, or a fresh one (one fetch however many callers wait).
    pub async fn get(&self, http: &HttpClient) -> Result<Token> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let request = TokenRequest::client_credentials(self.client_id.as_str(), self.client_secret.clone());
        let answer = oauth::request_token_with(
            http,
            &self.endpoint,
            &request,
            TokenEndpointAuthMethod::ClientSecretPost,
            &[("audience", &self.audience)],
        )
        .await
        .map_err(|e| match e {
            Error::Unauthorized { .. } => {
                e.map_message(|m| format!("the management client could not get a Management API token: {m}"))
            }
            other => other,
        })?;
        let lifetime = answer.expires_in.unwrap_or(60);
        let margin = (lifetime / 10).max(5);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(margin));
        let token = answer.access_token;
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// Forget the cached token (after a 401).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
