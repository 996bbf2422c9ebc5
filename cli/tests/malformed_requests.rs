//! Review finding 11: every route answers every failure in its family's shape, never a 5xx and never plain text.
//! The test walks both route tables (`keymanager::api::ROUTES`, `keymanager_resident::ROUTES`) against the real
//! server with malformed path segments, query values, bodies, content types and methods, so a route added to
//! either table is covered without a line here.

mod common;

use reqwest::Client;
use reqwest::Method;

/// The family a path belongs to, and how its errors look.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Family {
    /// `{"code", "message", "description", "errors"}`.
    Management,
    /// RFC 6749 §5.2 `{"error", "error_description"}`.
    OAuth,
    /// An HTML page.
    Browser,
}

/// Every route with its family: the management API's, and the resident's as its route table declares them.
fn routes() -> Vec<(&'static str, &'static str, Family)> {
    let api = keymanager::api::ROUTES
        .iter()
        .map(|(m, p)| (*m, *p, Family::Management));
    let resident = keymanager_resident::ROUTES
        .iter()
        .zip(keymanager_resident::ROUTE_FAMILIES)
        .map(|((m, p), f)| {
            let family = match f {
                keymanager_resident::ErrorFamily::Page => Family::Browser,
                keymanager_resident::ErrorFamily::OAuth => Family::OAuth,
            };
            (*m, *p, family)
        });
    api.chain(resident).collect()
}

/// Fill the `{param}` segments of a route path.
fn fill(path: &str, value: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { value } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

async fn assert_shaped(what: &str, family: Family, resp: reqwest::Response) {
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if status.is_success() && content_type.starts_with("text/event-stream") {
        // A stream that does not end (the gateway events): its status and type are the answer.
        return;
    }
    let body = resp.text().await.unwrap_or_default();
    assert!(!status.is_server_error(), "{what}: {status} {body}");
    if status.is_success() || status.is_redirection() {
        return;
    }
    match family {
        Family::Browser => assert!(
            content_type.starts_with("text/html"),
            "{what}: {status} {content_type} {body}"
        ),
        Family::Management | Family::OAuth => {
            assert!(
                content_type.starts_with("application/json"),
                "{what}: {status} {content_type} {body}"
            );
            let v: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {status} not JSON ({e}): {body}"));
            if family == Family::Management {
                assert_eq!(v["code"], status.as_u16(), "{what}: {body}");
                assert!(
                    v["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{what}: {body}"
                );
                assert!(!body.contains("Bad Request") || status == 400, "{what}: {body}");
            } else {
                assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {body}");
            }
        }
    }
}

#[tokio::test]
async fn every_route_answers_every_failure_in_its_familys_shape() {
    let dir = tempfile::tempdir().unwrap();
    let served = common::serve(dir.path());
    let admin = common::admin_token(dir.path());
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let big = "x".repeat(keymanager::api::BODY_LIMIT + 10);
    let bodies: [(&str, &str); 6] = [
        ("application/json", "{"),
        ("application/json", "[1,2"),
        (
            "application/json",
            "{\"name\": 12, \"scopes\": \"x\", \"grantTypes\": [null]}",
        ),
        ("text/plain", "{\"name\": \"x\"}"),
        (
            "application/x-www-form-urlencoded",
            "grant_type=%ff&scope=a&scope=&client_id",
        ),
        ("application/json", big.as_str()),
    ];
    let mut checked = 0;
    for (method, path, fam) in routes() {
        let method: Method = method.to_ascii_uppercase().parse().unwrap();
        let targets = [
            fill(path, "%ff"),
            fill(path, "%00"),
            fill(path, "no-such-thing"),
            format!(
                "{}?revokeTokens=maybe&limit=-1&offset=x&scope=a&scope=&%ff=1",
                fill(path, "x")
            ),
        ];
        for target in &targets {
            let url = format!("{}{target}", served.base);
            for auth in [Some(admin.as_str()), None] {
                // The route's own method with each malformed body, and a method no route takes.
                for (ct, body) in bodies {
                    let mut req = http
                        .request(method.clone(), &url)
                        .header("content-type", ct)
                        .body(body.to_owned());
                    if let Some(token) = auth {
                        req = req.bearer_auth(token);
                    }
                    let what = format!(
                        "{method} {target} ({ct}, {} bytes, admin {})",
                        body.len(),
                        auth.is_some()
                    );
                    match req.send().await {
                        Ok(resp) => assert_shaped(&what, fam, resp).await,
                        // A server may close the connection on an oversized body before reading it all.
                        Err(e) if body.len() > keymanager::api::BODY_LIMIT => eprintln!("{what}: {e}"),
                        Err(e) => panic!("{what}: {e}"),
                    }
                    checked += 1;
                }
                let mut req = http.request(Method::PATCH, &url);
                if let Some(token) = auth {
                    req = req.bearer_auth(token);
                }
                assert_shaped(&format!("PATCH {target}"), fam, req.send().await.unwrap()).await;
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "walked {checked} requests");
}
