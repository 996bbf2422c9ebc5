//! The opaque-token path: RFC 7662 introspection at the key managers that can, one upstream call per token however
//! many requests carry it.

use super::*;

impl TokenValidator {
    pub(super) async fn introspect(&self, token: &str, hash: &[u8; 32]) -> Result<Arc<Principal>, ValidationError> {
        if self.keys().introspectors.is_empty() {
            return Err(ValidationError::NoIntrospection);
        }
        for _ in 0..2 {
            let flight = {
                let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
                if flights.len() >= self.flight_capacity && !flights.contains_key(hash) {
                    let now = self.clock.instant();
                    flights.retain(|_, f| f.get().is_none_or(|(_, until)| *until > now));
                    if flights.len() >= self.flight_capacity {
                        flights.clear();
                    }
                }
                flights.entry(*hash).or_default().clone()
            };
            let (outcome, until) = flight.get_or_init(|| self.introspect_upstream(token)).await;
            // An answer of a key manager no longer answered for (disabled or removed while it was in flight) is
            // dropped and asked again.
            let current = match outcome {
                Ok(p) => self.answers_for(&p.key_manager),
                Err(_) => true,
            };
            if *until > self.clock.instant() && current {
                return outcome.clone();
            }
            // Expired (or an uncached failure): drop this flight, unless another request already replaced it.
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            if flights.get(hash).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                flights.remove(hash);
            }
            if matches!(outcome, Err(ValidationError::Unavailable(_))) {
                return outcome.clone();
            }
        }
        Err(ValidationError::Unavailable("introspection kept expiring".into()))
    }

    pub(super) async fn introspect_upstream(&self, token: &str) -> (Outcome, Instant) {
        let now_i = self.clock.instant();
        let token_value = Token::new(token);
        let mut failure = None;
        let keys = self.keys();
        for km in &keys.introspectors {
            match km.introspect(&token_value, Some(TokenTypeHint::AccessToken)).await {
                Ok(info) if info.active => {
                    let at = self.clock.now();
                    if info.exp.is_some_and(|exp| exp <= at) {
                        return (Err(ValidationError::Expired), now_i + self.settings.inactive_ttl);
                    }
                    let principal = self.principal_from_introspection(km.as_ref(), info).await;
                    let ttl = principal
                        .expires_at
                        .map(|exp| Duration::from_secs((exp - at).max(0) as u64))
                        .unwrap_or(self.settings.max_cache_ttl)
                        .min(self.settings.max_cache_ttl);
                    return (Ok(Arc::new(principal)), now_i + ttl);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(key_manager = km.name(), error = %e, "introspection failed");
                    failure = Some(format!("{}: {e}", km.name()));
                }
            }
        }
        match failure {
            // Not cached: the next request asks again.
            Some(f) => (Err(ValidationError::Unavailable(f)), now_i),
            None => (Err(ValidationError::Inactive), now_i + self.settings.inactive_ttl),
        }
    }

    pub(super) async fn principal_from_introspection(&self, km: &dyn KeyManager, info: TokenInfo) -> Principal {
        let (application_id, key_type) = match &info.client_id {
            Some(c) => self.application_of(km.name(), c).await.unzip(),
            None => (None, None),
        };
        Principal {
            key_manager: km.name().to_owned(),
            client_id: info.client_id,
            application_id,
            key_type,
            scopes: info.scopes,
            subject: info.sub,
            audience: info.aud,
            expires_at: info.exp,
            claims: info.claims,
        }
    }
}
