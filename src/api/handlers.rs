//! One handler per route.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::access::Caller;
use super::dto::*;
use super::{ApiError, ApiJson, ApiState, OPENAPI};
use crate::model::{ClientId, ClientSecret, Grant, KeyType, SecretSpec, Token};
use crate::service::{grant_types, Audit, AuditQuery, GenerateKeys, UpdateKeys};

type Answer<T> = Result<T, ApiError>;

fn key_type(text: &str) -> Result<KeyType, ApiError> {
    text.parse::<KeyType>().map_err(ApiError::from)
}

fn key_manager_or_first(state: &ApiState, name: Option<String>) -> Result<String, ApiError> {
    match name {
        Some(n) => Ok(n),
        None => state
            .service
            .key_managers()
            .iter()
            .next()
            .map(|k| k.name().to_owned())
            .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "Bad Request", "no key manager is configured")),
    }
}

pub(super) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

pub(super) async fn key_managers(State(s): State<ApiState>, _: Caller) -> Json<ListDto<KeyManagerDto>> {
    Json(ListDto::new(
        s.service
            .key_managers()
            .iter()
            .map(|k| KeyManagerDto {
                name: k.name().to_owned(),
                kind: k.kind().to_owned(),
                capabilities: k.capabilities(),
                issuer: k.token_profile().issuer,
            })
            .collect(),
    ))
}

pub(super) async fn create_application(
    State(s): State<ApiState>,
    caller: Caller,
    audit: Audit,
    ApiJson(body): ApiJson<CreateApplicationDto>,
) -> Answer<(StatusCode, Json<ApplicationDto>)> {
    let owner = caller.owner_for_new(body.owner.as_deref())?;
    let app = s
        .service
        .create_application(&body.name, body.description.as_deref(), &owner, &audit)
        .await?;
    Ok((StatusCode::CREATED, Json(app.into())))
}

pub(super) async fn list_applications(
    State(s): State<ApiState>,
    caller: Caller,
) -> Answer<Json<ListDto<ApplicationDto>>> {
    let apps = s.service.applications(caller.visible_owner()).await?;
    Ok(Json(ListDto::new(apps.into_iter().map(Into::into).collect())))
}

pub(super) async fn get_application(
    State(s): State<ApiState>,
    _: Caller,
    Path(app): Path<String>,
) -> Answer<Json<ApplicationDto>> {
    Ok(Json(s.service.application(&app).await?.into()))
}

pub(super) async fn delete_application(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path(app): Path<String>,
) -> Answer<StatusCode> {
    s.service.delete_application(&app, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn transfer_application(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<TransferApplicationDto>,
) -> Answer<Json<ApplicationDto>> {
    Ok(Json(
        s.service.transfer_application(&app, &body.owner, &audit).await?.into(),
    ))
}

pub(super) async fn generate_keys(
    State(s): State<ApiState>,
    caller: Caller,
    audit: Audit,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<GenerateKeysDto>,
) -> Answer<Json<KeyDto>> {
    caller.check_client_scopes(&body.scopes)?;
    let req = GenerateKeys {
        key_type: key_type(&body.key_type)?,
        key_manager: key_manager_or_first(&s, body.key_manager)?,
        grant_types: grant_types(&body.grant_types_to_be_supported),
        callback_url: body.callback_url,
        scopes: body.scopes,
        validity_time: body.validity_time,
        pkce_mandatory: body.pkce_mandatory,
        pkce_support_plain: body.pkce_support_plain,
        public_client: body.bypass_client_credentials,
        additional_properties: body.additional_properties,
        generate_token: body.generate_token,
    };
    let generated = s.service.generate_keys(&app, &req, &audit).await?;
    Ok(Json(KeyDto::from(&generated)))
}

pub(super) async fn map_keys(
    State(s): State<ApiState>,
    caller: Caller,
    audit: Audit,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<MapKeysDto>,
) -> Answer<Json<KeyDto>> {
    caller.check_map_proof(body.consumer_secret.is_some())?;
    let km = key_manager_or_first(&s, body.key_manager)?;
    let secret = body.consumer_secret.map(ClientSecret::new);
    let details = s
        .service
        .map_keys(
            &app,
            &km,
            key_type(&body.key_type)?,
            &ClientId::new(body.consumer_key),
            secret.as_ref(),
            &audit,
        )
        .await?;
    Ok(Json(KeyDto::from(&details)))
}

pub(super) async fn list_keys(
    State(s): State<ApiState>,
    _: Caller,
    Path(app): Path<String>,
) -> Answer<Json<ListDto<KeyDto>>> {
    let list = s
        .service
        .keys(&app)
        .await?
        .iter()
        .map(|(mapping, client)| KeyDto::listing(mapping, client.as_ref()))
        .collect();
    Ok(Json(ListDto::new(list)))
}

pub(super) async fn get_keys(
    State(s): State<ApiState>,
    _: Caller,
    Path((app, mapping)): Path<(String, String)>,
) -> Answer<Json<KeyDto>> {
    Ok(Json(KeyDto::from(&s.service.key_details(&app, &mapping).await?)))
}

pub(super) async fn update_keys(
    State(s): State<ApiState>,
    caller: Caller,
    Path((app, mapping)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateKeysDto>,
) -> Answer<Json<KeyDto>> {
    caller.check_client_scopes(&body.scopes)?;
    let req = UpdateKeys {
        grant_types: grant_types(&body.grant_types_to_be_supported),
        callback_url: body.callback_url,
        scopes: body.scopes,
        pkce_mandatory: body.pkce_mandatory,
        pkce_support_plain: body.pkce_support_plain,
        additional_properties: body.additional_properties,
    };
    Ok(Json(KeyDto::from(&s.service.update_keys(&app, &mapping, &req).await?)))
}

pub(super) async fn delete_keys(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path((app, mapping)): Path<(String, String)>,
) -> Answer<StatusCode> {
    s.service.delete_keys(&app, &mapping, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn generate_token(
    State(s): State<ApiState>,
    _: Caller,
    Path((app, mapping)): Path<(String, String)>,
    ApiJson(body): ApiJson<GenerateTokenDto>,
) -> Answer<Json<TokenDto>> {
    let grant = match (body.grant_type.as_deref(), body.username, body.password) {
        (None | Some("client_credentials"), _, _) => Grant::ClientCredentials,
        (Some("password"), Some(username), Some(password)) => Grant::Password {
            username,
            password: Token::new(password),
        },
        (Some("password"), _, _) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "the password grant needs username and password",
            )
            .field("username", "required with grantType password"))
        }
        (Some(other), _, _) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Not Supported",
                format!("grant type `{other}`: tokens are generated with client_credentials or password"),
            )
            .field("grantType", "client_credentials or password"))
        }
    };
    let token = s
        .service
        .generate_token(
            &app,
            &mapping,
            body.consumer_secret.map(ClientSecret::new),
            grant,
            body.scopes,
            body.validity_period,
            body.revoke_token.map(Token::new),
        )
        .await?;
    Ok(Json(TokenDto::from(&token)))
}

pub(super) async fn regenerate_secret(
    State(s): State<ApiState>,
    _: Caller,
    Path((app, mapping)): Path<(String, String)>,
) -> Answer<Json<RegeneratedDto>> {
    let client = s.service.regenerate_secret(&app, &mapping).await?;
    Ok(Json(RegeneratedDto {
        consumer_key: client.client_id.to_string(),
        consumer_secret: client.client_secret.map(|c| c.expose_secret().to_owned()),
    }))
}

pub(super) async fn list_secrets(
    State(s): State<ApiState>,
    _: Caller,
    Path((app, mapping)): Path<(String, String)>,
) -> Answer<Json<ListDto<SecretDto>>> {
    let secrets = s.service.secrets(&app, &mapping).await?;
    Ok(Json(ListDto::new(secrets.iter().map(SecretDto::from).collect())))
}

pub(super) async fn create_secret(
    State(s): State<ApiState>,
    _: Caller,
    Path((app, mapping)): Path<(String, String)>,
    ApiJson(body): ApiJson<CreateSecretDto>,
) -> Answer<(StatusCode, Json<CreatedSecretDto>)> {
    let spec = SecretSpec {
        description: body.description,
        expires_in: body.expires_in,
    };
    let issued = s.service.create_secret(&app, &mapping, &spec).await?;
    Ok((StatusCode::CREATED, Json(CreatedSecretDto::from(&issued))))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DeleteSecretQuery {
    #[serde(default)]
    revoke_tokens: bool,
}

pub(super) async fn delete_secret(
    State(s): State<ApiState>,
    _: Caller,
    Path((app, mapping, secret)): Path<(String, String, String)>,
    Query(q): Query<DeleteSecretQuery>,
) -> Answer<StatusCode> {
    s.service
        .delete_secret(&app, &mapping, &secret, q.revoke_tokens)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn introspect(
    State(s): State<ApiState>,
    _: Caller,
    Path(km): Path<String>,
    ApiJson(body): ApiJson<IntrospectDto>,
) -> Answer<Json<serde_json::Map<String, serde_json::Value>>> {
    let info = s
        .service
        .introspect(&km, &Token::new(body.token), body.token_type_hint)
        .await?;
    // RFC 7662's shape: the answer's own claims, with `active`.
    let mut claims = info.claims;
    claims.insert("active".into(), info.active.into());
    Ok(Json(claims))
}

pub(super) async fn revoke(
    State(s): State<ApiState>,
    _: Caller,
    Path(km): Path<String>,
    ApiJson(body): ApiJson<RevokeDto>,
) -> Answer<StatusCode> {
    let request = crate::model::RevocationRequest {
        token: Token::new(body.token),
        token_type_hint: body.token_type_hint,
        client_id: ClientId::new(body.client_id),
        client_secret: body.client_secret.map(ClientSecret::new),
    };
    s.service.revoke(&km, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn revoke_token(
    State(s): State<ApiState>,
    _: Caller,
    Path((app, mapping)): Path<(String, String)>,
    ApiJson(body): ApiJson<RevokeTokenDto>,
) -> Answer<StatusCode> {
    s.service
        .revoke_keys_token(
            &app,
            &mapping,
            Token::new(body.token),
            body.consumer_secret.map(ClientSecret::new),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list_users(State(s): State<ApiState>, _: Caller) -> Answer<Json<ListDto<UserDto>>> {
    let users = s.service.users()?.list_users().await?;
    Ok(Json(ListDto::new(
        users
            .into_iter()
            .map(|u| UserDto {
                username: u.username,
                subject: None,
                roles: u.roles,
                name: u.profile.name,
                email: u.profile.email,
                email_verified: u.profile.email_verified,
            })
            .collect(),
    )))
}

pub(super) async fn create_user(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    ApiJson(body): ApiJson<CreateUserDto>,
) -> Answer<(StatusCode, Json<UserDto>)> {
    audit.add_target("username", &body.username);
    let user = crate::NewUser {
        username: body.username.clone(),
        password: body.password.clone(),
        roles: body.roles.clone(),
        profile: crate::UserProfile {
            name: body.name.clone(),
            email: body.email.clone(),
            email_verified: body.email_verified,
        },
    };
    let subject = s.service.users()?.add_user(&user).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserDto {
            username: body.username,
            subject: Some(subject),
            roles: body.roles,
            name: body.name,
            email: body.email,
            email_verified: body.email_verified,
        }),
    ))
}

pub(super) async fn delete_user(
    State(s): State<ApiState>,
    _: Caller,
    Path(username): Path<String>,
) -> Answer<StatusCode> {
    s.service.users()?.delete_user(&username).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list_admin_tokens(
    State(s): State<ApiState>,
    _: Caller,
) -> Answer<Json<ListDto<crate::service::admin_tokens::AdminTokenInfo>>> {
    Ok(Json(ListDto::new(s.service.admin_tokens()?.list().await?)))
}

pub(super) async fn create_admin_token(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    ApiJson(body): ApiJson<CreateAdminTokenDto>,
) -> Answer<(StatusCode, Json<CreatedAdminTokenDto>)> {
    use secrecy::ExposeSecret;
    audit.add_target("name", &body.name);
    let token = s.service.admin_tokens()?.create(&body.name, &audit).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAdminTokenDto {
            name: body.name,
            token: token.expose_secret().to_owned(),
        }),
    ))
}

pub(super) async fn revoke_admin_token(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path(name): Path<String>,
) -> Answer<StatusCode> {
    s.service.admin_tokens()?.revoke(&name, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/audit`: filters and paging.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct AuditParams {
    actor: Option<String>,
    application_id: Option<String>,
    action: Option<String>,
    /// Seconds since the epoch, inclusive.
    since: Option<i64>,
    /// Seconds since the epoch, exclusive.
    until: Option<i64>,
    limit: Option<u32>,
    offset: Option<u32>,
}

/// The default and largest page of the audit trail.
const AUDIT_PAGE: (u32, u32) = (25, 500);

pub(super) async fn audit_trail(
    State(s): State<ApiState>,
    _: Caller,
    Query(p): Query<AuditParams>,
) -> Answer<Json<AuditListDto>> {
    let limit = p.limit.unwrap_or(AUDIT_PAGE.0);
    if limit == 0 || limit > AUDIT_PAGE.1 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            format!("limit must be from 1 to {}", AUDIT_PAGE.1),
        )
        .field("limit", format!("1 to {}", AUDIT_PAGE.1)));
    }
    let offset = p.offset.unwrap_or(0);
    let query = AuditQuery {
        actor: p.actor,
        application_id: p.application_id,
        action: p.action,
        since: p.since,
        until: p.until,
        limit,
        offset,
    };
    let page = s.service.audit_trail(&query).await?;
    let at = |offset: u32| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", query.actor.clone()),
            ("applicationId", query.application_id.clone()),
            ("action", query.action.clone()),
            ("since", query.since.map(|v| v.to_string())),
            ("until", query.until.map(|v| v.to_string())),
        ] {
            if let Some(v) = v {
                q.append_pair(k, &v);
            }
        }
        q.append_pair("limit", &limit.to_string());
        q.append_pair("offset", &offset.to_string());
        q.finish()
    };
    let end = u64::from(offset).saturating_add(page.records.len() as u64);
    let pagination = PaginationDto {
        offset,
        limit,
        total: page.total,
        next: (end < page.total).then(|| at(offset.saturating_add(limit))),
        previous: (offset > 0).then(|| at(offset.saturating_sub(limit))),
    };
    Ok(Json(AuditListDto {
        count: page.records.len(),
        list: page.records,
        pagination,
    }))
}
