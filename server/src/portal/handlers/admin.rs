//! What administrators see: the key managers, the audit trail, and each key manager's scopes.

use super::*;

/// `GET /portal/key-managers` (administrators).
pub(in crate::portal) async fn key_managers(
    State(p): State<PortalState>,
    headers: HeaderMap,
    origin: Origin,
) -> Response {
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
pub(in crate::portal) struct AuditQuery {
    offset: Option<u32>,
}

/// `GET /portal/audit` (administrators).
pub(in crate::portal) async fn audit(
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
pub(in crate::portal) async fn scopes(
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
pub(in crate::portal) async fn add_scope(
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
pub(in crate::portal) async fn remove_scope(
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
