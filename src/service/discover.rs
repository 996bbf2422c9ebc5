//! Proposing a key manager from a provider's well-known document (WSO2's "import from well-known URL"): the issuer
//! or its metadata URL in, the settings of an `oidc` key manager and what the provider supports out.

use serde_json::{Map, Value};

use crate::http::{HttpClient, HttpPolicy};
use crate::oauth::discovery::{discover, ServerMetadata};
use crate::{Error, Result};

/// The proposal.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The metadata found.
    pub metadata: ServerMetadata,
    /// The `oidc` connector's settings for it.
    pub settings: Map<String, Value>,
}

/// The issuer a URL names: the URL itself, or the issuer of a well-known metadata URL (OpenID Discovery §4,
/// RFC 8414 §3.1).
pub(crate) fn issuer_of(url: &str) -> Result<String> {
    let parsed = crate::descriptor::check_endpoint_url(url, false).map_err(|m| Error::invalid_field("url", m))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::invalid_field("url", "an issuer has no query or fragment"));
    }
    let origin = parsed.origin().ascii_serialization();
    let path = parsed.path();
    let issuer = if let Some(before) = path.strip_suffix("/.well-known/openid-configuration") {
        format!("{origin}{before}")
    } else if let Some(after) = path.strip_prefix("/.well-known/oauth-authorization-server") {
        format!("{origin}{after}")
    } else {
        format!("{origin}{}", path.trim_end_matches('/'))
    };
    Ok(issuer)
}

/// Read the provider's metadata and propose an `oidc` key manager for it; the fetch passes `egress` (the URL is
/// the caller's say).
pub async fn propose(url: &str, egress: crate::egress::Egress) -> Result<Proposal> {
    let issuer = issuer_of(url)?;
    let http = HttpClient::guarded(
        HttpPolicy {
            request_timeout: std::time::Duration::from_secs(10),
            max_retries: 0,
            ..HttpPolicy::default()
        },
        egress,
    )?
    .with_metrics_label("discovery");
    let metadata = discover(&http, &issuer).await?;
    let mut settings = Map::new();
    settings.insert("issuer".into(), metadata.issuer.clone().into());
    for (name, value) in [
        ("token_endpoint", &metadata.token_endpoint),
        ("registration_endpoint", &metadata.registration_endpoint),
        ("introspection_endpoint", &metadata.introspection_endpoint),
        ("revocation_endpoint", &metadata.revocation_endpoint),
        ("jwks_uri", &metadata.jwks_uri),
    ] {
        if let Some(v) = value {
            settings.insert(name.into(), v.clone().into());
        }
    }
    Ok(Proposal { metadata, settings })
}

/// The proposal as a `[[key_manager]]` table, `name` and the secrets left for the operator.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) fn as_toml(p: &Proposal) -> String {
    let mut out = table("oidc", &p.settings);
    out.push_str(
        "# initial_access_token = \"${INITIAL_ACCESS_TOKEN}\"   # for RFC 7591 registration, where required\n",
    );
    out.push_str("# introspection_client_id = \"…\"\n# introspection_client_secret = \"${INTROSPECTION_SECRET}\"\n");
    out
}

/// A connector's own proposal as a `[[key_manager]]` table: its settings, then each required one left to the
/// operator as a commented line.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) fn as_toml_for(kind: &str, settings: &Map<String, Value>, missing: &[String]) -> String {
    let mut out = table(kind, settings);
    for name in missing {
        out.push_str(&format!("# {name} = \"…\"   # required\n"));
    }
    out
}

fn table(kind: &str, settings: &Map<String, Value>) -> String {
    let mut out = format!(
        "[[key_manager]]\nname = \"CHANGE-ME\"\ntype = {}\n",
        Value::String(kind.to_owned())
    );
    for (k, v) in settings {
        if let Some(text) = v.as_str() {
            out.push_str(&format!("{k} = {}\n", Value::String(text.to_owned())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_are_read_from_well_known_urls() {
        for (url, issuer) in [
            ("https://idp.example.com", "https://idp.example.com"),
            (
                "https://idp.example.com/realms/acme/",
                "https://idp.example.com/realms/acme",
            ),
            (
                "https://idp.example.com/realms/acme/.well-known/openid-configuration",
                "https://idp.example.com/realms/acme",
            ),
            (
                "https://idp.example.com/.well-known/oauth-authorization-server/oauth2/default",
                "https://idp.example.com/oauth2/default",
            ),
            (
                "http://127.0.0.1:8080/.well-known/openid-configuration",
                "http://127.0.0.1:8080",
            ),
        ] {
            assert_eq!(issuer_of(url).unwrap(), issuer, "{url}");
        }
        for bad in [
            "http://idp.example.com",
            "ftp://idp.example.com",
            "not a url",
            "https://idp.example.com/?x=1",
        ] {
            assert!(issuer_of(bad).is_err(), "{bad}");
        }
    }
}
