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
pub mod openapi;
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

use crate::service::admin_tokens::AdminTokenInfo;
use crate::signing_keys::SigningKeyInfo;
use access::Access::{Admin, Apps, Gateway, Public};
use dto::{
    ApplicationDto, AuditListDto, CreateAdminTokenDto, CreateApplicationDto, CreateKeyManagerDto, CreateSecretDto,
    CreateUserDto, CreatedAdminTokenDto, CreatedSecretDto, DiscoverDto, DiscoveredDto, GenerateKeysDto,
    GenerateTokenDto, IntrospectDto, IntrospectionDto, KeyDto, KeyManagerDto, ListDto, MapKeysDto, RegeneratedDto,
    RevokeDto, RevokeTokenDto, RotateSigningKeysDto, ScopeDto, SecretDto, TokenDto, TransferApplicationDto,
    UpdateApplicationDto, UpdateKeyManagerDto, UpdateKeysDto, UpdateUserDto, UserDto,
};
use paging::PageParams;

crate::route_table! {
    /// Every route of the management API, as (method, path): what [`router`] serves and the OpenAPI document
    /// describes. Each entry carries its access rule and audited action ([`ROUTE_RULES`]) and what the document says
    /// of it (its doc comment, parameters, body and answer), so no route exists without them.
    ApiState; rules;
    /// This document (OpenAPI 3.1), generated from the route table and the types.
    get "/api/openapi.json" => handlers::openapi, Public, ok 200 json serde_json::Value;
    /// List the configured key managers.
    get "/api/key-managers" => handlers::key_managers, Apps, params PageParams, ok 200 json ListDto<KeyManagerDto>;
    /// Add a key manager at run time.
    ///
    /// Stored, its secret settings sealed; applied on every node.
    post "/api/key-managers" => handlers::create_key_manager, Admin, audit "key_manager.create",
        body CreateKeyManagerDto, ok 201 json KeyManagerDto;
    /// A key manager, with its settings (secrets hidden).
    get "/api/key-managers/{keyManager}" => handlers::get_key_manager, Admin, ok 200 json KeyManagerDto;
    /// Change a key manager added at run time, or enable or disable it.
    put "/api/key-managers/{keyManager}" => handlers::update_key_manager, Admin, audit "key_manager.update",
        body UpdateKeyManagerDto, ok 200 json KeyManagerDto;
    /// Remove a key manager added at run time.
    ///
    /// `409` while key mappings point to it, unless `force=true`.
    delete "/api/key-managers/{keyManager}" => handlers::delete_key_manager, Admin, audit "key_manager.delete",
        params handlers::RemoveParams, ok 204;
    /// Propose a key manager from a provider's well-known metadata (WSO2's import from a well-known URL).
    post "/api/key-managers/discover" => handlers::discover_key_manager, Admin, body DiscoverDto,
        ok 200 json DiscoveredDto;
    /// The scopes a key manager knows, with their descriptions.
    get "/api/key-managers/{keyManager}/scopes" => handlers::list_scopes, Apps, params PageParams,
        ok 200 json ListDto<ScopeDto>;
    /// Register a scope and what it means to people (administrators).
    post "/api/key-managers/{keyManager}/scopes" => handlers::create_scope, Admin, audit "scope.create",
        body ScopeDto, ok 201 json ScopeDto;
    /// Remove a scope (administrators).
    delete "/api/key-managers/{keyManager}/scopes/{scope}" => handlers::delete_scope, Admin, audit "scope.delete",
        ok 204;
    /// Introspect a token at a key manager (RFC 7662).
    post "/api/key-managers/{keyManager}/introspect" => handlers::introspect, Admin, body IntrospectDto,
        ok 200 json IntrospectionDto;
    /// Revoke a token as the client it was issued to (RFC 7009).
    post "/api/key-managers/{keyManager}/revoke" => handlers::revoke, Admin, audit "token.revoke", body RevokeDto,
        ok 204;
    /// The audit trail, newest first (administrators).
    get "/api/audit" => handlers::audit_trail, Admin, params handlers::AuditParams, ok 200 json AuditListDto;
    /// List the named admin tokens (never the tokens).
    get "/api/admin-tokens" => handlers::list_admin_tokens, Admin, params PageParams,
        ok 200 json ListDto<AdminTokenInfo>;
    /// Create a named admin token, shown once.
    post "/api/admin-tokens" => handlers::create_admin_token, Admin, audit "admin_token.create",
        body CreateAdminTokenDto, ok 201 json CreatedAdminTokenDto;
    /// Revoke an admin token (not the last one).
    delete "/api/admin-tokens/{name}" => handlers::revoke_admin_token, Admin, audit "admin_token.revoke", ok 204;
    /// Revocations as Server-Sent Events, for gateways that do not share the database.
    ///
    /// Each event is one entry of the gateway log (`id` its number; `data` a `GatewayEvent` naming its key
    /// manager). `event: revoked` carries what is revoked — a `jti`, the SHA-256 of a token's value (never a token),
    /// a grant, a secret or a client; `event: notice` a change gateways must apply — a key manager the key service
    /// no longer (or again) answers for, or its signing keys rotated or one retired. Send `Last-Event-ID` after a
    /// reconnect to get what came after it; the backlog keeps every entry whose tokens have not expired, and each
    /// key manager's latest state. One `caught-up` event follows the backlog; new entries follow within 250 ms; a
    /// comment every 15 s keeps the connection open.
    get "/api/gateway/events" => events::gateway_events, Gateway, params events::EventsHeaders,
        ok 200 stream "text/event-stream";
    /// Record a DPoP proof a gateway accepted, so it is used once across every gateway node (RFC 9449 §11.1).
    ///
    /// For gateways that do not share the database (`gateway-auth --events`). `204` the first time any node
    /// records the proof (its key's thumbprint and `jti`), `409` for a replay. Kept for 90 s: no proof is accepted
    /// longer.
    post "/api/gateway/dpop-proofs" => events::record_dpop_proof, Gateway, body dto::DpopProofDto, ok 204;
    /// The resident key manager's signing keys, newest first (never a private part).
    get "/api/signing-keys" => handlers::list_signing_keys, Admin, ok 200 json ListDto<SigningKeyInfo>;
    /// Rotate the signing keys.
    ///
    /// New keys are published now and sign after the pre-publication; the old ones stay published until their
    /// tokens have expired.
    post "/api/signing-keys/rotate" => handlers::rotate_signing_keys, Admin, audit "signing_key.rotate",
        body RotateSigningKeysDto, ok 200 json ListDto<SigningKeyInfo>;
    /// Take a key out of the JWKS now: tokens it signed stop validating.
    ///
    /// The key that signs now is refused (`409`: rotate first).
    post "/api/signing-keys/{kid}/retire" => handlers::retire_signing_key, Admin, audit "signing_key.retire",
        ok 200 json SigningKeyInfo;
    /// List the resident key manager's users.
    get "/api/users" => handlers::list_users, Admin, params PageParams, ok 200 json ListDto<UserDto>;
    /// Add a user of the resident key manager (password hashed with argon2id).
    post "/api/users" => handlers::create_user, Admin, audit "user.create", body CreateUserDto, ok 201 json UserDto;
    /// Change a user of the resident key manager: password, roles, OpenID Connect claims.
    ///
    /// A new password or changed roles end the user's sessions and revoke its grants.
    put "/api/users/{username}" => handlers::update_user, Admin, audit "user.update", body UpdateUserDto,
        ok 200 json UserDto;
    /// Delete a user.
    delete "/api/users/{username}" => handlers::delete_user, Admin, audit "user.delete", ok 204;
    /// Create an application.
    post "/api/applications" => handlers::create_application, Apps, audit "application.create",
        body CreateApplicationDto, ok 201 json ApplicationDto;
    /// List applications (a developer sees their own).
    get "/api/applications" => handlers::list_applications, Apps, params paging::ApplicationListParams,
        ok 200 json ListDto<ApplicationDto>;
    /// Get an application.
    get "/api/applications/{applicationId}" => handlers::get_application, Apps, ok 200 json ApplicationDto;
    /// Change an application's name, description or attributes.
    put "/api/applications/{applicationId}" => handlers::update_application, Apps, audit "application.update",
        body UpdateApplicationDto, ok 200 json ApplicationDto;
    /// Delete an application and the clients generated for it.
    delete "/api/applications/{applicationId}" => handlers::delete_application, Apps, audit "application.delete",
        ok 204;
    /// Give an application to another owner (administrators).
    put "/api/applications/{applicationId}/owner" => handlers::transfer_application, Admin,
        audit "application.transfer", body TransferApplicationDto, ok 200 json ApplicationDto;
    /// Generate keys: register a client at a key manager.
    post "/api/applications/{applicationId}/generate-keys" => handlers::generate_keys, Apps, audit "keys.generate",
        body GenerateKeysDto, ok 200 json KeyDto;
    /// Map an existing client to the application.
    post "/api/applications/{applicationId}/map-keys" => handlers::map_keys, Apps, audit "keys.map", body MapKeysDto,
        ok 200 json KeyDto;
    /// List the application's keys.
    get "/api/applications/{applicationId}/oauth-keys" => handlers::list_keys, Apps, params PageParams,
        ok 200 json ListDto<KeyDto>;
    /// Get keys.
    get "/api/applications/{applicationId}/oauth-keys/{keyMappingId}" => handlers::get_keys, Apps,
        ok 200 json KeyDto;
    /// Change the client behind the keys.
    put "/api/applications/{applicationId}/oauth-keys/{keyMappingId}" => handlers::update_keys, Apps,
        audit "keys.update", body UpdateKeysDto, ok 200 json KeyDto;
    /// Delete keys: a generated client is deleted at its key manager, a mapped one only unmapped.
    delete "/api/applications/{applicationId}/oauth-keys/{keyMappingId}" => handlers::delete_keys, Apps,
        audit "keys.delete", ok 204;
    /// Issue an access token (client credentials, or the password grant for testing).
    post "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/generate-token" => handlers::generate_token,
        Apps, audit "token.generate", body GenerateTokenDto, ok 200 json TokenDto;
    /// Replace every secret with one new secret, shown once.
    post "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/regenerate-secret" => handlers::regenerate_secret,
        Apps, audit "secret.regenerate", ok 200 json RegeneratedDto;
    /// List secrets, masked.
    get "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/secrets" => handlers::list_secrets, Apps,
        params PageParams, ok 200 json ListDto<SecretDto>;
    /// Create a secret, its value shown once.
    post "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/secrets" => handlers::create_secret, Apps,
        audit "secret.create", body CreateSecretDto, ok 201 json CreatedSecretDto;
    /// Revoke a token issued to these keys (RFC 7009).
    post "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/revoke-token" => handlers::revoke_token, Apps,
        audit "token.revoke", body RevokeTokenDto, ok 204;
    /// Delete a secret; tokens it issued stay valid unless `revokeTokens=true`.
    delete "/api/applications/{applicationId}/oauth-keys/{keyMappingId}/secrets/{secretId}" => handlers::delete_secret,
        Apps, audit "secret.delete", params handlers::DeleteSecretQuery, ok 204;
}

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
