//! The `fluxbrain` binary as operators and scripts use it.

mod continuous;
mod demo;
mod end_to_end;
mod endpoints;
mod failover;
mod fault_logs;
mod operators;
mod rbac;
mod rbac_sharding;
mod reference;
mod render;
mod run;
mod secrets;
mod sharding;
mod status;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `fluxbrain` with `args` and no `FLUXBRAIN_*` variables from the caller's environment.
pub fn fluxbrain(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fluxbrain"));
    cmd.args(args).current_dir(repo());
    for (key, _) in std::env::vars() {
        if key.starts_with("FLUXBRAIN_") {
            cmd.env_remove(key);
        }
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The example cluster on the simulator (its clock at the fixtures' "now"), and a kubeconfig
/// for it written under a name unique to `tag`.
pub async fn serve_basic(
    tag: &str,
) -> (
    fluxbrain_sim::Simulator,
    fluxbrain_sim::Server,
    std::path::PathBuf,
) {
    use fluxbrain_sim::{Config, Simulator, State};
    let state = State::load_dir(repo().join("examples/clusters/basic")).unwrap();
    let config = Config {
        start: "2026-04-21T09:30:00Z".parse().unwrap(),
        ..Config::default()
    };
    let sim = Simulator::new(state, config).unwrap();
    let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let kubeconfig = std::env::temp_dir().join(format!(
        "fluxbrain-cli-{tag}-{}.kubeconfig",
        std::process::id()
    ));
    server.write_kubeconfig(&kubeconfig).unwrap();
    (sim, server, kubeconfig)
}

/// A process's JSON log lines, read as they come.
#[derive(Debug)]
pub struct Logs(mpsc::Receiver<Value>);

impl Logs {
    pub fn of(stderr: impl std::io::Read + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Logs(rx)
    }

    /// Waits for log lines until `done` has seen enough; a minute of silence is a hang.
    pub fn until(&self, what: &str, mut done: impl FnMut(&Value) -> bool) {
        loop {
            let line = self
                .0
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no log line for {what} within 60 s"));
            if done(&line) {
                return;
            }
        }
    }

    /// Waits until `count` notifications were delivered (the runtime logs each round).
    pub fn delivered(&self, count: u64) {
        let mut delivered = 0;
        self.until(&format!("{count} deliveries"), |line| {
            if line["message"] == "delivered" {
                delivered += line["delivered"].as_u64().unwrap_or(0);
            }
            delivered >= count
        });
    }
}

/// The example cluster's failing Kustomization `infra-configs` turns Ready (it recovers).
pub fn recover_infra_configs(sim: &fluxbrain_sim::Simulator) {
    let mut object = sim
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "flux-system",
            "infra-configs",
        )
        .unwrap();
    object["status"]["conditions"] = serde_json::json!([{
        "type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
        "message": "Applied revision: v1.14.2", "lastTransitionTime": "2026-04-21T09:31:00Z"
    }]);
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    sim.apply(object).unwrap();
}
