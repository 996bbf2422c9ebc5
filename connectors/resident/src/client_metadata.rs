//! The OpenID client metadata the resident keeps in a client's `additional_properties` (RFC 7591 §2, OpenID Connect
//! Dynamic Client Registration §2, RP-Initiated Logout §3.1): how it authenticates, its keys, the algorithm of its ID
//! tokens and where it may be sent after logout. One parser, used by registration, the management API's key
//! generation and client authentication alike; any other property is refused by name.

use keymanager::connector_kit::model::{check_redirect_uri, TokenEndpointAuthMethod};
use keymanager::connector_kit::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::signing::Algorithm;

/// The most keys a client may register inline, and the most post-logout redirect URIs.
pub const MAX_CLIENT_KEYS: usize = 10;
/// The most post-logout redirect URIs a client may register.
pub const MAX_POST_LOGOUT_REDIRECT_URIS: usize = 20;

/// A client's OpenID metadata, read from its `additional_properties`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientMetadata {
    /// Where the end-session endpoint may send the user back (RP-Initiated Logout §3.1), compared exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// How the client authenticates; by default with its secret (`client_secret_basic` or `client_secret_post`),
    /// or none for a public client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// The client's public keys (RFC 7517 JWK Set), for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where the client publishes its public keys, for `private_key_jwt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The JWS algorithm of the client's ID tokens: the server's configured one (the default) or `RS256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// Where people read how the client uses their data (RFC 7591 §2), linked on the consent page; `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// Where people read the client's terms of service (RFC 7591 §2), linked on the consent page; `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// RFC 9449 §5.2: every token request of the client must carry a DPoP proof, so each of its access tokens is
    /// bound to a key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// RFC 9126 §6: the client's authorization requests must be pushed to `/oauth2/par` first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// RFC 8693: the audiences the client may exchange tokens for (none by default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_exchange_audiences: Vec<String>,
    /// RFC 8705 §2.1.2, for `tls_client_auth`: the certificate's subject distinguished name (RFC 4514 text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 §2.1.2, for `tls_client_auth`: a `dNSName` the certificate's SAN holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 §2.1.2, for `tls_client_auth`: a `uniformResourceIdentifier` the certificate's SAN holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// RFC 8705 §2.1.2, for `tls_client_auth`: an `iPAddress` the certificate's SAN holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// RFC 8705 §2.1.2, for `tls_client_auth`: an `rfc822Name` the certificate's SAN holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// RFC 8705 §3.4: every token request of the client must come over TLS with its certificate, and each access
    /// token is bound to that certificate (`cnf.x5t#S256`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
}

/// The audiences a stored client may exchange tokens for (`token_exchange_audiences`).
pub fn token_exchange_audiences(client: &crate::store::ClientRecord) -> Vec<String> {
    client
        .additional_properties
        .get("token_exchange_audiences")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Whether a stored client's boolean member `name` is set (a stored record was checked when it was stored).
fn flag(client: &crate::store::ClientRecord, name: &str) -> bool {
    client.additional_properties.get(name) == Some(&Value::Bool(true))
}

/// Whether a stored client must push its authorization requests (`require_pushed_authorization_requests`).
pub fn requires_par(client: &crate::store::ClientRecord) -> bool {
    flag(client, "require_pushed_authorization_requests")
}

/// Whether a stored client must prove a DPoP key at the token endpoint (`dpop_bound_access_tokens`).
pub fn requires_dpop(client: &crate::store::ClientRecord) -> bool {
    flag(client, "dpop_bound_access_tokens")
}

/// Whether a stored client's tokens must be bound to its TLS certificate
/// (`tls_client_certificate_bound_access_tokens`).
pub fn requires_certificate(client: &crate::store::ClientRecord) -> bool {
    flag(client, "tls_client_certificate_bound_access_tokens")
}

/// Every member of [`ClientMetadata`], classified for an update a client makes on its own authority (RFC 7592):
/// what it may change without an administrator. A test fails when a member is added without a class here.
pub const SELF_UPDATE_CLASSES: [(&str, SelfUpdate); 16] = [
    ("post_logout_redirect_uris", SelfUpdate::Narrow),
    ("id_token_signed_response_alg", SelfUpdate::Free),
    ("token_endpoint_auth_method", SelfUpdate::Never),
    ("jwks", SelfUpdate::Never),
    ("jwks_uri", SelfUpdate::Never),
    // Shown to people deciding whether to trust the client: an administrator's to change.
    ("policy_uri", SelfUpdate::Never),
    ("tos_uri", SelfUpdate::Never),
    // Turning it off would unbind the client's tokens: an administrator's to change.
    ("dpop_bound_access_tokens", SelfUpdate::Never),
    ("require_pushed_authorization_requests", SelfUpdate::Never),
    // Where the client's exchanged tokens may be used: an administrator's policy.
    ("token_exchange_audiences", SelfUpdate::Never),
    // Which certificate authenticates the client, and whether its tokens are bound to it.
    ("tls_client_auth_subject_dn", SelfUpdate::Never),
    ("tls_client_auth_san_dns", SelfUpdate::Never),
    ("tls_client_auth_san_uri", SelfUpdate::Never),
    ("tls_client_auth_san_ip", SelfUpdate::Never),
    ("tls_client_auth_san_email", SelfUpdate::Never),
    ("tls_client_certificate_bound_access_tokens", SelfUpdate::Never),
];

/// The names of every member of [`ClientMetadata`] (what registration reads and the management API accepts).
pub fn member_names() -> impl Iterator<Item = &'static str> {
    SELF_UPDATE_CLASSES.iter().map(|(name, _)| *name)
}

/// What a client may do with one member of its metadata on its own authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfUpdate {
    /// Change it: harmless (the values are the server's own, checked when stored).
    Free,
    /// Keep it or drop entries, never add one.
    Narrow,
    /// Keep it as it is: it decides how the client authenticates or where users are sent.
    Never,
}

/// The rule [`ClientSpec::check_self_update`](keymanager::connector_kit::model::ClientSpec::check_self_update) applies to the
/// resident's client metadata: by [`SELF_UPDATE_CLASSES`]; a member not listed is refused.
pub fn self_update_rule(name: &str, wanted: Option<&Value>, held: Option<&Value>) -> std::result::Result<(), String> {
    let class = SELF_UPDATE_CLASSES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
        .unwrap_or(SelfUpdate::Never);
    match class {
        SelfUpdate::Free => Ok(()),
        SelfUpdate::Narrow => {
            let list = |v: Option<&Value>| -> Vec<Value> { v.and_then(Value::as_array).cloned().unwrap_or_default() };
            let held = list(held);
            match list(wanted).into_iter().find(|w| !held.contains(w)) {
                None => Ok(()),
                Some(added) => Err(format!("{added} is not registered; only entries held may be kept")),
            }
        }
        SelfUpdate::Never => Err("it decides how the client authenticates".into()),
    }
}

impl ClientMetadata {
    /// Read and check a client's `additional_properties`: every field named in an error is
    /// `additional_properties.FIELD`. `public` is whether the client is public; `algorithms` the server signs with.
    pub fn parse(props: &Map<String, Value>, public: bool, algorithms: &[Algorithm]) -> Result<ClientMetadata> {
        let meta: ClientMetadata = serde_path_to_error::deserialize(Value::Object(props.clone())).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            match inner.strip_prefix("unknown field `") {
                Some(rest) => {
                    let name = rest.split('`').next().unwrap_or_default();
                    Error::invalid_field(
                        format!("additional_properties.{name}"),
                        format!(
                            "unknown field; the resident key manager takes {}",
                            member_names().collect::<Vec<_>>().join(", ")
                        ),
                    )
                }
                None => Error::invalid_field(format!("additional_properties.{path}"), inner),
            }
        })?;
        meta.check(public, algorithms)?;
        Ok(meta)
    }

    /// The metadata of a client already stored (checked when it was stored); a record that no longer reads is a
    /// storage fault.
    pub fn of_record(props: &Map<String, Value>) -> Result<ClientMetadata> {
        serde_json::from_value(Value::Object(props.clone()))
            .map_err(|e| Error::storage(format!("a stored client's OpenID metadata does not read: {e}")))
    }

    /// Whether the client authenticates with a signed JWT of its own key.
    pub fn uses_private_key_jwt(&self) -> bool {
        self.token_endpoint_auth_method == Some(TokenEndpointAuthMethod::PrivateKeyJwt)
    }

    /// Whether the client authenticates with a TLS client certificate (RFC 8705 §2).
    pub fn uses_tls_client_auth(&self) -> bool {
        matches!(
            self.token_endpoint_auth_method,
            Some(TokenEndpointAuthMethod::TlsClientAuth | TokenEndpointAuthMethod::SelfSignedTlsClientAuth)
        )
    }

    /// Whether `cert` authenticates this client (RFC 8705 §2): by its `token_endpoint_auth_method`, a certificate
    /// it registered (`self_signed_tls_client_auth`: in `jwks`, or among `published`, the keys read from its
    /// `jwks_uri`) or one of a configured authority holding the attribute it registered (`tls_client_auth`).
    pub fn authenticates_with(
        &self,
        cert: &keymanager::connector_kit::mtls::ClientCertificate,
        published: Option<&[Value]>,
    ) -> bool {
        use crate::client_certificate::{is_registered, keys_of, names_client};
        match self.token_endpoint_auth_method {
            Some(TokenEndpointAuthMethod::SelfSignedTlsClientAuth) => match (&self.jwks, published) {
                (Some(jwks), _) => is_registered(keys_of(jwks), cert),
                (None, Some(keys)) if self.jwks_uri.is_some() => is_registered(keys, cert),
                _ => false,
            },
            Some(TokenEndpointAuthMethod::TlsClientAuth) => match self.tls_client_auth_names()[..] {
                [(name, wanted)] => names_client(name, wanted, cert),
                _ => false,
            },
            _ => false,
        }
    }

    /// Where a `self_signed_tls_client_auth` client publishes its certificates, when it registered no `jwks`: its
    /// `jwks_uri` (RFC 8705 §2.2.2).
    pub fn published_certificates_at(&self) -> Option<&str> {
        match self.token_endpoint_auth_method {
            Some(TokenEndpointAuthMethod::SelfSignedTlsClientAuth) if self.jwks.is_none() => self.jwks_uri.as_deref(),
            _ => None,
        }
    }

    /// Whether the client authenticates without a secret of ours (its own keys or certificate).
    pub fn has_no_secret(&self) -> bool {
        self.uses_private_key_jwt() || self.uses_tls_client_auth()
    }

    /// The one certificate attribute a `tls_client_auth` client registered (RFC 8705 §2.1.2), by its member name.
    pub fn tls_client_auth_names(&self) -> Vec<(&'static str, &str)> {
        [
            ("tls_client_auth_subject_dn", &self.tls_client_auth_subject_dn),
            ("tls_client_auth_san_dns", &self.tls_client_auth_san_dns),
            ("tls_client_auth_san_uri", &self.tls_client_auth_san_uri),
            ("tls_client_auth_san_ip", &self.tls_client_auth_san_ip),
            ("tls_client_auth_san_email", &self.tls_client_auth_san_email),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.as_deref().map(|v| (n, v)))
        .collect()
    }

    /// The algorithm of the client's ID tokens, when it registered one.
    pub fn id_token_alg(&self) -> Option<Algorithm> {
        self.id_token_signed_response_alg.as_deref()?.parse().ok()
    }

    fn check(&self, public: bool, algorithms: &[Algorithm]) -> Result<()> {
        let field = |name: &str| format!("additional_properties.{name}");
        if self.post_logout_redirect_uris.len() > MAX_POST_LOGOUT_REDIRECT_URIS {
            return Err(Error::invalid_field(
                field("post_logout_redirect_uris"),
                format!("at most {MAX_POST_LOGOUT_REDIRECT_URIS} URIs"),
            ));
        }
        for (i, uri) in self.post_logout_redirect_uris.iter().enumerate() {
            check_redirect_uri(uri).map_err(|m| {
                Error::invalid_field(format!("additional_properties.post_logout_redirect_uris[{i}]"), m)
            })?;
        }
        for (name, uri) in [("policy_uri", &self.policy_uri), ("tos_uri", &self.tos_uri)] {
            let Some(uri) = uri else { continue };
            // A page people open: https, and the same character rules as a redirect URI.
            let ok = uri.starts_with("https://") && check_redirect_uri(uri).is_ok();
            if !ok {
                return Err(Error::invalid_field(
                    field(name),
                    "must be an https URL people can open",
                ));
            }
        }
        match (self.token_endpoint_auth_method, public) {
            (Some(TokenEndpointAuthMethod::None), false) => {
                return Err(Error::invalid_field(
                    field("token_endpoint_auth_method"),
                    "`none` is for public clients; this client is confidential",
                ))
            }
            (Some(m), true) if m != TokenEndpointAuthMethod::None => {
                return Err(Error::invalid_field(
                    field("token_endpoint_auth_method"),
                    format!("a public client cannot authenticate with `{}`", m.as_str()),
                ))
            }
            _ => {}
        }
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err(Error::invalid_field(
                field("jwks"),
                "give jwks or jwks_uri, not both (RFC 7591 §2)",
            ));
        }
        if let Some(doc) = &self.jwks {
            let keys = doc
                .get("keys")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::invalid_field(field("jwks"), "must be a JWK Set: {\"keys\": [ … ]}"))?;
            if keys.is_empty() || keys.len() > MAX_CLIENT_KEYS {
                return Err(Error::invalid_field(
                    field("jwks.keys"),
                    format!("must hold 1 to {MAX_CLIENT_KEYS} keys"),
                ));
            }
            for (i, k) in keys.iter().enumerate() {
                if k.get("d").is_some() {
                    return Err(Error::invalid_field(
                        format!("additional_properties.jwks.keys[{i}]"),
                        "is a private key; register the public key only",
                    ));
                }
                if keymanager::connector_kit::jwk_public_key(k).is_none() {
                    return Err(Error::invalid_field(
                        format!("additional_properties.jwks.keys[{i}]"),
                        "is not a public P-256, RSA (2048 bits or more) or Ed25519 key",
                    ));
                }
            }
        }
        if let Some(uri) = &self.jwks_uri {
            check_jwks_uri(uri).map_err(|m| Error::invalid_field(field("jwks_uri"), m))?;
        }
        if self.uses_private_key_jwt() && self.jwks.is_none() && self.jwks_uri.is_none() {
            return Err(Error::invalid_field(
                field("token_endpoint_auth_method"),
                "private_key_jwt needs the client's keys: give jwks or jwks_uri",
            ));
        }
        self.check_tls_client_auth()?;
        if let Some(alg) = &self.id_token_signed_response_alg {
            if !algorithms.iter().any(|a| a.as_str() == alg) {
                let names: Vec<&str> = algorithms.iter().map(Algorithm::as_str).collect();
                return Err(Error::invalid_field(
                    field("id_token_signed_response_alg"),
                    format!("`{alg}` is not one this server signs with ({})", names.join(", ")),
                ));
            }
        }
        Ok(())
    }
}

impl ClientMetadata {
    /// RFC 8705 §2.1.2: a `tls_client_auth` client names exactly one certificate attribute, and only such a client
    /// names one; §2.2.2: a `self_signed_tls_client_auth` client registers its certificate in `jwks` (`x5c`).
    fn check_tls_client_auth(&self) -> Result<()> {
        let field = |name: &str| format!("additional_properties.{name}");
        let names = self.tls_client_auth_names();
        match self.token_endpoint_auth_method {
            Some(TokenEndpointAuthMethod::TlsClientAuth) => {
                if names.len() != 1 {
                    return Err(Error::invalid_field(
                        field("token_endpoint_auth_method"),
                        "tls_client_auth needs exactly one of tls_client_auth_subject_dn, tls_client_auth_san_dns, \
                         tls_client_auth_san_uri, tls_client_auth_san_ip and tls_client_auth_san_email",
                    ));
                }
                for (name, value) in names {
                    crate::client_certificate::check_registered(name, value)
                        .map_err(|m| Error::invalid_field(field(name), m))?;
                }
            }
            Some(TokenEndpointAuthMethod::SelfSignedTlsClientAuth) => match (&self.jwks, &self.jwks_uri) {
                (Some(jwks), _) => {
                    let keys = crate::client_certificate::keys_of(jwks);
                    if crate::client_certificate::registered_certificates(keys).is_empty() {
                        return Err(Error::invalid_field(
                            field("jwks"),
                            "holds no certificate: give each key's x5c (RFC 8705 §2.2.2)",
                        ));
                    }
                }
                // Published: read when the client presents a certificate.
                (None, Some(_)) => {}
                (None, None) => {
                    return Err(Error::invalid_field(
                        field("token_endpoint_auth_method"),
                        "self_signed_tls_client_auth needs the client's certificates (x5c) in jwks or at jwks_uri",
                    ))
                }
            },
            _ => {
                if let Some((name, _)) = names.first() {
                    return Err(Error::invalid_field(
                        field(name),
                        "is for tls_client_auth clients (token_endpoint_auth_method)",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A `jwks_uri`: `https://`, or `http://` on a loopback address (as for redirect URIs, RFC 8252 §7.3).
fn check_jwks_uri(uri: &str) -> std::result::Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("is not an absolute URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("must be https (http only on a loopback address)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value, public: bool) -> Result<ClientMetadata> {
        ClientMetadata::parse(v.as_object().unwrap(), public, &[Algorithm::Es256, Algorithm::Rs256])
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidRequest { field, .. } => field.unwrap_or_default(),
            other => panic!("not a field error: {other}"),
        }
    }

    #[test]
    fn the_descriptor_declares_exactly_these_fields() {
        let full = ClientMetadata {
            post_logout_redirect_uris: vec!["x".into()],
            token_endpoint_auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
            jwks: Some(json!({})),
            jwks_uri: Some("x".into()),
            id_token_signed_response_alg: Some("RS256".into()),
            policy_uri: Some("https://app.example.com/privacy".into()),
            tos_uri: Some("https://app.example.com/terms".into()),
            dpop_bound_access_tokens: true,
            require_pushed_authorization_requests: true,
            token_exchange_audiences: vec!["https://orders.example".into()],
            tls_client_auth_subject_dn: Some("CN=orders".into()),
            tls_client_auth_san_dns: Some("orders.example".into()),
            tls_client_auth_san_uri: Some("spiffe://example/orders".into()),
            tls_client_auth_san_ip: Some("10.0.0.1".into()),
            tls_client_auth_san_email: Some("ops@example.org".into()),
            tls_client_certificate_bound_access_tokens: true,
        };
        let mut ours: Vec<String> = serde_json::to_value(full)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut declared: Vec<String> = crate::descriptor()
            .application_properties
            .into_iter()
            .map(|s| s.name)
            .collect();
        ours.sort();
        declared.sort();
        assert_eq!(ours, declared);
    }

    #[test]
    fn each_field_is_checked_and_named() {
        let key = json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let ok = parse(
            json!({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [key]},
                   "post_logout_redirect_uris": ["https://app.example/bye"], "id_token_signed_response_alg": "RS256"}),
            false,
        )
        .unwrap();
        assert!(ok.uses_private_key_jwt());
        assert_eq!(ok.id_token_alg(), Some(Algorithm::Rs256));
        for (v, public, field) in [
            (json!({"tier": "gold"}), false, "additional_properties.tier"),
            (
                json!({"post_logout_redirect_uris": ["http://app.example/bye"]}),
                false,
                "additional_properties.post_logout_redirect_uris[0]",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt"}),
                false,
                "additional_properties.token_endpoint_auth_method",
            ),
            (
                json!({"token_endpoint_auth_method": "none"}),
                false,
                "additional_properties.token_endpoint_auth_method",
            ),
            (
                json!({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://a.example/k"}),
                true,
                "additional_properties.token_endpoint_auth_method",
            ),
            (
                json!({"token_endpoint_auth_method": "magic"}),
                false,
                "additional_properties.token_endpoint_auth_method",
            ),
            (
                json!({"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]}}),
                false,
                "additional_properties.jwks.keys[0]",
            ),
            (
                json!({"jwks": {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "x"}]}}),
                false,
                "additional_properties.jwks.keys[0]",
            ),
            (json!({"jwks": {"keys": []}}), false, "additional_properties.jwks.keys"),
            (
                json!({"jwks": {"keys": [key]}, "jwks_uri": "https://a.example/k"}),
                false,
                "additional_properties.jwks",
            ),
            (
                json!({"jwks_uri": "http://a.example/k"}),
                false,
                "additional_properties.jwks_uri",
            ),
            (
                json!({"id_token_signed_response_alg": "HS256"}),
                false,
                "additional_properties.id_token_signed_response_alg",
            ),
        ] {
            let shown = v.to_string();
            assert_eq!(field_of(parse(v, public).unwrap_err()), field, "{shown}");
        }
        assert!(parse(json!({"jwks_uri": "http://127.0.0.1:8080/keys"}), false).is_ok());
        assert_eq!(parse(json!({}), true).unwrap(), ClientMetadata::default());
    }

    #[test]
    fn mutual_tls_clients_name_one_certificate_attribute() {
        let err = |v: Value| field_of(parse(v, false).unwrap_err());
        assert!(parse(
            json!({"token_endpoint_auth_method": "tls_client_auth",
            "tls_client_auth_san_dns": "orders.example"}),
            false
        )
        .unwrap()
        .uses_tls_client_auth());
        assert_eq!(
            err(json!({"token_endpoint_auth_method": "tls_client_auth"})),
            "additional_properties.token_endpoint_auth_method",
            "none named"
        );
        assert_eq!(
            err(json!({"token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_san_dns": "a.example", "tls_client_auth_subject_dn": "CN=a"})),
            "additional_properties.token_endpoint_auth_method",
            "two named"
        );
        assert_eq!(
            err(json!({"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_ip": "nope"})),
            "additional_properties.tls_client_auth_san_ip"
        );
        assert_eq!(
            err(json!({"tls_client_auth_san_dns": "a.example"})),
            "additional_properties.tls_client_auth_san_dns",
            "only for tls_client_auth"
        );
        assert_eq!(
            err(json!({"token_endpoint_auth_method": "self_signed_tls_client_auth"})),
            "additional_properties.token_endpoint_auth_method",
            "no jwks"
        );
    }

    #[test]
    fn every_metadata_member_is_classified_for_self_updates() {
        // Every member set, named one by one: a new member fails to compile here until it is added, and then this
        // test fails until it is classified.
        let all = ClientMetadata {
            post_logout_redirect_uris: vec!["https://app.example.com/bye".into()],
            token_endpoint_auth_method: Some(TokenEndpointAuthMethod::PrivateKeyJwt),
            jwks: Some(serde_json::json!({"keys": []})),
            jwks_uri: Some("https://app.example.com/jwks".into()),
            id_token_signed_response_alg: Some("RS256".into()),
            policy_uri: Some("https://app.example.com/privacy".into()),
            tos_uri: Some("https://app.example.com/terms".into()),
            dpop_bound_access_tokens: true,
            require_pushed_authorization_requests: true,
            token_exchange_audiences: vec!["https://orders.example".into()],
            tls_client_auth_subject_dn: Some("CN=orders".into()),
            tls_client_auth_san_dns: Some("orders.example".into()),
            tls_client_auth_san_uri: Some("spiffe://example/orders".into()),
            tls_client_auth_san_ip: Some("10.0.0.1".into()),
            tls_client_auth_san_email: Some("ops@example.org".into()),
            tls_client_certificate_bound_access_tokens: true,
        };
        let Value::Object(members) = serde_json::to_value(&all).unwrap() else {
            panic!("metadata serialises as an object")
        };
        let mut named: Vec<&str> = members.keys().map(String::as_str).collect();
        let mut classified: Vec<&str> = SELF_UPDATE_CLASSES.iter().map(|(n, _)| *n).collect();
        named.sort();
        classified.sort();
        assert_eq!(named, classified);
        assert!(self_update_rule("something_new", Some(&Value::Bool(true)), None).is_err());
        let uris = |u: &[&str]| Value::from(u.to_vec());
        let held = uris(&["https://a.example/bye", "https://a.example/later"]);
        assert!(self_update_rule(
            "post_logout_redirect_uris",
            Some(&uris(&["https://a.example/bye"])),
            Some(&held)
        )
        .is_ok());
        assert!(self_update_rule("post_logout_redirect_uris", None, Some(&held)).is_ok());
        assert!(self_update_rule(
            "post_logout_redirect_uris",
            Some(&uris(&["https://evil.example/"])),
            Some(&held)
        )
        .is_err());
        assert!(self_update_rule("jwks_uri", Some(&Value::from("https://evil.example/jwks")), None).is_err());
        assert!(self_update_rule(
            "token_endpoint_auth_method",
            Some(&Value::from("private_key_jwt")),
            None
        )
        .is_err());
    }
}
