//! Gateway token validation: one [`Principal`] for a bearer token from any configured key manager.
//!
//! - **JWTs** go to the key manager whose [`TokenProfile`] issuer equals the token's `iss`. The signature is checked
//!   against that key manager's JWKS, fetched once and cached; an unknown `kid` refetches at most once per
//!   `jwks_refetch_interval`, however many requests carry it. Algorithms are pinned per key manager (never `none`,
//!   never an algorithm of another key family); `exp`, `nbf` and `iat` are checked with a small leeway, `iss`
//!   exactly, `aud` when the profile names one, and the RFC 9068 `typ` where the key manager sets it.
//! - **Opaque tokens** are introspected (RFC 7662) at the key managers that can, in order. Concurrent requests for
//!   one token share one upstream call; an active answer is cached until the token expires (at most
//!   `max_cache_ttl`), an inactive one for `inactive_ttl`. Caches are keyed by the token's SHA-256, never the token,
//!   and bounded.
//! - **Revocations** made through this validator ([`TokenValidator::revoked`]) apply at once; those recorded by key
//!   managers ([`KeyManager::revocations_since`]) are polled every `revocation_poll_interval`, so a revocation on
//!   another node sharing the store applies within that interval.
//! - A token already validated is answered from memory (its hash, then the revocation set): no network, no
//!   database.

mod jwks;
mod recording;
mod revocations;
mod ttl_cache;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use crate::http::{HttpClient, HttpPolicy};
use crate::model::{KeyType, Revoked, ScopeClaim, Token, TokenInfo, TokenProfile, TokenTypeHint};
use crate::registry::KeyManagers;
use crate::KeyManager;

pub use crate::model::{RevocationFeed, RevocationSink};
use jwks::JwksCache;
pub use recording::{record_revocations, revoked_entry, RecordRevocations};
use revocations::{Facts, Revocations};
use ttl_cache::TtlCache;

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Principal {
    /// The key manager that issued it.
    pub key_manager: String,
    /// The client it was issued to.
    pub client_id: Option<String>,
    /// The application holding that client's keys, where a key mapping exists.
    pub application_id: Option<String>,
    /// The key type of that mapping.
    pub key_type: Option<KeyType>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Subject (the user, or the client for client_credentials).
    pub subject: Option<String>,
    /// Audiences.
    pub audience: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub expires_at: Option<i64>,
    /// Every claim.
    pub claims: Map<String, Value>,
}

impl Principal {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Why a token was refused. Each reason is its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// Not a token we can read.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Longer than `max_token_bytes`.
    #[error("the token is longer than {0} bytes")]
    TooLarge(usize),
    /// `alg: none`.
    #[error("unsigned tokens (alg none) are refused")]
    Unsigned,
    /// No configured key manager issues tokens with this `iss`.
    #[error("no key manager issues tokens for issuer `{0}`")]
    UnknownIssuer(String),
    /// The algorithm is not one the key manager signs with.
    #[error("algorithm {0} is not allowed for this key manager")]
    AlgorithmNotAllowed(String),
    /// No key with this `kid`, even after refetching the JWKS.
    #[error("no signing key `{0}`")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future.
    #[error("the token is not yet valid")]
    NotYetValid,
    /// `iss` does not match.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not name the expected audience.
    #[error("wrong audience")]
    WrongAudience,
    /// The JWT `typ` header is not the key manager's access-token type.
    #[error("wrong token type `{0}`")]
    WrongType(String),
    /// A required claim is missing.
    #[error("missing claim `{0}`")]
    MissingClaim(String),
    /// Introspection says the token is not active.
    #[error("the token is not active")]
    Inactive,
    /// The token was revoked.
    #[error("the token was revoked")]
    Revoked,
    /// No configured key manager can introspect opaque tokens.
    #[error("opaque tokens need a key manager with introspection; none is configured")]
    NoIntrospection,
    /// The JWKS or introspection endpoint failed; try again.
    #[error("cannot validate now: {0}")]
    Unavailable(String),
}

/// Limits and intervals of a [`TokenValidator`].
#[derive(Debug, Clone)]
pub struct ValidatorSettings {
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Least time between two JWKS fetches of one key manager.
    pub jwks_refetch_interval: Duration,
    /// Longest time a validated token or an active introspection answer is kept.
    pub max_cache_ttl: Duration,
    /// How long an inactive introspection answer is kept.
    pub inactive_ttl: Duration,
    /// Most tokens kept in each cache.
    pub cache_capacity: usize,
    /// Longest token accepted.
    pub max_token_bytes: usize,
    /// How often key managers' revocation records are polled.
    pub revocation_poll_interval: Duration,
    /// The key managers that introspect opaque tokens, in order; `None` = every one that can, in configuration order.
    pub introspection_order: Option<Vec<String>>,
}

impl Default for ValidatorSettings {
    fn default() -> Self {
        ValidatorSettings {
            leeway: Duration::from_secs(30),
            jwks_refetch_interval: Duration::from_secs(30),
            max_cache_ttl: Duration::from_secs(300),
            inactive_ttl: Duration::from_secs(10),
            cache_capacity: 100_000,
            max_token_bytes: 8 * 1024,
            revocation_poll_interval: Duration::from_secs(5),
            introspection_order: None,
        }
    }
}

/// Finds the application holding a client's keys.
#[async_trait]
pub trait ApplicationLookup: Send + Sync {
    /// The application id and key type of the mapping of `client_id` at `key_manager`, if any.
    async fn application_of(&self, key_manager: &str, client_id: &str) -> crate::Result<Option<(String, KeyType)>>;
}

/// The JOSE header fields validation reads, borrowed from the decoded bytes.
#[derive(serde::Deserialize)]
struct JwtHeader<'a> {
    #[serde(borrow, default)]
    alg: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    typ: Option<std::borrow::Cow<'a, str>>,
}

struct Issuer {
    km: Arc<dyn KeyManager>,
    profile: TokenProfile,
    algorithms: Vec<Algorithm>,
    jwks: JwksCache,
}

type Outcome = Result<Arc<Principal>, ValidationError>;
type Flight = Arc<OnceCell<(Outcome, Instant)>>;

/// Validates bearer tokens of every configured key manager. Share it as `Arc<TokenValidator>`.
pub struct TokenValidator {
    settings: ValidatorSettings,
    issuers: Vec<Issuer>,
    introspectors: Vec<Arc<dyn KeyManager>>,
    key_managers: Vec<Arc<dyn KeyManager>>,
    http: HttpClient,
    seen: TtlCache<[u8; 32], Arc<Principal>>,
    flights: Mutex<HashMap<[u8; 32], Flight>>,
    flight_capacity: usize,
    revocations: Revocations,
    applications: Option<Arc<dyn ApplicationLookup>>,
    app_cache: TtlCache<(String, String), Option<(String, KeyType)>>,
    feeds: Vec<Arc<dyn RevocationFeed>>,
    polled_until: Mutex<i64>,
}

impl std::fmt::Debug for TokenValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenValidator")
            .field(
                "issuers",
                &self
                    .issuers
                    .iter()
                    .map(|i| i.profile.issuer.clone())
                    .collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

use crate::model::now;

fn sha256(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn algorithm(name: &str) -> Option<Algorithm> {
    name.parse().ok()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => crate::model::scope_tokens(s),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

impl TokenValidator {
    /// A validator for these key managers.
    pub fn new(key_managers: &KeyManagers, settings: ValidatorSettings) -> crate::Result<TokenValidator> {
        let http = HttpClient::new(HttpPolicy::default())?;
        let mut issuers = Vec::new();
        for km in key_managers.iter() {
            let profile = km.token_profile();
            let algorithms: Vec<Algorithm> = profile.algorithms.iter().filter_map(|a| algorithm(a)).collect();
            if algorithms.is_empty() {
                continue;
            }
            issuers.push(Issuer {
                km: km.clone(),
                algorithms,
                jwks: JwksCache::new(settings.jwks_refetch_interval),
                profile,
            });
        }
        let introspectors = match &settings.introspection_order {
            Some(names) => names
                .iter()
                .map(|n| key_managers.get(n))
                .collect::<crate::Result<Vec<_>>>()?,
            None => key_managers
                .iter()
                .filter(|k| k.capabilities().introspection)
                .cloned()
                .collect(),
        };
        Ok(TokenValidator {
            seen: TtlCache::new(settings.cache_capacity),
            app_cache: TtlCache::new(settings.cache_capacity),
            flight_capacity: settings.cache_capacity,
            flights: Mutex::new(HashMap::new()),
            revocations: Revocations::new(),
            applications: None,
            key_managers: key_managers.iter().cloned().collect(),
            polled_until: Mutex::new(0),
            feeds: Vec::new(),
            settings,
            issuers,
            introspectors,
            http,
        })
    }

    /// Fill `application_id` and `key_type` from key mappings.
    pub fn with_applications(mut self, lookup: Arc<dyn ApplicationLookup>) -> Self {
        self.applications = Some(lookup);
        self
    }

    /// Also poll this feed of revocations (for example the key service's log, which
    /// [`record_revocations`] fills on every node).
    pub fn with_revocation_feed(mut self, feed: Arc<dyn RevocationFeed>) -> Self {
        self.feeds.push(feed);
        self
    }

    /// Use this HTTP client for JWKS fetches.
    pub fn with_http(mut self, http: HttpClient) -> Self {
        self.http = http;
        self
    }

    /// Validate a bearer token.
    pub async fn validate(&self, token: &str) -> Result<Arc<Principal>, ValidationError> {
        if token.len() > self.settings.max_token_bytes {
            return Err(ValidationError::TooLarge(self.settings.max_token_bytes));
        }
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ValidationError::Malformed(
                "a token is non-empty printable ASCII".into(),
            ));
        }
        let hash = sha256(token);
        if let Some(p) = self.seen.get(&hash) {
            self.check_revoked(&p, &hash)?;
            return Ok(p);
        }
        let principal = if token.bytes().filter(|b| *b == b'.').count() == 2 {
            self.validate_jwt(token, hash).await?
        } else {
            self.introspect(token, &hash).await?
        };
        self.check_revoked(&principal, &hash)?;
        Ok(principal)
    }

    fn check_revoked(&self, p: &Principal, hash: &[u8; 32]) -> Result<(), ValidationError> {
        let facts = Facts {
            key_manager: &p.key_manager,
            hash,
            jti: p.claims.get("jti").and_then(Value::as_str),
            client_id: p.client_id.as_deref(),
            secret_id: p.claims.get("secret_id").and_then(Value::as_str),
            grant_id: p.claims.get("grant_id").and_then(Value::as_str),
            iat: p.claims.get("iat").and_then(Value::as_i64),
        };
        if self.revocations.is_revoked(&facts) {
            return Err(ValidationError::Revoked);
        }
        Ok(())
    }

    async fn validate_jwt(&self, token: &str, hash: [u8; 32]) -> Result<Arc<Principal>, ValidationError> {
        let Some((signing_input, signature)) = token.rsplit_once('.') else {
            return Err(ValidationError::Malformed("not a JWT".into()));
        };
        let Some((h, c)) = signing_input.split_once('.') else {
            return Err(ValidationError::Malformed("not a JWT".into()));
        };
        let decode = |part: &str, what: &str| -> Result<Map<String, Value>, ValidationError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| ValidationError::Malformed(format!("the {what} is not base64url")))?;
            serde_json::from_slice(&bytes)
                .map_err(|_| ValidationError::Malformed(format!("the {what} is not a JSON object")))
        };
        // Header and payload are decoded once; the payload is trusted only after the signature verifies.
        let header_bytes = URL_SAFE_NO_PAD
            .decode(h)
            .map_err(|_| ValidationError::Malformed("the header is not base64url".into()))?;
        let header: JwtHeader<'_> = serde_json::from_slice(&header_bytes)
            .map_err(|_| ValidationError::Malformed("the header is not a JSON object".into()))?;
        let alg = header.alg.as_deref().unwrap_or_default();
        if alg.eq_ignore_ascii_case("none") {
            return Err(ValidationError::Unsigned);
        }
        let claims = decode(c, "payload")?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| ValidationError::MissingClaim("iss".into()))?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.profile.issuer == iss)
            .ok_or_else(|| ValidationError::UnknownIssuer(iss.to_owned()))?;
        let Some(alg_parsed) = algorithm(alg).filter(|a| issuer.algorithms.contains(a)) else {
            return Err(ValidationError::AlgorithmNotAllowed(alg.to_owned()));
        };
        if let Some(typ) = &issuer.profile.access_token_typ {
            let got = header.typ.as_deref().unwrap_or_default();
            let got_short = got.strip_prefix("application/").unwrap_or(got);
            if !got_short.eq_ignore_ascii_case(typ) {
                return Err(ValidationError::WrongType(got.to_owned()));
            }
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| ValidationError::Malformed("the header has no kid".into()))?;
        let key = issuer.jwks.key(kid, issuer.km.as_ref(), &self.http).await?;
        if key.alg.is_some_and(|a| a != alg_parsed) {
            return Err(ValidationError::AlgorithmNotAllowed(alg.to_owned()));
        }
        // jsonwebtoken refuses a key of another family than the algorithm (no HS/RS confusion).
        match jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key.decoding, alg_parsed) {
            Ok(true) => {}
            Ok(false) => return Err(ValidationError::BadSignature),
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind as K;
                return Err(match e.kind() {
                    K::InvalidAlgorithm | K::InvalidAlgorithmName => {
                        ValidationError::AlgorithmNotAllowed(alg.to_owned())
                    }
                    K::Base64(_) => ValidationError::Malformed("the signature is not base64url".into()),
                    _ => ValidationError::BadSignature,
                });
            }
        }
        self.check_claims(&claims, &issuer.profile)?;
        let at = now();
        let principal = Arc::new(self.principal(issuer.km.name(), &issuer.profile, claims).await);
        let ttl = principal
            .expires_at
            .map(|exp| Duration::from_secs((exp - at).max(0) as u64))
            .unwrap_or(self.settings.max_cache_ttl)
            .min(self.settings.max_cache_ttl);
        self.seen.insert(hash, principal.clone(), Instant::now() + ttl);
        Ok(principal)
    }

    /// The registered claims, as RFC 7519 §4.1 and RFC 9068 §4 ask: `exp` required and not passed, `nbf` and `iat`
    /// not in the future (each with the leeway), `iss` exact, `aud` naming the profile's audience when it has one.
    fn check_claims(&self, claims: &Map<String, Value>, profile: &TokenProfile) -> Result<(), ValidationError> {
        let at = now();
        let leeway = self.settings.leeway.as_secs() as i64;
        let number = |name: &str| -> Result<Option<i64>, ValidationError> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_f64().map(|f| f as i64))
                    .map(Some)
                    .ok_or_else(|| ValidationError::Malformed(format!("`{name}` is not a number"))),
            }
        };
        let exp = number("exp")?.ok_or_else(|| ValidationError::MissingClaim("exp".into()))?;
        if exp < at - leeway {
            return Err(ValidationError::Expired);
        }
        if number("nbf")?.is_some_and(|nbf| nbf > at + leeway) || number("iat")?.is_some_and(|iat| iat > at + leeway) {
            return Err(ValidationError::NotYetValid);
        }
        if claims.get("iss").and_then(Value::as_str) != Some(profile.issuer.as_str()) {
            return Err(ValidationError::WrongIssuer);
        }
        if let Some(audience) = &profile.audience {
            let aud = claims
                .get("aud")
                .ok_or_else(|| ValidationError::MissingClaim("aud".into()))?;
            if !strings(Some(aud)).iter().any(|a| a == audience) {
                return Err(ValidationError::WrongAudience);
            }
        }
        Ok(())
    }

    async fn principal(&self, km: &str, profile: &TokenProfile, claims: Map<String, Value>) -> Principal {
        let client_id = claims
            .get(&profile.client_id_claim)
            .and_then(Value::as_str)
            .map(str::to_owned);
        let scopes = match &profile.scope_claim {
            ScopeClaim::SpaceSeparated(c) | ScopeClaim::Array(c) => strings(claims.get(c)),
        };
        let (application_id, key_type) = match &client_id {
            Some(c) => self.application_of(km, c).await.unzip(),
            None => (None, None),
        };
        Principal {
            key_manager: km.to_owned(),
            client_id,
            application_id,
            key_type,
            scopes,
            subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            audience: strings(claims.get("aud")),
            expires_at: claims.get("exp").and_then(Value::as_i64),
            claims,
        }
    }

    async fn application_of(&self, km: &str, client_id: &str) -> Option<(String, KeyType)> {
        let lookup = self.applications.as_ref()?;
        let key = (km.to_owned(), client_id.to_owned());
        if let Some(hit) = self.app_cache.get(&key) {
            return hit;
        }
        match lookup.application_of(km, client_id).await {
            Ok(found) => {
                self.app_cache
                    .insert(key, found.clone(), Instant::now() + Duration::from_secs(60));
                found
            }
            Err(e) => {
                tracing::warn!(key_manager = km, error = %e, "cannot look up the application of a client");
                None
            }
        }
    }

    async fn introspect(&self, token: &str, hash: &[u8; 32]) -> Result<Arc<Principal>, ValidationError> {
        if self.introspectors.is_empty() {
            return Err(ValidationError::NoIntrospection);
        }
        for _ in 0..2 {
            let flight = {
                let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
                if flights.len() >= self.flight_capacity && !flights.contains_key(hash) {
                    let now = Instant::now();
                    flights.retain(|_, f| f.get().is_none_or(|(_, until)| *until > now));
                    if flights.len() >= self.flight_capacity {
                        flights.clear();
                    }
                }
                flights.entry(*hash).or_default().clone()
            };
            let (outcome, until) = flight.get_or_init(|| self.introspect_upstream(token)).await;
            if *until > Instant::now() {
                return outcome.clone();
            }
            // Expired (or an uncached failure): drop this flight, unless another request already replaced it.
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights.get(hash).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                flights.remove(hash);
            }
            if matches!(outcome, Err(ValidationError::Unavailable(_))) {
                return outcome.clone();
            }
        }
        Err(ValidationError::Unavailable("introspection kept expiring".into()))
    }

    async fn introspect_upstream(&self, token: &str) -> (Outcome, Instant) {
        let now_i = Instant::now();
        let token_value = Token::new(token);
        let mut failure = None;
        for km in &self.introspectors {
            match km.introspect(&token_value, Some(TokenTypeHint::AccessToken)).await {
                Ok(info) if info.active => {
                    let at = now();
                    if info.exp.is_some_and(|exp| exp <= at) {
                        return (Err(ValidationError::Expired), now_i + self.settings.inactive_ttl);
                    }
                    let principal = self.principal_from_introspection(km.as_ref(), info).await;
                    let ttl = principal
                        .expires_at
                        .map(|exp| Duration::from_secs((exp - at).max(0) as u64))
                        .unwrap_or(self.settings.max_cache_ttl)
                        .min(self.settings.max_cache_ttl);
                    return (Ok(Arc::new(principal)), now_i + ttl);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(key_manager = km.name(), error = %e, "introspection failed");
                    failure = Some(format!("{}: {e}", km.name()));
                }
            }
        }
        match failure {
            // Not cached: the next request asks again.
            Some(f) => (Err(ValidationError::Unavailable(f)), now_i),
            None => (Err(ValidationError::Inactive), now_i + self.settings.inactive_ttl),
        }
    }

    async fn principal_from_introspection(&self, km: &dyn KeyManager, info: TokenInfo) -> Principal {
        let (application_id, key_type) = match &info.client_id {
            Some(c) => self.application_of(km.name(), c).await.unzip(),
            None => (None, None),
        };
        Principal {
            key_manager: km.name().to_owned(),
            client_id: info.client_id,
            application_id,
            key_type,
            scopes: info.scopes,
            subject: info.sub,
            audience: info.aud,
            expires_at: info.exp,
            claims: info.claims,
        }
    }

    /// Record a revocation made through this process: it applies at once.
    pub fn revoked(&self, key_manager: &str, revoked: &Revoked) {
        self.revocations.add(key_manager, revoked);
    }

    /// Record that this token value was revoked (any format), until `expires_at`.
    pub fn revoked_token(&self, key_manager: &str, token: &str, expires_at: i64) {
        self.revocations.add(
            key_manager,
            &Revoked::TokenHash {
                hash: URL_SAFE_NO_PAD.encode(sha256(token)),
                expires_at,
            },
        );
    }

    /// Poll every key manager's revocation record once (what [`spawn_revocation_poller`](Self::spawn_revocation_poller)
    /// does on its interval).
    pub async fn poll_revocations(&self) {
        let since = *self.polled_until.lock().unwrap_or_else(|p| p.into_inner());
        let started = now();
        let mut ok = true;
        for km in &self.key_managers {
            match km.revocations_since(since).await {
                Ok(Some(list)) => list.iter().for_each(|r| self.revocations.add(km.name(), r)),
                Ok(None) => {}
                Err(e) => {
                    ok = false;
                    tracing::warn!(key_manager = km.name(), error = %e, "cannot read revocations");
                }
            }
        }
        for feed in &self.feeds {
            match feed.revoked_since(since).await {
                Ok(list) => list.iter().for_each(|(km, r)| self.revocations.add(km, r)),
                Err(e) => {
                    ok = false;
                    tracing::warn!(error = %e, "cannot read the revocation feed");
                }
            }
        }
        self.revocations.purge(started);
        if ok {
            // Overlap by a second: records made in the second we read are read again, never missed.
            *self.polled_until.lock().unwrap_or_else(|p| p.into_inner()) = started - 1;
        }
    }

    /// Poll revocations now and then every `revocation_poll_interval`, until the validator is dropped.
    pub fn spawn_revocation_poller(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let every = self.settings.revocation_poll_interval;
        tokio::spawn(async move {
            loop {
                let Some(v) = weak.upgrade() else { return };
                v.poll_revocations().await;
                drop(v);
                tokio::time::sleep(every).await;
            }
        })
    }
}
