//! Portal sessions: who is signed in in which browser. A session lives in this process (an opaque 256-bit id in an
//! HttpOnly, SameSite=Lax cookie, Secure under TLS), holds the user's access and refresh tokens (never sent to the
//! browser) and a CSRF token every form must carry.

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
/// At most this many sessions and sign-ins in progress are kept; the oldest go first.
const MAX: usize = 10_000;

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
    last_used: Instant,
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
            last_used: now,
        })
    }
}

/// A sign-in in progress: its PKCE verifier and where it signs in.
pub(super) struct Pending {
    pub verifier: String,
    pub provider: String,
    at: Instant,
}

/// The sessions and sign-ins of this process.
#[derive(Default)]
pub(super) struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Sessions {
    /// Keep a new session; its id (`None` without randomness).
    pub fn insert(&self, session: Session) -> Option<String> {
        let id = random()?;
        let mut all = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|_, s| s.last_used.elapsed() < IDLE);
        if all.len() >= MAX {
            if let Some(oldest) = all.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| k.clone()) {
                all.remove(&oldest);
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

    /// End a session; what it held.
    pub fn remove(&self, id: &str) -> Option<Session> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(id)
    }

    /// Remember a sign-in in progress under its `state`.
    pub fn begin(&self, state: &str, verifier: String, provider: &str) {
        let mut all = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|_, p| p.at.elapsed() < PENDING);
        if all.len() >= MAX {
            return;
        }
        all.insert(
            state.to_owned(),
            Pending {
                verifier,
                provider: provider.to_owned(),
                at: Instant::now(),
            },
        );
    }

    /// Take the sign-in in progress of this `state` (once).
    pub fn finish(&self, state: &str) -> Option<Pending> {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(state)?;
        (p.at.elapsed() < PENDING).then_some(p)
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
        let s = Session::new(
            "alice".into(),
            false,
            "resident".into(),
            "t".into(),
            Duration::from_secs(60),
            None,
            None,
        )
        .unwrap();
        assert!(csrf_ok(&s, &s.csrf.clone()));
        assert!(!csrf_ok(&s, "forged"));
        assert!(!csrf_ok(&s, ""));
    }
}
