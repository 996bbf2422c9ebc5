//! [`KeyManager`] over any standards-based authorization server.

use std::sync::Arc;

use async_trait::async_trait;
use keymanager::connector_kit::http::{HttpClient, Idempotency};
use keymanager::connector_kit::model::*;
use keymanager::connector_kit::oauth::{self, EndpointAuth};
use keymanager::connector_kit::SecretStorage;
use keymanager::connector_kit::{Error, KeyManager, Result};
use serde_json::Value;

use crate::discovery::Metadata;
use crate::metadata::request_body;
use crate::settings::OidcSettings;
use keymanager::connector_kit::oauth::registration::client_from_metadata;
use keymanager::connector_kit::sql::registrations::{Registration, RegistrationStore};

/// The oidc key manager.
pub struct OidcKeyManager {
    name: String,
    settings: OidcSettings,
    metadata: Metadata,
    http: HttpClient,
    registrations: Arc<dyn RegistrationStore>,
}

impl std::fmt::Debug for OidcKeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcKeyManager")
            .field("name", &self.name)
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

/// Provider fields kept in `additional_properties`.
const KEEP: &[&str] = &["application_type", "client_uri", "logo_uri"];

const KNOWN_GRANTS: &[GrantType] = &[
    GrantType::ClientCredentials,
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::Password,
];

impl OidcKeyManager {
    /// Discover the issuer's metadata and build the key manager.
    pub async fn connect(
        name: impl Into<String>,
        settings: OidcSettings,
        http: HttpClient,
        registrations: Arc<dyn RegistrationStore>,
    ) -> Result<Self> {
        let name = name.into();
        let http = http.with_metrics_label(&name);
        let metadata = crate::discovery::discover(&http, &settings.issuer).await?;
        Ok(OidcKeyManager {
            name,
            settings,
            metadata,
            http,
            registrations,
        })
    }

    fn endpoint(&self, overridden: &Option<String>, discovered: &Option<String>, what: &str) -> Result<String> {
        overridden
            .clone()
            .or_else(|| discovered.clone())
            .ok_or_else(|| Error::unsupported(format!("{what} (the provider publishes no {what} endpoint)")))
    }

    fn registration_endpoint(&self) -> Result<String> {
        self.endpoint(
            &self.settings.registration_endpoint,
            &self.metadata.registration_endpoint,
            "registration",
        )
    }

    fn token_endpoint(&self) -> Result<String> {
        self.endpoint(&self.settings.token_endpoint, &self.metadata.token_endpoint, "token")
    }

    /// Keep the registration handle from an RFC 7591 / 7592 answer (the provider may rotate the token).
    async fn remember(&self, client_id: &str, body: &Value, previous: Option<&Registration>) -> Result<()> {
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let uri = text("registration_client_uri").or_else(|| previous.map(|p| p.uri.clone()));
        let token = text("registration_access_token")
            .map(Token::new)
            .or_else(|| previous.map(|p| p.token.clone()));
        match (uri, token) {
            (Some(uri), Some(token)) => {
                self.registrations
                    .put(&self.name, client_id, &Registration { uri, token })
                    .await
            }
            _ => {
                tracing::warn!(key_manager = %self.name, client_id, "the provider returned no registration access token; \
                    this client cannot be read, updated or deleted through RFC 7592");
                Ok(())
            }
        }
    }

    async fn registration(&self, client_id: &ClientId) -> Result<Registration> {
        self.registrations
            .get(&self.name, client_id.as_str())
            .await?
            .ok_or_else(|| Error::not_found("client registration", client_id.as_str()))
    }
}

#[async_trait]
impl KeyManager for OidcKeyManager {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        crate::settings::KIND
    }

    fn capabilities(&self) -> Capabilities {
        let m = &self.metadata;
        let supported = m
            .grant_types_supported
            .clone()
            .unwrap_or_else(|| vec!["authorization_code".into()]);
        let introspection_endpoint =
            self.settings.introspection_endpoint.is_some() || m.introspection_endpoint.is_some();
        Capabilities {
            grant_types: KNOWN_GRANTS
                .iter()
                .filter(|g| supported.iter().any(|s| s == g.as_str()))
                .cloned()
                .collect(),
            update_client: true,
            map_existing_client: false,
            regenerate_secret: false,
            multiple_secrets: false,
            max_secrets_per_client: Some(1),
            secret_expiry: false,
            secret_description: false,
            revoke_tokens_with_secret: false,
            introspection: introspection_endpoint
                && (self.settings.introspection_client.is_some() || self.settings.introspection_token.is_some()),
            revocation: self.settings.revocation_endpoint.is_some() || m.revocation_endpoint.is_some(),
            scope_management: false,
            public_clients: m
                .token_endpoint_auth_methods_supported
                .as_ref()
                .is_none_or(|list| list.iter().any(|a| a == "none")),
            pkce: false,
            pkce_plain: false,
            client_token_lifetime: false,
            retrievable_secrets: self.settings.client_secret_storage == SecretStorage::Retrievable,
        }
    }

    fn token_profile(&self) -> TokenProfile {
        let claim = self.settings.scope_claim.clone();
        TokenProfile {
            issuer: self.metadata.issuer.clone(),
            jwks_uri: self
                .settings
                .jwks_uri
                .clone()
                .or_else(|| self.metadata.jwks_uri.clone()),
            introspection_endpoint: self
                .settings
                .introspection_endpoint
                .clone()
                .or_else(|| self.metadata.introspection_endpoint.clone()),
            client_id_claim: self.settings.client_id_claim.clone(),
            scope_claim: if self.settings.scope_claim_is_array {
                ScopeClaim::Array(claim)
            } else {
                ScopeClaim::SpaceSeparated(claim)
            },
            audience: self.settings.audience.clone(),
            algorithms: self.settings.algorithms.clone(),
            access_token_typ: self.settings.access_token_typ.clone(),
        }
    }

    async fn register_client(&self, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&self.capabilities())?;
        let mut req = self
            .http
            .post(self.registration_endpoint()?)
            .json(&request_body(spec, None));
        if let Some(iat) = &self.settings.initial_access_token {
            req = req.bearer_auth(iat.expose_secret());
        }
        let body: Value = self.http.send_ok(req, Idempotency::NonIdempotent).await?.json()?;
        let client = client_from_metadata(&body, KEEP)?;
        self.remember(client.client_id.as_str(), &body, None).await?;
        Ok(client)
    }

    async fn update_client(&self, client_id: &ClientId, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&self.capabilities())?;
        let reg = self.registration(client_id).await?;
        let req = self
            .http
            .request(reqwest::Method::PUT, &reg.uri)
            .bearer_auth(reg.token.expose_secret())
            .json(&request_body(spec, Some(client_id.as_str())));
        let body: Value = self.http.send_ok(req, Idempotency::Idempotent).await?.json()?;
        self.remember(client_id.as_str(), &body, Some(&reg)).await?;
        let mut client = client_from_metadata(&body, KEEP)?;
        client.client_secret = None;
        Ok(client)
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<OAuthClient> {
        let reg = self.registration(client_id).await?;
        let req = self.http.get(&reg.uri).bearer_auth(reg.token.expose_secret());
        let body: Value = self.http.send_ok(req, Idempotency::Idempotent).await?.json()?;
        self.remember(client_id.as_str(), &body, Some(&reg)).await?;
        let mut client = client_from_metadata(&body, KEEP)?;
        // An RFC 7592 read answers the secret too (RFC 7591 §3.2.1); it is passed on only when secrets are
        // retrievable.
        if self.settings.client_secret_storage != SecretStorage::Retrievable {
            client.client_secret = None;
        }
        Ok(client)
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<()> {
        let reg = self.registration(client_id).await?;
        let req = self
            .http
            .request(reqwest::Method::DELETE, &reg.uri)
            .bearer_auth(reg.token.expose_secret());
        self.http.send_ok(req, Idempotency::Idempotent).await?;
        self.registrations.delete(&self.name, client_id.as_str()).await
    }

    async fn issue_token(&self, request: &TokenRequest) -> Result<AccessToken> {
        oauth::request_token(&self.http, &self.token_endpoint()?, request).await
    }

    async fn introspect(&self, token: &Token, hint: Option<TokenTypeHint>) -> Result<TokenInfo> {
        let endpoint = self.endpoint(
            &self.settings.introspection_endpoint,
            &self.metadata.introspection_endpoint,
            "introspection",
        )?;
        let auth = match (&self.settings.introspection_client, &self.settings.introspection_token) {
            (Some((id, secret)), _) => EndpointAuth::Client(id.clone(), secret.clone()),
            (None, Some(t)) => EndpointAuth::Bearer(t.clone()),
            (None, None) => {
                return Err(Error::unsupported(
                    "introspect (configure introspection_client_id/_secret or introspection_token)",
                ))
            }
        };
        oauth::introspect(&self.http, &endpoint, &auth, token, hint).await
    }

    async fn revoke_token(&self, request: &RevocationRequest) -> Result<()> {
        let endpoint = self.endpoint(
            &self.settings.revocation_endpoint,
            &self.metadata.revocation_endpoint,
            "revocation",
        )?;
        oauth::revoke(&self.http, &endpoint, request).await
    }
}
