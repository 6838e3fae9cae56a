//! A fleet: the watched clusters shared out among replicas, with Kubernetes (Leases in the
//! home cluster) as the only coordination.
//!
//! Every replica renews a membership Lease of its own ([`membership`]); every watched cluster
//! has a Lease of its own ([`names::lease_name`]). Each round (one retry period), a replica
//! lists the live members, computes every cluster's owner with [`rendezvous::assign`] (all
//! replicas compute the same), and runs a cluster's [`Runtime`] only while it is that
//! cluster's owner:
//!
//! - it acquires the cluster's Lease first (waiting while the previous owner hands over or
//!   its Lease runs out), and only then watches the cluster: replicas never watch what they
//!   do not own;
//! - the runtime keeps the cluster's incidents and outbox in the cluster's own state document
//!   (compare-and-swap, fenced by the cluster's Lease: its first save on taking over moves the
//!   document on, so a deposed owner's next save is refused);
//! - when the cluster should move (a replica joined, or the assignment changed), the runtime
//!   shuts down as on SIGTERM: deliveries in flight finish, the state is saved, the Lease is
//!   released, and the new owner takes over at its next round.
//!
//! A replica that crashes stops renewing: its membership drops out and its clusters' Leases
//! run out after one lease duration, and their new owners take over. A replica cut off from
//! the home cluster stops delivering when its Leases can no longer be renewed, before they
//! can expire (the runtime's lease margin).

pub mod membership;
pub mod merged;
pub mod migrate;
pub mod names;
pub mod rendezvous;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fluxbrain_core::{Analyzer, Collector, EngineConfig, Notifier, StateStore, Time};
use k8s_openapi::api::coordination::v1::LeaseSpec;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use crate::lease::{LeaderElector, LeaseConfig};
use crate::runtime::{Clock, Observer, Runtime, RuntimeConfig, SystemClock};
use membership::Membership;

/// Makes the state store of a cluster, by name.
pub type StoreFor = Arc<dyn Fn(&str) -> Arc<dyn StateStore> + Send + Sync>;

/// Where the fleet coordinates and who this replica is.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The home cluster's namespace of the Leases (and of the state ConfigMaps).
    pub namespace: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a Lease (membership or cluster) lasts unless renewed; renewed every third of
    /// it, at most every 2 s.
    pub lease_duration: Duration,
    /// The timing of every cluster's runtime.
    pub runtime: RuntimeConfig,
}

impl FleetConfig {
    /// Defaults: 15 s Leases, default runtime timing.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        FleetConfig {
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            runtime: RuntimeConfig::default(),
        }
    }

    fn lease(&self, name: String) -> LeaseConfig {
        let mut lease = LeaseConfig::new(self.namespace.clone(), name, self.identity.clone());
        lease.duration = self.lease_duration;
        lease
    }

    fn retry_period(&self) -> Duration {
        self.lease(String::new()).retry_period()
    }
}

/// Which clusters this replica owns, since when, and how often that changed.
#[derive(Debug, Default)]
pub struct Ownership {
    owned: Mutex<BTreeMap<String, Time>>,
    changes: AtomicU64,
    /// The collector of every cluster this replica watches (owned, or being handed over).
    collectors: Mutex<BTreeMap<String, Arc<KubeCollector>>>,
}

impl Ownership {
    /// The clusters this replica owns now (holds the Lease of and runs), with the time it
    /// took each over.
    pub fn owned(&self) -> BTreeMap<String, Time> {
        self.owned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many times a cluster was taken over or given up by this replica.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// The collectors of the clusters this replica watches now, by cluster.
    pub fn collectors(&self) -> BTreeMap<String, Arc<KubeCollector>> {
        self.collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn watching(&self, cluster: &str, collector: Option<Arc<KubeCollector>>) {
        let mut map = self
            .collectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match collector {
            Some(c) => map.insert(cluster.to_owned(), c),
            None => map.remove(cluster),
        };
    }

    fn set(&self, cluster: &str, owned: bool, now: Time) {
        let mut map = self.owned.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = if owned {
            if map.contains_key(cluster) {
                false
            } else {
                map.insert(cluster.to_owned(), now);
                true
            }
        } else {
            map.remove(cluster).is_some()
        };
        if changed {
            self.changes.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Records a cluster runtime's leadership as ownership; passes its steps, deliveries and
/// failures on to the fleet's observer.
struct Owner {
    cluster: String,
    ownership: Arc<Ownership>,
    clock: Arc<dyn Clock>,
    outer: Arc<dyn Observer>,
}

impl Observer for Owner {
    fn leading(&self, leading: bool) {
        self.ownership.set(&self.cluster, leading, self.clock.now());
    }

    fn step(&self, step: &crate::runtime::Step<'_>) {
        self.outer.step(step);
    }

    fn engine_failed(&self, error: &str) {
        self.outer
            .engine_failed(&format!("cluster {}: {error}", self.cluster));
    }

    fn delivered(&self, notifier: &str, waited: &[Duration]) {
        self.outer.delivered(notifier, waited);
    }
}

/// Why a fleet cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// Two clusters share a name: their Leases and state would be one.
    #[error("cluster name {0:?} is given twice; every cluster needs a name of its own")]
    DuplicateCluster(String),
}

/// What every cluster runtime of this replica shares.
struct Setup {
    home: kube::Client,
    config: FleetConfig,
    collector: CollectorConfig,
    stores: StoreFor,
    notifiers: Vec<Arc<dyn Notifier>>,
    analyzer: Option<Arc<dyn Analyzer>>,
    engine: EngineConfig,
    clock: Arc<dyn Clock>,
    ownership: Arc<Ownership>,
    observer: Arc<dyn Observer>,
}

/// One replica of a fleet; see the [module documentation](self).
pub struct Fleet {
    setup: Setup,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("config", &self.setup.config)
            .field("clusters", &self.setup.collector.clusters.len())
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// A replica coordinating through `home` as `config` says, sharing the clusters of
    /// `collector` (each cluster is watched with these settings by its owner alone), keeping
    /// each cluster's state in `stores(cluster)` and delivering to `notifiers`.
    ///
    /// # Errors
    /// [`FleetError::DuplicateCluster`] when two clusters have the same name.
    pub fn new(
        home: kube::Client,
        config: FleetConfig,
        collector: CollectorConfig,
        stores: StoreFor,
        notifiers: Vec<Arc<dyn Notifier>>,
    ) -> Result<Self, FleetError> {
        let mut names = std::collections::BTreeSet::new();
        for cluster in &collector.clusters {
            if !names.insert(cluster.name.as_str()) {
                return Err(FleetError::DuplicateCluster(cluster.name.clone()));
            }
        }
        Ok(Fleet {
            setup: Setup {
                home,
                config,
                collector,
                stores,
                notifiers,
                analyzer: None,
                engine: EngineConfig::default(),
                clock: Arc::new(SystemClock),
                ownership: Arc::new(Ownership::default()),
                observer: Arc::new(crate::runtime::Ignore),
            },
        })
    }

    /// Asks `analyzer` about every firing before it is delivered.
    #[must_use]
    pub fn analyzer(mut self, analyzer: Option<Arc<dyn Analyzer>>) -> Self {
        self.setup.analyzer = analyzer;
        self
    }

    /// The engine's policy, event and backoff settings, for every cluster.
    #[must_use]
    pub fn engine_config(mut self, engine: EngineConfig) -> Self {
        self.setup.engine = engine;
        self
    }

    /// The clock the engines are given.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.setup.clock = clock;
        self
    }

    /// Who hears about every cluster runtime's steps, deliveries and failures (leadership
    /// is the fleet's [`Ownership`]).
    #[must_use]
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.setup.observer = observer;
        self
    }

    /// Which clusters this replica owns, updated as it runs.
    pub fn ownership(&self) -> Arc<Ownership> {
        self.setup.ownership.clone()
    }

    /// Runs until `shutdown` resolves; then every owned cluster is handed over (deliveries
    /// in flight finish, state saved, Lease released) and the membership given up.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let setup = Arc::new(self.setup);
        let mut membership = Membership::new(
            setup.home.clone(),
            &setup.config.namespace,
            &setup.config.identity,
            setup.config.lease_duration,
        );
        let names: Vec<String> = setup
            .collector
            .clusters
            .iter()
            .map(|c| c.name.clone())
            .collect();
        // Dropped (the replica's task aborted), the clusters' tasks end with it.
        let mut running: BTreeMap<String, (watch::Sender<bool>, Task)> = BTreeMap::new();
        let mut rounds = tokio::time::interval(setup.config.retry_period());
        tokio::pin!(shutdown);
        // The first round only joins: replicas started together see each other from the
        // second on, so none takes every cluster for a moment (and keeps the memory).
        let mut joined = false;
        loop {
            tokio::select! {
                () = shutdown.as_mut() => break,
                _ = rounds.tick() => {}
            }
            running.retain(|_, (_, task)| !task.0.is_finished());
            let members = match membership.round(Instant::now()).await {
                Ok(members) => members,
                Err(e) => {
                    tracing::warn!(error = %e, "membership not read; clusters stay as they are");
                    continue;
                }
            };
            if !std::mem::replace(&mut joined, true) {
                continue;
            }
            let owners = rendezvous::assign(&names, &members);
            for cluster in &setup.collector.clusters {
                let mine =
                    owners.get(&cluster.name).copied() == Some(setup.config.identity.as_str());
                match running.get(&cluster.name) {
                    None if mine => {
                        let (stop, stopped) = watch::channel(false);
                        let seen = membership.seen(&names::lease_name(&cluster.name));
                        let task = Task(tokio::spawn(own_cluster(
                            setup.clone(),
                            cluster.clone(),
                            seen,
                            stopped,
                        )));
                        running.insert(cluster.name.clone(), (stop, task));
                    }
                    Some((stop, _)) if !mine && !*stop.borrow() => {
                        tracing::info!(cluster = %cluster.name, owner = ?owners.get(&cluster.name), "handing the cluster over");
                        let _ = stop.send(true);
                    }
                    _ => {}
                }
            }
        }
        for (stop, _) in running.values() {
            let _ = stop.send(true);
        }
        for (_, (_, mut task)) in running {
            let _ = (&mut task.0).await;
        }
        membership.leave().await;
    }
}

/// A cluster's task, aborted when dropped.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Owns `cluster` until `stop`: acquires its Lease, then watches it and runs its runtime; a
/// stop hands it over (the runtime's graceful shutdown releases the Lease).
async fn own_cluster(
    setup: Arc<Setup>,
    cluster: ClusterConfig,
    seen: Option<(LeaseSpec, Instant)>,
    mut stop: watch::Receiver<bool>,
) {
    let name = cluster.name.clone();
    let config = &setup.config;
    let mut elector =
        LeaderElector::new(setup.home.clone(), config.lease(names::lease_name(&name)));
    // A Lease the membership rounds saw unrenewed for a while (its holder died) is taken at
    // once when it has run out, not a duration after this first look.
    if let Some((spec, since)) = &seen {
        elector.seen_since(spec, *since);
    }
    let retry = config.retry_period();
    loop {
        if *stop.borrow() {
            return;
        }
        if elector.tick().await {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            _ = stop.changed() => {}
        }
    }
    tracing::info!(cluster = %name, lease = %elector.name(), "took the cluster over");
    let collector = match KubeCollector::new(CollectorConfig {
        clusters: vec![cluster],
        ..setup.collector.clone()
    }) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::error!(cluster = %name, error = %e, "cannot watch the cluster");
            elector.release().await;
            return;
        }
    };
    collector.start();
    setup.ownership.watching(&name, Some(collector.clone()));
    // The first lists arrive while the Lease is renewed (the runtime renews from its first
    // step on).
    {
        let synced = tokio::time::timeout(config.runtime.first_sync, collector.synced());
        tokio::pin!(synced);
        loop {
            tokio::select! {
                _ = &mut synced => break,
                () = tokio::time::sleep(retry) => { elector.tick().await; }
            }
        }
    }
    let observer = Arc::new(Owner {
        cluster: name.clone(),
        ownership: setup.ownership.clone(),
        clock: setup.clock.clone(),
        outer: setup.observer.clone(),
    });
    let runtime = Runtime::new(collector, (setup.stores)(&name), setup.notifiers.clone())
        .analyzer(setup.analyzer.clone())
        .engine_config(setup.engine.clone())
        .config(config.runtime.clone())
        .clock(setup.clock.clone())
        .observer(observer)
        .elector(elector);
    let stopped = runtime
        .run(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    setup.ownership.set(&name, false, setup.clock.now());
    setup.ownership.watching(&name, None);
    tracing::info!(cluster = %name, outcome = ?stopped, "gave the cluster up");
}

/// Who holds a cluster's Lease, as the home cluster says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The replica, while its Lease is held and not run out.
    pub replica: Option<String>,
    /// Since when it holds it (`acquireTime`).
    pub since: Option<Time>,
}

/// Every cluster's Lease holder (one list of the namespace's Leases): what `/v1/summary`
/// shows. A Lease released, missing, or not renewed for its duration has no holder.
///
/// # Errors
/// The home cluster's answer when the Leases cannot be listed.
pub async fn holders(
    home: &kube::Client,
    namespace: &str,
    clusters: &[String],
    timeout: Duration,
) -> Result<BTreeMap<String, Holder>, String> {
    let api: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(home.clone(), namespace);
    let leases =
        match tokio::time::timeout(timeout, api.list(&kube::api::ListParams::default())).await {
            Ok(Ok(list)) => list.items,
            Ok(Err(e)) => return Err(format!("listing Leases in {namespace}: {e}")),
            Err(_) => {
                return Err(format!(
                    "listing Leases in {namespace}: no answer within {timeout:?}"
                ));
            }
        };
    let by_name: BTreeMap<String, LeaseSpec> = leases
        .into_iter()
        .filter_map(|l| Some((l.metadata.name?, l.spec.unwrap_or_default())))
        .collect();
    let now = jiff::Timestamp::now();
    Ok(clusters
        .iter()
        .map(|cluster| {
            let spec = by_name.get(&names::lease_name(cluster));
            let live = spec.filter(|s| {
                let duration = jiff::SignedDuration::from_secs(i64::from(
                    s.lease_duration_seconds.unwrap_or(15),
                ));
                s.renew_time.as_ref().is_some_and(|r| r.0 + duration > now)
            });
            let holder = Holder {
                replica: live
                    .and_then(|s| s.holder_identity.clone())
                    .filter(|h| !h.is_empty()),
                since: live
                    .and_then(|s| s.acquire_time.as_ref())
                    .map(|t| Time::new(t.0)),
            };
            (cluster.clone(), holder)
        })
        .collect())
}
