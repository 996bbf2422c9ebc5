//! The key service: applications, their key mappings, and the platform's "generate keys" flow over any
//! configured key manager.
//!
//! Generate keys = check the request against the key manager's capabilities and application properties →
//! register the client → store the mapping → optionally issue a first token. When the provider call fails,
//! nothing is stored. When storing fails after the provider created the client, the client is deleted again; if
//! that fails too, it is recorded as orphaned (and logged at error level) for an operator.

pub mod admin_tokens;
pub mod audit;
pub mod discover;
pub mod key_managers;
#[cfg(feature = "validation")]
mod lookup;
mod model;
mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use audit::{Actor, ActorKind, Audit, AuditPage, AuditQuery, AuditRecord, Outcome};
pub use model::{
    Application, ApplicationOrder, ApplicationPage, ApplicationQuery, GenerateKeys, GeneratedKeys, KeyDetails,
    KeyMapping, KeyOrigin, KeyState, StoredKeyManager, UpdateKeys,
};
pub use store::{ApplicationStore, SqlApplicationStore, MIGRATIONS};

use crate::model::{
    AccessToken, ClientId, ClientSecret, ClientSpec, GrantType, IssuedSecret, KeyType, OAuthClient, PkcePolicy,
    RevocationRequest, SecretInfo, SecretSpec, Token, TokenRequest,
};
use crate::registry::KeyManagers;
use crate::{Error, KeyManager, Result};

/// Applications and their keys, over a set of key managers and a store.
#[derive(Clone)]
pub struct KeyService {
    /// The key managers in use: the configuration's, then those added at run time.
    live: Arc<std::sync::RwLock<key_managers::Live>>,
    /// The enabled key managers, published on every change of `live` (validators follow it).
    published: Arc<tokio::sync::watch::Sender<KeyManagers>>,
    /// The run-time key managers built so far, by name, with the stored row they were built from.
    built: Arc<std::sync::Mutex<key_managers::Built>>,
    /// Held by a reload and by a change of a run-time key manager, so neither undoes the other.
    changing: Arc<tokio::sync::Mutex<()>>,
    /// The configuration's (read-only here).
    fixed: Arc<KeyManagers>,
    /// How key managers are built at run time, when this service may.
    builder: Option<Arc<key_managers::KeyManagerBuilder>>,
    store: Arc<dyn ApplicationStore>,
    users: Option<Arc<dyn crate::UserDirectory>>,
    signing_keys: Option<(String, Arc<dyn crate::signing_keys::SigningKeyAdmin>)>,
    admin_tokens: Option<Arc<admin_tokens::AdminTokens>>,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("key_managers", &self.key_managers())
            .finish_non_exhaustive()
    }
}

/// A required human-readable field: not blank, and [the one text check](crate::model::check_text) (length, control
/// characters, bidirectional overrides).
fn check_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid_field(field, "must not be empty"));
    }
    crate::model::check_text(field, value, max)
}

impl KeyService {
    /// A service over these key managers and this store.
    pub fn new(key_managers: KeyManagers, store: Arc<dyn ApplicationStore>) -> Self {
        KeyService {
            live: Arc::new(std::sync::RwLock::new(key_managers::Live {
                set: key_managers.clone(),
                disabled: Default::default(),
            })),
            published: Arc::new(tokio::sync::watch::Sender::new(key_managers.clone())),
            built: Default::default(),
            changing: Default::default(),
            fixed: Arc::new(key_managers),
            builder: None,
            store,
            users: None,
            signing_keys: None,
            admin_tokens: None,
        }
    }

    /// Administer these named admin tokens too.
    pub fn with_admin_tokens(mut self, tokens: Arc<admin_tokens::AdminTokens>) -> Self {
        self.admin_tokens = Some(tokens);
        self
    }

    /// The named admin tokens, or `Unsupported` when this service was built without them.
    pub fn admin_tokens(&self) -> Result<&admin_tokens::AdminTokens> {
        self.admin_tokens
            .as_deref()
            .ok_or_else(|| Error::unsupported("admin tokens (this server keeps none)"))
    }

    /// Administer the users of this directory too (the resident key manager's).
    pub fn with_users(mut self, users: Arc<dyn crate::UserDirectory>) -> Self {
        self.users = Some(users);
        self
    }

    /// The user directory, or `Unsupported` when no key manager keeps users.
    pub fn users(&self) -> Result<&dyn crate::UserDirectory> {
        self.users
            .as_deref()
            .ok_or_else(|| Error::unsupported("users (no resident key manager is configured; users belong to it)"))
    }

    /// The time now, by the store's clock (one injected clock for the service, its store and its audit trail).
    pub fn now(&self) -> i64 {
        self.store.clock().now()
    }

    /// Administer these signing keys too (the resident key manager's).
    pub fn with_signing_keys(mut self, key_manager: &str, keys: Arc<dyn crate::signing_keys::SigningKeyAdmin>) -> Self {
        self.signing_keys = Some((key_manager.to_owned(), keys));
        self
    }

    /// The signing keys, or `Unsupported` when no key manager here signs tokens with keys of its own.
    pub fn signing_keys(&self) -> Result<&dyn crate::signing_keys::SigningKeyAdmin> {
        self.signing_keys.as_ref().map(|(_, k)| k.as_ref()).ok_or_else(|| {
            Error::unsupported("signing keys (no resident key manager is configured; the signing keys are its own)")
        })
    }

    /// Rotate the signing keys ([`SigningKeyAdmin::rotate_signing_keys`]) and tell gateways that follow the event
    /// stream: they fetch the keys again, so the new keys' tokens pass at once even without a pre-publication.
    ///
    /// [`SigningKeyAdmin::rotate_signing_keys`]: crate::signing_keys::SigningKeyAdmin::rotate_signing_keys
    pub async fn rotate_signing_keys(
        &self,
        rotation: crate::signing_keys::KeyRotation,
    ) -> Result<Vec<crate::signing_keys::SigningKeyInfo>> {
        let (key_manager, keys) = self.signing_key_holder()?;
        let list = keys.rotate_signing_keys(rotation).await?;
        self.tell_gateways_signing_keys(key_manager, keys, None, "the keys are rotated")
            .await?;
        Ok(list)
    }

    /// Retire a signing key ([`SigningKeyAdmin::retire_signing_key`]) and tell gateways that follow the event
    /// stream, for as long as a token the key signed may live: they fetch the keys again and refuse its tokens. The
    /// key is out of the JWKS before the notice is logged, so a gateway that refetches on the notice never finds it.
    ///
    /// [`SigningKeyAdmin::retire_signing_key`]: crate::signing_keys::SigningKeyAdmin::retire_signing_key
    pub async fn retire_signing_key(&self, kid: &str) -> Result<crate::signing_keys::SigningKeyInfo> {
        let (key_manager, keys) = self.signing_key_holder()?;
        let retired = keys.retire_signing_key(kid).await?;
        self.tell_gateways_signing_keys(key_manager, keys, Some(kid), &format!("key `{kid}` is retired"))
            .await?;
        Ok(retired)
    }

    fn signing_key_holder(&self) -> Result<(&str, &dyn crate::signing_keys::SigningKeyAdmin)> {
        let keys = self.signing_keys()?;
        let name = self.signing_keys.as_ref().map(|(n, _)| n.as_str()).unwrap_or_default();
        Ok((name, keys))
    }

    /// Log the notice that `key_manager`'s signing keys changed, kept as long as a token signed now may live.
    async fn tell_gateways_signing_keys(
        &self,
        key_manager: &str,
        keys: &dyn crate::signing_keys::SigningKeyAdmin,
        retired: Option<&str>,
        done: &str,
    ) -> Result<()> {
        let until = i64::try_from(keys.longest_token_lifetime())
            .ok()
            .and_then(|l| self.now().checked_add(l))
            .unwrap_or(i64::MAX);
        let notice = crate::model::GatewayNotice::SigningKeys {
            retired: retired.map(str::to_owned),
        };
        self.store
            .record_gateway_notice(key_manager, notice, until)
            .await
            .map_err(|e| {
                Error::storage(format!(
                    "{done}, but gateways that follow the event stream could not be told ({e}); they learn it when \
                     they next fetch the keys"
                ))
            })
    }

    /// Introspect a token at a key manager (RFC 7662), as the server's own management client.
    pub async fn introspect(
        &self,
        key_manager: &str,
        token: &crate::model::Token,
        hint: Option<crate::model::TokenTypeHint>,
    ) -> Result<crate::model::TokenInfo> {
        self.key_manager(key_manager)?.introspect(token, hint).await
    }

    /// The scopes a key manager knows, with what each means to people (its description).
    pub async fn scopes(&self, key_manager: &str) -> Result<Vec<crate::model::Scope>> {
        self.key_manager(key_manager)?.list_scopes().await
    }

    /// Register a scope with its description at a key manager (shown on its consent page).
    pub async fn create_scope(&self, key_manager: &str, scope: &crate::model::Scope) -> Result<crate::model::Scope> {
        if !crate::model::is_valid_scope_token(&scope.name) {
            return Err(Error::invalid_field("name", "not a valid scope token (RFC 6749 §3.3)"));
        }
        if let Some(d) = &scope.description {
            crate::model::check_text("description", d, 500)?;
        }
        if let Some(d) = &scope.display_name {
            crate::model::check_text("displayName", d, 100)?;
        }
        self.key_manager(key_manager)?.register_scope(scope).await
    }

    /// Remove a scope from a key manager.
    pub async fn delete_scope(&self, key_manager: &str, name: &str) -> Result<()> {
        self.key_manager(key_manager)?.delete_scope(name).await
    }

    /// Revoke a token (RFC 7009) at a key manager as the client it was issued to.
    pub async fn revoke(&self, key_manager: &str, request: &crate::model::RevocationRequest) -> Result<()> {
        self.key_manager(key_manager)?.revoke_token(request).await
    }

    /// The key managers in use.
    pub fn key_managers(&self) -> KeyManagers {
        self.live.read().unwrap_or_else(|p| p.into_inner()).set.clone()
    }

    // ----- applications -----

    /// Create an application; its name is unique per owner. The audit record is written with it.
    pub async fn create_application(
        &self,
        name: &str,
        description: Option<&str>,
        attributes: &BTreeMap<String, String>,
        owner: &str,
        audit: &Audit,
    ) -> Result<Application> {
        check_text("owner", owner, 100)?;
        let (name, description) = checked_application(name, description, attributes)?;
        let app = Application {
            id: uuid::Uuid::new_v4().to_string(),
            name,
            owner: owner.trim().to_owned(),
            created_at: self.now(),
            description,
            attributes: attributes.clone(),
        };
        audit.set_application(&app.id);
        if let Err(e) = self.store.insert_application(&app, audit.to_write().as_ref()).await {
            // The failure's record names no application: none was made.
            audit.clear_application();
            return Err(e);
        }
        audit.mark_written();
        tracing::info!(application_id = %app.id, "created an application");
        Ok(app)
    }

    /// Every application, or only `owner`'s.
    pub async fn applications(&self, query: &ApplicationQuery) -> Result<ApplicationPage> {
        self.store.list_applications(query).await
    }

    /// Change an application's name, description and attributes (each replaced as given; `None` keeps it). The
    /// audit record is written with it; a name its owner uses already is `Conflict`.
    pub async fn update_application(&self, id: &str, change: &ApplicationChange, audit: &Audit) -> Result<Application> {
        let mut app = self.application(id).await?;
        let name = change.name.clone().unwrap_or(app.name.clone());
        let description = match &change.description {
            Some(d) => Some(d.clone()),
            None => app.description.clone(),
        };
        let attributes = change.attributes.clone().unwrap_or(app.attributes.clone());
        let (name, description) = checked_application(&name, description.as_deref(), &attributes)?;
        app.name = name;
        app.description = description;
        app.attributes = attributes;
        self.store.update_application(&app, audit.to_write().as_ref()).await?;
        audit.mark_written();
        tracing::info!(application_id = id, "updated an application");
        Ok(app)
    }

    /// Give an application to another owner (an administrator's act). The audit record is written with it.
    pub async fn transfer_application(&self, id: &str, owner: &str, audit: &Audit) -> Result<Application> {
        check_text("owner", owner, 100)?;
        let owner = owner.trim();
        self.store.set_owner(id, owner, audit.to_write().as_ref()).await?;
        audit.mark_written();
        tracing::info!(application_id = id, "transferred an application");
        self.application(id).await
    }

    /// The revocations logged after entry `after` that have not expired, oldest first, at most `limit`: what
    /// `GET /api/gateway/events` streams to gateways that do not share the database.
    pub async fn gateway_events(&self, after: i64, limit: u32) -> Result<Vec<crate::model::GatewayEvent>> {
        self.store.gateway_events(after, limit).await
    }

    /// Record the first use of a DPoP proof a gateway accepted, across every node of this store (RFC 9449 §11.1),
    /// for [`PROOF_RECORD_SECONDS`](crate::model::PROOF_RECORD_SECONDS): `true` the first time, `false` for a
    /// replay. `jkt` is an RFC 7638 SHA-256 thumbprint and `jti` at most 256 characters; how long a record is kept
    /// is this server's say, so no caller can leave rows that never go.
    pub async fn accept_gateway_dpop_proof(&self, jkt: &str, jti: &str) -> Result<bool> {
        let is_thumbprint = jkt.len() == 43 && jkt.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !is_thumbprint {
            return Err(crate::Error::invalid_field(
                "jkt",
                "not an RFC 7638 SHA-256 thumbprint (43 base64url characters)",
            ));
        }
        if jti.is_empty() || jti.len() > 256 {
            return Err(crate::Error::invalid_field("jti", "between 1 and 256 characters"));
        }
        let expires_at = self
            .store
            .clock()
            .now()
            .saturating_add(crate::model::PROOF_RECORD_SECONDS);
        self.store.accept_gateway_dpop_proof(jkt, jti, expires_at).await
    }

    /// A page of the audit trail, newest first.
    pub async fn audit_trail(&self, query: &AuditQuery) -> Result<AuditPage> {
        self.store.audit_records(query).await
    }

    /// Append an audit record of its own: a change made only at a key manager, once acknowledged, or a failure.
    pub async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        self.store.append_audit(record).await
    }

    /// Drop audit records older than `retention`; how many went.
    pub async fn purge_audit(&self, retention: std::time::Duration) -> Result<u64> {
        let age = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
        self.store.purge_audit(self.now().saturating_sub(age)).await
    }

    /// One application by id.
    pub async fn application(&self, id: &str) -> Result<Application> {
        self.store
            .get_application(id)
            .await?
            .ok_or_else(|| Error::not_found("application", id))
    }

    /// One application by id, or by name when the name is unambiguous.
    pub async fn resolve_application(&self, id_or_name: &str) -> Result<Application> {
        if let Some(app) = self.store.get_application(id_or_name).await? {
            return Ok(app);
        }
        let mut found = self.store.find_applications_by_name(id_or_name).await?;
        match found.len() {
            0 => Err(Error::not_found("application", id_or_name)),
            1 => Ok(found.remove(0)),
            n => Err(Error::invalid_field(
                "application",
                format!("{n} applications are named `{id_or_name}`; use the application id"),
            )),
        }
    }

    /// Delete an application: every client generated for it is deleted at its key manager first. If one cannot
    /// be, the error is returned and the application keeps the mappings not yet removed, so the call can be
    /// repeated.
    pub async fn delete_application(&self, id: &str, audit: &Audit) -> Result<()> {
        self.application(id).await?;
        for mapping in self.store.list_mappings(id).await? {
            self.remove_keys(&mapping, &Audit::default()).await?;
        }
        self.store.delete_application(id, audit.to_write().as_ref()).await?;
        audit.mark_written();
        tracing::info!(application_id = id, "deleted an application");
        Ok(())
    }

    // ----- keys -----

    fn key_manager(&self, name: &str) -> Result<Arc<dyn KeyManager>> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        let all = &live.set;
        all.get(name).map_err(|_| {
            Error::invalid_field(
                "key_manager",
                format!(
                    "no key manager is named `{name}`; configured: {}",
                    all.iter().map(|k| k.name().to_owned()).collect::<Vec<_>>().join(", ")
                ),
            )
        })
    }

    /// "Generate keys": register a client for the application at the key manager and remember it.
    pub async fn generate_keys(
        &self,
        application_id: &str,
        req: &GenerateKeys,
        audit: &Audit,
    ) -> Result<GeneratedKeys> {
        let app = self.application(application_id).await?;
        let km = self.key_manager(&req.key_manager)?;
        self.check_enabled(km.name())?;
        let spec = ClientSpec {
            name: format!("{} {}", app.name, req.key_type),
            key_type: req.key_type,
            grant_types: req.grant_types.clone(),
            redirect_uris: callback_uris(req.callback_url.as_deref())?,
            scopes: req.scopes.clone(),
            public_client: req.public_client,
            pkce: PkcePolicy {
                required: req.pkce_mandatory,
                allow_plain: req.pkce_support_plain,
            },
            access_token_lifetime: None,
            refresh_token_lifetime: None,
            additional_properties: req.additional_properties.clone(),
        };
        spec.validate_for(&km.capabilities())?;
        self.key_managers()
            .check_application_properties(km.name(), &spec.additional_properties)?;
        if self
            .store
            .list_mappings(application_id)
            .await?
            .iter()
            .any(|m| m.key_type == req.key_type && m.key_manager == req.key_manager)
        {
            return Err(Error::conflict(format!(
                "the application already has {} keys from key manager `{}`",
                req.key_type, req.key_manager
            )));
        }
        let client = km.register_client(&spec).await?;
        let mapping = KeyMapping {
            id: uuid::Uuid::new_v4().to_string(),
            application_id: application_id.to_owned(),
            key_type: req.key_type,
            key_manager: req.key_manager.clone(),
            client_id: client.client_id.to_string(),
            state: KeyState::Completed,
            origin: KeyOrigin::Generated,
            created_at: self.now(),
        };
        audit.add_target("keyMappingId", &mapping.id);
        if let Err(stored) = self.store.insert_mapping(&mapping, audit.to_write().as_ref()).await {
            self.undo_registration(km.as_ref(), &client.client_id, &stored).await;
            return Err(stored);
        }
        audit.mark_written();
        tracing::info!(application_id, key_mapping_id = %mapping.id, key_manager = km.name(), "generated keys");
        let (token, token_error) = if req.generate_token {
            let request = TokenRequest {
                client_id: client.client_id.clone(),
                client_secret: client.client_secret.clone(),
                grant: crate::model::Grant::ClientCredentials,
                scopes: req.scopes.clone(),
                validity: req.validity_time,
                client_address: None,
                dpop_jkt: None,
                certificate_thumbprint: None,
            };
            match km.issue_token(&request).await {
                Ok(t) => (Some(t), None),
                Err(e) => {
                    tracing::info!(error = %e, kind = e.kind(), "the first token could not be issued");
                    (None, Some(Arc::new(e)))
                }
            }
        } else {
            (None, None)
        };
        Ok(GeneratedKeys {
            mapping,
            client,
            token,
            token_error,
        })
    }

    /// The provider created a client we could not store: delete it again, or record it as orphaned.
    async fn undo_registration(&self, km: &dyn KeyManager, client_id: &ClientId, cause: &Error) {
        match km.delete_client(client_id).await {
            Ok(()) => tracing::warn!(key_manager = km.name(), %client_id, error = %cause,
                "storing the key mapping failed; the client was deleted again"),
            Err(e) => {
                tracing::error!(key_manager = km.name(), %client_id, error = %e, cause = %cause,
                    "storing the key mapping failed and the client could not be deleted: it is orphaned");
                let reason = format!("mapping not stored ({cause}); delete failed ({e})");
                if let Err(r) = self.store.record_orphan(km.name(), client_id.as_str(), &reason).await {
                    tracing::error!(key_manager = km.name(), %client_id, error = %r,
                        "the orphaned client could not be recorded either");
                }
            }
        }
    }

    /// Map a client that exists at the key manager to the application (its secret proves it).
    pub async fn map_keys(
        &self,
        application_id: &str,
        key_manager: &str,
        key_type: KeyType,
        client_id: &ClientId,
        client_secret: Option<&ClientSecret>,
        audit: &Audit,
    ) -> Result<KeyDetails> {
        self.application(application_id).await?;
        let km = self.key_manager(key_manager)?;
        self.check_enabled(km.name())?;
        // The client's own proof first: whether a client is held already is told only to whoever holds its secret
        // (otherwise the answer reveals which client ids are mapped).
        let client = km.map_client(client_id, client_secret).await?;
        if self
            .store
            .find_mapping_by_client(key_manager, client_id.as_str())
            .await?
            .is_some()
        {
            return Err(Error::conflict(format!(
                "client `{client_id}` of key manager `{key_manager}` is held by an application already"
            )));
        }
        let mapping = KeyMapping {
            id: uuid::Uuid::new_v4().to_string(),
            application_id: application_id.to_owned(),
            key_type,
            key_manager: key_manager.to_owned(),
            client_id: client.client_id.to_string(),
            state: KeyState::Completed,
            origin: KeyOrigin::Mapped,
            created_at: self.now(),
        };
        audit.add_target("keyMappingId", &mapping.id);
        self.store.insert_mapping(&mapping, audit.to_write().as_ref()).await?;
        audit.mark_written();
        Ok(KeyDetails { mapping, client })
    }

    /// An application's key mappings.
    pub async fn mappings(&self, application_id: &str) -> Result<Vec<KeyMapping>> {
        self.application(application_id).await?;
        self.store.list_mappings(application_id).await
    }

    /// One key mapping of an application.
    pub async fn mapping(&self, application_id: &str, mapping_id: &str) -> Result<KeyMapping> {
        self.mappings(application_id)
            .await?
            .into_iter()
            .find(|m| m.id == mapping_id)
            .ok_or_else(|| Error::not_found("key mapping", mapping_id))
    }

    /// The application's mapping of a key type (and key manager, when it has keys of that type in several).
    pub async fn find_mapping(
        &self,
        application_id: &str,
        key_type: KeyType,
        key_manager: Option<&str>,
    ) -> Result<KeyMapping> {
        let mut found: Vec<KeyMapping> = self
            .mappings(application_id)
            .await?
            .into_iter()
            .filter(|m| m.key_type == key_type && key_manager.is_none_or(|k| k == m.key_manager))
            .collect();
        match found.len() {
            0 => Err(Error::not_found("key mapping", format!("{key_type} keys"))),
            1 => Ok(found.remove(0)),
            _ => Err(Error::invalid_field(
                "key_manager",
                format!("the application has {key_type} keys from several key managers; name one"),
            )),
        }
    }

    /// The mapping of a client at a key manager, if an application holds it.
    pub async fn mapping_of_client(&self, key_manager: &str, client_id: &str) -> Result<Option<KeyMapping>> {
        self.store.find_mapping_by_client(key_manager, client_id).await
    }

    /// An application's keys with their clients as the key managers report them now. A client the key manager
    /// no longer has does not fail the listing: its mapping is listed with [`KeyState::ClientMissing`] and no
    /// client.
    pub async fn keys(&self, application_id: &str) -> Result<Vec<(KeyMapping, Option<OAuthClient>)>> {
        let mut out = Vec::new();
        for mut mapping in self.mappings(application_id).await? {
            let km = self.key_manager(&mapping.key_manager)?;
            match km.get_client(&ClientId::new(&mapping.client_id)).await {
                Ok(client) => out.push((mapping, Some(client))),
                Err(Error::NotFound { .. }) => {
                    tracing::warn!(key_mapping_id = %mapping.id, key_manager = km.name(),
                        "a mapped client no longer exists at its key manager");
                    mapping.state = KeyState::ClientMissing;
                    out.push((mapping, None));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// A mapping with its client as the key manager reports it now.
    pub async fn key_details(&self, application_id: &str, mapping_id: &str) -> Result<KeyDetails> {
        let mapping = self.mapping(application_id, mapping_id).await?;
        let km = self.key_manager(&mapping.key_manager)?;
        let client = km.get_client(&ClientId::new(&mapping.client_id)).await?;
        Ok(KeyDetails { mapping, client })
    }

    /// Change the client behind a mapping.
    pub async fn update_keys(&self, application_id: &str, mapping_id: &str, req: &UpdateKeys) -> Result<KeyDetails> {
        let KeyDetails { mapping, client } = self.key_details(application_id, mapping_id).await?;
        let km = self.key_manager(&mapping.key_manager)?;
        let spec = ClientSpec {
            name: client.name.clone(),
            key_type: mapping.key_type,
            grant_types: req.grant_types.clone(),
            redirect_uris: callback_uris(req.callback_url.as_deref())?,
            scopes: req.scopes.clone(),
            public_client: client.public_client,
            pkce: PkcePolicy {
                required: req.pkce_mandatory,
                allow_plain: req.pkce_support_plain,
            },
            access_token_lifetime: req.access_token_lifetime.or(client.access_token_lifetime),
            refresh_token_lifetime: client.refresh_token_lifetime,
            additional_properties: req.additional_properties.clone(),
        };
        spec.validate_for(&km.capabilities())?;
        self.key_managers()
            .check_application_properties(km.name(), &spec.additional_properties)?;
        // The provider first: the mapping holds nothing it keeps, so a refusal there changes nothing.
        let client = km.update_client(&client.client_id, &spec).await?;
        Ok(KeyDetails { mapping, client })
    }

    /// Remove keys: a generated client is deleted at its key manager, a mapped one only unmapped.
    pub async fn delete_keys(&self, application_id: &str, mapping_id: &str, audit: &Audit) -> Result<()> {
        let mapping = self.mapping(application_id, mapping_id).await?;
        self.remove_keys(&mapping, audit).await
    }

    async fn remove_keys(&self, mapping: &KeyMapping, audit: &Audit) -> Result<()> {
        if mapping.origin == KeyOrigin::Generated {
            let km = self.key_manager(&mapping.key_manager)?;
            match km.delete_client(&ClientId::new(&mapping.client_id)).await {
                Ok(()) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.store
            .delete_mapping(&mapping.id, audit.to_write().as_ref())
            .await?;
        audit.mark_written();
        Ok(())
    }

    /// Issue a token for the mapping's client (`client_credentials`, or the `password` grant for testing with a
    /// user); `revoke` is revoked first, as that client. `client_address` is the caller's, so a password is checked
    /// under the same per-address lockout as at the token endpoint.
    #[allow(clippy::too_many_arguments)]
    pub async fn generate_token(
        &self,
        application_id: &str,
        mapping_id: &str,
        client_secret: Option<ClientSecret>,
        grant: crate::model::Grant,
        scopes: crate::model::Scopes,
        validity: Option<u64>,
        revoke: Option<Token>,
        client_address: Option<std::net::IpAddr>,
    ) -> Result<AccessToken> {
        let mapping = self.mapping(application_id, mapping_id).await?;
        let km = self.key_manager(&mapping.key_manager)?;
        self.check_enabled(km.name())?;
        let client_id = ClientId::new(&mapping.client_id);
        if let Some(token) = revoke {
            km.revoke_token(&RevocationRequest {
                token,
                token_type_hint: Some(crate::model::TokenTypeHint::AccessToken),
                client_id: client_id.clone(),
                client_secret: client_secret.clone(),
            })
            .await?;
        }
        km.issue_token(&TokenRequest {
            client_id,
            client_secret,
            grant,
            scopes,
            validity,
            client_address,
            dpop_jkt: None,
            certificate_thumbprint: None,
        })
        .await
    }

    /// Revoke a token issued to an application's keys (RFC 7009), as their client.
    pub async fn revoke_keys_token(
        &self,
        application_id: &str,
        mapping_id: &str,
        token: Token,
        client_secret: Option<ClientSecret>,
    ) -> Result<()> {
        let mapping = self.mapping(application_id, mapping_id).await?;
        self.revoke(
            &mapping.key_manager,
            &RevocationRequest {
                token,
                token_type_hint: None,
                client_id: ClientId::new(&mapping.client_id),
                client_secret,
            },
        )
        .await
    }

    async fn mapped_client(&self, application_id: &str, mapping_id: &str) -> Result<(Arc<dyn KeyManager>, ClientId)> {
        let mapping = self.mapping(application_id, mapping_id).await?;
        Ok((
            self.key_manager(&mapping.key_manager)?,
            ClientId::new(mapping.client_id),
        ))
    }

    /// Replace the client's secrets with one new one (in the answer, once).
    pub async fn regenerate_secret(&self, application_id: &str, mapping_id: &str) -> Result<OAuthClient> {
        let (km, id) = self.mapped_client(application_id, mapping_id).await?;
        km.regenerate_secret(&id).await
    }

    /// The client's secrets, masked.
    pub async fn secrets(&self, application_id: &str, mapping_id: &str) -> Result<Vec<SecretInfo>> {
        let (km, id) = self.mapped_client(application_id, mapping_id).await?;
        let mut secrets = km.list_secrets(&id).await?;
        if !km.capabilities().secret_description {
            // The descriptions this service keeps for a provider that keeps none.
            let kept = self.store.secret_descriptions(km.name(), id.as_str()).await?;
            for s in &mut secrets {
                if let Some((_, d)) = kept.iter().find(|(sid, _)| *sid == s.id) {
                    s.description = Some(d.clone());
                }
            }
        }
        Ok(secrets)
    }

    /// Add a secret (its value in the answer, once).
    pub async fn create_secret(
        &self,
        application_id: &str,
        mapping_id: &str,
        spec: &SecretSpec,
    ) -> Result<IssuedSecret> {
        let (km, id) = self.mapped_client(application_id, mapping_id).await?;
        let kept_here = spec
            .description
            .as_ref()
            .filter(|_| !km.capabilities().secret_description);
        let Some(description) = kept_here else {
            return km.create_secret(&id, spec).await;
        };
        // The provider keeps no description: this service does, beside the secret it made there.
        check_text("description", description, 1000)?;
        let at_provider = SecretSpec {
            description: None,
            ..spec.clone()
        };
        let mut issued = km.create_secret(&id, &at_provider).await?;
        if let Err(e) = self
            .store
            .put_secret_description(km.name(), id.as_str(), &issued.id, description)
            .await
        {
            // Not kept, so not made: the secret goes again (nobody has seen it).
            if let Err(undo) = km.delete_secret(&id, &issued.id, false).await {
                tracing::error!(error = %undo, key_manager = km.name(), client_id = %id,
                    "a secret whose description could not be kept could not be deleted again");
            }
            return Err(e);
        }
        issued.info.description = Some(description.clone());
        Ok(issued)
    }

    /// Delete a secret; tokens it issued stay valid unless `revoke_tokens`.
    pub async fn delete_secret(
        &self,
        application_id: &str,
        mapping_id: &str,
        secret_id: &str,
        revoke_tokens: bool,
    ) -> Result<()> {
        let (km, id) = self.mapped_client(application_id, mapping_id).await?;
        km.delete_secret(&id, secret_id, revoke_tokens).await?;
        if !km.capabilities().secret_description {
            if let Err(e) = self
                .store
                .delete_secret_description(km.name(), id.as_str(), secret_id)
                .await
            {
                // The secret is gone; a description left behind is shown for nothing and harms nobody.
                tracing::warn!(error = %e, "a deleted secret's kept description could not be removed");
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::model::AuditSink for KeyService {
    async fn append(&self, record: &AuditRecord) -> Result<()> {
        self.append_audit(record).await
    }
}

/// Parse grant type strings (unknown ones are kept as [`GrantType::Other`]).
pub fn grant_types<S: AsRef<str>>(names: &[S]) -> Vec<GrantType> {
    names
        .iter()
        .map(|s| {
            let Ok(g) = s.as_ref().parse();
            g
        })
        .collect()
}

/// A change to an application: what is `Some` is replaced.
#[derive(Debug, Clone, Default)]
pub struct ApplicationChange {
    /// New name.
    pub name: Option<String>,
    /// New description (empty removes it).
    pub description: Option<String>,
    /// New attributes, replacing all of them.
    pub attributes: Option<BTreeMap<String, String>>,
}

/// The most attributes an application may carry.
pub(crate) const MAX_ATTRIBUTES: usize = 50;

/// An application's name and description, trimmed and checked, with its attributes checked: names of 1 to 64
/// letters, digits, `.`, `_` or `-`, values of at most 1000 characters without control characters, at most
/// [`MAX_ATTRIBUTES`] of them.
fn checked_application(
    name: &str,
    description: Option<&str>,
    attributes: &BTreeMap<String, String>,
) -> Result<(String, Option<String>)> {
    check_text("name", name, 100)?;
    let description = description.map(str::trim).filter(|d| !d.is_empty());
    if let Some(d) = description {
        check_text("description", d, 1000)?;
    }
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(Error::invalid_field(
            "attributes",
            format!("at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for (k, v) in attributes {
        if k.is_empty() || k.len() > 64 || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            return Err(Error::invalid_field(
                format!("attributes.{}", k.escape_debug().take(64).collect::<String>()),
                "an attribute name is 1 to 64 letters, digits, `.`, `_` or `-`",
            ));
        }
        crate::model::check_text(&format!("attributes.{k}"), v, 1000)?;
    }
    Ok((name.trim().to_owned(), description.map(str::to_owned)))
}

/// The one redirect URI an application's keys carry (the platform's `callbackUrl`), checked by the policy; a
/// refusal names `redirect_uris` (the API shows it as `callbackUrl`, one string).
fn callback_uris(callback_url: Option<&str>) -> Result<Vec<crate::model::RedirectUri>> {
    callback_url
        .map(|u| crate::model::RedirectUri::parse(u).map_err(|m| Error::invalid_field("redirect_uris", m)))
        .into_iter()
        .collect()
}
