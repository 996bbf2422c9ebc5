//! RFC 7591 client metadata read into the generic model.

use serde_json::{Map, Value};

use crate::model::{ClientId, ClientSecret, GrantType, OAuthClient};
use crate::{Error, Result};

/// The client an RFC 7591 / 7592 answer describes; `keep` names provider fields to keep in
/// `additional_properties`.
pub fn client_from_metadata(body: &Value, keep: &[&str]) -> Result<OAuthClient> {
    let body = body
        .as_object()
        .ok_or_else(|| Error::malformed("registration endpoint", ".", "the answer is not a JSON object"))?;
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let list = |k: &str| -> Vec<String> {
        body.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let client_id = text("client_id")
        .ok_or_else(|| Error::malformed("registration endpoint", "client_id", "the answer has no client_id"))?;
    let mut additional = Map::new();
    for k in keep {
        if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
            additional.insert((*k).into(), v.clone());
        }
    }
    Ok(OAuthClient {
        client_id: ClientId::new(client_id),
        client_secret: text("client_secret").map(ClientSecret::new),
        name: text("client_name").unwrap_or_default(),
        grant_types: list("grant_types")
            .iter()
            .map(|g| {
                let Ok(g) = g.parse::<GrantType>();
                g
            })
            .collect(),
        redirect_uris: list("redirect_uris"),
        scopes: crate::model::Scopes::from_peer(&text("scope").unwrap_or_default()),
        public_client: text("token_endpoint_auth_method").as_deref() == Some("none"),
        pkce: Default::default(),
        access_token_lifetime: None,
        refresh_token_lifetime: None,
        created_at: body.get("client_id_issued_at").and_then(Value::as_i64),
        additional_properties: additional,
    })
}
