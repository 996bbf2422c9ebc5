//! Signing in to the portal: the authorization code flow with PKCE (S256) at a key manager people sign in through
//! ([`Provider`]): the resident (the portal is a confidential client of its own server, registered at start; its
//! token, introspection and revocation endpoints called in-process) or another key manager of `[server]
//! api_identity` from `[[portal.sign_in]]` (its endpoints from its discovery document). The portal exchanges the
//! code, learns who the token speaks for, and keeps the tokens in the session (never in the browser). Signing out
//! revokes them where the provider can.

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
use super::{pages, Portal, PortalState, Provider, Way};

/// A token endpoint's answer (RFC 6749 §5.1), what the portal needs of it.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
    refresh_token: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
}

/// An introspection answer (RFC 7662), what the portal needs of it.
#[derive(Deserialize)]
struct Introspection {
    active: bool,
    sub: Option<String>,
    scope: Option<String>,
}

/// Which endpoint of a provider.
#[derive(Clone, Copy)]
enum Endpoint {
    Token,
    Introspection,
    Revocation,
    /// RFC 9126.
    PushedAuthorization,
}

impl Portal {
    fn provider(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// POST a form to a provider's endpoint as the portal's client; `None` when the provider has no such endpoint.
    async fn post(
        &self,
        p: &Provider,
        endpoint: Endpoint,
        form: &[(&str, &str)],
    ) -> Result<Option<(StatusCode, Vec<u8>)>, String> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let basic = format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", p.client.id, p.client.secret))
        );
        match &p.way {
            Way::Resident(oauth) => {
                let path = match endpoint {
                    Endpoint::Token => "/oauth2/token",
                    Endpoint::Introspection => "/oauth2/introspect",
                    Endpoint::Revocation => "/oauth2/revoke",
                    Endpoint::PushedAuthorization => "/oauth2/par",
                };
                let req = Request::post(path)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::AUTHORIZATION, basic)
                    .body(Body::from(body))
                    .map_err(|e| e.to_string())?;
                let resp = oauth.clone().oneshot(req).await.map_err(|e| e.to_string())?;
                let status = resp.status();
                let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Some((status, bytes.to_vec())))
            }
            Way::External(e) => {
                let url = match endpoint {
                    Endpoint::Token => Some(&e.token_endpoint),
                    Endpoint::Revocation => e.revocation_endpoint.as_ref(),
                    Endpoint::PushedAuthorization => e.pushed_authorization_request_endpoint.as_ref(),
                    Endpoint::Introspection => None,
                };
                let Some(url) = url else { return Ok(None) };
                // Through the core HTTP kit: its timeouts and size limit; a code exchange is never retried.
                let idempotency = match endpoint {
                    Endpoint::Token | Endpoint::PushedAuthorization => keymanager::http::Idempotency::NonIdempotent,
                    _ => keymanager::http::Idempotency::Idempotent,
                };
                let request = self
                    .http
                    .post(url)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::AUTHORIZATION, basic)
                    .body(body);
                let resp = self
                    .http
                    .send(request, idempotency)
                    .await
                    .map_err(|e| keymanager::error::chain(&e))?;
                let status = StatusCode::from_u16(resp.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
                Ok(Some((status, resp.body)))
            }
        }
    }

    async fn token(&self, p: &Provider, form: &[(&str, &str)]) -> Result<TokenAnswer, String> {
        let Some((status, bytes)) = self.post(p, Endpoint::Token, form).await? else {
            return Err("no token endpoint".into());
        };
        if !status.is_success() {
            return Err(format!("the token endpoint answered {status}"));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("the token endpoint answered unreadable JSON: {e}"))
    }

    /// A session for a fresh token answer: who it speaks for, by introspection at the resident, else by the ID
    /// token (received directly from the token endpoint, OpenID Connect Core §3.1.3.7) or a JWT access token.
    async fn session_for(&self, p: &Provider, t: TokenAnswer) -> Result<Session, String> {
        let (user, scopes) = match self
            .post(p, Endpoint::Introspection, &[("token", &t.access_token)])
            .await?
        {
            Some((status, bytes)) if status.is_success() => {
                let info: Introspection =
                    serde_json::from_slice(&bytes).map_err(|e| format!("unreadable introspection: {e}"))?;
                if !info.active {
                    return Err("the new token is not active".into());
                }
                (info.sub, info.scope)
            }
            Some((status, _)) => return Err(format!("introspection answered {status}")),
            None => {
                let sub = [t.id_token.as_deref(), Some(t.access_token.as_str())]
                    .into_iter()
                    .flatten()
                    .find_map(|jwt| claim(jwt, "sub"));
                (sub, t.scope.clone())
            }
        };
        let admin = keymanager::model::scope_tokens(&scopes.unwrap_or_default())
            .iter()
            .any(|s| s == keymanager::api::access::SCOPE_ADMIN);
        let user = user.unwrap_or_else(|| format!("a user of {}", p.name));
        Session::new(
            user,
            admin,
            p.name.clone(),
            t.access_token,
            lifetime(t.expires_in),
            t.refresh_token,
            t.id_token,
        )
        .ok_or_else(|| "the system has no randomness".to_owned())
    }

    /// The session's access token, refreshed first when it is about to expire; `None`: sign in again.
    pub(super) async fn fresh_token(&self, id: &str, s: &Session) -> Option<String> {
        if s.expires.saturating_duration_since(std::time::Instant::now()) > Duration::from_secs(30) {
            return Some(s.access_token.clone());
        }
        let (Some(refresh), Some(p)) = (s.refresh_token.as_deref(), self.provider(&s.provider)) else {
            self.sessions.remove(id);
            return None;
        };
        match self
            .token(p, &[("grant_type", "refresh_token"), ("refresh_token", refresh)])
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

    /// The ways to sign in, for the front page: (query value, label).
    pub(super) fn sign_in_choices(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|p| (p.name.clone(), p.label.clone()))
            .collect()
    }
}

/// A claim of a JWT, read without verifying it (for display only: the management API validates every call).
fn claim(jwt: &str, name: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get(name)?.as_str().map(str::to_owned)
}

fn lifetime(expires_in: Option<u64>) -> Duration {
    Duration::from_secs(expires_in.unwrap_or(300).min(86_400))
}

/// `GET /portal/signin[?with=KEY_MANAGER]`.
#[derive(Deserialize)]
pub(super) struct SignInQuery {
    with: Option<String>,
}

/// `GET /portal/signin`: to the provider's authorization endpoint, with PKCE.
pub(super) async fn signin(State(p): State<PortalState>, Query(q): Query<SignInQuery>) -> Response {
    let provider = match &q.with {
        Some(name) => p.provider(name),
        None => p.providers.first(),
    };
    let Some(provider) = provider else {
        return pages::problem(StatusCode::NOT_FOUND, "There is no such way to sign in.");
    };
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
    let authorize = match &provider.way {
        Way::Resident(_) => format!("{}/oauth2/authorize", p.public_url),
        Way::External(e) => e.authorization_endpoint.clone(),
    };
    let mut url = match url::Url::parse(&authorize) {
        Ok(u) => u,
        Err(_) => return pages::problem(StatusCode::INTERNAL_SERVER_ERROR, "The sign-in address is not a URL."),
    };
    let Some(pending) = session::Pending::new(state.clone(), verifier, &provider.name).seal(&p.sealing) else {
        return pages::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server cannot sign you in now; try again.",
        );
    };
    let redirect_uri = p.redirect_uri();
    let params = [
        ("response_type", "code"),
        ("client_id", provider.client.id.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("scope", provider.scopes.as_str()),
        ("state", state.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // RFC 9126: where the provider requires pushed requests, the parameters go there (authenticated, out of the
    // browser's reach) and the browser carries only the request_uri. Not elsewhere: a push is a row in the
    // provider's store, and anyone may begin a sign-in.
    let pushed = match provider.push {
        true => p.post(provider, Endpoint::PushedAuthorization, &params).await,
        false => Ok(None),
    };
    match pushed {
        Ok(None) => {
            url.query_pairs_mut().extend_pairs(params);
        }
        Ok(Some((StatusCode::CREATED, body))) => {
            let Some(request_uri) = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("request_uri").and_then(|u| u.as_str()).map(str::to_owned))
            else {
                return pages::problem(
                    StatusCode::BAD_GATEWAY,
                    "The sign-in service answered something unreadable.",
                );
            };
            url.query_pairs_mut()
                .append_pair("client_id", &provider.client.id)
                .append_pair("request_uri", &request_uri);
        }
        other => {
            let answer = other.map(|a| a.map(|(status, _)| status));
            tracing::warn!(provider = %provider.name, ?answer, "pushing the sign-in request failed");
            return pages::problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server cannot sign you in now; try again.",
            );
        }
    }
    let mut resp = Redirect::to(url.as_str()).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(session::LOGIN_COOKIE, Some(&pending), p.secure),
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
        (Some(s), Some(b)) => session::Pending::open(&p.sealing, b, s),
        _ => None,
    };
    let Some((pending, provider)) = pending.and_then(|x| p.provider(&x.provider).map(|pr| (x, pr))) else {
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
        .token(
            provider,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", &pending.verifier),
            ],
        )
        .await;
    let session = match exchanged {
        Ok(t) => p.session_for(provider, t).await,
        Err(e) => Err(e),
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, provider = %provider.name, "a portal sign-in failed");
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

/// `POST /portal/signout`: revoke the session's tokens (where the provider can) and end it; at the provider the
/// user signed in through, end the browser's login session too (RP-Initiated Logout 1.0, with the sign-in's ID token
/// as the hint, where the provider names an `end_session_endpoint`; the resident always does), so the next sign-in in
/// this browser asks for a password again.
pub(super) async fn signout(
    State(p): State<PortalState>,
    headers: HeaderMap,
    super::forms::HtmlForm(form): super::forms::HtmlForm<super::forms::CsrfOnly>,
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
    if let Some(provider) = p.provider(&s.provider) {
        for (token, hint) in [
            (s.refresh_token.as_deref(), "refresh_token"),
            (Some(s.access_token.as_str()), "access_token"),
        ] {
            if let Some(t) = token {
                let revoked = p
                    .post(
                        provider,
                        Endpoint::Revocation,
                        &[("token", t), ("token_type_hint", hint)],
                    )
                    .await;
                if let Err(e) = revoked {
                    tracing::warn!(error = %e, "a signed-out session's token could not be revoked");
                }
            }
        }
    }
    let home = format!("{}/portal", p.public_url);
    let provider = p.provider(&s.provider);
    let end_session = match provider.map(|v| &v.way) {
        Some(Way::Resident(_)) => Some(format!("{}/oauth2/logout", p.public_url)),
        Some(Way::External(e)) => e.end_session_endpoint.clone(),
        None => None,
    };
    let next = match (end_session, provider, &s.id_token) {
        (Some(endpoint), Some(provider), Some(hint)) => end_session_url(&endpoint, hint, &provider.client.id, &home),
        _ => "/portal".to_owned(),
    };
    let mut resp = Redirect::to(&next).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::set_cookie(session::COOKIE, None, p.secure));
    resp
}

/// The RP-Initiated Logout 1.0 request (§2) that ends the provider's session of the ID token `hint` and sends the
/// browser back to `home` (which must be a registered post-logout redirect URI of the portal's client there).
fn end_session_url(endpoint: &str, hint: &str, client_id: &str, home: &str) -> String {
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("id_token_hint", hint)
        .append_pair("client_id", client_id)
        .append_pair("post_logout_redirect_uri", home);
    format!("{endpoint}{separator}{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::end_session_url;

    #[test]
    fn the_end_session_request_carries_the_hint_the_client_and_the_way_back() {
        assert_eq!(
            end_session_url(
                "https://idp.example/session/end",
                "a.b.c",
                "portal",
                "https://keys.example/portal"
            ),
            "https://idp.example/session/end?id_token_hint=a.b.c&client_id=portal&\
             post_logout_redirect_uri=https%3A%2F%2Fkeys.example%2Fportal"
        );
        assert!(
            end_session_url("https://idp.example/logout?tenant=t", "h", "c", "https://k/portal")
                .starts_with("https://idp.example/logout?tenant=t&id_token_hint=h&")
        );
    }
}
