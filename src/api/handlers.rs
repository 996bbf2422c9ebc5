//! One handler per route.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use super::access::{Caller, ClientAddress};
use super::dto::*;
use super::paging::{page_of, PageParams};
use super::{ApiError, ApiJson, ApiState};
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
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::document_json(),
    )
}

pub(super) async fn key_managers(
    State(s): State<ApiState>,
    _: Caller,
    Query(page): Query<PageParams>,
) -> Answer<Json<ListDto<KeyManagerDto>>> {
    let views = s.service.key_manager_views().await?;
    Ok(Json(page_of(
        views
            .iter()
            .map(|v| KeyManagerDto {
                settings: None,
                ..KeyManagerDto::from(v)
            })
            .collect(),
        &page,
    )?))
}

pub(super) async fn get_key_manager(
    State(s): State<ApiState>,
    _: Caller,
    Path(km): Path<String>,
) -> Answer<Json<KeyManagerDto>> {
    Ok(Json(KeyManagerDto::from(&s.service.view(&km).await?)))
}

pub(super) async fn create_key_manager(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    ApiJson(body): ApiJson<CreateKeyManagerDto>,
) -> Answer<(StatusCode, Json<KeyManagerDto>)> {
    let new = crate::service::key_managers::NewKeyManager {
        name: body.name,
        kind: body.kind,
        settings: body.settings,
        enabled: body.enabled,
        allow_insecure_http: body.allow_insecure_http,
    };
    audit.add_target("keyManager", &new.name);
    let view = s.service.add_key_manager(&new, &audit).await?;
    Ok((StatusCode::CREATED, Json(KeyManagerDto::from(&view))))
}

pub(super) async fn update_key_manager(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path(km): Path<String>,
    ApiJson(body): ApiJson<UpdateKeyManagerDto>,
) -> Answer<Json<KeyManagerDto>> {
    let change = crate::service::key_managers::KeyManagerChange {
        settings: body.settings,
        enabled: body.enabled,
    };
    audit.add_target("keyManager", &km);
    Ok(Json(KeyManagerDto::from(
        &s.service.update_key_manager(&km, &change, &audit).await?,
    )))
}

/// `DELETE /api/key-managers/{keyManager}`: `force=true` removes it with its key mappings.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct RemoveParams {
    /// Remove it with its key mappings (the clients at the provider are left alone).
    #[serde(default)]
    force: bool,
}

pub(super) async fn delete_key_manager(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path(km): Path<String>,
    Query(p): Query<RemoveParams>,
) -> Answer<StatusCode> {
    audit.add_target("keyManager", &km);
    s.service.remove_key_manager(&km, p.force, &audit).await?;
    Ok(StatusCode::NO_CONTENT)
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
        .create_application(
            &body.name,
            body.description.as_deref(),
            &body.attributes,
            &owner,
            &audit,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(app.into())))
}

pub(super) async fn discover_key_manager(
    State(s): State<ApiState>,
    _: Caller,
    ApiJson(body): ApiJson<DiscoverDto>,
) -> Answer<Json<DiscoveredDto>> {
    let p = crate::service::discover::propose(&body.url, s.service.egress()).await?;
    let list = |l: &Option<Vec<String>>| l.clone().unwrap_or_default();
    // A connector that knows this provider proposes its own type; else the standards-based `oidc` one.
    let (kind, config_toml, settings) = match s.service.recognise_provider(&p.metadata) {
        Some((kind, settings, missing)) => {
            let toml = crate::service::discover::as_toml_for(&kind, &settings, &missing);
            (kind, toml, settings)
        }
        None => (
            "oidc".to_owned(),
            crate::service::discover::as_toml(&p),
            p.settings.clone(),
        ),
    };
    Ok(Json(DiscoveredDto {
        kind,
        openid: p.metadata.openid,
        grant_types: list(&p.metadata.grant_types_supported),
        code_challenge_methods: list(&p.metadata.code_challenge_methods_supported),
        token_endpoint_auth_methods: list(&p.metadata.token_endpoint_auth_methods_supported),
        config_toml,
        settings,
    }))
}

pub(super) async fn update_application(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<UpdateApplicationDto>,
) -> Answer<Json<ApplicationDto>> {
    let change = crate::service::ApplicationChange {
        name: body.name,
        description: body.description,
        attributes: body.attributes,
    };
    Ok(Json(s.service.update_application(&app, &change, &audit).await?.into()))
}

pub(super) async fn list_applications(
    State(s): State<ApiState>,
    caller: Caller,
    Query(p): Query<super::paging::ApplicationListParams>,
) -> Answer<Json<ListDto<ApplicationDto>>> {
    use crate::service::{ApplicationOrder, ApplicationQuery};
    let (limit, offset) = super::paging::bounds(p.limit, p.offset)?;
    let bad = |field: &'static str, expected: &'static str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            format!("{field} must be {expected}"),
        )
        .field(field, expected)
    };
    let order = match p.sort_by.as_deref() {
        None | Some("createdTime") => ApplicationOrder::CreatedTime,
        Some("name") => ApplicationOrder::Name,
        Some(_) => return Err(bad("sortBy", "createdTime or name")),
    };
    let descending = match p.sort_order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad("sortOrder", "asc or desc")),
    };
    let text = p.query.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if text.is_some_and(|t| t.chars().count() > 100) {
        return Err(bad("query", "at most 100 characters"));
    }
    let query = ApplicationQuery {
        owner: caller.visible_owner().map(str::to_owned),
        text: text.map(str::to_owned),
        order,
        descending,
        limit,
        offset,
    };
    let page = s.service.applications(&query).await?;
    let link = |o: u32| {
        super::paging::query_string(
            &[
                ("query", query.text.clone()),
                ("sortBy", p.sort_by.clone()),
                ("sortOrder", p.sort_order.clone()),
            ],
            limit,
            o,
        )
    };
    let pagination = super::paging::pagination(offset, limit, page.total, page.list.len(), link);
    Ok(Json(ListDto::page(
        page.list.into_iter().map(Into::into).collect(),
        pagination,
    )))
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

/// The keys' own authentication failed at their key manager (a wrong consumer secret): a refusal of those keys,
/// `400 invalid_client` naming `field`, never a `401` with a challenge, which would tell the caller their own
/// credentials were wrong.
fn keys_refused(field: &'static str) -> impl Fn(crate::Error) -> ApiError {
    move |e| match e {
        crate::Error::Unauthorized { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            format!(
                "the {} was not accepted by the key manager",
                if field == "clientSecret" {
                    "client secret"
                } else {
                    "consumer secret"
                }
            ),
        )
        .field(field, "not accepted"),
        other => ApiError::from(other),
    }
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
        .await
        .map_err(keys_refused("consumerSecret"))?;
    Ok(Json(KeyDto::from(&details)))
}

pub(super) async fn list_keys(
    State(s): State<ApiState>,
    _: Caller,
    Path(app): Path<String>,
    Query(page): Query<PageParams>,
) -> Answer<Json<ListDto<KeyDto>>> {
    let list = s
        .service
        .keys(&app)
        .await?
        .iter()
        .map(|(mapping, client)| KeyDto::listing(mapping, client.as_ref()))
        .collect();
    Ok(Json(page_of(list, &page)?))
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
        access_token_lifetime: body.validity_time,
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
    ClientAddress(address): ClientAddress,
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
            address,
        )
        .await
        .map_err(keys_refused("consumerSecret"))?;
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
    Query(page): Query<PageParams>,
) -> Answer<Json<ListDto<SecretDto>>> {
    let secrets = s.service.secrets(&app, &mapping).await?;
    Ok(Json(page_of(secrets.iter().map(SecretDto::from).collect(), &page)?))
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(super) struct DeleteSecretQuery {
    /// Also revoke the tokens issued with this secret, where the key manager can.
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

pub(super) async fn list_scopes(
    State(s): State<ApiState>,
    _: Caller,
    Path(km): Path<String>,
    Query(page): Query<PageParams>,
) -> Answer<Json<ListDto<ScopeDto>>> {
    let all: Vec<ScopeDto> = s.service.scopes(&km).await?.into_iter().map(ScopeDto::from).collect();
    Ok(Json(page_of(all, &page)?))
}

pub(super) async fn create_scope(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path(km): Path<String>,
    ApiJson(body): ApiJson<ScopeDto>,
) -> Answer<(StatusCode, Json<ScopeDto>)> {
    audit.add_target("keyManager", &km);
    audit.add_target("scope", &body.name);
    let made = s.service.create_scope(&km, &body.into()).await?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

pub(super) async fn delete_scope(
    State(s): State<ApiState>,
    _: Caller,
    Path((km, scope)): Path<(String, String)>,
) -> Answer<StatusCode> {
    s.service.delete_scope(&km, &scope).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn introspect(
    State(s): State<ApiState>,
    _: Caller,
    Path(km): Path<String>,
    ApiJson(body): ApiJson<IntrospectDto>,
) -> Answer<Json<IntrospectionDto>> {
    let info = s
        .service
        .introspect(&km, &Token::new(body.token), body.token_type_hint)
        .await?;
    // RFC 7662's shape: the answer's own claims, with `active`.
    let mut claims = info.claims;
    claims.remove("active");
    Ok(Json(IntrospectionDto {
        active: info.active,
        claims,
    }))
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
    s.service
        .revoke(&km, &request)
        .await
        .map_err(keys_refused("clientSecret"))?;
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
        .await
        .map_err(keys_refused("consumerSecret"))?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn list_users(
    State(s): State<ApiState>,
    _: Caller,
    Query(page): Query<PageParams>,
) -> Answer<Json<ListDto<UserDto>>> {
    let users = s.service.users()?.list_users().await?;
    Ok(Json(page_of(users.into_iter().map(UserDto::from).collect(), &page)?))
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

pub(super) async fn update_user(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<UpdateUserDto>,
) -> Answer<Json<UserDto>> {
    audit.add_target("username", &username);
    let profile =
        (body.name.is_some() || body.email.is_some() || body.email_verified.is_some()).then(|| crate::UserProfile {
            name: body.name.clone(),
            email: body.email.clone(),
            email_verified: body.email_verified.unwrap_or(false),
        });
    let change = crate::UserChange {
        password: body.password.clone(),
        roles: body.roles.clone(),
        profile,
    };
    let u = s.service.users()?.update_user(&username, &change).await?;
    Ok(Json(UserDto::from(u)))
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
    Query(page): Query<PageParams>,
) -> Answer<Json<ListDto<crate::service::admin_tokens::AdminTokenInfo>>> {
    Ok(Json(page_of(s.service.admin_tokens()?.list().await?, &page)?))
}

pub(super) async fn list_signing_keys(
    State(s): State<ApiState>,
    _: Caller,
) -> Answer<Json<ListDto<crate::signing_keys::SigningKeyInfo>>> {
    let list = s.service.signing_keys()?.list_signing_keys().await?;
    Ok(Json(ListDto::new(list)))
}

pub(super) async fn rotate_signing_keys(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    ApiJson(body): ApiJson<crate::api::dto::RotateSigningKeysDto>,
) -> Answer<Json<ListDto<crate::signing_keys::SigningKeyInfo>>> {
    let list = s
        .service
        .rotate_signing_keys(crate::signing_keys::KeyRotation {
            pre_publish_seconds: body.pre_publish_seconds,
            retire_after_seconds: body.retire_after_seconds,
        })
        .await?;
    for key in list
        .iter()
        .filter(|k| k.phase == crate::signing_keys::SigningKeyPhase::Published)
    {
        audit.add_target("kid", &key.kid);
    }
    Ok(Json(ListDto::new(list)))
}

pub(super) async fn retire_signing_key(
    State(s): State<ApiState>,
    _: Caller,
    audit: Audit,
    Path(kid): Path<String>,
) -> Answer<Json<crate::signing_keys::SigningKeyInfo>> {
    audit.add_target("kid", &kid);
    Ok(Json(s.service.retire_signing_key(&kid).await?))
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
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditParams {
    /// An admin token's name, a user's subject or a client id.
    actor: Option<String>,
    /// The application concerned.
    application_id: Option<String>,
    /// `noun.verb`, e.g. `application.create`.
    action: Option<String>,
    /// Seconds since the epoch, inclusive.
    since: Option<i64>,
    /// Seconds since the epoch, exclusive.
    until: Option<i64>,
    /// Page size: 1 to 500 (25 by default).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// Items skipped (0 by default).
    offset: Option<u32>,
}

pub(super) async fn audit_trail(
    State(s): State<ApiState>,
    _: Caller,
    Query(p): Query<AuditParams>,
) -> Answer<Json<AuditListDto>> {
    let (limit, offset) = super::paging::bounds(p.limit, p.offset)?;
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
    let link = |o: u32| {
        super::paging::query_string(
            &[
                ("actor", query.actor.clone()),
                ("applicationId", query.application_id.clone()),
                ("action", query.action.clone()),
                ("since", query.since.map(|v| v.to_string())),
                ("until", query.until.map(|v| v.to_string())),
            ],
            limit,
            o,
        )
    };
    let pagination = super::paging::pagination(offset, limit, page.total, page.records.len(), link);
    Ok(Json(AuditListDto {
        count: page.records.len(),
        list: page.records,
        pagination,
    }))
}
