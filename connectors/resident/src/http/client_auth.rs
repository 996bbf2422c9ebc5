//! Client authentication (RFC 6749 §2.3.1) and the admin / initial access token.

use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::errors::OAuthError;
use crate::crypto;

/// The TLS client certificate the request came with (RFC 8705), as the TLS terminator left it in the request's
/// extensions; none over plain HTTP or when the client sent none.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsClient(pub Option<keymanager::connector_kit::mtls::ClientCertificate>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for TlsClient {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(TlsClient(
            parts
                .extensions
                .get::<keymanager::connector_kit::mtls::ClientCertificate>()
                .cloned(),
        ))
    }
}

/// Credentials a request presented.
#[derive(Debug)]
pub(crate) enum Presented {
    /// A confidential client (Basic header or form body), with how it was sent.
    Secret {
        client_id: String,
        secret: keymanager::connector_kit::model::ClientSecret,
    },
    /// `client_id` in the form and nothing else: a public client, or one that authenticates with its TLS
    /// certificate (RFC 8705 §2).
    Public { client_id: String },
    /// A JWT assertion signed with the client's key (`private_key_jwt`, RFC 7523 §2.2).
    Assertion {
        /// The form's `client_id`, when sent.
        client_id: Option<String>,
        /// The JWT (`Debug` hides it).
        assertion: keymanager::connector_kit::model::Token,
    },
    /// Nothing.
    None,
}

/// Read the client credentials: HTTP Basic (`client_secret_basic`), `client_id` / `client_secret` form fields
/// (`client_secret_post`), or a client assertion (`private_key_jwt`); more than one method is `invalid_request`.
pub(crate) fn presented(headers: &HeaderMap, form: &Form) -> Result<Presented, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION).map(|v| v.to_str()) {
        Some(Ok(v)) if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") => Some(parse_basic(&v[6..])?),
        _ => None,
    };
    let form_id = form.get("client_id")?;
    let form_secret = form.get("client_secret")?;
    match (form.get("client_assertion_type")?, form.get("client_assertion")?) {
        (None, None) => {}
        (Some(crate::CLIENT_ASSERTION_TYPE), Some(assertion)) => {
            if basic.is_some() || form_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            return Ok(Presented::Assertion {
                client_id: form_id.map(str::to_owned),
                assertion: keymanager::connector_kit::model::Token::new(assertion),
            });
        }
        (Some(other), Some(_)) => {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type `{other}` is not supported; use {}",
                crate::CLIENT_ASSERTION_TYPE
            )))
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "client_assertion and client_assertion_type go together",
            ))
        }
    }
    match (basic, form_id, form_secret) {
        (Some(_), _, Some(_)) => Err(OAuthError::invalid_request(
            "use one client authentication method, not two",
        )),
        (Some((id, secret)), form_id, None) => {
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the authenticated client",
                ));
            }
            Ok(Presented::Secret {
                client_id: id,
                secret: secret.into(),
            })
        }
        (None, Some(id), Some(secret)) => Ok(Presented::Secret {
            client_id: id.to_owned(),
            secret: secret.into(),
        }),
        (None, Some(id), None) => Ok(Presented::Public {
            client_id: id.to_owned(),
        }),
        (None, None, Some(_)) => Err(OAuthError::invalid_request("client_secret without client_id")),
        (None, None, None) => Ok(Presented::None),
    }
}

fn parse_basic(encoded: &str) -> Result<(String, String), OAuthError> {
    let bad = OAuthError::invalid_client;
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    Ok((form_decode(id).ok_or_else(bad)?, form_decode(secret).ok_or_else(bad)?))
}

fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A form body with duplicate parameters refused (RFC 6749 §3.2).
#[derive(Debug, Default)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Form(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The value of a parameter; an empty value counts as absent; a repeated one (even if one of its values is
    /// empty, as in `scope=a&scope=`) is `invalid_request` (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = self.0.iter().filter(|(k, _)| k == name);
        let first = found.next().map(|(_, v)| v.as_str()).filter(|v| !v.is_empty());
        if found.next().is_some() {
            return Err(OAuthError::invalid_request(format!("parameter `{name}` is repeated")));
        }
        Ok(first)
    }

    /// The first parameter that appears more than once, if any.
    pub fn repeated(&self) -> Option<&str> {
        self.0
            .iter()
            .enumerate()
            .find(|(i, (k, _))| self.0[..*i].iter().any(|(other, _)| other == k))
            .map(|(_, (k, _))| k.as_str())
    }
}

/// The admin bearer token: the management API's credential and the RFC 7591 initial access token. Either one token,
/// of which only the hash is kept, or a check the server supplies (its named admin tokens).
#[derive(Clone)]
pub struct AdminToken {
    check: NameCheck,
}

/// Names the admin token presented, when it is one.
type NameCheck = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken([REDACTED])")
    }
}

impl AdminToken {
    /// Keep the hash of this token.
    pub fn new(plain: &str) -> Self {
        let hash = crypto::hash(plain);
        AdminToken {
            check: std::sync::Arc::new(move |presented| crypto::verify(presented, &hash).then(|| "admin".to_owned())),
        }
    }

    /// Admin tokens as `check` decides, naming the token (for example a server's named admin tokens).
    pub fn from_check(check: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        AdminToken {
            check: std::sync::Arc::new(check),
        }
    }

    /// A fresh random token and its holder.
    pub fn generate() -> (String, AdminToken) {
        let plain = crypto::random_token(32);
        let holder = AdminToken::new(&plain);
        (plain, holder)
    }

    /// Whether `presented` is an admin token (one token: compared in constant time).
    pub fn verify(&self, presented: &str) -> bool {
        (self.check)(presented).is_some()
    }

    /// The name of the admin token presented (for the audit trail), when it is one.
    pub fn name_of(&self, presented: &str) -> Option<String> {
        (self.check)(presented)
    }
}

/// The bearer token of an `Authorization: Bearer …` header.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    keymanager::connector_kit::model::bearer_token(headers.get(header::AUTHORIZATION)?.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = STANDARD.encode("my%20client:s%2Bcr%3At");
        assert_eq!(parse_basic(&encoded).unwrap(), ("my client".into(), "s+cr:t".into()));
        assert!(parse_basic("!!!").is_err());
        assert!(parse_basic(&STANDARD.encode("no-colon")).is_err());
    }

    #[test]
    fn repeated_parameters_are_refused() {
        let form = Form::parse(b"grant_type=client_credentials&scope=a&scope=b");
        assert!(form.get("scope").is_err());
        assert!(Form::parse(b"scope=a&scope=").get("scope").is_err());
        assert_eq!(Form::parse(b"scope=&a=1").get("scope").unwrap(), None);
        assert_eq!(Form::parse(b"a=1&b=2&a=3").repeated(), Some("a"));
        assert_eq!(form.get("grant_type").unwrap(), Some("client_credentials"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 256, failure_persistence: None, ..Default::default() })]

        /// Any body parses without a panic; any header value gives credentials or `invalid_client`.
        #[test]
        fn any_form_body_or_authorization_header_is_a_typed_answer(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            header in "[ -~]{0,120}",
        ) {
            let form = Form::parse(&body);
            for name in ["grant_type", "scope", "client_id", "client_secret", "code", ""] {
                let _ = form.get(name);
            }
            let _ = form.repeated();
            let _ = parse_basic(&header);
            let mut headers = HeaderMap::new();
            if let Ok(v) = axum::http::HeaderValue::from_str(&header) {
                headers.insert(axum::http::header::AUTHORIZATION, v);
            }
            let _ = presented(&headers, &form);
            let _ = bearer(&headers);
        }

        /// Distinct names come back with the values that were encoded; a name sent twice is refused.
        #[test]
        fn encoded_pairs_come_back_and_repeats_are_refused(
            pairs in proptest::collection::btree_map("[a-z_]{1,12}", "\\PC{0,30}", 1..8),
            again in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let mut encoded = url::form_urlencoded::Serializer::new(String::new());
            encoded.extend_pairs(&pairs);
            let form = Form::parse(encoded.finish().as_bytes());
            for (k, v) in &pairs {
                let expected = if v.is_empty() { None } else { Some(v.as_str()) };
                proptest::prop_assert_eq!(form.get(k).unwrap(), expected);
            }
            let name = again.get(&pairs.keys().collect::<Vec<_>>()).to_string();
            let mut twice = url::form_urlencoded::Serializer::new(String::new());
            twice.extend_pairs(&pairs).append_pair(&name, "x");
            let form = Form::parse(twice.finish().as_bytes());
            proptest::prop_assert!(form.get(&name).is_err());
            proptest::prop_assert_eq!(form.repeated(), Some(name.as_str()));
        }
    }
}
