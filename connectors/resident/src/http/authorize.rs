//! `/oauth2/authorize` (RFC 6749 §4.1): a login-and-consent page, no JavaScript, protected against CSRF with a
//! double-submit cookie. Errors about the client or the redirect URI are shown on the page; the others go back
//! to the client's redirect URI with `iss` (RFC 9207).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::Form;
use super::AppState;
use crate::crypto;
use crate::grants::{redirect_with, AuthorizationRequest, AuthorizeError, CheckedRequest};

use super::pages::{error_page, escape, page, CSRF_COOKIE};

fn redirect(to: &str) -> Response {
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

fn hidden(name: &str, value: Option<&str>) -> String {
    value
        .map(|v| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(v)))
        .unwrap_or_default()
}

fn login_page(
    app: &AppState,
    req: &AuthorizationRequest,
    checked: &CheckedRequest,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let csrf = crypto::random_token(24);
    let scopes = if checked.scopes.is_empty() {
        "<p>It asks for no scopes.</p>".to_owned()
    } else {
        format!(
            "<p>It asks for:</p><ul>{}</ul>",
            checked
                .scopes
                .iter()
                .map(|s| format!("<li><code>{}</code></li>", escape(s)))
                .collect::<String>()
        )
    };
    let alert = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1><p><strong>{client}</strong> wants to access your account.</p>{scopes}{alert}\
         <form method=\"post\" action=\"/oauth2/authorize\">{csrf_field}{fields}\
         <label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required autofocus{hint}>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Sign in and allow</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button></form>",
        client = escape(&checked.client.name),
        hint = req
            .login_hint
            .as_deref()
            .map(|h| format!(" value=\"{}\"", escape(h)))
            .unwrap_or_default(),
        csrf_field = hidden("csrf", Some(&csrf)),
        fields = [
            hidden("client_id", req.client_id.as_deref()),
            hidden("redirect_uri", req.redirect_uri.as_deref()),
            hidden("response_type", req.response_type.as_deref()),
            hidden("scope", req.scope.as_deref()),
            hidden("state", req.state.as_deref()),
            hidden("code_challenge", req.code_challenge.as_deref()),
            hidden("code_challenge_method", req.code_challenge_method.as_deref()),
            hidden("nonce", req.nonce.as_deref()),
            hidden("prompt", req.prompt.as_deref()),
            hidden("max_age", req.max_age.as_deref()),
            hidden("login_hint", req.login_hint.as_deref()),
        ]
        .concat(),
    );
    let secure = app.server.settings().issuer.starts_with("https://");
    page(status, "Sign in", body, Some((&csrf, secure)))
}

pub(crate) async fn show(State(app): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let form = Form::parse(query.unwrap_or_default().as_bytes());
    let req = match authorization_request(&form) {
        Ok(req) => req,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    match app.server.check_authorization(&req).await {
        Ok(checked) => login_page(&app, &req, &checked, None, StatusCode::OK),
        Err(e) => refuse(&app, e),
    }
}

/// The authorization request a query or a posted form carries. RFC 6749 §3.1: no parameter may appear twice; a
/// repeated one is refused with the message to show on the page, never redirected (which redirect URI to trust is
/// unclear).
fn authorization_request(form: &Form) -> Result<AuthorizationRequest, String> {
    if let Some(name) = form.repeated() {
        return Err(format!("parameter `{name}` is repeated"));
    }
    let field = |k: &str| form.get(k).ok().flatten().map(str::to_owned);
    Ok(AuthorizationRequest {
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
    })
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&format!("{name}=")).map(str::to_owned))
}

pub(crate) async fn submit(
    State(app): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Form::parse(&body);
    let req = match authorization_request(&form) {
        Ok(req) => req,
        Err(why) => return error_page(StatusCode::BAD_REQUEST, &why),
    };
    let field = |k: &str| form.get(k).ok().flatten().map(str::to_owned);
    // CSRF: the form's token must equal the cookie set with the page.
    let csrf_ok = match (field("csrf"), cookie(&headers, CSRF_COOKIE)) {
        (Some(f), Some(c)) => aws_lc_rs::constant_time::verify_slices_are_equal(f.as_bytes(), c.as_bytes()).is_ok(),
        _ => false,
    };
    if !csrf_ok {
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
        return login_page(
            &app,
            &req,
            &checked,
            Some("Enter your username and password."),
            StatusCode::BAD_REQUEST,
        );
    };
    let address = super::client_address(&extensions);
    let owner = match app.server.authenticate_user(&username, &password, address).await {
        Ok(Some(o)) => o,
        Ok(None) => {
            return login_page(
                &app,
                &req,
                &checked,
                Some("Wrong username or password."),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(keymanager::Error::RateLimited { retry_after, .. }) => {
            let wait = retry_after.map(|d| d.as_secs()).unwrap_or(60);
            let mut page = login_page(
                &app,
                &req,
                &checked,
                Some(&format!("Too many failed sign-ins. Try again in {wait} seconds.")),
                StatusCode::TOO_MANY_REQUESTS,
            );
            page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
            return page;
        }
        Err(keymanager::Error::Busy { retry_after, .. }) => {
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
    match app.server.create_code(&checked, &owner).await {
        Ok(code) => redirect(&app.server.code_redirect(&checked, &code)),
        Err(e) => {
            tracing::error!(error = %e, "cannot store an authorization code");
            error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server cannot complete the request now. Try again later.",
            )
        }
    }
}
