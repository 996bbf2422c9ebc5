//! Test harness: the same suite on SQLite (a temporary file) and PostgreSQL (`KEYMANAGER_TEST_POSTGRES_URL`,
//! one schema per test so tests run in parallel).
#![allow(dead_code)]

#[path = "../../../../tests/support/missing.rs"]
pub mod missing;

pub mod flows;

use std::sync::Arc;

use keymanager_resident::{ResidentKeyManager, ResidentServer, ResidentSettings, Store};

pub struct Harness {
    pub server: Arc<ResidentServer>,
    pub km: ResidentKeyManager,
    pub url: String,
    /// The clock the store and server read: tests move it instead of sleeping.
    pub clock: Arc<keymanager::model::ManualClock>,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite_url() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("km.db").display());
    (url, dir)
}

/// A fresh PostgreSQL schema's URL, or `None` (and a note) without `KEYMANAGER_TEST_POSTGRES_URL`.
pub async fn postgres_url() -> Option<String> {
    let base = missing::postgres_base()?;
    sqlx::any::install_default_drivers();
    let schema = format!("km_test_{}", uuidish());
    let pool = sqlx::AnyPool::connect(&base)
        .await
        .expect("connect to KEYMANAGER_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .expect("create schema");
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

fn uuidish() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    format!("{:x}{:x}", nanos, std::process::id()) + &format!("{:x}", rand_u32())
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish() as u32
}

pub async fn harness_on(url: String, dir: Option<tempfile::TempDir>, settings: ResidentSettings) -> Harness {
    let clock = keymanager::model::ManualClock::new();
    let store = Store::connect(&url, None)
        .await
        .expect("open store")
        .with_clock(clock.clone());
    let server = ResidentServer::open(settings, store).await.expect("open server");
    Harness {
        clock,
        km: ResidentKeyManager::new("Resident Key Manager", server.clone()),
        server,
        url,
        _dir: dir,
    }
}

pub fn settings() -> ResidentSettings {
    ResidentSettings {
        issuer: "http://127.0.0.1:9443".into(),
        audience: "http://127.0.0.1:9443".into(),
        max_secrets_per_client: Some(3),
        // The tests' clients publish their keys on this machine.
        egress: keymanager::server_kit::Egress::AllowPrivate,
        ..ResidentSettings::default()
    }
}

/// Run `$body` (an async fn taking a `Harness`) on SQLite and, when configured, PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (url, dir) = $crate::common::sqlite_url().await;
                super::$name($crate::common::harness_on(url, Some(dir), $crate::common::settings()).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(url) = $crate::common::postgres_url().await {
                    super::$name($crate::common::harness_on(url, None, $crate::common::settings()).await).await;
                }
            }
        }
    )*};
}
