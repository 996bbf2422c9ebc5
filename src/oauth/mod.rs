//! The client side of OAuth 2.0 endpoints, shared by connectors: the token endpoint (RFC 6749 §4–§6), token
//! introspection (RFC 7662) and revocation (RFC 7009), on the [`HttpClient`], and reading RFC 7591 client
//! metadata.

pub mod registration;

use serde_json::Value;

use crate::http::{HttpClient, Idempotency};
use crate::model::{
    AccessToken, ClientId, ClientSecret, Grant, RevocationRequest, Token, TokenInfo, TokenRequest, TokenTypeHint,
};
use crate::{Error, Result};

/// How the connector authenticates at an introspection endpoint.
#[derive(Debug, Clone)]
pub enum EndpointAuth {
    /// HTTP Basic with a client's id and secret.
    Client(String, ClientSecret),
    /// A bearer token (RFC 7662 §2.1).
    Bearer(Token),
}

/// Client authentication on a form request: `client_secret_basic` with a secret, `client_id` alone (public client)
/// without one. Returns the form fields it adds.
pub fn client_auth(
    req: reqwest::RequestBuilder,
    client_id: &ClientId,
    secret: Option<&ClientSecret>,
) -> (reqwest::RequestBuilder, Vec<(&'static str, String)>) {
    match secret {
        Some(s) => (req.basic_auth(client_id.as_str(), Some(s.expose_secret())), Vec::new()),
        None => (req, vec![("client_id", client_id.as_str().to_owned())]),
    }
}

/// The form of a token request for its grant, with `scope` when scopes are asked for.
pub fn grant_form(request: &TokenRequest) -> Vec<(&'static str, String)> {
    let mut form: Vec<(&'static str, String)> = Vec::new();
    match &request.grant {
        Grant::ClientCredentials => form.push(("grant_type", "client_credentials".into())),
        Grant::RefreshToken { refresh_token } => {
            form.push(("grant_type", "refresh_token".into()));
            form.push(("refresh_token", refresh_token.expose_secret().into()));
        }
        Grant::Password { username, password } => {
            form.push(("grant_type", "password".into()));
            form.push(("username", username.clone()));
            form.push(("password", password.expose_secret().into()));
        }
        Grant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            form.push(("grant_type", "authorization_code".into()));
            form.push(("code", code.expose_secret().into()));
            if let Some(uri) = redirect_uri {
                form.push(("redirect_uri", uri.clone()));
            }
            if let Some(v) = code_verifier {
                form.push(("code_verifier", v.expose_secret().into()));
            }
        }
    }
    if !request.scopes.is_empty() {
        form.push(("scope", request.scopes.join(" ")));
    }
    form
}

/// Read a token answer (RFC 6749 §5.1); without `scope` in it, the requested scopes were granted.
pub fn access_token_from(body: &Value, endpoint: &str, requested: &[String]) -> Result<AccessToken> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let access_token = text("access_token")
        .ok_or_else(|| Error::malformed(endpoint.to_owned(), "access_token", "the answer has no access_token"))?;
    Ok(AccessToken {
        access_token: Token::new(access_token),
        token_type: text("token_type").unwrap_or_else(|| "Bearer".into()),
        expires_in: body.get("expires_in").and_then(Value::as_u64),
        scopes: match text("scope") {
            Some(s) => crate::model::scope_tokens(&s),
            None => requested.to_vec(),
        },
        refresh_token: text("refresh_token").map(Token::new),
        id_token: text("id_token").map(Token::new),
    })
}

/// Ask a token endpoint for a token (never retried: a grant may be single use).
pub async fn request_token(http: &HttpClient, endpoint: &str, request: &TokenRequest) -> Result<AccessToken> {
    let mut form = grant_form(request);
    let (req, extra) = client_auth(http.post(endpoint), &request.client_id, request.client_secret.as_ref());
    form.extend(extra);
    let body: Value = http
        .send_ok(req.form(&form), Idempotency::NonIdempotent)
        .await?
        .json()?;
    access_token_from(&body, endpoint, &request.scopes)
}

/// Introspect a token (RFC 7662).
pub async fn introspect(
    http: &HttpClient,
    endpoint: &str,
    auth: &EndpointAuth,
    token: &Token,
    hint: Option<TokenTypeHint>,
) -> Result<TokenInfo> {
    let req = match auth {
        EndpointAuth::Client(id, secret) => http.post(endpoint).basic_auth(id, Some(secret.expose_secret())),
        EndpointAuth::Bearer(t) => http.post(endpoint).bearer_auth(t.expose_secret()),
    };
    let mut form = vec![("token", token.expose_secret().to_owned())];
    if let Some(h) = hint {
        form.push(("token_type_hint", h.as_str().into()));
    }
    let body: Value = http.send_ok(req.form(&form), Idempotency::Idempotent).await?.json()?;
    Ok(TokenInfo::from_claims(body.as_object().cloned().unwrap_or_default()))
}

/// Revoke a token (RFC 7009) as the client holding it.
pub async fn revoke(http: &HttpClient, endpoint: &str, request: &RevocationRequest) -> Result<()> {
    let mut form = vec![("token", request.token.expose_secret().to_owned())];
    if let Some(h) = request.token_type_hint {
        form.push(("token_type_hint", h.as_str().into()));
    }
    let (req, extra) = client_auth(http.post(endpoint), &request.client_id, request.client_secret.as_ref());
    form.extend(extra);
    http.send_ok(req.form(&form), Idempotency::Idempotent).await?;
    Ok(())
}
