//! Mutual-TLS client authentication (RFC 8705 §2): which certificate a client registered, and whether the
//! certificate a request came with is it.
//!
//! - `tls_client_auth` (§2.1): the certificate chains to an authority the server trusts (`[server] tls_client_ca`,
//!   checked by the TLS terminator: [`ClientCertificate::chain_trusted`]) and holds the one attribute the client
//!   registered: its subject DN (RFC 4514 text, compared attribute by attribute, values without regard to case) or a
//!   SAN entry (`dNSName`, `uniformResourceIdentifier`, `iPAddress`, `rfc822Name`, compared exactly; DNS names and
//!   e-mail domains without regard to case).
//! - `self_signed_tls_client_auth` (§2.2): the certificate is, byte for byte, one the client registered in its
//!   `jwks` (a key's `x5c`, its first entry). Its chain is not looked at.
//!
//! ```
//! use keymanager_resident::client_certificate::parse_dn;
//! assert_eq!(
//!     parse_dn("CN=orders app,O=Example\\, Inc.,C=SE").unwrap(),
//!     vec![("2.5.4.3".to_owned(), "orders app".to_owned()),
//!          ("2.5.4.10".to_owned(), "Example, Inc.".to_owned()),
//!          ("2.5.4.6".to_owned(), "SE".to_owned())]
//! );
//! assert!(parse_dn("CN=a,nonsense").is_err());
//! assert!(parse_dn("XX=a").is_err());
//! ```

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keymanager::connector_kit::mtls::ClientCertificate;
use serde_json::Value;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The attribute types a registered subject DN may name (RFC 4514 §3), with their object identifiers.
const ATTRIBUTE_TYPES: [(&str, &str); 9] = [
    ("CN", "2.5.4.3"),
    ("C", "2.5.4.6"),
    ("L", "2.5.4.7"),
    ("ST", "2.5.4.8"),
    ("STREET", "2.5.4.9"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("DC", "0.9.2342.19200300.100.1.25"),
    ("UID", "0.9.2342.19200300.100.1.1"),
];

/// Check a registered `tls_client_auth_*` value (RFC 8705 §2.1.2) by its member name.
pub fn check_registered(name: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.len() > 1024 {
        return Err("must be 1 to 1024 characters".into());
    }
    match name {
        "tls_client_auth_subject_dn" => parse_dn(value).map(|_| ()),
        "tls_client_auth_san_ip" => value
            .parse::<std::net::IpAddr>()
            .map(|_| ())
            .map_err(|_| "is not an IPv4 or IPv6 address".into()),
        "tls_client_auth_san_uri" => url::Url::parse(value)
            .map(|_| ())
            .map_err(|e| format!("is not an absolute URI: {e}")),
        "tls_client_auth_san_email" if !value.contains('@') => Err("is not an e-mail address".into()),
        _ => Ok(()),
    }
}

/// Read an RFC 4514 distinguished name into `(object identifier, value)` pairs, in the text's order (the most
/// specific first). Multi-valued RDNs (`+`) and hex-encoded values (`#…`) are refused: a client names itself with
/// plain attributes.
pub fn parse_dn(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for rdn in split_unescaped(text, b',')? {
        if split_unescaped(&rdn, b'+')?.len() != 1 {
            return Err("multi-valued RDNs (`+`) are not supported".into());
        }
        let (ty, value) = rdn
            .split_once('=')
            .ok_or_else(|| format!("`{rdn}` is not TYPE=value"))?;
        let ty = ty.trim();
        let oid = match ATTRIBUTE_TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(ty)) {
            Some((_, oid)) => (*oid).to_owned(),
            None if !ty.is_empty()
                && ty
                    .split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) =>
            {
                ty.to_owned()
            }
            None => {
                return Err(format!(
                    "`{ty}` is not an attribute type of RFC 4514 or an object identifier"
                ))
            }
        };
        let value = value.trim();
        if value.starts_with('#') {
            return Err("hex-encoded values (`#…`) are not supported".into());
        }
        out.push((oid, unescape(value)?));
    }
    if out.is_empty() {
        return Err("is empty".into());
    }
    Ok(out)
}

/// Split on `sep` where it is not escaped with `\`; the escapes are kept for [`unescape`].
fn split_unescaped(text: &str, sep: u8) -> Result<Vec<String>, String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let last = parts.last_mut().ok_or("empty")?;
        if c == '\\' {
            let next = chars.next().ok_or("ends in a lone `\\`")?;
            last.push(c);
            last.push(next);
        } else if c.is_ascii() && c as u8 == sep {
            parts.push(String::new());
        } else {
            last.push(c);
        }
    }
    if parts.iter().any(|p| p.trim().is_empty()) {
        return Err("has an empty RDN".into());
    }
    Ok(parts)
}

/// RFC 4514 §3 escapes: `\` and a special character, or `\` and two hex digits (a UTF-8 byte).
fn unescape(value: &str) -> Result<String, String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut it = value.bytes().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        let first = it.next().ok_or("ends in a lone `\\`")?;
        match (first as char).to_digit(16) {
            Some(high) if it.peek().is_some_and(|n| n.is_ascii_hexdigit()) => {
                let low = it
                    .next()
                    .and_then(|n| (n as char).to_digit(16))
                    .ok_or("bad hex escape")?;
                bytes.push(u8::try_from(high * 16 + low).map_err(|_| "bad hex escape")?);
            }
            _ => bytes.push(first),
        }
    }
    String::from_utf8(bytes).map_err(|_| "an escape makes no UTF-8 text".into())
}

/// The keys of a JWK Set document (`{"keys": [...]}`); none for anything else.
pub fn keys_of(jwks: &Value) -> &[Value] {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The DER certificates among JWKs (each key's first `x5c` entry, standard base64): what a
/// `self_signed_tls_client_auth` client registers, in its `jwks` or at its `jwks_uri` (RFC 8705 §2.2.2).
pub fn registered_certificates(keys: &[Value]) -> Vec<Vec<u8>> {
    keys.iter()
        .filter_map(|k| k.get("x5c")?.as_array()?.first()?.as_str())
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect()
}

/// Whether `cert` is one of the certificates registered among `keys` (`self_signed_tls_client_auth`).
pub fn is_registered(keys: &[Value], cert: &ClientCertificate) -> bool {
    registered_certificates(keys)
        .iter()
        .any(|der| der.as_slice() == cert.der())
}

/// Whether `cert`'s chain leads to a configured authority and it holds the attribute a `tls_client_auth` client
/// registered: `name` is the member (`tls_client_auth_san_dns`, …), `wanted` its value.
pub fn names_client(name: &str, wanted: &str, cert: &ClientCertificate) -> bool {
    if !cert.chain_trusted() {
        return false;
    }
    let Ok((_, cert)) = X509Certificate::from_der(cert.der()) else {
        return false;
    };
    if name == "tls_client_auth_subject_dn" {
        return subject_matches(&cert, wanted);
    }
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false;
    };
    san.value.general_names.iter().any(|g| match (name, g) {
        ("tls_client_auth_san_dns", GeneralName::DNSName(d)) => d.eq_ignore_ascii_case(wanted),
        ("tls_client_auth_san_uri", GeneralName::URI(u)) => *u == wanted,
        ("tls_client_auth_san_email", GeneralName::RFC822Name(e)) => email_eq(e, wanted),
        ("tls_client_auth_san_ip", GeneralName::IPAddress(bytes)) => ip_of(bytes) == wanted.parse().ok(),
        _ => false,
    })
}

fn ip_of(bytes: &[u8]) -> Option<std::net::IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(std::net::IpAddr::from),
        _ => None,
    }
}

/// The local part exactly, the domain without regard to case.
fn email_eq(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => false,
    }
}

/// The certificate's subject, read most specific first as RFC 4514 writes it, equals the registered DN.
fn subject_matches(cert: &X509Certificate<'_>, wanted: &str) -> bool {
    let Ok(wanted) = parse_dn(wanted) else {
        return false;
    };
    let mut held = Vec::new();
    for rdn in cert.subject().iter() {
        let mut attrs = rdn.iter();
        let (Some(attr), None) = (attrs.next(), attrs.next()) else {
            return false;
        };
        let Ok(value) = attr.as_str() else {
            return false;
        };
        held.push((attr.attr_type().to_id_string(), value.to_owned()));
    }
    held.reverse();
    held.len() == wanted.len()
        && held
            .iter()
            .zip(&wanted)
            .all(|((ho, hv), (wo, wv))| ho == wo && normalize(hv) == normalize(wv))
}

/// caseIgnoreMatch, roughly: case folded, inner runs of spaces made one, ends trimmed.
fn normalize(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.trim().chars() {
        if !(c.is_whitespace() && out.ends_with(' ')) {
            out.extend(if c.is_whitespace() { ' ' } else { c }.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_checked_by_kind() {
        assert!(check_registered("tls_client_auth_san_ip", "10.0.0.1").is_ok());
        assert!(check_registered("tls_client_auth_san_ip", "::1").is_ok());
        assert!(check_registered("tls_client_auth_san_ip", "host").is_err());
        assert!(check_registered("tls_client_auth_san_uri", "spiffe://example.org/orders").is_ok());
        assert!(check_registered("tls_client_auth_san_uri", "not a uri").is_err());
        assert!(check_registered("tls_client_auth_san_email", "ops").is_err());
        assert!(check_registered("tls_client_auth_subject_dn", "CN=x,+O=y").is_err());
        assert!(check_registered("tls_client_auth_san_dns", " ").is_err());
    }

    #[test]
    fn dn_escapes_and_oids_read_as_rfc_4514_says() {
        assert_eq!(
            parse_dn("cn=a\\+b,2.5.4.10=Org\\2C Ltd").unwrap(),
            vec![
                ("2.5.4.3".to_owned(), "a+b".to_owned()),
                ("2.5.4.10".to_owned(), "Org, Ltd".to_owned())
            ]
        );
        assert!(parse_dn("CN=a+O=b").is_err(), "multi-valued");
        assert!(parse_dn("CN=#0403").is_err(), "hex value");
        assert!(parse_dn("CN=a,").is_err());
        assert!(parse_dn("CN=a\\").is_err());
    }

    #[test]
    fn dn_values_compare_without_case_or_extra_spaces() {
        assert_eq!(normalize("  Example,   Inc.\t "), "example, inc.");
        assert_ne!(normalize("Example Inc"), normalize("ExampleInc"));
    }

    #[test]
    fn emails_compare_domains_without_case() {
        assert!(email_eq("ops@Example.org", "ops@example.ORG"));
        assert!(!email_eq("Ops@example.org", "ops@example.org"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 256, failure_persistence: None, ..Default::default() })]
        /// Any text is a DN or a typed refusal.
        #[test]
        fn any_dn_text_is_a_typed_answer(text in "\\PC{0,80}") {
            let _ = parse_dn(&text);
        }
    }
}
