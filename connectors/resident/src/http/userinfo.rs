//! The UserInfo endpoint (OpenID Connect Core §5.3): the claims about the user an access token with `openid` may
//! read, for `GET` and `POST`, the token in the `Authorization` header (RFC 6750 §2.1) or, for `POST`, the form body
//! (§2.2).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::client_auth::{bearer, Form};
use super::errors::{server_error, OAuthError};
use super::AppState;

pub(crate) async fn userinfo(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let form = Form::parse(&body);
        let from_body = form.get("access_token")?;
        let token = match (bearer(&headers), from_body) {
            (Some(_), Some(_)) => {
                return Err(OAuthError::invalid_request(
                    "send the access token once: header or body",
                ))
            }
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => return Err(OAuthError::invalid_token("an access token is required")),
        };
        let active = app
            .server
            .active_token(token)
            .await
            .map_err(server_error)?
            .ok_or_else(|| OAuthError::invalid_token("the access token is not active"))?;
        let granted = keymanager::connector_kit::model::scope_tokens(
            active.claims.get("scope").and_then(Value::as_str).unwrap_or_default(),
        );
        if !granted.iter().any(|s| s == "openid") {
            return Err(OAuthError {
                challenge: Some("Bearer"),
                ..OAuthError::new(
                    StatusCode::FORBIDDEN,
                    "insufficient_scope",
                    "the token was not granted openid",
                )
            });
        }
        let sub = active
            .claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut answer = app.server.user_claims(&sub, &granted).await.map_err(server_error)?;
        answer.insert("sub".into(), sub.into());
        Ok::<_, OAuthError>(([(header::CACHE_CONTROL, "no-store")], Json(Value::Object(answer))).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
