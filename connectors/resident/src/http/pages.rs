//! The HTML the browser endpoint serves: one page shell (no scripts, no framing, no caching) and its error page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// The double-submit CSRF cookie of the login page.
pub(crate) const CSRF_COOKIE: &str = "km_csrf";

/// `s` escaped for HTML text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

/// A whole page: the shell, no-store, no framing, a CSP with no scripts, and the CSRF cookie when given.
pub(crate) fn page(status: StatusCode, title: &str, body: String, csrf_cookie: Option<(&str, bool)>) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}}\
         label{{display:block;margin-top:1rem;font-weight:600}}input{{width:100%;padding:.5rem;margin-top:.25rem;font-size:1rem;box-sizing:border-box}}\
         button{{margin-top:1.5rem;margin-right:.5rem;padding:.6rem 1.2rem;font-size:1rem}}.error{{color:#a00000;font-weight:600}}</style></head>\
         <body><main>{body}</main></body></html>",
        title = escape(title)
    );
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if let Some((value, secure)) = csrf_cookie {
        let cookie = format!(
            "{CSRF_COOKIE}={value}; Path=/oauth2; HttpOnly; SameSite=Strict{}",
            if secure { "; Secure" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The login page's error page: the message, escaped, with this status. Used for every failure a browser sees at
/// `/oauth2/authorize` that must not be redirected.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Authorization error",
        format!(
            "<h1>This request cannot be completed</h1><p class=\"error\" role=\"alert\">{}</p>",
            escape(message)
        ),
        None,
    )
}
