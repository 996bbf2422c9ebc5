//! `GET /api/gateway/events`: the revocation log as Server-Sent Events, for gateways that do not share the database.
//!
//! Each event is one entry of the log ([`GatewayEvent`]): `id` its number, `event: revoked`, `data` the entry as
//! JSON (the key manager and what is revoked: a `jti`, the SHA-256 of a token's value — never a token —, a grant, a
//! secret or a client). A gateway that reconnects sends `Last-Event-ID` and gets what came after it. The backlog is
//! bounded by the tokens it covers (an entry goes once every token it names has expired), so a gateway catching up
//! from nothing still gets every revocation that matters. After the backlog one `event: caught-up` says the stream
//! is live; new entries, written by any node, follow within [`POLL`]. A comment every 15 s keeps idle proxies from
//! closing the stream. Callers: `keymanager:gateway` (or an administrator).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::{ApiError, ApiState};
use crate::model::GatewayEvent;
use crate::service::KeyService;

/// How often a live stream looks for new entries in the log (every node writes there).
pub(crate) const POLL: Duration = Duration::from_millis(250);
/// Entries read from the log at a time.
const BATCH: u32 = 500;

/// The request headers this stream reads, for the OpenAPI document.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub(super) struct EventsHeaders {
    /// The number of the last event received: the stream resumes after it.
    #[param(rename = "Last-Event-ID", minimum = 0)]
    last_event_id: Option<i64>,
}

pub(super) async fn gateway_events(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(v) => match v
            .to_str()
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok())
            .filter(|n| *n >= 0)
        {
            Some(n) => n,
            None => {
                return ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "Bad Request",
                    "`Last-Event-ID` must be the number of an event this stream sent",
                )
                .field("Last-Event-ID", "not an event number")
                .into_response()
            }
        },
    };
    // The first read is answered as the API's errors are (a store that is down is 503), not as a broken stream.
    let first = match state.service.gateway_events(after, BATCH).await {
        Ok(list) => list,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let follow = Follow {
        more: first.len() == BATCH as usize,
        pending: first.into(),
        service: state.service.clone(),
        after,
        live: false,
    };
    Sse::new(stream::unfold(follow, next))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Where one stream is in the log.
struct Follow {
    service: KeyService,
    /// The number of the last entry sent.
    after: i64,
    /// Entries read and not yet sent.
    pending: VecDeque<GatewayEvent>,
    /// Whether the last read filled a batch (more backlog may follow).
    more: bool,
    /// Whether `caught-up` was sent.
    live: bool,
}

async fn next(mut f: Follow) -> Option<(Result<Event, Infallible>, Follow)> {
    loop {
        if let Some(entry) = f.pending.pop_front() {
            f.after = entry.id;
            let Ok(data) = serde_json::to_string(&entry) else {
                continue;
            };
            let kind = if entry.notice.is_some() { "notice" } else { "revoked" };
            let event = Event::default().id(entry.id.to_string()).event(kind).data(data);
            return Some((Ok(event), f));
        }
        if !f.live && !f.more {
            f.live = true;
            return Some((Ok(Event::default().event("caught-up").data(f.after.to_string())), f));
        }
        if f.live {
            tokio::time::sleep(POLL).await;
        }
        match f.service.gateway_events(f.after, BATCH).await {
            Ok(list) => {
                f.more = list.len() == BATCH as usize;
                f.pending = list.into();
            }
            Err(e) => {
                // The gateway reconnects with the last number it saw and misses nothing.
                tracing::warn!(error = %e, "cannot read the revocation log; ending a gateway event stream");
                return None;
            }
        }
    }
}

/// `POST /api/gateway/dpop-proofs`: record a DPoP proof a gateway accepted. `204` the first time any gateway node
/// records it, `409` for a replay; kept for [`PROOF_RECORD_SECONDS`](crate::model::PROOF_RECORD_SECONDS).
pub(super) async fn record_dpop_proof(
    State(state): State<ApiState>,
    super::ApiJson(body): super::ApiJson<super::dto::DpopProofDto>,
) -> Response {
    match state.service.accept_gateway_dpop_proof(&body.jkt, &body.jti).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => ApiError::new(StatusCode::CONFLICT, "Conflict", "this DPoP proof was used before").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
