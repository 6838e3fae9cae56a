//! The RBAC of `deploy/sharding`, proven as the base's is (`rbac.rs`): `deploy/base` with the
//! Component, rendered by `kubectl kustomize`, is enforced by two simulators (the home cluster
//! and a second one) on every request of the `fluxbrain` ServiceAccount. A sharded replica
//! works under exactly those rules; with any one rule of the Role `fluxbrain-sharding`
//! removed, something it does is refused.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fluxbrain_sim::{Config, Rbac, Server, Simulator, State};
use serde_json::Value;

use crate::rbac::{documents, to_yaml};
use crate::repo;

const SUBJECT: &str = "flux-system/fluxbrain";

/// `deploy/base` with `components: [deploy/sharding]`, rendered; `None` (skip) when kubectl is
/// missing outside CI.
fn rendered() -> Option<String> {
    let overlay =
        std::env::temp_dir().join(format!("fluxbrain-rbac-sharding-{}", std::process::id()));
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {}\ncomponents:\n  - {}\n",
            relative(&overlay, "deploy/base"),
            relative(&overlay, "deploy/sharding"),
        ),
    )
    .unwrap();
    let out = match Command::new("kubectl")
        .arg("kustomize")
        .arg(&overlay)
        .output()
    {
        Ok(out) => out,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("kubectl is needed to render deploy/sharding: {e}")
        }
        Err(e) => {
            eprintln!("skipping: kubectl not runnable ({e})");
            return None;
        }
    };
    let _ = std::fs::remove_dir_all(&overlay);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// `to` (relative to the repository) as a path relative to `from` (kustomize takes no
/// absolute paths to other kustomizations).
fn relative(from: &std::path::Path, to: &str) -> String {
    let ups = from.components().count() - 1;
    let root = repo().canonicalize().unwrap();
    format!("{}{}/{to}", "../".repeat(ups), root.display()).replace("//", "/")
}

async fn serve(policy: &str) -> (Simulator, Server) {
    let state = State::load_dir(repo().join("examples/clusters/basic")).unwrap();
    let config = Config {
        start: "2026-04-21T09:30:00Z".parse().unwrap(),
        ..Config::default()
    };
    let sim = Simulator::new(state, config).unwrap();
    let rbac = Rbac::from_yaml(policy, std::path::Path::new("deploy/sharding"), SUBJECT).unwrap();
    sim.set_rbac(Some(rbac));
    let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

/// Two contexts, `east` (home) and `west`, as the ServiceAccount.
fn kubeconfig(east: &Server, west: &Server, token: &str) -> std::path::PathBuf {
    let mut text = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, server) in [("east", east), ("west", west)] {
        text.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: {}\n",
            server.url()
        ));
    }
    text.push_str("contexts:\n");
    for name in ["east", "west"] {
        text.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: sa\n    namespace: default\n"
        ));
    }
    text.push_str(&format!(
        "current-context: east\nusers:\n- name: sa\n  user: {{token: \"{token}\"}}\n"
    ));
    let path = std::env::temp_dir().join(format!(
        "fluxbrain-rbac-sharding-{}-{}.kubeconfig",
        std::process::id(),
        east.url().rsplit(':').next().unwrap_or_default()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

/// One sharded replica under `policy` on both clusters, until it printed `firings` lines or
/// `within` passed; then SIGTERM. The home cluster's refusals, both clusters', and how many
/// notifications it printed.
async fn run_replica(policy: &str, firings: usize, within: Duration) -> (Vec<String>, usize, bool) {
    let (east_sim, east) = serve(policy).await;
    let (west_sim, west) = serve(policy).await;
    let token = east_sim.rbac().unwrap().token();
    let path = kubeconfig(&east, &west, &token);
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxbrain"))
        .arg("run")
        .current_dir(repo())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KUBECONFIG", &path)
        .env("FLUXBRAIN_CONTEXTS", "east=east,west=west")
        .env("FLUXBRAIN_STATE", "configmap:flux-system/fluxbrain-state")
        .env("FLUXBRAIN_SHARDING", "cluster")
        .env("FLUXBRAIN_GROUP_WAIT", "0")
        .env("FLUXBRAIN_COLLECT_LOGS", "true")
        .env("FLUXBRAIN_LISTEN", "off")
        .env("FLUXBRAIN_LOG_LEVEL", "warn")
        .env("POD_NAME", "fluxbrain-0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Each line awaited as it comes, up to `within` in all.
    let printed = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + within;
        let mut printed = Vec::new();
        while printed.len() < firings {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => printed.push(line),
                Err(_) => break,
            }
        }
        printed
    })
    .await
    .unwrap();
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let mut denied = east_sim.denied();
    denied.extend(west_sim.denied());
    let ids: BTreeSet<String> = printed
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["notification"]["id"].as_str().map(str::to_owned))
        .collect();
    east.shutdown().await.unwrap();
    west.shutdown().await.unwrap();
    let _ = std::fs::remove_file(path);
    (denied, ids.len(), status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sharded_replica_works_under_the_rendered_rules_and_needs_each_sharding_rule() {
    let Some(policy) = rendered() else {
        return;
    };
    // Enough: both clusters' failures announced once, nothing refused, a clean stop.
    let (denied, printed, stopped) = run_replica(&policy, 18, Duration::from_secs(60)).await;
    assert_eq!(denied, Vec::<String>::new());
    assert_eq!(printed, 18);
    assert!(stopped);

    // Needed: without any one rule of fluxbrain-sharding, something is refused.
    let documents = documents(&policy);
    let d = documents
        .iter()
        .position(|d| d["kind"] == "Role" && d["metadata"]["name"] == "fluxbrain-sharding")
        .unwrap();
    let rules = documents[d]["rules"].as_array().unwrap().len();
    assert_eq!(rules, 3);
    for r in 0..rules {
        let mut fewer = documents.clone();
        let rule = fewer[d]["rules"].as_array_mut().unwrap().remove(r);
        let resource = rule["resources"][0].as_str().unwrap().to_owned();
        let (denied, _, _) = run_replica(&to_yaml(&fewer), 18, Duration::from_secs(15)).await;
        assert!(
            denied
                .iter()
                .any(|d| d.contains(&format!("resource \"{resource}\""))),
            "without rule {} ({rule}): nothing refused: {denied:#?}",
            r + 1
        );
    }
}
