//! Microsoft Graph plumbing: authenticated calls (a `401` fetches a fresh token once), bounded retries while a
//! just-made object replicates (PROVIDERS-2 §E9), and the lookups every operation starts from.

use std::time::Duration;

use keymanager::connector_kit::http::{HttpResponse, Idempotency};
use keymanager::connector_kit::{Error, Result};
use reqwest::Method;
use serde::Serialize;

use crate::bodies::{AppRoleAssignment, Application, Collection, ServicePrincipal};
use crate::errors::not_replicated_yet;
use crate::key_manager::EntraKeyManager;
use crate::settings::is_guid;

/// The longest wait between replication retries.
const MAX_REPLICATION_WAIT: Duration = Duration::from_secs(16);
/// The most collection pages followed.
const MAX_PAGES: usize = 100;

impl EntraKeyManager {
    /// One Graph call; a `401` drops the cached token and retries once. Errors come back as Graph said them.
    pub(crate) async fn graph<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idem: Idempotency,
    ) -> Result<HttpResponse> {
        let url = if path.starts_with("https://") || path.starts_with("http://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.settings.graph_url)
        };
        for attempt in 0..2 {
            let token = self.tokens.get(&self.http).await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret());
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = self.http.send(req, idem).await?;
            if resp.status.as_u16() == 401 && attempt == 0 {
                tracing::debug!(key_manager = %self.name, "Graph refused the token; fetching a new one");
                self.tokens.invalidate().await;
                continue;
            }
            return if resp.status.is_success() {
                Ok(resp)
            } else {
                Err(resp.into_error())
            };
        }
        Err(Error::unauthorized("Microsoft Graph refused a fresh token"))
    }

    /// [`graph`](Self::graph), sent again (waits doubling from `replication_backoff`, at most
    /// `replication_retries` times) while Graph answers that an object made a moment ago is not there yet. Only such
    /// a definite refusal is retried — nothing was made —, never a timeout.
    pub(crate) async fn graph_replicated<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idem: Idempotency,
    ) -> Result<HttpResponse> {
        let mut wait = self.settings.replication_backoff;
        let mut attempt = 0;
        loop {
            match self.graph(method.clone(), path, body, idem).await {
                Err(e) if not_replicated_yet(&e) && attempt < self.settings.replication_retries => {
                    tracing::debug!(key_manager = %self.name, %path, attempt, "not replicated yet; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_REPLICATION_WAIT);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// `/applications(appId='…')` or `/servicePrincipals(appId='…')`; an app id that is not a GUID names nothing.
    pub(crate) fn by_app_id(collection: &str, app_id: &str) -> Result<String> {
        if !is_guid(app_id) {
            return Err(Error::not_found("client", app_id));
        }
        Ok(format!("/{collection}(appId='{app_id}')"))
    }

    /// The application whose appId this is.
    pub(crate) async fn application(&self, app_id: &str) -> Result<Application> {
        let path = Self::by_app_id("applications", app_id)?;
        self.graph::<()>(Method::GET, &path, None, Idempotency::Idempotent)
            .await
            .map_err(|e| crate::errors::refine(e, "client", app_id))?
            .json()
    }

    /// The service principal of the application whose appId this is.
    pub(crate) async fn service_principal(&self, app_id: &str) -> Result<ServicePrincipal> {
        let path = Self::by_app_id("servicePrincipals", app_id)?;
        self.graph::<()>(Method::GET, &path, None, Idempotency::Idempotent)
            .await
            .map_err(|e| crate::errors::refine(e, "service principal", app_id))?
            .json()
    }

    /// The API application (its app roles) and its service principal (what roles are assigned on).
    pub(crate) async fn api(&self) -> Result<(Application, ServicePrincipal)> {
        let app = self
            .application(&self.settings.api_application)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::invalid_field(
                    "api_application",
                    format!(
                        "no application with appId {} in the tenant",
                        self.settings.api_application
                    ),
                ),
                other => other,
            })?;
        let sp = self.service_principal(&self.settings.api_application).await?;
        Ok((app, sp))
    }

    /// The app roles of the API assigned to `principal` (a client's service principal), every page followed.
    pub(crate) async fn assignments(&self, api_sp: &str, principal: &str) -> Result<Vec<AppRoleAssignment>> {
        let mut next = Some(format!("/servicePrincipals/{api_sp}/appRoleAssignedTo"));
        let mut out = Vec::new();
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            if pages > MAX_PAGES {
                return Err(Error::malformed(
                    "appRoleAssignedTo",
                    "@odata.nextLink",
                    "too many pages",
                ));
            }
            let page: Collection<AppRoleAssignment> = self
                .graph::<()>(Method::GET, &path, None, Idempotency::Idempotent)
                .await?
                .json()?;
            out.extend(page.value.into_iter().filter(|a| a.principal_id == principal));
            // Follow Graph's cursor only where Graph is: a link elsewhere is not followed.
            next = match page.next_link {
                Some(link) if link.starts_with(&format!("{}/", self.settings.graph_url)) => Some(link),
                Some(_) => {
                    return Err(Error::malformed(
                        "appRoleAssignedTo",
                        "@odata.nextLink",
                        "not under graph_url",
                    ))
                }
                None => None,
            };
        }
        Ok(out)
    }
}
