//! Who may call what: the one place the management API decides. Every route of [`ROUTES`](super::ROUTES) has a
//! [`Rule`] in [`RULES`]: who may call it ([`Access`]) and, for a change, the action its audit record names. The
//! middleware `authorize` applies it before any handler runs:
//!
//! 1. the caller: an admin token, or an access token of a key manager in `[server] api_identity`
//!    ([`ApiIdentity`]), else `401`;
//! 2. the scope the route needs (`keymanager:apps` for one's own applications, `keymanager:admin` for the rest),
//!    else `403` with an RFC 6750 `insufficient_scope` challenge naming it;
//! 3. ownership: on a route under `/api/applications/{applicationId}`, a caller who is not an administrator gets
//!    `404` for another owner's application, exactly as for a missing one, so ids cannot be probed;
//! 4. the audit record of a change, which the handler's store write carries in its transaction (or which is
//!    appended here once the change is acknowledged, or with the failure).
//!
//! A route cannot be declared without its rule: the route table's entries carry them.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ApiState};
use crate::service::{Actor, ActorKind, Audit, AuditRecord};
use crate::validation::{TokenValidator, ValidationError};
use crate::Error;

/// The scope that lets a caller manage their own applications, their keys, secrets and test tokens.
pub const SCOPE_APPS: &str = "keymanager:apps";
/// The scope that lets a caller do everything an admin token can.
pub const SCOPE_ADMIN: &str = "keymanager:admin";
/// The scope that lets a gateway follow revocations (`GET /api/gateway/events`) and record the DPoP proofs it accepts
/// (`POST /api/gateway/dpop-proofs`), and nothing else.
pub const SCOPE_GATEWAY: &str = "keymanager:gateway";
/// Scopes under this prefix are the management API's own: only an administrator may give them to a client.
pub(crate) const RESERVED_SCOPE_PREFIX: &str = "keymanager:";

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the OpenAPI document).
    Public,
    /// A developer with `keymanager:apps`, on their own applications; an administrator on any.
    Apps,
    /// An administrator: an admin token, or an access token with `keymanager:admin`.
    Admin,
    /// A gateway following revocations: an access token with `keymanager:gateway`, or an administrator.
    Gateway,
}

impl Access {
    /// The access-token scopes that open a route of this kind, the first the one a refusal names; an admin token
    /// opens every route, and a `Public` route asks for nothing (empty). The access middleware decides by this list
    /// and the OpenAPI document's `security` is written from it.
    pub fn scopes(self) -> &'static [&'static str] {
        match self {
            Access::Public => &[],
            Access::Apps => &[SCOPE_APPS, SCOPE_ADMIN],
            Access::Admin => &[SCOPE_ADMIN],
            Access::Gateway => &[SCOPE_GATEWAY, SCOPE_ADMIN],
        }
    }
}

/// The decision for one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Who may call it.
    pub access: Access,
    /// For a route that changes something, the action its audit record names (`application.create`); `None` for
    /// a read.
    pub action: Option<&'static str>,
}

use Access::Public;

/// Every route's rule: (method, path template, access, audited action), declared with the route itself in the one
/// route table ([`ROUTE_RULES`](super::ROUTE_RULES)).
pub const RULES: &[(&str, &str, Access, Option<&str>)] = super::ROUTE_RULES;

/// The rule for one route (`method` lower case, `path` the route template), or `None` when nobody decided.
pub fn rule(method: &str, path: &str) -> Option<Rule> {
    RULES
        .iter()
        .find(|(m, p, _, _)| *m == method && *p == path)
        .map(|&(_, _, access, action)| Rule { access, action })
}

/// The access decision alone.
pub fn access(method: &str, path: &str) -> Option<Access> {
    rule(method, path).map(|r| r.access)
}

/// The address the request came from (the connection's peer), when the server knows it: what a password check
/// counts failures against. Every route that checks a password takes it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ClientAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip()),
        ))
    }
}

/// Who is calling, as the middleware established it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// Anyone, on a public route.
    Anonymous,
    /// An administrator, by the name of the admin token presented (`config` for `[server] admin_token`).
    Admin {
        /// The admin token's name.
        token: String,
    },
    /// The holder of an access token from a key manager in `api_identity`.
    User {
        /// The key manager that issued the token.
        key_manager: String,
        /// The token's subject (`sub`): the user, or the client itself for a client-credentials token.
        subject: String,
        /// Whether the token speaks for a client acting as itself (its subject is its client id).
        client: bool,
        /// Whether the token grants `keymanager:admin`.
        admin: bool,
        /// Whether the token grants `keymanager:apps`.
        apps: bool,
        /// Whether the token grants `keymanager:gateway`.
        gateway: bool,
        /// The owner name this caller's applications carry (see [`ApiIdentity::owner_of`]).
        owner: String,
    },
}

impl Caller {
    /// Whether the caller may act on every application and administer the server.
    pub(crate) fn is_admin(&self) -> bool {
        matches!(self, Caller::Admin { .. } | Caller::User { admin: true, .. })
    }

    /// Whether the caller may call a route of this kind (`Public` routes never ask): `Admin` only an
    /// administrator, `Apps` a developer or an administrator, `Gateway` a gateway or an administrator. A token with
    /// `keymanager:gateway` alone is no developer.
    pub(crate) fn may(&self, access: Access) -> Result<(), ApiError> {
        let scopes = access.scopes();
        match scopes.first() {
            None => Ok(()),
            Some(_) if matches!(self, Caller::Admin { .. }) => Ok(()),
            Some(_) if scopes.iter().any(|s| self.has_scope(s)) => Ok(()),
            Some(needed) => Err(ApiError::insufficient_scope(needed)),
        }
    }

    /// Whether the caller's access token grants this scope of the management API's own.
    fn has_scope(&self, scope: &str) -> bool {
        match self {
            Caller::User {
                admin, apps, gateway, ..
            } => match scope {
                SCOPE_ADMIN => *admin,
                SCOPE_APPS => *apps,
                SCOPE_GATEWAY => *gateway,
                _ => false,
            },
            _ => false,
        }
    }

    /// The owner name the caller's own applications carry; `None` for an admin token (it owns none).
    pub(crate) fn owner(&self) -> Option<&str> {
        match self {
            Caller::User { owner, .. } => Some(owner),
            _ => None,
        }
    }

    /// Whose applications the caller sees: `None` for all (an administrator), else only its own.
    pub(crate) fn visible_owner(&self) -> Option<&str> {
        match self.is_admin() {
            true => None,
            false => self.owner(),
        }
    }

    /// The caller as an audit record names it; `None` for an anonymous one.
    pub(crate) fn actor(&self) -> Option<Actor> {
        match self {
            Caller::Anonymous => None,
            Caller::Admin { token } => Some(Actor {
                kind: ActorKind::AdminToken,
                name: token.clone(),
                key_manager: None,
            }),
            Caller::User {
                key_manager,
                subject,
                client,
                ..
            } => Some(Actor {
                kind: if *client { ActorKind::Client } else { ActorKind::User },
                name: subject.clone(),
                key_manager: Some(key_manager.clone()),
            }),
        }
    }

    /// The owner of a new application: the caller itself, or any owner an administrator names. A developer naming
    /// another owner is refused.
    pub(crate) fn owner_for_new(&self, requested: Option<&str>) -> Result<String, ApiError> {
        let requested = requested.map(str::trim).filter(|o| !o.is_empty());
        match (self.is_admin(), requested, self.owner()) {
            (true, Some(o), _) => Ok(o.to_owned()),
            (_, None, Some(own)) => Ok(own.to_owned()),
            (false, Some(o), Some(own)) if o == own => Ok(own.to_owned()),
            (false, Some(_), _) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "only an administrator may create an application for another owner; leave `owner` out",
            )
            .field("owner", "only an administrator may name another owner")),
            (_, None, None) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "an admin token owns no applications: name the application's owner",
            )
            .field("owner", "required when an admin token creates an application")),
        }
    }

    /// Mapping an existing client: a developer must prove it holds the client by its secret (a public client, which
    /// has none, can be mapped by an administrator only), or anyone could take over any client by its id.
    pub(crate) fn check_map_proof(&self, has_secret: bool) -> Result<(), ApiError> {
        match self.is_admin() || has_secret {
            true => Ok(()),
            false => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "send the client's secret to prove it is yours (only an administrator may map a client without one)",
            )
            .field("consumerSecret", "required")),
        }
    }

    /// A client's scopes as a caller may set them: the management API's own scopes (`keymanager:…`) only by an
    /// administrator, so a developer cannot make a client that outranks them.
    pub(crate) fn check_client_scopes(&self, scopes: &[String]) -> Result<(), ApiError> {
        if self.is_admin() {
            return Ok(());
        }
        match scopes.iter().position(|s| s.starts_with(RESERVED_SCOPE_PREFIX)) {
            None => Ok(()),
            Some(i) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!(
                    "scope `{}` belongs to the management API: only an administrator may give it to a client",
                    scopes[i]
                ),
            )
            .field(format!("scopes[{i}]"), "reserved for administrators")),
        }
    }
}

/// The key managers whose access tokens the management API accepts (`[server] api_identity`), and the validator
/// that checks them.
#[derive(Clone)]
pub struct ApiIdentity {
    validator: Arc<TokenValidator>,
    key_managers: Vec<String>,
}

impl std::fmt::Debug for ApiIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiIdentity")
            .field("key_managers", &self.key_managers)
            .finish_non_exhaustive()
    }
}

impl ApiIdentity {
    /// Accept tokens of `key_managers` (the first is the home one, see [`owner_of`](Self::owner_of)), checked by
    /// `validator`, which should know only these key managers.
    pub fn new(validator: Arc<TokenValidator>, key_managers: Vec<String>) -> Self {
        ApiIdentity {
            validator,
            key_managers,
        }
    }

    /// The owner name of a caller: the subject itself for the first key manager listed, `KEY_MANAGER:SUBJECT` for
    /// the others (subjects are unique only per issuer).
    pub fn owner_of(&self, key_manager: &str, subject: &str) -> String {
        match self.key_managers.first() {
            Some(home) if home == key_manager => subject.to_owned(),
            _ => format!("{key_manager}:{subject}"),
        }
    }

    async fn caller(&self, token: &str) -> Result<Caller, ApiError> {
        let principal = self.validator.validate(token).await.map_err(|e| match e {
            ValidationError::Unavailable(_) => ApiError::from(Error::Busy {
                message: "the access token cannot be checked now; retry".into(),
                retry_after: std::time::Duration::from_secs(1),
            }),
            other => {
                tracing::debug!(reason = other.reason(), "an access token was refused");
                ApiError::invalid_token()
            }
        })?;
        if !self.key_managers.iter().any(|k| *k == principal.key_manager) {
            return Err(ApiError::invalid_token());
        }
        let subject = principal
            .subject
            .clone()
            .or_else(|| principal.client_id.clone())
            .ok_or_else(ApiError::invalid_token)?;
        let client = principal.client_id.as_deref() == Some(subject.as_str());
        let admin = principal.has_scope(SCOPE_ADMIN);
        let apps = principal.has_scope(SCOPE_APPS);
        let gateway = principal.has_scope(SCOPE_GATEWAY);
        if !(admin || apps || gateway) {
            // A valid token for something else: the caller is known, the scope is missing.
            return Err(ApiError::insufficient_scope(SCOPE_APPS));
        }
        Ok(Caller::User {
            owner: self.owner_of(&principal.key_manager, &subject),
            key_manager: principal.key_manager.clone(),
            subject,
            client,
            admin,
            apps,
            gateway,
        })
    }
}

/// The middleware: the route's rule, the caller, the scope, ownership and the audit record; or the refusal.
pub(crate) async fn authorize(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_ascii_lowercase();
    let matched = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let Some(rule) = matched.as_deref().and_then(|p| rule(&method, p)) else {
        // A method the route does not take (any text a caller invents): 405 naming the ones it does. The method
        // is never logged above debug, and never as the caller wrote it.
        let allowed: Vec<String> = RULES
            .iter()
            .filter(|(_, p, _, _)| Some(*p) == matched.as_deref())
            .map(|(m, _, _, _)| m.to_ascii_uppercase())
            .collect();
        if allowed.is_empty() {
            tracing::error!(route = ?matched, "a management route has no access decision; refusing it");
            return ApiError::unauthorized().into_response();
        }
        tracing::debug!(route = ?matched, "a method the route does not take");
        let mut resp = ApiError::with_status(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method")
            .into_response();
        if let Ok(v) = axum::http::HeaderValue::from_str(&allowed.join(", ")) {
            resp.headers_mut().insert(header::ALLOW, v);
        }
        return resp;
    };
    if rule.access == Public {
        let mut req = req;
        req.extensions_mut().insert(Caller::Anonymous);
        return next.run(req).await;
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::model::bearer_token)
        .map(str::to_owned);
    let Some(presented) = presented else {
        return ApiError::unauthorized().into_response();
    };
    let caller = match ((state.auth.admin)(&presented), &state.auth.identity) {
        (Some(token), _) => Caller::Admin { token },
        (None, Some(identity)) => match identity.caller(&presented).await {
            Ok(c) => c,
            Err(e) => return e.into_response(),
        },
        (None, None) => return ApiError::unauthorized().into_response(),
    };
    let (mut parts, body) = req.into_parts();
    let params = RawPathParams::from_request_parts(&mut parts, &state).await.ok();
    let param = |name: &str| {
        params
            .as_ref()
            .and_then(|p| p.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_owned()))
    };
    let application_id = param("applicationId");
    let audit = match (rule.action, caller.actor()) {
        (Some(action), Some(actor)) => {
            let mut record = AuditRecord::at(actor, action, state.service.now());
            record.application_id = application_id.clone();
            record.request_id = parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            record.source = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_string());
            let audit = Audit::new(record);
            for name in ["keyMappingId", "secretId", "keyManager", "name", "username"] {
                if let Some(v) = param(name) {
                    audit.add_target(name, &v);
                }
            }
            audit
        }
        _ => Audit::default(),
    };
    // A change by a holder of an access token takes from their write quota (admin tokens are the operators').
    if let (
        Some(_),
        Caller::User {
            key_manager, subject, ..
        },
        Some(quota),
    ) = (rule.action, &caller, &state.quota)
    {
        let who = format!("{key_manager}\u{0}{subject}");
        if let super::quota::Decision::Refused { retry_after, first } = quota.take(&who, std::time::Instant::now()) {
            let secs = retry_after.as_secs().max(1);
            let refused =
                ApiError::from(Error::rate_limited(Some(std::time::Duration::from_secs(secs)))).into_response();
            if first {
                return finish_audit(&state, &audit, refused).await;
            }
            return refused;
        }
    }
    let refusal = match caller.may(rule.access) {
        Err(e) => Some(e),
        Ok(()) => match (&application_id, caller.visible_owner()) {
            (Some(id), Some(own)) => match state.service.application(id).await {
                Ok(app) if app.owner == own => None,
                // Another owner's application answers exactly as a missing one.
                Ok(_) => Some(ApiError::from(Error::not_found("application", id))),
                Err(e) => Some(ApiError::from(e)),
            },
            _ => None,
        },
    };
    let resp = match refusal {
        Some(e) => e.into_response(),
        None => {
            parts.extensions.insert(caller);
            parts.extensions.insert(audit.clone());
            next.run(Request::from_parts(parts, body)).await
        }
    };
    finish_audit(&state, &audit, resp).await
}

/// Write the record of a change the handler did not write with it (one made only at a key manager), or of a
/// failure. A change whose record cannot be written is not acknowledged: the answer becomes `503`.
async fn finish_audit(state: &ApiState, audit: &Audit, resp: Response) -> Response {
    let Some(record) = audit.record() else {
        return resp;
    };
    let status = resp.status();
    if audit.is_written() {
        // The change and its record are one transaction; what failed after it does not undo it.
        return resp;
    }
    if status.is_success() || status.is_redirection() {
        return match state.service.append_audit(&record).await {
            Ok(()) => resp,
            Err(e) => {
                tracing::error!(error = %e, action = %record.action, application_id = ?record.application_id,
                    "a change was made but its audit record could not be written");
                ApiError::from(Error::Busy {
                    message: "the change was made but its audit record could not be written, so it is not \
                              acknowledged; check its state and retry"
                        .into(),
                    retry_after: std::time::Duration::from_secs(5),
                })
                .into_response()
            }
        };
    }
    let record = record.failed(status.as_u16(), status.canonical_reason().unwrap_or(""));
    if let Err(e) = state.service.append_audit(&record).await {
        tracing::error!(error = %e, action = %record.action, "the audit record of a failed change could not be written");
    }
    resp
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Audit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Audit>().cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::{Access, Caller};

    fn user(admin: bool, apps: bool, gateway: bool) -> Caller {
        Caller::User {
            key_manager: "resident".into(),
            subject: "s".into(),
            client: false,
            admin,
            apps,
            gateway,
            owner: "s".into(),
        }
    }

    /// Each scope opens its own routes only: `keymanager:gateway` follows events and nothing else, a developer
    /// does not follow events, an administrator (token or scope) may do all.
    #[test]
    fn each_scope_opens_its_own_routes_only() {
        let admin_token = Caller::Admin { token: "config".into() };
        let cases = [
            (user(false, false, true), [true, false, false, true]),
            (user(false, true, false), [true, true, false, false]),
            (user(true, false, false), [true, true, true, true]),
            (admin_token, [true, true, true, true]),
        ];
        for (caller, expected) in cases {
            let got = [Access::Public, Access::Apps, Access::Admin, Access::Gateway].map(|a| caller.may(a).is_ok());
            assert_eq!(got, expected, "{caller:?}");
        }
    }
}
