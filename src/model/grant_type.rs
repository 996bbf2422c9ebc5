//! OAuth 2.0 grant types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An OAuth 2.0 grant type, as its RFC spells it; any other string is kept as [`GrantType::Other`].
///
/// ```
/// use keymanager::model::GrantType;
/// let g: GrantType = "urn:ietf:params:oauth:grant-type:device_code".parse().unwrap();
/// assert_eq!(g, GrantType::DeviceCode);
/// assert_eq!(g.as_str(), "urn:ietf:params:oauth:grant-type:device_code");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
    /// `authorization_code` (RFC 6749 §4.1).
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
    /// `password` (RFC 6749 §4.3).
    Password,
    /// `implicit` (RFC 6749 §4.2).
    Implicit,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523).
    JwtBearer,
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628).
    DeviceCode,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693).
    TokenExchange,
    /// Any other grant type string.
    Other(String),
}

impl GrantType {
    /// The grant type as it goes on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::Password => "password",
            GrantType::Implicit => "implicit",
            GrantType::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            GrantType::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
            GrantType::Other(s) => s,
        }
    }

    /// Whether this grant sends the user agent through a redirect URI.
    pub fn needs_redirect_uri(&self) -> bool {
        matches!(self, GrantType::AuthorizationCode | GrantType::Implicit)
    }
}

impl FromStr for GrantType {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "client_credentials" => GrantType::ClientCredentials,
            "authorization_code" => GrantType::AuthorizationCode,
            "refresh_token" => GrantType::RefreshToken,
            "password" => GrantType::Password,
            "implicit" => GrantType::Implicit,
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => GrantType::JwtBearer,
            "urn:ietf:params:oauth:grant-type:device_code" => GrantType::DeviceCode,
            "urn:ietf:params:oauth:grant-type:token-exchange" => GrantType::TokenExchange,
            other => GrantType::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GrantType({})", self.as_str())
    }
}

impl Serialize for GrantType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for GrantType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(s.parse().unwrap_or(GrantType::Other(s)))
    }
}

/// In the OpenAPI document: a string, one of the grant types this crate names or any other (kept as sent).
#[cfg(feature = "server")]
impl utoipa::PartialSchema for GrantType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .description(Some(
                "An OAuth 2.0 grant type (RFC 6749 §4, RFC 8628, RFC 7523, RFC 8693), as registered.",
            ))
            .examples([serde_json::json!(GrantType::ClientCredentials.as_str())])
            .into()
    }
}

#[cfg(feature = "server")]
impl utoipa::ToSchema for GrantType {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_and_other_strings() {
        for s in [
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "password",
            "implicit",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:example:custom",
        ] {
            let g: GrantType = serde_json::from_value(serde_json::json!(s)).unwrap();
            assert_eq!(serde_json::to_value(&g).unwrap(), serde_json::json!(s));
        }
        assert_eq!(
            "urn:example:custom".parse::<GrantType>().unwrap(),
            GrantType::Other("urn:example:custom".into())
        );
    }
}
