//! Certificate-bound access tokens (RFC 8705): the client certificate a request came with, its `x5t#S256`
//! thumbprint, and the one reader of a certificate a proxy forwards.
//!
//! A token bound to a certificate carries `cnf: {"x5t#S256": …}` (RFC 8705 §3.1): the base64url SHA-256 of the DER
//! certificate the client proved it holds in the TLS handshake. A gateway accepts such a token only from a request
//! made with that very certificate:
//!
//! - **From the connection** (a gateway linking the library, or `keymanager serve`): whoever terminates TLS puts a
//!   [`ClientCertificate`] in the request's extensions ([`ClientCertificate::from_der`] of the peer's end-entity
//!   certificate); [`BearerAuthLayer`](crate::gateway::BearerAuthLayer) reads it there.
//! - **From the proxy** (forward auth): the proxy that terminated TLS forwards the certificate in a header named by
//!   `[gateway] client_certificate_header`, in its family's format ([`ClientCertificate::from_forwarded`]). Only
//!   that header of that family is read, and only when configured: a header a client sent through a proxy that does
//!   not set it would otherwise be believed.
//!
//! ```
//! use keymanager::config::ProxyKind;
//! use keymanager::validation::mtls::ClientCertificate;
//! // The thumbprint is of the DER bytes; the handshake proved the client holds the certificate's key.
//! let cert = ClientCertificate::from_der(b"\x30\x03\x02\x01\x07".to_vec());
//! assert_eq!(cert.thumbprint().len(), 43);
//! // nginx's `$ssl_client_escaped_cert` (URL-escaped PEM) names the same certificate.
//! let pem = "-----BEGIN CERTIFICATE-----\nMAMCAQc=\n-----END CERTIFICATE-----\n";
//! let escaped: String = url::form_urlencoded::byte_serialize(pem.as_bytes()).collect::<String>().replace('+', "%20");
//! let forwarded = ClientCertificate::from_forwarded(ProxyKind::Nginx, &escaped).unwrap();
//! assert_eq!(forwarded, cert);
//! assert!(ClientCertificate::from_forwarded(ProxyKind::Nginx, "%%%").is_err());
//! ```

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use crate::config::ProxyKind;

/// The `cnf` member that binds a token to a certificate (RFC 8705 §3.1).
pub const X5T_S256: &str = "x5t#S256";

/// The most bytes a forwarded certificate header may hold (a certificate chain of a few kilobytes, escaped).
pub const MAX_FORWARDED_CERTIFICATE_BYTES: usize = 16 * 1024;

/// A TLS client certificate a request was made with: the DER of the end-entity certificate whose private key the
/// client proved it holds in the handshake. `Debug` shows the thumbprint only.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    der: Arc<[u8]>,
    thumbprint: Arc<str>,
    chain_trusted: bool,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint)
            .field("chain_trusted", &self.chain_trusted)
            .finish()
    }
}

impl ClientCertificate {
    /// The certificate with this DER encoding; its chain not checked against any trust anchor.
    pub fn from_der(der: impl Into<Vec<u8>>) -> ClientCertificate {
        let der: Vec<u8> = der.into();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
        ClientCertificate {
            thumbprint: Arc::from(URL_SAFE_NO_PAD.encode(digest)),
            der: Arc::from(der),
            chain_trusted: false,
        }
    }

    /// Mark the certificate as one whose chain the TLS terminator verified against its configured certificate
    /// authorities (what `tls_client_auth` needs, RFC 8705 §2.1); `self_signed_tls_client_auth` does not.
    pub fn with_trusted_chain(mut self, trusted: bool) -> ClientCertificate {
        self.chain_trusted = trusted;
        self
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The `x5t#S256` thumbprint: base64url (no padding) of the DER's SHA-256 (RFC 8705 §3.1).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// Whether the chain was verified against the TLS terminator's certificate authorities.
    pub fn chain_trusted(&self) -> bool {
        self.chain_trusted
    }

    /// Read the certificate a proxy of `proxy`'s family forwarded (the value of `[gateway]
    /// client_certificate_header`):
    ///
    /// - **nginx**: `$ssl_client_escaped_cert`, the URL-escaped PEM certificate;
    /// - **Traefik**: `passTLSClientCert` with `pem: true` (`X-Forwarded-Tls-Client-Cert`), the URL-escaped base64
    ///   DER without PEM delimiters; with a chain, the certificates are comma-separated and the first is the
    ///   client's;
    /// - **Envoy**: `x-forwarded-client-cert` with `set_current_client_cert_details: {cert: true}` and
    ///   `forward_client_cert_details: SANITIZE_SET`: exactly one element, whose `Cert="…"` is the URL-escaped PEM.
    ///
    /// Anything else is refused by name; nothing is guessed.
    pub fn from_forwarded(proxy: ProxyKind, value: &str) -> Result<ClientCertificate, ForwardedCertificateError> {
        if value.len() > MAX_FORWARDED_CERTIFICATE_BYTES {
            return Err(ForwardedCertificateError::TooLarge);
        }
        let escaped = match proxy {
            ProxyKind::Nginx => value,
            ProxyKind::Traefik => value.split(',').next().unwrap_or_default(),
            ProxyKind::Envoy => envoy_cert(value)?,
        };
        let text = percent_decode(escaped.trim())?;
        let body = pem_body(&text)?;
        let der = STANDARD
            .decode(body)
            .map_err(|_| ForwardedCertificateError::NotBase64)?;
        if der.first() != Some(&0x30) {
            // Every DER certificate is a SEQUENCE.
            return Err(ForwardedCertificateError::NotACertificate);
        }
        Ok(ClientCertificate::from_der(der))
    }
}

/// Why a forwarded certificate header cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardedCertificateError {
    /// Longer than [`MAX_FORWARDED_CERTIFICATE_BYTES`].
    #[error("the forwarded client certificate is too large")]
    TooLarge,
    /// A `%` escape is broken, or the text is not UTF-8.
    #[error("the forwarded client certificate is not correctly URL-escaped")]
    BadEscape,
    /// PEM delimiters do not pair up, or more than one certificate came.
    #[error("the forwarded client certificate is not one PEM certificate")]
    NotPem,
    /// The body is not base64.
    #[error("the forwarded client certificate is not base64")]
    NotBase64,
    /// The bytes are not a DER certificate.
    #[error("the forwarded client certificate is not a DER certificate")]
    NotACertificate,
    /// Envoy's header holds no or several elements, or no `Cert`.
    #[error("x-forwarded-client-cert must hold one element with Cert=\"…\" (set_current_client_cert_details: cert)")]
    EnvoyElement,
}

/// The `Cert` of Envoy's one XFCC element (`key=value` pairs split by `;`, values optionally quoted).
fn envoy_cert(value: &str) -> Result<&str, ForwardedCertificateError> {
    let mut cert = None;
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or(ForwardedCertificateError::EnvoyElement)?;
        let (val, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').ok_or(ForwardedCertificateError::EnvoyElement)?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => match after.find([';', ',']) {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            },
        };
        if key.trim().eq_ignore_ascii_case("cert") {
            if cert.is_some() {
                return Err(ForwardedCertificateError::EnvoyElement);
            }
            cert = Some(val);
        }
        rest = match after.trim_start().as_bytes().first() {
            None => "",
            Some(b';') => after.trim_start()[1..].trim_start(),
            // A comma separates elements: a second proxy's element is not ours to read.
            Some(_) => return Err(ForwardedCertificateError::EnvoyElement),
        };
    }
    cert.ok_or(ForwardedCertificateError::EnvoyElement)
}

fn percent_decode(text: &str) -> Result<String, ForwardedCertificateError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(ForwardedCertificateError::BadEscape)?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ForwardedCertificateError::BadEscape)
}

/// The base64 body of one PEM certificate, or of bare base64 (Traefik), whitespace removed.
fn pem_body(text: &str) -> Result<String, ForwardedCertificateError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let body = match text.trim().strip_prefix(BEGIN) {
        Some(rest) => {
            let rest = rest.trim_end();
            let inner = rest.strip_suffix(END).ok_or(ForwardedCertificateError::NotPem)?;
            if inner.contains("-----") {
                return Err(ForwardedCertificateError::NotPem);
            }
            inner
        }
        None if text.contains("-----") => return Err(ForwardedCertificateError::NotPem),
        None => text,
    };
    Ok(body.chars().filter(|c| !c.is_ascii_whitespace()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x07];

    fn escaped_pem() -> String {
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            STANDARD.encode(DER)
        );
        url::form_urlencoded::byte_serialize(pem.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    }

    #[test]
    fn each_family_format_names_the_same_certificate() {
        let want = ClientCertificate::from_der(DER.to_vec());
        assert_eq!(
            ClientCertificate::from_forwarded(ProxyKind::Nginx, &escaped_pem()).unwrap(),
            want
        );
        let traefik: String = url::form_urlencoded::byte_serialize(STANDARD.encode(DER).as_bytes()).collect();
        assert_eq!(
            ClientCertificate::from_forwarded(ProxyKind::Traefik, &format!("{traefik},MIIBothercert")).unwrap(),
            want
        );
        let xfcc = format!(
            "By=spiffe://gw;Hash=abc;Cert=\"{}\";Subject=\"CN=a,O=b\"",
            escaped_pem()
        );
        assert_eq!(
            ClientCertificate::from_forwarded(ProxyKind::Envoy, &xfcc).unwrap(),
            want
        );
    }

    #[test]
    fn anything_else_is_refused_by_name() {
        use ForwardedCertificateError::*;
        let read = |p, v: &str| ClientCertificate::from_forwarded(p, v).unwrap_err();
        assert_eq!(read(ProxyKind::Nginx, "%zz"), BadEscape);
        assert_eq!(read(ProxyKind::Nginx, "-----BEGIN CERTIFICATE-----abc"), NotPem);
        assert_eq!(read(ProxyKind::Nginx, "not base64!"), NotBase64);
        assert_eq!(read(ProxyKind::Nginx, &STANDARD.encode(b"hello")), NotACertificate);
        assert_eq!(
            read(ProxyKind::Nginx, &"A".repeat(MAX_FORWARDED_CERTIFICATE_BYTES + 1)),
            TooLarge
        );
        let two = format!("{0}{0}", escaped_pem());
        assert_eq!(read(ProxyKind::Nginx, &two), NotPem);
        assert_eq!(read(ProxyKind::Envoy, "Hash=abc"), EnvoyElement);
        let pem = escaped_pem();
        assert_eq!(
            read(ProxyKind::Envoy, &format!("Cert=\"{pem}\",Cert=\"{pem}\"")),
            EnvoyElement,
            "a second proxy's element"
        );
        assert_eq!(
            read(ProxyKind::Envoy, &format!("Cert=\"{pem}\";Cert=\"{pem}\"")),
            EnvoyElement
        );
    }

    #[test]
    fn debug_shows_the_thumbprint_only() {
        let cert = ClientCertificate::from_der(DER.to_vec());
        let shown = format!("{cert:?}");
        assert!(shown.contains(cert.thumbprint()));
        assert!(!shown.contains("der"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 256, failure_persistence: None, ..Default::default() })]
        /// Any header value is a certificate or a typed refusal, for every family.
        #[test]
        fn any_header_value_is_a_typed_answer(value in "\\PC{0,200}") {
            for proxy in [ProxyKind::Nginx, ProxyKind::Traefik, ProxyKind::Envoy] {
                let _ = ClientCertificate::from_forwarded(proxy, &value);
            }
        }
    }
}
