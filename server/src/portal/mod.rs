//! The Developer Portal at `/portal`: application developers manage their applications, keys and secrets in a
//! browser. Server-rendered HTML ([`pages`]), signed in through the resident key manager's own authorization code
//! flow with PKCE ([`signin`]), cookie sessions with CSRF tokens ([`session`]), and every action a call of the
//! management API as the signed-in user ([`api`]): the same authorization, validation and audit trail as the REST
//! API and the CLI.

mod api;
mod forms;
mod handlers;
mod pages;
mod session;
mod signin;

use std::path::Path;
use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use keymanager::model::{ClientSpec, GrantType, KeyType, PkcePolicy};
use keymanager_resident::ResidentServer;

use crate::{setup, Failure};

/// The portal's own OAuth client at the resident key manager. `Debug` hides the secret.
pub(crate) struct PortalClient {
    id: String,
    secret: String,
}

impl std::fmt::Debug for PortalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalClient")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// What the portal runs on.
pub(crate) struct Portal {
    /// The management API (with its authorization layer), called in-process.
    api: Router,
    /// Where people may sign in: the resident first (when there is one), then `[[portal.sign_in]]`.
    providers: Vec<Provider>,
    /// The server's public base URL (the redirect URI is `PUBLIC_URL/portal/callback`).
    public_url: String,
    /// Cookies only over TLS.
    secure: bool,
    sessions: session::Sessions,
    /// Seals the cookies of sign-ins in progress (the server's secret key).
    sealing: Arc<keymanager::server_kit::SecretBox>,
    /// For the token endpoints of other key managers.
    http: keymanager::http::HttpClient,
}

/// A key manager people sign in through, with the portal's client there.
pub(crate) struct Provider {
    /// The key manager's name.
    name: String,
    /// What its sign-in button says.
    label: String,
    client: PortalClient,
    /// Scopes asked for.
    scopes: String,
    way: Way,
    /// Push the sign-in's authorization requests (RFC 9126) first: only where the provider requires it, since every
    /// push is a row in the provider's store, and anyone can begin a sign-in.
    push: bool,
}

/// How the portal reaches a provider's endpoints.
pub(crate) enum Way {
    /// The resident's HTTP face, in-process; its authorization endpoint at the public URL.
    Resident(Router),
    /// Another key manager over HTTP, at the endpoints its discovery document names.
    External(Endpoints),
}

/// A provider's endpoints, from its discovery document.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: Option<String>,
    /// RP-Initiated Logout 1.0, where the provider offers it: signing out of the portal ends the session there too.
    end_session_endpoint: Option<String>,
    /// RFC 9126, where the provider offers it: the portal pushes its authorization requests there.
    pushed_authorization_request_endpoint: Option<String>,
}

impl Provider {
    /// The resident key manager `name`, reached in-process through `oauth`; `push` when it requires pushed
    /// authorization requests.
    pub(crate) fn resident(name: &str, client: PortalClient, oauth: Router, push: bool) -> Provider {
        Provider {
            name: name.to_owned(),
            label: "Sign in".into(),
            client,
            scopes: format!("openid {SCOPES}"),
            way: Way::Resident(oauth),
            push,
        }
    }

    /// Another key manager, from `[[portal.sign_in]]`: its endpoints read from its discovery document (OpenID, else
    /// RFC 8414) at `issuer`.
    pub(crate) async fn external(
        sign_in: &keymanager::config::PortalSignIn,
        issuer: &str,
        http: &keymanager::http::HttpClient,
    ) -> Result<Provider, Failure> {
        use secrecy::ExposeSecret;
        let problem = |why: String| {
            Failure::Refused(format!(
                "[portal] sign_in `{}`: the discovery document at {issuer} {why}",
                sign_in.key_manager
            ))
        };
        let meta = keymanager::oauth::discovery::discover(http, issuer)
            .await
            .map_err(|e| problem(format!("cannot be read: {}", keymanager::error::chain(&e))))?;
        let (Some(authorization_endpoint), Some(token_endpoint)) = (meta.authorization_endpoint, meta.token_endpoint)
        else {
            return Err(problem("names no authorization or no token endpoint".into()));
        };
        let push = meta.require_pushed_authorization_requests == Some(true)
            && meta.pushed_authorization_request_endpoint.is_some();
        let endpoints = Endpoints {
            authorization_endpoint,
            token_endpoint,
            revocation_endpoint: meta.revocation_endpoint,
            end_session_endpoint: meta.end_session_endpoint,
            pushed_authorization_request_endpoint: meta.pushed_authorization_request_endpoint,
        };
        let scopes = match sign_in.scopes.is_empty() {
            true => format!("openid {SCOPES}"),
            false => sign_in.scopes.to_string(),
        };
        Ok(Provider {
            name: sign_in.key_manager.clone(),
            label: sign_in
                .label
                .clone()
                .unwrap_or_else(|| format!("Sign in with {}", sign_in.key_manager)),
            client: PortalClient {
                id: sign_in.client_id.clone(),
                secret: sign_in.client_secret.expose_secret().to_owned(),
            },
            scopes,
            way: Way::External(endpoints),
            push,
        })
    }
}

/// The scopes the portal asks for: a developer's, and an administrator's where the user's roles allow it.
const SCOPES: &str = "keymanager:apps keymanager:admin";

pub(crate) type PortalState = Arc<Portal>;

/// Where the portal keeps its client's credentials.
const CLIENT_FILE: &str = "portal-client";

/// The portal's client at `server`: the one recorded in the data directory when it still exists with this
/// redirect URI and post-logout redirect URI, else a new one (confidential; authorization code and refresh token;
/// PKCE S256 required; `openid` and the management API's scopes; sent back to the portal after logout), recorded
/// there (0600).
pub(crate) async fn client(
    server: &ResidentServer,
    data_dir: &Path,
    public_url: &str,
) -> Result<PortalClient, Failure> {
    let redirect = keymanager::model::RedirectUri::parse(&format!("{public_url}/portal/callback")).map_err(|m| {
        Failure::Usage(format!(
            "[server] public_url cannot carry the portal's redirect URI: {m}"
        ))
    })?;
    let after_logout = serde_json::json!([format!("{public_url}/portal")]);
    let path = data_dir.join(CLIENT_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Some((id, secret)) = text.trim().split_once('\n') {
            match server.client(id.trim()).await {
                Ok(c)
                    if c.redirect_uris.contains(&redirect)
                        && c.additional_properties.get("post_logout_redirect_uris") == Some(&after_logout) =>
                {
                    return Ok(PortalClient {
                        id: id.trim().to_owned(),
                        secret: secret.trim().to_owned(),
                    })
                }
                Ok(_) => {
                    // The public URL changed (or the client is from before logout): a new one replaces it.
                    if let Err(e) = server.delete(id.trim()).await {
                        tracing::warn!(error = %e, "the portal's previous client could not be deleted");
                    }
                }
                Err(_) => {}
            }
        }
    }
    let spec = ClientSpec {
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        redirect_uris: vec![redirect],
        scopes: [
            "openid",
            keymanager::api::access::SCOPE_APPS,
            keymanager::api::access::SCOPE_ADMIN,
        ]
        .into_iter()
        .collect(),
        pkce: PkcePolicy {
            required: true,
            allow_plain: false,
        },
        additional_properties: [("post_logout_redirect_uris".to_owned(), after_logout)]
            .into_iter()
            .collect(),
        ..ClientSpec::new("keymanager Developer Portal", KeyType::Production)
    };
    let created = server.register(&spec, None).await?;
    let secret = created
        .client_secret
        .map(|s| s.expose_secret().to_owned())
        .ok_or_else(|| Failure::Refused("the portal's client was registered without a secret".into()))?;
    let client = PortalClient {
        id: created.client_id.to_string(),
        secret,
    };
    setup::write_private(&path, &format!("{}\n{}", client.id, client.secret))
        .map_err(|e| Failure::Refused(format!("cannot record the portal's client in {}: {e}", path.display())))?;
    tracing::info!(client_id = %client.id, "registered the Developer Portal's client");
    Ok(client)
}

/// The portal's routes, under `/portal`.
pub(crate) fn router(
    api: Router,
    providers: Vec<Provider>,
    public_url: &str,
    http: keymanager::http::HttpClient,
    sealing: Arc<keymanager::server_kit::SecretBox>,
) -> Router {
    let csp =
        HeaderValue::from_str(&content_security_policy(&providers)).unwrap_or_else(|_| HeaderValue::from_static(CSP));
    let portal = Arc::new(Portal {
        api,
        providers,
        public_url: public_url.to_owned(),
        secure: public_url.starts_with("https://"),
        sessions: session::Sessions::default(),
        sealing,
        http,
    });
    use handlers as h;
    Router::new()
        .route("/portal", get(h::home))
        .route("/portal/signin", get(signin::signin))
        .route("/portal/callback", get(signin::callback))
        .route("/portal/signout", post(signin::signout))
        .route("/portal/static/portal.css", get(h::css))
        .route("/portal/static/portal.js", get(h::js))
        .route("/portal/static/favicon.svg", get(h::favicon))
        .route("/portal/shown", get(h::shown))
        .route("/portal/applications", get(h::applications).post(h::create_application))
        .route("/portal/applications/{app}", get(h::application))
        .route(
            "/portal/applications/{app}/delete",
            get(h::confirm_delete).post(h::delete_application),
        )
        .route("/portal/applications/{app}/generate-keys", post(h::generate_keys))
        .route(
            "/portal/applications/{app}/keys/{mapping}/secrets",
            post(h::create_secret),
        )
        .route(
            "/portal/applications/{app}/keys/{mapping}/secrets/{secret}/delete",
            post(h::delete_secret),
        )
        .route(
            "/portal/applications/{app}/keys/{mapping}/regenerate",
            post(h::regenerate),
        )
        .route("/portal/applications/{app}/keys/{mapping}/token", post(h::try_token))
        .route("/portal/applications/{app}/keys/{mapping}/delete", post(h::delete_keys))
        .route("/portal/key-managers", get(h::key_managers))
        .route("/portal/key-managers/{km}/scopes", get(h::scopes).post(h::add_scope))
        .route("/portal/key-managers/{km}/scopes/{scope}/remove", post(h::remove_scope))
        .route("/portal/audit", get(h::audit))
        .layer(axum::middleware::map_response(move |resp| protect(resp, csp.clone())))
        .with_state(portal)
}

/// The portal's content security policy, before the providers' sign-out origins are added to `form-action`.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// [`CSP`], with `form-action` also allowing the origins of the providers' end-session endpoints: signing out posts
/// to the portal, which sends the browser on to the provider, and a browser holds a form's redirects to
/// `form-action` too.
fn content_security_policy(providers: &[Provider]) -> String {
    let mut origins: Vec<String> = providers
        .iter()
        .filter_map(|p| match &p.way {
            Way::External(e) => e.end_session_endpoint.as_deref(),
            Way::Resident(_) => None,
        })
        .filter_map(|e| url::Url::parse(e).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .collect();
    origins.sort();
    origins.dedup();
    match origins.is_empty() {
        true => CSP.to_owned(),
        false => CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {}", origins.join(" ")),
        ),
    }
}

/// Every portal answer: no caching (pages hold secrets once), no framing, no inline script or style, no referrer.
async fn protect(mut resp: Response, csp: HeaderValue) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn external(end_session: Option<&str>) -> Provider {
        Provider {
            name: "company".into(),
            label: "Sign in with the company".into(),
            client: PortalClient {
                id: "portal".into(),
                secret: "s".into(),
            },
            scopes: "openid".into(),
            way: Way::External(Endpoints {
                authorization_endpoint: "https://idp.example/auth".into(),
                token_endpoint: "https://idp.example/token".into(),
                revocation_endpoint: None,
                end_session_endpoint: end_session.map(str::to_owned),
                pushed_authorization_request_endpoint: None,
            }),
            push: false,
        }
    }

    #[test]
    fn forms_may_lead_to_the_providers_sign_out_and_nowhere_else() {
        assert_eq!(content_security_policy(&[external(None)]), CSP);
        let csp = content_security_policy(&[
            external(Some("https://idp.example:8443/session/end?x=1")),
            external(Some("https://idp.example:8443/other")),
            external(Some("not a url")),
        ]);
        assert!(csp.contains("form-action 'self' https://idp.example:8443;"), "{csp}");
        assert_eq!(csp.matches("idp.example").count(), 1, "{csp}");
    }
}
