//! `embed-operator CLUSTER`: watches the cluster of the current kubeconfig (or the pod's
//! ServiceAccount) with fluxbrain's collector and records every notification as an Event on
//! the Flux object, until interrupted.

use std::time::Duration;

use fluxbrain_core::{EngineConfig, Time};
use fluxbrain_example_embed_operator::{engine, pass};
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};

#[tokio::main]
async fn main() -> Result<(), String> {
    let cluster = std::env::args()
        .nth(1)
        .ok_or("usage: embed-operator CLUSTER (the name that goes into the events)")?;
    let kube = kube::Config::infer().await.map_err(|e| e.to_string())?;
    let client = kube::Client::try_from(kube.clone()).map_err(|e| e.to_string())?;
    let collector = KubeCollector::new(CollectorConfig::new(vec![ClusterConfig::new(
        cluster.as_str(),
        kube,
    )]))
    .map_err(|e| e.to_string())?;
    collector.start();
    let engine = engine(client, EngineConfig::default()).await;
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tick.tick() => {}
        }
        let (due, errors) = pass(&collector, &engine, Time::new(jiff::Timestamp::now())).await;
        eprintln!(
            "embed-operator: {due} notification(s) due, {} delivery error(s)",
            errors.len()
        );
        for error in errors {
            eprintln!("embed-operator: {error}");
        }
    }
}
