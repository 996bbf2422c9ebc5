//! The resident authorization server: clients, secrets, scopes and tokens on the [`Store`].

use std::sync::Arc;

use keymanager::model::{
    check_duration, mask_secret, seconds_after, AccessToken, ClientId, ClientSpec, Grant, GrantType, IssuedSecret,
    OAuthClient, Scopes, SecretInfo, SecretSpec, SecretStatus, Token, TokenInfo, TokenRequest,
};
use keymanager::{Error, Result};
use serde_json::{json, Value};

use crate::client_cache::ClientCache;
use crate::client_metadata::ClientMetadata;
use crate::crypto;
use crate::keyring::KeyRing;
use crate::login_guard::LoginGuard;
use crate::settings::{ResidentSettings, TokenFormat};
use crate::signing::parse_jwt;
use crate::store::{ClientRecord, Revoked, SecretRecord, Store, TokenRecord};
use crate::users::{ResourceOwnerAuthenticator, StoreUsers};

/// The JWT `typ` of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The message for every failed client authentication: it never says which part was wrong.
const BAD_CLIENT: &str = "client authentication failed";

/// A client that authenticated, with the secret it used.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// The client.
    pub client: ClientRecord,
    /// The id of the secret that matched; `None` for a public client.
    pub secret_id: Option<String>,
}

/// An active token's facts, as introspection reports them.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    /// The client it was issued to.
    pub client_id: String,
    /// Its claims.
    pub claims: serde_json::Map<String, Value>,
}

/// The embedded authorization server.
pub struct ResidentServer {
    pub(crate) settings: ResidentSettings,
    pub(crate) store: Store,
    pub(crate) keys: KeyRing,
    clients: ClientCache,
    pub(crate) users: Arc<dyn ResourceOwnerAuthenticator>,
    pub(crate) login_guard: LoginGuard,
    /// Keys read from clients' `jwks_uri`s, for `private_key_jwt`.
    pub(crate) client_keys: crate::client_keys::ClientKeys,
    /// The issued-tokens counters, one per grant, registered with the installed recorder on the first token.
    issued: std::sync::OnceLock<[metrics::Counter; 4]>,
    /// The key manager's configured name, for the `key_manager` label of its metrics.
    pub(crate) metrics_name: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for ResidentServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResidentServer")
            .field("issuer", &self.settings.issuer)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl ResidentServer {
    /// Open a server on a store, loading (or creating) its signing key; users are the store's own.
    pub async fn open(settings: ResidentSettings, store: Store) -> Result<Arc<ResidentServer>> {
        let users = Arc::new(StoreUsers::new(store.clone()));
        users.ensure(&settings).await?;
        Self::open_with_users(settings, store, users).await
    }

    /// Open a server whose users come from `users` (a gateway's own directory).
    pub async fn open_with_users(
        settings: ResidentSettings,
        store: Store,
        users: Arc<dyn ResourceOwnerAuthenticator>,
    ) -> Result<Arc<ResidentServer>> {
        let settings = settings.settle_issuer(&store).await?;
        let keys = KeyRing::load(
            store.clone(),
            settings.algorithm,
            settings.max_access_token_lifetime as i64,
        )
        .await?;
        let clients = ClientCache::new(std::time::Duration::from_secs(settings.client_cache_seconds));
        Ok(Arc::new(ResidentServer {
            login_guard: LoginGuard::new(settings.brute_force),
            client_keys: crate::client_keys::ClientKeys::new(settings.egress)?,
            issued: std::sync::OnceLock::new(),
            metrics_name: std::sync::OnceLock::new(),
            settings,
            store,
            keys,
            clients,
            users,
        }))
    }

    /// The settings.
    pub fn settings(&self) -> &ResidentSettings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The signing keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Ready to serve: the store answers and a signing key is loaded.
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await?;
        self.keys.current().await.map(drop)
    }

    /// Apply a change another node announced: forget a changed client, reload rotated signing keys; after missed
    /// announcements, both.
    pub fn apply(self: &Arc<Self>, change: &keymanager::sql::changes::Change) {
        use keymanager::sql::changes::Change;
        match change {
            Change::Client(id) => {
                tracing::debug!(client_id = %id, "another node changed a client");
                self.clients.invalidate(id)
            }
            Change::SigningKeys | Change::CatchUp => {
                if *change == Change::CatchUp {
                    self.clients.expire_all();
                }
                let server = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = server.keys.refresh().await {
                        tracing::warn!(error = %e, "cannot reload the signing keys after a change; retrying when stale");
                    }
                });
            }
            Change::Revocation | Change::AdminTokens | Change::KeyManagers => {}
        }
    }

    // ----- clients -----

    /// Register a client; a confidential one gets its first secret, returned in the answer only.
    pub async fn register(&self, spec: &ClientSpec, registration_token_hash: Option<String>) -> Result<OAuthClient> {
        spec.validate_for(&crate::capabilities(&self.settings))?;
        let metadata = self.client_metadata(spec)?;
        let at = self.store.now();
        let record = ClientRecord {
            client_id: crypto::new_client_id(),
            name: spec.name.trim().to_owned(),
            key_type: spec.key_type,
            grant_types: spec.grant_types.clone(),
            redirect_uris: spec.redirect_uris.clone(),
            scopes: spec.scopes.clone(),
            public_client: spec.public_client,
            pkce: spec.pkce,
            access_token_lifetime: spec.access_token_lifetime,
            refresh_token_lifetime: spec.refresh_token_lifetime,
            additional_properties: spec.additional_properties.clone(),
            registration_token_hash,
            created_at: at,
            updated_at: at,
        };
        // A public client has no secret; a private_key_jwt client authenticates with its own keys instead.
        let secret = match spec.public_client || metadata.uses_private_key_jwt() {
            true => None,
            false => Some(self.new_secret_record(&record.client_id, &SecretSpec::default(), at)?),
        };
        self.store
            .insert_client(&record, secret.as_ref().map(|(r, _)| r))
            .await?;
        tracing::info!(client_id = %record.client_id, public = record.public_client, "registered a client");
        let mut client = to_oauth_client(&record);
        client.client_secret = secret.map(|(_, plain)| plain.into());
        Ok(client)
    }

    /// Replace a client's settings (its secrets stay).
    pub async fn update(&self, client_id: &str, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&crate::capabilities(&self.settings))?;
        self.client_metadata(spec)?;
        let mut record = self.client(client_id).await?;
        if record.public_client != spec.public_client {
            return Err(Error::invalid_field(
                "public_client",
                "a client cannot switch between public and confidential; register a new client",
            ));
        }
        record.name = spec.name.trim().to_owned();
        record.grant_types = spec.grant_types.clone();
        record.redirect_uris = spec.redirect_uris.clone();
        record.scopes = spec.scopes.clone();
        record.pkce = spec.pkce;
        record.access_token_lifetime = spec.access_token_lifetime;
        record.refresh_token_lifetime = spec.refresh_token_lifetime;
        record.additional_properties = spec.additional_properties.clone();
        record.updated_at = self.store.now();
        self.store.update_client(&record).await?;
        self.clients.invalidate(client_id);
        Ok(to_oauth_client(&record))
    }

    /// Apply an update a client asked for with its registration access token (RFC 7592): it may keep or narrow
    /// what `current` holds, never widen it ([`ClientSpec::check_self_update`]). A lifetime left to the server's
    /// default counts as that default, so leaving it out cannot lift a limit either.
    pub async fn update_on_own_authority(&self, current: &ClientRecord, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate()?;
        let held = self.effective_spec(current);
        let mut wanted = spec.clone();
        wanted.access_token_lifetime = Some(
            spec.access_token_lifetime
                .unwrap_or(self.settings.access_token_lifetime),
        );
        wanted.refresh_token_lifetime = Some(
            spec.refresh_token_lifetime
                .unwrap_or(self.settings.refresh_token_lifetime),
        );
        wanted.check_self_update(&held, crate::client_metadata::self_update_rule)?;
        self.update(&current.client_id, spec).await
    }

    /// A client's registration as a spec, with the server's defaults written in where it sets no lifetime.
    fn effective_spec(&self, r: &ClientRecord) -> ClientSpec {
        ClientSpec {
            name: r.name.clone(),
            key_type: r.key_type,
            grant_types: r.grant_types.clone(),
            redirect_uris: r.redirect_uris.clone(),
            scopes: r.scopes.clone(),
            public_client: r.public_client,
            pkce: r.pkce,
            access_token_lifetime: Some(r.access_token_lifetime.unwrap_or(self.settings.access_token_lifetime)),
            refresh_token_lifetime: Some(r.refresh_token_lifetime.unwrap_or(self.settings.refresh_token_lifetime)),
            additional_properties: r.additional_properties.clone(),
        }
    }

    /// Read a client; `NotFound` when it does not exist.
    pub async fn client(&self, client_id: &str) -> Result<ClientRecord> {
        self.store
            .get_client(client_id)
            .await?
            .ok_or_else(|| Error::not_found("client", client_id))
    }

    /// Delete a client, its secrets and its opaque tokens; its JWTs stop introspecting as active.
    pub async fn delete(&self, client_id: &str) -> Result<()> {
        let at = self.store.now();
        let rule = Revoked::Client {
            client_id: client_id.to_owned(),
            issued_before: at,
            expires_at: self.max_token_expiry(at)?,
        };
        self.store.delete_client(client_id, &rule).await?;
        self.clients.invalidate(client_id);
        tracing::info!(client_id, "deleted a client");
        Ok(())
    }

    // ----- secrets -----

    /// When the last token issued now expires at the latest: how long a revocation rule must be kept.
    pub(crate) fn max_token_expiry(&self, at: i64) -> Result<i64> {
        seconds_after("max_access_token_lifetime", at, self.settings.max_access_token_lifetime)
    }

    fn new_secret_record(&self, client_id: &str, spec: &SecretSpec, at: i64) -> Result<(SecretRecord, String)> {
        let expires_at = match spec.expires_in {
            Some(s) => Some(seconds_after("expires_in", at, s)?),
            None => None,
        };
        let plain = crypto::new_secret();
        let secret_id = crypto::random_token(12);
        // Retrievable: sealed too, bound to its client and id (a sealed value moved to another row does not open).
        let sealed = match self.secret_box()? {
            Some(b) => Some(b.seal(&plain, &sealing_context(client_id, &secret_id))?),
            None => None,
        };
        let record = SecretRecord {
            secret_id,
            client_id: client_id.to_owned(),
            secret_hash: crypto::hash(&plain),
            masked: mask_secret(&plain),
            description: spec.description.clone(),
            created_at: at,
            expires_at,
            sealed,
        };
        Ok((record, plain))
    }

    /// The sealing keys, when secrets are retrievable; a retrievable store without them is a configuration fault.
    fn secret_box(&self) -> Result<Option<&keymanager::secret_box::SecretBox>> {
        match self.settings.client_secret_storage {
            crate::SecretStorage::Hashed => Ok(None),
            crate::SecretStorage::Retrievable => self.settings.secret_box.as_deref().map(Some).ok_or_else(|| {
                Error::Configuration(keymanager::error::ConfigError::new(
                    "client_secret_storage = \"retrievable\" needs the secret key (KEYMANAGER_SECRET_KEY or the data directory)",
                ))
            }),
        }
    }

    /// A client with its newest unexpired secret when secrets are retrievable (WSO2 shows it again); without.
    pub async fn client_with_secret(&self, client_id: &str) -> Result<OAuthClient> {
        let record = self.client(client_id).await?;
        let mut client = to_oauth_client(&record);
        if let Some(b) = self.secret_box()? {
            let at = self.store.now();
            let secrets = self.store.list_secrets(client_id).await?;
            // The newest unexpired one (a tie in the same second: the later in the store's order).
            let newest = secrets
                .iter()
                .filter(|s| !s.is_expired(at) && s.sealed.is_some())
                .max_by_key(|s| s.created_at);
            if let Some(s) = newest {
                let sealed = s.sealed.as_deref().unwrap_or_default();
                client.client_secret = Some(b.open(sealed, &sealing_context(client_id, &s.secret_id))?.into());
            }
        }
        Ok(client)
    }

    async fn confidential(&self, client_id: &str) -> Result<ClientRecord> {
        let client = self.client(client_id).await?;
        if client.public_client {
            return Err(Error::invalid_field("client_id", "a public client has no secrets"));
        }
        if ClientMetadata::of_record(&client.additional_properties)?.uses_private_key_jwt() {
            return Err(Error::invalid_field(
                "client_id",
                "this client authenticates with private_key_jwt (its own keys), not with secrets",
            ));
        }
        Ok(client)
    }

    /// The OpenID client metadata a spec carries in its `additional_properties`, checked.
    fn client_metadata(&self, spec: &ClientSpec) -> Result<ClientMetadata> {
        let meta = ClientMetadata::parse(&spec.additional_properties, spec.public_client, &self.keys.algorithms())?;
        if let Some(uri) = &meta.jwks_uri {
            // The server will fetch it on the client's say: the egress guard decides now, and again at each fetch.
            let url = url::Url::parse(uri)
                .map_err(|e| Error::invalid_field("additional_properties.jwks_uri", e.to_string()))?;
            self.settings
                .egress
                .check_url(&url)
                .map_err(|e| Error::invalid_field("additional_properties.jwks_uri", e.to_string()))?;
        }
        Ok(meta)
    }

    /// Add a secret. Its plain value is in the answer, and nowhere else, ever.
    pub async fn create_secret(&self, client_id: &str, spec: &SecretSpec) -> Result<IssuedSecret> {
        spec.validate()?;
        self.confidential(client_id).await?;
        let at = self.store.now();
        let (record, plain) = self.new_secret_record(client_id, spec, at)?;
        self.store
            .insert_secret(&record, self.settings.max_secrets_per_client)
            .await?;
        self.clients.invalidate(client_id);
        tracing::info!(client_id, secret_id = %record.secret_id, "created a client secret");
        Ok(IssuedSecret {
            id: record.secret_id.clone(),
            secret: plain.into(),
            info: secret_info(&record, at),
        })
    }

    /// A client's secrets, masked.
    pub async fn list_secrets(&self, client_id: &str) -> Result<Vec<SecretInfo>> {
        self.client(client_id).await?;
        let at = self.store.now();
        Ok(self
            .store
            .list_secrets(client_id)
            .await?
            .iter()
            .map(|r| secret_info(r, at))
            .collect())
    }

    /// Delete a secret. Tokens it issued stay valid until they expire, unless `revoke_tokens` is true.
    pub async fn delete_secret(&self, client_id: &str, secret_id: &str, revoke_tokens: bool) -> Result<()> {
        self.client(client_id).await?;
        let at = self.store.now();
        let expires_at = self.max_token_expiry(at)?;
        let rule = revoke_tokens.then(|| Revoked::Secret {
            client_id: client_id.to_owned(),
            secret_id: secret_id.to_owned(),
            issued_before: at,
            expires_at,
        });
        self.store.delete_secret(client_id, secret_id, rule.as_ref()).await?;
        self.clients.invalidate(client_id);
        tracing::info!(client_id, secret_id, revoke_tokens, "deleted a client secret");
        Ok(())
    }

    /// Replace every secret with one new one, returned in the client this once.
    pub async fn regenerate_secret(&self, client_id: &str) -> Result<OAuthClient> {
        let client = self.confidential(client_id).await?;
        let (record, plain) = self.new_secret_record(client_id, &SecretSpec::default(), self.store.now())?;
        self.store.replace_secrets(&record).await?;
        self.clients.invalidate(client_id);
        tracing::info!(client_id, "regenerated the client secret");
        let mut out = to_oauth_client(&client);
        out.client_secret = Some(plain.into());
        Ok(out)
    }

    // ----- client authentication -----

    async fn load_client(
        &self,
        client_id: &str,
        now: std::time::Instant,
    ) -> Result<Option<Arc<crate::client_cache::Cached>>> {
        match self.store.get_client(client_id).await? {
            Some(client) => {
                let secrets = self.store.list_secrets(client_id).await?;
                Ok(Some(self.clients.put(client, secrets, now)))
            }
            None => Ok(None),
        }
    }

    /// Authenticate a client by id and (for a confidential client) secret. Every failure is the same
    /// `Unauthorized`, whatever was wrong.
    pub async fn authenticate(&self, client_id: &str, secret: Option<&str>) -> Result<AuthenticatedClient> {
        let Some(entry) = self.cached_client(client_id).await? else {
            if let Some(s) = secret {
                // Spend the time a real check takes, so timing does not tell which client ids exist.
                crypto::verify(s, "");
            }
            return Err(Error::unauthorized(BAD_CLIENT));
        };
        let client = &entry.client;
        if client.public_client {
            return match secret {
                None => Ok(AuthenticatedClient {
                    client: client.clone(),
                    secret_id: None,
                }),
                Some(_) => Err(Error::unauthorized(BAD_CLIENT)),
            };
        }
        let Some(secret) = secret else {
            return Err(Error::unauthorized(BAD_CLIENT));
        };
        let at = self.store.now();
        let mut matched = None;
        for s in &entry.secrets {
            // Check every secret, so timing does not tell which one matched.
            if crypto::verify(secret, &s.secret_hash) && !s.is_expired(at) && matched.is_none() {
                matched = Some(s.secret_id.clone());
            }
        }
        match matched {
            Some(secret_id) => Ok(AuthenticatedClient {
                client: client.clone(),
                secret_id: Some(secret_id),
            }),
            None => Err(Error::unauthorized(BAD_CLIENT)),
        }
    }

    /// A client with its secrets, from the cache or the store; while the store cannot be read, a client this node
    /// knows keeps its last known state. `None` for an unknown client.
    pub(crate) async fn cached_client(&self, client_id: &str) -> Result<Option<Arc<crate::client_cache::Cached>>> {
        let now = self.store.clock().instant();
        let loaded = match self.clients.get(client_id, now) {
            Some(hit) => Ok(Some(hit)),
            None => self.load_client(client_id, now).await,
        };
        let loaded = match loaded {
            Ok(found) => found,
            // The database cannot be read: a client this node knows keeps its last known state (announced changes
            // still reach the cache), so tokens that need no write go on being issued during an outage.
            Err(e) => match self.clients.stale(client_id, now) {
                Some(stale) => {
                    tracing::warn!(error = %e, "the store cannot be read; authenticating a client from its cached state");
                    Some(stale)
                }
                None => {
                    tracing::debug!(error = %e, %client_id, "the store cannot be read and the client is not cached");
                    return Err(e);
                }
            },
        };
        Ok(loaded)
    }

    // ----- tokens -----

    /// Issue a token for an authenticated client (RFC 6749 §4.4 for `client_credentials`).
    pub async fn issue_token(&self, request: &TokenRequest) -> Result<AccessToken> {
        let who = self
            .authenticate(
                request.client_id.as_str(),
                request.client_secret.as_ref().map(|s| s.expose_secret()),
            )
            .await?;
        self.issue_for(&who, request).await
    }

    /// Issue a token for a client that already authenticated, by any grant it may use. The password grant counts
    /// failures per user name and per [`TokenRequest::client_address`].
    pub async fn issue_for(&self, who: &AuthenticatedClient, request: &TokenRequest) -> Result<AccessToken> {
        match &request.grant {
            Grant::ClientCredentials => self.client_credentials(who, request).await,
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.exchange_code(who, code, redirect_uri.as_deref(), code_verifier.as_ref(), request)
                    .await
            }
            Grant::RefreshToken { refresh_token } => self.refresh(who, refresh_token, request).await,
            Grant::Password { username, password } => self.password(who, username, password, request).await,
            _ => Err(Error::invalid_grant(
                "unsupported_grant_type",
                "this grant type is not supported",
            )),
        }
    }

    async fn client_credentials(&self, who: &AuthenticatedClient, request: &TokenRequest) -> Result<AccessToken> {
        let client = &who.client;
        if client.public_client {
            return Err(unauthorized_client("a public client cannot use client_credentials"));
        }
        if !client.grant_types.contains(&GrantType::ClientCredentials) {
            return Err(unauthorized_client(
                "this client may not use the client_credentials grant",
            ));
        }
        let scopes = granted_scopes(client, &request.scopes)?;
        self.mint(Mint {
            grant: Issued::ClientCredentials,
            client,
            secret_id: who.secret_id.as_deref(),
            subject: &client.client_id,
            scopes,
            grant_id: None,
            validity: request.validity,
            refresh: false,
            openid: None,
        })
        .await
    }

    /// Sign (or record) an access token, and a refresh token when asked.
    pub(crate) async fn mint(&self, m: Mint<'_>) -> Result<AccessToken> {
        let grant = m.grant;
        let issued = self.mint_token(m).await;
        if issued.is_ok() {
            let counters = self.issued.get_or_init(|| {
                let name = self.metrics_name.get().cloned().unwrap_or_else(|| crate::KIND.to_owned());
                Issued::ALL.map(|g| {
                    metrics::counter!("keymanager_tokens_issued_total", "key_manager" => name.clone(), "grant" => g.label())
                })
            });
            counters[grant as usize].increment(1);
        }
        issued
    }

    async fn mint_token(&self, m: Mint<'_>) -> Result<AccessToken> {
        let client = m.client;
        let lifetime = self.lifetime_for(client, m.validity)?;
        let iat = self.store.now();
        let exp = seconds_after("validity", iat, lifetime)?;
        let jti = crypto::random_token(16);
        let scope = m.scopes.to_string();
        let token = match self.settings.token_format {
            TokenFormat::Jwt => {
                let mut claims = json!({
                    "iss": self.settings.issuer,
                    "sub": m.subject,
                    "aud": self.settings.audience,
                    "exp": exp,
                    "iat": iat,
                    "nbf": iat,
                    "jti": jti,
                    "client_id": client.client_id,
                    "scope": scope,
                });
                if let Some(obj) = claims.as_object_mut() {
                    if let Some(sid) = m.secret_id {
                        obj.insert("secret_id".into(), sid.into());
                    }
                    if let Some(g) = m.grant_id {
                        obj.insert("grant_id".into(), g.into());
                    }
                }
                self.keys.current().await?.sign_jwt(ACCESS_TOKEN_TYP, &claims)?
            }
            TokenFormat::Opaque => {
                let token = crypto::random_token(32);
                self.store
                    .insert_token(&TokenRecord {
                        token_hash: crypto::hash(&token),
                        jti,
                        client_id: client.client_id.clone(),
                        secret_id: m.secret_id.map(str::to_owned),
                        subject: m.subject.to_owned(),
                        scope: scope.clone(),
                        audience: self.settings.audience.clone(),
                        issued_at: iat,
                        expires_at: exp,
                        grant_id: m.grant_id.map(str::to_owned),
                    })
                    .await?;
                token
            }
        };
        let refresh_token = match (m.refresh, m.grant_id) {
            (true, Some(grant_id)) => Some(
                self.new_refresh_token(client, m.subject, &scope, grant_id, m.openid)
                    .await?,
            ),
            _ => None,
        };
        let id_token = match m.openid {
            Some(o) if m.scopes.iter().any(|s| s == "openid") => {
                let claims = self.user_claims(m.subject, &m.scopes).await?;
                Some(Token::new(
                    self.id_token(client, m.subject, &token, o, iat, exp, claims).await?,
                ))
            }
            _ => None,
        };
        Ok(AccessToken {
            access_token: Token::new(token),
            token_type: "Bearer".into(),
            expires_in: Some(lifetime),
            scopes: m.scopes,
            refresh_token,
            id_token,
        })
    }

    /// The claims about a user its granted scopes show (OpenID Connect Core §5.4): `name` with `profile`, `email`
    /// and `email_verified` with `email`; none for a subject this store does not keep (a client, another directory).
    pub async fn user_claims(&self, subject: &str, scopes: &[String]) -> Result<serde_json::Map<String, Value>> {
        let mut out = serde_json::Map::new();
        let wants = |s: &str| scopes.iter().any(|g| g == s);
        if !(wants("profile") || wants("email")) {
            return Ok(out);
        }
        let Some(user) = self.store.get_user(subject).await? else {
            return Ok(out);
        };
        if wants("profile") {
            if let Some(n) = user.profile.name {
                out.insert("name".into(), n.into());
            }
        }
        if wants("email") {
            if let Some(e) = user.profile.email {
                out.insert("email".into(), e.into());
                out.insert("email_verified".into(), user.profile.email_verified.into());
            }
        }
        Ok(out)
    }

    /// An ID token (OpenID Connect Core §2, §3.1.3.6): who signed in, for which client, with the access token's
    /// `at_hash` and the request's `nonce`.
    #[allow(clippy::too_many_arguments)]
    async fn id_token(
        &self,
        client: &ClientRecord,
        subject: &str,
        access_token: &str,
        o: OpenId<'_>,
        iat: i64,
        exp: i64,
        user: serde_json::Map<String, Value>,
    ) -> Result<String> {
        // The client's registered algorithm (RS256 is always available, Core §15.1), else the configured one.
        let key = match ClientMetadata::of_record(&client.additional_properties)?.id_token_alg() {
            Some(alg) => self.keys.current_for(alg).await?.ok_or_else(|| {
                Error::storage(format!(
                    "the client's id_token_signed_response_alg {} is no longer one this server signs with",
                    alg.as_str()
                ))
            })?,
            None => self.keys.current().await?,
        };
        // The left half of the hash the signing algorithm uses (SHA-512 for Ed25519, as OpenID implementations do).
        let digest = match key.alg() {
            crate::Algorithm::EdDsa => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, access_token.as_bytes()),
            _ => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes()),
        };
        let half = &digest.as_ref()[..digest.as_ref().len() / 2];
        let mut claims = json!({
            "iss": self.settings.issuer,
            "sub": subject,
            "aud": client.client_id,
            "azp": client.client_id,
            "exp": exp,
            "iat": iat,
            "at_hash": base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, half),
        });
        if let Some(obj) = claims.as_object_mut() {
            if let Some(n) = o.nonce {
                obj.insert("nonce".into(), n.into());
            }
            if let Some(t) = o.auth_time {
                obj.insert("auth_time".into(), t.into());
            }
            if let Some(sid) = o.sid {
                obj.insert("sid".into(), sid.into());
            }
            obj.extend(user);
        }
        key.sign_jwt("JWT", &claims)
    }

    /// The lifetime of a token for `client`, `requested` (seconds) bounded by the client's and the server's maximum.
    pub(crate) fn lifetime_for(&self, client: &ClientRecord, requested: Option<u64>) -> Result<u64> {
        let max = client
            .access_token_lifetime
            .unwrap_or(self.settings.access_token_lifetime)
            .min(self.settings.max_access_token_lifetime);
        match requested {
            Some(v) => {
                check_duration("validity", v)?;
                Ok(v.min(max))
            }
            None => Ok(max),
        }
    }

    /// The header and claims of a JWT this server signed (with any of its keys), whatever its expiry; `None` for
    /// anything else.
    pub async fn verify_own_jwt(&self, token: &str) -> Result<Option<(Value, serde_json::Map<String, Value>)>> {
        let Some(jwt) = parse_jwt(token) else {
            return Ok(None);
        };
        let Some(kid) = jwt.header.get("kid").and_then(Value::as_str) else {
            return Ok(None);
        };
        let Some(key) = self.keys.find(kid).await? else {
            return Ok(None);
        };
        if jwt.header.get("alg").and_then(Value::as_str) != Some(key.alg().as_str())
            || !key.verify(jwt.signing_input.as_bytes(), &jwt.signature)
        {
            return Ok(None);
        }
        match jwt.claims {
            Value::Object(claims) => Ok(Some((jwt.header, claims))),
            _ => Ok(None),
        }
    }

    /// The facts of an active token, or `None` when it is unknown, expired, revoked, or its client is gone.
    pub async fn active_token(&self, token: &str) -> Result<Option<ActiveToken>> {
        let at = self.store.now();
        let (claims, client_id, secret_id, grant_id, jti, iat) = if token.contains('.') {
            // A JWT (this server's opaque tokens are base64url, without dots).
            let Some((_, claims)) = self.verify_own_jwt(token).await? else {
                return Ok(None);
            };
            let num = |k: &str| claims.get(k).and_then(Value::as_i64);
            let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
            if text("iss").as_deref() != Some(self.settings.issuer.as_str()) || num("exp").is_none_or(|e| e <= at) {
                return Ok(None);
            }
            let (Some(client_id), Some(jti), Some(iat)) = (text("client_id"), text("jti"), num("iat")) else {
                return Ok(None);
            };
            let secret_id = text("secret_id");
            let grant_id = text("grant_id");
            (claims, client_id, secret_id, grant_id, jti, iat)
        } else {
            let Some(t) = self.store.get_token(&crypto::hash(token)).await? else {
                return Ok(None);
            };
            if t.expires_at <= at {
                return Ok(None);
            }
            let mut claims = json!({
                "iss": self.settings.issuer, "sub": t.subject, "aud": t.audience, "exp": t.expires_at,
                "iat": t.issued_at, "nbf": t.issued_at, "jti": t.jti, "client_id": t.client_id, "scope": t.scope,
            });
            if let (Some(g), Some(obj)) = (&t.grant_id, claims.as_object_mut()) {
                obj.insert("grant_id".into(), g.clone().into());
            }
            let Value::Object(claims) = claims else { return Ok(None) };
            (claims, t.client_id, t.secret_id, t.grant_id, t.jti, t.issued_at)
        };
        if self
            .store
            .is_revoked(&jti, &client_id, secret_id.as_deref(), grant_id.as_deref(), iat)
            .await?
            || !self.store.client_exists(&client_id).await?
        {
            return Ok(None);
        }
        Ok(Some(ActiveToken { client_id, claims }))
    }

    /// RFC 7662 answer for a token, for a caller allowed to see it.
    pub async fn introspect(&self, token: &str) -> Result<TokenInfo> {
        Ok(match self.active_token(token).await? {
            Some(active) => introspection_answer(active.claims),
            None => TokenInfo::inactive(),
        })
    }

    /// Revoke a token held by `client_id` (RFC 7009 §2.1). An unknown, expired or already revoked token is not
    /// an error; a token of another client is refused.
    pub async fn revoke(&self, client_id: &str, token: &str) -> Result<()> {
        let Some(active) = self.active_token(token).await? else {
            return Ok(());
        };
        if active.client_id != client_id {
            return Err(Error::invalid_field("token", "the token was not issued to this client"));
        }
        let jti = active
            .claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let exp = active
            .claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or_else(|| self.store.now());
        self.store.revoke(&Revoked::Jti { jti, expires_at: exp }).await?;
        tracing::info!(client_id, "revoked a token");
        Ok(())
    }
}

/// What [`ResidentServer::mint`] issues.
/// The grants this server issues tokens for, as the issued-tokens metric labels them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Issued {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
    Password,
}

impl Issued {
    const ALL: [Issued; 4] = [
        Issued::ClientCredentials,
        Issued::AuthorizationCode,
        Issued::RefreshToken,
        Issued::Password,
    ];

    fn label(self) -> &'static str {
        match self {
            Issued::ClientCredentials => "client_credentials",
            Issued::AuthorizationCode => "authorization_code",
            Issued::RefreshToken => "refresh_token",
            Issued::Password => "password",
        }
    }
}

pub(crate) struct Mint<'a> {
    /// The grant, for the issued-tokens metric.
    pub grant: Issued,
    pub client: &'a ClientRecord,
    pub secret_id: Option<&'a str>,
    pub subject: &'a str,
    pub scopes: keymanager::model::Scopes,
    pub grant_id: Option<&'a str>,
    pub validity: Option<u64>,
    pub refresh: bool,
    /// For the code and refresh grants: an ID token goes with the access token when `openid` was granted.
    pub openid: Option<OpenId<'a>>,
}

/// What an ID token needs beyond the access token (OpenID Connect Core §2).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenId<'a> {
    /// The authorization request's `nonce`.
    pub nonce: Option<&'a str>,
    /// When the user authenticated (seconds since the epoch), where known.
    pub auth_time: Option<i64>,
    /// The login session the user signed in with (`sid`), where there is one.
    pub sid: Option<&'a str>,
}

pub(crate) fn unauthorized_client(message: &str) -> Error {
    Error::invalid_grant("unauthorized_client", message)
}

pub(crate) fn invalid_grant(message: &str) -> Error {
    Error::invalid_grant("invalid_grant", message)
}

/// The introspection answer: every claim, plus `active` and `token_type`, without our internal `secret_id`.
pub fn introspection_answer(mut claims: serde_json::Map<String, Value>) -> TokenInfo {
    claims.remove("secret_id");
    claims.insert("active".into(), true.into());
    claims.insert("token_type".into(), "Bearer".into());
    TokenInfo::from_claims(claims)
}

pub(crate) fn granted_scopes(client: &ClientRecord, requested: &[String]) -> Result<Scopes> {
    if requested.is_empty() {
        return Ok(client.scopes.clone());
    }
    if let Some(s) = requested.iter().find(|s| !client.scopes.contains(s)) {
        return Err(Error::invalid_scope(format!(
            "scope `{s}` is not allowed for this client"
        )));
    }
    Ok(requested.iter().cloned().collect())
}

fn secret_info(r: &SecretRecord, at: i64) -> SecretInfo {
    SecretInfo {
        id: r.secret_id.clone(),
        masked: r.masked.clone(),
        description: r.description.clone(),
        created_at: r.created_at,
        expires_at: r.expires_at,
        status: if r.is_expired(at) {
            SecretStatus::Expired
        } else {
            SecretStatus::Active
        },
    }
}

/// What a sealed secret is bound to: its client and its id.
fn sealing_context(client_id: &str, secret_id: &str) -> String {
    format!("client_secret:{client_id}:{secret_id}")
}

impl ResidentServer {
    /// One sealed secret per key id in the store, with its context, for
    /// [`SecretBox::check_can_open`](keymanager::secret_box::SecretBox::check_can_open).
    pub async fn sealed_samples(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .store
            .sealed_secret_samples()
            .await?
            .into_iter()
            .map(|(client, secret, sealed)| (sealed, sealing_context(&client, &secret)))
            .collect())
    }

    /// Where retrievable secrets are that `sealing`'s first key did not seal (`client_secret:CLIENT:SECRET`).
    pub async fn sealed_not_under(&self, sealing: &keymanager::secret_box::SecretBox) -> Result<Vec<String>> {
        Ok(self
            .store
            .sealed_secrets_not_under(sealing.sealing_key_id())
            .await?
            .into_iter()
            .map(|(client, secret, _)| sealing_context(&client, &secret))
            .collect())
    }

    /// Seal every retrievable secret again under `sealing`'s first key (`keymanager secret-key rotate`): one row at
    /// a time, each swapped only if it still holds what was read, so it is safe beside serving nodes and resumable
    /// (a secret the first key sealed is not touched). Returns how many were sealed again.
    pub async fn reseal_secrets(&self, sealing: &keymanager::secret_box::SecretBox) -> Result<usize> {
        let mut resealed = 0;
        for (client, secret, sealed) in self.store.sealed_secrets_not_under(sealing.sealing_key_id()).await? {
            if let Some(new) = sealing.reseal(&sealed, &sealing_context(&client, &secret))? {
                // A secret deleted or regenerated meanwhile is sealed under the first key already, or gone.
                if self.store.swap_sealed_secret(&client, &secret, &sealed, &new).await? {
                    resealed += 1;
                }
            }
        }
        Ok(resealed)
    }
}

/// The generic view of a client row.
pub fn to_oauth_client(r: &ClientRecord) -> OAuthClient {
    OAuthClient {
        client_id: ClientId::new(&r.client_id),
        client_secret: None,
        name: r.name.clone(),
        grant_types: r.grant_types.clone(),
        redirect_uris: r.redirect_uris.clone(),
        scopes: r.scopes.clone(),
        public_client: r.public_client,
        pkce: r.pkce,
        access_token_lifetime: r.access_token_lifetime,
        refresh_token_lifetime: r.refresh_token_lifetime,
        created_at: Some(r.created_at),
        additional_properties: r.additional_properties.clone(),
    }
}
