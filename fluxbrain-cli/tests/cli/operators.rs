//! Silences and acknowledgements: through the state store (`fluxbrain silence`, `fluxbrain
//! ack`, `fluxbrain run --once`) and through a running instance's write routes.

use std::process::Output;
use std::sync::Arc;

use fluxbrain_cli::http::{Live, serve};
use fluxbrain_core::engine::conformance::sample_state;
use fluxbrain_core::{MemoryStore, StateStore};
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_kube::runtime::Observer;
use serde_json::Value;

use crate::{fluxbrain, serve_basic, stderr};

async fn run(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fluxbrain(&args, &env)
    })
    .await
    .unwrap()
}

fn args(text: &str) -> Vec<String> {
    text.split(' ').map(str::to_owned).collect()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn namespaces(output: &Output) -> Vec<String> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|l| {
            l["event"]["metadata"]["namespace"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_holds_back_firings_until_it_is_expired_and_an_ack_is_in_the_timeline() {
    let (_sim, _server, kubeconfig) = serve_basic("silence").await;
    let dir = std::env::temp_dir().join(format!("fluxbrain-silence-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let state = format!("file:{}", dir.join("state.json").display());
    let env = vec![
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("FLUXBRAIN_CLUSTER", "basic".into()),
        ("FLUXBRAIN_STATE", state.clone()),
        ("FLUXBRAIN_LOG_LEVEL", "warn".into()),
        ("USER", "ana".into()),
    ];

    let added = run(
        vec![
            "silence".into(),
            "add".into(),
            "--match".into(),
            "namespace=sh?p".into(),
            "--match".into(),
            "cluster=*".into(),
            "--for".into(),
            "2h".into(),
            "--comment".into(),
            "chart repository down".into(),
        ],
        env.clone(),
    )
    .await;
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let text = stdout(&added);
    assert!(
        text.starts_with("silence ") && text.contains("namespace=sh?p cluster=*"),
        "{text}"
    );
    let id = text.split(' ').nth(1).unwrap().to_owned();

    let listed = run(args("silence list"), env.clone()).await;
    assert!(
        stdout(&listed).contains(&id) && stdout(&listed).contains("active"),
        "{}",
        stdout(&listed)
    );

    let first = run(args("run --once"), env.clone()).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let said = namespaces(&first);
    assert!(
        !said.is_empty() && !said.contains(&"shop".to_owned()),
        "{said:?}"
    );

    let status = run(args("status"), env.clone()).await;
    let table = stdout(&status);
    assert!(
        table.contains(&format!("silenced (silence {id})")),
        "{table}"
    );
    assert!(table.contains("not yet"), "{table}");

    let expired = run(
        vec!["silence".into(), "expire".into(), id[..6].to_owned()],
        env.clone(),
    )
    .await;
    assert_eq!(expired.status.code(), Some(0), "{}", stderr(&expired));
    let second = run(args("run --once"), env.clone()).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let now_said = namespaces(&second);
    assert!(
        !now_said.is_empty() && now_said.iter().all(|n| n == "shop"),
        "announced once the silence ended: {now_said:?}"
    );
    let third = run(args("run --once"), env.clone()).await;
    assert!(stdout(&third).is_empty(), "once: {}", stdout(&third));

    let again = run(
        vec!["silence".into(), "expire".into(), id.clone()],
        env.clone(),
    )
    .await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already ended"),
        "{}",
        stderr(&again)
    );

    // Acknowledge one open incident by the beginning of its id.
    let json = run(args("status -o json"), env.clone()).await;
    let status: Value = serde_json::from_slice(&json.stdout).unwrap();
    let incident = status["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"]["namespace"] == "shop" && i["fired"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let acked = run(
        vec![
            "ack".into(),
            incident[..8].to_owned(),
            "--comment".into(),
            "rolling back".into(),
        ],
        env.clone(),
    )
    .await;
    assert_eq!(acked.status.code(), Some(0), "{}", stderr(&acked));
    assert!(
        stdout(&acked).contains("acknowledged by ana"),
        "{}",
        stdout(&acked)
    );
    let unknown = run(args("ack ffffffff"), env.clone()).await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("no open incident"),
        "{}",
        stderr(&unknown)
    );

    // The next step takes the ack in; the timeline shows it all.
    let fourth = run(args("run --once"), env.clone()).await;
    assert_eq!(fourth.status.code(), Some(0), "{}", stderr(&fourth));
    let timeline = run(vec!["status".into(), incident[..8].to_owned()], env.clone()).await;
    let text = stdout(&timeline);
    for line in [
        "first seen failing",
        "silenced by silence",
        "no longer silenced",
        "firing queued",
        "acknowledged by ana: rolling back",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_silences_are_usage_errors_naming_the_problem() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "silence",
                "add",
                "--match",
                "team=a",
                "--for",
                "1h",
                "--comment",
                "c",
            ],
            "unknown match key \"team\"",
        ),
        (
            &["silence", "add", "--match", "name=a", "--comment", "c"],
            "needs an end",
        ),
        (
            &[
                "silence",
                "add",
                "--match",
                "name=app-[12]",
                "--for",
                "1h",
                "--comment",
                "c",
            ],
            "invalid pattern",
        ),
        (
            &[
                "silence",
                "add",
                "--match",
                "name=a",
                "--for",
                "0s",
                "--comment",
                "c",
            ],
            "not after now",
        ),
        (
            &[
                "silence",
                "add",
                "--match",
                "name=a",
                "--for",
                "soon",
                "--comment",
                "c",
            ],
            "--for \"soon\"",
        ),
        (
            &[
                "silence",
                "add",
                "--match",
                "name=a",
                "--for",
                "2y",
                "--comment",
                "c",
            ],
            "at most a year",
        ),
    ];
    for (args, says) in cases {
        let out = fluxbrain(args, &[("FLUXBRAIN_STATE", "memory"), ("USER", "ana")]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

/// A standby's endpoints over a store holding three open incidents and their history.
async fn standby(token: Option<&str>) -> (std::net::SocketAddr, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    store.save(&sample_state(3)).await.unwrap();
    let kube = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    let collector = Arc::new(
        KubeCollector::new(CollectorConfig::new(vec![ClusterConfig::new("far", kube)])).unwrap(),
    );
    let live = Arc::new(Live::new(
        collector,
        Some(store.clone()),
        store.clone(),
        Arc::new(tokio::sync::Notify::new()),
        token.map(str::to_owned),
    ));
    live.leading(false);
    let (addr, _task) = serve("127.0.0.1:0".parse().unwrap(), live).await.unwrap();
    (addr, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_routes_need_a_token_and_reach_the_shared_store() {
    let client = fluxbrain_notify::http::client_builder("test")
        .unwrap()
        .build()
        .unwrap();
    let body =
        r#"{"matchers": ["namespace=team-*"], "duration": "1h", "comment": "c", "author": "ana"}"#;

    // No token configured: writes are refused, saying how to configure one.
    let (open_addr, open_store) = standby(None).await;
    let refused = client
        .post(format!("http://{open_addr}/v1/silences"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("FLUXBRAIN_API_TOKEN")
    );
    assert_eq!(open_store.load_control().await.unwrap(), None);

    let (addr, store) = standby(Some("t0k")).await;
    let wrong = client
        .post(format!("http://{addr}/v1/silences"))
        .bearer_auth("nope")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);

    // Through the binary's --server path.
    let server: &'static str = Box::leak(format!("http://{addr}").into_boxed_str());
    let env = [
        ("FLUXBRAIN_SERVER", server),
        ("FLUXBRAIN_API_TOKEN", "t0k"),
        ("USER", "ben"),
    ];
    let added = tokio::task::spawn_blocking(move || {
        fluxbrain(
            &[
                "silence",
                "add",
                "--match",
                "namespace=team-*",
                "--for",
                "1h",
                "--comment",
                "vendor outage",
            ],
            &env,
        )
    })
    .await
    .unwrap();
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let (control, _) = store.load_control().await.unwrap().unwrap();
    assert_eq!(
        control.silences.len(),
        1,
        "the write reached the shared store"
    );
    assert_eq!(control.silences[0].author, "ben");

    let state = store.load().await.unwrap().unwrap();
    let open_id = state.incidents.values().next().unwrap().id.clone();
    let acked = tokio::task::spawn_blocking(move || {
        fluxbrain(&["ack", &open_id, "--comment", "on it"], &env)
    })
    .await
    .unwrap();
    assert_eq!(acked.status.code(), Some(0), "{}", stderr(&acked));
    let unknown = tokio::task::spawn_blocking(move || fluxbrain(&["ack", "ffffffff"], &env))
        .await
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1), "{}", stderr(&unknown));
    assert!(
        stderr(&unknown).contains("no open incident"),
        "{}",
        stderr(&unknown)
    );
    let bad = tokio::task::spawn_blocking(move || {
        fluxbrain(
            &[
                "silence",
                "add",
                "--match",
                "team=x",
                "--for",
                "1h",
                "--comment",
                "c",
            ],
            &env,
        )
    })
    .await
    .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));

    let silence_id = control.silences[0].id.clone();
    let expired =
        tokio::task::spawn_blocking(move || fluxbrain(&["silence", "expire", &silence_id], &env))
            .await
            .unwrap();
    assert_eq!(expired.status.code(), Some(0), "{}", stderr(&expired));
    let (control, _) = store.load_control().await.unwrap().unwrap();
    assert_eq!(control.silences[0].expired_by.as_deref(), Some("ben"));
    assert_eq!(control.acks.len(), 1);

    // Reads: the history and one incident's timeline.
    let history: Value = client
        .get(format!("http://{addr}/v1/history"))
        .bearer_auth("t0k")
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(history["resolved"].as_array().unwrap().len(), 1);
    let resolved_id = history["resolved"][0]["id"].as_str().unwrap().to_owned();
    let one: Value = client
        .get(format!("http://{addr}/v1/incidents/{resolved_id}"))
        .bearer_auth("t0k")
        .send()
        .await
        .unwrap()
        .json_value()
        .await;
    assert_eq!(one["state"], "resolved");
    assert_eq!(one["timeline"][0]["event"], "opened");
    let missing = client
        .get(format!("http://{addr}/v1/incidents/ffffffff"))
        .bearer_auth("t0k")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}

/// Reads a JSON body.
trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        assert!(self.status().is_success(), "{}", self.status());
        serde_json::from_str(&self.text().await.unwrap()).unwrap()
    }
}
