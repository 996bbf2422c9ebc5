//! Following a key service's revocation events (`GET /api/gateway/events`, Server-Sent Events) from a gateway that
//! does not share its database: [`TokenValidator::follow_events`].
//!
//! Fail closed: until the stream has delivered its backlog (`event: caught-up`), and whenever nothing (not even the
//! server's 15-second keep-alive) has arrived for [`STALE_AFTER`], every token is refused as `Unavailable` — a
//! gateway that may have missed a revocation does not guess. A lost connection is retried (250 ms doubling to 5 s)
//! with `Last-Event-ID`, so nothing written meanwhile is missed.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::TokenValidator;
use crate::model::{GatewayEvent, GatewayNotice};

/// How long a followed stream may stay silent (no event, no keep-alive) before tokens are refused.
pub const STALE_AFTER: Duration = Duration::from_secs(45);
/// The longest event (one line of data) accepted; a longer one ends the connection.
const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Where a validator is in the event stream it follows.
#[derive(Debug)]
pub(super) struct Following {
    /// The key managers the key service does not answer for now (disabled or removed there).
    not_answered: std::sync::RwLock<std::collections::HashSet<String>>,
    /// Whether `not_answered` has any: the validation path looks no further when it has none.
    any_not_answered: AtomicBool,
    caught_up: AtomicBool,
    last_id: AtomicI64,
    /// Milliseconds after `started` of the last bytes read.
    last_contact_ms: AtomicI64,
    started: Instant,
}

impl Following {
    fn new() -> Self {
        Following {
            not_answered: Default::default(),
            any_not_answered: AtomicBool::new(false),
            caught_up: AtomicBool::new(false),
            last_id: AtomicI64::new(0),
            last_contact_ms: AtomicI64::new(0),
            started: Instant::now(),
        }
    }

    fn touch(&self) {
        let ms = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.last_contact_ms.store(ms, Ordering::Relaxed);
    }

    fn mark_caught_up(&self) {
        if !self.caught_up.swap(true, Ordering::AcqRel) {
            tracing::info!(
                last_event = self.last_id.load(Ordering::Acquire),
                "revocation events caught up"
            );
        }
    }

    /// Whether the key service does not answer for `key_manager` now.
    pub(super) fn not_answered(&self, key_manager: &str) -> bool {
        self.any_not_answered.load(Ordering::Acquire)
            && self
                .not_answered
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains(key_manager)
    }

    /// Why tokens cannot be trusted now, if they cannot.
    pub(super) fn unsure(&self) -> Option<&'static str> {
        if !self.caught_up.load(Ordering::Acquire) {
            return Some("the revocation events have not been caught up yet");
        }
        let silent = self.started.elapsed().as_millis() as i64 - self.last_contact_ms.load(Ordering::Relaxed);
        (silent > STALE_AFTER.as_millis() as i64).then_some("the revocation event stream has been silent too long")
    }
}

/// What one connection ended with.
enum Ended {
    /// The validator is gone: stop.
    Dropped,
    /// Reconnect after a pause.
    Failed(String),
}

impl TokenValidator {
    /// Follow the revocation events at `url` (a key service's `…/api/gateway/events`), presenting `credential` (an
    /// access token with `keymanager:gateway`, or an admin token), until the validator is dropped. Every revocation
    /// applies at once; key managers are matched by name, so name them here as the key service does. From this call
    /// on, tokens are refused as `Unavailable` until the backlog is in, and whenever the stream has been silent for
    /// [`STALE_AFTER`].
    pub fn follow_events(self: &Arc<Self>, url: url::Url, credential: String) -> tokio::task::JoinHandle<()> {
        let state = self.following.get_or_init(|| Arc::new(Following::new())).clone();
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let client = match reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the client for revocation events");
                    return;
                }
            };
            let mut pause = Duration::from_millis(250);
            loop {
                match follow_once(&weak, &client, &url, &credential, &state).await {
                    Ended::Dropped => return,
                    Ended::Failed(reason) => {
                        tracing::warn!(%reason, retry_in_ms = pause.as_millis() as u64, "revocation events lost");
                    }
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                if state.caught_up.load(Ordering::Acquire) {
                    pause = pause.min(Duration::from_secs(1));
                }
            }
        })
    }

    /// The key service answers for `key_manager` again (`answered`), or no longer (disabled or removed there): until
    /// it does again, this validator refuses its tokens ([`ValidationError::KeyManagerNotAnswered`]), as the key
    /// service's own validators do.
    ///
    /// [`ValidationError::KeyManagerNotAnswered`]: super::ValidationError::KeyManagerNotAnswered
    pub fn key_manager_answered(&self, key_manager: &str, answered: bool) {
        let Some(state) = self.following.get() else {
            return;
        };
        let mut set = state.not_answered.write().unwrap_or_else(|p| p.into_inner());
        let changed = if answered {
            set.remove(key_manager)
        } else {
            set.insert(key_manager.to_owned())
        };
        state.any_not_answered.store(!set.is_empty(), Ordering::Release);
        if changed {
            tracing::info!(key_manager, answered, "the key service changed what it answers for");
        }
    }

    /// Whether the followed event stream has delivered its backlog (`true` when no stream is followed).
    pub fn events_caught_up(&self) -> bool {
        self.following.get().is_none_or(|f| f.unsure().is_none())
    }
}

async fn follow_once(
    validator: &Weak<TokenValidator>,
    client: &reqwest::Client,
    url: &url::Url,
    credential: &str,
    state: &Following,
) -> Ended {
    let mut request = client
        .get(url.clone())
        .bearer_auth(credential)
        .header(reqwest::header::ACCEPT, "text/event-stream");
    let last = state.last_id.load(Ordering::Acquire);
    if last > 0 {
        request = request.header("last-event-id", last.to_string());
    }
    let mut response = match request.send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => return Ended::Failed(format!("the event stream answered {}", r.status())),
        Err(e) => return Ended::Failed(format!("cannot reach the event stream: {}", crate::error::chain(&e))),
    };
    state.touch();
    let mut parser = SseParser::default();
    loop {
        let chunk = match tokio::time::timeout(STALE_AFTER, response.chunk()).await {
            Err(_) => return Ended::Failed("nothing arrived on the event stream in time".into()),
            Ok(Err(e)) => return Ended::Failed(format!("the event stream broke: {}", crate::error::chain(&e))),
            Ok(Ok(None)) => return Ended::Failed("the event stream ended".into()),
            Ok(Ok(Some(bytes))) => bytes,
        };
        state.touch();
        let events = match parser.push(&chunk) {
            Ok(events) => events,
            Err(e) => return Ended::Failed(e.into()),
        };
        let Some(v) = validator.upgrade() else {
            return Ended::Dropped;
        };
        for (kind, data) in events {
            match kind.as_str() {
                "revoked" | "notice" => match serde_json::from_str::<GatewayEvent>(&data) {
                    Ok(e) => {
                        if let Some(revoked) = &e.revoked {
                            v.revoked(&e.key_manager, revoked);
                        }
                        match &e.notice {
                            Some(GatewayNotice::KeyManagerState { enabled }) => {
                                v.key_manager_answered(&e.key_manager, *enabled)
                            }
                            Some(GatewayNotice::SigningKeys { retired }) => {
                                tracing::info!(key_manager = %e.key_manager, ?retired, "signing keys changed");
                                v.signing_keys_changed(&e.key_manager);
                            }
                            None => {}
                        }
                        state.last_id.fetch_max(e.id, Ordering::AcqRel);
                    }
                    Err(e) => tracing::warn!(error = %e, "a gateway event does not read; skipped"),
                },
                "caught-up" => state.mark_caught_up(),
                _ => {}
            }
        }
    }
}

/// The `text/event-stream` reader (WHATWG HTML, "Server-sent events", §9.2.6): lines end in LF, CRLF or CR; a
/// blank line dispatches; `:` starts a comment; `event` names the event (`message` when absent); `data` lines are
/// joined with LF. `id` is read from the data here (the entries carry their number), so it is ignored.
#[derive(Debug, Default)]
struct SseParser {
    line: Vec<u8>,
    event: String,
    data: String,
    /// The last byte was CR (a following LF belongs to the same line end).
    after_cr: bool,
}

impl SseParser {
    fn push(&mut self, bytes: &[u8]) -> Result<Vec<(String, String)>, &'static str> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.after_cr && b == b'\n' {
                self.after_cr = false;
                continue;
            }
            self.after_cr = b == b'\r';
            if b == b'\n' || b == b'\r' {
                let line = std::mem::take(&mut self.line);
                self.line_done(&String::from_utf8_lossy(&line), &mut out);
            } else {
                self.line.push(b);
                if self.line.len() + self.data.len() > MAX_EVENT_BYTES {
                    return Err("an event on the stream is too large");
                }
            }
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &str, out: &mut Vec<(String, String)>) {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            let data = std::mem::take(&mut self.data);
            if !data.is_empty() {
                out.push((if event.is_empty() { "message".into() } else { event }, data));
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SseParser;

    #[test]
    fn events_split_anywhere_read_the_same() {
        let stream = b": keep-alive\r\nid: 7\r\nevent: revoked\r\ndata: {\"a\":1}\r\n\r\nevent: caught-up\ndata: 7\n\n";
        for cut in 0..stream.len() {
            let mut p = SseParser::default();
            let mut got = p.push(&stream[..cut]).expect("first part");
            got.extend(p.push(&stream[cut..]).expect("second part"));
            assert_eq!(
                got,
                vec![
                    ("revoked".to_owned(), "{\"a\":1}".to_owned()),
                    ("caught-up".to_owned(), "7".to_owned())
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn multi_line_data_is_joined_and_an_oversized_event_is_refused() {
        let mut p = SseParser::default();
        assert_eq!(
            p.push(b"data: a\ndata: b\n\n").expect("read"),
            vec![("message".to_owned(), "a\nb".to_owned())]
        );
        let big = vec![b'x'; super::MAX_EVENT_BYTES + 1];
        assert!(p.push(&big).is_err());
    }
}
