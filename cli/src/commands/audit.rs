//! `keymanager audit`: the audit trail of the management API (administrators only).

use clap::Args;
use keymanager::api::dto::AuditListDto;

use super::{application, Context};
use crate::output::{print, table, time};
use crate::Failure;

/// Filters and paging of `keymanager audit`.
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Only this actor's changes (admin token name, user subject or client id).
    #[arg(long)]
    actor: Option<String>,
    /// Only this application's changes (id or name).
    #[arg(long)]
    app: Option<String>,
    /// Only this action (`application.create`, `secret.delete`, …).
    #[arg(long)]
    action: Option<String>,
    /// From this time on: RFC 3339 (`2026-11-29T10:00:00Z`) or seconds since the epoch.
    #[arg(long)]
    since: Option<String>,
    /// Before this time: RFC 3339 or seconds since the epoch.
    #[arg(long)]
    until: Option<String>,
    /// Records per page (1 to 500).
    #[arg(long, default_value_t = 25)]
    limit: u32,
    /// Records to skip (newest first).
    #[arg(long, default_value_t = 0)]
    offset: u32,
}

/// A time as the command line gives it.
fn epoch(flag: &str, text: &str) -> Result<i64, Failure> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| {
            Failure::Usage(format!(
                "--{flag} `{text}`: give RFC 3339 (2026-11-29T10:00:00Z) or epoch seconds"
            ))
        })
}

pub(crate) async fn audit(ctx: &Context, args: AuditArgs) -> Result<(), Failure> {
    let api = ctx.api()?;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(a) = &args.actor {
        query.append_pair("actor", a);
    }
    if let Some(app) = &args.app {
        query.append_pair("applicationId", &application(&api, app).await?.application_id);
    }
    if let Some(a) = &args.action {
        query.append_pair("action", a);
    }
    if let Some(t) = &args.since {
        query.append_pair("since", &epoch("since", t)?.to_string());
    }
    if let Some(t) = &args.until {
        query.append_pair("until", &epoch("until", t)?.to_string());
    }
    query.append_pair("limit", &args.limit.to_string());
    query.append_pair("offset", &args.offset.to_string());
    let page: AuditListDto = api.get(&format!("/api/audit?{}", query.finish())).await?;
    print(ctx.json, &page, |p| {
        let rows: Vec<Vec<String>> = p
            .list
            .iter()
            .map(|r| {
                let actor = match &r.actor.key_manager {
                    Some(km) => format!("{} {} ({km})", r.actor.kind.as_str(), r.actor.name),
                    None => format!("{} {}", r.actor.kind.as_str(), r.actor.name),
                };
                vec![
                    time(r.time),
                    actor,
                    r.action.clone(),
                    r.application_id.clone().unwrap_or_default(),
                    r.target.clone().unwrap_or_default(),
                    match &r.detail {
                        Some(d) => format!("{} ({d})", r.outcome.as_str()),
                        None => r.outcome.as_str().to_owned(),
                    },
                ]
            })
            .collect();
        let mut out = table(&["TIME", "ACTOR", "ACTION", "APPLICATION", "TARGET", "OUTCOME"], &rows);
        let pg = &p.pagination;
        let last = u64::from(pg.offset) + p.count as u64;
        out.push_str(&format!(
            "\n{}–{} of {} (newest first){}",
            if p.count == 0 { 0 } else { u64::from(pg.offset) + 1 },
            last,
            pg.total,
            if pg.next.is_some() {
                format!("; next: --offset {}", u64::from(pg.offset) + u64::from(pg.limit))
            } else {
                String::new()
            }
        ));
        out
    });
    Ok(())
}
