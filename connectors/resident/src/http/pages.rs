//! The HTML the browser endpoint serves: one page shell (no scripts, no framing, no caching) and its error page,
//! styled with the one stylesheet the Developer Portal uses too ([`STYLESHEET`]), so signing in looks like the
//! product it belongs to. The stylesheet is inlined (the page's CSP allows inline styles, never scripts).

/// The stylesheet of every page people see: the login, consent and logout pages here, and the Developer Portal
/// (which serves it at `/portal/static/portal.css`). Readable at 375 px, visible focus, contrast at least 4.5:1.
pub const STYLESHEET: &str = include_str!("keymanager.css");

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// The double-submit CSRF cookie of the login page.
pub(crate) const CSRF_COOKIE: &str = "km_csrf";
/// The CSRF cookie's name under TLS: `__Host-` makes browsers refuse it unless it is `Secure`, host-only and for
/// `/`, so no sibling domain can plant one.
pub(crate) const CSRF_COOKIE_HOST: &str = "__Host-km_csrf";

/// The CSRF cookie's name: `__Host-` prefixed under TLS (browsers take such a cookie only over https).
pub(crate) fn csrf_cookie_name(secure: bool) -> &'static str {
    if secure {
        CSRF_COOKIE_HOST
    } else {
        CSRF_COOKIE
    }
}

/// What a form token is bound to: the browser's login-session cookie as sent with the request (none yet: empty).
fn binding(random: &str, headers: &axum::http::HeaderMap) -> String {
    let session = cookie(headers, crate::login_session::SESSION_COOKIE).unwrap_or_default();
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("km-csrf|{random}|{session}").as_bytes(),
    );
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &digest.as_ref()[..12],
    )
}

/// A new form token for a page answering `headers`' request, bound to the browser's login session (a token made
/// for one session does not pass for another).
pub(crate) fn new_csrf(headers: &axum::http::HeaderMap) -> String {
    let random = crate::crypto::random_token(24);
    let bound = binding(&random, headers);
    format!("{random}.{bound}")
}

/// Whether a form's token is the one its page set (the cookie, compared in constant time) and is bound to the
/// login session this request carries.
pub(crate) fn csrf_ok(headers: &axum::http::HeaderMap, sent: Option<&str>, secure: bool) -> bool {
    let (Some(sent), Some(cookie)) = (sent, cookie(headers, csrf_cookie_name(secure))) else {
        return false;
    };
    let same = aws_lc_rs::constant_time::verify_slices_are_equal(sent.as_bytes(), cookie.as_bytes()).is_ok();
    let bound = sent.split_once('.').is_some_and(|(random, b)| {
        aws_lc_rs::constant_time::verify_slices_are_equal(b.as_bytes(), binding(random, headers).as_bytes()).is_ok()
    });
    same && bound
}

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
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} · keymanager</title>\
         <style>{STYLESHEET}</style></head>\
         <body><header class=\"top\"><span class=\"brand\">keymanager <span>{title}</span></span></header>\
         <main id=\"main\" class=\"narrow\">{body}</main></body></html>",
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
        let cookie = if secure {
            format!("{CSRF_COOKIE_HOST}={value}; Path=/; HttpOnly; SameSite=Strict; Secure")
        } else {
            format!("{CSRF_COOKIE}={value}; Path=/oauth2; HttpOnly; SameSite=Strict")
        };
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

/// The value of cookie `name` in a request (the one reader of cookies for every page here).
pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&format!("{name}=")).map(str::to_owned))
}

#[cfg(test)]
mod csrf_tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn request(cookies: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(cookies).unwrap());
        h
    }

    /// Review 2 (low): the login page's CSRF token is bound to the browser's login session, and its cookie is
    /// `__Host-` prefixed under TLS.
    #[test]
    fn a_form_token_passes_only_with_its_cookie_and_its_session() {
        let page_request = request("km_session=alice-session");
        let token = new_csrf(&page_request);
        for secure in [false, true] {
            let name = csrf_cookie_name(secure);
            let submit = request(&format!("km_session=alice-session; {name}={token}"));
            assert!(csrf_ok(&submit, Some(&token), secure));
            let other_session = request(&format!("km_session=mallory-session; {name}={token}"));
            assert!(!csrf_ok(&other_session, Some(&token), secure), "bound to the session");
            assert!(!csrf_ok(&submit, Some("forged.token"), secure));
            assert!(!csrf_ok(&submit, None, secure));
        }
        assert_eq!(csrf_cookie_name(true), "__Host-km_csrf");
        let plain = request(&format!("km_csrf={token}; km_session=alice-session"));
        assert!(
            !csrf_ok(&plain, Some(&token), true),
            "under TLS only the __Host- cookie counts"
        );
        let resp = page(StatusCode::OK, "t", String::new(), Some(("v", true)));
        let set = resp.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            set.starts_with("__Host-km_csrf=v; Path=/;") && set.contains("Secure"),
            "{set}"
        );
    }
}
