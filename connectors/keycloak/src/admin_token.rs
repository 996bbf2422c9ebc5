//! The admin API's bearer token: fetched with client_credentials, cached until shortly before it expires, and
//! dropped on a 401 so the next call fetches a fresh one.

use std::time::{Duration, Instant};

use keymanager::connector_kit::http::HttpClient;
use keymanager::connector_kit::model::{ClientSecret, Token, TokenEndpointAuthMethod, TokenRequest};
use keymanager::connector_kit::{Error, Result};

/// The cache.
pub(crate) struct AdminTokens {
    endpoint: String,
    client_id: String,
    client_secret: ClientSecret,
    cached: tokio::sync::Mutex<Option<(Token, Instant)>>,
}

impl AdminTokens {
    pub fn new(endpoint: String, client_id: String, client_secret: ClientSecret) -> Self {
        AdminTokens {
            endpoint,
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
        // client_secret_post, as Keycloak's admin clients are usually set up; the grant goes through the core's
        // OAuth client (the `oauth2` crate over the HTTP kit).
        let request = TokenRequest::client_credentials(self.client_id.as_str(), self.client_secret.clone());
        let answer = keymanager::connector_kit::oauth::request_token_as(
            http,
            &self.endpoint,
            &request,
            TokenEndpointAuthMethod::ClientSecretPost,
        )
        .await
        .map_err(|e| match e {
            Error::Unauthorized { .. } => e.map_message(|m| format!("the admin client could not get a token: {m}")),
            other => other,
        })?;
        let lifetime = answer.expires_in.unwrap_or(60);
        // Refresh a tenth of the lifetime early (at least 5 s), so no call leaves with a token about to expire.
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
