//! `keymanager secret-key`: the key that seals retrievable secrets and run-time key managers' credentials, as an
//! operation: make a new entry, see which keys the store needs and this node has, and seal everything again under
//! the first key. Works on the store directly (no server needed; safe while one serves).

use clap::Subcommand;
use keymanager::server_kit::{SecretBox, SECRET_KEY_ENV, SECRET_KEY_FILE};
use serde::Serialize;

use crate::commands::Context;
use crate::output::{fields, line, print};
use crate::{setup, Failure};

#[derive(Debug, Subcommand)]
pub(crate) enum SecretKeyCommand {
    /// Print a new key entry, `FINGERPRINT:KEY`, to put first in KEYMANAGER_SECRET_KEY (or DATA_DIR/secret-key) on
    /// every node, keeping the old entries after it until `secret-key rotate` has run.
    ///
    /// Example: NEW=$(keymanager secret-key generate); KEYMANAGER_SECRET_KEY="$NEW,$OLD" keymanager serve
    Generate,
    /// Which keys the store's sealed values need, which this node has, and which are missing (exit 1 when any is).
    ///
    /// Example: keymanager secret-key status
    Status,
    /// Seal every sealed value again under this node's first key: resumable, and safe while nodes serve (each value
    /// is swapped only if nobody changed it meanwhile). Afterwards the old entries may be dropped.
    ///
    /// Example: KEYMANAGER_SECRET_KEY="$NEW,$OLD" keymanager secret-key rotate
    Rotate,
}

/// What `secret-key status` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusDto {
    /// Where this node's keys come from.
    source: String,
    /// The key that seals (this node's first).
    sealing_key: String,
    /// Every key id this node holds.
    node_keys: Vec<String>,
    /// Every key id the store's sealed values name.
    store_needs: Vec<String>,
    /// Those this node cannot open.
    missing: Vec<String>,
    /// Where values not yet under the sealing key are (what `rotate` would seal again): `key_manager:NAME:FIELD`,
    /// `client_secret:CLIENT:SECRET`.
    to_reseal: Vec<String>,
}

/// What `secret-key rotate` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RotateDto {
    sealing_key: String,
    key_manager_settings: usize,
    client_secrets: usize,
}

pub(crate) async fn secret_key(ctx: &Context, command: SecretKeyCommand) -> Result<(), Failure> {
    if let SecretKeyCommand::Generate = command {
        line(&SecretBox::new_entry()?);
        return Ok(());
    }
    let config = setup::load_config(ctx.config.as_deref())?;
    let dir = setup::data_dir(ctx.data_dir.as_deref(), &config);
    let Some(sealing) = SecretBox::load_existing(Some(&dir))? else {
        return Err(Failure::Usage(format!(
            "this node has no secret key: neither {SECRET_KEY_ENV} nor {} exists",
            dir.join(SECRET_KEY_FILE).display()
        )));
    };
    let rt = setup::build(&config, &dir, None, setup::Access::ReadOnly).await?;
    match command {
        SecretKeyCommand::Generate => Ok(()),
        SecretKeyCommand::Status => {
            let mut samples = rt.service.sealed_samples().await?;
            let mut pending = rt.service.sealed_not_under(&sealing).await?;
            if let Some((_, resident)) = &rt.resident {
                samples.extend(resident.server().sealed_samples().await?);
                pending.extend(resident.server().sealed_not_under(&sealing).await?);
            }
            let store_needs: Vec<String> = dedup(samples.iter().filter_map(|(v, _)| SecretBox::key_id_of(v)));
            let missing = store_needs
                .iter()
                .filter(|id| {
                    samples
                        .iter()
                        .filter(|(v, _)| SecretBox::key_id_of(v) == Some(id.as_str()))
                        .any(|(v, c)| sealing.open(v, c).is_err())
                })
                .cloned()
                .collect::<Vec<_>>();
            let dto = StatusDto {
                source: if std::env::var_os(SECRET_KEY_ENV).is_some() {
                    SECRET_KEY_ENV.to_owned()
                } else {
                    dir.join(SECRET_KEY_FILE).display().to_string()
                },
                sealing_key: sealing.sealing_key_id().to_owned(),
                node_keys: sealing.key_ids(),
                store_needs,
                missing,
                to_reseal: pending,
            };
            print(ctx.json, &dto, |d| {
                fields(&[
                    ("source", d.source.clone()),
                    ("sealing key", d.sealing_key.clone()),
                    ("this node has", d.node_keys.join(", ")),
                    ("the store needs", none_if_empty(&d.store_needs)),
                    ("missing", none_if_empty(&d.missing)),
                    ("to seal again", format!("{} value(s)", d.to_reseal.len())),
                ])
            });
            if dto.missing.is_empty() {
                Ok(())
            } else {
                Err(Failure::Refused(format!(
                    "this node lacks key(s) {} that the store needs",
                    dto.missing.join(", ")
                )))
            }
        }
        SecretKeyCommand::Rotate => {
            // Refuse before changing anything when a value cannot be opened at all.
            crate::setup::check_secret_key(&rt, &rt.service, &sealing).await?;
            let key_manager_settings = rt.service.reseal_key_managers(&sealing).await?;
            let client_secrets = match &rt.resident {
                Some((_, resident)) => resident.server().reseal_secrets(&sealing).await?,
                None => 0,
            };
            tracing::info!(
                sealing_key = sealing.sealing_key_id(),
                key_manager_settings,
                client_secrets,
                "sealed the stored secrets again under the first key"
            );
            let dto = RotateDto {
                sealing_key: sealing.sealing_key_id().to_owned(),
                key_manager_settings,
                client_secrets,
            };
            print(ctx.json, &dto, |d| {
                format!(
                    "sealed again under {}: {} key-manager setting(s), {} client secret(s); every stored value now \
                     opens with that key alone",
                    d.sealing_key, d.key_manager_settings, d.client_secrets
                )
            });
            Ok(())
        }
    }
}

fn dedup<'a>(ids: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    out
}

fn none_if_empty(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}
