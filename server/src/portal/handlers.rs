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

/// The applications page's query.
#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    q: String,
    page: Option<usize>,
}

const PAGE: usize = 20;

async fn applications_page(p: &PortalState, c: &Ctx, q: &ListQuery, form: &Form<'_>) -> Response {
    // The API searches and pages (name or description containing the text, any case).
    let fetch = |page_no: usize| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let needle = q.q.trim();
        if !needle.is_empty() {
            query.append_pair("query", needle);
        }
        query
            .append_pair("limit", &PAGE.to_string())
            // A page number from the address bar: no overflow, and no offset past what the API takes.
            .append_pair(
                "offset",
                &(page_no.saturating_sub(1).saturating_mul(PAGE))
                    .min(u32::MAX as usize)
                    .to_string(),
            );
        format!("/api/applications?{}", query.finish())
    };
    let wanted = q.page.unwrap_or(1).max(1);
    let mut list: ListDto<ApplicationDto> = match call(p, c, Method::GET, &fetch(wanted), None).await {
        Ok(l) => l,
        Err(e) => return failed(e),
    };
    let total = list.pagination.as_ref().map_or(list.list.len() as u64, |pg| pg.total);
    let pages_n = usize::try_from(total).unwrap_or(usize::MAX).div_ceil(PAGE).max(1);
    let page_no = wanted.min(pages_n);
    if page_no != wanted {
        list = match call(p, c, Method::GET, &fetch(page_no), None).await {
            Ok(l) => l,
            Err(e) => return failed(e),
        };
    }
    let shown = list.list;
    let status = match form.failure {
        Some(Failure::Refused { status, .. }) => *status,
        _ => StatusCode::OK,
    };
    pages::render(
        status,
        "Applications",
        Some(&c.nav("applications")),
        pages::applications(&c.nav("applications"), &shown, &q.q, page_no, pages_n, form),
    )
}

/// `GET /portal/applications`.
pub(super) async fn applications(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Query(q): Query<ListQuery>,
) -> Response {
    let c = match ctx(&p, &headers, origin) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    applications_page(&p, &c, &q, &Form::default()).await
}

/// `POST /portal/applications`: create one.
pub(super) async fn create_application(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    HtmlForm(f): HtmlForm<Named>,
) -> Response {
    let c = match form_ctx(&p, &headers, origin, &f) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let description = f.description.trim();
    let body = CreateApplicationDto {
        name: f.name.trim().to_owned(),
        owner: None,
        description: Some(description.to_owned()).filter(|d| !d.is_empty()),
        attributes: Default::default(),
    };
    match send::<ApplicationDto, _>(&p, &c, Method::POST, "/api/applications", &body).await {
        Ok(app) => Redirect::to(&format!("/portal/applications/{}", seg(&app.application_id))).into_response(),
        Err(Failure::SignIn) => failed(Failure::SignIn),
        Err(e) => {
            let form = Form {
                failure: Some(&e),
                values: vec![
                    ("name", f.name.trim().to_owned()),
                    ("description", description.to_owned()),
                ],
            };
            applications_page(&p, &c, &ListQuery::default(), &form).await
        }
    }
}

/// The application page's query.
#[derive(Deserialize, Default)]
pub(super) struct AppQuery {
    #[serde(rename = "keyType")]
    key_type: Option<String>,
}

fn key_type_of(text: Option<&str>) -> &'static str {
    match text.map(str::to_ascii_lowercase).as_deref() {
        Some("sandbox") => "sandbox",
        _ => "production",
    }
}

async fn application_page(
    p: &PortalState,
    c: &Ctx,
    app_id: &str,
    key_type: &str,
    form: &Form<'_>,
    failed_km: Option<&str>,
) -> Response {
    let base = format!("/api/applications/{}", seg(app_id));
    let app: ApplicationDto = match call(p, c, Method::GET, &base, None).await {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    let kms: ListDto<KeyManagerDto> = match call(p, c, Method::GET, "/api/key-managers", None).await {
        Ok(k) => k,
        Err(e) => return failed(e),
    };
    let keys: ListDto<KeyDto> = match call(p, c, Method::GET, &format!("{base}/oauth-keys"), None).await {
        Ok(k) => k,
        Err(e) => return failed(e),
    };
    let mut secrets = Vec::new();
    for km in &kms.list {
        let mine = keys
            .list
            .iter()
            .find(|k| k.key_manager == km.name && k.key_type.eq_ignore_ascii_case(key_type));
        let listed = match mine {
            Some(k) if !k.bypass_client_credentials && k.key_state == "COMPLETED" => {
                let path = format!("{base}/oauth-keys/{}/secrets", seg(&k.key_mapping_id));
                match call::<ListDto<SecretDto>>(p, c, Method::GET, &path, None).await {
                    Ok(l) => l.list,
                    // A key manager without secret listing: the keys show without a table.
                    Err(Failure::Refused { .. }) => Vec::new(),
                    Err(e) => return failed(e),
                }
            }
            _ => Vec::new(),
        };
        secrets.push(listed);
    }
    let panels: Vec<KeyPanel> = kms
        .list
        .iter()
        .zip(secrets)
        .map(|(km, secrets)| KeyPanel {
            km,
            keys: keys
                .list
                .iter()
                .find(|k| k.key_manager == km.name && k.key_type.eq_ignore_ascii_case(key_type)),
            secrets,
        })
        .collect();
    let status = match form.failure {
        Some(Failure::Refused { status, .. }) => *status,
        _ => StatusCode::OK,
    };
    let nav = c.nav("applications");
    pages::render(
        status,
        &app.name,
        Some(&nav),
        pages::application(&nav, &app, key_type, &panels, form, failed_km),
    )
}

/// `GET /portal/applications/{id}`.
pub(super) async fn application(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path(app): Path<String>,
    Query(q): Query<AppQuery>,
) -> Response {
    let c = match ctx(&p, &headers, origin) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    application_page(&p, &c, &app, key_type_of(q.key_type.as_deref()), &Form::default(), None).await
}

fn back_to(app: &str, key_type: &str) -> String {
    format!("/portal/applications/{}?keyType={key_type}", seg(app))
}

/// `POST /portal/applications/{id}/generate-keys`.
pub(super) async fn generate_keys(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path(app): Path<String>,
    HtmlForm(f): HtmlForm<NewKeys>,
) -> Response {
    let c = match form_ctx(&p, &headers, origin, &f) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(f.key_type.trim()));
    let km = f.key_manager.trim().to_owned();
    let callback = f.callback_url.trim();
    let path = format!("/api/applications/{}/generate-keys", seg(&app));
    let answer = match scopes_field(&f.scopes) {
        Ok(scopes) => {
            let body = GenerateKeysDto {
                key_type: key_type.to_ascii_uppercase(),
                key_manager: Some(km.clone()),
                grant_types_to_be_supported: f.grant_types_to_be_supported.clone(),
                callback_url: Some(callback.to_owned()).filter(|c| !c.is_empty()),
                scopes,
                validity_time: None,
                pkce_mandatory: f.pkce_mandatory,
                pkce_support_plain: f.pkce_support_plain,
                bypass_client_credentials: f.bypass_client_credentials,
                additional_properties: Default::default(),
                generate_token: false,
            };
            send::<KeyDto, _>(&p, &c, Method::POST, &path, &body).await
        }
        Err(e) => Err(e),
    };
    match answer {
        Ok(k) => match &k.consumer_secret {
            Some(secret) => {
                let flash = Flash::Secret {
                    title: "Keys generated".into(),
                    back: back_to(&app, key_type),
                    consumer_key: Some(k.consumer_key.clone()),
                    secret: secret.clone(),
                    shown_again: shows_secrets_again(&p, &c, &km).await,
                };
                show_once(&p, &c, flash)
            }
            None => Redirect::to(&back_to(&app, key_type)).into_response(),
        },
        Err(Failure::SignIn) => failed(Failure::SignIn),
        Err(e) => {
            let form = Form {
                failure: Some(&e),
                values: vec![
                    ("callbackUrl", callback.to_owned()),
                    ("scopes", f.scopes.trim().to_owned()),
                ],
            };
            application_page(&p, &c, &app, key_type, &form, Some(&km)).await
        }
    }
}

fn keys_path(app: &str, mapping: &str) -> String {
    format!("/api/applications/{}/oauth-keys/{}", seg(app), seg(mapping))
}

/// Why a form on keys cannot go on.
enum KeysRefusal {
    NoCtx(NoCtx),
    Failed(Failure),
}

impl IntoResponse for KeysRefusal {
    fn into_response(self) -> Response {
        match self {
            KeysRefusal::NoCtx(n) => n.into_response(),
            KeysRefusal::Failed(f) => failed(f),
        }
    }
}

/// A form on an application's keys: the caller (CSRF checked) and the keys as they are now.
async fn keys_form(
    p: &PortalState,
    headers: &HeaderMap,
    origin: Origin,
    f: &impl Csrf,
    app: &str,
    mapping: &str,
) -> Result<(Ctx, KeyDto), KeysRefusal> {
    let c = form_ctx(p, headers, origin, f).map_err(KeysRefusal::NoCtx)?;
    let k = call(p, &c, Method::GET, &keys_path(app, mapping), None)
        .await
        .map_err(KeysRefusal::Failed)?;
    Ok((c, k))
}

/// `POST /portal/applications/{id}/keys/{mapping}/secrets`: add a secret.
pub(super) async fn create_secret(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping)): Path<(String, String)>,
    HtmlForm(f): HtmlForm<NewSecret>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    let days = f.expires_in_days.trim();
    let description = f.description.trim();
    let expires_in = match days {
        "" => Ok(None),
        d => match d.parse::<u64>() {
            Ok(n) if (1..=3650).contains(&n) => Ok(Some(n * 86_400)),
            _ => Err(local("expiresInDays", "a whole number of days from 1 to 3650")),
        },
    };
    let created = match expires_in {
        Ok(expires_in) => {
            let body = CreateSecretDto {
                description: Some(description.to_owned()).filter(|d| !d.is_empty()),
                expires_in,
            };
            send::<CreatedSecretDto, _>(
                &p,
                &c,
                Method::POST,
                &format!("{}/secrets", keys_path(&app, &mapping)),
                &body,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(s) => {
            let flash = Flash::Secret {
                title: "Secret added".into(),
                back: back_to(&app, key_type),
                consumer_key: None,
                secret: s.secret_value.clone(),
                shown_again: shows_secrets_again(&p, &c, &k.key_manager).await,
            };
            show_once(&p, &c, flash)
        }
        Err(Failure::SignIn) => failed(Failure::SignIn),
        Err(e) => {
            // The API names `expiresIn`; the form asks for days.
            let form = Form {
                failure: Some(&e),
                values: vec![
                    ("description", description.to_owned()),
                    ("expiresInDays", days.to_owned()),
                ],
            };
            application_page(&p, &c, &app, key_type, &form, Some(&k.key_manager)).await
        }
    }
}

/// `POST /portal/applications/{id}/keys/{mapping}/secrets/{secret}/delete`.
pub(super) async fn delete_secret(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping, secret)): Path<(String, String, String)>,
    HtmlForm(f): HtmlForm<DeleteSecret>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    let path = format!(
        "{}/secrets/{}?revokeTokens={}",
        keys_path(&app, &mapping),
        seg(&secret),
        f.revoke_tokens
    );
    match call::<Value>(&p, &c, Method::DELETE, &path, None).await {
        Ok(_) => Redirect::to(&back_to(&app, key_type)).into_response(),
        Err(e) => failed(e),
    }
}

/// `POST /portal/applications/{id}/keys/{mapping}/regenerate`.
pub(super) async fn regenerate(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping)): Path<(String, String)>,
    HtmlForm(f): HtmlForm<CsrfOnly>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    let path = format!("{}/regenerate-secret", keys_path(&app, &mapping));
    match call::<RegeneratedDto>(&p, &c, Method::POST, &path, None).await {
        Ok(r) => match r.consumer_secret {
            Some(s) => {
                let flash = Flash::Secret {
                    title: "Secret regenerated".into(),
                    back: back_to(&app, key_type),
                    consumer_key: Some(r.consumer_key.clone()),
                    secret: s,
                    shown_again: shows_secrets_again(&p, &c, &k.key_manager).await,
                };
                show_once(&p, &c, flash)
            }
            None => Redirect::to(&back_to(&app, key_type)).into_response(),
        },
        Err(e) => failed(e),
    }
}

/// Whether the key manager named `km` shows its clients' secrets again (`client_secret_storage = "retrievable"`);
/// `false` when that cannot be told, so the page never promises what it cannot keep.
async fn shows_secrets_again(p: &PortalState, c: &Ctx, km: &str) -> bool {
    match call::<ListDto<KeyManagerDto>>(p, c, Method::GET, "/api/key-managers", None).await {
        Ok(list) => list
            .list
            .iter()
            .any(|k| k.name == km && k.capabilities.retrievable_secrets),
        Err(_) => false,
    }
}

/// The claims of a JWT, decoded for people to read (not verified: the token came from the key manager just now).
fn claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// `POST /portal/applications/{id}/keys/{mapping}/token`: try it.
pub(super) async fn try_token(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping)): Path<(String, String)>,
    HtmlForm(f): HtmlForm<TryToken>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    let validity = f.validity_period.trim();
    let validity = match validity {
        "" => Ok(None),
        v => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=86_400 * 365).contains(n))
            .map(Some)
            .ok_or_else(|| local("validityPeriod", "a whole number of seconds from 1 to 31536000")),
    };
    let secret = f.consumer_secret.trim();
    let issued = match validity.and_then(|validity| Ok((validity, scopes_field(&f.scopes)?))) {
        Ok((validity, scopes)) => {
            let body = GenerateTokenDto {
                consumer_secret: Some(secret.to_owned()).filter(|s| !s.is_empty()),
                validity_period: validity,
                scopes,
                ..Default::default()
            };
            send::<TokenDto, _>(
                &p,
                &c,
                Method::POST,
                &format!("{}/generate-token", keys_path(&app, &mapping)),
                &body,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match issued {
        Ok(t) => show_once(
            &p,
            &c,
            Flash::Token {
                back: back_to(&app, key_type),
                access_token: t.access_token.clone(),
                scopes: t.token_scopes.clone(),
                validity: t.validity_time,
            },
        ),
        Err(Failure::SignIn) => failed(Failure::SignIn),
        Err(e) => {
            let form = Form {
                failure: Some(&e),
                values: vec![
                    ("scopes", f.scopes.trim().to_owned()),
                    ("validityPeriod", f.validity_period.trim().to_owned()),
                ],
            };
            application_page(&p, &c, &app, key_type, &form, Some(&k.key_manager)).await
        }
    }
}

/// `POST /portal/applications/{id}/keys/{mapping}/delete`: remove the keys.
pub(super) async fn delete_keys(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((app, mapping)): Path<(String, String)>,
    HtmlForm(f): HtmlForm<CsrfOnly>,
) -> Response {
    let (c, k) = match keys_form(&p, &headers, origin, &f, &app, &mapping).await {
        Ok(found) => found,
        Err(r) => return r.into_response(),
    };
    let key_type = key_type_of(Some(&k.key_type));
    match call::<Value>(&p, &c, Method::DELETE, &keys_path(&app, &mapping), None).await {
        Ok(_) => Redirect::to(&back_to(&app, key_type)).into_response(),
        Err(e) => failed(e),
    }
}

/// `GET /portal/applications/{id}/delete`: what deleting would do, and the button.
pub(super) async fn confirm_delete(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path(app): Path<String>,
) -> Response {
    let c = match ctx(&p, &headers, origin) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let base = format!("/api/applications/{}", seg(&app));
    let found: Result<(ApplicationDto, ListDto<KeyDto>), Failure> = async {
        Ok((
            call(&p, &c, Method::GET, &base, None).await?,
            call(&p, &c, Method::GET, &format!("{base}/oauth-keys"), None).await?,
        ))
    }
    .await;
    match found {
        Ok((a, keys)) => {
            let generated = keys.list.iter().filter(|k| k.key_origin == "GENERATED").count();
            let nav = c.nav("applications");
            pages::render(
                StatusCode::OK,
                "Delete application",
                Some(&nav),
                pages::confirm_delete(&nav, &a, generated, keys.list.len() - generated),
            )
        }
        Err(e) => failed(e),
    }
}

/// `POST /portal/applications/{id}/delete`.
pub(super) async fn delete_application(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path(app): Path<String>,
    HtmlForm(f): HtmlForm<CsrfOnly>,
) -> Response {
    let c = match form_ctx(&p, &headers, origin, &f) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    match call::<Value>(
        &p,
        &c,
        Method::DELETE,
        &format!("/api/applications/{}", seg(&app)),
        None,
    )
    .await
    {
        Ok(_) => Redirect::to("/portal/applications").into_response(),
        Err(e) => failed(e),
    }
}

/// `GET /portal/key-managers` (administrators).
pub(super) async fn key_managers(State(p): State<PortalState>, headers: HeaderMap, origin: Origin) -> Response {
    let c = match ctx(&p, &headers, origin) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    match call::<ListDto<KeyManagerDto>>(&p, &c, Method::GET, "/api/key-managers", None).await {
        Ok(l) => pages::render(
            StatusCode::OK,
            "Key managers",
            Some(&c.nav("key-managers")),
            pages::key_managers(&l.list),
        ),
        Err(e) => failed(e),
    }
}

/// The audit page's query.
#[derive(Deserialize, Default)]
pub(super) struct AuditQuery {
    offset: Option<u32>,
}

/// `GET /portal/audit` (administrators).
pub(super) async fn audit(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Query(q): Query<AuditQuery>,
) -> Response {
    let c = match ctx(&p, &headers, origin) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let offset = q.offset.unwrap_or(0);
    match call::<AuditListDto>(
        &p,
        &c,
        Method::GET,
        &format!("/api/audit?limit=25&offset={offset}"),
        None,
    )
    .await
    {
        Ok(t) => pages::render(
            StatusCode::OK,
            "Audit trail",
            Some(&c.nav("audit")),
            pages::audit(&t, offset),
        ),
        Err(e) => failed(e),
    }
}

/// `GET /portal/key-managers/{km}/scopes`: a key manager's scopes and their descriptions (administrators).
pub(super) async fn scopes(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path(km): Path<String>,
) -> Response {
    let c = match ctx(&p, &headers, origin) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    scopes_page(&p, &c, &km, &Form::default()).await
}

async fn scopes_page(p: &PortalState, c: &Ctx, km: &str, form: &Form<'_>) -> Response {
    let path = format!("/api/key-managers/{}/scopes?limit=500", seg(km));
    match call::<ListDto<keymanager::api::dto::ScopeDto>>(p, c, Method::GET, &path, None).await {
        Ok(l) => pages::render(
            if form.failure.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            "Scopes",
            Some(&c.nav("key-managers")),
            pages::scopes(&c.nav("key-managers"), km, &l.list, form),
        ),
        Err(e) => failed(e),
    }
}

/// `POST /portal/key-managers/{km}/scopes`: register a scope with its description, then back to the list.
pub(super) async fn add_scope(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path(km): Path<String>,
    HtmlForm(f): HtmlForm<Named>,
) -> Response {
    let c = match form_ctx(&p, &headers, origin, &f) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let body = keymanager::api::dto::ScopeDto {
        name: f.name.trim().to_owned(),
        description: Some(f.description.trim().to_owned()).filter(|d| !d.is_empty()),
        display_name: None,
    };
    let path = format!("/api/key-managers/{}/scopes", seg(&km));
    match send::<keymanager::api::dto::ScopeDto, _>(&p, &c, Method::POST, &path, &body).await {
        Ok(_) => Redirect::to(&format!("/portal/key-managers/{}/scopes", seg(&km))).into_response(),
        Err(Failure::SignIn) => failed(Failure::SignIn),
        Err(e) => {
            let form = Form {
                failure: Some(&e),
                values: vec![
                    ("name", f.name.trim().to_owned()),
                    ("description", f.description.trim().to_owned()),
                ],
            };
            scopes_page(&p, &c, &km, &form).await
        }
    }
}

/// `POST /portal/key-managers/{km}/scopes/{scope}/remove`.
pub(super) async fn remove_scope(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
    Path((km, scope)): Path<(String, String)>,
    HtmlForm(f): HtmlForm<CsrfOnly>,
) -> Response {
    let c = match form_ctx(&p, &headers, origin, &f) {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let path = format!("/api/key-managers/{}/scopes/{}", seg(&km), seg(&scope));
    match call::<serde_json::Value>(&p, &c, Method::DELETE, &path, None).await {
        Ok(_) => Redirect::to(&format!("/portal/key-managers/{}/scopes", seg(&km))).into_response(),
        Err(e) => failed(e),
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
        include_str!("assets/favicon.svg"),
    )
        .into_response()
}

/// `GET /portal/static/portal.js`.
pub(super) async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/portal.js"),
    )
        .into_response()
}
