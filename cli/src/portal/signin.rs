//! Signing in to the portal: the authorization code flow with PKCE (S256) at the resident key manager, the portal
//! being a confidential client of its own server (registered at start). The browser goes through the resident's
//! own login and consent page; the portal exchanges the code, introspects the token for who it speaks for, and keeps
//! both tokens in the session. Signing out revokes them.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Deserialize;
use tower::ServiceExt;

use super::session::{self, Session};
use super::{pages, Portal, PortalState};

/// The scopes the portal asks for: a developer's, and an administrator's where the user's roles allow it.
const SCOPES: &str = "keymanager:apps keymanager:admin";

/// A token endpoint's answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
}

/// An introspection answer (RFC 7662), what the portal needs of it.
#[derive(Deserialize)]
struct Introspection {
    active: bool,
    sub: Option<String>,
    scope: Option<String>,
}

impl Portal {
    /// POST a form to the resident's endpoint `path`, as the portal's client.
    async fn oauth_post(&self, path: &str, form: &[(&str, &str)]) -> Result<(StatusCode, Vec<u8>), String> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let basic = STANDARD.encode(format!("{}:{}", self.client.id, self.client.secret));
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .body(Body::from(body))
            .map_err(|e| e.to_string())?;
        let resp = self.oauth.clone().oneshot(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .map_err(|e| e.to_string())?;
        Ok((status, bytes.to_vec()))
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, String> {
        let (status, bytes) = self.oauth_post("/oauth2/token", form).await?;
        if !status.is_success() {
            return Err(format!("the token endpoint answered {status}"));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("the token endpoint answered unreadable JSON: {e}"))
    }

    /// A session for a fresh token answer.
    async fn session_for(&self, t: TokenAnswer) -> Result<Session, String> {
        let (status, bytes) = self
            .oauth_post("/oauth2/introspect", &[("token", &t.access_token)])
            .await?;
        let info: Introspection = match status.is_success() {
            true => serde_json::from_slice(&bytes).map_err(|e| format!("unreadable introspection: {e}"))?,
            false => return Err(format!("introspection answered {status}")),
        };
        if !info.active {
            return Err("the new token is not active".into());
        }
        let scopes = info.scope.unwrap_or_default();
        let admin = scopes.split(' ').any(|s| s == keymanager::api::access::SCOPE_ADMIN);
        Session::new(
            info.sub.unwrap_or_default(),
            admin,
            t.access_token,
            lifetime(t.expires_in),
            t.refresh_token,
        )
        .ok_or_else(|| "the system has no randomness".to_owned())
    }

    /// The session's access token, refreshed first when it is about to expire; `None`: sign in again.
    pub(super) async fn fresh_token(&self, id: &str, s: &Session) -> Option<String> {
        if s.expires.saturating_duration_since(std::time::Instant::now()) > Duration::from_secs(30) {
            return Some(s.access_token.clone());
        }
        let refresh = s.refresh_token.as_deref()?;
        match self
            .token(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
            .await
        {
            Ok(t) => {
                let access = t.access_token.clone();
                self.sessions
                    .update(id, t.access_token, lifetime(t.expires_in), t.refresh_token);
                Some(access)
            }
            Err(e) => {
                tracing::info!(error = %e, "a portal session could not be refreshed; signing in again");
                self.sessions.remove(id);
                None
            }
        }
    }

    fn redirect_uri(&self) -> String {
        format!("{}/portal/callback", self.public_url)
    }
}

fn lifetime(expires_in: Option<u64>) -> Duration {
    Duration::from_secs(expires_in.unwrap_or(300).min(86_400))
}

/// `GET /portal/signin`: to the resident's authorization endpoint, with PKCE.
pub(super) async fn signin(State(p): State<PortalState>) -> Response {
    let (Some(state), Some(verifier)) = (session::random(), session::random()) else {
        return pages::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server cannot sign you in now; try again.",
        );
    };
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    p.sessions.begin(&state, verifier);
    let mut url = match url::Url::parse(&format!("{}/oauth2/authorize", p.public_url)) {
        Ok(u) => u,
        Err(_) => return pages::problem(StatusCode::INTERNAL_SERVER_ERROR, "The portal's address is not a URL."),
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &p.client.id)
        .append_pair("redirect_uri", &p.redirect_uri())
        .append_pair("scope", SCOPES)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut resp = Redirect::to(url.as_str()).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(session::LOGIN_COOKIE, Some(&state), p.secure),
    );
    resp
}

/// The authorization response.
#[derive(Deserialize)]
pub(super) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /portal/callback`: the code for tokens, and a session.
pub(super) async fn callback(State(p): State<PortalState>, headers: HeaderMap, Query(cb): Query<Callback>) -> Response {
    let bound = session::cookie(&headers, session::LOGIN_COOKIE);
    let pending = match (&cb.state, &bound) {
        (Some(s), Some(b)) if s == b => p.sessions.finish(s),
        _ => None,
    };
    let Some(pending) = pending else {
        return pages::problem(
            StatusCode::BAD_REQUEST,
            "This sign-in link is stale or was not started in this browser. Sign in again.",
        );
    };
    if let Some(error) = cb.error {
        let text = match error.as_str() {
            "access_denied" => "You did not allow the portal to act for you.".to_owned(),
            other => format!("The sign-in was refused ({other})."),
        };
        return pages::problem(StatusCode::FORBIDDEN, &text);
    }
    let Some(code) = cb.code else {
        return pages::problem(
            StatusCode::BAD_REQUEST,
            "The sign-in answer has no code. Sign in again.",
        );
    };
    let redirect_uri = p.redirect_uri();
    let exchanged = p
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &pending.verifier),
        ])
        .await;
    let session = match exchanged {
        Ok(t) => p.session_for(t).await,
        Err(e) => Err(e),
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "a portal sign-in failed");
            return pages::problem(
                StatusCode::BAD_GATEWAY,
                "The sign-in could not be completed. Sign in again.",
            );
        }
    };
    let Some(id) = p.sessions.insert(session) else {
        return pages::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server cannot sign you in now; try again.",
        );
    };
    let mut resp = Redirect::to("/portal/applications").into_response();
    let h = resp.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(session::COOKIE, Some(&id), p.secure),
    );
    h.append(
        header::SET_COOKIE,
        session::set_cookie(session::LOGIN_COOKIE, None, p.secure),
    );
    resp
}

/// `POST /portal/signout`: revoke the session's tokens and end it.
pub(super) async fn signout(
    State(p): State<PortalState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<super::handlers::CsrfOnly>,
) -> Response {
    let id = session::cookie(&headers, session::COOKIE).unwrap_or_default();
    let Some(s) = p.sessions.get(&id) else {
        return Redirect::to("/portal").into_response();
    };
    if !session::csrf_ok(&s, &form.csrf) {
        return pages::problem(
            StatusCode::FORBIDDEN,
            "This form has expired. Go back, reload the page and try again.",
        );
    }
    p.sessions.remove(&id);
    for (token, hint) in [
        (s.refresh_token.as_deref(), "refresh_token"),
        (Some(s.access_token.as_str()), "access_token"),
    ] {
        if let Some(t) = token {
            if let Err(e) = p
                .oauth_post("/oauth2/revoke", &[("token", t), ("token_type_hint", hint)])
                .await
            {
                tracing::warn!(error = %e, "a signed-out session's token could not be revoked");
            }
        }
    }
    let mut resp = Redirect::to("/portal").into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(session::COOKIE, None, p.secure));
    resp
}
