//! `fluxbrain run` in continuous mode: watch-driven, a change is noticed without a requeue.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::serve_basic;

/// Waits (bounded) for the next notification line.
fn next(lines: &mpsc::Receiver<String>, what: &str) -> Value {
    let line = lines
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("no notification for {what} within 60 s"));
    serde_json::from_str(&line).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_and_notifies_on_change() {
    let (sim, server, kubeconfig) = serve_basic("continuous").await;

    let mut child = Command::new(env!("CARGO_BIN_EXE_fluxbrain"))
        .arg("run")
        .env("KUBECONFIG", &kubeconfig)
        .env("FLUXBRAIN_CLUSTER", "basic")
        .env("FLUXBRAIN_STATE", "memory")
        // A requeue far away: what follows must come from the watch.
        .env("FLUXBRAIN_REQUEUE_INTERVAL", "1h")
        // The firings wait for the group wait, then come from its timer alone (no Lease
        // rounds with a memory state, no requeue).
        .env("FLUXBRAIN_GROUP_WAIT", "2s")
        .env("FLUXBRAIN_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let first = tokio::task::spawn_blocking(move || {
        let firings: Vec<Value> = (0..9)
            .map(|_| next(&lines, "the initial firings"))
            .collect();
        (firings, lines)
    })
    .await
    .unwrap();
    let (firings, lines) = first;
    assert!(
        firings
            .iter()
            .all(|f| f["notification"]["kind"] == "firing")
    );

    // The failing Kustomization recovers: its resolution follows from the watch alone.
    crate::recover_infra_configs(&sim);
    let resolved = tokio::task::spawn_blocking(move || next(&lines, "the resolution"))
        .await
        .unwrap();
    assert_eq!(resolved["notification"]["kind"], "resolved");
    assert_eq!(resolved["notification"]["resolution"], "recovered");
    assert_eq!(resolved["event"]["metadata"]["name"], "infra-configs");

    child.kill().unwrap();
    child.wait().unwrap();
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_file(kubeconfig);
}
