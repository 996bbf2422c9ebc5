//! `/oauth2/token`, `/oauth2/introspect`, `/oauth2/revoke`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keymanager::connector_kit::model::{Grant, Token, TokenRequest};
use serde_json::json;

use super::client_auth::{bearer, presented, Form, Presented, TlsClient};
use super::errors::OAuthError;
use super::AppState;
use crate::server::AuthenticatedClient;

pub(super) fn form_content(headers: &HeaderMap) -> Result<(), OAuthError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if ok {
        Ok(())
    } else {
        Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ))
    }
}

/// Authenticate a confidential client from the request to `endpoint` (this server's path of it); anything else is
/// `invalid_client`.
async fn confidential(
    app: &AppState,
    headers: &HeaderMap,
    tls: &TlsClient,
    form: &Form,
    endpoint: &str,
) -> Result<AuthenticatedClient, OAuthError> {
    match presented(headers, form)? {
        Presented::None => Err(OAuthError::invalid_client()),
        other => {
            let who = authenticate(app, other, tls, endpoint).await?;
            if who.client.public_client {
                return Err(OAuthError::invalid_client());
            }
            Ok(who)
        }
    }
}

/// Authenticate any client: confidential with its secret, assertion or TLS certificate, public with its
/// `client_id` alone.
pub(super) async fn any_client(
    app: &AppState,
    headers: &HeaderMap,
    tls: &TlsClient,
    form: &Form,
    endpoint: &str,
) -> Result<AuthenticatedClient, OAuthError> {
    authenticate(app, presented(headers, form)?, tls, endpoint).await
}

async fn authenticate(
    app: &AppState,
    presented: Presented,
    tls: &TlsClient,
    endpoint: &str,
) -> Result<AuthenticatedClient, OAuthError> {
    match presented {
        Presented::Secret { client_id, secret } => Ok(app
            .server
            .authenticate(&client_id, Some(secret.expose_secret()))
            .await?),
        Presented::Assertion { client_id, assertion } => {
            let url = format!("{}{endpoint}", app.server.settings().issuer);
            Ok(app
                .server
                .authenticate_assertion(client_id.as_deref(), assertion.expose_secret(), &url)
                .await?)
        }
        Presented::Public { client_id } => Ok(app
            .server
            .authenticate_without_secret(&client_id, tls.0.as_ref())
            .await?),
        Presented::None => Err(OAuthError::invalid_client()),
    }
}

pub(crate) async fn token(
    State(app): State<AppState>,
    call: super::registration::Call,
    tls: TlsClient,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut resp = match issue(&app, &call, super::client_address(&extensions), &headers, &tls, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    // RFC 9449 §8: every answer carries the nonce the next proof must name, when the server asks for nonces.
    if let Some(nonce) = app.server.dpop_nonce() {
        if let Ok(v) = axum::http::HeaderValue::from_str(&nonce) {
            resp.headers_mut().insert("dpop-nonce", v);
        }
    }
    resp
}

async fn issue(
    app: &AppState,
    call: &super::registration::Call,
    address: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    tls: &TlsClient,
    body: &[u8],
) -> Result<Response, OAuthError> {
    form_content(headers)?;
    let form = Form::parse(body);
    let grant_type = form
        .get("grant_type")?
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let who = any_client(app, headers, tls, &form, "/oauth2/token").await?;
    let required = |name: &str| -> Result<String, OAuthError> {
        form.get(name)?
            .map(str::to_owned)
            .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
    };
    let grant = match grant_type {
        "client_credentials" => Grant::ClientCredentials,
        "authorization_code" => Grant::AuthorizationCode {
            code: Token::new(required("code")?),
            redirect_uri: form.get("redirect_uri")?.map(str::to_owned),
            code_verifier: form.get("code_verifier")?.map(Token::new),
        },
        "refresh_token" => Grant::RefreshToken {
            refresh_token: Token::new(required("refresh_token")?),
        },
        "password" => Grant::Password {
            username: required("username")?,
            password: Token::new(required("password")?),
        },
        "urn:ietf:params:oauth:grant-type:token-exchange" => {
            // RFC 8693 §2.1: only access tokens are issued here.
            if form
                .get("requested_token_type")?
                .is_some_and(|t| t != keymanager::connector_kit::model::ACCESS_TOKEN_TYPE)
            {
                return Err(OAuthError::invalid_request(
                    "requested_token_type: this server issues access tokens only",
                ));
            }
            Grant::TokenExchange {
                subject_token: Token::new(required("subject_token")?),
                subject_token_type: required("subject_token_type")?,
                actor_token: form.get("actor_token")?.map(Token::new),
                actor_token_type: form.get("actor_token_type")?.map(str::to_owned),
                audience: form.get("audience")?.map(str::to_owned),
            }
        }
        other => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant type `{other}` is not supported here"),
            ))
        }
    };
    let scopes = match form.get("scope")? {
        Some(text) => keymanager::connector_kit::model::Scopes::parse(text)
            .map_err(|why| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", why))?,
        None => keymanager::connector_kit::model::Scopes::new(),
    };
    let dpop_jkt = dpop_binding(app, headers).await?;
    // RFC 8705 §3: a client registered for bound tokens has them bound to the certificate it connected with.
    let certificate_thumbprint = crate::client_metadata::requires_certificate(&who.client)
        .then(|| tls.0.as_ref().map(|c| c.thumbprint().to_owned()))
        .flatten();
    let request = TokenRequest {
        client_id: who.client.client_id.clone().into(),
        client_secret: None,
        grant,
        scopes,
        validity: None,
        client_address: address,
        dpop_jkt,
        certificate_thumbprint,
    };
    let token = app.server.issue_for(&who, &request).await?;
    if let Grant::TokenExchange { audience, .. } = &request.grant {
        // An exchange is audited (the client, the audience; never a token) before its token is handed over.
        let actor = keymanager::connector_kit::model::Actor {
            kind: keymanager::connector_kit::model::ActorKind::Client,
            name: who.client.client_id.clone(),
            key_manager: None,
        };
        let mut record =
            super::registration::audit_record(app, call, actor, "token.exchange", Some(&who.client.client_id));
        if let Some(r) = record.as_mut() {
            r.target = Some(format!(
                "clientId={}, audience={}",
                who.client.client_id,
                audience.as_deref().unwrap_or(&app.server.settings().audience)
            ));
        }
        super::registration::record_success(app, record).await?;
    }
    let mut body = json!({
        "access_token": token.access_token.expose_secret(),
        "token_type": token.token_type,
        "expires_in": token.expires_in,
        "scope": token.scopes.to_string(),
    });
    if let Some(obj) = body.as_object_mut() {
        if let Some(r) = &token.refresh_token {
            obj.insert("refresh_token".into(), r.expose_secret().into());
        }
        if let Some(i) = &token.id_token {
            obj.insert("id_token".into(), i.expose_secret().into());
        }
        if grant_type == "urn:ietf:params:oauth:grant-type:token-exchange" {
            obj.insert(
                "issued_token_type".into(),
                keymanager::connector_kit::model::ACCESS_TOKEN_TYPE.into(),
            );
        }
    }
    Ok((
        [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")],
        Json(body),
    )
        .into_response())
}

/// The DPoP key a token request proves (RFC 9449 §5): its `DPoP` header checked as a proof of `POST` to this token
/// endpoint, once in this process and once across every node on the store (RFC 9449 §11.1).
async fn dpop_binding(app: &AppState, headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    use keymanager::connector_kit::dpop::{check_proof, ProofContext};
    let refused = |code: &str, text: String| OAuthError::new(StatusCode::BAD_REQUEST, code, text);
    let mut all = headers.get_all("dpop").iter();
    let proof = match (all.next(), all.next()) {
        (None, _) => None,
        (Some(one), None) => Some(
            one.to_str()
                .map_err(|_| refused("invalid_dpop_proof", "the DPoP header is not a JWS".into()))?,
        ),
        (Some(_), Some(_)) => return Err(refused("invalid_dpop_proof", "send one DPoP header".into())),
    };
    // A client that must use DPoP and sends no proof is refused where tokens are minted (`issue_for`).
    let Some(proof) = proof else {
        return Ok(None);
    };
    let endpoint = format!("{}/oauth2/token", app.server.settings().issuer);
    let nonces = app.server.dpop_nonces_accepted();
    let request = ProofContext {
        method: "POST",
        uri: &endpoint,
        access_token: None,
        nonce: nonces.as_ref().map(|n| &n[..]),
    };
    let now = app.server.now();
    let checked =
        check_proof(proof, &request, now, app.server.dpop_proofs()).map_err(|e| refused(e.code(), e.to_string()))?;
    let until = checked
        .iat
        .max(now)
        .saturating_add(keymanager::connector_kit::dpop::MAX_PROOF_AGE);
    if !app
        .server
        .store()
        .accept_dpop_proof(&checked.jkt, &checked.jti, until)
        .await?
    {
        return Err(refused(
            "invalid_dpop_proof",
            "this DPoP proof was used before (at another node)".into(),
        ));
    }
    Ok(Some(checked.jkt))
}

pub(crate) async fn introspect(
    State(app): State<AppState>,
    tls: TlsClient,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        form_content(&headers)?;
        let form = Form::parse(&body);
        // The admin token may introspect any token; a client only its own.
        let caller = match bearer(&headers) {
            Some(t) if app.admin.verify(t) => None,
            Some(_) => return Err(OAuthError::invalid_token("the bearer token is not valid here")),
            None => Some(confidential(&app, &headers, &tls, &form, "/oauth2/introspect").await?),
        };
        let token = form
            .get("token")?
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let answer = match app.server.active_token(token).await? {
            Some(active) if caller.as_ref().is_none_or(|c| c.client.client_id == active.client_id) => {
                let info = crate::server::introspection_answer(active.claims);
                serde_json::Value::Object(info.claims)
            }
            _ => json!({"active": false}),
        };
        Ok::<_, OAuthError>(([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn revoke(State(app): State<AppState>, tls: TlsClient, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        form_content(&headers)?;
        let form = Form::parse(&body);
        let who = any_client(&app, &headers, &tls, &form, "/oauth2/revoke").await?;
        let token = form
            .get("token")?
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        app.server.revoke(&who.client.client_id, token).await?;
        Ok::<_, OAuthError>(StatusCode::OK.into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
