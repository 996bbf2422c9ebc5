//! Clients and their secrets.

use super::*;

impl ResidentServer {
    // ----- clients -----

    /// Register a client; a confidential one gets its first secret, returned in the answer only.
    pub async fn register(&self, spec: &ClientSpec, registration_token_hash: Option<String>) -> Result<OAuthClient> {
        spec.validate_for(&crate::capabilities(&self.settings))?;
        let metadata = self.client_metadata(spec)?;
        let at = self.store.now();
        let record = ClientRecord {
            client_id: crypto::new_client_id(),
            name: spec.name.trim().to_owned(),
            key_type: spec.key_type,
            grant_types: spec.grant_types.clone(),
            redirect_uris: spec.redirect_uris.clone(),
            scopes: spec.scopes.clone(),
            public_client: spec.public_client,
            pkce: spec.pkce,
            access_token_lifetime: spec.access_token_lifetime,
            refresh_token_lifetime: spec.refresh_token_lifetime,
            additional_properties: spec.additional_properties.clone(),
            registration_token_hash,
            created_at: at,
            updated_at: at,
        };
        // A public client has no secret; a private_key_jwt or mutual-TLS client authenticates with its own keys or
        // certificate instead.
        let secret = match spec.public_client || metadata.has_no_secret() {
            true => None,
            false => Some(self.new_secret_record(&record.client_id, &SecretSpec::default(), at)?),
        };
        self.store
            .insert_client(&record, secret.as_ref().map(|(r, _)| r))
            .await?;
        tracing::info!(client_id = %record.client_id, public = record.public_client, "registered a client");
        let mut client = to_oauth_client(&record);
        client.client_secret = secret.map(|(_, plain)| plain.into());
        Ok(client)
    }

    /// Replace a client's settings (its secrets stay).
    pub async fn update(&self, client_id: &str, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate_for(&crate::capabilities(&self.settings))?;
        let wanted = self.client_metadata(spec)?;
        let mut record = self.client(client_id).await?;
        if record.public_client != spec.public_client {
            return Err(Error::invalid_field(
                "public_client",
                "a client cannot switch between public and confidential; register a new client",
            ));
        }
        // Secrets kept beside a method that needs none would still authenticate: no switch either way.
        if ClientMetadata::of_record(&record.additional_properties)?.has_no_secret() != wanted.has_no_secret() {
            return Err(Error::invalid_field(
                "additional_properties.token_endpoint_auth_method",
                "a client cannot switch between secrets and its own keys or certificate; register a new client",
            ));
        }
        record.name = spec.name.trim().to_owned();
        record.grant_types = spec.grant_types.clone();
        record.redirect_uris = spec.redirect_uris.clone();
        record.scopes = spec.scopes.clone();
        record.pkce = spec.pkce;
        record.access_token_lifetime = spec.access_token_lifetime;
        record.refresh_token_lifetime = spec.refresh_token_lifetime;
        record.additional_properties = spec.additional_properties.clone();
        record.updated_at = self.store.now();
        self.store.update_client(&record).await?;
        self.clients.invalidate(client_id);
        Ok(to_oauth_client(&record))
    }

    /// Apply an update a client asked for with its registration access token (RFC 7592): it may keep or narrow
    /// what `current` holds, never widen it ([`ClientSpec::check_self_update`]). A lifetime left to the server's
    /// default counts as that default, so leaving it out cannot lift a limit either.
    pub async fn update_on_own_authority(&self, current: &ClientRecord, spec: &ClientSpec) -> Result<OAuthClient> {
        spec.validate()?;
        let held = self.effective_spec(current);
        let mut wanted = spec.clone();
        wanted.access_token_lifetime = Some(
            spec.access_token_lifetime
                .unwrap_or(self.settings.access_token_lifetime),
        );
        wanted.refresh_token_lifetime = Some(
            spec.refresh_token_lifetime
                .unwrap_or(self.settings.refresh_token_lifetime),
        );
        wanted.check_self_update(&held, crate::client_metadata::self_update_rule)?;
        self.update(&current.client_id, spec).await
    }

    /// A client's registration as a spec, with the server's defaults written in where it sets no lifetime.
    fn effective_spec(&self, r: &ClientRecord) -> ClientSpec {
        ClientSpec {
            name: r.name.clone(),
            key_type: r.key_type,
            grant_types: r.grant_types.clone(),
            redirect_uris: r.redirect_uris.clone(),
            scopes: r.scopes.clone(),
            public_client: r.public_client,
            pkce: r.pkce,
            access_token_lifetime: Some(r.access_token_lifetime.unwrap_or(self.settings.access_token_lifetime)),
            refresh_token_lifetime: Some(r.refresh_token_lifetime.unwrap_or(self.settings.refresh_token_lifetime)),
            additional_properties: r.additional_properties.clone(),
        }
    }

    /// Read a client; `NotFound` when it does not exist.
    pub async fn client(&self, client_id: &str) -> Result<ClientRecord> {
        self.store
            .get_client(client_id)
            .await?
            .ok_or_else(|| Error::not_found("client", client_id))
    }

    /// Delete a client, its secrets and its opaque tokens; its JWTs stop introspecting as active.
    pub async fn delete(&self, client_id: &str) -> Result<()> {
        let at = self.store.now();
        let rule = Revoked::Client {
            client_id: client_id.to_owned(),
            issued_before: at,
            expires_at: self.max_token_expiry(at)?,
        };
        self.store.delete_client(client_id, &rule).await?;
        self.clients.invalidate(client_id);
        tracing::info!(client_id, "deleted a client");
        Ok(())
    }

    // ----- secrets -----

    /// When the last token issued now expires at the latest: how long a revocation rule must be kept.
    pub(crate) fn max_token_expiry(&self, at: i64) -> Result<i64> {
        seconds_after("max_access_token_lifetime", at, self.settings.max_access_token_lifetime)
    }

    fn new_secret_record(&self, client_id: &str, spec: &SecretSpec, at: i64) -> Result<(SecretRecord, String)> {
        let expires_at = match spec.expires_in {
            Some(s) => Some(seconds_after("expires_in", at, s)?),
            None => None,
        };
        let plain = crypto::new_secret();
        let secret_id = crypto::random_token(12);
        // Retrievable: sealed too, bound to its client and id (a sealed value moved to another row does not open).
        let sealed = match self.secret_box()? {
            Some(b) => Some(b.seal(&plain, &sealing_context(client_id, &secret_id))?),
            None => None,
        };
        let record = SecretRecord {
            secret_id,
            client_id: client_id.to_owned(),
            secret_hash: crypto::hash(&plain),
            masked: mask_secret(&plain),
            description: spec.description.clone(),
            created_at: at,
            expires_at,
            sealed,
        };
        Ok((record, plain))
    }

    /// The sealing keys, when secrets are retrievable; a retrievable store without them is a configuration fault.
    fn secret_box(&self) -> Result<Option<&keymanager::connector_kit::SecretBox>> {
        match self.settings.client_secret_storage {
            crate::SecretStorage::Hashed => Ok(None),
            crate::SecretStorage::Retrievable => self.settings.secret_box.as_deref().map(Some).ok_or_else(|| {
                Error::Configuration(keymanager::connector_kit::ConfigError::new(
                    "client_secret_storage = \"retrievable\" needs the secret key (KEYMANAGER_SECRET_KEY or the data directory)",
                ))
            }),
        }
    }

    /// A client with its newest unexpired secret when secrets are retrievable (WSO2 shows it again); without.
    pub async fn client_with_secret(&self, client_id: &str) -> Result<OAuthClient> {
        let record = self.client(client_id).await?;
        let mut client = to_oauth_client(&record);
        if let Some(b) = self.secret_box()? {
            let at = self.store.now();
            let secrets = self.store.list_secrets(client_id).await?;
            // The newest unexpired one (a tie in the same second: the later in the store's order).
            let newest = secrets
                .iter()
                .filter(|s| !s.is_expired(at) && s.sealed.is_some())
                .max_by_key(|s| s.created_at);
            if let Some(s) = newest {
                let sealed = s.sealed.as_deref().unwrap_or_default();
                client.client_secret = Some(b.open(sealed, &sealing_context(client_id, &s.secret_id))?.into());
            }
        }
        Ok(client)
    }

    async fn confidential(&self, client_id: &str) -> Result<ClientRecord> {
        let client = self.client(client_id).await?;
        if client.public_client {
            return Err(Error::invalid_field("client_id", "a public client has no secrets"));
        }
        let meta = ClientMetadata::of_record(&client.additional_properties)?;
        if let Some(method) = meta.token_endpoint_auth_method.filter(|_| meta.has_no_secret()) {
            return Err(Error::invalid_field(
                "client_id",
                format!(
                    "this client authenticates with {} (its own keys or certificate), not with secrets",
                    method.as_str()
                ),
            ));
        }
        Ok(client)
    }

    /// The OpenID client metadata a spec carries in its `additional_properties`, checked.
    fn client_metadata(&self, spec: &ClientSpec) -> Result<ClientMetadata> {
        let meta = ClientMetadata::parse(&spec.additional_properties, spec.public_client, &self.keys.algorithms())?;
        if (meta.uses_tls_client_auth() || meta.tls_client_certificate_bound_access_tokens)
            && !self.settings.client_certificates
        {
            return Err(Error::invalid_field(
                "additional_properties.token_endpoint_auth_method",
                "this server does not ask TLS clients for certificates: serve TLS with [server] \
                 tls_client_certificates = true first (RFC 8705)",
            ));
        }
        if let Some(uri) = &meta.jwks_uri {
            // The server will fetch it on the client's say: the egress guard decides now, and again at each fetch.
            let url = url::Url::parse(uri)
                .map_err(|e| Error::invalid_field("additional_properties.jwks_uri", e.to_string()))?;
            self.settings
                .egress
                .check_url(&url)
                .map_err(|e| Error::invalid_field("additional_properties.jwks_uri", e.to_string()))?;
        }
        Ok(meta)
    }

    /// Add a secret. Its plain value is in the answer, and nowhere else, ever.
    pub async fn create_secret(&self, client_id: &str, spec: &SecretSpec) -> Result<IssuedSecret> {
        spec.validate()?;
        self.confidential(client_id).await?;
        let at = self.store.now();
        let (record, plain) = self.new_secret_record(client_id, spec, at)?;
        self.store
            .insert_secret(&record, self.settings.max_secrets_per_client)
            .await?;
        self.clients.invalidate(client_id);
        tracing::info!(client_id, secret_id = %record.secret_id, "created a client secret");
        Ok(IssuedSecret {
            id: record.secret_id.clone(),
            secret: plain.into(),
            info: secret_info(&record, at),
        })
    }

    /// A client's secrets, masked.
    pub async fn list_secrets(&self, client_id: &str) -> Result<Vec<SecretInfo>> {
        self.client(client_id).await?;
        let at = self.store.now();
        Ok(self
            .store
            .list_secrets(client_id)
            .await?
            .iter()
            .map(|r| secret_info(r, at))
            .collect())
    }

    /// Delete a secret. Tokens it issued stay valid until they expire, unless `revoke_tokens` is true.
    pub async fn delete_secret(&self, client_id: &str, secret_id: &str, revoke_tokens: bool) -> Result<()> {
        self.client(client_id).await?;
        let at = self.store.now();
        let expires_at = self.max_token_expiry(at)?;
        let rule = revoke_tokens.then(|| Revoked::Secret {
            client_id: client_id.to_owned(),
            secret_id: secret_id.to_owned(),
            issued_before: at,
            expires_at,
        });
        self.store.delete_secret(client_id, secret_id, rule.as_ref()).await?;
        self.clients.invalidate(client_id);
        tracing::info!(client_id, secret_id, revoke_tokens, "deleted a client secret");
        Ok(())
    }

    /// Replace every secret with one new one, returned in the client this once.
    pub async fn regenerate_secret(&self, client_id: &str) -> Result<OAuthClient> {
        let client = self.confidential(client_id).await?;
        let (record, plain) = self.new_secret_record(client_id, &SecretSpec::default(), self.store.now())?;
        self.store.replace_secrets(&record).await?;
        self.clients.invalidate(client_id);
        tracing::info!(client_id, "regenerated the client secret");
        let mut out = to_oauth_client(&client);
        out.client_secret = Some(plain.into());
        Ok(out)
    }
}

fn secret_info(r: &SecretRecord, at: i64) -> SecretInfo {
    SecretInfo {
        id: r.secret_id.clone(),
        masked: r.masked.clone(),
        description: r.description.clone(),
        created_at: r.created_at,
        expires_at: r.expires_at,
        status: if r.is_expired(at) {
            SecretStatus::Expired
        } else {
            SecretStatus::Active
        },
    }
}

/// What a sealed secret is bound to: its client and its id.
fn sealing_context(client_id: &str, secret_id: &str) -> String {
    format!("client_secret:{client_id}:{secret_id}")
}

impl ResidentServer {
    /// One sealed secret per key id in the store, with its context, for
    /// [`SecretBox::check_can_open`](keymanager::connector_kit::SecretBox::check_can_open).
    pub async fn sealed_samples(&self) -> Result<Vec<(String, String)>> {
        Ok(self
            .store
            .sealed_secret_samples()
            .await?
            .into_iter()
            .map(|(client, secret, sealed)| (sealed, sealing_context(&client, &secret)))
            .collect())
    }

    /// Where retrievable secrets are that `sealing`'s first key did not seal (`client_secret:CLIENT:SECRET`).
    pub async fn sealed_not_under(&self, sealing: &keymanager::connector_kit::SecretBox) -> Result<Vec<String>> {
        Ok(self
            .store
            .sealed_secrets_not_under(sealing.sealing_key_id())
            .await?
            .into_iter()
            .map(|(client, secret, _)| sealing_context(&client, &secret))
            .collect())
    }

    /// Seal every retrievable secret again under `sealing`'s first key (`keymanager secret-key rotate`): one row at
    /// a time, each swapped only if it still holds what was read, so it is safe beside serving nodes and resumable
    /// (a secret the first key sealed is not touched). Returns how many were sealed again.
    pub async fn reseal_secrets(&self, sealing: &keymanager::connector_kit::SecretBox) -> Result<usize> {
        let mut resealed = 0;
        for (client, secret, sealed) in self.store.sealed_secrets_not_under(sealing.sealing_key_id()).await? {
            if let Some(new) = sealing.reseal(&sealed, &sealing_context(&client, &secret))? {
                // A secret deleted or regenerated meanwhile is sealed under the first key already, or gone.
                if self.store.swap_sealed_secret(&client, &secret, &sealed, &new).await? {
                    resealed += 1;
                }
            }
        }
        Ok(resealed)
    }
}

/// The generic view of a client row.
pub fn to_oauth_client(r: &ClientRecord) -> OAuthClient {
    OAuthClient {
        client_id: ClientId::new(&r.client_id),
        client_secret: None,
        name: r.name.clone(),
        grant_types: r.grant_types.clone(),
        redirect_uris: r.redirect_uris.iter().map(ToString::to_string).collect(),
        scopes: r.scopes.clone(),
        public_client: r.public_client,
        pkce: r.pkce,
        access_token_lifetime: r.access_token_lifetime,
        refresh_token_lifetime: r.refresh_token_lifetime,
        created_at: Some(r.created_at),
        additional_properties: r.additional_properties.clone(),
    }
}
