//! The whole path: a simulated cluster with a failing source and its dependents, `fluxbrain
//! run --once` with Slack, the webhook and GitHub pointed at local servers: exactly the
//! expected requests; a second run with the same state sends nothing.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::{fluxbrain, stderr};

async fn run_once(env: Vec<(&'static str, String)>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fluxbrain(&["run", "--once"], &env)
    })
    .await
    .unwrap()
}

fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notifier_gets_exactly_the_expected_requests_once() {
    let (_sim, server, kubeconfig) = crate::serve_basic("e2e").await;
    let dir = std::env::temp_dir().join(format!("fluxbrain-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header("authorization", "Bearer xoxb-test-token-0000000000"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": "C0FLUX", "ts": "1714000000.000100"})),
        )
        .mount(&slack)
        .await;
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hook)
        .await;
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/fleet/issues"))
        .and(query_param("state", "open"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/acme/fleet/issues"))
        .and(header(
            "authorization",
            "Bearer ghp_testtoken000000000000000000000000000",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"number": 42, "labels": []})))
        .mount(&github)
        .await;

    let env = vec![
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("FLUXBRAIN_CLUSTER", "basic".to_owned()),
        (
            "FLUXBRAIN_STATE",
            format!("file:{}", dir.join("state.json").display()),
        ),
        ("FLUXBRAIN_LOG_LEVEL", "warn".to_owned()),
        (
            "FLUXBRAIN_SLACK_TOKEN",
            "xoxb-test-token-0000000000".to_owned(),
        ),
        ("FLUXBRAIN_SLACK_CHANNEL", "C0FLUX".to_owned()),
        ("FLUXBRAIN_SLACK_API_URL", format!("{}/api", slack.uri())),
        ("FLUXBRAIN_WEBHOOK_URL", format!("{}/hook", hook.uri())),
        ("FLUXBRAIN_WEBHOOK_SECRET", "s3cret".to_owned()),
        ("FLUXBRAIN_GITHUB_OWNER", "acme".to_owned()),
        ("FLUXBRAIN_GITHUB_REPO", "fleet".to_owned()),
        (
            "FLUXBRAIN_GITHUB_TOKEN",
            "ghp_testtoken000000000000000000000000000".to_owned(),
        ),
        ("FLUXBRAIN_GITHUB_API_URL", github.uri()),
    ];
    let first = run_once(env.clone()).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        first.stdout.is_empty(),
        "notifiers configured: nothing on stdout"
    );

    // 13 failing objects, 4 folded into their failing upstream: 9 firings per notifier.
    let hooks = hook.received_requests().await.unwrap();
    assert_eq!(hooks.len(), 9);
    let mut keys = BTreeSet::new();
    for request in &hooks {
        let key = request
            .headers
            .get("idempotency-key")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let signature = request
            .headers
            .get("x-fluxbrain-signature-256")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(fluxbrain_notify::webhook::signature::verify(
            b"s3cret",
            &request.body,
            signature
        ));
        let envelope = body(request);
        assert_eq!(envelope["notification"]["id"], key.as_str());
        assert_eq!(envelope["notification"]["kind"], "firing");
        keys.insert(key);
    }
    assert_eq!(keys.len(), 9, "distinct idempotency keys");
    let shop = hooks
        .iter()
        .map(body)
        .find(|e| e["event"]["metadata"]["name"] == "shop-manifests")
        .unwrap();
    assert_eq!(
        shop["affected"],
        json!([{"key": "Kustomization/shop/shop-apps", "reason": "ArtifactFailed", "fingerprint": "ccba3dc11677c4deeb8ef46b9b4cf2f3"}])
    );
    let text = String::from_utf8_lossy(
        &hooks
            .iter()
            .flat_map(|r| r.body.clone())
            .collect::<Vec<u8>>(),
    )
    .into_owned();
    assert!(!text.contains("ghp_R8mZq2"), "the fixture's token leaked");

    let slack_requests = slack.received_requests().await.unwrap();
    assert_eq!(slack_requests.len(), 9);
    assert!(
        slack_requests
            .iter()
            .all(|r| body(r)["channel"] == "C0FLUX")
    );

    let github_requests = github.received_requests().await.unwrap();
    let searches = github_requests
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    let creates: Vec<Value> = github_requests
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(body)
        .collect();
    assert_eq!((searches, creates.len()), (9, 9));
    for issue in &creates {
        let labels = issue["labels"].as_array().unwrap();
        assert_eq!(labels[0], "fluxbrain");
        assert!(labels[1].as_str().unwrap().starts_with("fluxbrain:"));
        assert!(issue["title"].as_str().unwrap().starts_with("fluxbrain: "));
        assert!(
            issue["title"]
                .as_str()
                .unwrap()
                .ends_with(" failing on basic")
        );
    }

    // Same cluster, same state: nothing new anywhere.
    let second = run_once(env).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(hook.received_requests().await.unwrap().len(), 9);
    assert_eq!(slack.received_requests().await.unwrap().len(), 9);
    assert_eq!(github.received_requests().await.unwrap().len(), 18);
    server.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
