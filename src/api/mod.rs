//! The management REST API: applications, their keys, tokens and secrets, over the [`KeyService`].
//!
//! Every route but `GET /api/openapi.json` needs a bearer token: an admin token, or an access token of a key
//! manager the server accepts ([`access::ApiIdentity`]) with scope `keymanager:apps` (one's own applications) or
//! `keymanager:admin` (everything); [`access`] decides, in one place, and writes the audit trail. Bodies and
//! answers are JSON in the platform's camelCase vocabulary ([`dto`]); errors have one shape ([`dto::ErrorDto`]).
//! Answers carry `Cache-Control: no-store`: some hold secrets, shown this once.
//!
//! ```no_run
//! # fn demo(service: keymanager::service::KeyService) {
//! use std::sync::Arc;
//! let verify: keymanager::api::AdminVerifier =
//!     Arc::new(|token: &str| (token == "change-me").then(|| "config".to_owned()));
//! let app: axum::Router = keymanager::api::router(service, verify);
//! # }
//! ```

pub mod access;
pub mod dto;
mod error;
mod events;
mod handlers;
pub mod health;
mod paging;
pub mod quota;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::de::DeserializeOwned;

pub use error::ApiError;

use crate::service::KeyService;

/// Decides whether a bearer token is an admin token, and names it (compare in constant time).
pub type AdminVerifier = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Largest request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How the management API knows its callers: admin tokens, and optionally access tokens.
#[derive(Clone)]
pub struct ApiAuth {
    /// The admin tokens.
    pub admin: AdminVerifier,
    /// The key managers whose access tokens are accepted; `None`: admin tokens only.
    pub identity: Option<access::ApiIdentity>,
    /// How many changes a holder of an access token may make ([`quota`]); `None`: unlimited.
    pub write_quota: Option<quota::QuotaSettings>,
}

/// The routes' shared state.
#[derive(Clone)]
pub(crate) struct ApiState {
    service: KeyService,
    auth: ApiAuth,
    quota: Option<Arc<quota::WriteQuota>>,
}

/// A JSON body; a malformed one is a 400 naming the field serde stopped at.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<ApiState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &ApiState) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(is_json_media_type);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::with_status(e.status(), format!("cannot read the request body: {}", e.body_text()))
        })?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else if json_type != Some(true) {
            return Err(ApiError::with_status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON: send Content-Type: application/json",
            ));
        } else {
            &bytes
        };
        let de = &mut serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(de).map(ApiJson).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.inner().to_string();
            let err = ApiError::new(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                format!("malformed JSON body: {inner}"),
            );
            if path == "." {
                err
            } else {
                err.field(path, inner)
            }
        })
    }
}

/// `application/json`, or any `+json` type, with or without parameters.
fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

use access::Access::{Admin, Apps, Gateway, Public};

crate::route_table! {
    /// Every route of the management API, as (method, path): what [`router`] serves and the OpenAPI document
    /// describes. Each entry carries its access rule and audited action ([`ROUTE_RULES`]), so no route exists
    /// without them.
    ApiState; rules;
    get "/api/openapi.json" => handlers::openapi, Public;
    get "/api/key-managers" => handlers::key_managers, Apps;
    post "/api/key-managers" => handlers::create_key_manager, Admin, "key_manager.create";
    get "/api/key-managers/{keyManager}" => handlers::get_key_manager, Admin;
    put "/api/key-managers/{keyManager}" => handlers::update_key_manager, Admin, "key_manager.update";
    delete "/api/key-managers/{keyManager}" => handlers::delete_key_manager, Admin, "key_manager.delete";
    post "/api/key-managers/discover" => handlers::discover_key_manager, Admin;
    get "/api/key-managers/{keyManager}/scopes" => handlers::list_scopes, Apps;
    post "/api/key-managers/{keyManager}/scopes" => handlers::create_scope, Admin, "scope.create";
    delete "/api/key-managers/{keyManager}/scopes/{scope}" => handlers::delete_scope, Admin, "scope.delete";
    post "/api/key-managers/{keyManager}/introspect" => handlers::introspect, Admin;
    post "/api/key-managers/{keyManager}/revoke" => handlers::revoke, Admin, "token.revoke";
    get "/api/audit" => handlers::audit_trail, Admin;
    get "/api/admin-tokens" => handlers::list_admin_tokens, Admin;
    post "/api/admin-tokens" => handlers::create_admin_token, Admin, "admin_token.create";
    delete "/api/admin-tokens/{name}" => handlers::revoke_admin_token, Admin, "admin_token.revoke";
    get "/api/gateway/events" => events::gateway_events, Gateway;
    get "/api/signing-keys" => handlers::list_signing_keys, Admin;
    post "/api/signing-keys/rotate" => handlers::rotate_signing_keys, Admin, "signing_key.rotate";
    post "/api/signing-keys/{kid}/retire" => handlers::retire_signing_key, Admin, "signing_key.retire";
    get "/api/users" => handlers::list_users, Admin;
    post "/api/users" => handlers::create_user, Admin, "user.create";
    put "/api/users/{username}" => handlers::update_user, Admin, "user.update";
    delete "/api/users/{username}" => handlers::delete_user, Admin, "user.delete";
    post "/api/applications" => handlers::create_application, Apps, "application.create";
    get "/api/applications" => handlers::list_applications, Apps;
    get "/api/applications/{applicationId}" => handlers::get_application, Apps;
    put "/api/applications/{applicationId}" => handlers::update_application, Apps, "application.update";
    delete "/api/applications/{applicationId}" => handlers::delete_application, Apps, "application.delete";
    put "/api/applications/{applicationId}/owner" => handlers::transfer_application, Admin, "application.transfer";
    post "/api/applications/{applicationId}/generate-keys" => handlers::generate_keys, Apps, "keys.generate";
    post "/api/applications/{applicationId}/map-keys" => handlers::map_keys, Apps, "keys.map";
    get "/api/applications/{applicationId}/oauth-keys" => handlers::list_keys, Apps;
    get "/api/applications/{applicationId}/oauth-keys/{keyMappingId}" => handlers::get_keys, Apps;
    put "/api/applications/{applicationId}/oauth-keys/{keyMappingId}" => handlers::update_keys, Apps, "keys.update";
    delete "/api/applications/{applicationId}/oauth-keys/{keyMappingId}" => handlers::delete_keys, Apps, "keys.delete";
    post "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/generate-token" => handlers::generate_token, Apps,
        "token.generate";
    post "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/regenerate-secret" => handlers::regenerate_secret,
        Apps, "secret.regenerate";
    get "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/secrets" => handlers::list_secrets, Apps;
    post "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/secrets" => handlers::create_secret, Apps,
        "secret.create";
    post "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/revoke-token" => handlers::revoke_token, Apps,
        "token.revoke";
    delete "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/secrets/{secretId}" => handlers::delete_secret,
        Apps, "secret.delete";
}

/// The OpenAPI 3.1 document of the management API.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

/// The management API's router, for admin tokens only.
pub fn router(service: KeyService, admin: AdminVerifier) -> Router {
    router_with(
        service,
        ApiAuth {
            admin,
            identity: None,
            write_quota: None,
        },
    )
}

/// The management API's router, for the callers `auth` knows.
pub fn router_with(service: KeyService, auth: ApiAuth) -> Router {
    let quota = auth.write_quota.map(|q| Arc::new(quota::WriteQuota::new(q)));
    let state = ApiState { service, auth, quota };
    routes()
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), access::authorize))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "Not Found",
                "no such route in the management API",
            )
        })
        .layer(axum::middleware::map_response(error_shape))
        .layer(axum::middleware::map_response(no_store))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Every failure in the management API's JSON shape, including those answered before a handler runs (a body over
/// the limit, an undecodable path segment, a bad query value, a method the route lacks): axum's plain-text
/// rejections are rewritten here, once for the whole route table.
async fn error_shape(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json_media_type);
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let description = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => "this route does not take that method".to_owned(),
        (_, true) => status.canonical_reason().unwrap_or("Error").to_lowercase(),
        (_, false) => text,
    };
    let mut shaped = axum::response::IntoResponse::into_response(ApiError::with_status(status, description));
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        shaped.headers_mut().insert(header::ALLOW, allow.clone());
    }
    shaped
}

async fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
