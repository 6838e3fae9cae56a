//! `fluxbrain run` with `FLUXBRAIN_SHARDING=cluster`: two replicas share two clusters (two
//! simulators, the first one the home cluster), one each; each announces only its own
//! cluster's failures, `/v1/summary` and `/metrics` say who owns what, and when one replica
//! stops (SIGTERM), the other takes its cluster over without repeating a notification.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::{fluxbrain, repo, stderr};

/// Two clusters, `east` (home) and `west`, as two contexts of one kubeconfig.
fn kubeconfig(east: &str, west: &str) -> String {
    let mut out = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, url) in [("east", east), ("west", west)] {
        out.push_str(&format!("- name: {name}\n  cluster:\n    server: {url}\n"));
    }
    out.push_str("contexts:\n");
    for name in ["east", "west"] {
        out.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: sim\n    namespace: default\n"
        ));
    }
    out.push_str("current-context: east\nusers:\n- name: sim\n  user: {}\n");
    out
}

struct Replica {
    child: Child,
    port: u16,
    /// Notification ids printed so far.
    printed: Arc<Mutex<Vec<(String, String)>>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Replica {
    fn start(name: &str, kubeconfig: &std::path::Path) -> Replica {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fluxbrain"));
        for (key, _) in std::env::vars() {
            if key.starts_with("FLUXBRAIN_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .arg("run")
            .current_dir(repo())
            .env("KUBECONFIG", kubeconfig)
            .env("FLUXBRAIN_CONTEXTS", "east=east,west=west")
            .env("FLUXBRAIN_STATE", "configmap:flux-system/fluxbrain-state")
            .env("FLUXBRAIN_SHARDING", "cluster")
            .env("FLUXBRAIN_GROUP_WAIT", "0")
            .env("FLUXBRAIN_LISTEN", format!("127.0.0.1:{port}"))
            .env("FLUXBRAIN_LOG_LEVEL", "warn")
            .env("POD_NAME", name)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let printed: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let stdout = child.stdout.take().unwrap();
        let sink = printed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let id = v["notification"]["id"].as_str().unwrap_or_default();
                    let cluster = v["event"]["metadata"]["cluster"]
                        .as_str()
                        .unwrap_or_default();
                    sink.lock()
                        .unwrap()
                        .push((cluster.to_owned(), id.to_owned()));
                }
            }
        });
        Replica {
            child,
            port,
            printed,
        }
    }

    async fn get(&self, path: &str) -> Option<String> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let client = fluxbrain_notify::http::client_builder("test")
            .ok()?
            .build()
            .ok()?;
        let answer = client.get(&url).send().await.ok()?;
        answer.text().await.ok()
    }

    fn printed(&self) -> Vec<(String, String)> {
        self.printed.lock().unwrap().clone()
    }

    fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits (bounded, in real time) until `done` holds.
async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 60 s");
}

fn owned_by(metrics: &str) -> BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with("fluxbrain_cluster_owned{") && l.ends_with(" 1"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_two_clusters_and_one_takes_both_when_the_other_stops() {
    let (east_sim, east, _) = crate::serve_basic("sharding-east").await;
    let (west_sim, west, _) = crate::serve_basic("sharding-west").await;
    let path = std::env::temp_dir().join(format!(
        "fluxbrain-cli-sharding-{}.kubeconfig",
        std::process::id()
    ));
    std::fs::write(&path, kubeconfig(&east.url(), &west.url())).unwrap();

    let mut a = Replica::start("replica-a", &path);
    let b = Replica::start("replica-b", &path);
    // One cluster each, and the 9 failures of each cluster announced once, by its owner.
    until("one cluster each", async || {
        let (Some(ma), Some(mb)) = (a.get("/metrics").await, b.get("/metrics").await) else {
            return false;
        };
        let (oa, ob) = (owned_by(&ma), owned_by(&mb));
        oa.len() == 1 && ob.len() == 1 && oa != ob
    })
    .await;
    until("18 firings", async || {
        a.printed().len() + b.printed().len() >= 18
    })
    .await;
    let a_cluster = owned_by(&a.get("/metrics").await.unwrap());
    let b_cluster = owned_by(&b.get("/metrics").await.unwrap());
    // Now a recovery in each cluster is announced by that cluster's owner.
    for sim in [&east_sim, &west_sim] {
        crate::recover_infra_configs(sim);
    }
    until("2 resolutions", async || {
        a.printed().len() + b.printed().len() >= 20
    })
    .await;
    for (replica, owns) in [(&a, &a_cluster), (&b, &b_cluster)] {
        let resolved: BTreeSet<String> = replica
            .printed()
            .into_iter()
            .filter(|(_, id)| id.contains(":resolved:"))
            .map(|(c, _)| c)
            .collect();
        assert_eq!(&resolved, owns, "each owner announces its own cluster");
    }
    let summary: Value = serde_json::from_str(&b.get("/v1/summary").await.unwrap()).unwrap();
    let owners: BTreeSet<(String, String)> = summary["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["owner"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(owners.len(), 2, "{summary}");
    assert!(
        owners.contains(&(
            a_cluster.iter().next().unwrap().clone(),
            "replica-a".to_owned()
        )),
        "{summary}"
    );
    assert!(
        summary["incidents"]["open"].as_u64().unwrap() >= 16,
        "{summary}"
    );

    // a stops cleanly: b takes its cluster over at once and repeats nothing.
    assert!(a.stop().success());
    until("b owns both", async || {
        b.get("/metrics")
            .await
            .is_some_and(|m| owned_by(&m).len() == 2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut all: Vec<String> = a.printed().into_iter().map(|(_, id)| id).collect();
    all.extend(b.printed().into_iter().map(|(_, id)| id));
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 20, "{all:?}");
    assert_eq!(distinct.len(), 20, "nothing repeated: {all:?}");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn sharding_needs_configmap_state_and_continuous_mode() {
    let out = fluxbrain(
        &["run", "--once"],
        &[
            ("FLUXBRAIN_CLUSTER", "c"),
            ("FLUXBRAIN_SHARDING", "cluster"),
            ("FLUXBRAIN_STATE", "memory"),
            ("KUBECONFIG", "/nonexistent"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("FLUXBRAIN_SHARDING: cluster sharding shares clusters"),
        "{err}"
    );
    assert!(
        err.contains("it needs configmap:NAMESPACE/NAME state, not memory"),
        "{err}"
    );

    let out = fluxbrain(
        &["run"],
        &[("FLUXBRAIN_CLUSTER", "c"), ("FLUXBRAIN_SHARDING", "shard")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("FLUXBRAIN_SHARDING: \"shard\" is not off or cluster"),
        "{}",
        stderr(&out)
    );
}
