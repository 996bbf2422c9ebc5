//! [`KeyManager`] over Keycloak.
//!
//! **Admin mode** (an admin service account is configured): clients through `/admin/realms/{realm}/clients` (the
//! internal id from the `Location` header, look-up by `?clientId=`), secrets through `…/client-secret` and
//! `…/client-secret/rotated`, scopes as client scopes attached as optional scopes.
//!
//! **Registration mode** (only an initial access token): clients through the OpenID Connect client registration
//! service; the registration access token, which Keycloak replaces on every update, is stored from every answer.
//! PKCE and token lifetimes cannot be expressed there and are refused; secrets and scopes need admin mode.
//!
//! Keycloak keeps at most two secrets: the current one and, with its secret-rotation policy (a preview feature
//! plus a client policy), the previous one as "rotated". Creating a secret rotates: without the policy the old
//! secret stops working at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use keymanager::connector_kit::http::{HttpClient, HttpResponse, Idempotency};
use keymanager::connector_kit::model::*;
use keymanager::connector_kit::oauth::{self, EndpointAuth};
use keymanager::connector_kit::sql::registrations::{Registration, RegistrationStore};
use keymanager::connector_kit::{Error, KeyManager, Result};
use reqwest::Method;
use serde_json::Value;

use crate::errors::{refine, KeycloakErrors};
use crate::representation::{
    client_from, client_id_for, representation, ClientRepresentation, ClientScopeRepresentation,
    CredentialRepresentation,
};
use crate::settings::{KeycloakSettings, Mode, MAX_SECRETS};
use keymanager::connector_kit::oauth::ClientCredentialsToken as AdminTokens;

mod admin_api;

use admin_api::AdminBody;
mod registration_mode;

/// The current and the rotated secret's ids in [`SecretInfo`].
pub const CURRENT_SECRET: &str = "current";
/// See [`CURRENT_SECRET`].
pub const ROTATED_SECRET: &str = "rotated";

/// The Keycloak key manager.
pub struct KeycloakKeyManager {
    name: String,
    settings: KeycloakSettings,
    http: HttpClient,
    admin: Option<AdminTokens>,
    registrations: Arc<dyn RegistrationStore>,
    ids: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for KeycloakKeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeycloakKeyManager")
            .field("name", &self.name)
            .field("realm", &self.settings.realm)
            .finish_non_exhaustive()
    }
}

fn now_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}", (nanos as u64) & 0xff_ffff)
}

impl KeycloakKeyManager {
    /// A key manager over a realm.
    pub fn new(
        name: impl Into<String>,
        settings: KeycloakSettings,
        http: HttpClient,
        registrations: Arc<dyn RegistrationStore>,
    ) -> Self {
        let admin = match &settings.mode {
            Mode::Admin {
                client_id,
                client_secret,
            } => Some(AdminTokens::new(
                settings.admin_token_endpoint.clone(),
                client_id.clone(),
                client_secret.clone(),
                // client_secret_post, as Keycloak's admin clients are usually set up.
                TokenEndpointAuthMethod::ClientSecretPost,
                "the admin client",
            )),
            Mode::Registration { .. } => None,
        };
        let name = name.into();
        KeycloakKeyManager {
            http: http
                .with_error_dialect(Arc::new(KeycloakErrors))
                .with_metrics_label(&name),
            name,
            settings,
            admin,
            registrations,
            ids: Mutex::new(HashMap::new()),
        }
    }
}

impl KeycloakKeyManager {
    /// Put a client back as it was after the scope step of an update failed with `cause`, which is returned: the
    /// scopes changed so far are changed back and the representation read before is `PUT` again. If that fails too,
    /// the client is left half-updated, and that is logged for an operator.
    async fn put_back(
        &self,
        client_id: &ClientId,
        uuid: &str,
        before: &ClientRepresentation,
        done: (Vec<String>, Vec<String>),
        cause: Error,
    ) -> Error {
        let undone = match self.undo_optional_scopes(uuid, done).await {
            Ok(()) => {
                self.admin(
                    Method::PUT,
                    &format!("/clients/{uuid}"),
                    Some(AdminBody::Client(before)),
                    Idempotency::Idempotent,
                )
                .await
            }
            Err(e) => Err(e),
        };
        match undone {
            Ok(_) => tracing::warn!(
                key_manager = %self.name, client_id = %client_id, error = %cause,
                "an optional scope could not be changed at Keycloak; the client was put back as it was"
            ),
            Err(e) => tracing::error!(
                key_manager = %self.name, client_id = %client_id, error = %cause, put_back = %e,
                "an optional scope could not be changed at Keycloak and the client could not be put back: it is \
                 half-updated"
            ),
        }
        cause
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[async_trait]
impl KeyManager for KeycloakKeyManager {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        crate::settings::KIND
    }

    fn capabilities(&self) -> Capabilities {
        let admin = self.admin.is_some();
        Capabilities {
            grant_types: vec![
                GrantType::ClientCredentials,
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::Password,
                GrantType::Implicit,
                GrantType::DeviceCode,
            ],
            update_client: true,
            map_existing_client: admin,
            regenerate_secret: admin,
            multiple_secrets: admin && self.settings.secrets.max(Some(MAX_SECRETS)) != Some(1),
            max_secrets_per_client: self.settings.secrets.max(Some(MAX_SECRETS)),
            secret_expiry: false,
            secret_description: false,
            revoke_tokens_with_secret: false,
            introspection: self.settings.introspection_client.is_some(),
            revocation: true,
            scope_management: admin,
            public_clients: true,
            pkce: admin,
            pkce_plain: admin,
            client_token_lifetime: admin,
            retrievable_secrets: self.settings.secrets.retrievable(),
        }
    }

    fn token_profile(&self) -> TokenProfile {
        TokenProfile {
            issuer: self.settings.issuer.clone(),
            jwks_uri: Some(self.settings.jwks_uri.clone()),
            introspection_endpoint: Some(self.settings.introspection_endpoint.clone()),
            client_id_claim: "azp".into(),
            scope_claim: ScopeClaim::SpaceSeparated("scope".into()),
            audience: self.settings.audience.clone(),
            algorithms: vec!["RS256".into()],
            access_token_typ: None,
        }
    }

    async fn register_client(&self, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&self.capabilities())?;
        if let Mode::Registration { initial_access_token } = &self.settings.mode {
            Self::check_registration_spec(spec)?;
            let req = self
                .http
                .post(&self.settings.registration_endpoint)
                .bearer_auth(initial_access_token.expose_secret())
                .json(&Self::registration_body(spec, None));
            let body: Value = self.http.send_ok(req, Idempotency::NonIdempotent).await?.json()?;
            let client = Self::client_from_registration(&body)?;
            self.remember(client.client_id.as_str(), &body, None).await?;
            return Ok(client);
        }
        let client_id = client_id_for(&spec.name, &now_suffix());
        let resp = self
            .admin(
                Method::POST,
                "/clients",
                Some(AdminBody::Client(&representation(spec, &client_id, true))),
                Idempotency::NonIdempotent,
            )
            .await?;
        let uuid = resp
            .header("location")
            .and_then(|l| l.rsplit('/').next())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::malformed(
                    format!("{}/clients", self.settings.admin_url),
                    "Location",
                    "the 201 answer has no Location header",
                )
            })?
            .to_owned();
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client_id.clone(), uuid.clone());
        let mut client = client_from(&representation(spec, &client_id, true));
        client.additional_properties.insert("id".into(), uuid.clone().into());
        if !spec.public_client {
            client.client_secret = self.secret_value(&uuid, false).await?.map(ClientSecret::new);
        }
        Ok(client)
    }

    async fn update_client(&self, client_id: &ClientId, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&self.capabilities())?;
        if self.admin.is_none() {
            Self::check_registration_spec(spec)?;
            let reg = self.registration(client_id).await?;
            let req = self
                .http
                .request(Method::PUT, &reg.uri)
                .bearer_auth(reg.token.expose_secret())
                .json(&Self::registration_body(spec, Some(client_id.as_str())));
            let body: Value = self.http.send_ok(req, Idempotency::Idempotent).await?.json()?;
            self.remember(client_id.as_str(), &body, Some(&reg)).await?;
            let mut client = Self::client_from_registration(&body)?;
            client.client_secret = None;
            return Ok(client);
        }
        let uuid = self.uuid_of(client_id.as_str()).await?;
        let scopes = self.plan_optional_scopes(&uuid, &spec.scopes).await?;
        let path = format!("/clients/{uuid}");
        // The scopes are calls of their own after the client's PUT: keep the client as it was, to put it back if one
        // of them fails, so a refused update changes nothing.
        let before: ClientRepresentation = self
            .admin(Method::GET, &path, None, Idempotency::Idempotent)
            .await
            .map_err(|e| refine(e, "client", client_id.as_str()))?
            .json()?;
        self.admin(
            Method::PUT,
            &path,
            Some(AdminBody::Client(&representation(spec, client_id.as_str(), false))),
            Idempotency::Idempotent,
        )
        .await
        .map_err(|e| refine(e, "client", client_id.as_str()))?;
        if let Err((cause, done)) = self.apply_optional_scopes(&uuid, scopes).await {
            return Err(self.put_back(client_id, &uuid, &before, done, cause).await);
        }
        self.get_client(client_id).await
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<OAuthClient> {
        if self.admin.is_none() {
            let reg = self.registration(client_id).await?;
            let req = self.http.get(&reg.uri).bearer_auth(reg.token.expose_secret());
            let body: Value = self.http.send_ok(req, Idempotency::Idempotent).await?.json()?;
            self.remember(client_id.as_str(), &body, Some(&reg)).await?;
            let mut client = Self::client_from_registration(&body)?;
            // The registration read answers `client_secret`; passed on only when secrets are retrievable.
            if !self.settings.secrets.retrievable() {
                client.client_secret = None;
            }
            return Ok(client);
        }
        let uuid = self.uuid_of(client_id.as_str()).await?;
        let rep: ClientRepresentation = self
            .admin(Method::GET, &format!("/clients/{uuid}"), None, Idempotency::Idempotent)
            .await
            .map_err(|e| refine(e, "client", client_id.as_str()))?
            .json()?;
        let mut client = client_from(&rep);
        if self.settings.secrets.retrievable() && !client.public_client {
            client.client_secret = self.secret_value(&uuid, false).await?.map(ClientSecret::new);
        }
        Ok(client)
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<()> {
        if self.admin.is_none() {
            let reg = self.registration(client_id).await?;
            let req = self
                .http
                .request(Method::DELETE, &reg.uri)
                .bearer_auth(reg.token.expose_secret());
            self.http.send_ok(req, Idempotency::Idempotent).await?;
            return self.registrations.delete(&self.name, client_id.as_str()).await;
        }
        let uuid = self.uuid_of(client_id.as_str()).await?;
        self.admin(
            Method::DELETE,
            &format!("/clients/{uuid}"),
            None,
            Idempotency::Idempotent,
        )
        .await
        .map_err(|e| refine(e, "client", client_id.as_str()))?;
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(client_id.as_str());
        Ok(())
    }

    async fn map_client(&self, client_id: &ClientId, client_secret: Option<&ClientSecret>) -> Result<OAuthClient> {
        self.admin_mode("map_client")?;
        let client = self.get_client(client_id).await?;
        if !client.public_client {
            let uuid = self.uuid_of(client_id.as_str()).await?;
            let current = self.secret_value(&uuid, false).await?;
            let rotated = self.secret_value(&uuid, true).await?;
            let given = client_secret.map(|s| s.expose_secret());
            if given.is_none() || (given != current.as_deref() && given != rotated.as_deref()) {
                return Err(Error::unauthorized("client authentication failed"));
            }
        }
        Ok(client)
    }

    async fn regenerate_secret(&self, client_id: &ClientId) -> Result<OAuthClient> {
        self.admin_mode("regenerate_secret")?;
        let uuid = self.uuid_of(client_id.as_str()).await?;
        let body: CredentialRepresentation = self
            .admin(
                Method::POST,
                &format!("/clients/{uuid}/client-secret"),
                None,
                Idempotency::NonIdempotent,
            )
            .await
            .map_err(|e| refine(e, "client", client_id.as_str()))?
            .json()?;
        let mut client = self.get_client(client_id).await?;
        client.client_secret = body.value.map(ClientSecret::new);
        Ok(client)
    }

    async fn create_secret(&self, client_id: &ClientId, spec: &SecretSpec) -> Result<IssuedSecret> {
        if spec.description.is_some() || spec.expires_in.is_some() {
            return Err(Error::unsupported(
                "secret description or expiry (Keycloak's rotation policy sets expiry realm-wide)",
            ));
        }
        // Keycloak keeps a rotated secret beside the new one only under its rotation policy; a policy of one secret
        // is enforced here (regenerate replaces it).
        if self.settings.secrets.stricter_than(MAX_SECRETS) {
            let held = self.list_secrets(client_id).await?.len();
            self.settings.secrets.check_room(client_id.as_str(), held)?;
        }
        let client = self.regenerate_secret(client_id).await?;
        let secret = client
            .client_secret
            .ok_or_else(|| Error::malformed("client-secret", "value", "missing"))?;
        Ok(IssuedSecret {
            id: CURRENT_SECRET.into(),
            info: SecretInfo {
                id: CURRENT_SECRET.into(),
                masked: mask_secret(secret.expose_secret()),
                description: None,
                created_at: client.created_at.unwrap_or_default(),
                expires_at: None,
                status: SecretStatus::Active,
            },
            secret,
        })
    }

    async fn list_secrets(&self, client_id: &ClientId) -> Result<Vec<SecretInfo>> {
        self.admin_mode("list_secrets")?;
        let uuid = self.uuid_of(client_id.as_str()).await?;
        let rep: ClientRepresentation = self
            .admin(Method::GET, &format!("/clients/{uuid}"), None, Idempotency::Idempotent)
            .await
            .map_err(|e| refine(e, "client", client_id.as_str()))?
            .json()?;
        let attr = |k: &str| rep.number(k);
        let mut out = Vec::new();
        // The current secret and, during a rotation, the previous one; each with its own attributes.
        for (id, rotated, attributes) in [
            (CURRENT_SECRET, false, "client.secret"),
            (ROTATED_SECRET, true, "client.secret.rotated"),
        ] {
            if let Some(value) = self.secret_value(&uuid, rotated).await? {
                out.push(SecretInfo {
                    id: id.into(),
                    masked: mask_secret(&value),
                    description: None,
                    created_at: attr(&format!("{attributes}.creation.time")).unwrap_or_default(),
                    expires_at: attr(&format!("{attributes}.expiration.time")).filter(|e| *e > 0),
                    status: SecretStatus::Active,
                });
            }
        }
        Ok(out)
    }

    async fn delete_secret(&self, client_id: &ClientId, secret_id: &str, revoke_tokens: bool) -> Result<()> {
        self.admin_mode("delete_secret")?;
        if revoke_tokens {
            return Err(Error::unsupported(
                "revoking the tokens of one secret (Keycloak cannot)",
            ));
        }
        match secret_id {
            ROTATED_SECRET => {
                let uuid = self.uuid_of(client_id.as_str()).await?;
                self.admin(
                    Method::DELETE,
                    &format!("/clients/{uuid}/client-secret/rotated"),
                    None,
                    Idempotency::Idempotent,
                )
                .await
                .map_err(|e| refine(e, "secret", secret_id))?;
                Ok(())
            }
            CURRENT_SECRET => Err(Error::conflict(
                "Keycloak cannot delete a client's current secret; regenerate it instead",
            )),
            other => Err(Error::not_found("secret", other)),
        }
    }

    async fn issue_token(&self, request: &TokenRequest) -> Result<AccessToken> {
        oauth::request_token(&self.http, &self.settings.token_endpoint, request).await
    }

    async fn introspect(&self, token: &Token, hint: Option<TokenTypeHint>) -> Result<TokenInfo> {
        let Some((id, secret)) = &self.settings.introspection_client else {
            return Err(Error::unsupported(
                "introspect (configure introspection_client_id and _secret)",
            ));
        };
        let auth = EndpointAuth::Client(id.clone(), secret.clone());
        let hint = Some(hint.unwrap_or(TokenTypeHint::AccessToken));
        oauth::introspect(&self.http, &self.settings.introspection_endpoint, &auth, token, hint).await
    }

    async fn revoke_token(&self, request: &RevocationRequest) -> Result<()> {
        // Keycloak answers an unknown or expired token with 200 (and an OAuth error body) by design: nothing to do.
        oauth::revoke(&self.http, &self.settings.revocation_endpoint, request).await
    }

    async fn register_scope(&self, scope: &Scope) -> Result<Scope> {
        self.admin_mode("register_scope")?;
        let body = ClientScopeRepresentation {
            id: None,
            name: scope.name.clone(),
            description: Some(scope.description.clone().unwrap_or_default()),
            protocol: Some("openid-connect".into()),
            attributes: [
                ("include.in.token.scope", "true"),
                ("display.on.consent.screen", "true"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        };
        self.admin(
            Method::POST,
            "/client-scopes",
            Some(AdminBody::Scope(&body)),
            Idempotency::NonIdempotent,
        )
        .await?;
        Ok(scope.clone())
    }

    async fn list_scopes(&self) -> Result<Vec<Scope>> {
        self.admin_mode("list_scopes")?;
        let list: Vec<ClientScopeRepresentation> = self
            .admin(Method::GET, "/client-scopes", None, Idempotency::Idempotent)
            .await?
            .json()?;
        Ok(list
            .into_iter()
            .map(|s| Scope {
                name: s.name,
                description: s.description.filter(|d| !d.is_empty()),
                display_name: None,
            })
            .collect())
    }

    async fn delete_scope(&self, name: &str) -> Result<()> {
        self.admin_mode("delete_scope")?;
        let id = self
            .realm_scopes()
            .await?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id)
            .ok_or_else(|| Error::not_found("scope", name))?;
        self.admin(
            Method::DELETE,
            &format!("/client-scopes/{id}"),
            None,
            Idempotency::Idempotent,
        )
        .await?;
        Ok(())
    }
}
