//! Admin mode: calls to `/admin/realms/{realm}` with the cached service-account token, the client's internal id,
//! its secrets and its optional client scopes.

use super::*;

impl KeycloakKeyManager {
    pub(super) fn admin_mode(&self, operation: &str) -> Result<&AdminTokens> {
        self.admin
            .as_ref()
            .ok_or_else(|| Error::unsupported(format!("{operation} (needs the admin API: configure admin_client_id)")))
    }

    /// An admin API call; a 401 drops the cached token and retries once with a fresh one.
    pub(super) async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<AdminBody<'_>>,
        idem: Idempotency,
    ) -> Result<HttpResponse> {
        let tokens = self.admin_mode("this operation")?;
        let url = format!("{}{path}", self.settings.admin_url);
        for attempt in 0..2 {
            let token = tokens.get(&self.http).await?;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.expose_secret());
            if let Some(b) = &body {
                req = req.json(b);
            }
            let resp = self.http.send(req, idem).await?;
            if resp.status.as_u16() == 401 && attempt == 0 {
                tracing::debug!(key_manager = %self.name, "admin token refused; fetching a new one");
                tokens.invalidate().await;
                continue;
            }
            return if resp.status.is_success() {
                Ok(resp)
            } else {
                Err(resp.into_error())
            };
        }
        Err(Error::unauthorized("the admin API refused a fresh token"))
    }

    /// The internal id of a client (cached; looked up by `?clientId=`).
    pub(super) async fn uuid_of(&self, client_id: &str) -> Result<String> {
        if let Some(id) = self.ids.lock().unwrap_or_else(|p| p.into_inner()).get(client_id) {
            return Ok(id.clone());
        }
        let path = format!("/clients?clientId={}", url_encode(client_id));
        let list: Vec<ClientRepresentation> = self
            .admin(Method::GET, &path, None, Idempotency::Idempotent)
            .await?
            .json()?;
        let id = list
            .into_iter()
            .find(|c| c.client_id == client_id)
            .and_then(|c| c.id)
            .ok_or_else(|| Error::not_found("client", client_id))?;
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(client_id.to_owned(), id.clone());
        Ok(id)
    }

    pub(super) async fn secret_value(&self, uuid: &str, rotated: bool) -> Result<Option<String>> {
        let path = format!("/clients/{uuid}/client-secret{}", if rotated { "/rotated" } else { "" });
        match self.admin(Method::GET, &path, None, Idempotency::Idempotent).await {
            Ok(resp) => Ok(resp.json::<CredentialRepresentation>()?.value),
            Err(Error::NotFound { .. }) if rotated => Ok(None),
            Err(e) => Err(refine(e, "client", uuid)),
        }
    }

    /// The realm's client scopes, name → id.
    pub(super) async fn realm_scopes(&self) -> Result<Vec<(String, String)>> {
        let list: Vec<ClientScopeRepresentation> = self
            .admin(Method::GET, "/client-scopes", None, Idempotency::Idempotent)
            .await?
            .json()?;
        Ok(named_ids(list))
    }

    /// What must change for the client's optional client scopes to be exactly `wanted`: (detach, attach) as
    /// scope ids. Every wanted scope is resolved first, so an unknown one fails before anything changes.
    pub(super) async fn plan_optional_scopes(
        &self,
        uuid: &str,
        wanted: &[String],
    ) -> Result<(Vec<String>, Vec<String>)> {
        let base = format!("/clients/{uuid}/optional-client-scopes");
        let attached: Vec<ClientScopeRepresentation> = self
            .admin(Method::GET, &base, None, Idempotency::Idempotent)
            .await?
            .json()?;
        let attached = named_ids(attached);
        let detach = attached
            .iter()
            .filter(|(n, _)| !wanted.contains(n))
            .map(|(_, id)| id.clone())
            .collect();
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|w| !attached.iter().any(|(n, _)| n == *w))
            .collect();
        let mut attach = Vec::new();
        if !missing.is_empty() {
            let realm = self.realm_scopes().await?;
            for name in missing {
                let id = realm
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, id)| id.clone())
                    .ok_or_else(|| Error::invalid_scope(format!("the realm has no client scope named `{name}`")))?;
                attach.push(id);
            }
        }
        Ok((detach, attach))
    }

    /// Detach, then attach, optional scopes as planned. On a failure, what was done so far comes back with it (the
    /// ids detached and attached), so the caller can undo it with [`undo_optional_scopes`](Self::undo_optional_scopes).
    pub(super) async fn apply_optional_scopes(
        &self,
        uuid: &str,
        (detach, attach): (Vec<String>, Vec<String>),
    ) -> std::result::Result<(), (Error, (Vec<String>, Vec<String>))> {
        let base = format!("/clients/{uuid}/optional-client-scopes");
        let mut done: (Vec<String>, Vec<String>) = Default::default();
        for id in detach {
            if let Err(e) = self
                .admin(Method::DELETE, &format!("{base}/{id}"), None, Idempotency::Idempotent)
                .await
            {
                return Err((e, done));
            }
            done.0.push(id);
        }
        for id in attach {
            if let Err(e) = self
                .admin(Method::PUT, &format!("{base}/{id}"), None, Idempotency::Idempotent)
                .await
            {
                return Err((e, done));
            }
            done.1.push(id);
        }
        Ok(())
    }

    /// Undo what [`apply_optional_scopes`](Self::apply_optional_scopes) did: attach again what it detached, detach
    /// what it attached.
    pub(super) async fn undo_optional_scopes(
        &self,
        uuid: &str,
        (detached, attached): (Vec<String>, Vec<String>),
    ) -> Result<()> {
        self.apply_optional_scopes(uuid, (attached, detached))
            .await
            .map_err(|(e, _)| e)
    }
}

/// A body sent to the admin API.
#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
pub(super) enum AdminBody<'a> {
    /// `POST /clients`, `PUT /clients/{id}`.
    Client(&'a ClientRepresentation),
    /// `POST /client-scopes`.
    Scope(&'a ClientScopeRepresentation),
}

/// (name, id) of each scope that has an id.
fn named_ids(scopes: Vec<ClientScopeRepresentation>) -> Vec<(String, String)> {
    scopes.into_iter().filter_map(|s| Some((s.name, s.id?))).collect()
}
