//! The shipped RBAC, proven: `deploy/base` rendered by `kubectl kustomize` is enforced by the
//! simulator on every request of the `fluxbrain` ServiceAccount. With exactly those rules,
//! once and continuous mode (ConfigMap state, Lease, controller logs) are never refused; with
//! any one rule removed, something fluxbrain does is refused and fluxbrain says so.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use fluxbrain_core::StateStore;
use fluxbrain_sim::{Config, Rbac, Server, Simulator, State};
use serde::Deserialize;
use serde_json::Value;
use sha2::Digest;

use crate::{fluxbrain, repo, stderr};

const SUBJECT: &str = "flux-system/fluxbrain";

/// `kubectl kustomize deploy/base`, or `None` (skip) when kubectl is missing outside CI.
fn rendered_base() -> Option<String> {
    let out = match Command::new("kubectl")
        .args(["kustomize"])
        .arg(repo().join("deploy/base"))
        .output()
    {
        Ok(out) => out,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("kubectl is needed to render deploy/base: {e}")
        }
        Err(e) => {
            eprintln!("skipping: kubectl not runnable ({e})");
            return None;
        }
    };
    assert!(out.status.success(), "{}", stderr(&out));
    Some(String::from_utf8(out.stdout).unwrap())
}

/// The YAML documents of `text`.
pub(crate) fn documents(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// `documents` as one YAML stream.
pub(crate) fn to_yaml(documents: &[Value]) -> String {
    documents
        .iter()
        .map(|d| serde_yaml_ng::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Every rule of every Role and ClusterRole: (document, rule, its resources).
fn rules(documents: &[Value]) -> Vec<(usize, usize, Vec<String>)> {
    let mut out = Vec::new();
    for (d, doc) in documents.iter().enumerate() {
        if !matches!(doc["kind"].as_str(), Some("Role" | "ClusterRole")) {
            continue;
        }
        for (r, rule) in doc["rules"].as_array().unwrap().iter().enumerate() {
            let resources = rule["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect();
            out.push((d, r, resources));
        }
    }
    out
}

/// The fixture cluster enforcing `policy` on the ServiceAccount's kubeconfig (returned).
async fn serve(policy: &str, tag: &str) -> (Simulator, Server, PathBuf) {
    let state = State::load_dir(repo().join("examples/clusters/basic")).unwrap();
    let config = Config {
        start: "2026-04-21T09:30:00Z".parse().unwrap(),
        ..Config::default()
    };
    let sim = Simulator::new(state, config).unwrap();
    let rbac = Rbac::from_yaml(policy, std::path::Path::new("deploy/base"), SUBJECT).unwrap();
    sim.set_rbac(Some(rbac));
    let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let kubeconfig = std::env::temp_dir().join(format!(
        "fluxbrain-rbac-{tag}-{}.kubeconfig",
        std::process::id()
    ));
    server.write_kubeconfig(&kubeconfig).unwrap();
    (sim, server, kubeconfig)
}

/// A state large enough to be split into parts (600 open incidents of another cluster, each
/// with 4 KiB of incompressible message), saved as the administrator, so that reading,
/// creating and deleting parts is exercised too.
async fn seed_large_state(sim: &Simulator) {
    let client = kube::Client::new(sim.service(), "default");
    let store = fluxbrain_kube::ConfigMapStore::new(
        client,
        "flux-system",
        "fluxbrain-state",
        Duration::from_secs(30),
    );
    let mut state = fluxbrain_core::engine::conformance::sample_state(600);
    let mut noise = [0u8; 32];
    for record in state.incidents.values_mut() {
        let mut message = String::with_capacity(4096);
        for _ in 0..64 {
            noise = sha2::Sha256::digest(noise).into();
            message.extend(noise.iter().map(|b| format!("{b:02x}")));
        }
        record.event.message = message;
    }
    store.save(&state).await.unwrap();
    let parts = sim
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST ") && r.contains("/configmaps"))
        .count();
    assert!(parts > 1, "the seeded state is split into parts");
}

fn env(kubeconfig: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("FLUXBRAIN_CLUSTER", "basic".into()),
        (
            "FLUXBRAIN_STATE",
            "configmap:flux-system/fluxbrain-state".into(),
        ),
        ("FLUXBRAIN_COLLECT_LOGS", "true".into()),
        ("FLUXBRAIN_LOG_FORMAT", "json".into()),
        ("FLUXBRAIN_LOG_LEVEL", "info".into()),
    ]
}

async fn run_once(
    args: &'static [&'static str],
    env: Vec<(&'static str, String)>,
) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fluxbrain(args, &env)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rendered_rules_are_enough_for_once_and_continuous_mode() {
    let Some(policy) = rendered_base() else {
        return;
    };
    let (sim, server, kubeconfig) = serve(&policy, "enough").await;
    seed_large_state(&sim).await;

    // Once: every failing object notified, nothing refused, the events render's.
    let once = run_once(&["run", "--once"], env(&kubeconfig)).await;
    assert_eq!(once.status.code(), Some(0), "{}", stderr(&once));
    let firings = String::from_utf8_lossy(&once.stdout).lines().count();
    assert_eq!(firings, 9, "{}", stderr(&once));
    let ndjson = run_once(&["run", "--once", "--emit", "ndjson"], env(&kubeconfig)).await;
    let render = fluxbrain(
        &["render", "--cluster", "basic", "examples/clusters/basic"],
        &[],
    );
    assert_eq!(ndjson.status.code(), Some(0), "{}", stderr(&ndjson));
    assert!(
        ndjson.stdout == render.stdout,
        "run --once under RBAC and render differ"
    );
    assert_eq!(sim.denied(), Vec::<String>::new());

    // Continuous, leading on the Lease: a change is noticed and delivered; SIGTERM stops it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxbrain"))
        .arg("run")
        .envs(env(&kubeconfig))
        .env("FLUXBRAIN_LISTEN", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let logs = crate::Logs::of(child.stderr.take().unwrap());
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let lines =
        std::thread::spawn(move || stdout.lines().map_while(Result::ok).collect::<Vec<_>>());
    let logs = tokio::task::spawn_blocking(move || {
        logs.until("the first step", |l| l["message"] == "observed");
        logs
    })
    .await
    .unwrap();
    crate::recover_infra_configs(&sim);
    let logs = tokio::task::spawn_blocking(move || {
        logs.delivered(1);
        logs
    })
    .await
    .unwrap();
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let lines = lines.join().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("\"resolved\""), "{lines:?}");
    drop(logs);
    assert_eq!(sim.denied(), Vec::<String>::new());
    let lease = sim
        .object(
            "coordination.k8s.io/v1",
            "Lease",
            "flux-system",
            "fluxbrain",
        )
        .unwrap();
    assert!(
        lease["spec"]["holderIdentity"].is_null(),
        "released on SIGTERM: {lease}"
    );
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_file(kubeconfig);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rendered_rule_is_needed() {
    let Some(policy) = rendered_base() else {
        return;
    };
    let documents = documents(&policy);
    let all = rules(&documents);
    assert!(all.len() >= 8, "{all:?}");
    for (d, r, resources) in all {
        let mut fewer = documents.clone();
        fewer[d]["rules"].as_array_mut().unwrap().remove(r);
        let what = format!(
            "{} {} rule {} ({resources:?})",
            documents[d]["kind"].as_str().unwrap(),
            documents[d]["metadata"]["name"].as_str().unwrap(),
            r + 1
        );
        let (sim, server, kubeconfig) = serve(&to_yaml(&fewer), "needed").await;
        if resources.iter().any(|r| r == "configmaps") {
            seed_large_state(&sim).await;
        }
        let out = run_once(&["run", "--once"], env(&kubeconfig)).await;
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(matches!(out.status.code(), Some(0 | 1)), "{what}: {err}");
        // Something fluxbrain does is refused...
        let denied = sim.denied();
        assert!(
            denied.iter().any(|d| resources
                .iter()
                .any(|res| d.contains(&format!("resource \"{res}\"")))),
            "{what}: nothing refused: {denied:#?}"
        );
        // ... and fluxbrain reports it: a warning, or a failed run naming it.
        assert!(
            err.contains("forbidden") || err.contains("Forbidden") || err.contains("403"),
            "{what}: not reported: {err}"
        );
        server.shutdown().await.unwrap();
        let _ = std::fs::remove_file(kubeconfig);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_overlapping_once_runs_never_both_deliver() {
    let Some(policy) = rendered_base() else {
        return;
    };
    let (sim, server, kubeconfig) = serve(&policy, "overlap").await;
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let env = env(&kubeconfig);
            std::thread::spawn(move || {
                let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
                fluxbrain(&["run", "--once"], &env)
            })
        })
        .collect();
    let outputs: Vec<_> = tokio::task::spawn_blocking(move || {
        runs.into_iter()
            .map(|r| r.join().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut ids = Vec::new();
    for out in &outputs {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let note: Value = serde_json::from_str(line).unwrap();
            ids.push(note["notification"]["id"].as_str().unwrap().to_owned());
        }
    }
    let total = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(
        (total, ids.len()),
        (9, 9),
        "each firing delivered exactly once"
    );
    assert_eq!(sim.denied(), Vec::<String>::new());
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_file(kubeconfig);
}
