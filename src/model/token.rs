//! Token requests, issued tokens and introspection answers.

use serde::{Deserialize, Serialize};

use super::{ClientId, ClientSecret, Scopes, Token};

/// How the token is to be granted.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Grant {
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
    /// `password` (RFC 6749 §4.3).
    Password {
        /// The resource owner's user name.
        username: String,
        /// The resource owner's password.
        password: Token,
    },
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken {
        /// The refresh token.
        refresh_token: Token,
    },
    /// `authorization_code` (RFC 6749 §4.1.3) with the PKCE verifier (RFC 7636 §4.5).
    AuthorizationCode {
        /// The authorization code.
        code: Token,
        /// The redirect URI, when the authorization request carried one (RFC 6749 §4.1.3 requires it then, and
        /// only then).
        redirect_uri: Option<String>,
        /// The PKCE `code_verifier`.
        code_verifier: Option<Token>,
    },
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693 §2.1): a token the client received, for one with
    /// a narrower audience and scope, naming the client as the party acting (`act`).
    TokenExchange {
        /// The token exchanged (`subject_token`).
        subject_token: Token,
        /// Its type (`subject_token_type`): `urn:ietf:params:oauth:token-type:access_token` or `…:jwt`.
        subject_token_type: String,
        /// The party acting, when not the client itself (`actor_token`).
        actor_token: Option<Token>,
        /// Its type (`actor_token_type`).
        actor_token_type: Option<String>,
        /// Where the new token will be used (`audience`).
        audience: Option<String>,
    },
}

/// RFC 8693 §3: the token type of an access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693 §3: the token type of a JWT.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A request for an access token.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The client asking.
    pub client_id: ClientId,
    /// Its secret; `None` for a public client.
    pub client_secret: Option<ClientSecret>,
    /// The grant.
    pub grant: Grant,
    /// Requested scopes; empty = the client's defaults.
    pub scopes: Scopes,
    /// Requested lifetime in seconds, bounded by the client's maximum; `None` = the default.
    pub validity: Option<u64>,
    /// The network address of whoever sent the request, when known: a key manager that checks a password (the
    /// `password` grant) counts failures per address as well as per user name. Every server path sets it.
    pub client_address: Option<std::net::IpAddr>,
    /// Bind the access token to this DPoP key (RFC 9449 `cnf.jkt`, the key's RFC 7638 thumbprint): set by the
    /// resident's token endpoint once it has checked the request's DPoP proof. A key manager that cannot bind
    /// tokens refuses a request that asks it to.
    pub dpop_jkt: Option<String>,
    /// Bind the access token to this TLS client certificate (RFC 8705 `cnf.x5t#S256`, the certificate's SHA-256
    /// thumbprint): set by the resident's token endpoint from the request's connection. A key manager that cannot
    /// bind tokens refuses a request that asks it to.
    pub certificate_thumbprint: Option<String>,
}

impl TokenRequest {
    /// A `client_credentials` request.
    ///
    /// ```
    /// use keymanager::model::{ClientSecret, TokenRequest};
    /// let req = TokenRequest::client_credentials("my-client", ClientSecret::new("s"))
    ///     .with_scopes(["orders:read"]);
    /// assert_eq!(req.scopes, vec!["orders:read".to_string()]);
    /// ```
    pub fn client_credentials(client_id: impl Into<ClientId>, secret: ClientSecret) -> Self {
        TokenRequest {
            client_id: client_id.into(),
            client_secret: Some(secret),
            grant: Grant::ClientCredentials,
            scopes: Scopes::new(),
            validity: None,
            client_address: None,
            dpop_jkt: None,
            certificate_thumbprint: None,
        }
    }

    /// Replace the requested scopes.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Ask for a lifetime in seconds.
    pub fn with_validity(mut self, seconds: u64) -> Self {
        self.validity = Some(seconds);
        self
    }
}

/// An issued access token (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize)]
pub struct AccessToken {
    /// The token.
    pub access_token: Token,
    /// `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: Option<u64>,
    /// Granted scopes.
    pub scopes: Scopes,
    /// A refresh token, when one was issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Token>,
    /// An OpenID Connect ID token, when `openid` was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Token>,
}

/// A hint of the token's type (RFC 7009 §2.1, RFC 7662 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "server", derive(utoipa::ToSchema))]
pub enum TokenTypeHint {
    /// An access token.
    AccessToken,
    /// A refresh token.
    RefreshToken,
}

impl TokenTypeHint {
    /// The wire value.
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenTypeHint::AccessToken => "access_token",
            TokenTypeHint::RefreshToken => "refresh_token",
        }
    }
}

/// A request to revoke a token (RFC 7009), made as the client that holds it.
#[derive(Debug, Clone)]
pub struct RevocationRequest {
    /// The token to revoke.
    pub token: Token,
    /// Its type, when known.
    pub token_type_hint: Option<TokenTypeHint>,
    /// The client that holds it.
    pub client_id: ClientId,
    /// That client's secret; `None` for a public client.
    pub client_secret: Option<ClientSecret>,
}

/// An introspection answer (RFC 7662 §2.2), with every claim kept in `claims`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Whether the token is active.
    pub active: bool,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Scopes,
    /// The client the token was issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The resource owner's user name.
    #[serde(default)]
    pub username: Option<String>,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default)]
    pub exp: Option<i64>,
    /// Issue time, seconds since the epoch.
    #[serde(default)]
    pub iat: Option<i64>,
    /// Not-before, seconds since the epoch.
    #[serde(default)]
    pub nbf: Option<i64>,
    /// Subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// Audiences.
    #[serde(default)]
    pub aud: Vec<String>,
    /// Issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// Token id.
    #[serde(default)]
    pub jti: Option<String>,
    /// Every claim of the answer, as received.
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl TokenInfo {
    /// The answer for an inactive token: `{"active": false}`.
    pub fn inactive() -> Self {
        TokenInfo::default()
    }

    /// Build from an RFC 7662 JSON answer: `scope` (space-separated) or `scp` (array), `aud` string or array.
    pub fn from_claims(claims: serde_json::Map<String, serde_json::Value>) -> Self {
        let s = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let n = |k: &str| claims.get(k).and_then(|v| v.as_i64());
        let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
            match v {
                Some(serde_json::Value::String(s)) => super::scope_tokens(s),
                Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).map(str::to_owned).collect(),
                _ => Vec::new(),
            }
        };
        let scopes = match claims.get("scope") {
            Some(v) => strings(Some(v)),
            None => strings(claims.get("scp")),
        };
        TokenInfo {
            active: claims.get("active").and_then(|v| v.as_bool()).unwrap_or(false),
            scopes: scopes.into(),
            client_id: s("client_id"),
            username: s("username"),
            token_type: s("token_type"),
            exp: n("exp"),
            iat: n("iat"),
            nbf: n("nbf"),
            sub: s("sub"),
            aud: strings(claims.get("aud")),
            iss: s("iss"),
            jti: s("jti"),
            claims,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_claims_reads_scope_string_scp_array_and_aud_forms() {
        let a = serde_json::json!({"active": true, "scope": "a b", "aud": "x", "exp": 10, "client_id": "c"});
        let info = TokenInfo::from_claims(a.as_object().cloned().unwrap());
        assert!(info.active);
        assert_eq!(info.scopes, ["a", "b"]);
        assert_eq!(info.aud, ["x"]);
        assert_eq!(info.exp, Some(10));
        let b = serde_json::json!({"active": true, "scp": ["a"], "aud": ["x", "y"]});
        let info = TokenInfo::from_claims(b.as_object().cloned().unwrap());
        assert_eq!(info.scopes, ["a"]);
        assert_eq!(info.aud, ["x", "y"]);
        let inactive = TokenInfo::from_claims(serde_json::Map::new());
        assert!(!inactive.active);
    }

    #[test]
    fn debug_of_requests_hides_secrets() {
        let req = TokenRequest {
            client_id: "c".into(),
            client_secret: Some(ClientSecret::new("the-client-secret")),
            grant: Grant::Password {
                username: "u".into(),
                password: Token::new("the-password"),
            },
            scopes: Default::default(),
            validity: None,
            client_address: None,
            dpop_jkt: None,
            certificate_thumbprint: None,
        };
        let rev = RevocationRequest {
            token: Token::new("the-token"),
            token_type_hint: None,
            client_id: "c".into(),
            client_secret: Some(ClientSecret::new("the-client-secret")),
        };
        let at = AccessToken {
            access_token: Token::new("the-token"),
            token_type: "Bearer".into(),
            expires_in: Some(1),
            scopes: Default::default(),
            refresh_token: Some(Token::new("the-refresh")),
            id_token: None,
        };
        let shown = format!("{req:?} {rev:?} {at:?}");
        for s in ["the-client-secret", "the-password", "the-token", "the-refresh"] {
            assert!(!shown.contains(s), "{s} leaked: {shown}");
        }
    }
}
