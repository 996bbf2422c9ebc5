//! Login sessions of the login page (OpenID Connect Core §3.1.2.1): once a user has signed in, a client's later
//! authorization request in the same browser needs no new password, unless it asks for `prompt=login` or a
//! `max_age` the session is older than; `prompt=none` is answered from the session alone. What the user allowed each
//! client is remembered for the session, so a request for the same scopes needs no new consent. ID tokens carry the
//! session's `sid`; RP-initiated logout ends it and revokes the grants made in it.
//!
//! The browser holds a random cookie; the store keeps its SHA-256. The session's `sid` is a different random value,
//! so an ID token never carries what would open the session.

use keymanager::connector_kit::model::seconds_after;
use keymanager::connector_kit::Result;

use crate::crypto;
use crate::grants::{AuthorizeError, CheckedRequest};
use crate::server::ResidentServer;
use crate::store::LoginSession;
use crate::users::ResourceOwner;

/// The login-session cookie.
pub const SESSION_COOKIE: &str = "km_session";

/// What an authorization request needs next, given the browser's session.
#[derive(Debug)]
pub enum NextStep {
    /// The user must sign in with a password.
    Login,
    /// The user is signed in and must allow the client its scopes.
    Consent(LoginSession),
    /// The user is signed in and allowed this before: the code can be issued at once.
    Issue(LoginSession),
}

impl LoginSession {
    /// The user who signed in, as the grants see them.
    pub fn owner(&self) -> ResourceOwner {
        ResourceOwner {
            subject: self.subject.clone(),
            username: self.username.clone(),
            roles: self.roles.clone(),
        }
    }
}

impl ResidentServer {
    /// Start a login session for a user who has just authenticated; returns the cookie value to set, and the
    /// session.
    pub async fn start_session(&self, owner: &ResourceOwner) -> Result<(String, LoginSession)> {
        let cookie = crypto::random_token(32);
        let at = self.store.now();
        let session = LoginSession {
            session_hash: crypto::hash(&cookie),
            sid: crypto::random_token(16),
            subject: owner.subject.clone(),
            username: owner.username.clone(),
            roles: owner.roles.clone(),
            auth_time: at,
            expires_at: seconds_after("login_session_lifetime", at, self.settings.login_session_lifetime)?,
        };
        self.store.insert_session(&session).await?;
        Ok((cookie, session))
    }

    /// The live session a cookie value opens, if any.
    pub async fn session(&self, cookie: &str) -> Result<Option<LoginSession>> {
        self.store.find_session(&crypto::hash(cookie)).await
    }

    /// Whether the user allowed the request's client every one of its scopes in this session.
    pub async fn consented(&self, session: &LoginSession, req: &CheckedRequest) -> Result<bool> {
        let Some(allowed) = self.store.session_consent(&session.sid, &req.client.client_id).await? else {
            return Ok(false);
        };
        let allowed = keymanager::connector_kit::model::scope_tokens(&allowed);
        Ok(req.scopes.iter().all(|s| allowed.contains(s)))
    }

    /// Remember that the user allowed the request's client its scopes in this session (with what it allowed
    /// before).
    pub async fn record_consent(&self, session: &LoginSession, req: &CheckedRequest) -> Result<()> {
        let mut scopes = self
            .store
            .session_consent(&session.sid, &req.client.client_id)
            .await?
            .map(|s| keymanager::connector_kit::model::Scopes::from_peer(&s))
            .unwrap_or_default();
        for s in &req.scopes {
            scopes.push(s.clone());
        }
        self.store
            .record_consent(&session.sid, &req.client.client_id, &scopes.to_string())
            .await
    }

    /// End session `sid`: the browser must sign in again, and every grant made in the session (its refresh tokens,
    /// and by rule its access tokens) is revoked. Returns whether a live session ended.
    pub async fn end_session(&self, sid: &str) -> Result<bool> {
        let ended = self.store.end_session(sid, self.revocation_horizon()?).await?;
        if ended {
            tracing::info!("a login session ended");
        }
        Ok(ended)
    }

    /// How long a rule revoking a grant made now must be kept: until the last access or refresh token it could
    /// have issued has expired.
    pub(crate) fn revocation_horizon(&self) -> Result<i64> {
        let now = self.store.now();
        Ok(self.max_token_expiry(now)?.max(seconds_after(
            "refresh_token_lifetime",
            now,
            self.settings.refresh_token_lifetime,
        )?))
    }

    /// What a checked authorization request needs next, given the browser's `session` (Core §3.1.2.1): `prompt`,
    /// `max_age` and earlier consent decide. `prompt=none` never shows a page: without a fresh session it is
    /// `login_required`, without earlier consent `consent_required`.
    pub async fn next_step(
        &self,
        req: &CheckedRequest,
        session: Option<LoginSession>,
    ) -> Result<std::result::Result<NextStep, AuthorizeError>> {
        let now = self.store.now();
        // A session is fresh enough when the user authenticated at most `max_age` seconds ago; `max_age=0` asks for
        // an authentication now, whatever the clock says (as `prompt=login`).
        let fresh = session.filter(|s| {
            req.max_age
                .is_none_or(|m| m > 0 && now.saturating_sub(s.auth_time) <= m)
        });
        if req.prompt.none {
            let Some(session) = fresh else {
                return Ok(Err(req.refusal("login_required", "the user must sign in")));
            };
            if !self.consented(&session, req).await? {
                return Ok(Err(
                    req.refusal("consent_required", "the user must allow this client its scopes")
                ));
            }
            return Ok(Ok(NextStep::Issue(session)));
        }
        Ok(Ok(match fresh {
            None => NextStep::Login,
            Some(_) if req.prompt.login => NextStep::Login,
            Some(s) if req.prompt.consent || !self.consented(&s, req).await? => NextStep::Consent(s),
            Some(s) => NextStep::Issue(s),
        }))
    }
}
