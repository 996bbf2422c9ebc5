//! The Auth0 connector's settings (`type = "auth0"` tables).

use keymanager::connector_kit::model::ClientSecret;
use keymanager::connector_kit::{ConfigError, ConnectorDescriptor, KeyManagerConfig, Setting};
use keymanager::connector_kit::{SecretPolicy, SecretSettings};
use serde::Deserialize;

/// The `type` of Auth0 key managers.
pub const KIND: &str = "auth0";

/// Auth0 keeps one secret per client.
pub(crate) const MAX_SECRETS: u32 = 1;

/// The connector's self-description.
pub fn descriptor() -> ConnectorDescriptor {
    let mut connection_settings = vec![
        Setting::string("domain", "Auth0 tenant domain, e.g. example.eu.auth0.com").required(),
        Setting::string(
            "management_client_id",
            "Client id of a machine-to-machine application granted the Management API",
        )
        .required(),
        Setting::string("management_client_secret", "Its secret")
            .required()
            .secret(),
        Setting::string(
            "audience",
            "Identifier of the API (resource server) whose scopes applications are granted",
        )
        .required(),
        Setting::url("base_url", "Override: https://DOMAIN (tests, custom domains)"),
        Setting::url("issuer", "Override: issuer (default https://DOMAIN/)"),
    ];
    connection_settings.extend(SecretPolicy::settings(
        "read back from the Management API (Auth0 lets a client's secret be read with read:client_keys)",
    ));
    ConnectorDescriptor {
        kind: KIND.into(),
        display_name: "Auth0".into(),
        description: "An Auth0 tenant: Management API clients, client grants to one API, its scopes.".into(),
        connection_settings,
        application_properties: vec![
            Setting::string("app_type", "Auth0 app_type").one_of(&["non_interactive", "regular_web", "spa", "native"]),
            Setting::string("description", "Auth0 client description (at most 140 characters)"),
        ],
    }
}

/// Settings of one Auth0 key manager.
#[derive(Debug, Clone)]
pub struct Auth0Settings {
    /// The tenant's domain.
    pub domain: String,
    /// `https://DOMAIN` (or the override): the Management API is under `/api/v2`, tokens at `/oauth/token`.
    pub base_url: String,
    /// The Management API's audience for the connector's own token (`https://DOMAIN/api/v2/`).
    pub management_audience: String,
    /// The connector's machine-to-machine client.
    pub management_client_id: String,
    /// Its secret.
    pub management_client_secret: ClientSecret,
    /// The API whose scopes applications get (the `audience` of their tokens).
    pub audience: String,
    /// Issuer of tokens (`https://DOMAIN/`).
    pub issuer: String,
    /// Hashed or retrievable secrets (one per client: Auth0 keeps one).
    pub secrets: SecretPolicy,
}

impl Auth0Settings {
    /// Settings for a tenant, every endpoint at Auth0's convention.
    pub fn new(
        domain: &str,
        management_client_id: &str,
        management_client_secret: ClientSecret,
        audience: &str,
    ) -> Self {
        let domain = domain.trim().trim_end_matches('/').to_owned();
        let base_url = format!("https://{domain}");
        Auth0Settings {
            management_audience: format!("{base_url}/api/v2/"),
            issuer: format!("{base_url}/"),
            base_url,
            domain,
            management_client_id: management_client_id.to_owned(),
            management_client_secret,
            audience: audience.to_owned(),
            secrets: SecretPolicy::default(),
        }
    }

    /// `POST {base}/oauth/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    /// `POST {base}/oauth/revoke`.
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/oauth/revoke", self.base_url)
    }

    /// `{base}/.well-known/jwks.json`.
    pub fn jwks_uri(&self) -> String {
        format!("{}/.well-known/jwks.json", self.base_url)
    }

    /// Read a table, as [`descriptor`] declares it.
    pub fn from_config(km: &KeyManagerConfig) -> Result<Self, ConfigError> {
        let t: Auth0Table = km.read_settings(&descriptor().connection_settings)?;
        if t.domain.contains('/') || t.domain.contains(':') || t.domain.trim().is_empty() {
            return Err(
                ConfigError::new("`domain` is the tenant's host name (example.eu.auth0.com), not a URL")
                    .in_key_manager(&km.name)
                    .at_field("domain"),
            );
        }
        let mut out = Auth0Settings::new(
            &t.domain,
            &t.management_client_id,
            t.management_client_secret,
            &t.audience,
        );
        if let Some(base) = t.base_url {
            out.base_url = base.trim_end_matches('/').to_owned();
        }
        if let Some(issuer) = t.issuer {
            out.issuer = issuer;
        }
        out.secrets = SecretPolicy::from_settings(
            km,
            SecretSettings {
                max_secrets_per_client: t.max_secrets_per_client,
                multiple_secrets: t.multiple_secrets,
                client_secret_storage: t.client_secret_storage,
            },
            Some(MAX_SECRETS),
        )?;
        Ok(out)
    }
}

/// A `type = "auth0"` table, field for field as [`descriptor`] declares it (a test proves they agree).
#[derive(Deserialize)]
struct Auth0Table {
    domain: String,
    management_client_id: String,
    management_client_secret: ClientSecret,
    audience: String,
    base_url: Option<String>,
    issuer: Option<String>,
    max_secrets_per_client: Option<u64>,
    multiple_secrets: bool,
    client_secret_storage: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_type_matches_the_descriptor() {
        keymanager::connector_kit::check_settings_type::<Auth0Table>(&descriptor().connection_settings).unwrap();
    }
}
