//! The HTTP endpoints of `fluxbrain run` in continuous mode, read over the wire: health,
//! readiness, Prometheus metrics, and the `/v1` routes behind their bearer token.

use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::{Logs, serve_basic};

/// A port free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `fluxbrain run` (continuous, memory state) on the simulator's `kubeconfig`, serving its
/// endpoints on `port`, logging JSON at info on stderr (see [`Logs`]); its notifications go
/// to stdout.
fn run_listening(kubeconfig: &std::path::Path, port: u16, token: Option<&str>) -> (Running, Logs) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fluxbrain"));
    command
        .arg("run")
        .env("KUBECONFIG", kubeconfig)
        .env("FLUXBRAIN_CLUSTER", "basic")
        .env("FLUXBRAIN_STATE", "memory")
        .env("FLUXBRAIN_REQUEUE_INTERVAL", "1h")
        .env("FLUXBRAIN_GROUP_WAIT", "1s")
        .env("FLUXBRAIN_LOG_LEVEL", "info")
        .env("FLUXBRAIN_LOG_FORMAT", "json")
        .env("FLUXBRAIN_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env("FLUXBRAIN_API_TOKEN", token);
    }
    let mut child = command.spawn().unwrap();
    let logs = Logs::of(child.stderr.take().unwrap());
    (Running(child), logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_incidents() {
    let (_sim, server, kubeconfig) = serve_basic("endpoints").await;
    let port = free_port();
    let (running, logs) = run_listening(&kubeconfig, port, Some("s3cret"));
    // The firings delivered (and acknowledged) mean the first policy step is done and the
    // endpoints, served before it, answer.
    tokio::task::spawn_blocking(move || logs.delivered(9))
        .await
        .unwrap();

    let client = fluxbrain_notify::http::client_builder("test")
        .unwrap()
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let get = |path: &str, token: Option<&str>| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let answer = request.send().await.unwrap();
            (answer.status().as_u16(), answer.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz", None).await, (200, "ok\n".to_owned()));
    assert_eq!(get("/readyz", None).await, (200, "ready\n".to_owned()));

    // /v1 needs the token: none, or a wrong one, is a 401 asking for a bearer token.
    for token in [None, Some("wrong")] {
        let mut request = client.get(format!("{base}/v1/incidents"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 401);
        assert_eq!(answer.headers()["www-authenticate"], "Bearer");
    }

    let (status, body) = get("/v1/incidents", Some("s3cret")).await;
    assert_eq!(status, 200, "{body}");
    let incidents: Value = serde_json::from_str(&body).unwrap();
    let incidents = incidents["incidents"].as_array().unwrap();
    let fired = incidents.iter().filter(|i| i["fired"] == true).count();
    assert_eq!(fired, 9, "{incidents:#?}");
    assert!(
        incidents
            .iter()
            .any(|i| i["key"]["name"] == "infra-configs" && i["key"]["kind"] == "Kustomization")
    );

    let (status, body) = get("/v1/summary", Some("s3cret")).await;
    assert_eq!(status, 200, "{body}");
    let summary: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(summary["leading"], true);
    assert_eq!(summary["clusters"][0]["name"], "basic");
    assert_eq!(summary["clusters"][0]["synced"], true);
    assert_eq!(summary["incidents"]["open"], incidents.len());
    assert_eq!(
        summary["incidents"]["open"].as_u64().unwrap()
            - summary["incidents"]["folded"].as_u64().unwrap(),
        9
    );
    let failing_kustomizations = summary["objects"]["basic"]["Kustomization"]["failing"]
        .as_u64()
        .unwrap();
    assert!(failing_kustomizations > 0);

    let answer = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let metrics = answer.text().await.unwrap();
    for expected in [
        format!(
            "fluxbrain_objects{{cluster=\"basic\",kind=\"Kustomization\",health=\"failing\"}} {failing_kustomizations}\n"
        ),
        format!("fluxbrain_incidents_open {}\n", incidents.len()),
        "fluxbrain_notifications_sent_total{notifier=\"stdout\"} 9\n".to_owned(),
        "fluxbrain_notifications_pending{notifier=\"stdout\"} 0\n".to_owned(),
        "fluxbrain_notification_delivery_seconds_count{notifier=\"stdout\"} 9\n".to_owned(),
        "fluxbrain_notifier_paused{notifier=\"stdout\"} 0\n".to_owned(),
        "fluxbrain_notifications_throttled_total{notifier=\"stdout\"} 0\n".to_owned(),
        "fluxbrain_notifications_dead_lettered_total{notifier=\"stdout\",reason=\"refused\"} 0\n"
            .to_owned(),
        "fluxbrain_cluster_synced{cluster=\"basic\"} 1\n".to_owned(),
        "# TYPE fluxbrain_watch_restarts counter\n".to_owned(),
        "# TYPE fluxbrain_step_duration_seconds histogram\n".to_owned(),
        "# EOF\n".to_owned(),
    ] {
        assert!(metrics.contains(&expected), "no {expected:?} in\n{metrics}");
    }

    // `fluxbrain status` asks the running instance the same.
    let status = tokio::task::spawn_blocking(move || {
        crate::fluxbrain(
            &["status", "--server", &base, "--output", "json"],
            &[("FLUXBRAIN_API_TOKEN", "s3cret")],
        )
    })
    .await
    .unwrap();
    assert_eq!(status.status.code(), Some(0), "{}", crate::stderr(&status));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        status["incidents"].as_array().unwrap().len(),
        incidents.len()
    );
    assert_eq!(status["summary"]["clusters"][0]["synced"], true);

    // The child first: its open watches would hold a graceful shutdown.
    drop(running);
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_file(kubeconfig);
}

#[test]
fn bad_listen_addresses_and_tokens_are_usage_errors() {
    let run = |envs: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fluxbrain"));
        command
            .arg("run")
            .env("FLUXBRAIN_CLUSTER", "nowhere")
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .env("FLUXBRAIN_STATE", "memory");
        for (k, v) in envs {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let out = run(&[("FLUXBRAIN_LISTEN", "localhost")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("FLUXBRAIN_LISTEN"), "{stderr}");

    let out = run(&[
        ("FLUXBRAIN_LISTEN", ":0"),
        ("FLUXBRAIN_API_TOKEN_FILE", "/nonexistent/fluxbrain/token"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("FLUXBRAIN_API_TOKEN_FILE"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_answers_from_the_shared_store_and_is_not_ready_unsynced() {
    use std::sync::Arc;

    use fluxbrain_cli::http::{Live, serve};
    use fluxbrain_core::engine::NotifierState;
    use fluxbrain_core::{MemoryStore, State, StateStore};
    use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
    use fluxbrain_kube::runtime::Observer;

    // What the leader saved.
    let store = Arc::new(MemoryStore::new());
    let mut state = State::default();
    let webhook = NotifierState {
        sent: 3,
        failed: 1,
        ..NotifierState::default()
    };
    state.notifiers.insert("webhook".to_owned(), webhook);
    store.save(&state).await.unwrap();

    // Nothing listens on port 9: the collector never syncs.
    let kube = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    let config = CollectorConfig::new(vec![ClusterConfig::new("far", kube)]);
    let collector = Arc::new(KubeCollector::new(config).unwrap());
    let live = Arc::new(Live::new(
        collector,
        Some(store.clone()),
        store,
        Arc::new(tokio::sync::Notify::new()),
        Some("t0k".to_owned()),
    ));
    live.leading(false);
    let (addr, task) = serve("127.0.0.1:0".parse().unwrap(), live).await.unwrap();
    let client = fluxbrain_notify::http::client_builder("test")
        .unwrap()
        .build()
        .unwrap();

    // The scheme is case-insensitive.
    let answer = client
        .get(format!("http://{addr}/v1/summary"))
        .header("authorization", "bearer t0k")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let summary: Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(summary["leading"], false);
    assert_eq!(summary["notifiers"]["webhook"]["sent"], 3);
    assert_eq!(summary["notifiers"]["webhook"]["failed"], 1);
    assert_eq!(summary["incidents"]["open"], 0);

    let answer = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 503);
    let body = answer.text().await.unwrap();
    assert!(body.starts_with("cluster far: "), "{body}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_rbac_forbids_is_a_metric_and_the_rest_is_ready() {
    let (sim, server, kubeconfig) = serve_basic("forbidden").await;
    sim.set_faults(fluxbrain_sim::Faults {
        error_rate: 1.0,
        error_status: 403,
        request_contains: Some("/gitrepositories".to_owned()),
        ..fluxbrain_sim::Faults::default()
    });
    let port = free_port();
    let (running, logs) = run_listening(&kubeconfig, port, None);
    // The first step runs once the collector synced: with GitRepositories forbidden, that
    // is every other kind listed.
    tokio::task::spawn_blocking(move || {
        logs.until("the first step", |l| l["message"] == "observed")
    })
    .await
    .unwrap();
    let client = fluxbrain_notify::http::client_builder("test")
        .unwrap()
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    // A forbidden kind does not keep the others from syncing.
    let answer = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let metrics = answer.text().await.unwrap();
    assert!(
        metrics.contains("fluxbrain_cluster_synced{cluster=\"basic\"} 1\n"),
        "{metrics}"
    );
    let unobserved: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("fluxbrain_kind_unobserved{"))
        .collect();
    assert_eq!(
        unobserved,
        ["fluxbrain_kind_unobserved{cluster=\"basic\",kind=\"GitRepository\"} 1"],
        "{metrics}"
    );
    assert!(
        !metrics.contains("fluxbrain_kube_forbidden_total 0\n"),
        "{metrics}"
    );
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    // The child first: its open watches would hold a graceful shutdown.
    drop(running);
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_file(kubeconfig);
}
