//! `keymanager signing-keys`: the resident key manager's signing keys, as an operation (administrators; audited).

use clap::Subcommand;
use keymanager::api::dto::{ListDto, RotateSigningKeysDto};
use keymanager::server_kit::SigningKeyInfo;

use super::Context;
use crate::client::segment;
use crate::output::{print, table, time};
use crate::Failure;

#[derive(Debug, Subcommand)]
pub(crate) enum SigningKeysCommand {
    /// List the published keys and their phase: published (not signing yet), signing, verifying (until the tokens
    /// they signed have expired).
    ///
    /// Example: keymanager signing-keys list
    List,
    /// Rotate: new keys are published in the JWKS now and sign after the pre-publication; the old keys sign until
    /// then and stay published until their tokens have expired. Every node applies it at once.
    ///
    /// Example: keymanager signing-keys rotate --pre-publish 10m --retire-after 1d
    Rotate {
        /// How long the new keys are published before they sign (90s, 10m, 1h, 1d; 0 = at once) [default: the key
        /// manager's signing_key_pre_publication].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        pre_publish: Option<u64>,
        /// How long the old keys stay published after they stop signing [default: the longest token lifetime].
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        retire_after: Option<u64>,
    },
    /// Take a key out of the JWKS now: tokens it signed stop validating everywhere (a compromised key). The key
    /// that signs now is refused: rotate with --pre-publish 0 first.
    ///
    /// Example: keymanager signing-keys retire 3f2a…
    Retire {
        /// The key's id (kid). Key ids are base64url and may begin with `-`: taken as given, never as an option.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

pub(crate) async fn signing_keys(ctx: &Context, cmd: SigningKeysCommand) -> Result<(), Failure> {
    let api = ctx.api()?;
    let list: ListDto<SigningKeyInfo> = match cmd {
        SigningKeysCommand::List => api.get("/api/signing-keys").await?,
        SigningKeysCommand::Rotate {
            pre_publish,
            retire_after,
        } => {
            api.post(
                "/api/signing-keys/rotate",
                &RotateSigningKeysDto {
                    pre_publish_seconds: pre_publish,
                    retire_after_seconds: retire_after,
                },
            )
            .await?
        }
        SigningKeysCommand::Retire { kid } => {
            let key: SigningKeyInfo = api
                .post(
                    &format!("/api/signing-keys/{}/retire", segment(&kid)),
                    &serde_json::json!({}),
                )
                .await?;
            ListDto::new(vec![key])
        }
    };
    print(ctx.json, &list, |d| {
        let rows: Vec<Vec<String>> = d
            .list
            .iter()
            .map(|k| {
                let when = |t: Option<i64>| t.map(time).unwrap_or_else(|| "-".into());
                vec![
                    k.kid.clone(),
                    k.alg.clone(),
                    serde_json::to_value(k.phase)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    time(k.created_at),
                    when(k.activates_at),
                    when(k.retired_at),
                    when(k.expires_at),
                ]
            })
            .collect();
        table(
            &[
                "KID",
                "ALG",
                "PHASE",
                "PUBLISHED",
                "SIGNS FROM",
                "STOPS SIGNING",
                "LEAVES JWKS",
            ],
            &rows,
        )
    });
    Ok(())
}

/// A duration: seconds, or a number with `s`, `m`, `h` or `d`.
fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (90s, 10m, 1h, 1d)"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` is not a duration: the unit is s, m, h or d")),
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("`{text}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_read_with_or_without_a_unit_and_never_overflow() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("1d"), Ok(86_400));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
        assert!(parse_duration("999999999999999999d").is_err(), "overflow is an error");
    }
}
