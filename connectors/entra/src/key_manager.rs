//! [`KeyManager`] over Microsoft Graph and the Microsoft identity platform.
//!
//! | operation | Entra ID | |
//! |---|---|---|
//! | register | `POST /applications` (redirect URIs under `web`, or `spa` for a public client; `requiredResourceAccess` naming the roles), `POST /servicePrincipals`, `POST /applications/{id}/addPassword`, then one `POST /servicePrincipals/{api}/appRoleAssignedTo` per scope; a failure after the application exists deletes it again | supported |
//! | get / update / delete | `/applications(appId='…')`; scopes are the roles assigned to the client's service principal (`appRoleAssignedTo`, added and removed to match) | supported |
//! | create / list / delete secrets | `addPassword` (description = `displayName`, expiry = `endDateTime`) / the application's `passwordCredentials` / `removePassword` by key id | supported |
//! | regenerate secret | `addPassword`, then `removePassword` of every older one | emulated |
//! | retrievable secrets | — | **unsupported**: Entra shows a secret once |
//! | revoke the tokens of one secret | — | **unsupported** |
//! | token | `POST {login}/{tenant}/oauth2/v2.0/token`, `scope={api_identifier_uri}/.default` (Entra grants what is assigned, not what is asked) | supported |
//! | introspect, revoke | — | **unsupported**: Entra has neither for access tokens; gateways validate its JWTs from its JWKS, `roles` as scopes |
//! | scopes | the API application's `appRoles` (`allowedMemberTypes: ["Application"]`): add with a new id; delete = disable, then remove (two `PATCH`es, Graph's rule) | supported |
//!
//! Graph's throttling (`429` + `Retry-After`) is waited out by the HTTP kit for idempotent calls; a call refused
//! because a just-made object has not replicated (`404`, `NoBackingApplicationObject`) is sent again a bounded
//! number of times ([`EntraSettings::replication_retries`]).

use async_trait::async_trait;
use keymanager::connector_kit::http::{HttpClient, Idempotency};
use keymanager::connector_kit::model::*;
use keymanager::connector_kit::oauth::{self, ClientCredentialsToken};
use keymanager::connector_kit::{Error, KeyManager, Result};
use reqwest::Method;

use crate::bodies::{
    AddPassword, AppRole, AppRoleAssignment, AppRoles, Application, ApplicationBody, NewServicePrincipal,
    PasswordCredential, RedirectUris, RemovePassword, RequiredResourceAccess, ResourceAccess, ServicePrincipal,
};
use crate::errors::refine;
use crate::settings::{is_guid, EntraSettings};

/// The Entra ID key manager.
pub struct EntraKeyManager {
    pub(crate) name: String,
    pub(crate) settings: EntraSettings,
    pub(crate) http: HttpClient,
    pub(crate) tokens: ClientCredentialsToken,
}

impl std::fmt::Debug for EntraKeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraKeyManager")
            .field("name", &self.name)
            .field("tenant_id", &self.settings.tenant_id)
            .finish_non_exhaustive()
    }
}

/// Seconds since the epoch of a Graph timestamp (`2026-12-06T10:00:00Z`, fractions and offsets allowed).
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp())
}

fn timestamp(epoch: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(epoch, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn secret_info(p: &PasswordCredential, now: i64) -> SecretInfo {
    let expires_at = p.end_date_time.as_deref().and_then(parse_timestamp);
    SecretInfo {
        id: p.key_id.clone().unwrap_or_default(),
        // Graph lists the first three characters only (`hint`); the value never comes back.
        masked: format!("{}{}", p.hint.as_deref().unwrap_or_default(), "*".repeat(12)),
        description: p.display_name.clone(),
        created_at: p
            .start_date_time
            .as_deref()
            .and_then(parse_timestamp)
            .unwrap_or_default(),
        expires_at,
        status: match expires_at {
            Some(at) if at <= now => SecretStatus::Inactive,
            _ => SecretStatus::Active,
        },
    }
}

impl EntraKeyManager {
    /// A key manager over a tenant.
    pub fn new(name: impl Into<String>, settings: EntraSettings, http: HttpClient) -> Self {
        let name = name.into();
        let tokens = ClientCredentialsToken::new(
            settings.token_endpoint(),
            settings.client_id.clone(),
            settings.client_secret.clone(),
            TokenEndpointAuthMethod::ClientSecretPost,
            "the management application",
        )
        .with_param("scope", &settings.graph_scope());
        EntraKeyManager {
            http: http
                .with_error_dialect(std::sync::Arc::new(crate::errors::GraphErrors))
                .with_metrics_label(&name),
            name,
            settings,
            tokens,
        }
    }

    /// The API's enabled application roles, by value.
    fn roles_for(api: &Application, scopes: &Scopes) -> Result<Vec<AppRole>> {
        scopes
            .iter()
            .map(|s| {
                api.app_roles
                    .iter()
                    .find(|r| {
                        r.value.as_deref() == Some(s.as_ref())
                            && r.is_enabled
                            && r.allowed_member_types.iter().any(|t| t == "Application")
                    })
                    .cloned()
                    .ok_or_else(|| {
                        Error::invalid_scope(format!(
                            "scope `{s}` is not an enabled application role of the API application"
                        ))
                    })
            })
            .collect()
    }

    fn application_body(&self, spec: &ClientSpec, roles: &[AppRole]) -> ApplicationBody {
        let uris = RedirectUris {
            redirect_uris: spec.redirect_uri_strings(),
        };
        let (web, spa) = match spec.public_client {
            true => (RedirectUris::default(), uris),
            false => (uris, RedirectUris::default()),
        };
        ApplicationBody {
            display_name: spec.name.clone(),
            sign_in_audience: Some(
                spec.additional_properties
                    .get("sign_in_audience")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("AzureADMyOrg")
                    .to_owned(),
            ),
            web,
            spa,
            is_fallback_public_client: false,
            required_resource_access: vec![RequiredResourceAccess {
                resource_app_id: self.settings.api_application.clone(),
                resource_access: roles
                    .iter()
                    .map(|r| ResourceAccess {
                        id: r.id.clone(),
                        kind: "Role".into(),
                    })
                    .collect(),
            }],
        }
    }

    async fn add_password(
        &self,
        app_object_id: &str,
        description: Option<String>,
        expires_at: Option<i64>,
    ) -> Result<PasswordCredential> {
        let body = AddPassword {
            password_credential: PasswordCredential {
                display_name: Some(description.unwrap_or_else(|| "keymanager".into())),
                end_date_time: expires_at.and_then(timestamp),
                ..Default::default()
            },
        };
        let path = format!("/applications/{app_object_id}/addPassword");
        let made: PasswordCredential = self
            .graph_replicated(Method::POST, &path, Some(&body), Idempotency::NonIdempotent)
            .await?
            .json()?;
        if made.secret_text.is_none() || made.key_id.is_none() {
            return Err(Error::malformed(path, "secretText", "missing"));
        }
        Ok(made)
    }

    async fn remove_password(&self, app_object_id: &str, key_id: &str) -> Result<()> {
        let path = format!("/applications/{app_object_id}/removePassword");
        self.graph(
            Method::POST,
            &path,
            Some(&RemovePassword { key_id }),
            Idempotency::Idempotent,
        )
        .await
        .map_err(|e| refine(e, "secret", key_id))?;
        Ok(())
    }

    async fn assign(&self, api_sp: &str, principal: &str, role: &AppRole) -> Result<()> {
        let body = AppRoleAssignment {
            principal_id: principal.to_owned(),
            resource_id: api_sp.to_owned(),
            app_role_id: role.id.clone(),
            ..Default::default()
        };
        let path = format!("/servicePrincipals/{api_sp}/appRoleAssignedTo");
        self.graph_replicated(Method::POST, &path, Some(&body), Idempotency::NonIdempotent)
            .await?;
        Ok(())
    }

    /// Make the roles assigned to `principal` exactly `roles`.
    async fn sync_roles(&self, api_sp: &str, principal: &str, roles: &[AppRole]) -> Result<()> {
        let held = self.assignments(api_sp, principal).await?;
        for role in roles {
            if !held.iter().any(|a| a.app_role_id == role.id) {
                self.assign(api_sp, principal, role).await?;
            }
        }
        for a in held.iter().filter(|a| !roles.iter().any(|r| r.id == a.app_role_id)) {
            let path = format!("/servicePrincipals/{api_sp}/appRoleAssignedTo/{}", a.id);
            self.graph::<()>(Method::DELETE, &path, None, Idempotency::Idempotent)
                .await?;
        }
        Ok(())
    }

    /// Build everything after the application exists; the caller deletes the application if this fails.
    async fn complete(
        &self,
        app: &Application,
        api: &(Application, ServicePrincipal),
        roles: &[AppRole],
    ) -> Result<PasswordCredential> {
        let sp: ServicePrincipal = self
            .graph_replicated(
                Method::POST,
                "/servicePrincipals",
                Some(&NewServicePrincipal { app_id: &app.app_id }),
                Idempotency::NonIdempotent,
            )
            .await?
            .json()?;
        let secret = self.add_password(&app.id, None, None).await?;
        for role in roles {
            self.assign(&api.1.id, &sp.id, role).await?;
        }
        Ok(secret)
    }

    /// The client's scopes: the API roles assigned to its service principal.
    async fn granted(&self, api: &(Application, ServicePrincipal), app_id: &str) -> Result<Scopes> {
        let sp = self.service_principal(app_id).await?;
        let held = self.assignments(&api.1.id, &sp.id).await?;
        Ok(held
            .iter()
            .filter_map(|a| api.0.app_roles.iter().find(|r| r.id == a.app_role_id))
            .filter_map(|r| r.value.clone())
            .collect())
    }

    fn client_from(&self, app: &Application, scopes: Scopes) -> OAuthClient {
        let spa = app.spa.as_ref().map(|s| s.redirect_uris.clone()).unwrap_or_default();
        let web = app.web.as_ref().map(|s| s.redirect_uris.clone()).unwrap_or_default();
        let public_client = !spa.is_empty() && web.is_empty();
        let mut grant_types = vec![GrantType::ClientCredentials];
        if !web.is_empty() || !spa.is_empty() {
            grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
        }
        let mut additional_properties = serde_json::Map::new();
        if let Some(a) = &app.sign_in_audience {
            additional_properties.insert("sign_in_audience".into(), serde_json::Value::String(a.clone()));
        }
        OAuthClient {
            client_id: ClientId::from(app.app_id.clone()),
            client_secret: None,
            name: app.display_name.clone().unwrap_or_default(),
            grant_types,
            redirect_uris: if public_client { spa } else { web },
            scopes,
            public_client,
            pkce: PkcePolicy {
                required: public_client,
                allow_plain: false,
            },
            access_token_lifetime: None,
            refresh_token_lifetime: None,
            created_at: app.created_date_time.as_deref().and_then(parse_timestamp),
            additional_properties,
        }
    }

    fn check_spec(spec: &ClientSpec) -> Result<()> {
        if spec.pkce.required && !spec.public_client {
            return Err(Error::unsupported(
                "requiring PKCE of a confidential client (Entra has no such switch; its spa clients always use it)",
            ));
        }
        if spec.public_client && spec.grant_types.contains(&GrantType::ClientCredentials) {
            return Err(Error::invalid_field(
                "grant_types",
                "a public (spa) client cannot use client_credentials",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl KeyManager for EntraKeyManager {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        crate::settings::KIND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            grant_types: vec![
                GrantType::ClientCredentials,
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
            ],
            update_client: true,
            map_existing_client: false,
            regenerate_secret: true,
            multiple_secrets: self.settings.secrets.max(None) != Some(1),
            max_secrets_per_client: self.settings.secrets.max(None),
            secret_expiry: true,
            secret_description: true,
            revoke_tokens_with_secret: false,
            introspection: false,
            revocation: false,
            scope_management: true,
            public_clients: true,
            pkce: true,
            pkce_plain: false,
            client_token_lifetime: false,
            retrievable_secrets: false,
        }
    }

    fn token_profile(&self) -> TokenProfile {
        TokenProfile {
            issuer: self.settings.issuer.clone(),
            jwks_uri: Some(self.settings.jwks_uri()),
            introspection_endpoint: None,
            client_id_claim: "azp".into(),
            scope_claim: ScopeClaim::Array("roles".into()),
            audience: Some(self.settings.audience.clone()),
            algorithms: vec!["RS256".into()],
            access_token_typ: None,
        }
    }

    async fn register_client(&self, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&self.capabilities())?;
        Self::check_spec(spec)?;
        let api = self.api().await?;
        let roles = Self::roles_for(&api.0, &spec.scopes)?;
        let app: Application = self
            .graph(
                Method::POST,
                "/applications",
                Some(&self.application_body(spec, &roles)),
                Idempotency::NonIdempotent,
            )
            .await?
            .json()?;
        if !is_guid(&app.id) || !is_guid(&app.app_id) {
            return Err(Error::malformed("POST /applications", "id", "not a GUID"));
        }
        match self.complete(&app, &api, &roles).await {
            Ok(secret) => {
                let mut client = self.client_from(&app, spec.scopes.clone());
                client.grant_types = spec.grant_types.clone();
                client.client_secret = secret.secret_text.map(ClientSecret::new);
                Ok(client)
            }
            Err(cause) => {
                // Leave nothing half made: the application goes (its service principal with it).
                let path = format!("/applications/{}", app.id);
                if let Err(e) = self
                    .graph::<()>(Method::DELETE, &path, None, Idempotency::Idempotent)
                    .await
                {
                    tracing::error!(key_manager = %self.name, app_id = %app.app_id, error = %e,
                        "registration failed and the application could not be deleted again; delete it in Entra");
                }
                Err(cause)
            }
        }
    }

    async fn update_client(&self, client_id: &ClientId, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&self.capabilities())?;
        Self::check_spec(spec)?;
        let api = self.api().await?;
        let roles = Self::roles_for(&api.0, &spec.scopes)?;
        let app = self.application(client_id.as_str()).await?;
        let path = format!("/applications/{}", app.id);
        self.graph(
            Method::PATCH,
            &path,
            Some(&self.application_body(spec, &roles)),
            Idempotency::Idempotent,
        )
        .await
        .map_err(|e| refine(e, "client", client_id.as_str()))?;
        let sp = self.service_principal(client_id.as_str()).await?;
        self.sync_roles(&api.1.id, &sp.id, &roles).await?;
        let app = self.application(client_id.as_str()).await?;
        let mut client = self.client_from(&app, spec.scopes.clone());
        client.grant_types = spec.grant_types.clone();
        Ok(client)
    }

    async fn get_client(&self, client_id: &ClientId) -> Result<OAuthClient> {
        let app = self.application(client_id.as_str()).await?;
        let api = self.api().await?;
        let scopes = self.granted(&api, client_id.as_str()).await?;
        Ok(self.client_from(&app, scopes))
    }

    async fn delete_client(&self, client_id: &ClientId) -> Result<()> {
        let path = Self::by_app_id("applications", client_id.as_str())?;
        self.graph::<()>(Method::DELETE, &path, None, Idempotency::Idempotent)
            .await
            .map_err(|e| refine(e, "client", client_id.as_str()))?;
        Ok(())
    }

    async fn regenerate_secret(&self, client_id: &ClientId) -> Result<OAuthClient> {
        let app = self.application(client_id.as_str()).await?;
        let made = self.add_password(&app.id, None, None).await?;
        for old in app.password_credentials.iter().filter_map(|p| p.key_id.as_deref()) {
            self.remove_password(&app.id, old).await?;
        }
        let api = self.api().await?;
        let scopes = self.granted(&api, client_id.as_str()).await?;
        let mut client = self.client_from(&app, scopes);
        client.client_secret = made.secret_text.map(ClientSecret::new);
        Ok(client)
    }

    async fn create_secret(&self, client_id: &ClientId, spec: &SecretSpec) -> Result<IssuedSecret> {
        let app = self.application(client_id.as_str()).await?;
        self.settings
            .secrets
            .check_room(client_id.as_str(), app.password_credentials.len())?;
        let now = keymanager::connector_kit::model::now();
        let expires_at = match spec.expires_in {
            Some(secs) => Some(
                i64::try_from(secs)
                    .ok()
                    .and_then(|s| now.checked_add(s))
                    .ok_or_else(|| Error::invalid_field("expires_in", "is too far ahead"))?,
            ),
            None => None,
        };
        let made = self.add_password(&app.id, spec.description.clone(), expires_at).await?;
        let info = secret_info(&made, now);
        Ok(IssuedSecret {
            id: info.id.clone(),
            secret: ClientSecret::new(made.secret_text.unwrap_or_default()),
            info,
        })
    }

    async fn list_secrets(&self, client_id: &ClientId) -> Result<Vec<SecretInfo>> {
        let now = keymanager::connector_kit::model::now();
        Ok(self
            .application(client_id.as_str())
            .await?
            .password_credentials
            .iter()
            .map(|p| secret_info(p, now))
            .collect())
    }

    async fn delete_secret(&self, client_id: &ClientId, secret_id: &str, revoke_tokens: bool) -> Result<()> {
        if revoke_tokens {
            return Err(Error::unsupported(
                "revoking the tokens of one secret (Entra cannot revoke access tokens)",
            ));
        }
        let app = self.application(client_id.as_str()).await?;
        if !app
            .password_credentials
            .iter()
            .any(|p| p.key_id.as_deref() == Some(secret_id))
        {
            return Err(Error::not_found("secret", secret_id));
        }
        self.remove_password(&app.id, secret_id).await
    }

    async fn issue_token(&self, request: &TokenRequest) -> Result<AccessToken> {
        // Entra grants what is assigned, for one resource: ask for the API's `.default` scope.
        let mut asked = request.clone();
        asked.scopes = Scopes::from(vec![format!("{}/.default", self.settings.api_identifier_uri)]);
        oauth::request_token_as(
            &self.http,
            &self.settings.token_endpoint(),
            &asked,
            TokenEndpointAuthMethod::ClientSecretPost,
        )
        .await
        .map_err(|e| refine(e, "client", request.client_id.as_str()))
    }

    async fn introspect(&self, _token: &Token, _hint: Option<TokenTypeHint>) -> Result<TokenInfo> {
        Err(Error::unsupported(
            "introspect (Entra has no introspection endpoint; gateways validate its JWTs from its JWKS)",
        ))
    }

    async fn revoke_token(&self, _request: &RevocationRequest) -> Result<()> {
        Err(Error::unsupported(
            "revoke_token (Entra cannot revoke an access token; it expires)",
        ))
    }

    async fn register_scope(&self, scope: &Scope) -> Result<Scope> {
        let (api, _) = self.api().await?;
        if api
            .app_roles
            .iter()
            .any(|r| r.value.as_deref() == Some(scope.name.as_str()))
        {
            return Err(Error::conflict(format!("scope `{}` exists", scope.name)));
        }
        let mut roles = api.app_roles.clone();
        roles.push(AppRole {
            allowed_member_types: vec!["Application".into()],
            description: Some(scope.description.clone().unwrap_or_else(|| scope.name.clone())),
            display_name: Some(scope.display_name.clone().unwrap_or_else(|| scope.name.clone())),
            id: uuid::Uuid::new_v4().to_string(),
            is_enabled: true,
            value: Some(scope.name.clone()),
        });
        self.graph(
            Method::PATCH,
            &format!("/applications/{}", api.id),
            Some(&AppRoles { app_roles: roles }),
            Idempotency::Idempotent,
        )
        .await?;
        Ok(scope.clone())
    }

    async fn list_scopes(&self) -> Result<Vec<Scope>> {
        let (api, _) = self.api().await?;
        Ok(api
            .app_roles
            .into_iter()
            .filter(|r| r.is_enabled && r.allowed_member_types.iter().any(|t| t == "Application"))
            .filter_map(|r| {
                Some(Scope {
                    name: r.value?,
                    description: r.description,
                    display_name: r.display_name,
                })
            })
            .collect())
    }

    async fn delete_scope(&self, name: &str) -> Result<()> {
        let (api, _) = self.api().await?;
        if !api.app_roles.iter().any(|r| r.value.as_deref() == Some(name)) {
            return Err(Error::not_found("scope", name));
        }
        let path = format!("/applications/{}", api.id);
        // Graph removes a role only once it is disabled: first disable it, then leave it out.
        let disabled: Vec<AppRole> = api
            .app_roles
            .iter()
            .cloned()
            .map(|mut r| {
                if r.value.as_deref() == Some(name) {
                    r.is_enabled = false;
                }
                r
            })
            .collect();
        self.graph(
            Method::PATCH,
            &path,
            Some(&AppRoles { app_roles: disabled }),
            Idempotency::Idempotent,
        )
        .await?;
        let kept: Vec<AppRole> = api
            .app_roles
            .into_iter()
            .filter(|r| r.value.as_deref() != Some(name))
            .collect();
        self.graph(
            Method::PATCH,
            &path,
            Some(&AppRoles { app_roles: kept }),
            Idempotency::Idempotent,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_timestamps_read_and_write() {
        assert_eq!(parse_timestamp("2026-12-06T10:00:00Z"), Some(1_796_551_200));
        assert_eq!(parse_timestamp("2026-12-06T10:00:00.1234567Z"), Some(1_796_551_200));
        assert_eq!(timestamp(1_796_551_200).as_deref(), Some("2026-12-06T10:00:00Z"));
        assert_eq!(parse_timestamp("garbage"), None);
    }
}
