//! The key service as what validators read: which application holds a client's keys ([`ApplicationLookup`]), and
//! the record of DPoP proofs gateways share ([`ProofLog`]).

use async_trait::async_trait;

use super::KeyService;
use crate::model::{KeyType, ProofLog};
use crate::validation::ApplicationLookup;

#[async_trait]
impl ApplicationLookup for KeyService {
    async fn application_of(&self, key_manager: &str, client_id: &str) -> crate::Result<Option<(String, KeyType)>> {
        Ok(self
            .mapping_of_client(key_manager, client_id)
            .await?
            .map(|m| (m.application_id, m.key_type)))
    }
}

#[async_trait]
impl ProofLog for KeyService {
    async fn first_use(&self, jkt: &str, jti: &str) -> crate::Result<bool> {
        self.accept_gateway_dpop_proof(jkt, jti).await
    }
}
