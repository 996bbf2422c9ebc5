//! Password hashing (argon2id) on a small, fixed set of worker threads with a short queue.
//!
//! Each argon2id computation takes about 19 MiB. Run on tokio's blocking pool (up to 512 threads) a burst of
//! login attempts for unknown users ran hundreds of them at once, and the allocator kept that memory afterwards.
//! Here at most [`workers`] hashes run at once, each worker thread filling one block buffer it allocates once and
//! reuses (so the allocator never sees a 19 MiB allocation come and go), and at most
//! [`QUEUE_PER_WORKER`] requests per worker wait: a login past that is refused at once with [`Error::Busy`] (the
//! HTTP faces answer `503` with `Retry-After`) instead of queueing without bound. Configuring users at start waits
//! for a place instead of being refused.

use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use keymanager::connector_kit::{Error, Result};
use secrecy::zeroize::Zeroizing;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::crypto;

/// Requests that may wait per worker before new ones are refused.
pub const QUEUE_PER_WORKER: usize = 4;

/// Most worker threads, whatever the core count.
const MAX_WORKERS: usize = 4;

/// The `Retry-After` of a refusal.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Worker threads: the available cores, from 1 to [`MAX_WORKERS`].
pub fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_WORKERS)
}

enum Work {
    Hash(Zeroizing<String>, oneshot::Sender<Result<String>>),
    Verify(Zeroizing<String>, String, oneshot::Sender<bool>),
}

struct Job {
    work: Work,
    /// Held until the job is done: the places in the queue and on the workers.
    _place: OwnedSemaphorePermit,
}

struct Pool {
    jobs: Mutex<mpsc::Sender<Job>>,
    places: Arc<Semaphore>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let n = workers();
        for i in 0..n {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Pool {
            jobs: Mutex::new(tx),
            places: Arc::new(Semaphore::new(n * (1 + QUEUE_PER_WORKER))),
        }
    })
}

/// The most memory a stored hash may ask for (KiB): 64 MiB, over three times the default's.
const MAX_MEMORY_KIB: u32 = 64 * 1024;

/// One worker's argon2 memory, allocated at its first hash and reused.
#[derive(Default)]
struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    /// Fill `out` with the argon2 output for these inputs, in this worker's blocks.
    fn compute(&mut self, argon: &Argon2<'_>, params: &Params, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
        if params.m_cost() > MAX_MEMORY_KIB {
            tracing::warn!(
                m_cost = params.m_cost(),
                "a stored password hash asks for too much memory"
            );
            return false;
        }
        let need = params.block_count();
        if self.blocks.len() < need {
            self.blocks.resize(need, Block::default());
        }
        argon
            .hash_password_into_with_memory(password, salt, out, &mut self.blocks[..need])
            .is_ok()
    }

    /// A new argon2id hash of `password` with the default parameters, as a PHC string.
    fn hash(&mut self, password: &[u8]) -> Result<String> {
        let fail = |what: &str| Error::storage(format!("cannot hash the password: {what}"));
        let params = Params::default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let salt = crypto::random_bytes(16);
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        if !self.compute(&argon, &params, password, &salt, &mut out) {
            return Err(fail("argon2 failed"));
        }
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| fail(&e.to_string()))?,
            salt: Some(Salt::new(&salt).map_err(|e| fail(&e.to_string()))?),
            hash: Some(Output::new(&out).map_err(|e| fail(&e.to_string()))?),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the PHC string `hash` (any argon2 variant and parameters it names).
    fn verify(&mut self, password: &[u8], hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from).transpose() {
            Ok(v) => v.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let argon = Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        self.compute(&argon, &params, password, salt, &mut out)
            && aws_lc_rs::constant_time::verify_slices_are_equal(&out, expected.as_bytes()).is_ok()
    }
}

fn work(rx: &Mutex<mpsc::Receiver<Job>>) {
    let mut memory = Memory::default();
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        match job.work {
            Work::Hash(password, reply) => {
                let _ = reply.send(memory.hash(password.as_bytes()));
            }
            Work::Verify(password, hash, reply) => {
                let _ = reply.send(memory.verify(password.as_bytes(), &hash));
            }
        }
    }
}

/// Whether a caller waits for a place or is refused when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Refuse with [`Error::Busy`] when the queue is full: logins and the password grant.
    RefuseWhenFull,
    /// Wait for a place: configuring users, an administrator adding one.
    Wait,
}

async fn place(admission: Admission) -> Result<OwnedSemaphorePermit> {
    let places = pool().places.clone();
    let permit = match admission {
        Admission::RefuseWhenFull => places.try_acquire_owned().ok(),
        Admission::Wait => places.acquire_owned().await.ok(),
    };
    permit.ok_or_else(|| {
        tracing::warn!("password hashing is at capacity; refusing a login");
        Error::busy("too many logins at once", RETRY_AFTER)
    })
}

fn submit(work: Work, place: OwnedSemaphorePermit) -> Result<()> {
    let jobs = pool()
        .jobs
        .lock()
        .map_err(|_| Error::storage("the password hashing pool failed"))?;
    jobs.send(Job { work, _place: place })
        .map_err(|_| Error::storage("the password hashing pool stopped"))
}

/// An argon2id hash of `password` (PHC string).
pub async fn hash(password: &str, admission: Admission) -> Result<String> {
    let place = place(admission).await?;
    let (tx, rx) = oneshot::channel();
    submit(Work::Hash(Zeroizing::new(password.to_owned()), tx), place)?;
    rx.await
        .map_err(|_| Error::storage("the password hashing pool dropped a request"))?
}

/// Whether `password` matches the PHC string `hash`.
pub async fn verify(password: &str, hash: &str, admission: Admission) -> Result<bool> {
    let place = place(admission).await?;
    let (tx, rx) = oneshot::channel();
    submit(
        Work::Verify(Zeroizing::new(password.to_owned()), hash.to_owned(), tx),
        place,
    )?;
    rx.await
        .map_err(|_| Error::storage("the password hashing pool dropped a request"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_standard_phc_strings_checked_in_reused_memory() {
        use argon2::PasswordVerifier;
        let mut memory = Memory::default();
        let hashed = memory.hash(b"correct horse").unwrap();
        assert!(hashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hashed}");
        // The argon2 crate's own verifier agrees, both ways.
        assert!(Argon2::default()
            .verify_password(b"correct horse", hashed.as_str())
            .is_ok());
        let theirs = argon2::PasswordHasher::hash_password_with_salt(&Argon2::default(), b"pw 2", b"0123456789abcdef")
            .unwrap()
            .to_string();
        assert!(memory.verify(b"pw 2", &theirs));
        assert!(!memory.verify(b"pw 3", &theirs));
        assert!(memory.verify(b"correct horse", &hashed));
        assert!(!memory.verify(b"correct horsf", &hashed));
        assert!(!memory.verify(b"x", "not a hash"));
        // A hash asking for more memory than allowed is refused without allocating it.
        assert!(!memory.verify(
            b"x",
            "$argon2id$v=19$m=4000000,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$4B3i0sD0Vy7zq3a8C7bQd0E0b3o8yC0l6q1q7JXj8nE"
        ));
        assert_eq!(memory.blocks.len(), Params::default().block_count());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_full_queue_refuses_logins_with_busy_and_admin_work_waits() {
        let hashed = hash("correct horse battery", Admission::Wait).await.unwrap();
        assert!(verify("correct horse battery", &hashed, Admission::Wait).await.unwrap());
        assert!(!verify("wrong", &hashed, Admission::Wait).await.unwrap());
        // Far more logins at once than places: some are refused at once, none waits without bound, and every
        // admitted one is answered.
        let capacity = workers() * (1 + QUEUE_PER_WORKER);
        let attempts: Vec<_> = (0..capacity * 3)
            .map(|_| {
                let h = hashed.clone();
                tokio::spawn(async move { verify("wrong", &h, Admission::RefuseWhenFull).await })
            })
            .collect();
        let mut busy = 0;
        for a in attempts {
            match a.await.unwrap() {
                Ok(ok) => assert!(!ok),
                Err(Error::Busy { retry_after, .. }) => {
                    assert!(retry_after >= Duration::from_secs(1));
                    busy += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(busy > 0, "the queue was never full");
        // Once the burst is over, logins are admitted again.
        assert!(verify("correct horse battery", &hashed, Admission::RefuseWhenFull)
            .await
            .unwrap());
    }
}
