//! The `WWW-Authenticate` challenge (RFC 7235 §4.1, RFC 6750 §3): one builder for every face that refuses a
//! caller (the management API, the gateway layer and forward auth, the resident's OAuth endpoints).
//!
//! ```
//! use keymanager::model::Challenge;
//! assert_eq!(Challenge::bearer().to_string(), r#"Bearer realm="keymanager""#);
//! assert_eq!(
//!     Challenge::bearer().error("insufficient_scope").scope("orders:read orders:write").to_string(),
//!     r#"Bearer realm="keymanager", error="insufficient_scope", scope="orders:read orders:write""#
//! );
//! assert_eq!(
//!     Challenge::bearer().error("invalid_token").description(r#"a "quoted" \ text"#).to_string(),
//!     r#"Bearer realm="keymanager", error="invalid_token", error_description="a 'quoted' ' text""#
//! );
//! assert_eq!(Challenge::basic().error("invalid_client").to_string(), r#"Basic realm="keymanager", error="invalid_client""#);
//! assert_eq!(
//!     Challenge::dpop().error("invalid_dpop_proof").to_string(),
//!     r#"DPoP realm="keymanager", error="invalid_dpop_proof", algs="ES256 RS256 EdDSA""#
//! );
//! ```

use std::fmt;

/// The realm every challenge names.
pub(super) const REALM: &str = "keymanager";

/// The JWS algorithms a DPoP proof may be signed with (RFC 9449 §5.1 `dpop_signing_alg_values_supported`, §7.1
/// `algs`): the one list the proof checker, the challenges and the discovery document name.
pub const DPOP_SIGNING_ALG_VALUES: [&str; 3] = ["ES256", "RS256", "EdDSA"];

/// A challenge: scheme, realm, and the RFC 6750 parameters that apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: &'static str,
    error: Option<String>,
    description: Option<String>,
    scope: Option<String>,
    algs: bool,
}

impl Challenge {
    /// `DPoP realm="keymanager", algs="ES256 RS256 EdDSA"` (RFC 9449 §7.1): the proof algorithms accepted.
    pub fn dpop() -> Self {
        Challenge {
            algs: true,
            ..Challenge::scheme("DPoP")
        }
    }

    /// `Bearer realm="keymanager"` (RFC 6750 §3).
    pub fn bearer() -> Self {
        Challenge::scheme("Bearer")
    }

    /// `Basic realm="keymanager"` (RFC 7617), for a client that failed to authenticate with its secret.
    pub fn basic() -> Self {
        Challenge::scheme("Basic")
    }

    /// A challenge of another scheme (say `DPoP`, RFC 9449 §7.1).
    pub fn scheme(scheme: &'static str) -> Self {
        Challenge {
            scheme,
            error: None,
            description: None,
            scope: None,
            algs: false,
        }
    }

    /// `error="…"` (RFC 6750 §3.1).
    pub fn error(mut self, code: &str) -> Self {
        self.error = Some(code.to_owned());
        self
    }

    /// `error_description="…"`, quotes and backslashes replaced so the header stays one quoted string.
    pub fn description(mut self, text: &str) -> Self {
        self.description = Some(text.to_owned());
        self
    }

    /// `scope="…"`: the scopes the resource needs.
    pub fn scope(mut self, scopes: &str) -> Self {
        self.scope = Some(scopes.to_owned());
        self
    }
}

/// A quoted-string's content: `"` and `\` become `'`, control characters are dropped.
fn quoted(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .collect()
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} realm=\"{REALM}\"", self.scheme)?;
        let algs = self.algs.then(|| DPOP_SIGNING_ALG_VALUES.join(" "));
        for (name, value) in [
            ("error", self.error.as_deref()),
            ("error_description", self.description.as_deref()),
            ("scope", self.scope.as_deref()),
            ("algs", algs.as_deref()),
        ] {
            if let Some(v) = value {
                write!(f, ", {name}=\"{}\"", quoted(v))?;
            }
        }
        Ok(())
    }
}
