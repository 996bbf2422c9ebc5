//! Push between nodes sharing a PostgreSQL store: a write that other nodes cache announces itself with `NOTIFY`
//! ([`announce`], inside the write's transaction, so it is delivered exactly when the change is visible), and every
//! node listens ([`spawn_listener`]) and applies it at once. Polling stays as the fallback, and is SQLite's only way.
//! A listener that lost its connection re-listens and hands its subscribers [`Change::CatchUp`], so they refresh
//! from the store whatever was announced while it was away. Each announcement names the process that made it; a
//! process applies its own changes to its caches as it makes them, so it skips its own announcements, except
//! revocations (which its validators learn from the feed).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::AnyConnection;

use super::db_err;
use crate::Result;

/// The longest wait between two attempts to listen again: after a database outage, push resumes within it (and the
/// catch-up on reconnection applies what was announced meanwhile).
pub const RETRY_AT_MOST: Duration = Duration::from_secs(1);

/// The channel every node listens on.
pub(crate) const CHANNEL: &str = "keymanager_changes";

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A revocation was recorded (poll the revocation feeds now).
    Revocation,
    /// A client or its secrets changed.
    Client(String),
    /// A signing key was rotated in.
    SigningKeys,
    /// An admin token was created or revoked.
    AdminTokens,
    /// A key manager was added, changed or removed at run time.
    KeyManagers,
    /// Announcements may have been missed (the listener reconnected): refresh everything from the store.
    CatchUp,
}

/// This process, as its announcements name it.
fn origin() -> &'static str {
    static ORIGIN: OnceLock<String> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{:x}.{nanos:x}", std::process::id())
    })
}

impl Change {
    fn payload(&self) -> String {
        format!("{}/{}", origin(), self.name())
    }

    fn name(&self) -> String {
        match self {
            Change::Revocation => "revocation".into(),
            Change::Client(id) => format!("client:{id}"),
            Change::SigningKeys => "signing_keys".into(),
            Change::AdminTokens => "admin_tokens".into(),
            Change::KeyManagers => "key_managers".into(),
            Change::CatchUp => "catch_up".into(),
        }
    }

    /// The change a payload names, and whether this process announced it; an unknown one is a catch-up (a newer
    /// node may announce more kinds).
    pub fn parse(payload: &str) -> (Change, bool) {
        let (from, name) = payload.split_once('/').unwrap_or(("", payload));
        (Change::parse_name(name), from == origin())
    }

    fn parse_name(payload: &str) -> Change {
        match payload.split_once(':') {
            Some(("client", id)) if !id.is_empty() => Change::Client(id.to_owned()),
            _ => match payload {
                "revocation" => Change::Revocation,
                "signing_keys" => Change::SigningKeys,
                "admin_tokens" => Change::AdminTokens,
                "key_managers" => Change::KeyManagers,
                _ => Change::CatchUp,
            },
        }
    }
}

/// Announce `change` to every listening node, on the connection of the change's transaction (PostgreSQL delivers it
/// at commit, never for a rolled-back change); nothing on SQLite.
pub async fn announce(conn: &mut AnyConnection, change: &Change) -> Result<()> {
    if conn.backend_name() != "PostgreSQL" {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(change.payload())
        .execute(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Who wants to hear of changes; called on the listener's task, so it must not block (spawn async work).
pub type Subscriber = Arc<dyn Fn(&Change) + Send + Sync>;

/// Listen for changes on the PostgreSQL at `url` and hand each to every subscriber; `None` for another database.
/// The first connection, and every reconnection, hands them [`Change::CatchUp`].
pub fn spawn_listener(url: &str, subscribers: Vec<Subscriber>) -> Option<tokio::task::JoinHandle<()>> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return None;
    }
    let url = url.to_owned();
    Some(tokio::spawn(async move {
        let tell = |c: &Change| subscribers.iter().for_each(|s| s(c));
        let mut wait = Duration::from_millis(100);
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for changes; polling meanwhile, retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RETRY_AT_MOST);
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "cannot listen for changes; polling meanwhile, retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_AT_MOST);
                continue;
            }
            wait = Duration::from_millis(100);
            tracing::debug!("listening for changes");
            tell(&Change::CatchUp);
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => match Change::parse(n.payload()) {
                        // Applied here when it was made; revocations reach the validators through the feed.
                        (c, true) if c != Change::Revocation => {}
                        (c, _) => tell(&c),
                    },
                    // The connection dropped and was made again: what was announced meanwhile is lost.
                    Ok(None) => {
                        tracing::info!("the change listener reconnected; catching up from the store");
                        tell(&Change::CatchUp);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "the change listener failed; reconnecting");
                        break;
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_their_change() {
        for c in [
            Change::Revocation,
            Change::Client("c1".into()),
            Change::SigningKeys,
            Change::AdminTokens,
            Change::CatchUp,
        ] {
            assert_eq!(Change::parse(&c.payload()), (c, true));
        }
        assert_eq!(
            Change::parse("another.node/client:c2"),
            (Change::Client("c2".into()), false)
        );
        assert_eq!(Change::parse("another.node/something-new"), (Change::CatchUp, false));
        assert_eq!(Change::parse("another.node/client:"), (Change::CatchUp, false));
    }
}
