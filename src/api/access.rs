//! Who may call what: the one place the management API decides. Every route of [`ROUTES`](super::ROUTES) has an
//! [`Access`] in [`access`]; the middleware [`authorize`] applies it before any handler runs, and puts the
//! [`Caller`] in the request for the handler. A route without a decision is refused (and fails the route-table test).

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the OpenAPI document).
    Public,
    /// An administrator: an admin token.
    Admin,
}

/// The decision for one route (`method` lower case, `path` the route template), or `None` when nobody decided.
pub fn access(method: &str, path: &str) -> Option<Access> {
    use Access::*;
    Some(match (method, path) {
        ("get", "/api/openapi.json") => Public,
        ("get", "/api/key-managers")
        | ("post", "/api/key-managers/{keyManager}/introspect")
        | ("post", "/api/key-managers/{keyManager}/revoke")
        | ("get", "/api/admin-tokens")
        | ("post", "/api/admin-tokens")
        | ("delete", "/api/admin-tokens/{name}")
        | ("get", "/api/users")
        | ("post", "/api/users")
        | ("delete", "/api/users/{username}")
        | ("post", "/api/applications")
        | ("get", "/api/applications")
        | ("get", "/api/applications/{applicationId}")
        | ("delete", "/api/applications/{applicationId}")
        | ("post", "/api/applications/{applicationId}/generate-keys")
        | ("post", "/api/applications/{applicationId}/map-keys")
        | ("get", "/api/applications/{applicationId}/oauth-keys")
        | ("get", "/api/applications/{applicationId}/oauth-keys/{keyMappingId}")
        | ("put", "/api/applications/{applicationId}/oauth-keys/{keyMappingId}")
        | ("delete", "/api/applications/{applicationId}/oauth-keys/{keyMappingId}")
        | ("post", "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/generate-token")
        | ("post", "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/regenerate-secret")
        | ("get", "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/secrets")
        | ("post", "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/secrets")
        | ("post", "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/revoke-token")
        | ("delete", "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/secrets/{secretId}") => Admin,
        _ => return None,
    })
}

/// Who is calling, as the middleware established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Anyone, on a public route.
    Anonymous,
    /// An administrator, by the name of the admin token presented (`config` for `[server] admin_token`).
    Admin {
        /// The admin token's name.
        token: String,
    },
}

/// The middleware: the route's decision, the caller, `401` or the handler.
pub(crate) async fn authorize(State(state): State<ApiState>, mut req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_ascii_lowercase();
    let decision = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| access(&method, p.as_str()));
    let caller = match decision {
        Some(Access::Public) => Caller::Anonymous,
        Some(Access::Admin) => {
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::model::bearer_token);
            match presented.and_then(|t| (state.admin)(t)) {
                Some(token) => Caller::Admin { token },
                None => return ApiError::unauthorized().into_response(),
            }
        }
        None => {
            tracing::error!(%method, "a management route has no access decision; refusing it");
            return ApiError::unauthorized().into_response();
        }
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)
    }
}
