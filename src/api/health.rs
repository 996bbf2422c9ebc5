//! Health for orchestrators and load balancers: `GET /health/live` (the process answers) and `GET /health/ready`
//! (every [`ReadinessCheck`] passes: the stores answer, signing keys are loaded, …; otherwise `503` with a JSON
//! body naming what is not ready). Neither needs a token, and neither says more than a name and a reason.

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

/// One thing the server needs to be ready.
#[async_trait]
pub trait ReadinessCheck: Send + Sync {
    /// A short name (`key service store`, `Resident Key Manager`).
    fn name(&self) -> String;
    /// `Err(reason)` when it is not ready.
    async fn check(&self) -> Result<(), String>;
}

/// The checks, shared by the routes.
#[derive(Clone)]
pub(crate) struct HealthState {
    checks: Arc<Vec<Arc<dyn ReadinessCheck>>>,
    build: Build,
}

/// What `GET /health/live` says of the running build, so an operator can tell which version answers.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Build {
    /// The release (`0.1.0`).
    pub version: &'static str,
    /// The git commit it was built from (`unknown` outside a git checkout).
    pub commit: &'static str,
}

/// `GET /health/live`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct LivenessDto {
    /// Always `live`.
    pub status: &'static str,
    /// The release.
    pub version: &'static str,
    /// The git commit.
    pub commit: &'static str,
}

/// One check's outcome.
#[derive(Debug, Serialize)]
pub(crate) struct CheckDto {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ready: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /health/ready`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct ReadinessDto {
    /// `ready` or `not ready`.
    pub status: &'static str,
    /// Each check.
    pub checks: Vec<CheckDto>,
}

crate::route_table! {
    /// The health routes (public).
    HealthState;
    get "/health/live" => live,
    get "/health/ready" => ready,
}

/// The health routes over these checks, `/health/live` naming `build`.
pub fn router(checks: Vec<Arc<dyn ReadinessCheck>>, build: Build) -> axum::Router {
    routes().with_state(HealthState {
        checks: Arc::new(checks),
        build,
    })
}

async fn live(State(s): State<HealthState>) -> Json<LivenessDto> {
    Json(LivenessDto {
        status: "live",
        version: s.build.version,
        commit: s.build.commit,
    })
}

async fn ready(State(s): State<HealthState>) -> (StatusCode, Json<ReadinessDto>) {
    let outcomes = run_checks(&s.checks).await;
    let all = outcomes.iter().all(|c| c.ready);
    let status = if all {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(ReadinessDto {
            status: if all { "ready" } else { "not ready" },
            checks: outcomes,
        }),
    )
}

/// Run every check, each bounded to 2 s so one hung dependency does not hang the probe.
async fn run_checks(checks: &[Arc<dyn ReadinessCheck>]) -> Vec<CheckDto> {
    let mut out = Vec::with_capacity(checks.len());
    for c in checks {
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(2), c.check()).await;
        let reason = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(r)) => Some(r),
            Err(_) => Some("did not answer within 2 s".into()),
        };
        out.push(CheckDto {
            name: c.name(),
            ready: reason.is_none(),
            reason,
        });
    }
    out
}

/// The key service's store answers a query.
pub struct StoreCheck(pub Arc<dyn crate::service::ApplicationStore>);

#[async_trait]
impl ReadinessCheck for StoreCheck {
    fn name(&self) -> String {
        "key service store".into()
    }

    async fn check(&self) -> Result<(), String> {
        self.0.ping().await.map_err(|e| e.detail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    const BUILD: Build = Build {
        version: "9.8.7",
        commit: "abc1234",
    };

    struct Fixed(&'static str, Result<(), String>);

    #[async_trait]
    impl ReadinessCheck for Fixed {
        fn name(&self) -> String {
            self.0.into()
        }
        async fn check(&self) -> Result<(), String> {
            self.1.clone()
        }
    }

    async fn get(app: axum::Router, path: &str) -> (StatusCode, serde_json::Value) {
        let resp = app
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn ready_names_what_is_not_ready_and_live_does_not_care() {
        let checks: Vec<Arc<dyn ReadinessCheck>> = vec![
            Arc::new(Fixed("store", Ok(()))),
            Arc::new(Fixed("signing keys", Err("none loaded".into()))),
        ];
        let app = router(checks, BUILD);
        let (s, body) = get(app.clone(), "/health/ready").await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "not ready");
        assert_eq!(body["checks"][1]["name"], "signing keys");
        assert_eq!(body["checks"][1]["reason"], "none loaded");
        assert_eq!(body["checks"][0]["ready"], true);
        let (s, body) = get(app, "/health/live").await;
        assert_eq!((s, body["status"].as_str()), (StatusCode::OK, Some("live")));
        assert_eq!(
            (body["version"].as_str(), body["commit"].as_str()),
            (Some("9.8.7"), Some("abc1234"))
        );
        let (s, _) = get(router(vec![Arc::new(Fixed("store", Ok(())))], BUILD), "/health/ready").await;
        assert_eq!(s, StatusCode::OK);
    }
}
