//! The JWT path: the issuer by `iss`, the signature by the issuer's JWKS and pinned algorithms, then the claims.

use super::*;

impl TokenValidator {
    pub(super) async fn validate_jwt(&self, token: &str, hash: [u8; 32]) -> Result<Arc<Principal>, ValidationError> {
        let Some((signing_input, signature)) = token.rsplit_once('.') else {
            return Err(ValidationError::Malformed("not a JWT".into()));
        };
        let Some((h, c)) = signing_input.split_once('.') else {
            return Err(ValidationError::Malformed("not a JWT".into()));
        };
        let decode = |part: &str, what: &str| -> Result<Map<String, Value>, ValidationError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| ValidationError::Malformed(format!("the {what} is not base64url")))?;
            serde_json::from_slice(&bytes)
                .map_err(|_| ValidationError::Malformed(format!("the {what} is not a JSON object")))
        };
        // Header and payload are decoded once; the payload is trusted only after the signature verifies.
        let header_bytes = URL_SAFE_NO_PAD
            .decode(h)
            .map_err(|_| ValidationError::Malformed("the header is not base64url".into()))?;
        let header: JwtHeader<'_> = serde_json::from_slice(&header_bytes)
            .map_err(|_| ValidationError::Malformed("the header is not a JSON object".into()))?;
        let alg = header.alg.as_deref().unwrap_or_default();
        if alg.eq_ignore_ascii_case("none") {
            return Err(ValidationError::Unsigned);
        }
        let claims = decode(c, "payload")?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| ValidationError::MissingClaim("iss".into()))?;
        let (keys, generation) = self.keys_and_generation();
        let issuer = keys
            .issuers
            .iter()
            .find(|i| i.profile.issuer == iss)
            .ok_or_else(|| ValidationError::UnknownIssuer(iss.to_owned()))?;
        let Some(alg_parsed) = algorithm(alg).filter(|a| issuer.algorithms.contains(a)) else {
            return Err(ValidationError::AlgorithmNotAllowed(alg.to_owned()));
        };
        if let Some(typ) = &issuer.profile.access_token_typ {
            let got = header.typ.as_deref().unwrap_or_default();
            let got_short = got.strip_prefix("application/").unwrap_or(got);
            if !got_short.eq_ignore_ascii_case(typ) {
                return Err(ValidationError::WrongType(got.to_owned()));
            }
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| ValidationError::Malformed("the header has no kid".into()))?;
        let key = issuer
            .jwks
            .key(kid, issuer.km.as_ref(), &self.http, self.clock.as_ref())
            .await?;
        if key.alg.is_some_and(|a| a != alg_parsed) {
            return Err(ValidationError::AlgorithmNotAllowed(alg.to_owned()));
        }
        // A key parsed once verifies its own algorithm; anything else goes to jsonwebtoken, which refuses a key of
        // another family than the algorithm (no HS/RS confusion).
        let verified = match &key.parsed {
            Some((a, parsed)) if *a == alg_parsed => match URL_SAFE_NO_PAD.decode(signature) {
                Ok(sig) => Ok(parsed.verify_sig(signing_input.as_bytes(), &sig).is_ok()),
                Err(_) => return Err(ValidationError::Malformed("the signature is not base64url".into())),
            },
            _ => jsonwebtoken::crypto::verify(signature, signing_input.as_bytes(), &key.decoding, alg_parsed),
        };
        match verified {
            Ok(true) => {}
            Ok(false) => return Err(ValidationError::BadSignature),
            Err(e) => {
                use jsonwebtoken::errors::ErrorKind as K;
                return Err(match e.kind() {
                    K::InvalidAlgorithm | K::InvalidAlgorithmName => {
                        ValidationError::AlgorithmNotAllowed(alg.to_owned())
                    }
                    K::Base64(_) => ValidationError::Malformed("the signature is not base64url".into()),
                    _ => ValidationError::BadSignature,
                });
            }
        }
        self.check_claims(&claims, &issuer.profile)?;
        let at = self.clock.now();
        let principal = Arc::new(self.principal(issuer.km.name(), &issuer.profile, claims).await);
        let ttl = principal
            .expires_at
            .map(|exp| Duration::from_secs((exp - at).max(0) as u64))
            .unwrap_or(self.settings.max_cache_ttl)
            .min(self.settings.max_cache_ttl);
        // Remembered only while its key manager is still answered for: a key manager may have left the set
        // meanwhile (checked again after inserting, since the set may change between the two).
        if self.still(generation) {
            self.seen.insert(hash, principal.clone(), self.clock.instant() + ttl);
            if !self.still(generation) {
                self.seen.remove(&hash);
            }
        }
        Ok(principal)
    }

    /// The registered claims, as RFC 7519 §4.1 and RFC 9068 §4 ask: `exp` required and not passed, `nbf` and `iat`
    /// not in the future (each with the leeway), `iss` exact, `aud` naming the profile's audience when it has one.
    pub(super) fn check_claims(
        &self,
        claims: &Map<String, Value>,
        profile: &TokenProfile,
    ) -> Result<(), ValidationError> {
        let at = self.clock.now();
        let leeway = self.settings.leeway.as_secs() as i64;
        let number = |name: &str| -> Result<Option<i64>, ValidationError> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_i64()
                    .or_else(|| v.as_f64().map(|f| f as i64))
                    .map(Some)
                    .ok_or_else(|| ValidationError::Malformed(format!("`{name}` is not a number"))),
            }
        };
        let exp = number("exp")?.ok_or_else(|| ValidationError::MissingClaim("exp".into()))?;
        if exp < at - leeway {
            return Err(ValidationError::Expired);
        }
        if number("nbf")?.is_some_and(|nbf| nbf > at + leeway) || number("iat")?.is_some_and(|iat| iat > at + leeway) {
            return Err(ValidationError::NotYetValid);
        }
        if claims.get("iss").and_then(Value::as_str) != Some(profile.issuer.as_str()) {
            return Err(ValidationError::WrongIssuer);
        }
        if let Some(audience) = &profile.audience {
            let aud = claims
                .get("aud")
                .ok_or_else(|| ValidationError::MissingClaim("aud".into()))?;
            if !strings(Some(aud)).iter().any(|a| a == audience) {
                return Err(ValidationError::WrongAudience);
            }
        }
        Ok(())
    }
}
