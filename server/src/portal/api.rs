//! The portal's way to the key service: the management API itself, called in-process with the signed-in user's
//! access token. Every page therefore goes through the same authorization (one middleware, one rule table), the
//! same validation and the same audit trail as the REST API and the CLI; the portal decides nothing on its own.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use keymanager::api::dto::ErrorDto;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tower::ServiceExt;

use super::session::Session;
use super::Portal;

/// A refused or failed call, in the API's error shape.
#[derive(Debug)]
pub(super) enum Failure {
    /// The session is over: sign in again.
    SignIn,
    /// The API's answer.
    Refused {
        /// Its status.
        status: StatusCode,
        /// Its body.
        error: ErrorDto,
    },
}

impl Failure {
    /// The message for a field the server named, if it named this one.
    pub fn field(&self, name: &str) -> Option<&str> {
        match self {
            Failure::Refused { error, .. } => error
                .errors
                .iter()
                .find(|e| e.field == name || e.field.starts_with(&format!("{name}[")))
                .map(|e| e.message.as_str()),
            Failure::SignIn => None,
        }
    }

    /// The description for people.
    pub fn description(&self) -> String {
        match self {
            Failure::Refused { error, .. } => error.description.clone(),
            Failure::SignIn => "Your session has ended; sign in again.".into(),
        }
    }
}

/// What an API call carries over from the browser's request: its request id and address, for the audit trail.
#[derive(Clone, Default)]
pub(super) struct Origin {
    request_id: Option<String>,
    peer: Option<ConnectInfo<SocketAddr>>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Origin {
            request_id: parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            peer: parts.extensions.get::<ConnectInfo<SocketAddr>>().copied(),
        })
    }
}

impl Portal {
    /// Call the management API as the session's user.
    pub(super) async fn api<T: DeserializeOwned>(
        &self,
        (id, session): (&str, &Session),
        origin: &Origin,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, Failure> {
        let token = self.fresh_token(id, session).await.ok_or(Failure::SignIn)?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(rid) = &origin.request_id {
            req = req.header("x-request-id", rid);
        }
        let text = body.map(Value::to_string).unwrap_or_default();
        let mut req = req.body(Body::from(text)).map_err(|e| internal(&e.to_string()))?;
        if let Some(peer) = origin.peer {
            req.extensions_mut().insert(peer);
        }
        let resp = self
            .api
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| internal(&e.to_string()))?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 4 << 20)
            .await
            .map_err(|e| internal(&e.to_string()))?;
        if status == StatusCode::UNAUTHORIZED {
            return Err(Failure::SignIn);
        }
        if !status.is_success() {
            let error = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorDto {
                code: status.as_u16(),
                message: status.canonical_reason().unwrap_or("Error").into(),
                description: "the server could not complete the request".into(),
                errors: Vec::new(),
            });
            return Err(Failure::Refused { status, error });
        }
        let bytes = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
        serde_json::from_slice(bytes).map_err(|e| internal(&format!("unreadable answer: {e}")))
    }
}

fn internal(text: &str) -> Failure {
    tracing::error!(error = text, "the portal could not call the management API");
    Failure::Refused {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: ErrorDto {
            code: 500,
            message: "Internal Server Error".into(),
            description: "the server could not complete the request".into(),
            errors: Vec::new(),
        },
    }
}
