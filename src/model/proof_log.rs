//! Where the DPoP proofs a gateway accepts are recorded, so each proof is used once across every gateway node
//! (RFC 9449 §11.1), not only once per process.

use async_trait::async_trait;

/// How long (seconds) a record of proofs remembers one: a gateway accepts a proof made at most 60 s ago and at most
/// 30 s ahead of its clock, so no proof is accepted for longer than this after its first use.
pub const PROOF_RECORD_SECONDS: i64 = 90;

/// A record of DPoP proofs shared by gateway nodes: the key service's store for nodes on its database, the key
/// service's `POST /api/gateway/dpop-proofs` for `gateway-auth --events`.
#[async_trait]
pub trait ProofLog: Send + Sync {
    /// Record the first use of proof `jti` made with the key of RFC 7638 thumbprint `jkt`, remembered for
    /// [`PROOF_RECORD_SECONDS`]: `true` the first time, `false` for a replay. An error means the record could not be
    /// read or written: the caller refuses the proof (fail closed).
    async fn first_use(&self, jkt: &str, jti: &str) -> crate::Result<bool>;
}
