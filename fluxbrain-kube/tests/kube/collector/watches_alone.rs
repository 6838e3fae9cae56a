//! Watches alone (issue 14): with a requeue interval of an hour no resync runs, so the watches
//! by themselves must miss nothing. Ready transitions of several kinds, reasons changing,
//! objects added and deleted, are made while the streams are dropped, while the versions
//! expire (410 Gone), during a 5xx burst on every watch request and while the streams hang
//! silent; after each fault the collector shows every transition of that step, and exactly
//! what a fresh list shows.

use std::collections::BTreeMap;
use std::time::Duration;

use fluxbrain_core::{Collector, FluxObject};
use fluxbrain_kube::collector::KubeCollector;
use fluxbrain_sim::{Config, Faults, Script, Simulator};
use serde_json::{Value, json};

use super::support::{
    basic_dir, cluster, collect_one, config, ndjson, serve, sim_config, sorted, until,
};

/// One object of `examples/clusters/basic`, or one a step adds.
#[derive(Clone, Copy)]
struct Target {
    api_version: &'static str,
    kind: &'static str,
    namespace: &'static str,
    name: &'static str,
}

const SHOP_APPS: Target = Target {
    api_version: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    namespace: "shop",
    name: "shop-apps",
};
const INFRA: Target = Target {
    api_version: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    namespace: "flux-system",
    name: "infra-configs",
};
const STOREFRONT: Target = Target {
    api_version: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    namespace: "shop",
    name: "storefront",
};
const FLUX_SYSTEM: Target = Target {
    api_version: "source.toolkit.fluxcd.io/v1",
    kind: "GitRepository",
    namespace: "flux-system",
    name: "flux-system",
};
const CHARTS: Target = Target {
    api_version: "source.toolkit.fluxcd.io/v1",
    kind: "HelmRepository",
    namespace: "flux-system",
    name: "stable-charts",
};
const IMAGES: Target = Target {
    api_version: "image.toolkit.fluxcd.io/v1",
    kind: "ImageRepository",
    namespace: "shop",
    name: "storefront",
};

/// A Kustomization a step creates.
const fn added(name: &'static str) -> Target {
    Target {
        api_version: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        namespace: "shop",
        name,
    }
}

/// What the collector must show of an object: its Ready status and reason, or nothing when the
/// object is gone.
type Ready = Option<(String, String)>;

/// The expected view of every object a step touched, kept across steps.
#[derive(Default)]
struct Expected(BTreeMap<(String, String, String), Ready>);

impl Expected {
    fn key(t: Target) -> (String, String, String) {
        (t.kind.to_owned(), t.namespace.to_owned(), t.name.to_owned())
    }

    /// Sets `t`'s Ready condition on the server and expects it.
    fn ready(&mut self, sim: &Simulator, t: Target, status: &str, reason: &str) {
        let mut object = sim
            .object(t.api_version, t.kind, t.namespace, t.name)
            .unwrap_or_else(|| panic!("{} {}/{} exists", t.kind, t.namespace, t.name));
        object["status"]["conditions"] = ready_condition(status, reason, t.name);
        sim.apply(object).unwrap();
        self.0
            .insert(Self::key(t), Some((status.to_owned(), reason.to_owned())));
    }

    /// Creates `t` (a Kustomization) failing with `reason` and expects it.
    fn create(&mut self, sim: &Simulator, t: Target, reason: &str) {
        sim.apply(json!({"apiVersion": t.api_version, "kind": t.kind,
            "metadata": {"name": t.name, "namespace": t.namespace},
            "spec": {"sourceRef": {"kind": "GitRepository", "name": "flux-system",
                "namespace": "flux-system"}, "path": "./", "interval": "5m", "prune": true},
            "status": {"conditions": ready_condition("False", reason, t.name)}}))
            .unwrap();
        self.0
            .insert(Self::key(t), Some(("False".to_owned(), reason.to_owned())));
    }

    /// Deletes `t` and expects it gone.
    fn delete(&mut self, sim: &Simulator, t: Target) {
        let group = t.api_version.split('/').next().unwrap_or_default();
        let yaml = format!(
            "steps:\n- at: 0s\n  delete: {{group: {group}, kind: {}, namespace: {}, name: {}}}\n",
            t.kind, t.namespace, t.name
        );
        sim.run_script(Script::from_yaml(&yaml, "delete.yaml").unwrap());
        assert_eq!(sim.advance(Duration::ZERO).unwrap(), 1);
        assert!(
            sim.object(t.api_version, t.kind, t.namespace, t.name)
                .is_none()
        );
        self.0.insert(Self::key(t), None);
    }

    /// The expected objects the collector shows otherwise, each as `key: seen, expected`:
    /// empty when every transition was observed.
    fn missed(&self, objects: &[std::sync::Arc<FluxObject>]) -> Vec<String> {
        let seen: BTreeMap<_, Ready> = objects
            .iter()
            .map(|o| {
                let key = (
                    o.key.kind.to_string(),
                    o.key.namespace.clone(),
                    o.key.name.clone(),
                );
                (key, ready_of(o))
            })
            .collect();
        self.0
            .iter()
            .filter(|(key, want)| match want {
                None => seen.contains_key(*key),
                Some(want) => seen.get(*key) != Some(&Some(want.clone())),
            })
            .map(|(key, want)| format!("{key:?}: seen {:?}, expected {want:?}", seen.get(key)))
            .collect()
    }
}

fn ready_condition(status: &str, reason: &str, name: &str) -> Value {
    json!([{"type": "Ready", "status": status, "reason": reason,
        "message": format!("{reason} for {name}"), "lastTransitionTime": "2026-04-21T09:31:00Z"}])
}

/// An object's Ready status and reason, as the collector read them.
fn ready_of(o: &FluxObject) -> Option<(String, String)> {
    o.condition("Ready")
        .map(|c| (c.status.as_str().to_owned(), c.reason.clone()))
}

/// Waits until the collector shows every expected transition and exactly the objects of a
/// fresh one-shot list of the same server.
async fn observed(collector: &KubeCollector, server: &fluxbrain_sim::Server, expected: &Expected) {
    let fresh = KubeCollector::new(config(vec![cluster("basic", server)])).unwrap();
    let truth = collect_one(&fresh).await;
    assert!(
        expected.missed(&truth.snapshot.objects).is_empty(),
        "the server itself holds the expected objects"
    );
    until(
        collector,
        "every transition, and the server's state",
        || async {
            collector.collect().await.remove(0).is_ok_and(|seen| {
                expected.missed(&seen.snapshot.objects).is_empty()
                    && sorted(seen.snapshot.objects.clone())
                        == sorted(truth.snapshot.objects.clone())
                    && ndjson(&seen.snapshot) == ndjson(&truth.snapshot)
            })
        },
    )
    .await;
}

/// Watch requests served so far (failed ones too).
fn watch_requests(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.contains("watch=true"))
        .count()
}

/// The source a list or watch request reads: its path and field selector.
fn source_of(request: &str) -> Option<String> {
    let (path, query) = request.split_once('?')?;
    let fields = query
        .split('&')
        .find(|p| p.starts_with("fieldSelector="))
        .unwrap_or_default();
    Some(format!("{path}?{fields}"))
}

/// How many watch requests each source got so far.
fn watches_by_source(served: &[String]) -> BTreeMap<String, usize> {
    let mut sources = BTreeMap::new();
    for request in served.iter().filter(|r| r.contains("watch=true")) {
        if let Some(source) = source_of(request) {
            *sources.entry(source).or_default() += 1;
        }
    }
    sources
}

/// Waits until `done` holds for the watch requests of each source; 60 s is a hang.
async fn until_watches(
    sim: &Simulator,
    what: &str,
    mut done: impl FnMut(&[String], &BTreeMap<String, usize>) -> bool,
) {
    let wait = sim.until_requests(|served| done(served, &watches_by_source(served)));
    if tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .is_err()
    {
        panic!(
            "hung waiting for: {what}\n{:#?}",
            watches_by_source(&sim.requests())
        );
    }
}

/// Waits until every source has been watched again since `before`.
async fn every_watch_resumed(sim: &Simulator, before: &BTreeMap<String, usize>) {
    until_watches(sim, "every watch resumed", |_, now| {
        before
            .iter()
            .all(|(source, n)| now.get(source).is_some_and(|m| m > n))
    })
    .await;
}

#[tokio::test]
async fn watches_alone_miss_no_transition_through_drops_410_5xx_and_stalls() {
    // Bookmarks every second and the collector told so: a stream silent for 2.5 s is dead.
    // The requeue interval of an hour means no resync (relist) happens during the test.
    let sim_config = Config {
        bookmark_interval: Duration::from_secs(1),
        ..sim_config()
    };
    let (sim, server) = serve(
        fluxbrain_sim::State::load_dir(basic_dir()).unwrap(),
        sim_config,
    )
    .await;
    let mut config = config(vec![cluster("basic", &server)]);
    config.requeue_interval = Duration::from_secs(3600);
    config.bookmark_period = Duration::from_secs(1);
    let collector = KubeCollector::new(config).unwrap();
    collector.start();
    super::support::synced(&collector).await;
    // Listed is not yet watched: wait for the watch of every source listed.
    until_watches(&sim, "every source watched", |served, watched| {
        served
            .iter()
            .filter(|r| r.contains('?') && !r.contains("watch=true"))
            .filter_map(|r| source_of(r))
            .all(|source| watched.contains_key(&source))
    })
    .await;
    let mut expected = Expected::default();
    let relists = |c: &KubeCollector| c.metrics().relists;

    // 1. Dropped streams, twice in a row, with changes of three kinds while they are down
    //    (this test runs on one thread: nothing is sent between the drop and the change).
    let relisted = relists(&collector);
    let watches = watches_by_source(&sim.requests());
    assert!(watches.len() > 30, "{watches:#?}");
    sim.drop_watches();
    expected.ready(&sim, SHOP_APPS, "False", "HealthCheckFailed");
    expected.ready(&sim, STOREFRONT, "False", "UpgradeFailed");
    sim.drop_watches();
    expected.ready(&sim, FLUX_SYSTEM, "False", "GitOperationFailed");
    expected.create(&sim, added("added-while-dropped"), "BuildFailed");
    observed(&collector, &server, &expected).await;
    assert_eq!(
        relists(&collector),
        relisted,
        "a drop resumes, it does not relist"
    );
    // Every watcher came back (a cut stream ends as an unexpected EOF, which kube-rs resumes
    // without an error, so `watch_restarts` does not count it).
    every_watch_resumed(&sim, &watches).await;

    // 2. 410 Gone: the streams drop, changes happen, and the history they would resume from
    //    is compacted: every watcher relists, and the relist sweeps the deleted object.
    let relisted = relists(&collector);
    sim.drop_watches();
    expected.ready(&sim, SHOP_APPS, "False", "ReconciliationFailed");
    expected.ready(&sim, STOREFRONT, "True", "UpgradeSucceeded");
    expected.ready(&sim, CHARTS, "False", "IndexationFailed");
    expected.delete(&sim, added("added-while-dropped"));
    sim.expire_resource_versions();
    observed(&collector, &server, &expected).await;
    assert!(relists(&collector) > relisted, "410 made them relist");

    // 3. A 5xx burst on every watch request: the streams drop and cannot come back while the
    //    changes happen; the burst is seen (retries, the cluster reported failing) before it
    //    ends; then every change arrives through the resumed watches.
    let relisted = relists(&collector);
    sim.set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        request_contains: Some("watch=".to_owned()),
        ..Faults::default()
    });
    let watches = watch_requests(&sim);
    sim.drop_watches();
    expected.ready(&sim, SHOP_APPS, "True", "ReconciliationSucceeded");
    expected.ready(&sim, FLUX_SYSTEM, "True", "Succeeded");
    expected.ready(&sim, IMAGES, "False", "AuthenticationFailed");
    expected.create(&sim, added("added-in-burst"), "HealthCheckFailed");
    expected.delete(&sim, INFRA);
    // Several refused attempts per watcher (21 of them), then the cluster is reported down.
    sim.until_requests(|served| {
        served.iter().filter(|r| r.contains("watch=true")).count() >= watches + 60
    })
    .await;
    until(&collector, "the burst reported", || async {
        collector.collect().await.remove(0).is_err()
    })
    .await;
    sim.set_faults(Faults::default());
    observed(&collector, &server, &expected).await;
    assert_eq!(
        relists(&collector),
        relisted,
        "a refused watch resumes, it does not relist"
    );

    // 4. A silent stall: the streams stay open and carry nothing, not even a bookmark, while
    //    the changes happen. Only the read timeout (2.5 bookmark periods) notices; the watches
    //    resume from their versions and bring every change.
    let (relisted, restarts) = (relists(&collector), collector.metrics().watch_restarts);
    let watches = watches_by_source(&sim.requests());
    sim.stall_watches();
    expected.ready(&sim, SHOP_APPS, "False", "DependencyNotReady");
    expected.ready(&sim, STOREFRONT, "False", "InstallFailed");
    expected.ready(&sim, CHARTS, "True", "Succeeded");
    expected.delete(&sim, added("added-in-burst"));
    expected.create(&sim, added("added-while-stalled"), "BuildFailed");
    let seen = collect_one(&collector).await;
    assert!(
        !expected.missed(&seen.snapshot.objects).is_empty(),
        "a stalled stream delivers nothing"
    );
    observed(&collector, &server, &expected).await;
    // Every stalled watch was given up (a read timeout is an error, counted) and resumed.
    every_watch_resumed(&sim, &watches).await;
    assert!(collector.metrics().watch_restarts > restarts);
    assert_eq!(
        relists(&collector),
        relisted,
        "a stalled watch resumes, it does not relist"
    );

    // No resync ran: everything above came through the watches.
    assert_eq!(collector.metrics().watch_resyncs, 0);
}
