//! Authorization server metadata: OpenID discovery, falling back to RFC 8414.

use keymanager::http::{HttpClient, Idempotency};
use keymanager::{Error, Result};
use serde::Deserialize;

/// The metadata fields the connector uses (RFC 8414 §2; others are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    /// Issuer; must equal the configured one (RFC 8414 §3.3).
    pub issuer: String,
    /// Token endpoint.
    pub token_endpoint: Option<String>,
    /// JWKS.
    pub jwks_uri: Option<String>,
    /// RFC 7591 registration endpoint.
    pub registration_endpoint: Option<String>,
    /// RFC 7662.
    pub introspection_endpoint: Option<String>,
    /// RFC 7009.
    pub revocation_endpoint: Option<String>,
    /// Grant types.
    #[serde(default)]
    pub grant_types_supported: Option<Vec<String>>,
    /// PKCE methods.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Token endpoint auth methods.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// The well-known URLs to try, in order: OpenID (`{issuer}/.well-known/openid-configuration`), then RFC 8414
/// (`{origin}/.well-known/oauth-authorization-server{path}`).
pub fn well_known_urls(issuer: &str) -> Result<Vec<String>> {
    let url = url::Url::parse(issuer).map_err(|e| Error::invalid_field("issuer", format!("not a URL: {e}")))?;
    let path = url.path().trim_end_matches('/');
    let origin = url.origin().ascii_serialization();
    Ok(vec![
        format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')),
        format!("{origin}/.well-known/oauth-authorization-server{path}"),
    ])
}

/// Fetch the metadata and check its issuer.
pub async fn discover(http: &HttpClient, issuer: &str) -> Result<Metadata> {
    let mut last = None;
    for url in well_known_urls(issuer)? {
        match http.send_ok(http.get(&url), Idempotency::Idempotent).await {
            Ok(resp) => {
                let meta: Metadata = resp.json()?;
                if meta.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
                    return Err(Error::malformed(
                        url,
                        "issuer",
                        format!(
                            "the metadata names issuer `{}`, not `{issuer}` (RFC 8414 §3.3)",
                            meta.issuer
                        ),
                    ));
                }
                return Ok(meta);
            }
            Err(e @ Error::NotFound { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::not_found("authorization server metadata", issuer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_follow_openid_and_rfc8414() {
        assert_eq!(
            well_known_urls("https://idp.example.com/realms/acme").unwrap(),
            [
                "https://idp.example.com/realms/acme/.well-known/openid-configuration",
                "https://idp.example.com/.well-known/oauth-authorization-server/realms/acme"
            ]
        );
        assert_eq!(
            well_known_urls("https://idp.example.com").unwrap()[1],
            "https://idp.example.com/.well-known/oauth-authorization-server"
        );
    }
}
