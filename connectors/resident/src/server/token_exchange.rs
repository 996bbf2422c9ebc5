//! Token exchange (RFC 8693) at the resident: a resource server that received an access token of this server
//! exchanges it for one with a narrower audience and scope, to call the next service on the caller's behalf.
//!
//! The policy is the client's: it must be confidential and registered for the token-exchange grant; the audiences
//! it may ask for are listed in its `token_exchange_audiences` (none by default); the scopes are those of the token
//! exchanged that the client may itself hold. The new token keeps the subject (`sub`), names the client as the party
//! acting (`act`, with any earlier chain inside it), and expires no later than the token exchanged. Subject tokens
//! are this server's own, or access tokens of a key manager named in `token_exchange_trusted_key_managers`
//! (validated as a gateway validates them: signature, issuer, expiry, revocation); the new token then names the
//! subject token's issuer in `act`'s sibling claim `subject_issuer`.

use super::minting::{granted_scopes, Exchanged, Issued, Mint};
use super::*;
use keymanager::connector_kit::model::{ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE};

/// The token exchanged: its claims, and its issuer when it is another key manager's.
struct Subject {
    claims: serde_json::Map<String, Value>,
    issuer: Option<String>,
}

/// A token-exchange request's parameters.
struct Exchange<'a> {
    subject_token: &'a Token,
    subject_token_type: &'a str,
    actor_token: Option<(&'a Token, &'a str)>,
    audience: Option<&'a str>,
}

fn invalid_request(message: &str) -> Error {
    Error::invalid_grant("invalid_request", message)
}

impl ResidentServer {
    /// Exchange a token (RFC 8693 §2): `request.grant` is [`Grant::TokenExchange`].
    pub(crate) async fn exchange(&self, who: &AuthenticatedClient, request: &TokenRequest) -> Result<AccessToken> {
        let Grant::TokenExchange {
            subject_token,
            subject_token_type,
            actor_token,
            actor_token_type,
            audience,
        } = &request.grant
        else {
            return Err(invalid_request("not a token-exchange request"));
        };
        let x = Exchange {
            subject_token,
            subject_token_type,
            actor_token: actor_token.as_ref().zip(actor_token_type.as_deref()),
            audience: audience.as_deref(),
        };
        let client = &who.client;
        if client.public_client {
            return Err(unauthorized_client("a public client cannot exchange tokens"));
        }
        if !client.grant_types.contains(&GrantType::TokenExchange) {
            return Err(unauthorized_client("this client may not use the token-exchange grant"));
        }
        let readable = |t: &str| t == ACCESS_TOKEN_TYPE || t == JWT_TOKEN_TYPE;
        if !readable(x.subject_token_type) {
            return Err(invalid_request(
                "subject_token_type must be urn:ietf:params:oauth:token-type:access_token or …:jwt",
            ));
        }
        let subject = match self.active_token(x.subject_token.expose_secret()).await? {
            Some(own) => Subject {
                claims: own.claims,
                issuer: None,
            },
            None => self.trusted_subject(x.subject_token.expose_secret()).await?,
        };
        let text = |c: &serde_json::Map<String, Value>, k: &str| c.get(k).and_then(Value::as_str).map(str::to_owned);
        let sub = text(&subject.claims, "sub").ok_or_else(|| invalid_grant("the subject token names no subject"))?;
        let not_after = subject
            .claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid_grant("the subject token has no expiry"))?;
        // The party acting: the actor token's subject when one is given, else the client; the chain so far inside.
        let acting = match x.actor_token {
            Some((token, kind)) if readable(kind) => {
                let actor = self
                    .active_token(token.expose_secret())
                    .await?
                    .ok_or_else(|| invalid_grant("the actor token is not an active token of this server"))?;
                text(&actor.claims, "sub").ok_or_else(|| invalid_grant("the actor token names no subject"))?
            }
            Some(_) => return Err(invalid_request("actor_token_type is not one this server reads")),
            None => client.client_id.clone(),
        };
        let mut act = json!({ "sub": acting });
        if let (Some(obj), Some(earlier)) = (act.as_object_mut(), subject.claims.get("act")) {
            obj.insert("act".into(), earlier.clone());
        }
        if let (Some(obj), Some(issuer)) = (act.as_object_mut(), &subject.issuer) {
            // Whose subject this is, when not ours: `sub` alone would name a user of another issuer.
            obj.insert("subject_issuer".into(), issuer.clone().into());
        }
        // Scopes: what the subject token carries that this client may hold too; asking for more is refused.
        let carried = keymanager::connector_kit::model::Scopes::from_peer(
            subject.claims.get("scope").and_then(Value::as_str).unwrap_or_default(),
        );
        let wanted: Vec<String> = if request.scopes.is_empty() {
            carried.iter().filter(|s| client.scopes.contains(s)).cloned().collect()
        } else {
            if let Some(s) = request.scopes.iter().find(|s| !carried.contains(s)) {
                return Err(Error::invalid_scope(format!(
                    "scope `{s}` is not in the token exchanged"
                )));
            }
            request.scopes.to_vec()
        };
        let scopes = granted_scopes(client, &wanted)?;
        let allowed = crate::client_metadata::token_exchange_audiences(client);
        if let Some(aud) = x.audience {
            if !allowed.iter().any(|a| a == aud) {
                return Err(Error::invalid_grant(
                    "invalid_target",
                    format!(
                        "audience `{}` is not one this client may exchange tokens for",
                        aud.escape_debug()
                    ),
                ));
            }
        }
        tracing::info!(
            client_id = %client.client_id,
            subject = %sub,
            subject_issuer = subject.issuer.as_deref().unwrap_or("this server"),
            audience = x.audience.unwrap_or(&self.settings.audience),
            scope = %scopes,
            "exchanged a token"
        );
        self.mint(Mint {
            binding: crate::server::Binding::of(request),
            exchange: Some(Exchanged {
                audience: x.audience,
                act,
                not_after,
            }),
            grant: Issued::TokenExchange,
            client,
            secret_id: who.secret_id.as_deref(),
            subject: &sub,
            scopes,
            grant_id: None,
            validity: request.validity,
            refresh: false,
            openid: None,
        })
        .await
    }

    /// A subject token of a trusted key manager (`token_exchange_trusted_key_managers`), checked as a gateway checks
    /// it; refused when none is trusted or it does not validate.
    async fn trusted_subject(&self, token: &str) -> Result<Subject> {
        let refused =
            || invalid_grant("the subject token is not an active token of this server or a trusted key manager");
        let Some(validator) = self.trusted_subject_tokens() else {
            return Err(refused());
        };
        match validator.validate(token).await {
            Ok(p) => {
                let mut claims = p.claims.clone();
                // The scopes as the key manager's profile reads them (`scope`, `scp`, …), in one spelling.
                claims.insert("scope".into(), p.scopes.to_string().into());
                Ok(Subject {
                    issuer: p.claims.get("iss").and_then(Value::as_str).map(str::to_owned),
                    claims,
                })
            }
            Err(keymanager::connector_kit::ValidationError::Unavailable(why)) => Err(Error::busy(
                format!("cannot validate the subject token now: {why}"),
                std::time::Duration::from_secs(5),
            )),
            Err(e) => {
                tracing::info!(reason = e.reason(), "a trusted key manager's subject token was refused");
                Err(refused())
            }
        }
    }
}
