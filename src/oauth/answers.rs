//! What token and introspection endpoints answer, as the `oauth2` crate reads them, keeping what the core needs of
//! them: the ID token of an OpenID provider, and every introspection claim.

use oauth2::basic::BasicTokenType;
use oauth2::{ClientId, ExtraTokenFields, Scope, StandardTokenResponse, TokenIntrospectionResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The members of a token answer beyond RFC 6749 §5.1 that the core reads: an OpenID provider's `id_token`.
/// `Debug` hides the token.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct IdTokenField {
    /// OpenID Connect Core §3.1.3.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenField")
            .field("id_token", &self.id_token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// A token endpoint's answer (RFC 6749 §5.1).
pub type TokenAnswer = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// An introspection answer (RFC 7662 §2.2) with every claim kept as sent; the typed members `oauth2` asks for are
/// read from them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "Map<String, Value>", into = "Map<String, Value>")]
pub struct IntrospectionAnswer {
    /// Every member of the answer.
    pub claims: Map<String, Value>,
    scopes: Option<Vec<Scope>>,
    client_id: Option<ClientId>,
    aud: Option<Vec<String>>,
    token_type: Option<BasicTokenType>,
}

impl From<Map<String, Value>> for IntrospectionAnswer {
    fn from(claims: Map<String, Value>) -> Self {
        let text = |k: &str| claims.get(k).and_then(Value::as_str);
        IntrospectionAnswer {
            scopes: text("scope").map(|s| crate::model::scope_tokens(s).into_iter().map(Scope::new).collect()),
            client_id: text("client_id").map(|c| ClientId::new(c.to_owned())),
            aud: match claims.get("aud") {
                Some(Value::String(a)) => Some(vec![a.clone()]),
                Some(Value::Array(list)) => Some(list.iter().filter_map(Value::as_str).map(str::to_owned).collect()),
                _ => None,
            },
            token_type: text("token_type").and_then(|t| serde_json::from_value(Value::String(t.to_owned())).ok()),
            claims,
        }
    }
}

impl From<IntrospectionAnswer> for Map<String, Value> {
    fn from(a: IntrospectionAnswer) -> Self {
        a.claims
    }
}

fn time_of(claims: &Map<String, Value>, name: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(claims.get(name)?.as_i64()?, 0)
}

impl TokenIntrospectionResponse for IntrospectionAnswer {
    type TokenType = BasicTokenType;

    fn active(&self) -> bool {
        self.claims.get("active").and_then(Value::as_bool).unwrap_or(false)
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
    fn client_id(&self) -> Option<&ClientId> {
        self.client_id.as_ref()
    }
    fn username(&self) -> Option<&str> {
        self.claims.get("username").and_then(Value::as_str)
    }
    fn token_type(&self) -> Option<&BasicTokenType> {
        self.token_type.as_ref()
    }
    fn exp(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        time_of(&self.claims, "exp")
    }
    fn iat(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        time_of(&self.claims, "iat")
    }
    fn nbf(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        time_of(&self.claims, "nbf")
    }
    fn sub(&self) -> Option<&str> {
        self.claims.get("sub").and_then(Value::as_str)
    }
    fn aud(&self) -> Option<&Vec<String>> {
        self.aud.as_ref()
    }
    fn iss(&self) -> Option<&str> {
        self.claims.get("iss").and_then(Value::as_str)
    }
    fn jti(&self) -> Option<&str> {
        self.claims.get("jti").and_then(Value::as_str)
    }
}

/// A token to revoke with the hint the caller gave, or none (RFC 7009 §2.1: the hint is optional). `Debug` hides the
/// token.
#[derive(Clone, Serialize, Deserialize)]
pub struct HintedToken {
    /// The token.
    pub token: String,
    /// `token_type_hint`, when given.
    pub hint: Option<String>,
}

impl std::fmt::Debug for HintedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HintedToken")
            .field("token", &"[REDACTED]")
            .field("hint", &self.hint)
            .finish()
    }
}

impl oauth2::RevocableToken for HintedToken {
    fn secret(&self) -> &str {
        &self.token
    }
    fn type_hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_tokens() {
        let hinted = HintedToken {
            token: "tok-secret-value".into(),
            hint: Some("access_token".into()),
        };
        let id = IdTokenField {
            id_token: Some("id.token.value".into()),
        };
        let shown = format!("{hinted:?} {id:?}");
        assert!(
            !shown.contains("tok-secret-value") && !shown.contains("id.token.value"),
            "{shown}"
        );
        assert!(shown.contains("access_token"), "{shown}");
    }
}
