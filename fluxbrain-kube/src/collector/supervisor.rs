//! Continuous mode, per cluster: discovery on a schedule, one watcher per source, retries with
//! jittered backoff while the cluster cannot be reached. Clusters never wait on each other.

use std::sync::{Arc, Mutex, PoisonError};

use fluxbrain_core::Kind;
use tokio::task::JoinHandle;

use super::cluster::Cluster;
use super::config::CollectorConfig;
use super::discovery::discover;
use super::error::ApiFailure;
use super::logs::LogCache;
use super::metrics::Counters;
use super::source::Source;
use super::store::ClusterStore;
use super::watch::{self, Changes, WatchSettings};

/// A task aborted when dropped, so dropping the collector stops everything it started.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the collector and the cluster's tasks share.
#[derive(Debug, Default)]
pub(crate) struct ClusterState {
    /// The facts.
    pub store: Arc<Mutex<ClusterStore>>,
    /// The outcome of the last discovery (`None` before the first).
    pub discovery: Mutex<Option<Result<Vec<Kind>, ApiFailure>>>,
    /// The controller logs read last.
    pub logs: Mutex<LogCache>,
}

impl ClusterState {
    pub fn discovery(&self) -> Option<Result<Vec<Kind>, ApiFailure>> {
        self.discovery
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_discovery(&self, outcome: Result<Vec<Kind>, ApiFailure>) -> bool {
        let mut d = self
            .discovery
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let changed = d.as_ref() != Some(&outcome);
        *d = Some(outcome);
        changed
    }
}

/// Runs a cluster until aborted.
pub(crate) async fn supervise(
    cluster: Cluster,
    state: Arc<ClusterState>,
    config: Arc<CollectorConfig>,
    changes: Arc<Changes>,
    counters: Arc<Counters>,
) {
    let settings = WatchSettings {
        page_size: config.watch_page_size,
        resync: config.requeue_interval,
        retry: config.retry,
        // The server ends each watch after this; kube-runtime resumes it from the last version.
        server_timeout: 290,
    };
    let mut running: Vec<(Source, AbortOnDrop)> = Vec::new();
    let mut failures: u32 = 0;
    loop {
        let wait = match discover(&cluster, &counters).await {
            Ok(served) => {
                failures = 0;
                let kinds = served.iter().map(|s| s.kind.clone()).collect();
                if state.set_discovery(Ok(kinds)) {
                    changes.bump();
                }
                let wanted = Source::all(&served, &config.flux_namespace);
                let before = running.len();
                running.retain(|(source, _)| wanted.contains(source));
                if running.len() != before {
                    // Kinds removed or moved to another version: forget their facts.
                    let mut store = state.store.lock().unwrap_or_else(PoisonError::into_inner);
                    store
                        .objects
                        .retain(|k, _| served.iter().any(|s| s.kind == *k));
                    store
                        .events
                        .retain(|k, _| served.iter().any(|s| s.kind == *k));
                    changes.bump();
                }
                for source in wanted {
                    if running.iter().any(|(s, _)| *s == source) {
                        continue;
                    }
                    let task = tokio::spawn(watch::run(
                        cluster.clone(),
                        source.clone(),
                        Arc::clone(&state.store),
                        Arc::clone(&changes),
                        Arc::clone(&counters),
                        settings.clone(),
                    ));
                    running.push((source, AbortOnDrop(task)));
                }
                config.requeue_interval
            }
            Err(failure) => {
                failures = failures.saturating_add(1);
                tracing::warn!(cluster = %cluster.name, error = %failure, "cluster unreachable; retrying");
                if state.set_discovery(Err(failure)) {
                    changes.bump();
                }
                config.retry.delay(failures, fastrand::f64())
            }
        };
        tokio::time::sleep(wait).await;
    }
}
