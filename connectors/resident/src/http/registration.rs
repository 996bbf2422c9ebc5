//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use keymanager::connector_kit::model::{
    Actor, ActorKind, AuditRecord, ClientSpec, GrantType, KeyType, PkcePolicy, RedirectUri, TokenEndpointAuthMethod,
};
use keymanager::connector_kit::Error;
use serde::Deserialize;
use serde_json::{json, Value};

use super::client_auth::bearer;
use super::errors::{server_error, OAuthError};
use super::AppState;
use crate::client_metadata::ClientMetadata;
use crate::crypto;
use crate::server::to_oauth_client;
use crate::store::ClientRecord;

/// RFC 7591 §2 client metadata we understand; other members are ignored, as §2 asks.
#[derive(Debug, Deserialize)]
struct Metadata {
    client_id: Option<String>,
    client_name: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
    grant_types: Option<Vec<GrantType>>,
    token_endpoint_auth_method: Option<String>,
    scope: Option<String>,
    /// Extension: `PRODUCTION` or `SANDBOX` (default `PRODUCTION`).
    key_type: Option<String>,
    /// Extension: maximum access-token lifetime in seconds.
    access_token_lifetime: Option<u64>,
    /// Extension: PKCE required.
    #[serde(default)]
    pkce_required: bool,
    /// Extension: PKCE `plain` allowed.
    #[serde(default)]
    pkce_allow_plain: bool,
    /// Every other member: the OpenID client metadata the resident keeps ([`ClientMetadata`], read by its one
    /// list of members, [`member_names`](crate::client_metadata::member_names)); the rest is ignored, as RFC 7591 §2
    /// asks.
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

fn invalid_metadata(e: Error) -> OAuthError {
    match e {
        Error::InvalidRequest { field, message, .. } => {
            // The OpenID members are the client's additional properties inside; the request names them plainly.
            let field = field.map(|f| f.strip_prefix("additional_properties.").map(str::to_owned).unwrap_or(f));
            let code = if field.as_deref().is_some_and(|f| f.starts_with("redirect_uris")) {
                "invalid_redirect_uri"
            } else {
                "invalid_client_metadata"
            };
            let text = match field {
                Some(f) => format!("{f}: {message}"),
                None => message,
            };
            OAuthError::new(StatusCode::BAD_REQUEST, code, text)
        }
        Error::Unsupported { operation } => OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            format!("not supported: {operation}"),
        ),
        other => server_error(other),
    }
}

fn parse_metadata(body: &[u8]) -> Result<(Metadata, ClientSpec), OAuthError> {
    let meta: Metadata = serde_json::from_slice(body).map_err(|e| {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            format!("invalid JSON: {e}"),
        )
    })?;
    let public = match meta.token_endpoint_auth_method.as_deref() {
        None
        | Some("client_secret_basic")
        | Some("client_secret_post")
        | Some("private_key_jwt")
        | Some("tls_client_auth")
        | Some("self_signed_tls_client_auth") => false,
        Some("none") => true,
        Some(other) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_client_metadata",
                format!("token_endpoint_auth_method `{other}` is not supported"),
            ))
        }
    };
    let key_type = match meta.key_type.as_deref() {
        None => KeyType::Production,
        Some(k) => k.parse().map_err(invalid_metadata)?,
    };
    let spec = ClientSpec {
        name: meta
            .client_name
            .clone()
            .unwrap_or_else(|| "dynamically registered client".into()),
        key_type,
        // RFC 7591 §2: grant_types defaults to authorization_code.
        grant_types: meta
            .grant_types
            .clone()
            .unwrap_or_else(|| vec![GrantType::AuthorizationCode]),
        // RFC 7591 §3.2.2: a redirect URI the policy refuses is `invalid_redirect_uri`, naming it.
        redirect_uris: meta
            .redirect_uris
            .iter()
            .enumerate()
            .map(|(i, u)| {
                RedirectUri::parse(u).map_err(|m| {
                    OAuthError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_redirect_uri",
                        format!("redirect_uris[{i}]: {m}"),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        scopes: keymanager::connector_kit::model::Scopes::parse(meta.scope.as_deref().unwrap_or_default()).map_err(
            |m| {
                OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_client_metadata",
                    format!("scope: {m}"),
                )
            },
        )?,
        public_client: public,
        pkce: PkcePolicy {
            required: meta.pkce_required,
            allow_plain: meta.pkce_allow_plain,
        },
        access_token_lifetime: meta.access_token_lifetime,
        refresh_token_lifetime: None,
        additional_properties: openid_metadata(&meta),
    };
    Ok((meta, spec))
}

/// The OpenID members of the registration request, as the client's `additional_properties` (checked by
/// [`ClientMetadata::parse`] when the client is registered).
fn openid_metadata(meta: &Metadata) -> serde_json::Map<String, Value> {
    let mut out: serde_json::Map<String, Value> = crate::client_metadata::member_names()
        // The method is read above (it decides public or confidential); the rest is the client's metadata.
        .filter(|name| *name != "token_endpoint_auth_method")
        .filter_map(|name| {
            let value = meta.other.get(name).filter(|v| !v.is_null())?;
            Some((name.to_owned(), value.clone()))
        })
        .collect();
    // Only the methods that need more than a secret are kept: the secret methods are the default.
    if let Some(m @ ("private_key_jwt" | "tls_client_auth" | "self_signed_tls_client_auth")) =
        meta.token_endpoint_auth_method.as_deref()
    {
        out.insert("token_endpoint_auth_method".into(), m.into());
    }
    out
}

fn client_json(app: &AppState, r: &ClientRecord) -> Value {
    let c = to_oauth_client(r);
    let openid = ClientMetadata::of_record(&r.additional_properties).unwrap_or_default();
    let method = match (c.public_client, openid.token_endpoint_auth_method) {
        (true, _) => TokenEndpointAuthMethod::None,
        (false, Some(m)) => m,
        (false, None) => TokenEndpointAuthMethod::ClientSecretBasic,
    };
    let mut answer = json!({
        "client_id": c.client_id,
        "client_id_issued_at": r.created_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types,
        "token_endpoint_auth_method": method.as_str(),
        "scope": c.scopes.to_string(),
        "key_type": r.key_type,
        "access_token_lifetime": c.access_token_lifetime,
        "pkce_required": c.pkce.required,
        "pkce_allow_plain": c.pkce.allow_plain,
        "registration_client_uri": format!("{}/oauth2/register/{}", app.server.settings().issuer, c.client_id),
    });
    if let (Some(obj), Value::Object(extra)) = (
        answer.as_object_mut(),
        serde_json::to_value(&openid).unwrap_or_default(),
    ) {
        extra
            .into_iter()
            .filter(|(k, _)| k != "token_endpoint_auth_method")
            .for_each(|(k, v)| {
                obj.insert(k, v);
            });
    }
    answer
}

/// The audit record of a registration change by `actor` on `client_id`, when this server keeps a trail.
pub(super) fn audit_record(
    app: &AppState,
    call: &Call,
    actor: Actor,
    action: &str,
    client_id: Option<&str>,
) -> Option<AuditRecord> {
    let audit = app.audit.as_ref()?;
    let mut r = AuditRecord::new(actor, action);
    r.target = client_id.map(|c| format!("clientId={c}"));
    r.request_id = call.request_id.clone();
    r.source = call.source.clone();
    if r.actor.kind == ActorKind::Client {
        r.actor.key_manager = Some(audit.key_manager.clone());
    }
    Some(r)
}

/// Append a record of a change that was made; `Err` when it could not be kept (the change is then not
/// acknowledged).
pub(super) async fn record_success(app: &AppState, record: Option<AuditRecord>) -> Result<(), OAuthError> {
    let (Some(audit), Some(record)) = (&app.audit, record) else {
        return Ok(());
    };
    audit.sink.append(&record).await.map_err(|e| {
        tracing::error!(error = %e, action = %record.action, target = ?record.target,
            "a change could not be recorded in the audit trail");
        let mut refusal = OAuthError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the change could not be recorded in the audit trail; retry",
        );
        refusal.retry_after = Some(5);
        refusal
    })
}

/// Append the record of a refused or failed change (a lost record is logged, the answer stays the failure).
async fn record_failure(app: &AppState, record: Option<AuditRecord>, e: &OAuthError) {
    let (Some(audit), Some(record)) = (&app.audit, record) else {
        return;
    };
    let record = record.failed(e.status.as_u16(), e.status.canonical_reason().unwrap_or(""));
    if let Err(err) = audit.sink.append(&record).await {
        tracing::error!(error = %err, action = %record.action, "a failed registration change could not be recorded");
    }
}

/// What the audit trail keeps of a call: its request id and the caller's address.
pub(crate) struct Call {
    request_id: Option<String>,
    source: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Call {
            request_id: parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            source: parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        })
    }
}

pub(crate) async fn register(State(app): State<AppState>, call: Call, headers: HeaderMap, body: Bytes) -> Response {
    let run = async {
        let admin = match bearer(&headers) {
            Some(t) => app
                .admin
                .name_of(t)
                .ok_or_else(|| OAuthError::invalid_token("the initial access token is not valid"))?,
            None => return Err(OAuthError::invalid_token("an initial access token is required")),
        };
        let actor = Actor {
            kind: ActorKind::AdminToken,
            name: admin,
            key_manager: None,
        };
        let audit = audit_record(&app, &call, actor.clone(), "registration.create", None);
        let registered = async {
            let (_, spec) = parse_metadata(&body)?;
            let registration_token = crypto::random_token(32);
            let client = app
                .server
                .register(&spec, Some(crypto::hash(&registration_token)))
                .await
                .map_err(invalid_metadata)?;
            Ok::<_, OAuthError>((client, registration_token))
        }
        .await;
        let (client, registration_token) = match registered {
            Ok(r) => r,
            Err(e) => {
                record_failure(&app, audit, &e).await;
                return Err(e);
            }
        };
        let audit = audit_record(
            &app,
            &call,
            actor,
            "registration.create",
            Some(client.client_id.as_str()),
        );
        if let Err(e) = record_success(&app, audit).await {
            // Not recorded, so not made: the client goes again (nobody has seen its credentials).
            if let Err(undo) = app.server.delete(client.client_id.as_str()).await {
                tracing::error!(error = %undo, client_id = %client.client_id,
                    "an unrecorded registration could not be undone");
            }
            return Err(e);
        }
        let record = app
            .server
            .client(client.client_id.as_str())
            .await
            .map_err(server_error)?;
        let mut answer = client_json(&app, &record);
        if let Some(obj) = answer.as_object_mut() {
            obj.insert("registration_access_token".into(), registration_token.into());
            if let Some(secret) = &client.client_secret {
                obj.insert("client_secret".into(), secret.expose_secret().into());
                obj.insert("client_secret_expires_at".into(), 0.into());
            }
        }
        Ok::<_, OAuthError>((StatusCode::CREATED, [("cache-control", "no-store")], Json(answer)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

/// The client named in the path, if the bearer token is its registration access token. Any mismatch — unknown
/// client, no token, wrong token — is the same 401, so the endpoint does not tell which clients exist.
async fn authorized(app: &AppState, headers: &HeaderMap, client_id: &str) -> Result<ClientRecord, OAuthError> {
    let refused = || OAuthError::invalid_token("the registration access token is not valid for this client");
    let token = bearer(headers).ok_or_else(refused)?;
    let record = app
        .server
        .store()
        .get_client(client_id)
        .await
        .map_err(server_error)?
        .ok_or_else(refused)?;
    match &record.registration_token_hash {
        Some(hash) if crypto::verify(token, hash) => Ok(record),
        _ => Err(refused()),
    }
}

pub(crate) async fn read(State(app): State<AppState>, headers: HeaderMap, Path(client_id): Path<String>) -> Response {
    match authorized(&app, &headers, &client_id).await {
        Ok(record) => Json(client_json(&app, &record)).into_response(),
        Err(e) => e.into_response(),
    }
}

fn client_actor(client_id: &str) -> Actor {
    Actor {
        kind: ActorKind::Client,
        name: client_id.to_owned(),
        key_manager: None,
    }
}

pub(crate) async fn update(
    State(app): State<AppState>,
    call: Call,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let run = async {
        let current = authorized(&app, &headers, &client_id).await?;
        let audit = audit_record(
            &app,
            &call,
            client_actor(&client_id),
            "registration.update",
            Some(&client_id),
        );
        let updated = async {
            let (meta, spec) = parse_metadata(&body)?;
            if meta.client_id.as_deref() != Some(client_id.as_str()) {
                return Err(OAuthError::invalid_request(
                    "the body's client_id must match the client being updated",
                ));
            }
            // On its own authority a client may narrow its registration, never widen it (the admin may).
            app.server
                .update_on_own_authority(&current, &spec)
                .await
                .map_err(invalid_metadata)
        }
        .await;
        if let Err(e) = updated {
            record_failure(&app, audit, &e).await;
            return Err(e);
        }
        record_success(&app, audit).await?;
        let record = app.server.client(&client_id).await.map_err(server_error)?;
        Ok::<_, OAuthError>(Json(client_json(&app, &record)).into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn delete(
    State(app): State<AppState>,
    call: Call,
    headers: HeaderMap,
    Path(client_id): Path<String>,
) -> Response {
    let run = async {
        authorized(&app, &headers, &client_id).await?;
        let audit = audit_record(
            &app,
            &call,
            client_actor(&client_id),
            "registration.delete",
            Some(&client_id),
        );
        if let Err(e) = app.server.delete(&client_id).await.map_err(server_error) {
            record_failure(&app, audit, &e).await;
            return Err(e);
        }
        record_success(&app, audit).await?;
        Ok::<_, OAuthError>(StatusCode::NO_CONTENT.into_response())
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}
