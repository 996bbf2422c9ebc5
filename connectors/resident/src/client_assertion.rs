//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9): the client signs a short
//! JWT with its own key (registered as `jwks`, or published at `jwks_uri`) instead of sending a secret.
//!
//! Checked: the signature by one of the client's keys (ES256, RS256, EdDSA or its RFC 9864 name Ed25519, the algorithm
//! fixed by the key's type);
//! `iss` and `sub` both the client id; `aud` this server's issuer, its token endpoint or the endpoint called; `exp`
//! present and not past (60 s leeway), at most [`MAX_ASSERTION_LIFETIME`] ahead; `nbf` and `iat` not in the future;
//! `jti` present and accepted once per client until the assertion expires, on every node sharing the store.

use std::sync::Arc;

use keymanager::connector_kit::{Error, Result};
use serde_json::Value;

use crate::client_metadata::ClientMetadata;
use crate::server::{AuthenticatedClient, ResidentServer};
use crate::signing::parse_jwt;

/// The `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The furthest ahead an assertion's `exp` may be (seconds): it bounds how long its `jti` is kept.
pub const MAX_ASSERTION_LIFETIME: i64 = 3600;

/// The refusal of an assertion no key of the client verifies, or of a client that does not exist: the same words,
/// so the answer does not tell which client ids exist.
const BAD_SIGNATURE: &str = "the client assertion's signature does not verify with the client's keys";

/// Clock skew allowed on `exp`, `nbf` and `iat` (seconds).
const LEEWAY: i64 = 60;

fn refused(why: &str) -> Error {
    tracing::debug!(why, "a client assertion was refused");
    Error::unauthorized(format!("client authentication failed: {why}"))
}

impl ResidentServer {
    /// Authenticate a client by a JWT assertion (`private_key_jwt`) sent to `endpoint` (the URL called).
    /// `client_id` is the form's `client_id`, when it carried one (it must then be the assertion's `sub`).
    pub async fn authenticate_assertion(
        &self,
        client_id: Option<&str>,
        assertion: &str,
        endpoint: &str,
    ) -> Result<AuthenticatedClient> {
        let jwt = parse_jwt(assertion).ok_or_else(|| refused("the client assertion is not a JWT"))?;
        let text = |k: &str| jwt.claims.get(k).and_then(Value::as_str);
        let (Some(iss), Some(sub)) = (text("iss"), text("sub")) else {
            return Err(refused("the client assertion needs iss and sub"));
        };
        if iss != sub || client_id.is_some_and(|c| c != sub) {
            return Err(refused("iss and sub must both be the client id"));
        }
        let entry = self.cached_client(sub).await?.ok_or_else(|| refused(BAD_SIGNATURE))?;
        let meta = ClientMetadata::of_record(&entry.client.additional_properties)?;
        if !meta.uses_private_key_jwt() {
            return Err(refused("this client does not authenticate with private_key_jwt"));
        }
        let alg = jwt.header.get("alg").and_then(Value::as_str).unwrap_or_default();
        let kid = jwt.header.get("kid").and_then(Value::as_str);
        let keys = match (&meta.jwks, &meta.jwks_uri) {
            (Some(doc), _) => Arc::new(doc.get("keys").and_then(Value::as_array).cloned().unwrap_or_default()),
            (None, Some(uri)) => self
                .client_keys
                .at(uri, kid, self.store.clock().instant())
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, client_id = sub, "cannot read a client's jwks_uri");
                    refused("the client's jwks_uri cannot be read")
                })?,
            (None, None) => return Err(refused("the client has no keys")),
        };
        let verified = keys
            .iter()
            .filter(|k| kid.is_none_or(|want| k.get("kid").and_then(Value::as_str) == Some(want)))
            .filter_map(keymanager::connector_kit::jwk_public_key)
            .any(|(key_alg, key)| {
                // RFC 9864 names Ed25519 signatures `Ed25519`; earlier clients say `EdDSA`.
                (key_alg == alg || (key_alg == "EdDSA" && alg == "Ed25519"))
                    && key.verify_sig(jwt.signing_input.as_bytes(), &jwt.signature).is_ok()
            });
        if !verified {
            return Err(refused(BAD_SIGNATURE));
        }
        let issuer = &self.settings.issuer;
        let token_endpoint = format!("{issuer}/oauth2/token");
        let audience_ok = |a: &str| a == issuer || a == token_endpoint || a == endpoint;
        let aud_ok = match jwt.claims.get("aud") {
            Some(Value::String(a)) => audience_ok(a),
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(audience_ok),
            _ => false,
        };
        if !aud_ok {
            return Err(refused(
                "the client assertion's aud must be this server's issuer or token endpoint",
            ));
        }
        let now = self.store.now();
        let num = |k: &str| jwt.claims.get(k).and_then(Value::as_i64);
        let exp = num("exp").ok_or_else(|| refused("the client assertion needs exp"))?;
        if exp.saturating_add(LEEWAY) <= now {
            return Err(refused("the client assertion has expired"));
        }
        if exp > now.saturating_add(MAX_ASSERTION_LIFETIME) {
            return Err(refused("the client assertion's exp is more than an hour ahead"));
        }
        for k in ["nbf", "iat"] {
            if num(k).is_some_and(|t| t > now.saturating_add(LEEWAY)) {
                return Err(refused("the client assertion is not valid yet"));
            }
        }
        let jti = text("jti")
            .filter(|j| !j.is_empty() && j.len() <= 255)
            .ok_or_else(|| refused("the client assertion needs a jti of 1 to 255 characters"))?;
        if !self
            .store
            .accept_assertion(sub, jti, exp.saturating_add(LEEWAY))
            .await?
        {
            tracing::warn!(client_id = sub, "a client assertion was replayed");
            return Err(refused("the client assertion was used before"));
        }
        Ok(AuthenticatedClient {
            client: entry.client.clone(),
            secret_id: None,
        })
    }
}
