//! Introspection (RFC 7662) and revocation (RFC 7009) of this server's tokens.

use super::*;

impl ResidentServer {
    /// The header and claims of a JWT this server signed (with any of its keys), whatever its expiry; `None` for
    /// anything else.
    pub async fn verify_own_jwt(&self, token: &str) -> Result<Option<(Value, serde_json::Map<String, Value>)>> {
        let Some(jwt) = parse_jwt(token) else {
            return Ok(None);
        };
        let Some(kid) = jwt.header.get("kid").and_then(Value::as_str) else {
            return Ok(None);
        };
        let Some(key) = self.keys.find(kid).await? else {
            return Ok(None);
        };
        if jwt.header.get("alg").and_then(Value::as_str) != Some(key.alg().as_str())
            || !key.verify(jwt.signing_input.as_bytes(), &jwt.signature)
        {
            return Ok(None);
        }
        match jwt.claims {
            Value::Object(claims) => Ok(Some((jwt.header, claims))),
            _ => Ok(None),
        }
    }

    /// The facts of an active token, or `None` when it is unknown, expired, revoked, or its client is gone.
    pub async fn active_token(&self, token: &str) -> Result<Option<ActiveToken>> {
        let at = self.store.now();
        let (claims, client_id, secret_id, grant_id, jti, iat) = if token.contains('.') {
            // A JWT (this server's opaque tokens are base64url, without dots).
            let Some((_, claims)) = self.verify_own_jwt(token).await? else {
                return Ok(None);
            };
            let num = |k: &str| claims.get(k).and_then(Value::as_i64);
            let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
            if text("iss").as_deref() != Some(self.settings.issuer.as_str()) || num("exp").is_none_or(|e| e <= at) {
                return Ok(None);
            }
            let (Some(client_id), Some(jti), Some(iat)) = (text("client_id"), text("jti"), num("iat")) else {
                return Ok(None);
            };
            let secret_id = text("secret_id");
            let grant_id = text("grant_id");
            (claims, client_id, secret_id, grant_id, jti, iat)
        } else {
            let Some(t) = self.store.get_token(&crypto::hash(token)).await? else {
                return Ok(None);
            };
            if t.expires_at <= at {
                return Ok(None);
            }
            let mut claims = json!({
                "iss": self.settings.issuer, "sub": t.subject, "aud": t.audience, "exp": t.expires_at,
                "iat": t.issued_at, "nbf": t.issued_at, "jti": t.jti, "client_id": t.client_id, "scope": t.scope,
            });
            if let (Some(g), Some(obj)) = (&t.grant_id, claims.as_object_mut()) {
                obj.insert("grant_id".into(), g.clone().into());
            }
            let Value::Object(claims) = claims else { return Ok(None) };
            (claims, t.client_id, t.secret_id, t.grant_id, t.jti, t.issued_at)
        };
        if self
            .store
            .is_revoked(&jti, &client_id, secret_id.as_deref(), grant_id.as_deref(), iat)
            .await?
            || !self.store.client_exists(&client_id).await?
        {
            return Ok(None);
        }
        Ok(Some(ActiveToken { client_id, claims }))
    }

    /// RFC 7662 answer for a token, for a caller allowed to see it.
    pub async fn introspect(&self, token: &str) -> Result<TokenInfo> {
        Ok(match self.active_token(token).await? {
            Some(active) => introspection_answer(active.claims),
            None => TokenInfo::inactive(),
        })
    }

    /// Revoke a token held by `client_id` (RFC 7009 §2.1). An unknown, expired or already revoked token is not
    /// an error; a token of another client is refused.
    pub async fn revoke(&self, client_id: &str, token: &str) -> Result<()> {
        let Some(active) = self.active_token(token).await? else {
            return Ok(());
        };
        if active.client_id != client_id {
            return Err(Error::invalid_field("token", "the token was not issued to this client"));
        }
        let jti = active
            .claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let exp = active
            .claims
            .get("exp")
            .and_then(Value::as_i64)
            .unwrap_or_else(|| self.store.now());
        self.store.revoke(&Revoked::Jti { jti, expires_at: exp }).await?;
        tracing::info!(client_id, "revoked a token");
        Ok(())
    }
}

/// The introspection answer: every claim, plus `active` and `token_type`, without our internal `secret_id`.
pub fn introspection_answer(mut claims: serde_json::Map<String, Value>) -> TokenInfo {
    claims.remove("secret_id");
    claims.insert("active".into(), true.into());
    claims.insert("token_type".into(), "Bearer".into());
    TokenInfo::from_claims(claims)
}
