//! A fleet on paused tokio time: 12 clusters (a simulator each, the first one also the home
//! cluster holding the Leases and the state ConfigMaps), shared by replicas that are tasks of
//! this test. Aborting a replica's task ends all of its work at once, as `kill -9` would.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::response::IntoResponse;
use fluxbrain_core::{Notification, Notifier, Receipt, StateStore, Time};
use fluxbrain_kube::ConfigMapStore;
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig};
use fluxbrain_kube::fleet::migrate::Migrating;
use fluxbrain_kube::fleet::names::{lease_name, state_name};
use fluxbrain_kube::fleet::{Fleet, FleetConfig, FleetError, Ownership, StoreFor};
use fluxbrain_kube::runtime::TokioClock;
use fluxbrain_sim::{Simulator, State};
use serde_json::json;
use tokio::sync::mpsc;

use crate::support::{START, config, fixture_dir};

const CLUSTERS: usize = 12;
/// Failing objects of the fixture cluster, so firings per cluster.
const FAILING: usize = 9;

/// Tells the test what it sent, and which replica sent it; refuses (retryably) while
/// `down` is set.
#[derive(Debug)]
struct Recorder {
    replica: &'static str,
    seen: mpsc::UnboundedSender<(&'static str, Notification)>,
    down: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl Notifier for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    async fn deliver(
        &self,
        note: &Notification,
        _: Option<&Receipt>,
    ) -> Result<Receipt, fluxbrain_core::DeliveryError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(fluxbrain_core::DeliveryError {
                notifier: "recorder".into(),
                message: "down".into(),
                retry: fluxbrain_core::Retry::After(None),
            });
        }
        let _ = self.seen.send((self.replica, note.clone()));
        Ok(Receipt::default())
    }
}

struct World {
    sims: Vec<Simulator>,
    seen: mpsc::UnboundedSender<(&'static str, Notification)>,
    rx: mpsc::UnboundedReceiver<(&'static str, Notification)>,
}

fn cluster_name(i: usize) -> String {
    format!("cluster-{i:02}")
}

fn client(sim: &Simulator) -> kube::Client {
    kube::Client::new(sim.service(), "default")
}

impl World {
    fn new() -> World {
        let sims = (0..CLUSTERS)
            .map(|_| Simulator::new(State::load_dir(fixture_dir()).unwrap(), config()).unwrap())
            .collect();
        let (seen, rx) = mpsc::unbounded_channel();
        World { sims, seen, rx }
    }

    fn home(&self) -> &Simulator {
        &self.sims[0]
    }

    fn collector(&self) -> CollectorConfig {
        CollectorConfig::new(
            self.sims
                .iter()
                .enumerate()
                .map(|(i, sim)| ClusterConfig::with_client(cluster_name(i), client(sim)))
                .collect(),
        )
    }

    fn stores(&self) -> StoreFor {
        let home = client(self.home());
        Arc::new(move |cluster: &str| {
            let own = ConfigMapStore::new(
                home.clone(),
                "flux-system",
                &state_name("fluxbrain-state", cluster),
                Duration::from_secs(5),
            )
            .with_control("fluxbrain-state-control");
            let legacy = ConfigMapStore::new(
                home.clone(),
                "flux-system",
                "fluxbrain-state",
                Duration::from_secs(5),
            );
            Arc::new(Migrating::new(Arc::new(own), Arc::new(legacy), cluster))
                as Arc<dyn StateStore>
        })
    }

    /// Replica `identity`, running; its ownership.
    fn replica(&self, identity: &'static str) -> (tokio::task::JoinHandle<()>, Arc<Ownership>) {
        self.replica_with(identity, client(self.home()), Arc::default())
    }

    /// Replica `identity` reaching the home cluster through `home`, its notifier down while
    /// `down` is set; retries after 1 s.
    fn replica_with(
        &self,
        identity: &'static str,
        home: kube::Client,
        down: Arc<AtomicBool>,
    ) -> (tokio::task::JoinHandle<()>, Arc<Ownership>) {
        let notifier = Arc::new(Recorder {
            replica: identity,
            seen: self.seen.clone(),
            down,
        });
        let engine = fluxbrain_core::EngineConfig {
            backoff: fluxbrain_core::engine::Backoff {
                base: Duration::from_secs(1),
                cap: Duration::from_secs(1),
            },
            ..fluxbrain_core::EngineConfig::default()
        };
        let fleet = Fleet::new(
            home,
            FleetConfig::new("flux-system", identity),
            self.collector(),
            self.stores(),
            vec![notifier],
        )
        .unwrap()
        .engine_config(engine)
        .clock(Arc::new(TokioClock::starting_at(
            Time::parse(START).unwrap(),
        )));
        let ownership = fleet.ownership();
        (tokio::spawn(fleet.run(std::future::pending())), ownership)
    }

    /// Each cluster's Lease holder.
    fn holders(&self) -> BTreeMap<String, String> {
        (0..CLUSTERS)
            .filter_map(|i| {
                let lease = self.home().object(
                    "coordination.k8s.io/v1",
                    "Lease",
                    "flux-system",
                    &lease_name(&cluster_name(i)),
                )?;
                let holder = lease["spec"]["holderIdentity"].as_str()?.to_owned();
                Some((cluster_name(i), holder))
            })
            .collect()
    }

    /// What arrives within `within` (paused time), in order.
    async fn received(&mut self, within: Duration) -> Vec<(&'static str, Notification)> {
        let mut out = Vec::new();
        let end = tokio::time::Instant::now() + within;
        while let Ok(Some(got)) = tokio::time::timeout_at(end, self.rx.recv()).await {
            out.push(got);
        }
        out
    }
}

fn shares(holders: &BTreeMap<String, String>) -> BTreeMap<String, usize> {
    let mut shares = BTreeMap::new();
    for holder in holders.values() {
        *shares.entry(holder.clone()).or_default() += 1;
    }
    shares
}

fn ids(got: &[(&str, Notification)]) -> Vec<String> {
    got.iter().map(|(_, n)| n.id.clone()).collect()
}

fn assert_no_repeats(got: &[(&str, Notification)]) {
    let all = ids(got);
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "repeated notifications: {all:?}");
}

/// Marks the fixture's failing Kustomization `infra-configs` Ready in `sim`.
fn recover_infra_configs(sim: &Simulator) {
    let mut object = sim
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "flux-system",
            "infra-configs",
        )
        .unwrap();
    object["status"]["conditions"] = json!([{
        "type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
        "message": "Applied revision", "lastTransitionTime": "2026-04-21T09:31:00Z"
    }]);
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    sim.apply(object).unwrap();
}

#[tokio::test(start_paused = true)]
async fn three_replicas_share_twelve_clusters_and_a_crashed_ones_move_without_loss() {
    let mut world = World::new();
    let (a, a_owns) = world.replica("a");
    let (b, b_owns) = world.replica("b");
    let (c, c_owns) = world.replica("c");
    // Two lease periods: every cluster is owned, four each.
    let got = world.received(Duration::from_secs(30)).await;
    let holders = world.holders();
    assert_eq!(holders.len(), CLUSTERS, "{holders:?}");
    assert_eq!(
        shares(&holders).into_values().collect::<Vec<_>>(),
        [4, 4, 4],
        "{holders:?}"
    );
    let owned: usize = [&a_owns, &b_owns, &c_owns]
        .iter()
        .map(|o| o.owned().len())
        .sum();
    assert_eq!(owned, CLUSTERS);
    // Every cluster's failures announced once, whoever held it first.
    let mut got = got;
    got.extend(world.received(Duration::from_secs(60)).await);
    assert_no_repeats(&got);
    assert_eq!(got.len(), CLUSTERS * FAILING);

    // c dies without a word; then one incident of each of its clusters resolves.
    let c_clusters: Vec<String> = holders
        .iter()
        .filter(|(_, h)| *h == "c")
        .map(|(c, _)| c.clone())
        .collect();
    c.abort();
    let died = tokio::time::Instant::now();
    for cluster in &c_clusters {
        let i: usize = cluster["cluster-".len()..].parse().unwrap();
        recover_infra_configs(&world.sims[i]);
    }
    // a and b own them all once c's Leases have run out: within the lease duration and a
    // retry period or two (c renewed up to one before it died).
    let mut resolved = Vec::new();
    while world.holders().values().any(|h| h == "c") {
        assert!(
            died.elapsed() <= Duration::from_secs(15 + 2 * 2),
            "{:?} after {:?}",
            world.holders(),
            died.elapsed()
        );
        resolved.extend(world.received(Duration::from_millis(100)).await);
    }
    let holders = world.holders();
    assert_eq!(shares(&holders).into_values().collect::<Vec<_>>(), [6, 6]);
    resolved.extend(world.received(Duration::from_secs(60)).await);
    assert_no_repeats(&resolved);
    let names: BTreeSet<String> = resolved
        .iter()
        .map(|(_, n)| n.event.metadata.cluster.clone())
        .collect();
    assert_eq!(names, c_clusters.iter().cloned().collect(), "{resolved:?}");
    assert!(resolved.iter().all(|(_, n)| n.kind.as_str() == "resolved"));
    assert!(resolved.iter().all(|(by, _)| *by != "c"));
    a.abort();
    b.abort();
}

#[tokio::test(start_paused = true)]
async fn a_replica_added_later_takes_its_share_without_any_repeat() {
    let mut world = World::new();
    let (a, _) = world.replica("a");
    let (b, _) = world.replica("b");
    let got = world.received(Duration::from_secs(90)).await;
    assert_eq!(
        shares(&world.holders()).into_values().collect::<Vec<_>>(),
        [6, 6]
    );
    assert_no_repeats(&got);
    assert_eq!(got.len(), CLUSTERS * FAILING);

    let (c, c_owns) = world.replica("c");
    let quiet = world.received(Duration::from_secs(60)).await;
    assert!(quiet.is_empty(), "nothing is sent again: {:?}", ids(&quiet));
    let holders = world.holders();
    assert_eq!(
        shares(&holders).into_values().collect::<Vec<_>>(),
        [4, 4, 4],
        "{holders:?}"
    );
    assert_eq!(c_owns.owned().len(), 4);
    // The newcomer delivers for what it took over.
    let (cluster, _) = holders.iter().find(|(_, h)| *h == "c").unwrap();
    let i: usize = cluster["cluster-".len()..].parse().unwrap();
    recover_infra_configs(&world.sims[i]);
    let resolved = world.received(Duration::from_secs(30)).await;
    assert_eq!(resolved.len(), 1, "{:?}", ids(&resolved));
    assert_eq!(resolved[0].0, "c");
    a.abort();
    b.abort();
    c.abort();
}

#[tokio::test(start_paused = true)]
async fn a_single_document_state_is_moved_to_one_per_cluster() {
    let mut world = World::new();
    // Today's layout: one replica, one document for every cluster, under the one Lease.
    let legacy: Arc<dyn StateStore> = Arc::new(ConfigMapStore::new(
        client(world.home()),
        "flux-system",
        "fluxbrain-state",
        Duration::from_secs(5),
    ));
    let collector = Arc::new(fluxbrain_kube::KubeCollector::new(world.collector()).unwrap());
    collector.start();
    let notifier = Arc::new(Recorder {
        replica: "single",
        seen: world.seen.clone(),
        down: Arc::default(),
    });
    let single = tokio::spawn(
        fluxbrain_kube::Runtime::new(collector, legacy.clone(), vec![notifier])
            .clock(Arc::new(TokioClock::starting_at(
                Time::parse(START).unwrap(),
            )))
            .run(std::future::pending()),
    );
    let got = world.received(Duration::from_secs(60)).await;
    let kinds: Vec<(&str, String)> = got
        .iter()
        .map(|(_, n)| (n.kind.as_str(), n.event.metadata.name.clone()))
        .collect();
    assert_eq!(got.len(), CLUSTERS * FAILING, "{kinds:?}");
    single.abort();
    let before = legacy.load().await.unwrap().unwrap();
    assert!(before.incidents.len() >= CLUSTERS * FAILING);

    // The fleet starts from it: nothing is announced again, each cluster's incidents are in
    // its own document, and a recovery is announced once.
    let (a, _) = world.replica("a");
    let quiet = world.received(Duration::from_secs(60)).await;
    assert!(quiet.is_empty(), "{:?}", ids(&quiet));
    for i in 0..CLUSTERS {
        let own = ConfigMapStore::new(
            client(world.home()),
            "flux-system",
            &state_name("fluxbrain-state", &cluster_name(i)),
            Duration::from_secs(5),
        );
        let state = own.load().await.unwrap().unwrap();
        let expected = before.incidents.len() / CLUSTERS;
        assert_eq!(state.incidents.len(), expected);
        assert!(state.incidents.keys().all(|k| k.cluster == cluster_name(i)));
    }
    recover_infra_configs(&world.sims[3]);
    let resolved = world.received(Duration::from_secs(30)).await;
    assert_eq!(resolved.len(), 1, "{:?}", ids(&resolved));
    assert_eq!(resolved[0].1.event.metadata.cluster, cluster_name(3));
    a.abort();
}

#[tokio::test]
async fn two_clusters_of_one_name_are_refused() {
    let world = World::new();
    let mut collector = world.collector();
    collector.clusters[1].name = collector.clusters[0].name.clone();
    let refused = Fleet::new(
        client(world.home()),
        FleetConfig::new("flux-system", "a"),
        collector,
        world.stores(),
        Vec::new(),
    )
    .unwrap_err();
    assert_eq!(refused, FleetError::DuplicateCluster(cluster_name(0)));
    assert!(
        refused
            .to_string()
            .contains("\"cluster-00\" is given twice")
    );
}

#[tokio::test(start_paused = true)]
async fn a_replica_cut_off_from_the_home_cluster_stops_delivering_before_its_leases_run_out() {
    let mut world = World::new();
    // c reaches the home cluster (Leases, state) through a switch; its clusters directly.
    let cut = Arc::new(AtomicBool::new(false));
    let c_home = {
        let cut = cut.clone();
        let router = world.home().service().layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let cut = cut.load(Ordering::SeqCst);
                async move {
                    if cut {
                        axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
                    } else {
                        next.run(request).await
                    }
                }
            },
        ));
        kube::Client::new(router, "default")
    };
    let c_down = Arc::new(AtomicBool::new(false));
    let (a, _) = world.replica("a");
    let (b, _) = world.replica("b");
    let (c, _) = world.replica_with("c", c_home, c_down.clone());
    let got = world.received(Duration::from_secs(90)).await;
    assert_no_repeats(&got);
    assert_eq!(got.len(), CLUSTERS * FAILING);
    let holders = world.holders();
    let c_clusters: Vec<String> = holders
        .iter()
        .filter(|(_, h)| *h == "c")
        .map(|(c, _)| c.clone())
        .collect();
    assert_eq!(c_clusters.len(), 4, "{holders:?}");

    // c's destination is down when a recovery in each of its clusters is saved (durable,
    // pending); then c is cut off from the home cluster, and its destination comes back just
    // after c's Leases could last have been renewed, before they run out.
    c_down.store(true, Ordering::SeqCst);
    for cluster in &c_clusters {
        let i: usize = cluster["cluster-".len()..].parse().unwrap();
        recover_infra_configs(&world.sims[i]);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    cut.store(true, Ordering::SeqCst);
    let mut after = world.received(Duration::from_secs(13)).await;
    c_down.store(false, Ordering::SeqCst);
    after.extend(world.received(Duration::from_secs(60)).await);
    assert!(
        after.iter().all(|(by, _)| *by != "c"),
        "c delivered while cut off: {:?}",
        after.iter().map(|(by, n)| (by, &n.id)).collect::<Vec<_>>()
    );
    // a and b took c's clusters over and sent each pending resolution once.
    assert_no_repeats(&after);
    let resolved: BTreeSet<String> = after
        .iter()
        .filter(|(_, n)| n.kind.as_str() == "resolved")
        .map(|(_, n)| n.event.metadata.cluster.clone())
        .collect();
    assert_eq!(resolved, c_clusters.iter().cloned().collect());
    a.abort();
    b.abort();
    c.abort();
}
