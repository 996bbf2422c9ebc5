//! OAuth clients: what to register ([`ClientSpec`]) and what the provider holds ([`OAuthClient`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use super::{
    check_duration, check_text, is_valid_scope_token, Capabilities, ClientId, ClientSecret, GrantType, RedirectUri,
    Scopes, MAX_NAME_LENGTH, MAX_REDIRECT_URIS, MAX_SCOPES,
};
use crate::{Error, Result};

/// The environment a set of keys is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KeyType {
    /// Production keys.
    Production,
    /// Sandbox keys.
    Sandbox,
}

impl KeyType {
    /// `PRODUCTION` or `SANDBOX`.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyType::Production => "PRODUCTION",
            KeyType::Sandbox => "SANDBOX",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = Error;

    /// Accepts any case: `production`, `PRODUCTION`, `Sandbox`.
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "production" => Ok(KeyType::Production),
            "sandbox" => Ok(KeyType::Sandbox),
            _ => Err(Error::invalid_field(
                "key_type",
                format!("`{s}` is not a key type; expected production or sandbox"),
            )),
        }
    }
}

/// PKCE (RFC 7636) policy of a client. S256 is always the method; `plain` only where `allow_plain` says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PkcePolicy {
    /// Authorization requests must carry a `code_challenge`.
    #[serde(default)]
    pub required: bool,
    /// `code_challenge_method=plain` is accepted next to `S256`.
    #[serde(default)]
    pub allow_plain: bool,
}

/// How a client authenticates at the token endpoint (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with client id and secret.
    ClientSecretBasic,
    /// Client id and secret in the form body.
    ClientSecretPost,
    /// A signed JWT made with the client's own key (RFC 7523 §2.2, OpenID Connect Core §9).
    PrivateKeyJwt,
    /// A public client: no secret.
    None,
    /// Mutual TLS with a certificate a configured authority issued, naming the client (RFC 8705 §2.1).
    TlsClientAuth,
    /// Mutual TLS with a self-signed certificate the client registered (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl TokenEndpointAuthMethod {
    /// The RFC 7591 name.
    pub fn as_str(&self) -> &'static str {
        match self {
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            TokenEndpointAuthMethod::PrivateKeyJwt => "private_key_jwt",
            TokenEndpointAuthMethod::None => "none",
            TokenEndpointAuthMethod::TlsClientAuth => "tls_client_auth",
            TokenEndpointAuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }
}

/// What to register: the generic description of an OAuth client, translated by each connector.
///
/// ```
/// use keymanager::model::{ClientSpec, GrantType, KeyType};
/// let spec = ClientSpec::new("orders-app", KeyType::Production)
///     .with_grant_types([GrantType::ClientCredentials])
///     .with_scopes(["orders:read"]);
/// spec.validate().unwrap();
///
/// let bad = ClientSpec::new("web", KeyType::Sandbox).with_grant_types([GrantType::AuthorizationCode]);
/// let err = bad.validate().unwrap_err();
/// assert!(err.to_string().contains("redirect_uris"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSpec {
    /// Client name (`client_name`).
    pub name: String,
    /// Production or sandbox.
    pub key_type: KeyType,
    /// Grant types the client may use.
    pub grant_types: Vec<GrantType>,
    /// Redirect URIs (needed by `authorization_code` and `implicit`), each one the policy accepted.
    #[serde(default)]
    pub redirect_uris: Vec<RedirectUri>,
    /// Scopes the client may request.
    #[serde(default)]
    pub scopes: Scopes,
    /// A public client: no secret, `token_endpoint_auth_method = none`.
    #[serde(default)]
    pub public_client: bool,
    /// PKCE policy.
    #[serde(default)]
    pub pkce: PkcePolicy,
    /// Maximum access-token lifetime in seconds; `None` = the key manager's default.
    #[serde(default)]
    pub access_token_lifetime: Option<u64>,
    /// Refresh-token lifetime in seconds; `None` = the key manager's default.
    #[serde(default)]
    pub refresh_token_lifetime: Option<u64>,
    /// Provider-specific properties, checked against the connector's declared application properties.
    #[serde(default)]
    pub additional_properties: serde_json::Map<String, serde_json::Value>,
}

impl ClientSpec {
    /// A spec with a name and key type, granting `client_credentials`.
    pub fn new(name: impl Into<String>, key_type: KeyType) -> Self {
        ClientSpec {
            name: name.into(),
            key_type,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: Vec::new(),
            scopes: Scopes::new(),
            public_client: false,
            pkce: PkcePolicy::default(),
            access_token_lifetime: None,
            refresh_token_lifetime: None,
            additional_properties: serde_json::Map::new(),
        }
    }

    /// Replace the grant types.
    pub fn with_grant_types(mut self, grants: impl IntoIterator<Item = GrantType>) -> Self {
        self.grant_types = grants.into_iter().collect();
        self
    }

    /// Replace the redirect URIs.
    pub fn with_redirect_uris(mut self, uris: impl IntoIterator<Item = RedirectUri>) -> Self {
        self.redirect_uris = uris.into_iter().collect();
        self
    }

    /// The redirect URIs as strings, for a provider's wire body.
    pub fn redirect_uri_strings(&self) -> Vec<String> {
        self.redirect_uris.iter().map(|u| u.as_str().to_owned()).collect()
    }

    /// Replace the allowed scopes.
    pub fn with_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Make this a public client (no secret).
    pub fn public(mut self) -> Self {
        self.public_client = true;
        self
    }

    /// Set the PKCE policy.
    pub fn with_pkce(mut self, pkce: PkcePolicy) -> Self {
        self.pkce = pkce;
        self
    }

    /// Set the maximum access-token lifetime in seconds.
    pub fn with_access_token_lifetime(mut self, seconds: u64) -> Self {
        self.access_token_lifetime = Some(seconds);
        self
    }

    /// The token endpoint auth method this spec implies.
    pub fn token_endpoint_auth_method(&self) -> TokenEndpointAuthMethod {
        if self.public_client {
            TokenEndpointAuthMethod::None
        } else {
            TokenEndpointAuthMethod::ClientSecretBasic
        }
    }

    /// Check the spec on its own; the error names the offending field.
    ///
    /// Names have no control characters; grant types, redirect URIs and scopes are not repeated; redirect URIs
    /// follow the [redirect URI policy](super::check_redirect_uri); lifetimes are within
    /// [`MAX_DURATION_SECONDS`](super::MAX_DURATION_SECONDS).
    pub fn validate(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(Error::invalid_field("name", "must not be empty"));
        }
        check_text("name", &self.name, MAX_NAME_LENGTH)?;
        if self.grant_types.is_empty() {
            return Err(Error::invalid_field("grant_types", "at least one grant type is needed"));
        }
        for (i, g) in self.grant_types.iter().enumerate() {
            if g.as_str().trim().is_empty() {
                return Err(Error::invalid_field("grant_types", "a grant type must not be empty"));
            }
            if self.grant_types[..i].contains(g) {
                return Err(Error::invalid_field(
                    format!("grant_types[{i}]"),
                    format!("{g} is listed twice"),
                ));
            }
        }
        if let Some(g) = self.grant_types.iter().find(|g| g.needs_redirect_uri()) {
            if self.redirect_uris.is_empty() {
                return Err(Error::invalid_field(
                    "redirect_uris",
                    format!("the {g} grant needs at least one redirect URI"),
                ));
            }
        }
        if self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(Error::invalid_field(
                "redirect_uris",
                format!("at most {MAX_REDIRECT_URIS} redirect URIs"),
            ));
        }
        for (i, uri) in self.redirect_uris.iter().enumerate() {
            if self.redirect_uris[..i].contains(uri) {
                return Err(Error::invalid_field(format!("redirect_uris[{i}]"), "is listed twice"));
            }
        }
        if self.public_client && self.grant_types.contains(&GrantType::ClientCredentials) {
            return Err(Error::invalid_field(
                "grant_types",
                "a public client cannot use client_credentials: it has no secret to authenticate with",
            ));
        }
        if (self.pkce.required || self.pkce.allow_plain) && !self.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(Error::invalid_field(
                "pkce",
                "PKCE applies to the authorization_code grant, which this client does not use",
            ));
        }
        if self.scopes.len() > MAX_SCOPES {
            return Err(Error::invalid_field("scopes", format!("at most {MAX_SCOPES} scopes")));
        }
        for (i, scope) in self.scopes.iter().enumerate() {
            if !is_valid_scope_token(scope) {
                let shown: String = scope.escape_debug().take(100).collect();
                return Err(Error::invalid_field(
                    format!("scopes[{i}]"),
                    format!("`{shown}` is not a valid scope token (RFC 6749 §3.3)"),
                ));
            }
            if self.scopes[..i].contains(scope) {
                return Err(Error::invalid_field(
                    format!("scopes[{i}]"),
                    format!("`{scope}` is listed twice"),
                ));
            }
        }
        if let Some(l) = self.access_token_lifetime {
            check_duration("access_token_lifetime", l)?;
        }
        if let Some(l) = self.refresh_token_lifetime {
            check_duration("refresh_token_lifetime", l)?;
        }
        Ok(())
    }

    /// Check an update a client asks for on its own authority (RFC 7592, with its registration access token)
    /// against what it holds now. **An allowlist**: each field of the spec is classified below (the destructuring
    /// fails to compile when a field is added without a class), and a provider-specific property may change only
    /// where `property` says so; anything else that differs is refused, naming it.
    ///
    /// | field | a client may |
    /// |---|---|
    /// | `name` | change it |
    /// | `grant_types`, `scopes` | keep or narrow them |
    /// | `access_token_lifetime`, `refresh_token_lifetime` | keep or shorten them |
    /// | `pkce` | keep it or make it stricter |
    /// | `redirect_uris` | keep them, drop some, or add ones on origins it already has (loopback `http`: any port, RFC 8252 §7.3) |
    /// | `key_type`, `public_client` | nothing: a new client is a new registration |
    /// | `additional_properties.*` | what `property(name, wanted, held)` allows (`Ok`); unchanged ones always |
    ///
    /// Widening needs an administrator.
    ///
    /// ```
    /// use keymanager::model::{ClientSpec, GrantType, KeyType};
    /// let held = ClientSpec::new("app", KeyType::Production).with_scopes(["read"]);
    /// let none = |_: &str, _: Option<&serde_json::Value>, _: Option<&serde_json::Value>| Err("never".to_owned());
    /// assert!(held.clone().with_scopes(Vec::<String>::new()).check_self_update(&held, none).is_ok());
    /// let err = held.clone().with_scopes(["read", "admin"]).check_self_update(&held, none).unwrap_err();
    /// assert!(err.to_string().contains("field `scope`"));
    /// let mut keys = held.clone();
    /// keys.additional_properties.insert("jwks_uri".into(), "https://attacker.example/jwks".into());
    /// let err = keys.check_self_update(&held, none).unwrap_err();
    /// assert!(err.to_string().contains("additional_properties.jwks_uri"));
    /// ```
    pub fn check_self_update(
        &self,
        current: &ClientSpec,
        property: impl Fn(&str, Option<&serde_json::Value>, Option<&serde_json::Value>) -> std::result::Result<(), String>,
    ) -> Result<()> {
        let widen = |field: &str, what: String| {
            Err(Error::invalid_field(
                field,
                format!("{what}: a client may keep or narrow its registration, never widen it; ask an administrator"),
            ))
        };
        // Every field, by name: a field added to the spec is a compile error here until it is classified.
        let ClientSpec {
            name: _,
            key_type,
            grant_types,
            redirect_uris,
            scopes,
            public_client,
            pkce,
            access_token_lifetime,
            refresh_token_lifetime,
            additional_properties,
        } = self;
        if *key_type != current.key_type {
            return Err(Error::invalid_field(
                "key_type",
                "a client cannot move between production and sandbox; register a new client",
            ));
        }
        if let Some(g) = grant_types.iter().find(|g| !current.grant_types.contains(g)) {
            return widen(
                "grant_types",
                format!("the {g} grant is not registered for this client"),
            );
        }
        if let Some(s) = scopes.iter().find(|s| !current.scopes.contains(s)) {
            return widen("scope", format!("scope `{s}` is not registered for this client"));
        }
        for (field, new, old) in [
            (
                "access_token_lifetime",
                *access_token_lifetime,
                current.access_token_lifetime,
            ),
            (
                "refresh_token_lifetime",
                *refresh_token_lifetime,
                current.refresh_token_lifetime,
            ),
        ] {
            match (new, old) {
                (Some(n), Some(o)) if n > o => return widen(field, format!("{n} is longer than the registered {o}")),
                (None, Some(o)) => {
                    return widen(field, format!("leaving it out would lift the registered limit of {o}"))
                }
                _ => {}
            }
        }
        let PkcePolicy { required, allow_plain } = *pkce;
        if current.pkce.required && !required {
            return widen("pkce_required", "PKCE is required for this client".into());
        }
        if allow_plain && !current.pkce.allow_plain {
            return widen("pkce_allow_plain", "PKCE plain is not allowed for this client".into());
        }
        if *public_client != current.public_client {
            return Err(Error::invalid_field(
                "token_endpoint_auth_method",
                "a client cannot switch between public and confidential; register a new client",
            ));
        }
        let origins: Vec<Option<String>> = current
            .redirect_uris
            .iter()
            .map(|u| redirect_origin(u.as_str()))
            .collect();
        for (i, uri) in redirect_uris.iter().enumerate() {
            if current.redirect_uris.contains(uri) {
                continue;
            }
            let origin = redirect_origin(uri.as_str());
            if origin.is_none() || !origins.contains(&origin) {
                return widen(
                    &format!("redirect_uris[{i}]"),
                    format!(
                        "`{}` is on an origin this client has not registered",
                        uri.as_str().escape_debug()
                    ),
                );
            }
        }
        let mut names: Vec<&String> = additional_properties
            .keys()
            .chain(current.additional_properties.keys())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let (wanted, held) = (additional_properties.get(name), current.additional_properties.get(name));
            if wanted == held {
                continue;
            }
            if let Err(why) = property(name, wanted, held) {
                return Err(Error::invalid_field(
                    format!("additional_properties.{name}"),
                    format!("a client cannot change this on its own authority ({why}); ask an administrator"),
                ));
            }
        }
        Ok(())
    }

    /// Check the spec, then check it against what a key manager can do: unsupported grant types, public clients,
    /// PKCE or `plain` give `Unsupported` naming the feature.
    pub fn validate_for(&self, caps: &Capabilities) -> Result<()> {
        self.validate()?;
        if !caps.grant_types.is_empty() {
            if let Some(g) = self.grant_types.iter().find(|g| !caps.grant_types.contains(g)) {
                return Err(Error::unsupported(format!("grant type {g}")));
            }
        }
        if self.public_client && !caps.public_clients {
            return Err(Error::unsupported("public clients"));
        }
        if self.pkce.required && !caps.pkce {
            return Err(Error::unsupported("PKCE"));
        }
        if self.pkce.allow_plain && !caps.pkce_plain {
            return Err(Error::unsupported("PKCE method plain"));
        }
        if self.access_token_lifetime.is_some() && !caps.client_token_lifetime {
            return Err(Error::unsupported("per-client token lifetime"));
        }
        Ok(())
    }
}

/// The origin a redirect URI belongs to, for [`ClientSpec::check_self_update`]: scheme, host and port; for
/// loopback `http` the port is left out (RFC 8252 §7.3); for a private-use scheme, the scheme alone.
fn redirect_origin(uri: &str) -> Option<String> {
    let u = Url::parse(uri).ok()?;
    match (u.scheme(), u.host_str()) {
        ("https", Some(h)) => Some(format!("https://{h}:{}", u.port_or_known_default()?)),
        ("http", Some(h)) => Some(format!("http://{h}")),
        (scheme, _) => Some(format!("{scheme}:")),
    }
}

/// An OAuth client as the provider holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OAuthClient {
    /// The client id (consumer key).
    pub client_id: ClientId,
    /// The plain secret: only right after creation or regeneration, `None` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ClientSecret>,
    /// Client name.
    pub name: String,
    /// Grant types.
    pub grant_types: Vec<GrantType>,
    /// Redirect URIs, as the provider holds them: not [`RedirectUri`]s, since a client made elsewhere (and mapped)
    /// may hold one our policy refuses; a change to them goes through a [`ClientSpec`], which checks.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Allowed scopes.
    #[serde(default)]
    pub scopes: Scopes,
    /// Whether this is a public client.
    #[serde(default)]
    pub public_client: bool,
    /// PKCE policy.
    #[serde(default)]
    pub pkce: PkcePolicy,
    /// Maximum access-token lifetime in seconds, when set.
    #[serde(default)]
    pub access_token_lifetime: Option<u64>,
    /// Refresh-token lifetime in seconds, when set.
    #[serde(default)]
    pub refresh_token_lifetime: Option<u64>,
    /// Creation time, seconds since the Unix epoch, when the provider tells.
    #[serde(default)]
    pub created_at: Option<i64>,
    /// Provider-specific properties as the provider reports them.
    #[serde(default)]
    pub additional_properties: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> RedirectUri {
        RedirectUri::parse(text).unwrap()
    }

    /// A spec read from JSON cannot carry a URI the policy refuses: deserializing is parsing.
    #[test]
    fn a_spec_with_a_refused_redirect_uri_does_not_deserialize() {
        for bad in [
            "not a uri",
            "https://a.example/cb#frag",
            "javascript:alert(1)",
            "http://a.example/cb",
        ] {
            let json = serde_json::json!({"name": "web", "key_type": "PRODUCTION", "grant_types": ["authorization_code"],
                "redirect_uris": [bad]});
            let err = serde_json::from_value::<ClientSpec>(json).unwrap_err().to_string();
            assert!(err.contains(&bad.escape_debug().to_string()), "{bad}: {err}");
        }
    }

    fn field_of(err: Error) -> String {
        match err {
            Error::InvalidRequest { field: Some(f), .. } => f,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn each_rule_names_its_field() {
        let base = ClientSpec::new("app", KeyType::Production);
        assert!(base.validate().is_ok());
        let cases: Vec<(ClientSpec, &str)> = vec![
            (ClientSpec::new("  ", KeyType::Production), "name"),
            (base.clone().with_grant_types([]), "grant_types"),
            (
                base.clone().with_grant_types([GrantType::AuthorizationCode]),
                "redirect_uris",
            ),
            (
                base.clone()
                    .with_grant_types([GrantType::AuthorizationCode])
                    .with_redirect_uris([uri("https://a.example/cb"), uri("https://a.example/cb")]),
                "redirect_uris[1]",
            ),
            (base.clone().public(), "grant_types"),
            (
                base.clone().with_pkce(PkcePolicy {
                    required: true,
                    allow_plain: false,
                }),
                "pkce",
            ),
            (base.clone().with_scopes(["bad scope"]), "scopes[0]"),
            (base.clone().with_access_token_lifetime(0), "access_token_lifetime"),
        ];
        for (spec, field) in cases {
            assert_eq!(field_of(spec.validate().unwrap_err()), field);
        }
    }

    #[test]
    fn public_pkce_client_is_valid_and_checked_against_capabilities() {
        let spec = ClientSpec::new("spa", KeyType::Sandbox)
            .with_grant_types([GrantType::AuthorizationCode])
            .with_redirect_uris([uri("https://spa.example/cb")])
            .public()
            .with_pkce(PkcePolicy {
                required: true,
                allow_plain: true,
            });
        spec.validate().unwrap();
        assert_eq!(spec.token_endpoint_auth_method(), TokenEndpointAuthMethod::None);
        let caps = Capabilities {
            public_clients: true,
            pkce: true,
            pkce_plain: false,
            ..Capabilities::default()
        };
        let err = spec.validate_for(&caps).unwrap_err();
        assert!(matches!(err, Error::Unsupported { ref operation } if operation == "PKCE method plain"));
    }

    #[test]
    fn key_type_parses_in_any_case() {
        assert_eq!("Production".parse::<KeyType>().unwrap(), KeyType::Production);
        assert_eq!("SANDBOX".parse::<KeyType>().unwrap(), KeyType::Sandbox);
        assert!("staging".parse::<KeyType>().is_err());
    }
}
