//! What a gateway needs to validate a key manager's tokens.

use serde::{Deserialize, Serialize};

/// Where a token carries its scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "form", content = "claim", rename_all = "snake_case")]
pub enum ScopeClaim {
    /// A space-separated string (RFC 9068 `scope`).
    SpaceSeparated(String),
    /// A JSON array of strings (Okta `scp`).
    Array(String),
}

/// How to validate the tokens of one key manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenProfile {
    /// The exact `iss` of its tokens.
    pub issuer: String,
    /// Where its signing keys are published.
    pub jwks_uri: Option<String>,
    /// Its RFC 7662 introspection endpoint, when it has one.
    pub introspection_endpoint: Option<String>,
    /// The claim carrying the client id: `client_id`, `azp` or `cid`.
    pub client_id_claim: String,
    /// The claim carrying scopes.
    pub scope_claim: ScopeClaim,
    /// The audience to require, when set.
    pub audience: Option<String>,
    /// The JWS algorithms its tokens may be signed with.
    pub algorithms: Vec<String>,
    /// The JWT `typ` header its access tokens carry (`at+jwt` for RFC 9068), when it sets one.
    pub access_token_typ: Option<String>,
}
