//! The Entra ID connector's settings (`type = "entra"` tables).

use std::time::Duration;

use keymanager::connector_kit::model::ClientSecret;
use keymanager::connector_kit::{
    ConfigError, ConnectorDescriptor, KeyManagerConfig, SecretPolicy, SecretSettings, SecretStorage, Setting,
};
use serde::Deserialize;

/// The `type` of Entra ID key managers.
pub const KIND: &str = "entra";

/// The connector's self-description.
pub fn descriptor() -> ConnectorDescriptor {
    let mut connection_settings = vec![
        Setting::string("tenant_id", "Directory (tenant) id, a GUID or a domain name").required(),
        Setting::string(
            "client_id",
            "Application (client) id of the management application (Graph application permissions \
             Application.ReadWrite.OwnedBy or .All, AppRoleAssignment.ReadWrite.All)",
        )
        .required(),
        Setting::string("client_secret", "Its client secret")
            .required()
            .secret(),
        Setting::string(
            "api_application",
            "Application (client) id of the API whose app roles stand for scopes",
        )
        .required(),
        Setting::url(
            "api_identifier_uri",
            "Override: the API's identifier URI (default api://API_APPLICATION)",
        ),
        Setting::url("graph_url", "Override: Microsoft Graph (national clouds, tests)")
            .default_value("https://graph.microsoft.com/v1.0"),
        Setting::url(
            "login_url",
            "Override: the Microsoft identity platform (national clouds, tests)",
        )
        .default_value("https://login.microsoftonline.com"),
        Setting::url(
            "issuer",
            "Override: issuer of access tokens (default v2.0: LOGIN_URL/TENANT/v2.0)",
        ),
        Setting::string(
            "audience",
            "Access-token audience a gateway requires (default: API_APPLICATION, as in v2.0 tokens)",
        ),
    ];
    connection_settings.extend(SecretPolicy::settings(
        "never: Entra shows a secret once (client_secret_storage must stay hashed)",
    ));
    ConnectorDescriptor {
        kind: KIND.into(),
        display_name: "Microsoft Entra ID".into(),
        description: "A Microsoft Entra ID tenant through Microsoft Graph: applications, service principals, \
                      password credentials and app-role assignments."
            .into(),
        connection_settings,
        application_properties: vec![Setting::string("sign_in_audience", "Entra signInAudience")
            .one_of(&["AzureADMyOrg", "AzureADMultipleOrgs"])],
    }
}

/// Settings of one Entra ID key manager.
#[derive(Debug, Clone)]
pub struct EntraSettings {
    /// The tenant.
    pub tenant_id: String,
    /// The management application's client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: ClientSecret,
    /// The API application's appId.
    pub api_application: String,
    /// The API's identifier URI; tokens are requested for `{api_identifier_uri}/.default`.
    pub api_identifier_uri: String,
    /// Microsoft Graph's base (`https://graph.microsoft.com/v1.0`).
    pub graph_url: String,
    /// The identity platform's base (`https://login.microsoftonline.com`).
    pub login_url: String,
    /// Issuer of access tokens.
    pub issuer: String,
    /// Audience of access tokens.
    pub audience: String,
    /// Secret limits (Entra shows a secret once: hashed only).
    pub secrets: SecretPolicy,
    /// How often a call refused because a just-created object has not replicated yet is tried again.
    pub replication_retries: u32,
    /// The first wait before such a retry (doubling each time, at most 16 s).
    pub replication_backoff: Duration,
}

impl EntraSettings {
    /// Settings for a tenant, every endpoint at Microsoft's public-cloud convention.
    pub fn new(tenant_id: &str, client_id: &str, client_secret: ClientSecret, api_application: &str) -> Self {
        let login_url = "https://login.microsoftonline.com".to_owned();
        EntraSettings {
            issuer: format!("{login_url}/{tenant_id}/v2.0"),
            api_identifier_uri: format!("api://{api_application}"),
            audience: api_application.to_owned(),
            graph_url: "https://graph.microsoft.com/v1.0".into(),
            login_url,
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            client_secret,
            api_application: api_application.to_owned(),
            secrets: SecretPolicy::default(),
            replication_retries: 5,
            replication_backoff: Duration::from_secs(1),
        }
    }

    /// Point Graph and the identity platform somewhere else (a national cloud, a test server); the issuer follows.
    pub fn with_endpoints(mut self, graph_url: &str, login_url: &str) -> Self {
        self.graph_url = graph_url.trim_end_matches('/').to_owned();
        self.login_url = login_url.trim_end_matches('/').to_owned();
        self.issuer = format!("{}/{}/v2.0", self.login_url, self.tenant_id);
        self
    }

    /// `POST {login}/{tenant}/oauth2/v2.0/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.login_url, self.tenant_id)
    }

    /// `{login}/{tenant}/discovery/v2.0/keys`.
    pub fn jwks_uri(&self) -> String {
        format!("{}/{}/discovery/v2.0/keys", self.login_url, self.tenant_id)
    }

    /// The scope of the connector's own Graph token: Graph's origin + `/.default`.
    pub fn graph_scope(&self) -> String {
        match url::Url::parse(&self.graph_url) {
            Ok(u) => format!("{}/.default", u.origin().ascii_serialization()),
            Err(_) => "https://graph.microsoft.com/.default".into(),
        }
    }

    /// Read a table, as [`descriptor`] declares it.
    pub fn from_config(km: &KeyManagerConfig) -> Result<Self, ConfigError> {
        let t: EntraTable = km.read_settings(&descriptor().connection_settings)?;
        if !is_guid(&t.api_application) {
            return Err(km.error(Some("api_application"), "is an application (client) id: a GUID"));
        }
        let mut out = EntraSettings::new(&t.tenant_id, &t.client_id, t.client_secret, &t.api_application)
            .with_endpoints(&t.graph_url, &t.login_url);
        if let Some(uri) = t.api_identifier_uri {
            out.api_identifier_uri = uri.trim_end_matches('/').to_owned();
        }
        if let Some(issuer) = t.issuer {
            out.issuer = issuer;
        }
        if let Some(audience) = t.audience {
            out.audience = audience;
        }
        out.secrets = SecretPolicy::from_settings(
            km,
            SecretSettings {
                max_secrets_per_client: t.max_secrets_per_client,
                multiple_secrets: t.multiple_secrets,
                client_secret_storage: t.client_secret_storage,
            },
            None,
        )?;
        if out.secrets.storage == SecretStorage::Retrievable {
            return Err(km.error(
                Some("client_secret_storage"),
                "Entra shows a secret only when it is made: it cannot be \"retrievable\"",
            ));
        }
        Ok(out)
    }
}

/// Whether `s` is a GUID (`8-4-4-4-12` hexadecimal digits), as Graph's ids and app ids are.
pub(crate) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A `type = "entra"` table, field for field as [`descriptor`] declares it (a test proves they agree).
#[derive(Deserialize)]
struct EntraTable {
    tenant_id: String,
    client_id: String,
    client_secret: ClientSecret,
    api_application: String,
    api_identifier_uri: Option<String>,
    graph_url: String,
    login_url: String,
    issuer: Option<String>,
    audience: Option<String>,
    max_secrets_per_client: Option<u64>,
    multiple_secrets: bool,
    client_secret_storage: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_type_matches_the_descriptor() {
        keymanager::connector_kit::check_settings_type::<EntraTable>(&descriptor().connection_settings).unwrap();
    }

    #[test]
    fn guids_are_recognised() {
        assert!(is_guid("631a96bc-a705-4eda-9f99-fdaf9f54f6a2"));
        for bad in [
            "631a96bc-a705-4eda-9f99",
            "631a96bc-a705-4eda-9f99-fdaf9f54f6a2'",
            "x",
            "",
        ] {
            assert!(!is_guid(bad), "{bad}");
        }
    }
}
