//! The pushed authorization request endpoint (RFC 9126): a client sends its authorization request's parameters
//! here first, authenticated as at the token endpoint, and gets a `request_uri` to send the user's browser with
//! instead of them. The request is checked as the authorization endpoint checks it, kept for
//! [`PUSHED_REQUEST_LIFETIME`] seconds, and starts one authorization.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::client_auth::{Form, TlsClient};
use super::errors::OAuthError;
use super::token::{any_client, form_content};
use super::AppState;
use crate::grants::PUSHED_REQUEST_LIFETIME;

/// `POST /oauth2/par`.
pub(crate) async fn push(State(app): State<AppState>, tls: TlsClient, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        form_content(&headers)?;
        let form = Form::parse(&body);
        if let Some(name) = form.repeated() {
            return Err(OAuthError::invalid_request(format!("parameter `{name}` is repeated")));
        }
        // RFC 9126 §2.1: a pushed request cannot point at another.
        if form.get("request_uri")?.is_some() {
            return Err(OAuthError::invalid_request(
                "request_uri cannot be pushed: send the request's parameters",
            ));
        }
        let who = any_client(&app, &headers, &tls, &form, "/oauth2/par").await?;
        let req = super::authorize::parameters(&form);
        if req.client_id.as_deref().is_some_and(|c| c != who.client.client_id) {
            return Err(OAuthError::invalid_request(
                "client_id is not the client that authenticated",
            ));
        }
        let (request_uri, expires_in) = app
            .server
            .push_authorization(&who.client.client_id, req)
            .await?
            .map_err(OAuthError::invalid_request)?;
        debug_assert_eq!(expires_in, PUSHED_REQUEST_LIFETIME);
        Ok::<_, OAuthError>(
            (
                StatusCode::CREATED,
                [(axum::http::header::CACHE_CONTROL, "no-store")],
                Json(json!({"request_uri": request_uri, "expires_in": expires_in})),
            )
                .into_response(),
        )
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
