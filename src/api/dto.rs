//! The management API's JSON shapes, in the platform's camelCase vocabulary. The CLI's `--json` prints the same.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{AccessToken, Capabilities, IssuedSecret, OAuthClient, SecretInfo, SecretStatus};
use crate::service::{Application, GeneratedKeys, KeyDetails, KeyMapping};

/// `Debug` for a shape that carries secrets: the other fields as they are, each secret as `[REDACTED]`, so that a
/// shape logged or printed by mistake never shows a token, a client secret or a password.
macro_rules! debug_hiding {
    ($ty:ident { $($shown:ident),* } hiding { $($secret:ident),+ }) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    $(.field(stringify!($shown), &self.$shown))*
                    $(.field(stringify!($secret), &format_args!("[REDACTED]")))+
                    .finish()
            }
        }
    };
}

/// Every list: `{count, list}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ListDto<T> {
    /// How many on this page.
    pub count: usize,
    /// The items.
    pub list: Vec<T>,
    /// Where this page is in the whole list (WSO2's `pagination`); the API's list routes always say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<PaginationDto>,
}

/// Written out rather than derived: a list's schema is inlined where it is used (one `ListDto` component could not
/// say what it lists), so it also records the component of what it lists.
impl<T: utoipa::ToSchema> utoipa::PartialSchema for ListDto<T> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        use utoipa::openapi::Ref;
        ObjectBuilder::new()
            .property(
                "count",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .description(Some("How many on this page.")),
            )
            .required("count")
            .property("list", ArrayBuilder::new().items(Ref::from_schema_name(T::name())))
            .required("list")
            .property(
                "pagination",
                Ref::from_schema_name(<PaginationDto as utoipa::ToSchema>::name()),
            )
            .description(Some(
                "One page of a list; `pagination` says where it is in the whole list.",
            ))
            .into()
    }
}

impl<T: utoipa::ToSchema> utoipa::ToSchema for ListDto<T> {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        schemas.push((T::name().into_owned(), <T as utoipa::PartialSchema>::schema()));
        T::schemas(schemas);
        schemas.push((
            <PaginationDto as utoipa::ToSchema>::name().into_owned(),
            <PaginationDto as utoipa::PartialSchema>::schema(),
        ));
        PaginationDto::schemas(schemas);
    }
}

impl<T> ListDto<T> {
    /// Wrap items: the whole list.
    pub fn new(list: Vec<T>) -> Self {
        ListDto {
            count: list.len(),
            list,
            pagination: None,
        }
    }

    /// One page of a longer list.
    pub fn page(list: Vec<T>, pagination: PaginationDto) -> Self {
        ListDto {
            count: list.len(),
            list,
            pagination: Some(pagination),
        }
    }
}

/// A configured key manager.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyManagerDto {
    /// Name.
    pub name: String,
    /// Connector type.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it supports.
    pub capabilities: Capabilities,
    /// The issuer of its tokens (where its OAuth and OpenID metadata are found).
    pub issuer: String,
    /// Defined in the configuration file: read-only through the API.
    #[serde(default)]
    pub read_only: bool,
    /// Takes new keys and tokens.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Its connector settings (key managers added at run time; secret ones shown as `********`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

fn yes() -> bool {
    true
}

impl From<&crate::service::key_managers::KeyManagerView> for KeyManagerDto {
    fn from(v: &crate::service::key_managers::KeyManagerView) -> Self {
        KeyManagerDto {
            name: v.key_manager.name().to_owned(),
            kind: v.key_manager.kind().to_owned(),
            capabilities: v.key_manager.capabilities(),
            issuer: v.key_manager.token_profile().issuer,
            read_only: v.read_only,
            enabled: v.enabled,
            settings: v.settings.clone(),
        }
    }
}

/// `POST /api/key-managers`: a key manager to add at run time.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyManagerDto {
    /// Its name (unique).
    pub name: String,
    /// Its connector type (`oidc`, `okta`, `keycloak`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its connector settings, as the connector's descriptor declares them.
    #[serde(default)]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Whether it takes new keys at once.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Plain `http://` endpoints allowed off loopback.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// `PUT /api/key-managers/{keyManager}`: settings given replace the stored ones (a secret one left out, or sent as
/// `********`, keeps its value; `null` removes one); `enabled` switches it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateKeyManagerDto {
    /// Settings to replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
    /// Enable or disable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A scope a key manager knows: `GET` and `POST /api/key-managers/{keyManager}/scopes`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopeDto {
    /// The scope token (RFC 6749 §3.3).
    pub name: String,
    /// What it lets an application do, in words people read on the consent page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A short name for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

impl From<crate::model::Scope> for ScopeDto {
    fn from(s: crate::model::Scope) -> Self {
        ScopeDto {
            name: s.name,
            description: s.description,
            display_name: s.display_name,
        }
    }
}

impl From<ScopeDto> for crate::model::Scope {
    fn from(s: ScopeDto) -> Self {
        crate::model::Scope {
            name: s.name,
            description: s.description,
            display_name: s.display_name,
        }
    }
}

/// `POST /api/key-managers/discover`: where a provider's metadata is.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiscoverDto {
    /// The issuer, or its well-known URL (`…/.well-known/openid-configuration`,
    /// `…/.well-known/oauth-authorization-server…`).
    pub url: String,
}

/// What discovery proposes: a key manager of type `oidc` for the provider, as WSO2's "import from well-known URL"
/// does, with what the provider says it supports.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredDto {
    /// The connector type proposed.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the provider published a complete OpenID provider's document.
    pub openid: bool,
    /// The proposed connection settings (the provider's endpoints; secrets are for the operator to add).
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Grant types the provider supports.
    pub grant_types: Vec<String>,
    /// PKCE methods it supports.
    pub code_challenge_methods: Vec<String>,
    /// Client authentication methods at its token endpoint.
    pub token_endpoint_auth_methods: Vec<String>,
    /// The same proposal as a `[[key_manager]]` table to paste into the configuration.
    pub config_toml: String,
}

/// `POST /api/applications`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApplicationDto {
    /// Name.
    pub name: String,
    /// Owner: the caller by default; only an administrator may name another (and an admin token must).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Attributes: key/value pairs (WSO2's application attributes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// `PUT /api/applications/{applicationId}`: what is given is replaced (attributes all together); what is left out
/// stays.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateApplicationDto {
    /// New name (unique per owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New description; empty removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// New attributes, replacing all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
}

/// `PUT /api/applications/{applicationId}/owner`: give an application to another owner.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransferApplicationDto {
    /// The new owner.
    pub owner: String,
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditListDto {
    /// How many on this page.
    pub count: usize,
    /// The records.
    pub list: Vec<crate::service::AuditRecord>,
    /// Where this page is.
    pub pagination: PaginationDto,
}

/// A page's place in a list (WSO2's `pagination` object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaginationDto {
    /// Items skipped.
    pub offset: u32,
    /// Page size.
    pub limit: u32,
    /// Items in all.
    pub total: u64,
    /// The query string of the next page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The query string of the previous page, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// An application.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDto {
    /// Id.
    pub application_id: String,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner: String,
    /// Creation time, seconds since the epoch.
    pub created_time: i64,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Attributes: key/value pairs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl From<Application> for ApplicationDto {
    fn from(a: Application) -> Self {
        ApplicationDto {
            application_id: a.id,
            name: a.name,
            owner: a.owner,
            created_time: a.created_at,
            description: a.description,
            attributes: a.attributes,
        }
    }
}

fn default_grant_types() -> Vec<String> {
    vec!["client_credentials".into()]
}

/// `POST /api/applications/{applicationId}/generate-keys`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateKeysDto {
    /// `PRODUCTION` or `SANDBOX` (any case).
    pub key_type: String,
    /// The key manager; default: the first configured.
    pub key_manager: Option<String>,
    /// Grant types; default `client_credentials`.
    #[serde(default = "default_grant_types")]
    pub grant_types_to_be_supported: Vec<String>,
    /// Redirect URI.
    pub callback_url: Option<String>,
    /// Allowed scopes.
    #[serde(default)]
    pub scopes: crate::model::Scopes,
    /// Lifetime of the first token, seconds.
    pub validity_time: Option<u64>,
    /// PKCE required.
    #[serde(default)]
    pub pkce_mandatory: bool,
    /// PKCE `plain` allowed.
    #[serde(default)]
    pub pkce_support_plain: bool,
    /// A public client (no secret).
    #[serde(default)]
    pub bypass_client_credentials: bool,
    /// Provider-specific properties.
    #[serde(default)]
    pub additional_properties: serde_json::Map<String, serde_json::Value>,
    /// Issue a first token.
    #[serde(default)]
    pub generate_token: bool,
}

/// `PUT /api/applications/{applicationId}/oauth-keys/{keyMappingId}`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateKeysDto {
    /// Grant types.
    pub grant_types_to_be_supported: Vec<String>,
    /// Redirect URI.
    pub callback_url: Option<String>,
    /// Allowed scopes.
    #[serde(default)]
    pub scopes: crate::model::Scopes,
    /// PKCE required.
    #[serde(default)]
    pub pkce_mandatory: bool,
    /// PKCE `plain` allowed.
    #[serde(default)]
    pub pkce_support_plain: bool,
    /// Provider-specific properties.
    #[serde(default)]
    pub additional_properties: serde_json::Map<String, serde_json::Value>,
    /// The longest lifetime of the client's access tokens, seconds (kept when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_time: Option<u64>,
}

/// `POST /api/applications/{applicationId}/map-keys`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MapKeysDto {
    /// The existing client id.
    pub consumer_key: String,
    /// Its secret (absent for a public client).
    pub consumer_secret: Option<String>,
    /// The key manager; default: the first configured.
    pub key_manager: Option<String>,
    /// `PRODUCTION` or `SANDBOX`.
    pub key_type: String,
}

/// An access token as the API answers it.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenDto {
    /// The token.
    pub access_token: String,
    /// Lifetime, seconds.
    pub validity_time: Option<u64>,
    /// Granted scopes.
    pub token_scopes: crate::model::Scopes,
}

impl From<&AccessToken> for TokenDto {
    fn from(t: &AccessToken) -> Self {
        TokenDto {
            access_token: t.access_token.expose_secret().to_owned(),
            validity_time: t.expires_in,
            token_scopes: t.scopes.clone(),
        }
    }
}

/// An application's keys of one key type at one key manager.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyDto {
    /// Mapping id.
    pub key_mapping_id: String,
    /// Key manager.
    pub key_manager: String,
    /// `PRODUCTION` or `SANDBOX`.
    pub key_type: String,
    /// The client id.
    pub consumer_key: String,
    /// The client secret: right after generation or regeneration, and again when its key manager keeps secrets
    /// retrievable (`client_secret_storage = "retrievable"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_secret: Option<String>,
    /// `COMPLETED`, or `CLIENT_MISSING` when the key manager no longer has the client.
    pub key_state: String,
    /// `GENERATED` or `MAPPED`.
    pub key_origin: String,
    /// Grant types.
    pub supported_grant_types: Vec<String>,
    /// Redirect URI.
    pub callback_url: Option<String>,
    /// Allowed scopes.
    pub scopes: crate::model::Scopes,
    /// PKCE required.
    pub pkce_mandatory: bool,
    /// PKCE `plain` allowed.
    pub pkce_support_plain: bool,
    /// A public client.
    pub bypass_client_credentials: bool,
    /// The longest lifetime of the client's access tokens, seconds, when it sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_time: Option<u64>,
    /// The first token, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenDto>,
    /// Why the first token could not be issued (the keys exist all the same).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_error: Option<String>,
}

impl KeyDto {
    /// A mapping and its client.
    pub fn new(mapping: &KeyMapping, client: &OAuthClient) -> Self {
        KeyDto {
            key_mapping_id: mapping.id.clone(),
            key_manager: mapping.key_manager.clone(),
            key_type: mapping.key_type.as_str().into(),
            consumer_key: client.client_id.to_string(),
            consumer_secret: client.client_secret.as_ref().map(|s| s.expose_secret().to_owned()),
            key_state: mapping.state.as_str().into(),
            key_origin: mapping.origin.as_str().into(),
            supported_grant_types: client.grant_types.iter().map(|g| g.to_string()).collect(),
            callback_url: client.redirect_uris.first().cloned(),
            scopes: client.scopes.clone(),
            pkce_mandatory: client.pkce.required,
            pkce_support_plain: client.pkce.allow_plain,
            bypass_client_credentials: client.public_client,
            validity_time: client.access_token_lifetime,
            token: None,
            token_error: None,
        }
    }
}

impl KeyDto {
    /// A mapping in a listing: with its client, or (`keyState: CLIENT_MISSING`) without one.
    pub fn listing(mapping: &KeyMapping, client: Option<&OAuthClient>) -> Self {
        match client {
            Some(c) => KeyDto::new(mapping, c),
            None => KeyDto {
                key_mapping_id: mapping.id.clone(),
                key_manager: mapping.key_manager.clone(),
                key_type: mapping.key_type.as_str().into(),
                consumer_key: mapping.client_id.clone(),
                consumer_secret: None,
                key_state: mapping.state.as_str().into(),
                key_origin: mapping.origin.as_str().into(),
                supported_grant_types: Vec::new(),
                callback_url: None,
                scopes: crate::model::Scopes::new(),
                pkce_mandatory: false,
                pkce_support_plain: false,
                bypass_client_credentials: false,
                validity_time: None,
                token: None,
                token_error: None,
            },
        }
    }
}

impl From<&KeyDetails> for KeyDto {
    fn from(k: &KeyDetails) -> Self {
        KeyDto::new(&k.mapping, &k.client)
    }
}

impl From<&GeneratedKeys> for KeyDto {
    fn from(g: &GeneratedKeys) -> Self {
        KeyDto {
            token: g.token.as_ref().map(TokenDto::from),
            token_error: g.token_error.as_ref().map(|e| e.to_string()),
            ..KeyDto::new(&g.mapping, &g.client)
        }
    }
}

/// `POST …/generate-token`.
#[derive(Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateTokenDto {
    /// The client secret.
    pub consumer_secret: Option<String>,
    /// Lifetime, seconds.
    pub validity_period: Option<u64>,
    /// Scopes.
    #[serde(default)]
    pub scopes: crate::model::Scopes,
    /// `client_credentials` (the default), or `password` (for testing, with `username` and `password`).
    pub grant_type: Option<String>,
    /// The user, for the password grant.
    pub username: Option<String>,
    /// The user's password, for the password grant.
    pub password: Option<String>,
    /// A token of this client to revoke first.
    pub revoke_token: Option<String>,
}

/// `POST …/regenerate-secret`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegeneratedDto {
    /// The client id.
    pub consumer_key: String,
    /// The new secret, this once.
    pub consumer_secret: Option<String>,
}

/// `POST …/secrets`.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSecretDto {
    /// Description.
    pub description: Option<String>,
    /// Seconds until it expires.
    pub expires_in: Option<u64>,
}

/// A secret right after creation.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedSecretDto {
    /// Id.
    pub secret_id: String,
    /// The plain value, this once.
    pub secret_value: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time, seconds since the epoch.
    pub created_time: i64,
    /// Expiry, seconds since the epoch.
    pub expires_at: Option<i64>,
}

impl From<&IssuedSecret> for CreatedSecretDto {
    fn from(s: &IssuedSecret) -> Self {
        CreatedSecretDto {
            secret_id: s.id.clone(),
            secret_value: s.secret.expose_secret().to_owned(),
            description: s.info.description.clone(),
            created_time: s.info.created_at,
            expires_at: s.info.expires_at,
        }
    }
}

/// A secret as listed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretDto {
    /// Id.
    pub secret_id: String,
    /// The masked value.
    pub masked_secret: String,
    /// Description.
    pub description: Option<String>,
    /// Creation time, seconds since the epoch.
    pub created_time: i64,
    /// Expiry, seconds since the epoch.
    pub expires_at: Option<i64>,
    /// `ACTIVE`, `INACTIVE` or `EXPIRED`.
    pub status: SecretStatus,
}

impl From<&SecretInfo> for SecretDto {
    fn from(s: &SecretInfo) -> Self {
        SecretDto {
            secret_id: s.id.clone(),
            masked_secret: s.masked.clone(),
            description: s.description.clone(),
            created_time: s.created_at,
            expires_at: s.expires_at,
            status: s.status,
        }
    }
}

/// One field-level problem.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldErrorDto {
    /// The field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Every error answer.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDto {
    /// The HTTP status.
    pub code: u16,
    /// A short title.
    pub message: String,
    /// What went wrong.
    pub description: String,
    /// Field-level problems.
    pub errors: Vec<FieldErrorDto>,
}

/// `POST /api/key-managers/{keyManager}/introspect`: a token to introspect (RFC 7662).
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IntrospectDto {
    /// The token.
    pub token: String,
    /// `access_token` or `refresh_token`.
    pub token_type_hint: Option<crate::model::TokenTypeHint>,
}

/// The answer of `POST /api/key-managers/{keyManager}/introspect`: the key manager's (RFC 7662 §2.2), `active`
/// and, for an active token, its claims as the key manager gave them.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntrospectionDto {
    /// Whether the token is active now.
    pub active: bool,
    /// The token's other claims (`scope`, `client_id`, `exp`, `sub`, …).
    #[serde(flatten)]
    #[schema(additional_properties)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// `POST /api/key-managers/{keyManager}/revoke`: revoke a token as the client it was issued to (RFC 7009).
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeDto {
    /// The token.
    pub token: String,
    /// The client it was issued to.
    pub client_id: String,
    /// That client's secret (none for a public client).
    pub client_secret: Option<String>,
    /// `access_token` or `refresh_token`.
    pub token_type_hint: Option<crate::model::TokenTypeHint>,
}

/// `POST …/oauth-keys/{keyMappingId}/revoke-token`: revoke a token issued to these keys.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeTokenDto {
    /// The token.
    pub token: String,
    /// The client secret (none for a public client).
    pub consumer_secret: Option<String>,
}

/// `POST /api/gateway/dpop-proofs`: a DPoP proof a gateway accepted, to be used once across every gateway node.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DpopProofDto {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key (43 base64url characters).
    pub jkt: String,
    /// The proof's `jti` (1 to 256 characters).
    pub jti: String,
}

/// `POST /api/users`: a user of the resident key manager.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateUserDto {
    /// Login name.
    pub username: String,
    /// Password (hashed with argon2id; never stored or shown).
    pub password: String,
    /// Roles (`admin` lets the user be granted `keymanager:admin` at the resident key manager).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Full name (OpenID Connect `name`, with scope `profile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address (OpenID Connect `email`, with scope `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the address was verified.
    #[serde(default)]
    pub email_verified: bool,
}

/// `PUT /api/users/{username}`: what changes (a field left out is kept). `name`, `email` and `emailVerified` go
/// together: any of them replaces the user's OpenID Connect claims with those given. A new password or changed roles
/// end the user's sessions and revoke the tokens of its grants.
#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserDto {
    /// A new password (hashed with argon2id; never stored or shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// New roles, replacing the old ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the address was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// A user.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    /// Login name.
    pub username: String,
    /// Stable subject (`sub`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the address was verified.
    #[serde(default)]
    pub email_verified: bool,
}

impl From<crate::UserInfo> for UserDto {
    fn from(u: crate::UserInfo) -> Self {
        UserDto {
            username: u.username,
            subject: None,
            roles: u.roles,
            name: u.profile.name,
            email: u.profile.email,
            email_verified: u.profile.email_verified,
        }
    }
}

/// `POST /api/signing-keys/rotate`.
#[derive(Debug, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateSigningKeysDto {
    /// Seconds between publishing the new keys and their first signature; default: the key manager's
    /// `signing_key_pre_publication`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_publish_seconds: Option<u64>,
    /// Seconds the old keys stay published after they stop signing; default: the longest token lifetime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retire_after_seconds: Option<u64>,
}

/// `POST /api/admin-tokens`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateAdminTokenDto {
    /// Its name: 1 to 64 letters, digits, `.`, `_` or `-`, beginning with a letter or a digit.
    pub name: String,
}

/// A new admin token, shown this once.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedAdminTokenDto {
    /// Its name.
    pub name: String,
    /// The token.
    pub token: String,
}

debug_hiding!(MapKeysDto { consumer_key, key_manager, key_type } hiding { consumer_secret });
debug_hiding!(TokenDto { validity_time, token_scopes } hiding { access_token });
debug_hiding!(KeyDto { key_mapping_id, key_manager, key_type, consumer_key, key_state, key_origin, supported_grant_types, callback_url, scopes, pkce_mandatory, pkce_support_plain, bypass_client_credentials, validity_time, token, token_error } hiding { consumer_secret });
debug_hiding!(GenerateTokenDto { validity_period, scopes, grant_type, username } hiding { consumer_secret, password, revoke_token });
debug_hiding!(RegeneratedDto { consumer_key } hiding { consumer_secret });
debug_hiding!(CreatedSecretDto { secret_id, description, created_time, expires_at } hiding { secret_value });
debug_hiding!(IntrospectDto { token_type_hint } hiding { token });
debug_hiding!(RevokeDto { client_id, token_type_hint } hiding { token, client_secret });
debug_hiding!(RevokeTokenDto {  } hiding { token, consumer_secret });
debug_hiding!(CreateUserDto { username, roles, name, email, email_verified } hiding { password });
debug_hiding!(UpdateUserDto { roles, name, email, email_verified } hiding { password });
debug_hiding!(CreatedAdminTokenDto { name } hiding { token });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_that_carry_secrets_never_show_them_in_debug() {
        const S: &str = "s3cr3t-sentinel";
        let token = TokenDto {
            access_token: S.into(),
            validity_time: Some(1),
            token_scopes: Default::default(),
        };
        let shown = [
            format!("{token:?}"),
            format!(
                "{:?}",
                GenerateTokenDto {
                    consumer_secret: Some(S.into()),
                    password: Some(S.into()),
                    revoke_token: Some(S.into()),
                    ..GenerateTokenDto::default()
                }
            ),
            format!(
                "{:?}",
                MapKeysDto {
                    consumer_key: "c".into(),
                    consumer_secret: Some(S.into()),
                    key_manager: None,
                    key_type: "PRODUCTION".into(),
                }
            ),
            format!(
                "{:?}",
                RegeneratedDto {
                    consumer_key: "c".into(),
                    consumer_secret: Some(S.into()),
                }
            ),
            format!(
                "{:?}",
                CreatedSecretDto {
                    secret_id: "i".into(),
                    secret_value: S.into(),
                    description: None,
                    created_time: 0,
                    expires_at: None,
                }
            ),
            format!(
                "{:?}",
                IntrospectDto {
                    token: S.into(),
                    token_type_hint: None,
                }
            ),
            format!(
                "{:?}",
                RevokeDto {
                    token: S.into(),
                    client_id: "c".into(),
                    client_secret: Some(S.into()),
                    token_type_hint: None,
                }
            ),
            format!(
                "{:?}",
                RevokeTokenDto {
                    token: S.into(),
                    consumer_secret: Some(S.into()),
                }
            ),
            format!(
                "{:?}",
                CreateUserDto {
                    username: "alice".into(),
                    password: S.into(),
                    roles: vec!["admin".into()],
                    name: None,
                    email: None,
                    email_verified: false,
                }
            ),
            format!(
                "{:?}",
                crate::NewUser {
                    username: "alice".into(),
                    password: S.into(),
                    roles: Vec::new(),
                    profile: Default::default(),
                }
            ),
            format!(
                "{:?}",
                CreatedAdminTokenDto {
                    name: "ci".into(),
                    token: S.into(),
                }
            ),
        ];
        for text in shown {
            assert!(!text.contains(S), "{text}");
            assert!(text.contains("[REDACTED]"), "{text}");
        }
    }
}
