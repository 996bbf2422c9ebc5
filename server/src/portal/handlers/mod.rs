//! One handler per portal page or form. Each reads the session, checks the form's CSRF token, calls the management
//! API as the user (see [`super::api`]) and renders the answer; a refusal is shown next to the field it names.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use keymanager::api::dto::{
    ApplicationDto, AuditListDto, CreateApplicationDto, CreateSecretDto, CreatedSecretDto, ErrorDto, FieldErrorDto,
    GenerateKeysDto, GenerateTokenDto, KeyDto, KeyManagerDto, ListDto, RegeneratedDto, SecretDto, TokenDto,
};
use serde::Deserialize;
use serde_json::Value;

use super::api::{Failure, Origin};
use super::forms::{Csrf, CsrfOnly, DeleteSecret, HtmlForm, Named, NewKeys, NewSecret, TryToken};
use super::pages::{self, Form, KeyPanel, Nav};
use super::session::{self, Flash, Session};
use super::PortalState;

mod admin;
mod applications;
mod keys;

pub(super) use admin::*;
pub(super) use applications::*;
pub(super) use keys::*;

/// The signed-in caller of a page.
pub(super) struct Ctx {
    id: String,
    session: Session,
    origin: Origin,
}

impl Ctx {
    fn nav<'a>(&'a self, here: &'a str) -> Nav<'a> {
        Nav {
            user: &self.session.user,
            admin: self.session.admin,
            csrf: &self.session.csrf,
            here,
        }
    }
}

/// Why a page has no caller.
pub(super) enum NoCtx {
    /// No session: the front page, to sign in.
    SignIn,
    /// A form whose CSRF token is not the session's.
    Forged,
}

impl IntoResponse for NoCtx {
    fn into_response(self) -> Response {
        match self {
            NoCtx::SignIn => Redirect::to("/portal").into_response(),
            NoCtx::Forged => pages::problem(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this portal. Go back, reload the page and try again.",
            ),
        }
    }
}

/// The session of this browser, or the way to sign in.
fn ctx(p: &PortalState, headers: &HeaderMap, origin: Origin) -> Result<Ctx, NoCtx> {
    let id = session::cookie(headers, session::COOKIE).unwrap_or_default();
    match p.sessions.get(&id) {
        Some(session) => Ok(Ctx { id, session, origin }),
        None => Err(NoCtx::SignIn),
    }
}

/// The session, for a form whose CSRF token matches it.
fn form_ctx(p: &PortalState, headers: &HeaderMap, origin: Origin, f: &impl Csrf) -> Result<Ctx, NoCtx> {
    let c = ctx(p, headers, origin)?;
    if !session::csrf_ok(&c.session, f.csrf().trim()) {
        return Err(NoCtx::Forged);
    }
    Ok(c)
}

/// What a failure becomes when no form shows it: sign in again, or a page saying what went wrong.
fn failed(f: Failure) -> Response {
    match f {
        Failure::SignIn => Redirect::to("/portal/signin").into_response(),
        Failure::Refused { status, error } => pages::problem(status, &error.description),
    }
}

/// A failure the portal finds itself, in the API's shape, so it shows beside its field.
fn local(field: &str, message: &str) -> Failure {
    Failure::Refused {
        status: StatusCode::BAD_REQUEST,
        error: ErrorDto {
            code: 400,
            message: "Bad Request".into(),
            description: message.into(),
            errors: vec![FieldErrorDto {
                field: field.into(),
                message: message.into(),
            }],
        },
    }
}

async fn call<T: serde::de::DeserializeOwned>(
    p: &PortalState,
    c: &Ctx,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<T, Failure> {
    p.api((&c.id, &c.session), &c.origin, method, path, body).await
}

/// Send a typed body (a management-API DTO).
async fn send<T: serde::de::DeserializeOwned, B: serde::Serialize>(
    p: &PortalState,
    c: &Ctx,
    method: Method,
    path: &str,
    body: &B,
) -> Result<T, Failure> {
    let body = serde_json::to_value(body).map_err(|e| local("body", &format!("cannot be written: {e}")))?;
    call(p, c, method, path, Some(&body)).await
}

/// A form's scope field, as a person typed it ([`keymanager::model::Scopes::typed`]).
fn scopes_field(typed: &str) -> Result<keymanager::model::Scopes, Failure> {
    keymanager::model::Scopes::typed(typed.trim()).map_err(|why| local("scopes", &why))
}

fn seg(text: &str) -> String {
    crate::path_segment(text)
}

// ----- pages -----

/// `GET /portal`.
pub(super) async fn home(State(p): State<PortalState>, headers: HeaderMap) -> Response {
    match ctx(&p, &headers, Origin::default()) {
        Ok(_) => Redirect::to("/portal/applications").into_response(),
        Err(_) => pages::landing(&p.sign_in_choices()),
    }
}

/// Post/Redirect/Get: keep the page a successful form leads to in the session, once, and send the browser to
/// `GET /portal/shown` (303): a reload shows nothing again and resubmits nothing.
fn show_once(p: &PortalState, c: &Ctx, flash: Flash) -> Response {
    p.sessions.set_flash(&c.id, flash);
    Redirect::to("/portal/shown").into_response()
}

/// `GET /portal/shown`: the page a form led to, this once; after that, back to the applications.
pub(super) async fn shown(State(p): State<PortalState>, headers: HeaderMap, origin: Origin) -> Response {
    let c = match ctx(&p, &headers, origin) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    match p.sessions.take_flash(&c.id) {
        Some(Flash::Secret {
            title,
            back,
            consumer_key,
            secret,
            shown_again,
        }) => pages::render(
            StatusCode::OK,
            &title,
            Some(&c.nav("applications")),
            pages::secret_once(&back, &title, consumer_key.as_deref(), &secret, shown_again),
        ),
        Some(Flash::Token {
            back,
            access_token,
            scopes,
            validity,
        }) => pages::render(
            StatusCode::OK,
            "Test token",
            Some(&c.nav("applications")),
            pages::token(&back, &access_token, claims(&access_token).as_ref(), &scopes, validity),
        ),
        None => Redirect::to("/portal/applications").into_response(),
    }
}

/// `GET /portal/static/portal.css`.
pub(super) async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        keymanager_resident::STYLESHEET,
    )
        .into_response()
}

/// `GET /portal/static/favicon.svg`: the icon browsers ask every page for (without it, each page logs a 404).
pub(super) async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../assets/favicon.svg"),
    )
        .into_response()
}

/// `GET /portal/static/portal.js`.
pub(super) async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/portal.js"),
    )
        .into_response()
}
