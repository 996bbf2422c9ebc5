//! `/oauth2/logout`, the end-session endpoint (OpenID Connect RP-Initiated Logout 1.0): ends the browser's login
//! session and revokes the grants made in it, then sends the user to a `post_logout_redirect_uri` the client
//! registered (compared exactly, with `state`), or shows that they are signed out.
//!
//! With a valid `id_token_hint` for the browser's session (same `sid`), the client proves the logout was meant and
//! it happens at once; otherwise the user confirms it on a page (a form with a CSRF token). A hint this server did not
//! sign, or a redirect URI the client did not register, is shown as an error and never redirected to; without a
//! valid hint the user is never redirected at all (the signed-out page is shown). Errors are HTML pages, as the
//! route table says of this route.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::authorize::{hidden, redirect};
use super::client_auth::Form;
use super::pages::{cookie, csrf_ok, error_page, new_csrf, page};
use super::AppState;
use crate::client_metadata::ClientMetadata;
use crate::grants::redirect_with;
use crate::login_session::SESSION_COOKIE;
use crate::server::ACCESS_TOKEN_TYP;

/// The parameters of a logout request (RP-Initiated Logout §2).
#[derive(Debug, Default)]
struct LogoutRequest {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// What the hint says, once its signature is checked.
struct Hint {
    subject: String,
    audience: Vec<String>,
    sid: Option<String>,
}

fn parse(form: &Form) -> Result<LogoutRequest, String> {
    if let Some(name) = form.repeated() {
        return Err(format!("parameter `{name}` is repeated"));
    }
    let field = |k: &str| form.get(k).ok().flatten().map(str::to_owned);
    Ok(LogoutRequest {
        id_token_hint: field("id_token_hint"),
        client_id: field("client_id"),
        post_logout_redirect_uri: field("post_logout_redirect_uri"),
        state: field("state"),
    })
}

/// An ID token this server signed (expired or not, as §2 allows); `Err` with the message to show otherwise.
async fn hint(app: &AppState, token: &str) -> Result<Hint, Response> {
    let invalid = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "The id_token_hint is not an ID token this server issued.",
        )
    };
    let (header, claims) = match app.server.verify_own_jwt(token).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(invalid()),
        Err(e) => return Err(unavailable(&e)),
    };
    let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
    if header.get("typ").and_then(Value::as_str) == Some(ACCESS_TOKEN_TYP)
        || text("iss").as_deref() != Some(app.server.settings().issuer.as_str())
    {
        return Err(invalid());
    }
    let audience = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => return Err(invalid()),
    };
    let subject = text("sub").ok_or_else(invalid)?;
    Ok(Hint {
        subject,
        audience,
        sid: text("sid"),
    })
}

fn unavailable(e: &keymanager::connector_kit::Error) -> Response {
    tracing::error!(error = %e, "the end-session endpoint cannot reach its store");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The server cannot sign you out now. Try again later.",
    )
}

/// Where to send the user afterwards: a URI the client registered, exactly; `Err` with the page to show.
async fn post_logout_target(
    app: &AppState,
    req: &LogoutRequest,
    hint: Option<&Hint>,
) -> Result<Option<String>, Response> {
    let Some(uri) = &req.post_logout_redirect_uri else {
        return Ok(None);
    };
    let client_id = match (&req.client_id, hint) {
        (Some(c), Some(h)) if !h.audience.contains(c) => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "The client_id is not the audience of the id_token_hint.",
            ))
        }
        (Some(c), _) => c.clone(),
        (None, Some(h)) if h.audience.len() == 1 => h.audience[0].clone(),
        _ => {
            return Err(error_page(
                StatusCode::BAD_REQUEST,
                "A post_logout_redirect_uri needs the client: send client_id or id_token_hint.",
            ))
        }
    };
    let client = match app.server.store().get_client(&client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(error_page(StatusCode::BAD_REQUEST, "The client is unknown.")),
        Err(e) => return Err(unavailable(&e)),
    };
    let registered = ClientMetadata::of_record(&client.additional_properties)
        .map(|m| m.post_logout_redirect_uris.iter().any(|r| r == uri))
        .unwrap_or(false);
    if !registered {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "The post_logout_redirect_uri is not registered for this client.",
        ));
    }
    Ok(Some(redirect_with(uri, &[("state", req.state.as_deref())])))
}

/// The page that asks the user to confirm, carrying the request in hidden fields.
fn confirm_page(app: &AppState, headers: &HeaderMap, req: &LogoutRequest) -> Response {
    let csrf = new_csrf(headers);
    let fields = [
        hidden("csrf", Some(&csrf)),
        hidden("id_token_hint", req.id_token_hint.as_deref()),
        hidden("client_id", req.client_id.as_deref()),
        hidden("post_logout_redirect_uri", req.post_logout_redirect_uri.as_deref()),
        hidden("state", req.state.as_deref()),
    ]
    .concat();
    let body = format!(
        "<h1>Sign out</h1><p>Sign out of this server? Applications you signed in to through it will need you to sign \
         in again.</p><form method=\"post\" action=\"/oauth2/logout\">{fields}\
         <button type=\"submit\" name=\"confirm\" value=\"yes\">Sign out</button></form>"
    );
    let secure = app.server.settings().issuer.starts_with("https://");
    page(StatusCode::OK, "Sign out", body, Some((&csrf, secure)))
}

/// End the sessions, clear the cookie, and answer.
async fn finish(app: &AppState, sids: &[String], target: Option<String>) -> Response {
    for sid in sids {
        if let Err(e) = app.server.end_session(sid).await {
            return unavailable(&e);
        }
    }
    let mut resp = match target {
        Some(to) => redirect(&to),
        None => page(
            StatusCode::OK,
            "Signed out",
            "<h1>You are signed out</h1><p>You can close this window.</p>".into(),
            None,
        ),
    };
    let secure = if app.server.settings().issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/oauth2; Max-Age=0; HttpOnly; SameSite=Lax{secure}"
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn end_session(app: &AppState, headers: &HeaderMap, form: &Form, posted: bool) -> Response {
    let req = match parse(form) {
        Ok(r) => r,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let hint = match &req.id_token_hint {
        Some(token) => match hint(app, token).await {
            Ok(h) => Some(h),
            Err(page) => return page,
        },
        None => None,
    };
    let target = match post_logout_target(app, &req, hint.as_ref()).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let session = match cookie(headers, SESSION_COOKIE) {
        Some(value) => match app.server.session(&value).await {
            Ok(s) => s,
            Err(e) => return unavailable(&e),
        },
        None => None,
    };
    // The hint proves the logout was meant when it speaks of this browser's session (or there is none to end).
    let proven = hint.as_ref().is_some_and(|h| match &session {
        None => true,
        Some(s) => match &h.sid {
            Some(sid) => *sid == s.sid,
            None => h.subject == s.subject,
        },
    });
    let secure = app.server.settings().issuer.starts_with("https://");
    let confirmed = posted
        && form.get("confirm").ok().flatten() == Some("yes")
        && csrf_ok(headers, form.get("csrf").ok().flatten(), secure);
    if session.is_some() && !proven && !confirmed {
        return confirm_page(app, headers, &req);
    }
    // Only a valid hint earns a redirect (RP-Initiated Logout §3): without one, nobody proved the client asked for
    // this logout, so the user sees the signed-out page and is sent nowhere.
    let target = target.filter(|_| hint.is_some());
    let mut sids: Vec<String> = session.into_iter().map(|s| s.sid).collect();
    if let Some(sid) = hint.and_then(|h| h.sid).filter(|_| proven) {
        if !sids.contains(&sid) {
            sids.push(sid);
        }
    }
    finish(app, &sids, target).await
}

pub(crate) async fn show(State(app): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let form = Form::parse(query.unwrap_or_default().as_bytes());
    end_session(&app, &headers, &form, false).await
}

pub(crate) async fn submit(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Form::parse(&body);
    end_session(&app, &headers, &form, true).await
}
