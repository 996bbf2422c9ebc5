//! `keymanager validate`: the gateway's own view of a token, from the configuration and the key managers added at
//! run time (no server needed).

use std::sync::Arc;

use keymanager::validation::{TokenValidator, ValidatorSettings};

use super::{read_secret, Context};
use crate::output::line;
use crate::{setup, Failure};

pub(crate) async fn validate(ctx: &Context) -> Result<(), Failure> {
    let config = setup::load_config(ctx.config.as_deref())?;
    let dir = setup::data_dir(ctx.data_dir.as_deref(), &config);
    let rt = setup::build(&config, &dir, None, setup::Access::ReadOnly).await?;
    let token = read_secret("token", None)?;
    let validator = TokenValidator::new(&rt.key_managers, ValidatorSettings::default())?
        .with_applications(Arc::new(rt.service.clone()))
        .with_revocation_feed(rt.store.clone());
    if let Some(service) = keymanager_server::gateway_auth::runtime_key_managers(&rt, &dir).await? {
        validator.set_key_managers(&service.watch_key_managers().borrow());
    }
    validator.poll_revocations().await;
    let principal = validator
        .validate(&token)
        .await
        .map_err(|e| Failure::Refused(format!("the token is not valid: {e}")))?;
    line(&serde_json::to_string_pretty(principal.as_ref()).unwrap_or_default());
    Ok(())
}
