//! The continuous runtime on paused tokio time: the collector, the Lease and the ConfigMap
//! state speak HTTP to the simulator in process (no socket, so the paused clock only moves
//! when every task waits), and a whole scenario of hours plays in milliseconds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fluxbrain_core::{
    EngineConfig, MemoryStore, Notification, NotificationKind, Notifier, PolicyConfig, Receipt,
    StateStore, Time,
};
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_kube::runtime::{Observer, Runtime, RuntimeConfig, Step, Stopped, TokioClock};
use fluxbrain_kube::{ConfigMapStore, LeaderElector, LeaseConfig};
use fluxbrain_sim::{Faults, Simulator, State};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::support::{START, config, fixture_dir};

/// The objects of the fixture cluster that fail at its start.
const FAILING_AT_START: usize = 9;

/// Sends every notification it is given to the test, and acknowledges it after `delay`.
#[derive(Debug)]
struct Recorder {
    name: &'static str,
    seen: mpsc::UnboundedSender<Notification>,
    delay: Duration,
}

#[async_trait::async_trait]
impl Notifier for Recorder {
    fn name(&self) -> &str {
        self.name
    }

    async fn deliver(
        &self,
        note: &Notification,
        _: Option<&Receipt>,
    ) -> Result<Receipt, fluxbrain_core::DeliveryError> {
        tokio::time::sleep(self.delay).await;
        let _ = self.seen.send(note.clone());
        Ok(Receipt::default())
    }
}

fn recorder(delay: Duration) -> (Arc<Recorder>, mpsc::UnboundedReceiver<Notification>) {
    let (seen, rx) = mpsc::unbounded_channel();
    let recorder = Recorder {
        name: "recorder",
        seen,
        delay,
    };
    (Arc::new(recorder), rx)
}

/// Counts policy steps and remembers leadership.
#[derive(Debug, Default)]
struct Steps {
    steps: Mutex<usize>,
    leading: Mutex<bool>,
}

impl Observer for Steps {
    fn leading(&self, leading: bool) {
        *self.leading.lock().unwrap() = leading;
    }

    fn step(&self, _: &Step<'_>) {
        *self.steps.lock().unwrap() += 1;
    }
}

impl Steps {
    fn count(&self) -> usize {
        *self.steps.lock().unwrap()
    }
}

fn simulator() -> Simulator {
    Simulator::new(State::load_dir(fixture_dir()).unwrap(), config()).unwrap()
}

fn client(sim: &Simulator) -> kube::Client {
    kube::Client::new(sim.service(), "default")
}

/// A started collector of the fixture cluster, in process.
fn collector(sim: &Simulator) -> Arc<KubeCollector> {
    let config = CollectorConfig::new(vec![ClusterConfig::with_client("basic", client(sim))]);
    let collector = Arc::new(KubeCollector::new(config).unwrap());
    collector.start();
    collector
}

fn engine_config(remind: Duration) -> EngineConfig {
    EngineConfig {
        policy: PolicyConfig {
            remind_every: Some(remind),
            ..PolicyConfig::default()
        },
        ..EngineConfig::default()
    }
}

fn clock() -> Arc<TokioClock> {
    Arc::new(TokioClock::starting_at(Time::parse(START).unwrap()))
}

/// The next notification, or a panic after `within` of (paused) time.
async fn next(rx: &mut mpsc::UnboundedReceiver<Notification>, within: Duration) -> Notification {
    tokio::time::timeout(within, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no notification within {within:?}"))
        .unwrap()
}

/// Marks an object's Ready condition in the simulator.
fn set_ready(sim: &Simulator, (api_version, kind, namespace, name): Object, ready: bool) {
    let mut object = sim.object(api_version, kind, namespace, name).unwrap();
    let (status, reason) = if ready {
        ("True", "ReconciliationSucceeded")
    } else {
        ("False", "BuildFailed")
    };
    object["status"]["conditions"] = json!([{
        "type": "Ready", "status": status, "reason": reason,
        "message": format!("{name}: {reason}"), "lastTransitionTime": "2026-04-21T09:31:00Z"
    }]);
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    sim.apply(object).unwrap();
}

/// apiVersion, kind, namespace, name.
type Object = (&'static str, &'static str, &'static str, &'static str);

/// Failing at the start, its source healthy.
const INFRA_CONFIGS: Object = (
    "kustomize.toolkit.fluxcd.io/v1",
    "Kustomization",
    "flux-system",
    "infra-configs",
);

/// Healthy at the start, each with a healthy source or none.
const HEALTHY: [Object; 3] = [
    (
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
        "flux-system",
        "flux-system",
    ),
    ("helm.toolkit.fluxcd.io/v2", "HelmRelease", "shop", "redis"),
    (
        "source.toolkit.fluxcd.io/v1",
        "Bucket",
        "flux-system",
        "cluster-config",
    ),
];

#[tokio::test(start_paused = true)]
async fn reminders_fall_due_on_the_requeue_interval() {
    let sim = simulator();
    let (notifier, mut rx) = recorder(Duration::ZERO);
    let runtime = Runtime::new(
        collector(&sim),
        Arc::new(MemoryStore::new()),
        vec![notifier],
    )
    .clock(clock())
    .engine_config(engine_config(Duration::from_secs(3600)))
    .config(RuntimeConfig {
        requeue_interval: Duration::from_secs(600),
        ..RuntimeConfig::default()
    });
    let task = tokio::spawn(runtime.run(std::future::pending()));

    let mut fired = Vec::new();
    for _ in 0..FAILING_AT_START {
        let note = next(&mut rx, Duration::from_secs(60)).await;
        assert_eq!(note.kind, NotificationKind::Firing);
        fired.push(note);
    }
    let started = Instant::now();
    let reminder = next(&mut rx, Duration::from_secs(2 * 3600)).await;
    assert_eq!(reminder.kind, NotificationKind::Reminder);
    assert_eq!(reminder.occurrence, 2);
    // Due after an hour, noticed on the first requeue after it (every 10 minutes).
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3600 - 60) && waited <= Duration::from_secs(3600 + 600),
        "reminder after {waited:?}"
    );
    assert!(
        fired.iter().any(|f| f.incident_id == reminder.incident_id),
        "a reminder of an incident that fired"
    );
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_change_is_one_step_after_the_debounce_not_the_requeue() {
    let sim = simulator();
    let (notifier, mut rx) = recorder(Duration::ZERO);
    let steps = Arc::new(Steps::default());
    let runtime = Runtime::new(
        collector(&sim),
        Arc::new(MemoryStore::new()),
        vec![notifier],
    )
    .clock(clock())
    .observer(steps.clone())
    .config(RuntimeConfig {
        requeue_interval: Duration::from_secs(3600),
        ..RuntimeConfig::default()
    });
    let task = tokio::spawn(runtime.run(std::future::pending()));
    for _ in 0..FAILING_AT_START {
        next(&mut rx, Duration::from_secs(60)).await;
    }
    // Let the watches settle, then count the steps one burst of changes makes.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let before = steps.count();
    let changed = Instant::now();
    for object in HEALTHY {
        set_ready(&sim, object, false);
    }
    let mut names = Vec::new();
    for _ in 0..3 {
        let note = next(&mut rx, Duration::from_secs(60)).await;
        names.push(note.event.metadata.name.clone());
    }
    names.sort();
    assert_eq!(names, ["cluster-config", "flux-system", "redis"]);
    let took = changed.elapsed();
    let debounce = RuntimeConfig::default().debounce;
    assert!(
        took >= debounce && took < Duration::from_secs(5),
        "seen after {took:?}, not on the hourly requeue"
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(steps.count() - before, 1, "a burst of changes is one step");
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn without_changes_it_steps_every_requeue_interval() {
    let sim = simulator();
    let (notifier, mut rx) = recorder(Duration::ZERO);
    let steps = Arc::new(Steps::default());
    let requeue = Duration::from_secs(300);
    let runtime = Runtime::new(
        collector(&sim),
        Arc::new(MemoryStore::new()),
        vec![notifier],
    )
    .clock(clock())
    .observer(steps.clone())
    .config(RuntimeConfig {
        requeue_interval: requeue,
        ..RuntimeConfig::default()
    });
    let task = tokio::spawn(runtime.run(std::future::pending()));
    for _ in 0..FAILING_AT_START {
        next(&mut rx, Duration::from_secs(60)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let before = steps.count();
    tokio::time::sleep(requeue * 3).await;
    assert_eq!(steps.count() - before, 3);
    assert!(rx.try_recv().is_err(), "nothing new to say");
    task.abort();
}

/// A replica: a collector of its own, the shared ConfigMap state and the shared Lease.
fn replica(
    sim: &Simulator,
    identity: &str,
    notifier: Arc<Recorder>,
    observer: Arc<Steps>,
) -> Runtime {
    let state: Arc<dyn StateStore> = Arc::new(ConfigMapStore::new(
        client(sim),
        "flux-system",
        "fluxbrain-state",
        Duration::from_secs(5),
    ));
    let lease = LeaseConfig::new("flux-system", "fluxbrain", identity);
    Runtime::new(collector(sim), state, vec![notifier])
        .clock(clock())
        .observer(observer)
        .elector(LeaderElector::new(client(sim), lease))
}

#[tokio::test(start_paused = true)]
async fn a_crashed_leader_is_replaced_after_the_lease_runs_out() {
    let sim = simulator();
    let (a_notifier, mut a_rx) = recorder(Duration::ZERO);
    let (b_notifier, mut b_rx) = recorder(Duration::ZERO);
    let (a_steps, b_steps) = (Arc::new(Steps::default()), Arc::new(Steps::default()));
    let a =
        tokio::spawn(replica(&sim, "a", a_notifier, a_steps.clone()).run(std::future::pending()));
    for _ in 0..FAILING_AT_START {
        next(&mut a_rx, Duration::from_secs(60)).await;
    }
    let b =
        tokio::spawn(replica(&sim, "b", b_notifier, b_steps.clone()).run(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!*b_steps.leading.lock().unwrap(), "b waits while a renews");
    assert!(b_rx.try_recv().is_err());

    // a dies without a word (its tasks end with it); then an incident resolves.
    a.abort();
    let died = Instant::now();
    set_ready(&sim, INFRA_CONFIGS, true);
    let resolved = next(&mut b_rx, Duration::from_secs(60)).await;
    assert_eq!(resolved.kind.as_str(), "resolved");
    assert_eq!(resolved.event.metadata.name, "infra-configs");
    let after = died.elapsed();
    let lease = LeaseConfig::new("flux-system", "fluxbrain", "b");
    assert!(
        // Expired 15 s after b last saw it renewed (up to one retry period before a died).
        after >= lease.duration - lease.retry_period()
            && after <= lease.duration + lease.retry_period() * 2,
        "b took over after {after:?}"
    );
    // Nothing a delivered is sent again.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(b_rx.try_recv().is_err(), "b repeated what a delivered");
    assert!(a_rx.try_recv().is_err());
    b.abort();
}

#[tokio::test(start_paused = true)]
async fn a_leader_shut_down_hands_over_at_once() {
    let sim = simulator();
    let (a_notifier, mut a_rx) = recorder(Duration::ZERO);
    let (b_notifier, mut b_rx) = recorder(Duration::ZERO);
    let (stop_a, a_stopped) = oneshot::channel::<()>();
    let a = tokio::spawn(replica(&sim, "a", a_notifier, Arc::default()).run(async {
        let _ = a_stopped.await;
    }));
    for _ in 0..FAILING_AT_START {
        next(&mut a_rx, Duration::from_secs(60)).await;
    }
    let b =
        tokio::spawn(replica(&sim, "b", b_notifier, Arc::default()).run(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(30)).await;

    stop_a.send(()).unwrap();
    assert_eq!(a.await.unwrap(), Stopped::Shutdown { cut: 0 });
    let lease = sim
        .object(
            "coordination.k8s.io/v1",
            "Lease",
            "flux-system",
            "fluxbrain",
        )
        .unwrap();
    assert!(lease["spec"]["holderIdentity"].is_null(), "{lease}");
    let stopped = Instant::now();
    set_ready(&sim, INFRA_CONFIGS, true);
    let resolved = next(&mut b_rx, Duration::from_secs(60)).await;
    assert_eq!(resolved.event.metadata.name, "infra-configs");
    assert!(
        stopped.elapsed() <= Duration::from_secs(3),
        "b delivered {:?} after a stopped, not after the lease duration",
        stopped.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(b_rx.try_recv().is_err(), "nothing repeated");
    assert!(a_rx.try_recv().is_err(), "nothing from a after it stopped");
    b.abort();
}

#[tokio::test(start_paused = true)]
async fn shutdown_lets_deliveries_in_flight_finish_within_the_grace() {
    // A slow destination: 5 s a message, within the 20 s grace.
    let sim = simulator();
    let store = Arc::new(MemoryStore::new());
    let (notifier, mut rx) = recorder(Duration::from_secs(5));
    let (stop, stopped) = oneshot::channel::<()>();
    let runtime = Runtime::new(collector(&sim), store.clone(), vec![notifier]).clock(clock());
    let task = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));
    let first = next(&mut rx, Duration::from_secs(60)).await;
    // Shut down while the next ones are on their way (up to 4 at a time): they are finished
    // and acknowledged; what was not started stays for the next run.
    stop.send(()).unwrap();
    let outcome = task.await.unwrap();
    assert_eq!(outcome, Stopped::Shutdown { cut: 0 });
    let mut delivered = vec![first.id];
    while let Ok(note) = rx.try_recv() {
        delivered.push(note.id);
    }
    let saved = store.load().await.unwrap().unwrap();
    let pending: Vec<&str> = saved
        .outbox
        .iter()
        .map(|e| e.notification.id.as_str())
        .collect();
    assert!(
        delivered.iter().all(|id| !pending.contains(&id.as_str())),
        "everything delivered is acknowledged: {pending:?}"
    );
    assert!(delivered.len() > 1, "the deliveries in flight finished");
    assert!(!pending.is_empty(), "the rest wait for the next run");
    assert_eq!(delivered.len() + pending.len(), FAILING_AT_START);
}

#[tokio::test(start_paused = true)]
async fn shutdown_cuts_a_hanging_delivery_at_the_grace_and_keeps_it() {
    let sim = simulator();
    let store = Arc::new(MemoryStore::new());
    let (notifier, mut rx) = recorder(Duration::from_secs(3600));
    let (stop, stopped) = oneshot::channel::<()>();
    let grace = Duration::from_secs(20);
    let runtime = Runtime::new(collector(&sim), store.clone(), vec![notifier])
        .clock(clock())
        .config(RuntimeConfig {
            shutdown_grace: grace,
            ..RuntimeConfig::default()
        });
    let task = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_secs(60)).await;
    let asked = Instant::now();
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Stopped::Shutdown { cut: 1 });
    assert!(asked.elapsed() >= grace && asked.elapsed() < grace + Duration::from_secs(1));
    assert!(rx.try_recv().is_err(), "nothing was delivered");
    let saved = store.load().await.unwrap().unwrap();
    assert_eq!(saved.outbox.len(), FAILING_AT_START, "nothing lost");
}

#[tokio::test(start_paused = true)]
async fn a_held_incident_is_announced_when_the_group_wait_ends_without_any_change() {
    let sim = simulator();
    let (notifier, mut rx) = recorder(Duration::ZERO);
    let mut engine = engine_config(Duration::from_secs(4 * 3600));
    engine.policy.group_wait = Duration::from_secs(30);
    let runtime = Runtime::new(
        collector(&sim),
        Arc::new(MemoryStore::new()),
        vec![notifier],
    )
    .clock(clock())
    .engine_config(engine)
    .config(RuntimeConfig {
        // Neither a requeue nor a Lease round comes before the wait ends: only its own timer.
        requeue_interval: Duration::from_secs(3600),
        ..RuntimeConfig::default()
    });
    let started = Instant::now();
    let task = tokio::spawn(runtime.run(std::future::pending()));
    for _ in 0..FAILING_AT_START {
        let note = next(&mut rx, Duration::from_secs(120)).await;
        assert_eq!(note.kind, NotificationKind::Firing);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(60),
            "announced after {waited:?}, not when the 30 s group wait ended"
        );
    }
    task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_steps_down_and_takes_over_again_repeats_nothing() {
    // A slow destination (10 s a message): deliveries are in flight when the state cannot be
    // saved for two seconds and the replica steps down, then takes over again at its next
    // Lease round, long before those deliveries end.
    let sim = simulator();
    let (notifier, mut rx) = recorder(Duration::from_secs(10));
    let task =
        tokio::spawn(replica(&sim, "a", notifier, Arc::default()).run(std::future::pending()));
    let first = next(&mut rx, Duration::from_secs(120)).await;
    sim.set_faults(Faults {
        error_rate: 1.0,
        request_contains: Some("configmaps/fluxbrain-state".into()),
        ..Faults::default()
    });
    set_ready(&sim, INFRA_CONFIGS, true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    sim.set_faults(Faults::default());

    // Every firing and the resolution arrive once; nothing is sent again, not even what
    // the stepped-down engine was delivering when the new one loaded the state.
    let mut ids = vec![first.id];
    let mut resolved = 0;
    while let Ok(Some(note)) = tokio::time::timeout(Duration::from_secs(300), rx.recv()).await {
        if note.kind.as_str() == "resolved" {
            assert_eq!(note.event.metadata.name, "infra-configs");
            resolved += 1;
        }
        ids.push(note.id);
    }
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "repeated: {ids:?}");
    assert_eq!(resolved, 1);
    assert_eq!(ids.len(), FAILING_AT_START + 1);
    let saved = ConfigMapStore::new(
        client(&sim),
        "flux-system",
        "fluxbrain-state",
        Duration::from_secs(5),
    )
    .load()
    .await
    .unwrap()
    .unwrap();
    assert!(
        saved.outbox.is_empty(),
        "all acknowledged: {:?}",
        saved.outbox
    );
    task.abort();
}
