//! `/oauth2/authorize` (RFC 6749 §4.1): a login-and-consent page, no JavaScript, protected against CSRF with a
//! double-submit cookie. Errors about the client or the redirect URI are shown on the page; the others go back
//! to the client's redirect URI with `iss` (RFC 9207). A signed-in browser carries a login session
//! ([`crate::login_session`]): then the page asks only for consent, or none at all when it was given before.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::Form;
use super::AppState;
use crate::grants::{redirect_with, AuthorizationRequest, AuthorizeError, CheckedRequest};
use crate::login_session::{NextStep, SESSION_COOKIE};
use crate::store::LoginSession;

use super::pages::{cookie, csrf_ok, error_page, escape, new_csrf, page};

pub(crate) fn redirect(to: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn refuse(app: &AppState, e: AuthorizeError) -> Response {
    match e {
        AuthorizeError::Show(message) => error_page(StatusCode::BAD_REQUEST, &message),
        AuthorizeError::Redirect {
            redirect_uri,
            error,
            description,
            state,
        } => redirect(&redirect_with(
            &redirect_uri,
            &[
                ("error", Some(error)),
                ("error_description", Some(&description)),
                ("state", state.as_deref()),
                ("iss", Some(&app.server.settings().issuer)),
            ],
        )),
    }
}

pub(crate) fn hidden(name: &str, value: Option<&str>) -> String {
    value
        .map(|v| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(v)))
        .unwrap_or_default()
}

/// The authorization request's parameters, as (name, value) pairs: carried through the login and consent forms.
fn request_params(req: &AuthorizationRequest) -> [(&'static str, Option<&str>); 12] {
    [
        ("request_uri", req.request_uri.as_deref()),
        ("client_id", req.client_id.as_deref()),
        ("redirect_uri", req.redirect_uri.as_deref()),
        ("response_type", req.response_type.as_deref()),
        ("scope", req.scope.as_deref()),
        ("state", req.state.as_deref()),
        ("code_challenge", req.code_challenge.as_deref()),
        ("code_challenge_method", req.code_challenge_method.as_deref()),
        ("nonce", req.nonce.as_deref()),
        ("prompt", req.prompt.as_deref()),
        ("max_age", req.max_age.as_deref()),
        ("login_hint", req.login_hint.as_deref()),
    ]
}

fn hidden_fields(req: &AuthorizationRequest) -> String {
    request_params(req).iter().map(|(k, v)| hidden(k, *v)).collect()
}

/// What a scope means to a person: the description registered for it at this server, else the one the server
/// knows for its own scopes, else the scope's name.
fn scope_meaning(scope: &str, registered: &[keymanager::connector_kit::model::Scope]) -> String {
    if let Some(d) = registered
        .iter()
        .find(|s| s.name == scope)
        .and_then(|s| s.description.clone().or_else(|| s.display_name.clone()))
    {
        return d;
    }
    match scope {
        "openid" => "Know who you are (your user id)",
        "profile" => "See your name",
        "email" => "See your email address",
        "offline_access" => "Keep access while you are away",
        "keymanager:apps" => "Manage your applications and their keys",
        "keymanager:admin" => "Administer keymanager: every application, key manager and user",
        other => other,
    }
    .to_owned()
}

/// The scopes asked for, as people read them: each one's meaning (and its name), only those the user can be
/// granted (`roles`, once the user is known; before, the role-bound ones say so).
async fn scope_list(app: &AppState, checked: &CheckedRequest, roles: Option<&[String]>) -> String {
    let registered = app.server.store().list_scopes().await.unwrap_or_default();
    let shown: Vec<&String> = checked
        .scopes
        .iter()
        .filter(|s| roles.is_none_or(|r| crate::users::may_be_granted(r, s)))
        .collect();
    if shown.is_empty() {
        return "<p>It asks for no access to your account beyond signing you in.</p>".to_owned();
    }
    let items: String = shown
        .iter()
        .map(|s| {
            let role_note = if roles.is_none() && crate::users::needs_a_role(s) {
                " <span class=\"hint\">(only if your account may)</span>"
            } else {
                ""
            };
            format!(
                "<li>{}{role_note} <span class=\"hint\"><code>{}</code></span></li>",
                escape(&scope_meaning(s, &registered)),
                escape(s)
            )
        })
        .collect();
    format!("<p>It asks to:</p><ul class=\"scopes\">{items}</ul>")
}

/// Links to the client's privacy policy and terms, when it registered them.
fn client_links(checked: &CheckedRequest) -> String {
    let meta =
        crate::client_metadata::ClientMetadata::of_record(&checked.client.additional_properties).unwrap_or_default();
    let links: Vec<String> = [
        ("Privacy policy", &meta.policy_uri),
        ("Terms of service", &meta.tos_uri),
    ]
    .into_iter()
    .filter_map(|(label, uri)| {
        uri.as_ref()
            .map(|u| format!("<a href=\"{}\" rel=\"noopener noreferrer\">{label}</a>", escape(u)))
    })
    .collect();
    if links.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"links\">{} of {}</p>",
            links.join(" · "),
            escape(&checked.client.name)
        )
    }
}

/// The consent page of a signed-in user: allow or deny, or sign in as someone else (`prompt=login`).
async fn consent_page(
    app: &AppState,
    headers: &HeaderMap,
    req: &AuthorizationRequest,
    checked: &CheckedRequest,
    session: &LoginSession,
) -> Response {
    // Awaited first: neither `format!`'s arguments nor the serializer below may live across an await (not `Send`).
    let scopes = scope_list(app, checked, Some(&session.roles)).await;
    let csrf = new_csrf(headers);
    let mut again = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in request_params(req) {
        if let (Some(v), true) = (v, k != "prompt") {
            again.append_pair(k, v);
        }
    }
    again.append_pair("prompt", "login");
    let body = format!(
        "<h1>Allow <strong>{client}</strong>?</h1><p>You are signed in as <strong>{user}</strong>.</p>{scopes}{links}\
         <form method=\"post\" action=\"/oauth2/authorize\">{csrf_field}{fields}<div class=\"actions\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">Deny</button></div></form>\
         <p><a href=\"/oauth2/authorize?{again}\">Not {user}? Sign in as someone else</a></p>",
        user = escape(&session.username),
        client = escape(&checked.client.name),
        links = client_links(checked),
        csrf_field = hidden("csrf", Some(&csrf)),
        fields = hidden_fields(req),
        again = escape(&again.finish()),
    );
    let secure = app.server.settings().issuer.starts_with("https://");
    page(StatusCode::OK, "Allow access", body, Some((&csrf, secure)))
}

/// The browser's live login session, if its cookie opens one. A store that cannot be read counts as no session
/// (the user is asked to sign in; that answer then says what is wrong).
async fn current_session(app: &AppState, headers: &HeaderMap) -> Option<LoginSession> {
    let value = cookie(headers, SESSION_COOKIE)?;
    match app.server.session(&value).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a login session");
            None
        }
    }
}

/// The `Set-Cookie` value of a new login session.
pub(crate) fn session_cookie(app: &AppState, value: &str) -> Option<HeaderValue> {
    let settings = app.server.settings();
    let secure = if settings.issuer.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/oauth2; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        settings.login_session_lifetime
    ))
    .ok()
}

/// Issue the code for a checked request in a session and send the browser back to the client; `new_cookie` is the
/// session cookie to set when the session has just begun.
async fn issue_code(
    app: &AppState,
    checked: &CheckedRequest,
    session: &LoginSession,
    new_cookie: Option<&str>,
) -> Response {
    // A pushed request starts one authorization: used up before its code exists.
    if let Some(uri) = &checked.pushed {
        if let Err(e) = app.server.use_up_pushed(uri).await {
            return unavailable(&e);
        }
    }
    match app.server.create_code(checked, session).await {
        Ok(code) => {
            let mut resp = redirect(&app.server.code_redirect(checked, &code));
            if let Some(v) = new_cookie.and_then(|c| session_cookie(app, c)) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot store an authorization code");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server cannot complete the request now. Try again later.",
            )
        }
    }
}

fn unavailable(e: &keymanager::connector_kit::Error) -> Response {
    tracing::error!(error = %e, "cannot read the login session's state");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The server cannot complete the request now. Try again later.",
    )
}

async fn login_page(
    app: &AppState,
    headers: &HeaderMap,
    req: &AuthorizationRequest,
    checked: &CheckedRequest,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = new_csrf(headers);
    let scopes = scope_list(app, checked, None).await;
    let alert = error
        .map(|e| format!("<div class=\"error-summary\" role=\"alert\"><p>{}</p></div>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1><p><strong>{client}</strong> asks you to sign in.</p>{alert}\
         <form method=\"post\" action=\"/oauth2/authorize\">{csrf_field}{fields}\
         <div class=\"field\"><label for=\"username\">Username</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus{hint}></div>\
         <div class=\"field\"><label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></div>\
         {scopes}{links}<div class=\"actions\">\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Sign in and allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\" formnovalidate>Deny</button>\
         </div></form>",
        client = escape(&checked.client.name),
        links = client_links(checked),
        hint = req
            .login_hint
            .as_deref()
            .map(|h| format!(" value=\"{}\"", escape(h)))
            .unwrap_or_default(),
        csrf_field = hidden("csrf", Some(&csrf)),
        fields = hidden_fields(req),
    );
    let secure = app.server.settings().issuer.starts_with("https://");
    page(status, "Sign in", body, Some((&csrf, secure)))
}

pub(crate) async fn show(State(app): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let form = Form::parse(query.unwrap_or_default().as_bytes());
    let req = match authorization_request(&app, &form).await {
        Ok(req) => req,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let checked = match app.server.check_authorization(&req).await {
        Ok(checked) => checked,
        Err(e) => return refuse(&app, e),
    };
    let session = current_session(&app, &headers).await;
    match app.server.next_step(&checked, session).await {
        Ok(Ok(NextStep::Login)) => login_page(&app, &headers, &req, &checked, None, StatusCode::OK).await,
        Ok(Ok(NextStep::Consent(session))) => consent_page(&app, &headers, &req, &checked, &session).await,
        Ok(Ok(NextStep::Issue(session))) => issue_code(&app, &checked, &session, None).await,
        Ok(Err(refusal)) => refuse(&app, refusal),
        Err(e) => unavailable(&e),
    }
}

/// The authorization request a query or a posted form carries. RFC 6749 §3.1: no parameter may appear twice; a
/// repeated one is refused with the message to show on the page, never redirected (which redirect URI to trust is
/// unclear).
///
/// With `request_uri` (RFC 9126 §4) the parameters are the pushed request's, for the `client_id` sent beside it;
/// any other parameter sent is ignored.
pub(crate) async fn authorization_request(app: &AppState, form: &Form) -> Result<AuthorizationRequest, String> {
    if let Some(name) = form.repeated() {
        return Err(format!("parameter `{name}` is repeated"));
    }
    let field = |k: &str| form.get(k).ok().flatten().map(str::to_owned);
    if let Some(uri) = field("request_uri") {
        let client_id = field("client_id").ok_or("client_id is missing")?;
        return app
            .server
            .pushed_authorization(&client_id, &uri)
            .await
            .map_err(AuthorizeError::into_text);
    }
    Ok(parameters(form))
}

/// The parameters of an authorization request as a form or query spells them.
pub(crate) fn parameters(form: &Form) -> AuthorizationRequest {
    let field = |k: &str| form.get(k).ok().flatten().map(str::to_owned);
    AuthorizationRequest {
        client_id: field("client_id"),
        redirect_uri: field("redirect_uri"),
        response_type: field("response_type"),
        scope: field("scope"),
        state: field("state"),
        code_challenge: field("code_challenge"),
        code_challenge_method: field("code_challenge_method"),
        nonce: field("nonce"),
        prompt: field("prompt"),
        max_age: field("max_age"),
        login_hint: field("login_hint"),
        request_uri: None,
    }
}

pub(crate) async fn submit(
    State(app): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let req = match authorization_request(&app, &form).await {
        Ok(req) => req,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let field = |k: &str| form.get(k).ok().flatten().map(str::to_owned);
    // CSRF: the form's token must equal the cookie set with the page, and be bound to this browser's session.
    let secure = app.server.settings().issuer.starts_with("https://");
    if !csrf_ok(&headers, field("csrf").as_deref(), secure) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The form's security token is missing or stale. Go back to the application and start again.",
        );
    }
    let checked = match app.server.check_authorization(&req).await {
        Ok(c) => c,
        Err(e) => return refuse(&app, e),
    };
    if field("decision").as_deref() != Some("approve") {
        return refuse(
            &app,
            AuthorizeError::Redirect {
                redirect_uri: checked.redirect_uri.clone(),
                error: "access_denied",
                description: "the user denied the request".into(),
                state: checked.state.clone(),
            },
        );
    }
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        // The consent form of a signed-in user: the session must still meet the request.
        let session = current_session(&app, &headers).await;
        let asked_for_login = field("username").is_some() || field("password").is_some();
        return match app.server.next_step(&checked, session).await {
            Ok(Ok(NextStep::Consent(session) | NextStep::Issue(session))) if !asked_for_login => {
                if let Err(e) = app.server.record_consent(&session, &checked).await {
                    return unavailable(&e);
                }
                issue_code(&app, &checked, &session, None).await
            }
            Ok(Ok(_)) => {
                login_page(
                    &app,
                    &headers,
                    &req,
                    &checked,
                    Some("Enter your username and password."),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            Ok(Err(refusal)) => refuse(&app, refusal),
            Err(e) => unavailable(&e),
        };
    };
    let address = super::client_address(&extensions);
    let owner = match app.server.authenticate_user(&username, &password, address).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            return login_page(
                &app,
                &headers,
                &req,
                &checked,
                Some("Wrong username or password."),
                StatusCode::UNAUTHORIZED,
            )
            .await
        }
        Err(keymanager::connector_kit::Error::RateLimited { retry_after, .. }) => {
            let wait = retry_after.map(|d| d.as_secs()).unwrap_or(60);
            let mut page = login_page(
                &app,
                &headers,
                &req,
                &checked,
                Some(&format!("Too many failed sign-ins. Try again in {wait} seconds.")),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await;
            page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return page;
        }
        Err(keymanager::connector_kit::Error::Busy { retry_after, .. }) => {
            let mut page = error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy. Try again in a moment.",
            );
            page.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
            return page;
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a user's password");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server cannot sign you in now. Try again later.",
            );
        }
    };
    // Signed in: a new login session, in which the user has just allowed this client its scopes.
    let started = async {
        let (cookie, session) = app.server.start_session(&owner).await?;
        app.server.record_consent(&session, &checked).await?;
        Ok::<_, keymanager::connector_kit::Error>((cookie, session))
    };
    match started.await {
        Ok((cookie, session)) => issue_code(&app, &checked, &session, Some(&cookie)).await,
        Err(e) => unavailable(&e),
    }
}
