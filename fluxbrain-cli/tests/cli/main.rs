//! The `fluxbrain` binary as operators and scripts use it.

mod continuous;
mod demo;
mod end_to_end;
mod endpoints;
mod failover;
mod render;
mod run;
mod status;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
