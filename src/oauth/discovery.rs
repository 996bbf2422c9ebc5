//! Authorization server metadata, found by its issuer: OpenID Connect Discovery 1.0 read with `openidconnect`'s
//! provider metadata types (which check every member OpenID requires, and that its URLs are URLs), else RFC 8414 for
//! plain OAuth servers, whose documents lack members OpenID requires. Either way the document must name the issuer
//! it was asked for (OpenID Discovery §4.3, RFC 8414 §3.3).

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use serde::{Deserialize, Serialize};

use crate::http::{HttpClient, Idempotency};
use crate::{Error, Result};

/// The members beyond OpenID Discovery's own that this project reads or serves: RFC 8414 §2 (introspection,
/// revocation, PKCE methods) and RP-Initiated Logout 1.0 §2.1 (`end_session_endpoint`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtraMetadata {
    /// RFC 7662.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// RFC 7009.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// RFC 7636.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RP-Initiated Logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
    /// RFC 9207: the authorization response carries `iss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// Core §3.1.2.1 `prompt` values (OpenID Connect Prompt Create §4.2 names the member).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_values_supported: Option<Vec<String>>,
    /// RFC 8414 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 8414 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 8414 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 8414 §2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 9126 §5: where clients push authorization requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 9126 §5: whether every authorization request must be pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 §5.1: the algorithms DPoP proofs may be signed with (the server binds tokens to keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 8705 §3.3: the server binds access tokens to clients' TLS certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_certificate_bound_access_tokens: Option<bool>,
}

impl openidconnect::AdditionalProviderMetadata for ExtraMetadata {}

/// An OpenID provider's metadata, as `openidconnect` types it, with [`ExtraMetadata`].
pub type OpenIdMetadata = openidconnect::ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// What this project reads of a server's metadata, from either document.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ServerMetadata {
    /// Issuer, equal to the one asked for.
    pub issuer: String,
    /// RFC 6749 authorization endpoint.
    pub authorization_endpoint: Option<String>,
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
    /// OpenID Connect UserInfo.
    pub userinfo_endpoint: Option<String>,
    /// RP-Initiated Logout.
    pub end_session_endpoint: Option<String>,
    /// RFC 9126: where authorization requests are pushed.
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 9126: whether every authorization request must be pushed.
    #[serde(default)]
    pub require_pushed_authorization_requests: Option<bool>,
    /// Grant types.
    #[serde(default)]
    pub grant_types_supported: Option<Vec<String>>,
    /// PKCE methods.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Token endpoint auth methods.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Whether the document is a complete OpenID provider's (then ID tokens can be verified against it).
    #[serde(skip)]
    pub openid: bool,
}

impl From<&OpenIdMetadata> for ServerMetadata {
    fn from(m: &OpenIdMetadata) -> Self {
        let extra = m.additional_metadata();
        ServerMetadata {
            issuer: m.issuer().to_string(),
            authorization_endpoint: Some(m.authorization_endpoint().to_string()),
            token_endpoint: m.token_endpoint().map(|u| u.to_string()),
            jwks_uri: Some(m.jwks_uri().to_string()),
            registration_endpoint: m.registration_endpoint().map(|u| u.to_string()),
            introspection_endpoint: extra.introspection_endpoint.clone(),
            revocation_endpoint: extra.revocation_endpoint.clone(),
            userinfo_endpoint: m.userinfo_endpoint().map(|u| u.to_string()),
            end_session_endpoint: extra.end_session_endpoint.clone(),
            pushed_authorization_request_endpoint: extra.pushed_authorization_request_endpoint.clone(),
            require_pushed_authorization_requests: extra.require_pushed_authorization_requests,
            grant_types_supported: m
                .grant_types_supported()
                .map(|g| g.iter().map(|g| g.as_ref().to_owned()).collect()),
            code_challenge_methods_supported: extra.code_challenge_methods_supported.clone(),
            token_endpoint_auth_methods_supported: m
                .token_endpoint_auth_methods_supported()
                .map(|l| l.iter().map(|a| a.as_ref().to_owned()).collect()),
            openid: true,
        }
    }
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

fn check_issuer(meta: ServerMetadata, issuer: &str, url: &str) -> Result<ServerMetadata> {
    if meta.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err(Error::malformed(
            url.to_owned(),
            "issuer",
            format!(
                "the metadata names issuer `{}`, not `{issuer}` (RFC 8414 §3.3)",
                meta.issuer
            ),
        ));
    }
    Ok(meta)
}

/// Fetch the metadata of `issuer` and check it names that issuer.
pub async fn discover(http: &HttpClient, issuer: &str) -> Result<ServerMetadata> {
    let mut last = None;
    for (i, url) in well_known_urls(issuer)?.into_iter().enumerate() {
        let resp = match http.send_ok(http.get(&url), Idempotency::Idempotent).await {
            Ok(resp) => resp,
            Err(e @ Error::NotFound { .. }) => {
                last = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        if i == 0 {
            match resp.json::<OpenIdMetadata>() {
                Ok(openid) => return check_issuer(ServerMetadata::from(&openid), issuer, &url),
                Err(why) => {
                    // Not a complete OpenID provider's document: read it for the OAuth members it has.
                    tracing::debug!(error = %why, %url, "the OpenID discovery document is read as RFC 8414 metadata");
                }
            }
        }
        return check_issuer(resp.json::<ServerMetadata>()?, issuer, &url);
    }
    Err(last.unwrap_or_else(|| Error::not_found("authorization server metadata", issuer)))
}

/// An OpenID provider's metadata with its signing keys, for verifying its ID tokens (OpenID Connect Core §3.1.3.7):
/// the document at `{issuer}/.well-known/openid-configuration`, which must be a complete provider's and name
/// `issuer`, and the JWKS at its `jwks_uri`.
pub async fn discover_openid(http: &HttpClient, issuer: &str) -> Result<OpenIdMetadata> {
    let url = well_known_urls(issuer)?.swap_remove(0);
    let meta: OpenIdMetadata = http.send_ok(http.get(&url), Idempotency::Idempotent).await?.json()?;
    check_issuer(ServerMetadata::from(&meta), issuer, &url)?;
    let kit = super::KitClient::new(http, Idempotency::Idempotent);
    let jwks = openidconnect::JsonWebKeySet::fetch_async(meta.jwks_uri(), &kit)
        .await
        .map_err(|e| match e {
            openidconnect::DiscoveryError::Request(e) => e,
            other => Error::malformed(meta.jwks_uri().to_string(), ".", other.to_string()),
        })?;
    Ok(meta.set_jwks(jwks))
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
