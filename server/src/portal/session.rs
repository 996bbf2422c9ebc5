//! Portal sessions: who is signed in in which browser. A session lives in this process (an opaque 256-bit id in an
//! HttpOnly, SameSite=Lax cookie, Secure under TLS), holds the user's access and refresh tokens (never sent to the
//! browser) and a CSRF token every form must carry.
//!
//! Nothing an anonymous caller does takes room here: a sign-in in progress (its `state`, PKCE verifier and
//! provider) travels in its own browser's cookie, sealed (AES-256-GCM under the server's secret key, bound to its
//! purpose) and dated, so a flood of `GET /portal/signin` fills no table. Sessions are capped per user
//! ([`MAX_PER_USER`], the user's own oldest go first), and when the whole table is full the oldest session of the
//! user holding the most goes: one user signing in again and again evicts only their own sessions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The session cookie.
pub(super) const COOKIE: &str = "km_portal";
/// The cookie that binds a sign-in in progress to its browser.
pub(super) const LOGIN_COOKIE: &str = "km_portal_login";
/// A session ends after this long without use.
const IDLE: Duration = Duration::from_secs(8 * 3600);
/// A sign-in must come back within this long.
const PENDING: Duration = Duration::from_secs(600);
/// At most this many sessions are kept.
const MAX: usize = 10_000;
/// At most this many sessions of one user; past it, that user's oldest goes.
pub(super) const MAX_PER_USER: usize = 20;
/// What a sealed sign-in cookie is bound to (a value sealed for anything else does not open as one).
const PENDING_CONTEXT: &str = "portal sign-in in progress";

/// 256 random bits, base64url; `None` when the system has no randomness to give.
pub(super) fn random() -> Option<String> {
    let mut buf = [0u8; 32];
    aws_lc_rs::rand::fill(&mut buf).ok()?;
    Some(URL_SAFE_NO_PAD.encode(buf))
}

/// A signed-in user.
#[derive(Clone)]
pub(super) struct Session {
    /// Who (the token's subject).
    pub user: String,
    /// Whether the token grants `keymanager:admin`.
    pub admin: bool,
    /// The key manager signed in through.
    pub provider: String,
    /// The access token the portal calls the management API with.
    pub access_token: String,
    /// When it expires.
    pub expires: Instant,
    /// The refresh token, revoked at sign-out.
    pub refresh_token: Option<String>,
    /// The ID token of the sign-in, the `id_token_hint` of the logout at the resident.
    pub id_token: Option<String>,
    /// The CSRF token of this session's forms.
    pub csrf: String,
    /// What the next `GET /portal/shown` shows, once (Post/Redirect/Get: a reload never resubmits a form).
    flash: Option<Flash>,
    last_used: Instant,
}

/// A page a successful form leads to, shown once after its redirect: a secret shown once, or a test token.
#[derive(Clone)]
pub(super) enum Flash {
    /// A new secret: (title, back link, consumer key, secret, whether the key manager shows it again).
    Secret {
        /// What happened ("Keys generated").
        title: String,
        /// Where "continue" goes.
        back: String,
        /// The consumer key, for new keys.
        consumer_key: Option<String>,
        /// The secret, this once.
        secret: String,
        /// Whether the key manager keeps secrets retrievable.
        shown_again: bool,
    },
    /// A test token.
    Token {
        /// Where "back" goes.
        back: String,
        /// The token.
        access_token: String,
        /// Its scopes.
        scopes: keymanager::model::Scopes,
        /// Its lifetime.
        validity: Option<u64>,
    },
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user", &self.user)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session for these tokens; `None` without randomness for its CSRF token.
    pub fn new(
        user: String,
        admin: bool,
        provider: String,
        access_token: String,
        lifetime: Duration,
        refresh_token: Option<String>,
        id_token: Option<String>,
    ) -> Option<Self> {
        let now = Instant::now();
        Some(Session {
            user,
            admin,
            provider,
            access_token,
            expires: now + lifetime,
            refresh_token,
            id_token,
            csrf: random()?,
            flash: None,
            last_used: now,
        })
    }
}

/// A sign-in in progress: its `state`, PKCE verifier, where it signs in, and when it began (seconds since the
/// epoch), as its sealed cookie carries it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Pending {
    state: String,
    pub verifier: String,
    pub provider: String,
    at: u64,
}

impl Pending {
    /// A sign-in beginning now.
    pub fn new(state: String, verifier: String, provider: &str) -> Self {
        Pending {
            state,
            verifier,
            provider: provider.to_owned(),
            at: unix_now(),
        }
    }

    /// The cookie value: sealed, so the browser can neither read the verifier nor forge a sign-in.
    pub fn seal(&self, sealing: &keymanager::server_kit::SecretBox) -> Option<String> {
        let json = serde_json::to_string(self).ok()?;
        sealing.seal(&json, PENDING_CONTEXT).ok()
    }

    /// The sign-in a cookie carries, when it opens, answers this `state` and is younger than [`PENDING`].
    pub fn open(sealing: &keymanager::server_kit::SecretBox, cookie: &str, state: &str) -> Option<Pending> {
        let json = sealing.open(cookie, PENDING_CONTEXT).ok()?;
        let p: Pending = serde_json::from_str(&json).ok()?;
        let fresh = unix_now().checked_sub(p.at).is_some_and(|age| age < PENDING.as_secs());
        (fresh && p.state == state).then_some(p)
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The sessions of this process.
#[derive(Default)]
pub(super) struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Keep a new session; its id (`None` without randomness).
    pub fn insert(&self, session: Session) -> Option<String> {
        let id = random()?;
        let mut all = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|_, s| s.last_used.elapsed() < IDLE);
        let oldest_of = |all: &HashMap<String, Session>, user: &str| {
            all.iter()
                .filter(|(_, s)| s.user == user)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
        };
        if all.values().filter(|s| s.user == session.user).count() >= MAX_PER_USER {
            if let Some(k) = oldest_of(&all, &session.user) {
                all.remove(&k);
            }
        }
        if all.len() >= MAX {
            // The user holding the most sessions gives one up: never someone with fewer than the newcomer's user.
            let mut per_user: HashMap<&str, usize> = HashMap::new();
            for s in all.values() {
                *per_user.entry(s.user.as_str()).or_default() += 1;
            }
            let heaviest = per_user.into_iter().max_by_key(|(_, n)| *n).map(|(u, _)| u.to_owned());
            if let Some(k) = heaviest.and_then(|u| oldest_of(&all, &u)) {
                all.remove(&k);
            }
        }
        all.insert(id.clone(), session);
        Some(id)
    }

    /// The session of this id, when it is alive (and marks it used).
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut all = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let s = all.get_mut(id)?;
        if s.last_used.elapsed() >= IDLE {
            all.remove(id);
            return None;
        }
        s.last_used = Instant::now();
        Some(s.clone())
    }

    /// Replace a session's tokens (after a refresh).
    pub fn update(&self, id: &str, access_token: String, lifetime: Duration, refresh_token: Option<String>) {
        if let Some(s) = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).get_mut(id) {
            s.access_token = access_token;
            s.expires = Instant::now() + lifetime;
            if refresh_token.is_some() {
                s.refresh_token = refresh_token;
            }
        }
    }

    /// Keep what the next `GET /portal/shown` shows.
    pub fn set_flash(&self, id: &str, flash: Flash) {
        if let Some(s) = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).get_mut(id) {
            s.flash = Some(flash);
        }
    }

    /// Take what a redirect leads to show (once).
    pub fn take_flash(&self, id: &str) -> Option<Flash> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(id)?
            .flash
            .take()
    }

    /// End a session; what it held.
    pub fn remove(&self, id: &str) -> Option<Session> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(id)
    }

    /// How many sessions `user` holds.
    #[cfg(test)]
    fn count_of(&self, user: &str) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|s| s.user == user)
            .count()
    }
}

/// The value of cookie `name` in a request.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value for the portal's path; `None` clears the cookie.
pub(super) fn set_cookie(name: &str, value: Option<&str>, secure: bool) -> HeaderValue {
    let mut text = match value {
        Some(v) => format!("{name}={v}; Path=/portal; HttpOnly; SameSite=Lax"),
        None => format!("{name}=; Path=/portal; HttpOnly; SameSite=Lax; Max-Age=0"),
    };
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("km_portal=; Max-Age=0"))
}

/// Whether a form's CSRF token is the session's (constant time).
pub(super) fn csrf_ok(session: &Session, presented: &str) -> bool {
    !session.csrf.is_empty()
        && presented.len() == session.csrf.len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(presented.as_bytes(), session.csrf.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; km_portal=abc; b=2"));
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), None);
    }

    #[test]
    fn a_form_token_must_be_the_sessions_own() {
        let s = session("alice");
        assert!(csrf_ok(&s, &s.csrf.clone()));
        assert!(!csrf_ok(&s, "forged"));
        assert!(!csrf_ok(&s, ""));
    }

    fn session(user: &str) -> Session {
        Session::new(
            user.into(),
            false,
            "resident".into(),
            "t".into(),
            Duration::from_secs(60),
            None,
            None,
        )
        .unwrap()
    }

    #[test]
    fn one_user_signing_in_again_and_again_evicts_only_their_own_sessions() {
        let all = Sessions::default();
        let alice = all.insert(session("alice")).unwrap();
        let bob = all.insert(session("bob")).unwrap();
        for _ in 0..500 {
            all.insert(session("mallory")).unwrap();
        }
        assert_eq!(all.count_of("mallory"), MAX_PER_USER);
        assert!(all.get(&alice).is_some() && all.get(&bob).is_some());
    }

    #[test]
    fn a_sign_in_in_progress_lives_in_its_sealed_cookie() {
        let key = format!("k1:{}", keymanager::server_kit::new_key().unwrap());
        let sealing = keymanager::server_kit::SecretBox::from_text(&key).unwrap();
        let cookie = Pending::new("st".into(), "verifier".into(), "resident")
            .seal(&sealing)
            .unwrap();
        assert!(
            !cookie.contains("verifier"),
            "the verifier is not readable in the cookie"
        );
        let back = Pending::open(&sealing, &cookie, "st").unwrap();
        assert_eq!(
            (back.verifier.as_str(), back.provider.as_str()),
            ("verifier", "resident")
        );
        assert!(
            Pending::open(&sealing, &cookie, "other-state").is_none(),
            "bound to its state"
        );
        let mut forged = cookie.clone();
        forged.replace_range(forged.len() - 3.., "AAA");
        assert!(Pending::open(&sealing, &forged, "st").is_none(), "altered");
        let other =
            keymanager::server_kit::SecretBox::from_text(&format!("k2:{}", keymanager::server_kit::new_key().unwrap()))
                .unwrap();
        assert!(Pending::open(&other, &cookie, "st").is_none(), "another key");
        let stale = Pending {
            at: unix_now() - PENDING.as_secs(),
            ..Pending::new("st".into(), "v".into(), "r")
        };
        assert!(
            Pending::open(&sealing, &stale.seal(&sealing).unwrap(), "st").is_none(),
            "older than 10 minutes"
        );
    }
}
