//! Collector test helpers: simulators on state folders, collectors on servers, the offline
//! reading of a state folder (as `fluxbrain render` does), bounded waits.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fluxbrain_core::{
    BuildOptions, ClusterObservation, Collector, Document, FluxObject, Snapshot, Time, build_all,
    canonical, parse_document, parse_log_line,
};
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_sim::{Config, Server, Simulator, State};
use serde::Deserialize;
use serde_json::Value;

use crate::support::START;

/// `examples/clusters/basic` of the workspace.
pub fn basic_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/clusters/basic")
}

pub fn sim_config() -> Config {
    Config {
        start: START.parse().unwrap(),
        ..Config::default()
    }
}

/// A simulator on `state`, served on a free port.
pub async fn serve(state: State, config: Config) -> (Simulator, Server) {
    let sim = Simulator::new(state, config).unwrap();
    let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

pub async fn serve_basic() -> (Simulator, Server) {
    serve(State::load_dir(basic_dir()).unwrap(), sim_config()).await
}

/// A cluster named `name` at a server (plain HTTP, no credentials).
pub fn cluster(name: &str, server: &Server) -> ClusterConfig {
    cluster_at(name, &server.url())
}

/// A cluster named `name` at `url`.
pub fn cluster_at(name: &str, url: &str) -> ClusterConfig {
    ClusterConfig::new(name, kube::Config::new(url.parse().unwrap()))
}

/// A TCP proxy in front of a server that can be killed like a crashed API server: every open
/// connection is cut and new ones are refused.
pub struct Proxy {
    url: String,
    accept: tokio::task::JoinHandle<()>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let tracked = Arc::clone(&connections);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let connection = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(connection);
            }
        });
        Proxy {
            url,
            accept,
            connections,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn kill(&self) {
        self.accept.abort();
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Test defaults: short timeouts and retries so failures show quickly.
pub fn config(clusters: Vec<ClusterConfig>) -> CollectorConfig {
    let mut config = CollectorConfig::new(clusters);
    config.api_timeout = Duration::from_secs(5);
    config.retry = fluxbrain_core::Backoff {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
    };
    config
}

pub fn now() -> BuildOptions {
    BuildOptions {
        now: Time::parse(START),
        ..BuildOptions::default()
    }
}

/// The canonical NDJSON of a snapshot, as `render --now START` prints it.
pub fn ndjson(snapshot: &Snapshot) -> String {
    String::from_utf8(canonical::to_ndjson(&build_all(snapshot, &now()), false)).unwrap()
}

/// A state folder read the way `fluxbrain render` reads it: YAML documents through
/// `parse_document`, `logs/<pod>.log` through `parse_log_line` (container `manager`).
pub fn offline(dir: &Path, cluster: &str) -> Snapshot {
    let mut snapshot = Snapshot::new(cluster);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        if file.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&file).unwrap();
            for doc in serde_yaml_ng::Deserializer::from_str(&text) {
                let value = Value::deserialize(doc).unwrap();
                for parsed in parse_document(&value, &mut Vec::new()) {
                    match parsed.unwrap() {
                        Document::Object(o) => snapshot.objects.push(o.into()),
                        Document::Event(e) => snapshot.events.push(e),
                        Document::Pod(p) => snapshot.pods.push(p),
                        Document::Ignored { .. } => {}
                    }
                }
            }
        }
    }
    let logs = dir.join("logs");
    if logs.is_dir() {
        for entry in std::fs::read_dir(logs).unwrap() {
            let path = entry.unwrap().path();
            let pod = path.file_stem().unwrap().to_str().unwrap().to_owned();
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if let Ok(Some(line)) = parse_log_line(line, &pod, "manager") {
                    snapshot.logs.push(line);
                }
            }
        }
    }
    snapshot
}

/// The only cluster's observation.
pub async fn collect_one(collector: &KubeCollector) -> ClusterObservation {
    let mut results = collector.collect().await;
    assert_eq!(results.len(), 1);
    results.remove(0).unwrap()
}

/// Objects sorted by key, for whole-state comparisons.
pub fn sorted(mut objects: Vec<std::sync::Arc<FluxObject>>) -> Vec<std::sync::Arc<FluxObject>> {
    objects.sort_by(|a, b| a.key.cmp(&b.key));
    objects
}

/// Waits until `check` holds, checking again on every change the collector reports
/// (continuous mode). Each round collects first, so that `changed` then waits for a change
/// after what `check` saw. 60 s of nothing is a hang, not slowness.
pub async fn until<F, Fut>(collector: &KubeCollector, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let wait = async {
        loop {
            let _ = collector.collect().await;
            if check().await {
                return;
            }
            collector.changed().await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .is_err()
    {
        panic!(
            "hung waiting for: {what}\n{:#?}\n{:#?}",
            collector.status(),
            collector.metrics()
        );
    }
}

/// Waits until every cluster is synced.
pub async fn synced(collector: &KubeCollector) {
    until(collector, "every cluster synced", || async {
        collector.status().iter().all(|s| s.synced)
    })
    .await;
}
