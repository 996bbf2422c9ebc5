//! Applications: the list, creating one, its page with its keys, and deleting it.

use super::*;

/// The applications page's query.
#[derive(Deserialize, Default)]
pub(in crate::portal) struct ListQuery {
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
pub(in crate::portal) async fn applications(
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
pub(in crate::portal) async fn create_application(
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
pub(in crate::portal) struct AppQuery {
    #[serde(rename = "keyType")]
    key_type: Option<String>,
}

pub(super) fn key_type_of(text: Option<&str>) -> &'static str {
    match text.map(str::to_ascii_lowercase).as_deref() {
        Some("sandbox") => "sandbox",
        _ => "production",
    }
}

pub(super) async fn application_page(
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
pub(in crate::portal) async fn application(
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

/// `GET /portal/applications/{id}/delete`: what deleting would do, and the button.
pub(in crate::portal) async fn confirm_delete(
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
pub(in crate::portal) async fn delete_application(
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
