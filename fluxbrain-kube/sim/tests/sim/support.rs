//! Shared helpers: a simulator on the fixture cluster, temp dirs, clients, raw requests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use fluxbrain_sim::{Config, Server, Simulator, State};
use serde::Deserialize;
use serde_json::Value;

/// "Now" of the cluster-basic fixture.
pub const START: &str = "2026-04-21T09:30:00Z";

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/clusters/basic")
}

pub fn config() -> Config {
    Config {
        start: START.parse().unwrap(),
        ..Config::default()
    }
}

/// The fixture cluster, served on a free port.
pub async fn start() -> (Simulator, Server) {
    start_with(config()).await
}

pub async fn start_with(config: Config) -> (Simulator, Server) {
    let sim = Simulator::new(State::load_dir(fixture_dir()).unwrap(), config).unwrap();
    let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sim, server)
}

/// Documents of a fixture file, read independently of the simulator.
pub fn fixture_docs(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixture_dir().join(file)).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("fluxbrain-sim-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A kube-rs client built from the kubeconfig the server writes, as a user would.
pub async fn kube_client(server: &Server) -> kube::Client {
    kube::Client::try_from(kube_config(server).await).unwrap()
}

/// A client that does not retry 429/503/504 (kube's default does), to see each answer.
pub async fn raw_client(server: &Server) -> kube::Client {
    let mut config = kube_config(server).await;
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

async fn kube_config(server: &Server) -> kube::Config {
    let dir = TempDir::new("kubeconfig");
    let path = dir.path().join("config");
    server.write_kubeconfig(&path).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap()
}

/// A raw request: status, content type, body.
pub async fn raw(
    client: &kube::Client,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut req = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(kube::client::Body::from(body.as_bytes().to_vec()))
        .unwrap();
    let resp = client.send(req).await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = resp.into_body().collect_bytes().await.unwrap();
    (
        status,
        content_type,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// A raw request whose answer must be JSON.
pub async fn raw_json(
    client: &kube::Client,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value) {
    let (status, _, text) = raw(client, method, uri, headers, body).await;
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {uri}: not JSON ({e}): {text}"));
    (status, value)
}
