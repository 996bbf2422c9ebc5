//! The client side of OAuth 2.0 endpoints, shared by connectors, on the `oauth2` crate: token grants (RFC 6749
//! §4–§6, PKCE RFC 7636), token introspection (RFC 7662) and revocation (RFC 7009). `oauth2` builds each request and
//! reads each answer; the core HTTP kit sends it (`kit_client`), so its timeouts, limits, retries and redaction
//! apply. Reading RFC 7591 client metadata is [`registration`]; finding a server's metadata is [`discovery`]
//! (`openidconnect`'s provider metadata types, RFC 8414 as the fallback).
//!
//! Kept by hand, since `oauth2` cannot express it: introspection authenticated with a bearer token (RFC 7662 §2.1
//! allows it; `oauth2` authenticates as a client only).

mod answers;
pub mod discovery;
mod kit_client;
pub mod registration;
mod token_cache;

use std::borrow::Cow;

use oauth2::basic::{BasicErrorResponse, BasicRevocationErrorResponse};
use oauth2::{AuthType, EndpointNotSet, RequestTokenError, Scope, TokenResponse};
use serde_json::Value;

pub use answers::{HintedToken, IdTokenField, IntrospectionAnswer, TokenAnswer};

use crate::http::{HttpClient, Idempotency};
use crate::model::{
    AccessToken, ClientSecret, Grant, RevocationRequest, Token, TokenEndpointAuthMethod, TokenInfo, TokenRequest,
    TokenTypeHint,
};
use crate::{Error, Result};
pub use kit_client::KitClient;
pub use token_cache::ClientCredentialsToken;

/// How the connector authenticates at an introspection endpoint.
#[derive(Debug, Clone)]
pub enum EndpointAuth {
    /// HTTP Basic with a client's id and secret.
    Client(String, ClientSecret),
    /// A bearer token (RFC 7662 §2.1).
    Bearer(Token),
}

/// An `oauth2` client with no endpoint set yet.
type Client = oauth2::Client<
    BasicErrorResponse,
    TokenAnswer,
    IntrospectionAnswer,
    HintedToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
>;

/// A client as `oauth2` sees it: `client_secret_basic` (RFC 6749 §2.3.1, id and secret form-encoded) or
/// `client_secret_post` with a secret, `client_id` in the body without one (a public client).
fn client(id: &str, secret: Option<&ClientSecret>, method: TokenEndpointAuthMethod) -> Client {
    let mut c = oauth2::Client::new(oauth2::ClientId::new(id.to_owned()));
    if let Some(s) = secret {
        c = c.set_client_secret(oauth2::ClientSecret::new(s.expose_secret().to_owned()));
    }
    c.set_auth_type(match method {
        TokenEndpointAuthMethod::ClientSecretPost => AuthType::RequestBody,
        _ => AuthType::BasicAuth,
    })
}

fn endpoint_url(endpoint: &str) -> Result<oauth2::url::Url> {
    oauth2::url::Url::parse(endpoint).map_err(|e| Error::transport(format!("`{endpoint}` is not a URL: {e}")))
}

/// The core error for what `oauth2` reports: the kit's own error for a failed exchange (provider detail attached),
/// the JSON path for an answer that does not read.
fn from_oauth2<T: oauth2::ErrorResponse + 'static>(endpoint: &str, e: RequestTokenError<Error, T>) -> Error {
    match e {
        RequestTokenError::Request(e) => e,
        RequestTokenError::Parse(e, _) => {
            Error::malformed(endpoint.to_owned(), e.path().to_string(), e.inner().to_string())
        }
        RequestTokenError::ServerResponse(r) => {
            Error::malformed(endpoint.to_owned(), ".", format!("an error answer: {r}"))
        }
        RequestTokenError::Other(m) => Error::malformed(endpoint.to_owned(), ".", m),
    }
}

/// Ask a token endpoint for a token (never retried: a grant may be single use), authenticating with
/// `client_secret_basic`.
pub async fn request_token(http: &HttpClient, endpoint: &str, request: &TokenRequest) -> Result<AccessToken> {
    request_token_as(http, endpoint, request, TokenEndpointAuthMethod::ClientSecretBasic).await
}

/// [`request_token`], authenticating with `method` (`client_secret_basic` or `client_secret_post`).
pub async fn request_token_as(
    http: &HttpClient,
    endpoint: &str,
    request: &TokenRequest,
    method: TokenEndpointAuthMethod,
) -> Result<AccessToken> {
    request_token_with(http, endpoint, request, method, &[]).await
}

/// [`request_token_as`], with extra form parameters a provider asks for beside the grant's own (an `audience`, an
/// RFC 8707 `resource`). Parameters the grant sets itself cannot be overridden this way.
pub async fn request_token_with(
    http: &HttpClient,
    endpoint: &str,
    request: &TokenRequest,
    method: TokenEndpointAuthMethod,
    extra: &[(&str, &str)],
) -> Result<AccessToken> {
    let c = client(request.client_id.as_str(), request.client_secret.as_ref(), method)
        .set_token_uri(oauth2::TokenUrl::from_url(endpoint_url(endpoint)?));
    let kit = KitClient::new(http, Idempotency::NonIdempotent);
    let scopes = || request.scopes.iter().cloned().map(Scope::new);
    let answer = match &request.grant {
        Grant::ClientCredentials => {
            let mut exchange = c.exchange_client_credentials().add_scopes(scopes());
            for (k, v) in extra {
                exchange = exchange.add_extra_param(*k, *v);
            }
            exchange.request_async(&kit).await
        }
        Grant::RefreshToken { refresh_token } => {
            let token = oauth2::RefreshToken::new(refresh_token.expose_secret().to_owned());
            let mut exchange = c.exchange_refresh_token(&token).add_scopes(scopes());
            for (k, v) in extra {
                exchange = exchange.add_extra_param(*k, *v);
            }
            exchange.request_async(&kit).await
        }
        Grant::Password { username, password } => {
            let (user, pass) = (
                oauth2::ResourceOwnerUsername::new(username.clone()),
                oauth2::ResourceOwnerPassword::new(password.expose_secret().to_owned()),
            );
            let mut exchange = c.exchange_password(&user, &pass).add_scopes(scopes());
            for (k, v) in extra {
                exchange = exchange.add_extra_param(*k, *v);
            }
            exchange.request_async(&kit).await
        }
        // `oauth2` has no token-exchange request (RFC 8693); no connector over this client offers it yet.
        Grant::TokenExchange { .. } => return Err(Error::unsupported("token exchange (RFC 8693)")),
        Grant::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => {
            let mut exchange = c.exchange_code(oauth2::AuthorizationCode::new(code.expose_secret().to_owned()));
            if let Some(uri) = redirect_uri {
                let uri = oauth2::RedirectUrl::new(uri.clone())
                    .map_err(|e| Error::invalid_field("redirect_uri", format!("is not a URL: {e}")))?;
                exchange = exchange.set_redirect_uri(Cow::Owned(uri));
            }
            if let Some(v) = code_verifier {
                exchange = exchange.set_pkce_verifier(oauth2::PkceCodeVerifier::new(v.expose_secret().to_owned()));
            }
            for (k, v) in extra {
                exchange = exchange.add_extra_param(*k, *v);
            }
            exchange.request_async(&kit).await
        }
    }
    .map_err(|e| from_oauth2(endpoint, e))?;
    Ok(access_token(&answer, &request.scopes))
}

/// The generic view of a token answer; without `scope` in it, the requested scopes were granted (RFC 6749 §5.1).
pub fn access_token(answer: &TokenAnswer, requested: &[String]) -> AccessToken {
    AccessToken {
        access_token: Token::new(answer.access_token().secret()),
        // Case-insensitive (RFC 6749 §5.1); `oauth2` reads it lower-cased. Bearer as RFC 6750 spells it.
        token_type: match answer.token_type() {
            oauth2::basic::BasicTokenType::Bearer => "Bearer".to_owned(),
            other => other.as_ref().to_owned(),
        },
        expires_in: answer.expires_in().map(|d| d.as_secs()),
        scopes: match answer.scopes() {
            Some(s) => s.iter().map(|s| s.to_string()).collect(),
            None => requested.iter().cloned().collect(),
        },
        refresh_token: answer.refresh_token().map(|r| Token::new(r.secret())),
        id_token: answer.extra_fields().id_token.clone().map(Token::new),
    }
}

/// Introspect a token (RFC 7662).
pub async fn introspect(
    http: &HttpClient,
    endpoint: &str,
    auth: &EndpointAuth,
    token: &Token,
    hint: Option<TokenTypeHint>,
) -> Result<TokenInfo> {
    let (id, secret) = match auth {
        EndpointAuth::Client(id, secret) => (id, secret),
        EndpointAuth::Bearer(bearer) => return introspect_with_bearer(http, endpoint, bearer, token, hint).await,
    };
    let c = client(id, Some(secret), TokenEndpointAuthMethod::ClientSecretBasic)
        .set_introspection_url(oauth2::IntrospectionUrl::from_url(endpoint_url(endpoint)?));
    let secret = oauth2::AccessToken::new(token.expose_secret().to_owned());
    let mut request = c.introspect(&secret);
    if let Some(h) = hint {
        request = request.set_token_type_hint(h.as_str());
    }
    let answer = request
        .request_async(&KitClient::new(http, Idempotency::Idempotent))
        .await
        .map_err(|e| from_oauth2(endpoint, e))?;
    Ok(TokenInfo::from_claims(answer.claims))
}

/// Introspection authenticated with a bearer token, which `oauth2` cannot send.
async fn introspect_with_bearer(
    http: &HttpClient,
    endpoint: &str,
    bearer: &Token,
    token: &Token,
    hint: Option<TokenTypeHint>,
) -> Result<TokenInfo> {
    let mut form = vec![("token", token.expose_secret().to_owned())];
    if let Some(h) = hint {
        form.push(("token_type_hint", h.as_str().into()));
    }
    let req = http.post(endpoint).bearer_auth(bearer.expose_secret()).form(&form);
    let body: Value = http.send_ok(req, Idempotency::Idempotent).await?.json()?;
    Ok(TokenInfo::from_claims(body.as_object().cloned().unwrap_or_default()))
}

/// Revoke a token (RFC 7009) as the client holding it.
pub async fn revoke(http: &HttpClient, endpoint: &str, request: &RevocationRequest) -> Result<()> {
    let mut url = endpoint_url(endpoint)?;
    if url.scheme() == "http" {
        // Sent to `endpoint` as configured (see `KitClient::to`).
        let _ = url.set_scheme("https");
    }
    let c = client(
        request.client_id.as_str(),
        request.client_secret.as_ref(),
        TokenEndpointAuthMethod::ClientSecretBasic,
    )
    .set_revocation_url(oauth2::RevocationUrl::from_url(url));
    let token = HintedToken {
        token: request.token.expose_secret().to_owned(),
        hint: request.token_type_hint.map(|h| h.as_str().to_owned()),
    };
    c.revoke_token(token)
        .map_err(|e| Error::transport(format!("cannot build the revocation request: {e}")))?
        .request_async(&KitClient::new(http, Idempotency::Idempotent).to(endpoint))
        .await
        .map_err(|e| from_oauth2(endpoint, e))
}
