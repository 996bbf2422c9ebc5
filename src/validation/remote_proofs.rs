//! The key service's record of DPoP proofs, reached over HTTP (`POST /api/gateway/dpop-proofs`): how a gateway that
//! does not share the database (`gateway-auth --events`) uses each proof once across every gateway node.

use std::time::Duration;

use async_trait::async_trait;

use crate::model::ProofLog;

/// How long one record call may take before the proof is refused (the request waits on it).
pub const RECORD_TIMEOUT: Duration = Duration::from_secs(2);

/// [`ProofLog`] at a key service: one `POST` per proof accepted here, presenting the gateway's credential (an
/// access token with `keymanager:gateway`, or an admin token). Never retried: a lost answer may have recorded the
/// proof, and a retry would then call it a replay; the caller refuses the proof instead (fail closed).
pub struct RemoteProofLog {
    url: url::Url,
    credential: String,
    client: reqwest::Client,
}

impl std::fmt::Debug for RemoteProofLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteProofLog")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl RemoteProofLog {
    /// The record of the key service whose event stream is `events` (`…/api/gateway/events`): its
    /// `…/api/gateway/dpop-proofs`.
    pub fn beside_events(events: &url::Url, credential: String) -> crate::Result<RemoteProofLog> {
        let url = events
            .join("dpop-proofs")
            .map_err(|e| crate::error::ConfigError::new(format!("no DPoP proof record beside `{events}`: {e}")))?;
        let client = reqwest::Client::builder()
            .connect_timeout(RECORD_TIMEOUT)
            .timeout(RECORD_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                crate::error::ConfigError::new(format!("cannot build the client for the DPoP proof record: {e}"))
            })?;
        Ok(RemoteProofLog {
            url,
            credential,
            client,
        })
    }

    /// Where proofs are recorded.
    pub fn url(&self) -> &url::Url {
        &self.url
    }
}

#[async_trait]
impl ProofLog for RemoteProofLog {
    async fn first_use(&self, jkt: &str, jti: &str) -> crate::Result<bool> {
        let answer = self
            .client
            .post(self.url.clone())
            .bearer_auth(&self.credential)
            .json(&serde_json::json!({ "jkt": jkt, "jti": jti }))
            .send()
            .await
            .map_err(|e| crate::Error::Transport {
                message: format!("the DPoP proof record: {}", e.without_url()),
            })?;
        match answer.status() {
            reqwest::StatusCode::NO_CONTENT => Ok(true),
            reqwest::StatusCode::CONFLICT => Ok(false),
            other => Err(crate::Error::Transport {
                message: format!("the DPoP proof record answered {other}"),
            }),
        }
    }
}
