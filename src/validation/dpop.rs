//! DPoP proofs (RFC 9449): the one checker for every place a proof is presented with a sender-constrained access
//! token (the tower layer, forward auth, `gateway-auth`), and the RFC 7638 thumbprint that binds a token to a key.
//!
//! A proof is accepted only when every check of RFC 9449 §4.3 passes, in this order: a compact JWS with `typ:
//! dpop+jwt`, an asymmetric `alg` we verify (`ES256`, `RS256`, `EdDSA`) that is the public `jwk`'s own, a signature
//! that verifies with that key, `jti`, `htm` equal to the request's method, `htu` equal to the request's URI without
//! query and fragment (both read by the WHATWG URL parser, so case and default ports do not matter), `iat` within
//! [`MAX_PROOF_AGE`] (and at most [`FUTURE_LEEWAY`] ahead), `ath` the SHA-256 of the access token presented with it,
//! the server's `nonce` when it asks for one, and a `jti` not used before with this key ([`ReplayGuard`]). The
//! caller then compares the proof's key thumbprint with the token's `cnf.jkt` (RFC 9449 §6.1).
//!
//! ```
//! use keymanager::validation::dpop::{htu_of, jwk_thumbprint};
//! // RFC 7638 §3.1's example key and thumbprint.
//! let jwk = serde_json::json!({"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
//!     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
//! assert_eq!(jwk_thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
//! assert_eq!(htu_of("HTTPS://API.example:443/orders?x=1#f").unwrap(), "https://api.example/orders");
//! assert!(htu_of("/orders").is_err());
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

/// The `alg`s a proof may be signed with (listed in a `WWW-Authenticate: DPoP` challenge's `algs`).
pub const DPOP_ALGORITHMS: [&str; 3] = crate::model::DPOP_SIGNING_ALG_VALUES;
/// How old (seconds) a proof's `iat` may be.
pub const MAX_PROOF_AGE: i64 = 60;
/// How far (seconds) ahead of our clock a proof's `iat` may be.
pub const FUTURE_LEEWAY: i64 = 30;
/// The largest proof read, in bytes (an RSA-4096 key in the header fits well within it).
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// How many proofs the replay guard remembers at once; beyond, proofs are refused until old ones age out.
pub const MAX_REMEMBERED_PROOFS: usize = 200_000;

/// Why a proof is refused (RFC 9449's `invalid_dpop_proof`, or `use_dpop_nonce`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    /// Not a compact JWS we can read, or a member missing or of the wrong type.
    #[error("the DPoP proof is malformed: {0}")]
    Malformed(&'static str),
    /// `typ` is not `dpop+jwt`.
    #[error("the DPoP proof's typ is not dpop+jwt")]
    Type,
    /// `alg` is not one we verify, or not the key's.
    #[error("the DPoP proof's alg is not ES256, RS256 or EdDSA for its key")]
    Algorithm,
    /// The `jwk` is not a public P-256, RSA or Ed25519 key.
    #[error("the DPoP proof's jwk is not a public P-256, RSA (2048 bits or more) or Ed25519 key")]
    Key,
    /// The signature does not verify with the proof's own key.
    #[error("the DPoP proof's signature does not verify")]
    Signature,
    /// `htm` is not the request's method.
    #[error("the DPoP proof is for another method")]
    Method,
    /// `htu` is not the request's URI.
    #[error("the DPoP proof is for another URI")]
    Uri,
    /// `iat` is too old or ahead of our clock.
    #[error("the DPoP proof's iat is not within {MAX_PROOF_AGE} seconds of now")]
    Time,
    /// `ath` is missing or not the SHA-256 of the access token presented.
    #[error("the DPoP proof's ath is not the hash of the access token")]
    AccessTokenHash,
    /// The server asked for a nonce and the proof does not carry it.
    #[error("a DPoP nonce is required")]
    UseNonce,
    /// This `jti` was used before with this key.
    #[error("the DPoP proof was used before")]
    Replayed,
    /// The replay guard is full: refused rather than unchecked.
    #[error("too many DPoP proofs at once; try again")]
    Busy,
}

impl DpopError {
    /// The RFC 9449 error code: `use_dpop_nonce` or `invalid_dpop_proof`.
    pub fn code(&self) -> &'static str {
        match self {
            DpopError::UseNonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub struct ProofContext<'a> {
    /// The HTTP method (any case).
    pub method: &'a str,
    /// The absolute URI the client sent the request to; query and fragment are ignored.
    pub uri: &'a str,
    /// The hash of the access token presented with the proof (a resource request): `ath` must name it. `None` at a
    /// token endpoint.
    pub access_token: Option<AccessTokenHash>,
    /// The nonces the server accepts now, if it requires one (RFC 9449 §8): the proof's `nonce` must be one of
    /// them (a server that renews its nonce accepts the previous one for a while).
    pub nonce: Option<&'a [String]>,
}

/// A proof that passed: its key's thumbprint (compare with `cnf.jkt`) and its `jti`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    /// base64url(SHA-256) of the proof key's RFC 7638 members.
    pub jkt: String,
    /// The proof's id.
    pub jti: String,
    /// When it was made.
    pub iat: i64,
}

/// The RFC 7638 thumbprint of a public P-256, RSA or Ed25519 JWK: base64url(SHA-256 of its required members,
/// sorted, without white space); `None` for any other key.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    Some(thumbprint_of(&canonical_jwk(jwk)?))
}

/// A JWK's required members (RFC 7638 §3.2), sorted, without white space: what its thumbprint hashes, and all
/// that decides the key.
fn canonical_jwk(jwk: &Value) -> Option<String> {
    canonical_members(jwk.get("kty")?.as_str()?, |name| jwk.get(name).and_then(Value::as_str))
}

/// The RFC 7638 text of a key of type `kty` whose members `get` reads: the required members in lexical order,
/// each value a JSON string, no white space.
fn canonical_members<'a>(kty: &str, get: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    // One buffer, each value written as a JSON string (serde_json's escaping).
    let mut out = Vec::with_capacity(members.len() * 64);
    out.push(b'{');
    for (i, name) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        let value = if *name == "kty" { kty } else { get(name)? };
        serde_json::to_writer(&mut out, value).ok()?;
    }
    out.push(b'}');
    String::from_utf8(out).ok()
}

fn thumbprint_of(canonical: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ))
}

/// The `htu` of a request URI (RFC 9449 §4.3 step 9): absolute, without query and fragment, as the WHATWG URL
/// parser writes it (scheme and host in lower case, a default port left out).
pub fn htu_of(uri: &str) -> Result<String, DpopError> {
    let mut url = url::Url::parse(uri).map_err(|_| DpopError::Malformed("htu is not an absolute URI"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return Err(DpopError::Malformed("htu is not an http(s) URI"));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url.into())
}

/// base64url(SHA-256(access token)): a proof's `ath`.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(AccessTokenHash::of(token).0)
}

/// The SHA-256 of an access token: what a proof's `ath` names (RFC 9449 §4.2), compared as bytes.
///
/// ```
/// use keymanager::validation::dpop::{access_token_hash, AccessTokenHash};
/// let hash = AccessTokenHash::of("the-token");
/// assert!(hash.is_named_by(&access_token_hash("the-token")));
/// assert!(!hash.is_named_by(&access_token_hash("another-token")));
/// assert!(!hash.is_named_by("not base64url!"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessTokenHash([u8; 32]);

impl AccessTokenHash {
    /// The hash of `token`.
    pub fn of(token: &str) -> AccessTokenHash {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        AccessTokenHash(out)
    }

    /// A SHA-256 digest of a token already computed (the validator keys its caches by it), not computed again.
    pub(crate) fn from_digest(digest: [u8; 32]) -> AccessTokenHash {
        AccessTokenHash(digest)
    }

    /// Whether `ath` (base64url without padding) names this hash.
    pub fn is_named_by(&self, ath: &str) -> bool {
        // 43 characters decode to exactly 32 bytes (the buffer has room for the decoder's estimate); any other
        // text is not this hash.
        let mut decoded = [0u8; 33];
        ath.len() == 43 && URL_SAFE_NO_PAD.decode_slice(ath, &mut decoded).ok() == Some(32) && decoded[..32] == self.0
    }
}

/// Remembers the proofs seen (key thumbprint and `jti`) until they are too old to be accepted anyway, so each is
/// used once in this process. Bounded: when full of proofs still young, new ones are refused ([`DpopError::Busy`]).
/// It also keeps the proof keys it has parsed (by their RFC 7638 members, with their thumbprints), so a client's
/// next proof is not parsed again: a bounded cache, emptied when full.
#[derive(Default)]
pub struct ReplayGuard {
    seen: Mutex<HashMap<(String, String), i64>>,
    keys: Mutex<HashMap<String, Arc<KnownKey>>>,
}

impl std::fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("proofs", &self.seen.lock().map(|s| s.len()).unwrap_or_default())
            .field("keys", &self.keys.lock().map(|s| s.len()).unwrap_or_default())
            .finish()
    }
}

/// A proof key parsed once: its algorithm, the key, and its RFC 7638 thumbprint.
struct KnownKey {
    alg: &'static str,
    key: aws_lc_rs::signature::ParsedPublicKey,
    jkt: String,
}

/// The most parsed proof keys kept.
const MAX_KNOWN_KEYS: usize = 10_000;

impl ReplayGuard {
    /// The parsed key of a JWK whose RFC 7638 members are `canonical`: from the cache, else parsed (and kept).
    fn key(&self, canonical: &str, jwk: &JwkFields<'_>) -> Option<Arc<KnownKey>> {
        if let Some(k) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(canonical) {
            return Some(k.clone());
        }
        let (alg, key) = super::jwk_public_key(&jwk.value())?;
        let known = Arc::new(KnownKey {
            alg,
            key,
            jkt: thumbprint_of(canonical),
        });
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= MAX_KNOWN_KEYS {
            keys.clear();
        }
        keys.insert(canonical.to_owned(), known.clone());
        Some(known)
    }

    /// Record a proof's first use (`false`: used before, or the guard is full of young proofs).
    fn first_use(&self, jkt: &str, jti: &str, iat: i64, now: i64) -> Result<(), DpopError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_REMEMBERED_PROOFS {
            seen.retain(|_, until| *until > now);
            if seen.len() >= MAX_REMEMBERED_PROOFS {
                return Err(DpopError::Busy);
            }
        }
        let until = iat.saturating_add(MAX_PROOF_AGE).max(now.saturating_add(MAX_PROOF_AGE));
        match seen.insert((jkt.to_owned(), jti.to_owned()), until) {
            Some(earlier) if earlier > now => Err(DpopError::Replayed),
            _ => Ok(()),
        }
    }
}

/// Check a proof for a request at time `now` (RFC 9449 §4.3), recording its `jti` in `replay`.
pub fn check_proof(
    proof: &str,
    request: &ProofContext<'_>,
    now: i64,
    replay: &ReplayGuard,
) -> Result<CheckedProof, DpopError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(DpopError::Malformed("the proof is too large"));
    }
    let mut parts = proof.split('.');
    let (Some(h), Some(c), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(DpopError::Malformed("not a compact JWS"));
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| DpopError::Malformed("a part is not base64url"))
    };
    let (header_bytes, claim_bytes) = (decode(h)?, decode(c)?);
    // Typed and borrowed when the proof is well formed (the usual case); read member by member otherwise, which
    // names what is wrong. Both read the same members the same way.
    let fields = match (
        serde_json::from_slice::<HeaderFields<'_>>(&header_bytes),
        serde_json::from_slice::<ClaimFields<'_>>(&claim_bytes),
    ) {
        (Ok(header), Ok(claims)) => Fields { header, claims },
        _ => Fields::read(&header_bytes, &claim_bytes)?,
    };
    let Fields { header, claims } = fields;
    if header.typ.as_deref() != Some("dpop+jwt") {
        return Err(DpopError::Type);
    }
    let alg = header.alg.as_deref().ok_or(DpopError::Algorithm)?;
    let jwk = header.jwk.ok_or(DpopError::Malformed("no jwk in the header"))?;
    // RFC 9449 §4.3 step 7: the key must be public (no private member of any key type).
    if jwk.has_private() {
        return Err(DpopError::Key);
    }
    let canonical = jwk.canonical().ok_or(DpopError::Key)?;
    let known = replay.key(&canonical, &jwk).ok_or(DpopError::Key)?;
    if alg != known.alg || !DPOP_ALGORITHMS.contains(&alg) {
        return Err(DpopError::Algorithm);
    }
    let signature = decode(sig).map_err(|_| DpopError::Malformed("the signature is not base64url"))?;
    let signing_input = &proof[..h.len() + 1 + c.len()];
    known
        .key
        .verify_sig(signing_input.as_bytes(), &signature)
        .map_err(|_| DpopError::Signature)?;
    let jti = claims.jti.as_deref().ok_or(DpopError::Malformed("jti"))?;
    if jti.is_empty() || jti.len() > 256 {
        return Err(DpopError::Malformed("jti"));
    }
    if !claims
        .htm
        .as_deref()
        .ok_or(DpopError::Malformed("htm"))?
        .eq_ignore_ascii_case(request.method)
    {
        return Err(DpopError::Method);
    }
    let htu = claims.htu.as_deref().ok_or(DpopError::Malformed("htu"))?;
    if !same_target(htu, request.uri)? {
        return Err(DpopError::Uri);
    }
    let iat = claims.iat.ok_or(DpopError::Malformed("iat"))?;
    if iat < now.saturating_sub(MAX_PROOF_AGE) || iat > now.saturating_add(FUTURE_LEEWAY) {
        return Err(DpopError::Time);
    }
    if let Some(token) = request.access_token {
        if !claims.ath.as_deref().is_some_and(|ath| token.is_named_by(ath)) {
            return Err(DpopError::AccessTokenHash);
        }
    }
    if let Some(accepted) = request.nonce {
        let sent = claims.nonce.as_deref();
        if !sent.is_some_and(|n| accepted.iter().any(|a| a == n)) {
            return Err(DpopError::UseNonce);
        }
    }
    replay.first_use(&known.jkt, jti, iat, now)?;
    Ok(CheckedProof {
        jkt: known.jkt.clone(),
        jti: jti.to_owned(),
        iat,
    })
}

/// Whether a proof's `htu` names the request's URI, query and fragment left out of both. The same text names the
/// same URI; other spellings are compared as the WHATWG URL parser writes them (case, default ports).
fn same_target(htu: &str, uri: &str) -> Result<bool, DpopError> {
    let without_query = |u: &str| u.split(['?', '#']).next().unwrap_or_default().len();
    let (a, b) = (&htu[..without_query(htu)], &uri[..without_query(uri)]);
    if a == b && (b.starts_with("https://") || b.starts_with("http://")) {
        return Ok(true);
    }
    let htu = htu_of(htu).map_err(|_| DpopError::Uri)?;
    Ok(htu == htu_of(uri)?)
}

/// A proof's header and claims, as the checks read them.
struct Fields<'a> {
    header: HeaderFields<'a>,
    claims: ClaimFields<'a>,
}

impl<'a> Fields<'a> {
    /// Member by member (any JSON object; a member of the wrong type reads as missing).
    fn read(header: &'a [u8], claims: &'a [u8]) -> Result<Fields<'a>, DpopError> {
        let object = |bytes: &[u8]| -> Result<Map<String, Value>, DpopError> {
            serde_json::from_slice(bytes).map_err(|_| DpopError::Malformed("a part is not a JSON object"))
        };
        let (h, c) = (object(header)?, object(claims)?);
        let text = |m: &Map<String, Value>, name: &str| {
            m.get(name)
                .and_then(Value::as_str)
                .map(|s| std::borrow::Cow::Owned(s.to_owned()))
        };
        let jwk = h.get("jwk").map(|k| JwkFields {
            kty: text_of(k, "kty"),
            crv: text_of(k, "crv"),
            x: text_of(k, "x"),
            y: text_of(k, "y"),
            n: text_of(k, "n"),
            e: text_of(k, "e"),
            private: ["d", "p", "q", "dp", "dq", "qi", "k"]
                .iter()
                .any(|m| k.get(m).is_some()),
            p: false,
            q: false,
            dp: false,
            dq: false,
            qi: false,
            k: false,
        });
        Ok(Fields {
            header: HeaderFields {
                typ: text(&h, "typ"),
                alg: text(&h, "alg"),
                jwk,
            },
            claims: ClaimFields {
                jti: text(&c, "jti"),
                htm: text(&c, "htm"),
                htu: text(&c, "htu"),
                iat: c.get("iat").and_then(Value::as_i64),
                ath: text(&c, "ath"),
                nonce: text(&c, "nonce"),
            },
        })
    }
}

fn text_of(v: &Value, name: &str) -> Option<std::borrow::Cow<'static, str>> {
    v.get(name)
        .and_then(Value::as_str)
        .map(|s| std::borrow::Cow::Owned(s.to_owned()))
}

type Text<'a> = Option<std::borrow::Cow<'a, str>>;

#[derive(serde::Deserialize)]
struct HeaderFields<'a> {
    #[serde(borrow, default)]
    typ: Text<'a>,
    #[serde(borrow, default)]
    alg: Text<'a>,
    #[serde(borrow, default)]
    jwk: Option<JwkFields<'a>>,
}

#[derive(serde::Deserialize)]
struct ClaimFields<'a> {
    #[serde(borrow, default)]
    jti: Text<'a>,
    #[serde(borrow, default)]
    htm: Text<'a>,
    #[serde(borrow, default)]
    htu: Text<'a>,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(borrow, default)]
    ath: Text<'a>,
    #[serde(borrow, default)]
    nonce: Text<'a>,
}

/// A proof key's members: those RFC 7638 hashes, and whether any private member is there.
#[derive(serde::Deserialize)]
struct JwkFields<'a> {
    #[serde(borrow, default)]
    kty: Text<'a>,
    #[serde(borrow, default)]
    crv: Text<'a>,
    #[serde(borrow, default)]
    x: Text<'a>,
    #[serde(borrow, default)]
    y: Text<'a>,
    #[serde(borrow, default)]
    n: Text<'a>,
    #[serde(borrow, default)]
    e: Text<'a>,
    /// Any private member (RFC 7517: `d`, `p`, `q`, `dp`, `dq`, `qi`, `k`), whatever its value.
    #[serde(default, rename = "d", deserialize_with = "present")]
    private: bool,
    #[serde(default, deserialize_with = "present")]
    p: bool,
    #[serde(default, deserialize_with = "present")]
    q: bool,
    #[serde(default, deserialize_with = "present")]
    dp: bool,
    #[serde(default, deserialize_with = "present")]
    dq: bool,
    #[serde(default, deserialize_with = "present")]
    qi: bool,
    #[serde(default, deserialize_with = "present")]
    k: bool,
}

/// `true` for a member that is there, whatever its value (`null` included).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(d).map(|_| true)
}

impl JwkFields<'_> {
    /// Whether a private member is there.
    fn has_private(&self) -> bool {
        self.private || self.p || self.q || self.dp || self.dq || self.qi || self.k
    }

    /// The RFC 7638 members as a JSON value (what the key parser reads).
    fn value(&self) -> Value {
        let mut m = Map::new();
        for (name, v) in [
            ("kty", &self.kty),
            ("crv", &self.crv),
            ("x", &self.x),
            ("y", &self.y),
            ("n", &self.n),
            ("e", &self.e),
        ] {
            if let Some(v) = v {
                m.insert(name.into(), Value::String(v.to_string()));
            }
        }
        Value::Object(m)
    }

    /// The RFC 7638 canonical text.
    fn canonical(&self) -> Option<String> {
        let get = |name: &str| match name {
            "crv" => self.crv.as_deref(),
            "x" => self.x.as_deref(),
            "y" => self.y.as_deref(),
            "n" => self.n.as_deref(),
            "e" => self.e.as_deref(),
            _ => None,
        };
        canonical_members(self.kty.as_deref()?, get)
    }
}

/// A client's DPoP key (RFC 9449 §4): it signs proofs that carry its public key, for a client of a key manager or
/// an API that binds tokens to keys (and for tests and benchmarks of the checker).
///
/// ```
/// use keymanager::validation::dpop::{check_proof, AccessTokenHash, ProofContext, ProofKey, ReplayGuard};
/// let key = ProofKey::es256().unwrap();
/// let now = 1_800_000_000;
/// let proof = key.proof("GET", "https://api.example/orders", now, Some("the-access-token"));
/// let request = ProofContext { method: "GET", uri: "https://api.example/orders",
///     access_token: Some(AccessTokenHash::of("the-access-token")), nonce: None };
/// let checked = check_proof(&proof, &request, now, &ReplayGuard::default()).unwrap();
/// assert_eq!(checked.jkt, key.thumbprint());
/// ```
pub enum ProofKey {
    /// P-256, signing ES256.
    Es256(aws_lc_rs::signature::EcdsaKeyPair),
    /// Ed25519, signing EdDSA.
    EdDsa(aws_lc_rs::signature::Ed25519KeyPair),
}

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey")
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

impl ProofKey {
    /// A new P-256 key.
    pub fn es256() -> Result<Self, aws_lc_rs::error::Unspecified> {
        use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)?;
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .map(ProofKey::Es256)
            .map_err(|_| aws_lc_rs::error::Unspecified)
    }

    /// A new Ed25519 key.
    pub fn eddsa() -> Result<Self, aws_lc_rs::error::Unspecified> {
        aws_lc_rs::signature::Ed25519KeyPair::generate().map(ProofKey::EdDsa)
    }

    /// The public key, as a JWK.
    pub fn jwk(&self) -> Value {
        use aws_lc_rs::signature::KeyPair;
        match self {
            ProofKey::Es256(k) => {
                let point = k.public_key().as_ref();
                let (x, y) = point
                    .get(1..)
                    .unwrap_or_default()
                    .split_at(point.len().saturating_sub(1) / 2);
                serde_json::json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x),
                                   "y": URL_SAFE_NO_PAD.encode(y)})
            }
            ProofKey::EdDsa(k) => {
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(k.public_key().as_ref())})
            }
        }
    }

    /// The key's RFC 7638 thumbprint: what a token bound to it carries as `cnf.jkt`.
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(&self.jwk()).unwrap_or_default()
    }

    /// `ES256` or `EdDSA`.
    pub fn alg(&self) -> &'static str {
        match self {
            ProofKey::Es256(_) => "ES256",
            ProofKey::EdDsa(_) => "EdDSA",
        }
    }

    /// A compact JWS of `header` and `claims`, signed with this key (`None` only if the system's random source
    /// fails).
    pub fn sign(&self, header: &Value, claims: &Value) -> Option<String> {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = match self {
            ProofKey::Es256(k) => k
                .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
                .ok()?
                .as_ref()
                .to_vec(),
            ProofKey::EdDsa(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
        };
        Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// A proof for a request (`method`, absolute `uri`) made at `iat`, for `access_token` when the request carries
    /// one, with a fresh random `jti`.
    pub fn proof(&self, method: &str, uri: &str, iat: i64, access_token: Option<&str>) -> String {
        self.proof_with_nonce(method, uri, iat, access_token, None)
    }

    /// [`proof`](Self::proof), naming the `nonce` the server handed out (its `DPoP-Nonce` header, RFC 9449 §8).
    pub fn proof_with_nonce(
        &self,
        method: &str,
        uri: &str,
        iat: i64,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let mut jti = [0u8; 16];
        // With no random source the jti is zeros: the checker refuses its second use, never accepts a forgery.
        let _ = aws_lc_rs::rand::fill(&mut jti);
        let mut claims = serde_json::json!({"jti": URL_SAFE_NO_PAD.encode(jti), "htm": method, "htu": uri, "iat": iat});
        if let Some(t) = access_token {
            claims["ath"] = serde_json::json!(access_token_hash(t));
        }
        if let Some(n) = nonce {
            claims["nonce"] = serde_json::json!(n);
        }
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.jwk()});
        self.sign(&header, &claims).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;
    const URI: &str = "https://api.example/orders";

    fn at<'a>(uri: &'a str, token: Option<&'static str>) -> ProofContext<'a> {
        ProofContext {
            method: "GET",
            uri,
            access_token: token.map(AccessTokenHash::of),
            nonce: None,
        }
    }

    #[test]
    fn a_fresh_proof_passes_once_and_names_its_key() {
        for key in [ProofKey::es256().unwrap(), ProofKey::eddsa().unwrap()] {
            let guard = ReplayGuard::default();
            let proof = key.proof("get", "https://API.example:443/orders", NOW - 5, Some("tok"));
            let checked = check_proof(&proof, &at(&format!("{URI}?page=2"), Some("tok")), NOW, &guard).unwrap();
            assert_eq!(checked.jkt, jwk_thumbprint(&key.jwk()).unwrap());
            assert_eq!(
                check_proof(&proof, &at(URI, Some("tok")), NOW, &guard),
                Err(DpopError::Replayed),
                "{}",
                key.alg()
            );
        }
    }

    /// The typed reading and the member-by-member one decide alike: another spelling of the URI passes, a private
    /// member is refused whatever its value, and a member of the wrong type is named.
    #[test]
    fn well_formed_and_odd_proofs_are_read_alike() {
        let key = ProofKey::es256().unwrap();
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()});
        let claims = |htu: &str, iat: Value| json!({"jti": "j", "htm": "GET", "htu": htu, "iat": iat});
        let check = |h: &Value, c: &Value| {
            let proof = key.sign(h, c).unwrap();
            check_proof(&proof, &at(URI, None), NOW, &ReplayGuard::default())
        };
        assert!(check(&header, &claims("HTTPS://API.example:443/orders?x=1", json!(NOW))).is_ok());
        assert!(check(&header, &claims(URI, json!(NOW))).is_ok());
        let mut null_private = header.clone();
        null_private["jwk"]["d"] = Value::Null;
        assert_eq!(check(&null_private, &claims(URI, json!(NOW))), Err(DpopError::Key));
        assert_eq!(
            check(&header, &claims(URI, json!(NOW as f64 + 0.5))),
            Err(DpopError::Malformed("iat"))
        );
        assert_eq!(
            check(&header, &json!({"jti": 7, "htm": "GET", "htu": URI, "iat": NOW})),
            Err(DpopError::Malformed("jti"))
        );
        assert_eq!(
            check(&header, &claims("/orders", json!(NOW))),
            Err(DpopError::Uri),
            "a relative htu"
        );
    }

    #[test]
    fn every_rule_of_rfc_9449_refuses_by_name() {
        let key = ProofKey::es256().unwrap();
        let other = ProofKey::es256().unwrap();
        let good_claims = json!({"jti": "j", "htm": "GET", "htu": URI, "iat": NOW, "ath": access_token_hash("tok")});
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk()});
        let with = |h: Value, c: Value| key.sign(&h, &c).unwrap();
        let claims_with = |name: &str, v: Value| {
            let mut c = good_claims.clone();
            c[name] = v;
            c
        };
        let header_with = |name: &str, v: Value| {
            let mut h = header.clone();
            h[name] = v;
            h
        };
        let mut private = key.jwk();
        private["d"] = json!("AAAA");
        let tampered = {
            let p = with(header.clone(), good_claims.clone());
            let mut parts: Vec<&str> = p.split('.').collect();
            let changed = URL_SAFE_NO_PAD.encode(claims_with("htm", json!("POST")).to_string());
            parts[1] = &changed;
            parts.join(".")
        };
        let cases: Vec<(String, DpopError)> = vec![
            ("a.b".into(), DpopError::Malformed("not a compact JWS")),
            (
                with(header_with("typ", json!("JWT")), good_claims.clone()),
                DpopError::Type,
            ),
            (
                with(header_with("alg", json!("HS256")), good_claims.clone()),
                DpopError::Algorithm,
            ),
            (
                with(header_with("alg", json!("RS256")), good_claims.clone()),
                DpopError::Algorithm,
            ),
            (with(header_with("jwk", private), good_claims.clone()), DpopError::Key),
            (
                with(header_with("jwk", other.jwk()), good_claims.clone()),
                DpopError::Signature,
            ),
            (tampered, DpopError::Signature),
            (
                with(header.clone(), claims_with("htm", json!("POST"))),
                DpopError::Method,
            ),
            (
                with(header.clone(), claims_with("htu", json!("https://api.example/other"))),
                DpopError::Uri,
            ),
            (
                with(header.clone(), claims_with("htu", json!("https://evil.example/orders"))),
                DpopError::Uri,
            ),
            (
                with(header.clone(), claims_with("iat", json!(NOW - MAX_PROOF_AGE - 1))),
                DpopError::Time,
            ),
            (
                with(header.clone(), claims_with("iat", json!(NOW + FUTURE_LEEWAY + 1))),
                DpopError::Time,
            ),
            (
                with(header.clone(), claims_with("ath", json!(access_token_hash("other")))),
                DpopError::AccessTokenHash,
            ),
            (
                with(header.clone(), claims_with("jti", json!(7))),
                DpopError::Malformed("jti"),
            ),
        ];
        for (i, (proof, expected)) in cases.into_iter().enumerate() {
            let guard = ReplayGuard::default();
            assert_eq!(
                check_proof(&proof, &at(URI, Some("tok")), NOW, &guard),
                Err(expected),
                "case {i}"
            );
        }
        // A nonce the server asked for.
        let guard = ReplayGuard::default();
        let accepted = ["n-2".to_owned(), "n-1".to_owned()];
        let request = ProofContext {
            nonce: Some(&accepted),
            ..at(URI, Some("tok"))
        };
        let proof = with(header.clone(), good_claims.clone());
        assert_eq!(check_proof(&proof, &request, NOW, &guard), Err(DpopError::UseNonce));
        assert_eq!(DpopError::UseNonce.code(), "use_dpop_nonce");
        let proof = with(header.clone(), claims_with("nonce", json!("n-0")));
        assert_eq!(
            check_proof(&proof, &request, NOW, &guard),
            Err(DpopError::UseNonce),
            "an old nonce"
        );
        let proof = with(header.clone(), claims_with("nonce", json!("n-1")));
        assert!(check_proof(&proof, &request, NOW, &guard).is_ok(), "the previous nonce");
    }

    #[test]
    fn a_proof_seen_again_after_it_aged_out_is_still_refused_by_its_iat() {
        let key = ProofKey::es256().unwrap();
        let guard = ReplayGuard::default();
        let proof = key.proof("GET", URI, NOW, None);
        assert!(check_proof(&proof, &at(URI, None), NOW, &guard).is_ok());
        let later = NOW + MAX_PROOF_AGE + 1;
        assert_eq!(check_proof(&proof, &at(URI, None), later, &guard), Err(DpopError::Time));
    }
}
