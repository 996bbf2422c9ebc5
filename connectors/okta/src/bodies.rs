//! Okta's request and response bodies, typed, named as Okta's OpenAPI specs name them (fixtures/okta/schemas.json
//! holds those schemas; the schema tests check every body built here against them).
//!
//! Only the fields the connector sends or reads are typed. The Apps API `Application`, which must be sent back
//! whole on `PUT`, keeps every other field in `rest`.

use keymanager::connector_kit::model::GrantType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `oauth.Client`: the dynamic client registration body (`/oauth2/v1/clients`) as the connector sends it.
/// Okta's answer is read by the core's RFC 7591 parser, `keymanager::connector_kit::oauth::registration`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct OidcClient {
    /// Only on update (Okta's `PUT` repeats it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub client_name: String,
    /// `web`, `browser`, `native` or `service`.
    pub application_type: String,
    pub grant_types: Vec<GrantType>,
    /// `code`, `token`, `id_token`.
    pub response_types: Vec<&'static str>,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
}

/// `management.Application`, of which the connector changes only
/// `credentials.oauthClient.pkce_required`; everything else is kept as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Application {
    pub credentials: ApplicationCredentials,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `management.OAuthApplicationCredentials`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ApplicationCredentials {
    /// Absent on an app that is not an OpenID Connect app.
    #[serde(rename = "oauthClient", default, skip_serializing_if = "Option::is_none")]
    pub oauth_client: Option<ApplicationCredentialsOAuthClient>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `management.ApplicationCredentialsOAuthClient`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ApplicationCredentialsOAuthClient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce_required: Option<bool>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `management.OAuth2ClientSecret`: one client secret of an app (Apps API).
#[derive(Deserialize)]
pub(crate) struct ClientSecret {
    pub id: String,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// The whole secret on creation; Okta lists it too, the connector keeps only its mask.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// RFC 3339 (`2023-04-06T21:32:33.000Z`).
    #[serde(default)]
    pub created: Option<String>,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// `management.OAuth2ClientSecretRequestBody`: Okta generates the value when none is sent.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct NewClientSecret {}

/// `management.OAuth2Scope`, as sent (`id` absent) and as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OAuth2Scope {
    #[serde(default, skip_serializing)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "displayName", default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `IMPLICIT`, `REQUIRED` or `FLEXIBLE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<String>,
}

/// `management.Error`: the management API's error body.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ManagementError {
    #[serde(rename = "errorCode")]
    pub error_code: Option<String>,
    #[serde(rename = "errorSummary")]
    pub error_summary: Option<String>,
    #[serde(rename = "errorCauses", default)]
    pub error_causes: Vec<ErrorCause>,
}

/// `management.ErrorCause`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorCause {
    #[serde(rename = "errorSummary")]
    pub error_summary: Option<String>,
}
