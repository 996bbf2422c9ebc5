//! SIGKILL during a burst of secret creations loses no secret that was returned to a caller.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn sigkill_during_a_burst_loses_no_returned_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = common::serve(dir.path());
    let admin = common::admin_token(dir.path());
    let base = served.base.clone();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let returned: Arc<Mutex<Vec<(String, String)>>> = Arc::default();

    rt.block_on(async {
        let http = reqwest::Client::new();
        let mut tasks = Vec::new();
        for worker in 0..8 {
            let (http, base, admin, returned) = (http.clone(), base.clone(), admin.clone(), returned.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let resp = http
                        .post(format!("{base}/oauth2/register"))
                        .bearer_auth(&admin)
                        .json(&serde_json::json!({
                            "client_name": format!("burst-{worker}-{i}"),
                            "grant_types": ["client_credentials"],
                        }))
                        .send()
                        .await;
                    let Ok(resp) = resp else { break };
                    let Ok(body) = resp.json::<serde_json::Value>().await else {
                        break;
                    };
                    if let (Some(id), Some(secret)) = (body["client_id"].as_str(), body["client_secret"].as_str()) {
                        returned.lock().unwrap().push((id.to_owned(), secret.to_owned()));
                    }
                }
            }));
        }
        // Let the burst run, then kill the server without warning.
        while returned.lock().unwrap().len() < 100 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        served.child.kill().unwrap();
        served.child.wait().unwrap();
        for t in tasks {
            let _ = t.await;
        }
    });
    drop(served);
    let returned = returned.lock().unwrap().clone();
    assert!(returned.len() >= 100, "the burst returned {} secrets", returned.len());

    // Restart on the same data directory: every returned secret authenticates.
    let again = common::serve(dir.path());
    rt.block_on(async {
        let http = reqwest::Client::new();
        let mut lost = Vec::new();
        for (id, secret) in &returned {
            let status = http
                .post(format!("{}/oauth2/token", again.base))
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status();
            if status != 200 {
                lost.push((id.clone(), status));
            }
        }
        assert!(
            lost.is_empty(),
            "{} of {} returned secrets were lost: {lost:?}",
            lost.len(),
            returned.len()
        );
    });
}
