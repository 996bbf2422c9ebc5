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

pub mod dpop;
mod events;
mod introspection;
mod jwks;
mod jwt;
pub mod mtls;
mod polling;
mod recording;
mod remote_proofs;
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

pub use crate::model::{ProofLog, RevocationFeed, RevocationSink, PROOF_RECORD_SECONDS};
pub use events::STALE_AFTER as EVENTS_STALE_AFTER;
pub use jwks::jwk_public_key;
use jwks::JwksCache;
pub use recording::{record_revocations, revoked_entry, RecordRevocations};
pub use remote_proofs::{RemoteProofLog, RECORD_TIMEOUT};
use revocations::{Facts, Revocations};
use ttl_cache::TtlCache;

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
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
    pub scopes: crate::model::Scopes,
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
    /// A member of the token's `cnf` claim (RFC 7800): `jkt` (a DPoP key, RFC 9449) or `x5t#S256` (a client
    /// certificate, RFC 8705), as the gateway checked it.
    pub fn confirmation(&self, member: &str) -> Option<&str> {
        self.claims.get("cnf")?.get(member)?.as_str()
    }

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
    /// The key service this gateway follows no longer answers for the token's key manager (disabled or removed
    /// there).
    #[error("key manager `{0}` is disabled at the key service")]
    KeyManagerNotAnswered(String),
    /// The DPoP proof presented with the token is refused (RFC 9449 §4.3).
    #[error("{0}")]
    Dpop(dpop::DpopError),
    /// A token bound to a DPoP key (`cnf.jkt`) was presented as a bearer token (RFC 9449 §7.2).
    #[error("this token is bound to a key: present it with `Authorization: DPoP` and a DPoP proof")]
    DpopBound,
    /// The token is not bound to the key of the DPoP proof presented with it (RFC 9449 §6.1, §7.1).
    #[error("the token is not bound to the DPoP proof's key")]
    NotBoundToProofKey,
    /// A token bound to a client certificate (`cnf.x5t#S256`) came on a request without one (RFC 8705 §3).
    #[error("this token is bound to a client certificate: send the request over TLS with that certificate")]
    CertificateBound,
    /// The request's client certificate is not the one the token is bound to (RFC 8705 §3).
    #[error("the token is not bound to the request's client certificate")]
    NotBoundToCertificate,
}

/// The reasons, as [`ValidationError::reason`] names them, in the order of [`ValidationError::reason_index`].
const REASONS: [&str; 23] = [
    "malformed",
    "too_large",
    "unsigned",
    "unknown_issuer",
    "algorithm_not_allowed",
    "unknown_key",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "wrong_type",
    "missing_claim",
    "inactive",
    "revoked",
    "no_introspection",
    "unavailable",
    "key_manager_not_answered",
    "invalid_dpop_proof",
    "dpop_bound",
    "not_bound_to_proof_key",
    "certificate_bound",
    "not_bound_to_certificate",
];

impl ValidationError {
    /// A short stable name of the reason (`expired`, `bad_signature`, …), for logs and metric labels.
    pub fn reason(&self) -> &'static str {
        REASONS[self.reason_index()]
    }

    fn reason_index(&self) -> usize {
        match self {
            ValidationError::Malformed(_) => 0,
            ValidationError::TooLarge(_) => 1,
            ValidationError::Unsigned => 2,
            ValidationError::UnknownIssuer(_) => 3,
            ValidationError::AlgorithmNotAllowed(_) => 4,
            ValidationError::UnknownKey(_) => 5,
            ValidationError::BadSignature => 6,
            ValidationError::Expired => 7,
            ValidationError::NotYetValid => 8,
            ValidationError::WrongIssuer => 9,
            ValidationError::WrongAudience => 10,
            ValidationError::WrongType(_) => 11,
            ValidationError::MissingClaim(_) => 12,
            ValidationError::Inactive => 13,
            ValidationError::Revoked => 14,
            ValidationError::NoIntrospection => 15,
            ValidationError::Unavailable(_) => 16,
            ValidationError::KeyManagerNotAnswered(_) => 17,
            ValidationError::Dpop(_) => 18,
            ValidationError::DpopBound => 19,
            ValidationError::NotBoundToProofKey => 20,
            ValidationError::CertificateBound => 21,
            ValidationError::NotBoundToCertificate => 22,
        }
    }
}

/// The validator's metric handles, registered with the installed `metrics` recorder on the first validation (so a
/// recorder installed after the validator was built still counts): recording is then one atomic add, with no
/// lookup on the validation path.
struct ValidationMetrics {
    valid: metrics::Counter,
    refused: Vec<metrics::Counter>,
    cache_hit: metrics::Counter,
    cache_miss: metrics::Counter,
}

impl ValidationMetrics {
    fn register() -> Self {
        let cache = |result: &'static str| metrics::counter!("keymanager_cache_total", "cache" => "validated_tokens", "result" => result);
        ValidationMetrics {
            valid: metrics::counter!("keymanager_validations_total", "outcome" => "valid", "reason" => "none"),
            refused: REASONS
                .iter()
                .map(|r| metrics::counter!("keymanager_validations_total", "outcome" => "refused", "reason" => *r))
                .collect(),
            cache_hit: cache("hit"),
            cache_miss: cache("miss"),
        }
    }
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
    jwks: Arc<JwksCache>,
}

/// The key managers a validator answers for, replaced whole when they change ([`TokenValidator::set_key_managers`]).
#[derive(Default)]
struct KeySet {
    issuers: Vec<Issuer>,
    introspectors: Vec<Arc<dyn KeyManager>>,
    key_managers: Vec<Arc<dyn KeyManager>>,
}

type Outcome = Result<Arc<Principal>, ValidationError>;
type Flight = Arc<OnceCell<(Outcome, Instant)>>;

/// Validates bearer tokens of every configured key manager. Share it as `Arc<TokenValidator>`.
pub struct TokenValidator {
    settings: ValidatorSettings,
    keys: std::sync::RwLock<Arc<KeySet>>,
    /// Bumped whenever a key manager leaves the set: a validation that began before does not remember its answer.
    generation: std::sync::atomic::AtomicU64,
    http: HttpClient,
    seen: TtlCache<[u8; 32], Arc<Principal>>,
    flights: Mutex<HashMap<[u8; 32], Flight>>,
    flight_capacity: usize,
    revocations: Revocations,
    applications: Option<Arc<dyn ApplicationLookup>>,
    app_cache: TtlCache<(String, String), Option<(String, KeyType)>>,
    feeds: Vec<Arc<dyn RevocationFeed>>,
    polled_until: Mutex<i64>,
    clock: Arc<dyn Clock>,
    metrics: std::sync::OnceLock<ValidationMetrics>,
    /// The revocation event stream followed, if any ([`follow_events`](Self::follow_events)).
    following: std::sync::OnceLock<Arc<events::Following>>,
    /// The DPoP proofs seen, each accepted once ([`validate_presented`](Self::validate_presented)).
    proofs: dpop::ReplayGuard,
    /// The record of proofs shared with other gateway nodes, if any ([`with_proof_log`](Self::with_proof_log)).
    proof_log: Option<Arc<dyn crate::model::ProofLog>>,
}

/// A token as a request presents it: the `Authorization` scheme, the token, the `DPoP` proof header if any, and the
/// request's method and absolute URI (what a proof must name).
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// `Bearer` or `DPoP`.
    pub scheme: crate::model::TokenScheme,
    /// The access token.
    pub token: &'a str,
    /// The one `DPoP` header's value, if the request carried exactly one.
    pub proof: Option<&'a str>,
    /// The request's method.
    pub method: &'a str,
    /// The absolute URI the client sent the request to; `None` when it cannot be known (a DPoP token is then
    /// refused: the proof cannot be checked).
    pub uri: Option<&'a str>,
    /// The TLS client certificate the request came with, if any (RFC 8705: a token bound to a certificate passes
    /// only with it).
    pub client_certificate: Option<&'a mtls::ClientCertificate>,
}

impl std::fmt::Debug for TokenValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenValidator")
            .field(
                "issuers",
                &self
                    .keys()
                    .issuers
                    .iter()
                    .map(|i| i.profile.issuer.clone())
                    .collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

use crate::model::{now, Clock};

impl KeySet {
    /// The set for `key_managers`, keeping `old`'s signing-key caches for key managers that did not change.
    fn build(key_managers: &KeyManagers, settings: &ValidatorSettings, old: &KeySet) -> KeySet {
        let mut issuers = Vec::new();
        for km in key_managers.iter() {
            let profile = km.token_profile();
            let algorithms: Vec<Algorithm> = profile.algorithms.iter().filter_map(|a| algorithm(a)).collect();
            if algorithms.is_empty() {
                continue;
            }
            let jwks = old
                .issuers
                .iter()
                .find(|i| Arc::ptr_eq(&i.km, km) && i.profile == profile)
                .map(|i| i.jwks.clone())
                .unwrap_or_else(|| Arc::new(JwksCache::new(settings.jwks_refetch_interval)));
            issuers.push(Issuer {
                km: km.clone(),
                algorithms,
                jwks,
                profile,
            });
        }
        let introspectors = match &settings.introspection_order {
            Some(names) => names.iter().filter_map(|n| key_managers.get(n).ok()).collect(),
            None => key_managers
                .iter()
                .filter(|k| k.capabilities().introspection)
                .cloned()
                .collect(),
        };
        KeySet {
            issuers,
            introspectors,
            key_managers: key_managers.iter().cloned().collect(),
        }
    }
}

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

/// The shortest string taken for a token (128 random bits in base64url are 22 characters).
pub(crate) const MIN_TOKEN_LENGTH: usize = 20;

impl TokenValidator {
    /// A validator for these key managers.
    pub fn new(key_managers: &KeyManagers, settings: ValidatorSettings) -> crate::Result<TokenValidator> {
        let http = HttpClient::new(HttpPolicy::default())?;
        if let Some(names) = &settings.introspection_order {
            for n in names {
                key_managers.get(n)?;
            }
        }
        let keys = KeySet::build(key_managers, &settings, &KeySet::default());
        Ok(TokenValidator {
            seen: TtlCache::new(settings.cache_capacity),
            app_cache: TtlCache::new(settings.cache_capacity),
            flight_capacity: settings.cache_capacity,
            flights: Mutex::new(HashMap::new()),
            revocations: Revocations::new(),
            applications: None,
            keys: std::sync::RwLock::new(Arc::new(keys)),
            generation: std::sync::atomic::AtomicU64::new(0),
            polled_until: Mutex::new(0),
            clock: crate::model::system_clock(),
            metrics: std::sync::OnceLock::new(),
            following: std::sync::OnceLock::new(),
            proofs: dpop::ReplayGuard::default(),
            proof_log: None,
            feeds: Vec::new(),
            settings,
            http,
        })
    }

    /// Answer for these key managers from now on (key managers added, changed, disabled or removed while the
    /// process runs). A key manager that stays as it was (the same instance, the same token profile) keeps its
    /// cached signing keys; tokens already validated for one that left or changed are forgotten, so they are
    /// refused or checked again at once. Names in `introspection_order` that are not in the set are skipped.
    pub fn set_key_managers(&self, key_managers: &KeyManagers) {
        let mut slot = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let old = slot.clone();
        let new = Arc::new(KeySet::build(key_managers, &self.settings, &old));
        let gone: std::collections::HashSet<String> = old
            .key_managers
            .iter()
            .filter(|o| !new.key_managers.iter().any(|n| Arc::ptr_eq(o, n)))
            .map(|o| o.name().to_owned())
            .collect();
        *slot = new;
        if gone.is_empty() {
            return;
        }
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        drop(slot);
        self.seen.retain(|p| !gone.contains(&p.key_manager));
        self.flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, f| match f.get() {
                Some((Ok(p), _)) => !gone.contains(&p.key_manager),
                _ => true,
            });
        tracing::info!(key_managers = ?gone, "the validator forgot the tokens of key managers that left or changed");
    }

    /// `key_manager`'s signing keys changed (rotated, or one retired): its keys are fetched again before the next
    /// token is checked, and tokens already validated for it are checked again, so a retired key's tokens are
    /// refused at once.
    pub fn signing_keys_changed(&self, key_manager: &str) {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut known = false;
        for issuer in keys.issuers.iter().filter(|i| i.km.name() == key_manager) {
            issuer.jwks.mark_stale();
            known = true;
        }
        if !known {
            return;
        }
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.seen.retain(|p| p.key_manager != key_manager);
        self.flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, f| !matches!(f.get(), Some((Ok(p), _)) if p.key_manager == key_manager));
        tracing::info!(
            key_manager,
            "signing keys changed: fetching them again, checking validated tokens again"
        );
    }

    /// Answer for the key managers `changes` names, now and whenever it changes (for example
    /// `KeyService::watch_key_managers`), until the validator is dropped or the sender is.
    pub fn follow_key_managers(
        self: &Arc<Self>,
        mut changes: tokio::sync::watch::Receiver<KeyManagers>,
    ) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let set = changes.borrow_and_update().clone();
                match weak.upgrade() {
                    Some(v) => v.set_key_managers(&set),
                    None => return,
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
    }

    /// The key managers answered for now.
    fn keys(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key managers answered for now, and the generation they belong to (read under the same lock).
    fn keys_and_generation(&self) -> (Arc<KeySet>, u64) {
        let slot = self.keys.read().unwrap_or_else(|p| p.into_inner());
        (slot.clone(), self.generation.load(std::sync::atomic::Ordering::Acquire))
    }

    /// Whether the key manager named `name` is in the set now.
    fn answers_for(&self, name: &str) -> bool {
        let slot = self.keys.read().unwrap_or_else(|p| p.into_inner());
        slot.key_managers.iter().any(|k| k.name() == name)
    }

    /// Whether no key manager left the set since `generation`.
    fn still(&self, generation: u64) -> bool {
        self.generation.load(std::sync::atomic::Ordering::Acquire) == generation
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

    /// Also record every DPoP proof accepted in `log`, shared with the other gateway nodes, so a proof is used once
    /// across all of them (RFC 9449 §11.1); without it, once in this process. A proof is first checked here
    /// (a replay to this process costs nothing more), then recorded; when the record cannot be reached the proof is
    /// refused as [`ValidationError::Unavailable`] (fail closed).
    pub fn with_proof_log(mut self, log: Arc<dyn crate::model::ProofLog>) -> Self {
        self.proof_log = Some(log);
        self
    }

    /// Read time from this clock (expiry, cache lifetimes, the JWKS refetch interval); the system clock by default.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Use this HTTP client for JWKS fetches.
    pub fn with_http(mut self, http: HttpClient) -> Self {
        self.http = http;
        self
    }

    /// Validate a token presented as `Bearer` with nothing else from its request: a token bound to a DPoP key or a
    /// certificate (or any confirmation, `cnf`) is refused, as RFC 9449 §7.1 and RFC 8705 §3 ask of a resource
    /// server that cannot check the binding. Where the request is known, use
    /// [`validate_presented`](Self::validate_presented).
    pub async fn validate(&self, token: &str) -> Result<Arc<Principal>, ValidationError> {
        self.validate_presented(&Presented {
            scheme: crate::model::TokenScheme::Bearer,
            token,
            proof: None,
            method: "",
            uri: None,
            client_certificate: None,
        })
        .await
    }

    /// [`validate`](Self::validate), with the token's SHA-256 (what its caches are keyed by, and a DPoP proof's
    /// `ath` names).
    async fn validate_hashed(&self, token: &str) -> Result<(Arc<Principal>, [u8; 32]), ValidationError> {
        // A gateway that follows revocation events and may have missed one trusts no token (fail closed).
        if let Some(why) = self.following.get().and_then(|f| f.unsure()) {
            return Err(ValidationError::Unavailable(why.into()));
        }
        // A token too large is not even hashed; one already seen is answered without entering the (large) future
        // of a first validation.
        let hash = (token.len() <= self.settings.max_token_bytes).then(|| sha256(token));
        let mut outcome = match hash {
            None => Err(ValidationError::TooLarge(self.settings.max_token_bytes)),
            Some(hash) => match self.remembered(&hash) {
                Some(known) => known,
                None => self.check(token, hash).await,
            },
        };
        if let (Ok(p), Some(f)) = (&outcome, self.following.get()) {
            if f.not_answered(&p.key_manager) {
                outcome = Err(ValidationError::KeyManagerNotAnswered(p.key_manager.clone()));
            }
        }
        // A token that passed was hashed.
        outcome.map(|principal| (principal, hash.unwrap_or_default()))
    }

    /// Validate a token as the request presents it: [`validate`](Self::validate), then its sender constraints.
    /// A token bound to a key (`cnf.jkt`, RFC 9449 §7) must come with `Authorization: DPoP` and a proof of that key
    /// for this request (method, URI, `ath` of this token, fresh, used once); an unbound token must come as
    /// `Bearer`. A token bound to a certificate (`cnf.x5t#S256`, RFC 8705 §3) must come with that client
    /// certificate. A token bound both ways needs both.
    pub async fn validate_presented(&self, presented: &Presented<'_>) -> Result<Arc<Principal>, ValidationError> {
        let outcome = self.check_presented(presented).await;
        // Counted once, with the binding's answer: a bound token refused as a bearer token is a refusal.
        let metrics = self.metrics.get_or_init(ValidationMetrics::register);
        match &outcome {
            Ok(_) => metrics.valid.increment(1),
            Err(e) => {
                if let Some(c) = metrics.refused.get(e.reason_index()) {
                    c.increment(1);
                }
            }
        }
        outcome
    }

    /// [`validate_presented`](Self::validate_presented), uncounted.
    async fn check_presented(&self, presented: &Presented<'_>) -> Result<Arc<Principal>, ValidationError> {
        use crate::model::TokenScheme;
        let (principal, hash) = self.validate_hashed(presented.token).await?;
        let cnf = principal.claims.get("cnf");
        // A confirmation this gateway cannot check is refused, never taken for an unbound token.
        if let Some(cnf) = cnf {
            let members = cnf
                .as_object()
                .ok_or(ValidationError::Malformed("cnf is not an object".into()))?;
            if let Some(other) = members.keys().find(|k| !["jkt", mtls::X5T_S256].contains(&k.as_str())) {
                return Err(ValidationError::Malformed(format!(
                    "cnf member `{other}` is not a confirmation this gateway checks"
                )));
            }
        }
        if let Some(x5t) = cnf.and_then(|c| c.get(mtls::X5T_S256)) {
            let held = presented.client_certificate.ok_or(ValidationError::CertificateBound)?;
            if x5t.as_str() != Some(held.thumbprint()) {
                return Err(ValidationError::NotBoundToCertificate);
            }
        }
        let bound = cnf.and_then(|c| c.get("jkt")).and_then(Value::as_str);
        match (presented.scheme, bound) {
            (TokenScheme::Bearer, None) => Ok(principal),
            (TokenScheme::Bearer, Some(_)) => Err(ValidationError::DpopBound),
            (TokenScheme::Dpop, bound) => {
                let proof = presented.proof.ok_or(ValidationError::Dpop(dpop::DpopError::Malformed(
                    "no single DPoP header",
                )))?;
                let uri = presented.uri.ok_or(ValidationError::Dpop(dpop::DpopError::Malformed(
                    "the request's URI is not known here (configure the gateway's public origin)",
                )))?;
                let request = dpop::ProofContext {
                    method: presented.method,
                    uri,
                    access_token: Some(dpop::AccessTokenHash::from_digest(hash)),
                    nonce: None,
                };
                let checked = dpop::check_proof(proof, &request, self.clock.now(), &self.proofs)
                    .map_err(ValidationError::Dpop)?;
                if bound != Some(checked.jkt.as_str()) {
                    return Err(ValidationError::NotBoundToProofKey);
                }
                if let Some(log) = &self.proof_log {
                    match log.first_use(&checked.jkt, &checked.jti).await {
                        Ok(true) => {}
                        Ok(false) => return Err(ValidationError::Dpop(dpop::DpopError::Replayed)),
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot record a DPoP proof with the other gateway nodes");
                            return Err(ValidationError::Unavailable(
                                "the record of DPoP proofs shared by the gateway nodes cannot be reached".into(),
                            ));
                        }
                    }
                }
                Ok(principal)
            }
        }
    }

    /// The answer for a token already seen, by its SHA-256; `None` for a token to [`check`](Self::check).
    fn remembered(&self, hash: &[u8; 32]) -> Option<Result<Arc<Principal>, ValidationError>> {
        let remembered = self.seen.get(hash, self.clock.instant());
        let metrics = self.metrics.get_or_init(ValidationMetrics::register);
        match remembered {
            // These very bytes (SHA-256) passed every check of a first validation.
            Some(p) => {
                metrics.cache_hit.increment(1);
                Some(self.check_revoked(&p, hash).map(|()| p))
            }
            None => {
                metrics.cache_miss.increment(1);
                None
            }
        }
    }

    /// A first validation.
    async fn check(&self, token: &str, hash: [u8; 32]) -> Result<Arc<Principal>, ValidationError> {
        // A fold without an early exit, which the compiler turns into vector code.
        if token.is_empty() || !token.bytes().fold(true, |ok, b| ok & b.is_ascii_graphic()) {
            return Err(ValidationError::Malformed(
                "a token is non-empty printable ASCII".into(),
            ));
        }
        let principal = if token.bytes().filter(|b| *b == b'.').count() == 2 {
            self.validate_jwt(token, hash).await?
        } else if token.len() < MIN_TOKEN_LENGTH {
            // Not a JWT, and shorter than any opaque token a key manager issues (128 random bits take 22
            // characters): no token at all, rather than one introspection would call inactive.
            return Err(ValidationError::Malformed(format!(
                "not a JWT, and shorter than any opaque token ({MIN_TOKEN_LENGTH} characters)"
            )));
        } else {
            self.introspect(token, &hash).await?
        };
        self.check_revoked(&principal, &hash)?;
        Ok(principal)
    }

    fn check_revoked(&self, p: &Principal, hash: &[u8; 32]) -> Result<(), ValidationError> {
        // Nothing revoked yet: no claim needs looking up.
        if self.revocations.is_empty() {
            return Ok(());
        }
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
            scopes: scopes.into(),
            subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            audience: strings(claims.get("aud")),
            expires_at: claims.get("exp").and_then(Value::as_i64),
            claims,
        }
    }

    async fn application_of(&self, km: &str, client_id: &str) -> Option<(String, KeyType)> {
        let lookup = self.applications.as_ref()?;
        let key = (km.to_owned(), client_id.to_owned());
        if let Some(hit) = self.app_cache.get(&key, self.clock.instant()) {
            return hit;
        }
        match lookup.application_of(km, client_id).await {
            Ok(found) => {
                self.app_cache
                    .insert(key, found.clone(), self.clock.instant() + Duration::from_secs(60));
                found
            }
            Err(e) => {
                tracing::warn!(key_manager = km, error = %e, "cannot look up the application of a client");
                None
            }
        }
    }
}
