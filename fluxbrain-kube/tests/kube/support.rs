//! Shared helpers: a simulator on the fixture cluster, temp dirs, clients, raw requests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use fluxbrain_sim::{Config, Server, Simulator, State};

/// "Now" of the cluster-basic fixture.
pub const START: &str = "2026-04-21T09:30:00Z";

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/clusters/basic")
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

async fn kube_config(server: &Server) -> kube::Config {
    let dir = TempDir::new("kubeconfig");
    let path = dir.path().join("config");
    server.write_kubeconfig(&path).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap()
}
