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
use crate::service::{grant_types, GenerateKeys, UpdateKeys};

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
            })
            .collect(),
    ))
}

pub(super) async fn create_application(
    State(s): State<ApiState>,
    _: Caller,
    ApiJson(body): ApiJson<CreateApplicationDto>,
) -> Answer<(StatusCode, Json<ApplicationDto>)> {
    let app = s.service.create_application(&body.name, &body.owner).await?;
    Ok((StatusCode::CREATED, Json(app.into())))
}

pub(super) async fn list_applications(State(s): State<ApiState>, _: Caller) -> Answer<Json<ListDto<ApplicationDto>>> {
    let apps = s.service.applications().await?;
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
    Path(app): Path<String>,
) -> Answer<StatusCode> {
    s.service.delete_application(&app).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn generate_keys(
    State(s): State<ApiState>,
    _: Caller,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<GenerateKeysDto>,
) -> Answer<Json<KeyDto>> {
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
    let generated = s.service.generate_keys(&app, &req).await?;
    Ok(Json(KeyDto::from(&generated)))
}

pub(super) async fn map_keys(
    State(s): State<ApiState>,
    _: Caller,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<MapKeysDto>,
) -> Answer<Json<KeyDto>> {
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
    _: Caller,
    Path((app, mapping)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateKeysDto>,
) -> Answer<Json<KeyDto>> {
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
    Path((app, mapping)): Path<(String, String)>,
) -> Answer<StatusCode> {
    s.service.delete_keys(&app, &mapping).await?;
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
    let names = s.service.users()?.list_users().await?;
    Ok(Json(ListDto::new(
        names
            .into_iter()
            .map(|username| UserDto {
                username,
                subject: None,
            })
            .collect(),
    )))
}

pub(super) async fn create_user(
    State(s): State<ApiState>,
    _: Caller,
    ApiJson(body): ApiJson<CreateUserDto>,
) -> Answer<(StatusCode, Json<UserDto>)> {
    let subject = s.service.users()?.add_user(&body.username, &body.password).await?;
    Ok((
        StatusCode::CREATED,
        Json(UserDto {
            username: body.username,
            subject: Some(subject),
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
    ApiJson(body): ApiJson<CreateAdminTokenDto>,
) -> Answer<(StatusCode, Json<CreatedAdminTokenDto>)> {
    use secrecy::ExposeSecret;
    let token = s.service.admin_tokens()?.create(&body.name).await?;
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
    Path(name): Path<String>,
) -> Answer<StatusCode> {
    s.service.admin_tokens()?.revoke(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}
