//! The portal's HTML, server-rendered with maud (escaped by construction). One layout; no inline script or style
//! (the CSP forbids them): `portal.css` and `portal.js` (copy buttons) are served beside the pages.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use keymanager::api::dto::{ApplicationDto, AuditListDto, KeyDto, KeyManagerDto, SecretDto};
use maud::{html, Markup, DOCTYPE};

use super::api::Failure;

/// Who is signed in, for the header and every form.
pub(super) struct Nav<'a> {
    /// The user.
    pub user: &'a str,
    /// An administrator.
    pub admin: bool,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// The current section, for `aria-current`.
    pub here: &'a str,
}

/// Form values and the server's complaints about them, for a form shown again.
#[derive(Default)]
pub(super) struct Form<'a> {
    /// The failure the last submission met.
    pub failure: Option<&'a Failure>,
    /// Values to show again, by field name.
    pub values: Vec<(&'a str, String)>,
}

impl Form<'_> {
    fn value(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    fn error(&self, name: &str) -> Option<&str> {
        self.failure.and_then(|f| f.field(name))
    }
}

fn page(title: &str, nav: Option<&Nav>, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · keymanager Developer Portal" }
                link rel="stylesheet" href="/portal/static/portal.css";
                link rel="icon" href="/portal/static/favicon.svg" type="image/svg+xml";
                script src="/portal/static/portal.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/portal" { "keymanager " span { "Developer Portal" } }
                    @if let Some(n) = nav {
                        nav aria-label="Main" {
                            ul {
                                li { a href="/portal/applications" aria-current=[(n.here == "applications").then_some("page")] { "Applications" } }
                                @if n.admin {
                                    li { a href="/portal/key-managers" aria-current=[(n.here == "key-managers").then_some("page")] { "Key managers" } }
                                    li { a href="/portal/audit" aria-current=[(n.here == "audit").then_some("page")] { "Audit trail" } }
                                }
                            }
                        }
                        form.signout method="post" action="/portal/signout" {
                            input type="hidden" name="csrf" value=(n.csrf);
                            span.user { "Signed in as " strong { (n.user) } }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" { (main) }
                p.live id="live" role="status" aria-live="polite" {}
            }
        }
    }
}

/// A page answer.
pub(super) fn render(status: StatusCode, title: &str, nav: Option<&Nav>, main: Markup) -> Response {
    (status, Html(page(title, nav, main).into_string())).into_response()
}

/// A page that says what went wrong and where to go.
pub(super) fn problem(status: StatusCode, text: &str) -> Response {
    render(
        status,
        "Something went wrong",
        None,
        html! {
            h1 { "Something went wrong" }
            p.error role="alert" { (text) }
            p { a href="/portal" { "Back to the portal" } }
        },
    )
}

/// The signed-out front page, with a button per way to sign in.
pub(super) fn landing(choices: &[(String, String)]) -> Response {
    render(
        StatusCode::OK,
        "Welcome",
        None,
        html! {
            h1 { "Developer Portal" }
            p { "Create applications, get their keys for production and sandbox, manage their secrets and try a token." }
            ul.signin {
                @for (name, label) in choices {
                    li { a.button href=(format!("/portal/signin?with={}", enc(name))) { (label) } }
                }
            }
        },
    )
}

/// A summary of a failed submission, at the top of its form.
fn failure_summary(form: &Form) -> Markup {
    html! {
        @if let Some(f) = form.failure {
            div.error-summary role="alert" {
                p { strong { "That did not work: " } (f.description()) }
            }
        }
    }
}

/// A labelled text field, with the server's message for it beside it.
fn text_field(
    form: &Form,
    id: &str,
    name: &str,
    label: &str,
    kind: &str,
    hint: Option<&str>,
    required: bool,
) -> Markup {
    let error = form.error(name);
    let describedby = match (hint.is_some(), error.is_some()) {
        (true, true) => Some(format!("{id}-hint {id}-error")),
        (true, false) => Some(format!("{id}-hint")),
        (false, true) => Some(format!("{id}-error")),
        (false, false) => None,
    };
    html! {
        div.field {
            label for=(id) { (label) @if !required { span.optional { " (optional)" } } }
            @if let Some(h) = hint { span.hint id=(format!("{id}-hint")) { (h) } }
            @if let Some(e) = error { span.field-error id=(format!("{id}-error")) { (e) } }
            input id=(id) name=(name) type=(kind) value=(form.value(name)) required[required]
                aria-invalid=[error.map(|_| "true")] aria-describedby=[describedby];
        }
    }
}

/// A path segment, percent-encoded.
fn seg(text: &str) -> String {
    crate::path_segment(text)
}

fn csrf(nav: &Nav) -> Markup {
    html! { input type="hidden" name="csrf" value=(nav.csrf); }
}

fn when(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| epoch.to_string())
}

/// The applications: search, a page of them, and the create form.
pub(super) fn applications(
    nav: &Nav,
    apps: &[ApplicationDto],
    query: &str,
    page_no: usize,
    pages: usize,
    form: &Form,
) -> Markup {
    html! {
        h1 { "Applications" }
        form.search method="get" action="/portal/applications" role="search" {
            label for="q" { "Search applications" }
            input id="q" name="q" type="search" value=(query);
            button type="submit" { "Search" }
        }
        @if apps.is_empty() {
            p { @if query.is_empty() { "No applications yet. Create one below." } @else { "No application matches." } }
        } @else {
            table tabindex="0" {
                caption.visually-hidden { "Your applications" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Owner" } th scope="col" { "Description" } th scope="col" { "Created" } } }
                tbody {
                    @for a in apps {
                        tr {
                            td { a href=(format!("/portal/applications/{}", a.application_id)) { (a.name) } }
                            td { (a.owner) }
                            td { (a.description.as_deref().unwrap_or("")) }
                            td { (when(a.created_time)) }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav.pager aria-label="Pages" {
                    @if page_no > 1 { a href=(format!("/portal/applications?q={}&page={}", enc(query), page_no - 1)) { "Previous" } }
                    span { "Page " (page_no) " of " (pages) }
                    @if page_no < pages { a href=(format!("/portal/applications?q={}&page={}", enc(query), page_no + 1)) { "Next" } }
                }
            }
        }
        section aria-labelledby="create-heading" {
            h2 id="create-heading" { "Create an application" }
            form method="post" action="/portal/applications" novalidate {
                (csrf(nav))
                (failure_summary(form))
                (text_field(form, "app-name", "name", "Name", "text", Some("Unique among your applications; at most 100 characters."), true))
                (text_field(form, "app-description", "description", "Description", "text", None, false))
                button type="submit" { "Create application" }
            }
        }
    }
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One key manager's part of an application's key type.
pub(super) struct KeyPanel<'a> {
    /// The key manager.
    pub km: &'a KeyManagerDto,
    /// Its keys of this type, when generated.
    pub keys: Option<&'a KeyDto>,
    /// Their secrets.
    pub secrets: Vec<SecretDto>,
}

/// An application: its key types as tabs, each key manager's keys or the form to generate them.
pub(super) fn application(
    nav: &Nav,
    app: &ApplicationDto,
    key_type: &str,
    panels: &[KeyPanel],
    form: &Form,
    failed_km: Option<&str>,
) -> Markup {
    let base = format!("/portal/applications/{}", app.application_id);
    html! {
        p.crumbs { a href="/portal/applications" { "Applications" } " / " (app.name) }
        h1 { (app.name) }
        @if let Some(d) = &app.description { p { (d) } }
        p.meta { "Owner " strong { (app.owner) } " · created " (when(app.created_time)) }
        nav.tabs aria-label="Key type" {
            @for (kt, label) in [("production", "Production keys"), ("sandbox", "Sandbox keys")] {
                a href=(format!("{base}?keyType={kt}")) aria-current=[(kt == key_type).then_some("page")] { (label) }
            }
        }
        @for p in panels {
            section.panel aria-labelledby=(format!("km-{}", slug(&p.km.name))) {
                h2 id=(format!("km-{}", slug(&p.km.name))) { (p.km.name) span.kind { " (" (p.km.kind) ")" } }
                @let form = if failed_km == Some(p.km.name.as_str()) { form } else { &Form::default() };
                @match p.keys {
                    Some(k) => (keys(nav, &base, k, &p.secrets, p.km, form)),
                    None => (generate_form(nav, &base, key_type, p.km, form)),
                }
            }
        }
        section.danger aria-labelledby="delete-heading" {
            h2 id="delete-heading" { "Delete this application" }
            p { a.button.secondary href=(format!("{base}/delete")) { "Delete application…" } }
        }
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn copyable(id: &str, value: &str, label: &str) -> Markup {
    html! {
        span.copyable {
            code id=(id) { (value) }
            button.copy type="button" data-copy=(id) { "Copy" span.visually-hidden { " " (label) } }
        }
    }
}

fn keys(nav: &Nav, base: &str, k: &KeyDto, secrets: &[SecretDto], km: &KeyManagerDto, form: &Form) -> Markup {
    let keys_url = format!("{base}/keys/{}", k.key_mapping_id);
    let id = slug(&km.name);
    html! {
        dl.keys {
            dt { "Consumer key" } dd { (copyable(&format!("key-{id}"), &k.consumer_key, "consumer key")) }
            dt { "Grant types" } dd { (k.supported_grant_types.join(", ")) }
            dt { "Callback URL" } dd { (k.callback_url.as_deref().unwrap_or("none")) }
            dt { "Scopes" } dd { @if k.scopes.is_empty() { "none" } @else { (k.scopes.to_string()) } }
            dt { "PKCE" } dd { @if k.pkce_mandatory { "required" } @else { "optional" } @if k.pkce_support_plain { ", plain allowed" } @else { ", S256 only" } }
            dt { "Client type" } dd { @if k.bypass_client_credentials { "public (no secret)" } @else { "confidential" } }
            // Only a key manager with retrievable secrets answers one here.
            @if let Some(secret) = &k.consumer_secret {
                dt { "Consumer secret" } dd { (copyable(&format!("secret-{id}"), secret, "consumer secret")) }
            }
            dt { "State" } dd { (k.key_state) }
        }
        @if !k.bypass_client_credentials {
            h3 { "Secrets" }
            @if secrets.is_empty() { p { "This key manager lists no secrets for the client." } } @else {
                table tabindex="0" {
                    caption.visually-hidden { "Secrets of " (km.name) }
                    thead { tr { th scope="col" { "Secret" } th scope="col" { "Description" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { "Status" } th scope="col" { "Delete" } } }
                    tbody {
                        @for s in secrets {
                            tr {
                                td { code { (s.masked_secret) } }
                                td { (s.description.as_deref().unwrap_or("")) }
                                td { (when(s.created_time)) }
                                td { (s.expires_at.map(when).unwrap_or_else(|| "never".into())) }
                                td { (format!("{:?}", s.status).to_lowercase()) }
                                td {
                                    form method="post" action=(format!("{keys_url}/secrets/{}/delete", s.secret_id)) {
                                        (csrf(nav))
                                        div.check {
                                            input type="checkbox" id=(format!("revoke-{}", s.secret_id)) name="revokeTokens" value="true";
                                            label for=(format!("revoke-{}", s.secret_id)) { "Also revoke the tokens issued with it" }
                                        }
                                        button type="submit" aria-label=(format!("Delete secret {}", s.masked_secret)) { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
                p.hint { "Deleting a secret stops new tokens with it at once. Tokens already issued with it stay valid until they expire unless you also revoke them." }
            }
            @if km.capabilities.multiple_secrets {
                form method="post" action=(format!("{keys_url}/secrets")) novalidate {
                    (csrf(nav))
                    fieldset {
                        legend { "Add a secret" }
                        (failure_summary(form))
                        (text_field(form, &format!("secret-description-{id}"), "description", "Description", "text", None, false))
                        @if km.capabilities.secret_expiry {
                            (text_field(form, &format!("secret-expiry-{id}"), "expiresInDays", "Expires after (days)", "number", Some("Leave empty for a secret that does not expire."), false))
                        }
                        button type="submit" { "Add secret" }
                    }
                }
            }
            @if km.capabilities.regenerate_secret {
                form method="post" action=(format!("{keys_url}/regenerate")) {
                    (csrf(nav))
                    button.secondary type="submit" { "Regenerate: replace every secret with a new one" }
                }
            }
        }
        form method="post" action=(format!("{keys_url}/token")) novalidate {
            (csrf(nav))
            fieldset {
                legend { "Try it: generate a test token" }
                @if !k.bypass_client_credentials {
                    @let hint = if k.consumer_secret.is_some() { "The consumer secret shown above." } else { "The secret you copied when it was shown." };
                    (text_field(form, &format!("try-secret-{id}"), "consumerSecret", "Consumer secret", "password", Some(hint), true))
                }
                (text_field(form, &format!("try-scopes-{id}"), "scopes", "Scopes", "text", Some("Separated by spaces; empty for the client's own."), false))
                (text_field(form, &format!("try-validity-{id}"), "validityPeriod", "Validity (seconds)", "number", None, false))
                button type="submit" { "Generate token" }
            }
        }
        form method="post" action=(format!("{keys_url}/delete")) {
            (csrf(nav))
            button.secondary type="submit" { "Remove these keys" }
        }
    }
}

fn generate_form(nav: &Nav, base: &str, key_type: &str, km: &KeyManagerDto, form: &Form) -> Markup {
    let id = slug(&km.name);
    let caps = &km.capabilities;
    html! {
        form method="post" action=(format!("{base}/generate-keys")) novalidate {
            (csrf(nav))
            input type="hidden" name="keyType" value=(key_type);
            input type="hidden" name="keyManager" value=(km.name);
            fieldset {
                legend { "Generate " (key_type) " keys" }
                (failure_summary(form))
                fieldset.choices {
                    legend { "Grant types" }
                    @if let Some(e) = form.error("grantTypesToBeSupported") { span.field-error { (e) } }
                    @for g in &caps.grant_types {
                        @let name = g.to_string();
                        div.check {
                            input type="checkbox" id=(format!("grant-{id}-{name}")) name="grantTypesToBeSupported" value=(name)
                                checked[name == "client_credentials"];
                            label for=(format!("grant-{id}-{name}")) { (name) }
                        }
                    }
                }
                (text_field(form, &format!("callback-{id}"), "callbackUrl", "Callback URL", "url", Some("Needed for the authorization code grant."), false))
                (text_field(form, &format!("scopes-{id}"), "scopes", "Scopes", "text", Some("Separated by spaces."), false))
                @if caps.pkce {
                    div.check {
                        input type="checkbox" id=(format!("pkce-{id}")) name="pkceMandatory" value="true";
                        label for=(format!("pkce-{id}")) { "Require PKCE (S256)" }
                    }
                    @if caps.pkce_plain {
                        div.check {
                            input type="checkbox" id=(format!("plain-{id}")) name="pkceSupportPlain" value="true";
                            label for=(format!("plain-{id}")) { "Also allow the PKCE method plain" }
                        }
                    }
                }
                @if caps.public_clients {
                    div.check {
                        input type="checkbox" id=(format!("public-{id}")) name="bypassClientCredentials" value="true";
                        label for=(format!("public-{id}")) { "Public client (no secret; for browser and mobile apps)" }
                    }
                }
                button type="submit" { "Generate keys" }
            }
        }
    }
}

/// The page that shows a new secret: once, unless its key manager keeps secrets retrievable (`again`).
pub(super) fn secret_once(back: &str, what: &str, consumer_key: Option<&str>, secret: &str, again: bool) -> Markup {
    html! {
        h1 { (what) }
        div.once role="alert" {
            @if again {
                p { strong { "Copy the secret now." } " This key manager keeps secrets retrievable: the keys page shows the newest one again." }
            } @else {
                p { strong { "Copy the secret now." } " It is shown this once: it is stored hashed and no page will show it again." }
            }
            @if let Some(k) = consumer_key {
                p { "Consumer key " (copyable("once-key", k, "consumer key")) }
            }
            p { "Secret " (copyable("once-secret", secret, "secret")) }
        }
        p { a.button href=(back) { "I have copied it — continue" } }
    }
}

/// A test token: its claims and a ready curl command.
pub(super) fn token(
    back: &str,
    token: &str,
    claims: Option<&serde_json::Value>,
    scopes: &keymanager::model::Scopes,
    validity: Option<u64>,
) -> Markup {
    let pretty = claims.map(|c| serde_json::to_string_pretty(c).unwrap_or_default());
    html! {
        h1 { "Test token" }
        p { "Valid for " (validity.map(|v| format!("{v} seconds")).unwrap_or_else(|| "the key manager's default time".into()))
            " with scopes " @if scopes.is_empty() { "none" } @else { code { (scopes) } } "." }
        h2 { "Access token" }
        p { (copyable("token-value", token, "access token")) }
        @match pretty {
            Some(p) => { h2 { "Claims" } pre.claims tabindex="0" { code { (p) } } },
            None => p { "An opaque token: its claims are known to the key manager only (introspect it)." },
        }
        h2 { "Call an API with it" }
        @let curl = format!("curl -H 'Authorization: Bearer {token}' https://api.example.com/orders");
        p { (copyable("token-curl", &curl, "curl command")) }
        p { a.button href=(back) { "Back to the application" } }
    }
}

/// The confirmation before deleting an application.
pub(super) fn confirm_delete(nav: &Nav, app: &ApplicationDto, generated: usize, mapped: usize) -> Markup {
    let base = format!("/portal/applications/{}", app.application_id);
    html! {
        h1 { "Delete " (app.name) "?" }
        p { "Deleting the application removes its keys. "
            @if generated > 0 { (generated) " client(s) generated for it will be deleted at their key managers: their secrets stop working and new tokens cannot be had. " }
            @if mapped > 0 { (mapped) " mapped client(s) are only unmapped and keep working at their key managers. " }
            @if generated == 0 && mapped == 0 { "It has no keys. " }
            "This cannot be undone." }
        form method="post" action=(format!("{base}/delete")) {
            (csrf(nav))
            button.danger type="submit" { "Delete application" }
            " "
            a href=(base) { "Cancel" }
        }
    }
}

/// The key managers and what each can do (administrators).
pub(super) fn key_managers(kms: &[KeyManagerDto]) -> Markup {
    html! {
        h1 { "Key managers" }
        table tabindex="0" {
            caption.visually-hidden { "Configured key managers" }
            thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Grant types" } th scope="col" { "Can" } } }
            tbody {
                @for k in kms {
                    @let c = &k.capabilities;
                    tr {
                        td {
                            (k.name)
                            @if c.scope_management {
                                br; a href=(format!("/portal/key-managers/{}/scopes", seg(&k.name))) { "Scopes of " (k.name) }
                            }
                        }
                        td { (k.kind) }
                        td { (c.grant_types.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(", ")) }
                        td { ([
                            (c.multiple_secrets, "multiple secrets"), (c.secret_expiry, "secret expiry"), (c.regenerate_secret, "regenerate secrets"),
                            (c.pkce, "PKCE"), (c.public_clients, "public clients"), (c.introspection, "introspection"), (c.revocation, "revocation"),
                            (c.retrievable_secrets, "retrievable secrets"),
                        ].iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect::<Vec<_>>().join(", ")) }
                    }
                }
            }
        }
    }
}

/// A key manager's scopes and what each means to people (administrators): the descriptions its consent page shows.
pub(super) fn scopes(nav: &Nav, key_manager: &str, scopes: &[keymanager::api::dto::ScopeDto], form: &Form) -> Markup {
    let base = format!("/portal/key-managers/{}/scopes", seg(key_manager));
    html! {
        h1 { "Scopes of " (key_manager) }
        p { "What an application may ask for, in the words people read when they are asked to allow it." }
        @if scopes.is_empty() {
            p { "No scope is registered yet: the consent page shows scope names, or the server's own words for its own scopes." }
        } @else {
            table tabindex="0" {
                caption.visually-hidden { "Registered scopes" }
                thead { tr { th scope="col" { "Scope" } th scope="col" { "Description" } th scope="col" { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for s in scopes {
                        tr {
                            td { code { (s.name) } }
                            td { (s.description.as_deref().unwrap_or("")) }
                            td {
                                form method="post" action=(format!("{base}/{}/remove", seg(&s.name))) {
                                    (csrf(nav))
                                    button.secondary type="submit" { "Remove " span.visually-hidden { (s.name) } }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Add a scope" }
        form method="post" action=(base) {
            (failure_summary(form))
            (csrf(nav))
            (text_field(form, "scope-name", "name", "Scope", "text", Some("A scope token, like orders:read"), true))
            (text_field(form, "scope-description", "description", "What it lets an application do", "text", Some("Shown on the consent page, like: Read your orders"), true))
            button type="submit" { "Add scope" }
        }
        p { a href="/portal/key-managers" { "Back to the key managers" } }
    }
}

/// A page of the audit trail (administrators).
pub(super) fn audit(trail: &AuditListDto, offset: u32) -> Markup {
    let p = &trail.pagination;
    html! {
        h1 { "Audit trail" }
        table tabindex="0" {
            caption.visually-hidden { "Changes, newest first" }
            thead { tr { th scope="col" { "Time" } th scope="col" { "Actor" } th scope="col" { "Action" } th scope="col" { "Application" } th scope="col" { "Target" } th scope="col" { "Outcome" } } }
            tbody {
                @for r in &trail.list {
                    tr {
                        td { (when(r.time)) }
                        td { (r.actor.name) @if let Some(km) = &r.actor.key_manager { " (" (km) ")" } }
                        td { (r.action) }
                        td { (r.application_id.as_deref().unwrap_or("")) }
                        td { (r.target.as_deref().unwrap_or("")) }
                        td { (r.outcome.as_str()) @if let Some(d) = &r.detail { " (" (d) ")" } }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if offset > 0 { a href=(format!("/portal/audit?offset={}", offset.saturating_sub(p.limit))) { "Newer" } }
            span { (p.offset + 1) "–" (u64::from(p.offset) + trail.count as u64) " of " (p.total) }
            @if p.next.is_some() { a href=(format!("/portal/audit?offset={}", offset + p.limit)) { "Older" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(secret: Option<&str>) -> KeyDto {
        serde_json::from_value(json!({
            "keyMappingId": "m1", "keyManager": "okta", "keyType": "PRODUCTION", "consumerKey": "0oa1",
            "consumerSecret": secret, "keyState": "COMPLETED", "keyOrigin": "GENERATED",
            "supportedGrantTypes": ["client_credentials"], "callbackUrl": null, "scopes": [],
            "pkceMandatory": false, "pkceSupportPlain": false, "bypassClientCredentials": false
        }))
        .unwrap()
    }

    fn key_manager(retrievable: bool) -> KeyManagerDto {
        serde_json::from_value(json!({
            "name": "okta", "type": "okta", "issuer": "https://example.okta.com/oauth2/default",
            "capabilities": {"grantTypes": [], "retrievableSecrets": retrievable}
        }))
        .unwrap()
    }

    /// A key manager with retrievable secrets: the keys page shows the secret again, the new-secret page says it
    /// will; without, neither does, and the new-secret page says it is shown once.
    #[test]
    fn retrievable_secrets_are_shown_again_and_said_so() {
        let nav = Nav {
            user: "alice",
            admin: false,
            csrf: "c",
            here: "applications",
        };
        let page = |k: &KeyDto, km: &KeyManagerDto| keys(&nav, "/portal/applications/a1", k, &[], km, &Form::default());
        let shown = page(&key(Some("s3cr3t-value")), &key_manager(true)).into_string();
        assert!(
            shown.contains("Consumer secret") && shown.contains("s3cr3t-value"),
            "{shown}"
        );
        let hidden = page(&key(None), &key_manager(false)).into_string();
        assert!(!hidden.contains("Consumer secret</dt>"), "{hidden}");
        let again = secret_once("/back", "Secret added", None, "s3cr3t-value", true).into_string();
        assert!(again.contains("shows the newest one again") && !again.contains("shown this once"));
        let once = secret_once("/back", "Secret added", None, "s3cr3t-value", false).into_string();
        assert!(once.contains("shown this once"));
        let listed = key_managers(&[key_manager(true)]).into_string();
        assert!(listed.contains("retrievable secrets"), "{listed}");
    }
}
