//! The key service as the validator's [`ApplicationLookup`]: which application holds a client's keys.

use async_trait::async_trait;

use super::KeyService;
use crate::model::KeyType;
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
