//! The client-credentials token a connector presents to its provider's management API (Keycloak's admin API,
//! Auth0's Management API): fetched through [`request_token_with`](super::request_token_with), cached until a tenth
//! of its lifetime (at least 5 s) before it expires, and dropped on a `401` so the next call fetches a fresh one.

use std::time::{Duration, Instant};

use crate::http::HttpClient;
use crate::model::{ClientSecret, Token, TokenEndpointAuthMethod, TokenRequest};
use crate::{Error, Result};

/// One cached client-credentials token.
pub struct ClientCredentialsToken {
    endpoint: String,
    client_id: String,
    client_secret: ClientSecret,
    method: TokenEndpointAuthMethod,
    params: Vec<(String, String)>,
    who: String,
    cached: tokio::sync::Mutex<Option<(Token, Instant)>>,
}

impl std::fmt::Debug for ClientCredentialsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentialsToken")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsToken {
    /// Tokens for `client_id` from `endpoint`, authenticating with `method`; `who` names the client in errors
    /// (`the admin client`).
    pub fn new(
        endpoint: String,
        client_id: String,
        client_secret: ClientSecret,
        method: TokenEndpointAuthMethod,
        who: &str,
    ) -> Self {
        ClientCredentialsToken {
            endpoint,
            client_id,
            client_secret,
            method,
            params: Vec::new(),
            who: who.to_owned(),
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Send this parameter with every token request too (an `audience`).
    pub fn with_param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_owned(), value.to_owned()));
        self
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
        let params: Vec<(&str, &str)> = self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let answer = super::request_token_with(http, &self.endpoint, &request, self.method, &params)
            .await
            .map_err(|e| match e {
                Error::Unauthorized { .. } => e.map_message(|m| format!("{} could not get a token: {m}", self.who)),
                other => other,
            })?;
        let lifetime = answer.expires_in.unwrap_or(60);
        let margin = (lifetime / 10).max(5);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(margin));
        let token = answer.access_token;
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// Forget the cached token (after a `401`).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }
}
