//! Microsoft Graph bodies the connector sends and reads (schemas in `fixtures/entra/graph-subset.json`; every
//! request body is checked against them in the contract tests). Graph's names, camelCase.

use serde::{Deserialize, Serialize};

/// `POST /applications` and `PATCH /applications/{id}` (`microsoft.graph.application`): what the connector sets.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApplicationBody {
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign_in_audience: Option<String>,
    pub web: RedirectUris,
    pub spa: RedirectUris,
    pub is_fallback_public_client: bool,
    pub required_resource_access: Vec<RequiredResourceAccess>,
}

/// `web` / `spa` (`microsoft.graph.webApplication`, `spaApplication`): the redirect URIs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RedirectUris {
    pub redirect_uris: Vec<String>,
}

/// `microsoft.graph.requiredResourceAccess`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RequiredResourceAccess {
    pub resource_app_id: String,
    pub resource_access: Vec<ResourceAccess>,
}

/// `microsoft.graph.resourceAccess`: an app role (`Role`) or delegated scope (`Scope`) by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ResourceAccess {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// An application as Graph answers it (the fields read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Application {
    pub id: String,
    pub app_id: String,
    pub display_name: Option<String>,
    pub sign_in_audience: Option<String>,
    pub created_date_time: Option<String>,
    pub web: Option<RedirectUris>,
    pub spa: Option<RedirectUris>,
    pub is_fallback_public_client: Option<bool>,
    pub password_credentials: Vec<PasswordCredential>,
    pub app_roles: Vec<AppRole>,
}

/// `microsoft.graph.passwordCredential` (`secretText` only in `addPassword`'s answer).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct PasswordCredential {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date_time: Option<String>,
    #[serde(skip_serializing)]
    pub key_id: Option<String>,
    #[serde(skip_serializing)]
    pub hint: Option<String>,
    #[serde(skip_serializing)]
    pub secret_text: Option<String>,
    #[serde(skip_serializing)]
    pub start_date_time: Option<String>,
}

/// `addPassword`'s body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddPassword {
    pub password_credential: PasswordCredential,
}

/// `removePassword`'s body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RemovePassword<'a> {
    pub key_id: &'a str,
}

/// `microsoft.graph.appRole`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct AppRole {
    pub allowed_member_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub id: String,
    pub is_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `PATCH /applications/{id}` with the whole `appRoles` list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppRoles {
    pub app_roles: Vec<AppRole>,
}

/// `POST /servicePrincipals`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewServicePrincipal<'a> {
    pub app_id: &'a str,
}

/// A service principal as Graph answers it (the fields read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ServicePrincipal {
    pub id: String,
    pub app_id: String,
}

/// `microsoft.graph.appRoleAssignment`, sent (`principalId`, `resourceId`, `appRoleId`) and read (with `id`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct AppRoleAssignment {
    #[serde(skip_serializing)]
    pub id: String,
    pub principal_id: String,
    pub resource_id: String,
    pub app_role_id: String,
}

/// A Graph collection (`value`, `@odata.nextLink`).
#[derive(Debug, Clone, Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
pub(crate) struct Collection<T> {
    #[serde(default)]
    pub value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
}

/// Graph's error body (`microsoft.graph.ODataErrors.ODataError`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ODataError {
    pub error: Option<MainError>,
}

/// `microsoft.graph.ODataErrors.MainError`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct MainError {
    pub code: String,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

/// `microsoft.graph.ODataErrors.ErrorDetails`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorDetail {
    pub code: String,
}
