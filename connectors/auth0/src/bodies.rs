//! The Management API's request and response bodies the connector sends and reads (schemas in
//! `fixtures/auth0/management-subset.json`; every request body is checked against it in the contract tests).

use serde::{Deserialize, Serialize};

/// `POST /api/v2/clients` and `PATCH /api/v2/clients/{id}` (`CreateClientRequestContent`,
/// `UpdateClientRequestContent`: both refuse properties they do not define).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClientBody {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub app_type: String,
    pub grant_types: Vec<String>,
    pub callbacks: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub oidc_conformant: bool,
}

/// A client as the Management API answers it (the fields the connector reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Client {
    pub client_id: String,
    pub name: String,
    pub client_secret: Option<String>,
    pub app_type: Option<String>,
    pub grant_types: Vec<String>,
    pub callbacks: Vec<String>,
    pub token_endpoint_auth_method: Option<String>,
    pub description: Option<String>,
}

/// `POST /api/v2/client-grants` (`CreateClientGrantRequestContent`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NewClientGrant<'a> {
    pub client_id: &'a str,
    pub audience: &'a str,
    pub scope: Vec<String>,
}

/// `PATCH /api/v2/client-grants/{id}` (`UpdateClientGrantRequestContent`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClientGrantScopes {
    pub scope: Vec<String>,
}

/// A client grant (`ClientGrantResponseContent`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ClientGrant {
    pub id: String,
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
}

/// `GET /api/v2/client-grants`: a plain list, or a page object when totals or checkpoints were asked for.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ClientGrantList {
    Plain(Vec<ClientGrant>),
    Paged { client_grants: Vec<ClientGrant> },
}

impl ClientGrantList {
    pub fn into_vec(self) -> Vec<ClientGrant> {
        match self {
            ClientGrantList::Plain(v) | ClientGrantList::Paged { client_grants: v } => v,
        }
    }
}

/// One scope of a resource server (`ResourceServerScope`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ResourceServerScope {
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub description: Option<String>,
}

/// A resource server (API), as read (`GetResourceServerResponseContent`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ResourceServer {
    pub id: String,
    pub identifier: String,
    pub scopes: Vec<ResourceServerScope>,
}

/// `PATCH /api/v2/resource-servers/{id}` with the whole scope list (`UpdateResourceServerRequestContent`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResourceServerScopes {
    pub scopes: Vec<ResourceServerScope>,
}

/// The Management API's error body (`ManagementApiError`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ManagementError {
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub message: Option<String>,
    pub error_code: Option<String>,
}
