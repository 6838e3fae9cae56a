//! [`KubeCollector`]: core's [`Collector`] over kube-rs, once or continuously.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use fluxbrain_core::{ClusterObservation, CollectError, Collector, Kind};
use futures::future::join_all;

use super::cluster::Cluster;
use super::config::CollectorConfig;
use super::error::Error;
use super::logs;
use super::metrics::{Counters, Metrics};
use super::once;
use super::supervisor::{AbortOnDrop, ClusterState, supervise};
use super::watch::Changes;

/// Reads Flux objects, their events, the controller pods and (optionally) controller logs
/// from one or more clusters.
///
/// Two modes:
/// - **once**: without [`KubeCollector::start`], every [`collect`](Collector::collect) lists
///   everything afresh (paged, a few lists at a time per cluster, clusters in parallel);
/// - **continuous**: after [`KubeCollector::start`], watchers keep a store of trimmed facts per
///   cluster; `collect` returns the stores' content at once (plus logs, when enabled, read
///   then), and [`changed`](Collector::changed) resolves when a fact changed.
///
/// In both, a snapshot's events are those about its failing objects, the only events an
/// ErrorEvent reads (continuous mode matches them by kind name, namespace and name, so it may
/// add an event about a same-named object of a foreign group, which the builder ignores). Once
/// mode does not even parse the others; the continuous store keeps every Flux event (packed),
/// since an object that starts failing needs the events from before.
///
/// In both, each cluster is on its own: an unreachable cluster is an `Err` in its place of
/// `collect`'s answer (and, continuously, retried with jittered backoff) while the others go on.
/// A kind that cannot be read (RBAC forbids it) is listed in
/// [`ClusterObservation::unobserved`], warned about and counted, and the other kinds are read.
///
/// ```no_run
/// # async fn demo() -> Result<(), fluxbrain_kube::collector::Error> {
/// use fluxbrain_core::Collector;
/// use fluxbrain_kube::collector::{CollectorConfig, KubeCollector};
///
/// let config = CollectorConfig::from_env(|k| std::env::var(k).ok(), &[]).await?;
/// let collector = KubeCollector::new(config)?;
/// for result in collector.collect().await {
///     match result {
///         Ok(seen) => println!("{}: {} objects", seen.snapshot.cluster, seen.snapshot.objects.len()),
///         Err(e) => eprintln!("{e}"),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct KubeCollector {
    config: Arc<CollectorConfig>,
    clusters: Vec<(Cluster, Arc<ClusterState>)>,
    counters: Arc<Counters>,
    changes: Arc<Changes>,
    /// The change version the last `collect` saw.
    seen: AtomicU64,
    tasks: Mutex<Vec<AbortOnDrop>>,
}

/// How one cluster is doing (continuous mode), for readiness and status pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStatus {
    /// The cluster's name.
    pub name: String,
    /// The Flux kinds it serves (empty before the first successful discovery).
    pub served: Vec<Kind>,
    /// Whether every served kind, the events and the pods have been listed completely (or
    /// are forbidden) and the cluster is reachable.
    pub synced: bool,
    /// Kinds served but not readable now (forbidden, or not listed yet).
    pub unobserved: Vec<Kind>,
    /// Objects held.
    pub objects: usize,
    /// Why the cluster cannot be read, when it cannot.
    pub error: Option<String>,
}

impl KubeCollector {
    /// Builds the clients of every cluster; no request is made yet.
    ///
    /// # Errors
    /// [`Error::Client`] when a cluster's settings cannot make a client (TLS, proxy);
    /// [`Error::Variable`] when no cluster is configured.
    pub fn new(config: CollectorConfig) -> Result<Self, Error> {
        if config.clusters.is_empty() {
            return Err(Error::Variable {
                variable: "FLUXBRAIN_CLUSTER",
                message: "no cluster configured".to_owned(),
            });
        }
        let clusters = config
            .clusters
            .iter()
            .map(|c| Ok((Cluster::new(c, &config)?, Arc::new(ClusterState::default()))))
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(KubeCollector {
            config: Arc::new(config),
            clusters,
            counters: Arc::new(Counters::default()),
            changes: Arc::new(Changes::default()),
            seen: AtomicU64::new(0),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// Switches to continuous mode: spawns, per cluster, discovery and a watcher per source
    /// on the current tokio runtime. Calling it again does nothing. Dropping the collector
    /// stops them.
    pub fn start(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if !tasks.is_empty() {
            return;
        }
        for (cluster, state) in &self.clusters {
            tasks.push(AbortOnDrop(tokio::spawn(supervise(
                cluster.clone(),
                Arc::clone(state),
                Arc::clone(&self.config),
                Arc::clone(&self.changes),
                Arc::clone(&self.counters),
            ))));
        }
    }

    /// Whether [`KubeCollector::start`] was called.
    pub fn is_continuous(&self) -> bool {
        !self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// The configuration in force.
    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// The counters so far.
    pub fn metrics(&self) -> Metrics {
        self.counters.read()
    }

    /// Per cluster, in configuration order: what it serves, whether it is synced, why not.
    /// In once mode every cluster reads as not synced.
    pub fn status(&self) -> Vec<ClusterStatus> {
        self.clusters
            .iter()
            .map(|(cluster, state)| {
                let discovery = state.discovery();
                let store = state.store.lock().unwrap_or_else(PoisonError::into_inner);
                let served = match &discovery {
                    Some(Ok(kinds)) => kinds.clone(),
                    _ => Vec::new(),
                };
                let unobserved: Vec<Kind> = served
                    .iter()
                    .filter(|k| !store.objects.get(*k).is_some_and(|f| f.observed()))
                    .cloned()
                    .collect();
                let error = match (&discovery, store.unreachable()) {
                    (None, _) => Some("not connected yet".to_owned()),
                    (Some(Err(e)), _) => Some(e.to_string()),
                    (Some(Ok(_)), Some(e)) => Some(e.to_string()),
                    (Some(Ok(_)), None) => None,
                };
                let settled = |synced: bool, forbidden: bool| synced || forbidden;
                let feeds_synced =
                    served.iter().all(|k| {
                        let objects = store.objects.get(k);
                        let events = store.events.get(k);
                        settled(
                            objects.is_some_and(|f| f.synced),
                            objects.is_some_and(|f| !f.observed() && is_forbidden(&f.health)),
                        ) && settled(
                            events.is_some_and(|f| f.synced),
                            events.is_some_and(|f| is_forbidden(&f.health)),
                        )
                    }) && settled(store.pods.synced, is_forbidden(&store.pods.health));
                ClusterStatus {
                    name: cluster.name.clone(),
                    synced: error.is_none() && feeds_synced,
                    served,
                    unobserved,
                    objects: store.object_count(),
                    error,
                }
            })
            .collect()
    }

    /// The continuous mode's answer for one cluster.
    async fn stored(
        &self,
        cluster: &Cluster,
        state: &ClusterState,
    ) -> Result<ClusterObservation, CollectError> {
        let error = |message: String| CollectError {
            cluster: cluster.name.clone(),
            message,
        };
        match state.discovery() {
            None => return Err(error("not connected yet".to_owned())),
            Some(Err(failure)) => return Err(error(failure.to_string())),
            Some(Ok(_)) => {}
        }
        let (mut observation, pods) = {
            let store = state.store.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(failure) = store.unreachable() {
                return Err(error(failure.to_string()));
            }
            store.observation(&cluster.name)
        };
        if self.config.collect_logs {
            let (requests, failing) = logs::plan(&observation.snapshot, &pods);
            let cache = || state.logs.lock().unwrap_or_else(PoisonError::into_inner);
            let refresh = self.config.log_refresh_interval;
            if let Some(lines) = cache().get(&requests, &failing, refresh) {
                observation.snapshot.logs = lines;
                return Ok(observation);
            }
            let read_at = tokio::time::Instant::now();
            let fetched = logs::fetch(
                cluster,
                &self.counters,
                requests.clone(),
                &failing,
                self.config.log_tail_lines,
            )
            .await;
            observation.snapshot.logs = fetched.lines.clone();
            cache().put(requests, failing, read_at, fetched);
        }
        Ok(observation)
    }
}

fn is_forbidden(health: &super::store::FeedHealth) -> bool {
    matches!(health, super::store::FeedHealth::Failing(f) if f.class == super::error::ErrorClass::Forbidden)
}

#[async_trait::async_trait]
impl Collector for KubeCollector {
    async fn collect(&self) -> Vec<Result<ClusterObservation, CollectError>> {
        if self.is_continuous() {
            self.seen.store(self.changes.version(), Ordering::SeqCst);
            join_all(
                self.clusters
                    .iter()
                    .map(|(cluster, state)| self.stored(cluster, state)),
            )
            .await
        } else {
            join_all(
                self.clusters
                    .iter()
                    .map(|(cluster, _)| once::collect(cluster, &self.config, &self.counters)),
            )
            .await
        }
    }

    async fn changed(&self) {
        if self.is_continuous() {
            self.changes.after(self.seen.load(Ordering::SeqCst)).await;
        } else {
            futures::future::pending::<()>().await;
        }
    }

    /// Every cluster synced, or failing for a reason other than not being connected yet.
    async fn synced(&self) {
        if !self.is_continuous() {
            return;
        }
        loop {
            let seen = self.changes.version();
            let settled = self
                .status()
                .iter()
                .all(|s| s.synced || s.error.as_deref().is_some_and(|e| e != "not connected yet"));
            if settled {
                return;
            }
            self.changes.after(seen).await;
        }
    }
}
