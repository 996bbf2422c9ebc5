//! Client authentication: secrets, `private_key_jwt`, TLS client certificates, public clients.

use super::*;

impl ResidentServer {
    // ----- client authentication -----

    async fn load_client(
        &self,
        client_id: &str,
        now: std::time::Instant,
    ) -> Result<Option<Arc<crate::client_cache::Cached>>> {
        match self.store.get_client(client_id).await? {
            Some(client) => {
                let secrets = self.store.list_secrets(client_id).await?;
                Ok(Some(self.clients.put(client, secrets, now)))
            }
            None => Ok(None),
        }
    }

    /// Authenticate a client by id and (for a confidential client) secret. Every failure is the same
    /// `Unauthorized`, whatever was wrong.
    pub async fn authenticate(&self, client_id: &str, secret: Option<&str>) -> Result<AuthenticatedClient> {
        let Some(entry) = self.cached_client(client_id).await? else {
            if let Some(s) = secret {
                // Spend the time a real check takes, so timing does not tell which client ids exist.
                crypto::verify(s, "");
            }
            return Err(Error::unauthorized(BAD_CLIENT));
        };
        let client = &entry.client;
        if client.public_client {
            return match secret {
                None => Ok(AuthenticatedClient {
                    client: client.clone(),
                    secret_id: None,
                }),
                Some(_) => Err(Error::unauthorized(BAD_CLIENT)),
            };
        }
        let Some(secret) = secret else {
            return Err(Error::unauthorized(BAD_CLIENT));
        };
        let at = self.store.now();
        let mut matched = None;
        for s in &entry.secrets {
            // Check every secret, so timing does not tell which one matched.
            if crypto::verify(secret, &s.secret_hash) && !s.is_expired(at) && matched.is_none() {
                matched = Some(s.secret_id.clone());
            }
        }
        match matched {
            Some(secret_id) => Ok(AuthenticatedClient {
                client: client.clone(),
                secret_id: Some(secret_id),
            }),
            None => Err(Error::unauthorized(BAD_CLIENT)),
        }
    }

    /// Authenticate a client that sent its `client_id` and no secret: a public client, or a client registered for
    /// `tls_client_auth` / `self_signed_tls_client_auth` whose request came with its certificate (RFC 8705 §2).
    /// Every failure is the same `Unauthorized`.
    pub async fn authenticate_without_secret(
        &self,
        client_id: &str,
        certificate: Option<&keymanager::connector_kit::mtls::ClientCertificate>,
    ) -> Result<AuthenticatedClient> {
        let Some(entry) = self.cached_client(client_id).await? else {
            return Err(Error::unauthorized(BAD_CLIENT));
        };
        let client = &entry.client;
        let authenticated = || AuthenticatedClient {
            client: client.clone(),
            secret_id: None,
        };
        if client.public_client {
            return Ok(authenticated());
        }
        let meta = crate::client_metadata::ClientMetadata::of_record(&client.additional_properties)?;
        let Some(cert) = certificate.filter(|_| meta.uses_tls_client_auth()) else {
            return Err(Error::unauthorized(BAD_CLIENT));
        };
        // A self-signed client's certificates published at its jwks_uri (RFC 8705 §2.2.2): read when a certificate
        // is presented, again (at most every refetch interval) when it is not among them (a rolled certificate).
        let published = match meta.published_certificates_at() {
            Some(uri) => Some(
                self.client_keys
                    .at_holding(
                        uri,
                        |keys| crate::client_certificate::is_registered(keys, cert),
                        self.store.clock().instant(),
                    )
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e, %client_id, "cannot read a client's jwks_uri");
                        Error::unauthorized(BAD_CLIENT)
                    })?,
            ),
            None => None,
        };
        match meta.authenticates_with(cert, published.as_deref().map(Vec::as_slice)) {
            true => Ok(authenticated()),
            false => Err(Error::unauthorized(BAD_CLIENT)),
        }
    }

    /// A client with its secrets, from the cache or the store; while the store cannot be read, a client this node
    /// knows keeps its last known state. `None` for an unknown client.
    pub(crate) async fn cached_client(&self, client_id: &str) -> Result<Option<Arc<crate::client_cache::Cached>>> {
        let now = self.store.clock().instant();
        let loaded = match self.clients.get(client_id, now) {
            Some(hit) => Ok(Some(hit)),
            None => self.load_client(client_id, now).await,
        };
        let loaded = match loaded {
            Ok(found) => found,
            // The database cannot be read: a client this node knows keeps its last known state (announced changes
            // still reach the cache), so tokens that need no write go on being issued during an outage.
            Err(e) => match self.clients.stale(client_id, now) {
                Some(stale) => {
                    tracing::warn!(error = %e, "the store cannot be read; authenticating a client from its cached state");
                    Some(stale)
                }
                None => {
                    tracing::debug!(error = %e, %client_id, "the store cannot be read and the client is not cached");
                    return Err(e);
                }
            },
        };
        Ok(loaded)
    }
}
