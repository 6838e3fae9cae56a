//! Continuous mode: watchers through dropped streams, expired versions and 5xx bursts end with
//! exactly the state the server holds; silent watches are restarted; resyncs relist.

use std::time::Duration;

use fluxbrain_core::{Collector, Kind};
use fluxbrain_kube::collector::KubeCollector;
use fluxbrain_sim::{Config, Faults};
use serde_json::{Value, json};

use super::support::{
    basic_dir, cluster, collect_one, config, ndjson, serve, serve_basic, sim_config, sorted,
    synced, until,
};

fn failing(sim: &fluxbrain_sim::Simulator, name: &str, reason: &str, at: &str) {
    let mut object: Value = sim
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "shop",
            name,
        )
        .unwrap();
    object["status"]["conditions"] = json!([{"type": "Ready", "status": "False",
        "reason": reason, "message": format!("{reason} for {name}"), "lastTransitionTime": at}]);
    sim.apply(object).unwrap();
}

fn new_kustomization(name: &str) -> Value {
    json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"sourceRef": {"kind": "GitRepository", "name": "shop", "namespace": "flux-system"},
                 "path": "./", "interval": "5m", "prune": true},
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed",
            "message": "kustomize build failed", "lastTransitionTime": "2026-04-21T09:31:00Z"}]}})
}

#[tokio::test]
async fn watchers_end_with_the_exact_state_through_faults() {
    let (sim, server) = serve_basic().await;
    let mut config = config(vec![cluster("basic", &server)]);
    config.requeue_interval = Duration::from_secs(3600);
    let collector = KubeCollector::new(config).unwrap();
    collector.start();
    synced(&collector).await;
    let before_metrics = collector.metrics();

    // A change, then the streams drop and the change after it must still arrive.
    failing(
        &sim,
        "shop-apps",
        "HealthCheckFailed",
        "2026-04-21T09:31:00Z",
    );
    sim.drop_watches();
    sim.apply(new_kustomization("added-while-dropped")).unwrap();

    // History compacted while changes happen: the watchers get 410 and relist.
    sim.expire_resource_versions();
    sim.drop_watches();
    failing(
        &sim,
        "shop-apps",
        "ReconciliationFailed",
        "2026-04-21T09:32:00Z",
    );

    // A burst of 5xx on every request while more changes happen.
    sim.set_faults(Faults {
        error_rate: 0.6,
        error_status: 503,
        ..Faults::default()
    });
    sim.drop_watches();
    sim.apply(new_kustomization("added-in-burst")).unwrap();
    sim.set_faults(Faults::default());

    // The exact state: what a fresh one-shot collection of the same server reads.
    let fresh =
        KubeCollector::new(super::support::config(vec![cluster("basic", &server)])).unwrap();
    let expected = collect_one(&fresh).await;
    assert!(
        expected
            .snapshot
            .objects
            .iter()
            .any(|o| o.key.name == "added-in-burst")
    );
    until(&collector, "the stores equal a fresh list", || async {
        let seen = collector.collect().await.remove(0);
        seen.is_ok_and(|seen| {
            sorted(seen.snapshot.objects.clone()) == sorted(expected.snapshot.objects.clone())
                && ndjson(&seen.snapshot) == ndjson(&expected.snapshot)
        })
    })
    .await;
    let after = collector.metrics();
    assert!(
        after.watch_restarts > before_metrics.watch_restarts,
        "{after:?}"
    );
    assert!(
        after.relists > before_metrics.relists,
        "410 made them relist: {after:?}"
    );
    let _ = basic_dir();
}

#[tokio::test]
async fn deletions_while_disconnected_are_swept_by_the_relist() {
    let (sim, server) = serve_basic().await;
    let collector = KubeCollector::new(config(vec![cluster("basic", &server)])).unwrap();
    collector.start();
    synced(&collector).await;
    // Fail every watch request, delete, compact: only a relist can notice the deletion.
    sim.set_faults(Faults {
        error_rate: 1.0,
        error_status: 500,
        request_contains: Some("watch=".to_owned()),
        ..Faults::default()
    });
    sim.drop_watches();
    let mut object = sim
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "shop",
            "shop-apps",
        )
        .unwrap();
    object["metadata"]["finalizers"] = json!([]);
    sim.run_script(
        fluxbrain_sim::Script::from_yaml(
            "steps:\n- at: 0s\n  delete: {kind: Kustomization, namespace: shop, name: shop-apps}\n",
            "delete.yaml",
        )
        .unwrap(),
    );
    sim.advance(Duration::from_secs(1)).unwrap();
    sim.expire_resource_versions();
    sim.set_faults(Faults::default());
    until(&collector, "the deleted object is gone", || async {
        collector.collect().await.remove(0).is_ok_and(|seen| {
            !seen
                .snapshot
                .objects
                .iter()
                .any(|o| o.key.name == "shop-apps")
                && seen
                    .snapshot
                    .objects
                    .iter()
                    .any(|o| o.key.kind == Kind::Kustomization)
        })
    })
    .await;
}

#[tokio::test]
async fn a_silent_watch_is_restarted() {
    // The server never sends bookmarks; the collector expects one every 200 ms.
    let sim_config = Config {
        bookmark_interval: Duration::from_secs(3600),
        ..sim_config()
    };
    let (sim, server) = serve(
        fluxbrain_sim::State::load_dir(basic_dir()).unwrap(),
        sim_config,
    )
    .await;
    let mut config = config(vec![cluster("basic", &server)]);
    config.bookmark_period = Duration::from_millis(200);
    let collector = KubeCollector::new(config).unwrap();
    collector.start();
    synced(&collector).await;
    let watches = |sim: &fluxbrain_sim::Simulator| {
        sim.requests()
            .iter()
            .filter(|r| r.contains("/kustomizations?") && r.contains("watch=true"))
            .count()
    };
    let lists = |sim: &fluxbrain_sim::Simulator| {
        sim.requests()
            .iter()
            .filter(|r| r.contains("/kustomizations?") && !r.contains("watch=true"))
            .count()
    };
    let first = watches(&sim);
    sim.until_requests(|served| {
        let watches = served
            .iter()
            .filter(|r| r.contains("/kustomizations?") && r.contains("watch=true"))
            .count();
        watches >= first + 2
    })
    .await;
    assert_eq!(
        lists(&sim),
        1,
        "a dead watch resumes from its version, it does not relist"
    );
    // And it still sees changes.
    failing(
        &sim,
        "shop-apps",
        "HealthCheckFailed",
        "2026-04-21T09:31:00Z",
    );
    until(&collector, "the change after restarts", || async {
        collector.collect().await.remove(0).is_ok_and(|seen| {
            seen.snapshot.objects.iter().any(|o| {
                o.key.name == "shop-apps"
                    && o.failing_condition()
                        .is_some_and(|c| c.reason == "HealthCheckFailed")
            })
        })
    })
    .await;
}

#[tokio::test]
async fn every_requeue_interval_is_a_full_relist() {
    let (sim, server) = serve_basic().await;
    let mut config = config(vec![cluster("basic", &server)]);
    config.requeue_interval = Duration::from_millis(300);
    let collector = KubeCollector::new(config).unwrap();
    collector.start();
    synced(&collector).await;
    // Every source lists again: each list path of the first sync is requested once more.
    let lists = |served: &[String]| {
        let mut paths: std::collections::BTreeMap<String, usize> = Default::default();
        for request in served {
            if let Some(path) = request.strip_prefix("GET ")
                && !path.contains("watch=true")
                && path.contains('?')
            {
                let path = path.split('?').next().unwrap_or_default().to_owned();
                *paths.entry(path).or_default() += 1;
            }
        }
        paths
    };
    let first = lists(&sim.requests());
    assert!(first.len() > 10, "{first:?}");
    sim.until_requests(|served| {
        let now = lists(served);
        first
            .keys()
            .all(|path| now.get(path).copied().unwrap_or(0) >= 2)
    })
    .await;
    let seen = collector.collect().await.remove(0).unwrap();
    assert!(!seen.snapshot.objects.is_empty());
}

#[tokio::test]
async fn logs_are_read_again_only_when_the_failures_change() {
    let (sim, _server, collector) = watching_with_logs(Duration::from_secs(60)).await;

    let first = collect_one(&collector).await;
    let pods = first.snapshot.pods.len() as u64;
    let reads = collector.metrics().log_requests;
    assert!(pods > 0 && !first.snapshot.logs.is_empty());
    // Nothing that decides the logs changed: the same lines, and no request.
    let again = collect_one(&collector).await;
    assert_eq!(again.snapshot.logs, first.snapshot.logs);
    assert_eq!(collector.metrics().log_requests, reads);

    // A new failing object: the logs are read again at once.
    sim.apply(new_kustomization("added-failing")).unwrap();
    until_seen(&collector, "added-failing").await;
    assert!(collector.metrics().log_requests >= reads + pods);
}

#[tokio::test]
async fn logs_older_than_the_refresh_interval_are_read_again() {
    let (_sim, _server, collector) = watching_with_logs(Duration::ZERO).await;
    let first = collect_one(&collector).await;
    let reads = collector.metrics().log_requests;
    let again = collect_one(&collector).await;
    assert_eq!(again.snapshot.logs, first.snapshot.logs);
    assert_eq!(
        collector.metrics().log_requests,
        reads + first.snapshot.pods.len() as u64
    );
}

#[tokio::test]
async fn logs_that_cannot_be_read_are_not_asked_again_on_every_collection() {
    let (sim, _server, collector) = watching_with_logs(Duration::from_secs(60)).await;
    // RBAC without pods/log: every log read is refused.
    sim.set_faults(Faults {
        error_rate: 1.0,
        error_status: 403,
        request_contains: Some("/log?".to_owned()),
        ..Faults::default()
    });
    // A new failure makes the next collection read the logs (and fail).
    sim.apply(new_kustomization("added-failing")).unwrap();
    until_seen(&collector, "added-failing").await;
    let refused = collector.metrics().api_errors[&fluxbrain_kube::collector::ErrorClass::Forbidden];
    assert!(refused > 0);
    // The partial read is reused: further collections ask nothing (within its 10 s).
    for _ in 0..5 {
        let seen = collect_one(&collector).await;
        assert!(seen.snapshot.logs.is_empty());
    }
    assert_eq!(
        collector.metrics().api_errors[&fluxbrain_kube::collector::ErrorClass::Forbidden],
        refused
    );
}

/// Collects until an object named `name` is observed.
async fn until_seen(collector: &KubeCollector, name: &str) {
    until(collector, &format!("{name} is seen"), || async {
        collect_one(collector)
            .await
            .snapshot
            .objects
            .iter()
            .any(|o| o.key.name == name)
    })
    .await;
}

/// A synced continuous collector over the basic cluster that reads logs, reusing them for
/// `refresh`.
async fn watching_with_logs(
    refresh: Duration,
) -> (
    fluxbrain_sim::Simulator,
    fluxbrain_sim::Server,
    KubeCollector,
) {
    let (sim, server) = serve_basic().await;
    let mut config = config(vec![cluster("basic", &server)]);
    config.collect_logs = true;
    config.requeue_interval = Duration::from_secs(3600);
    config.log_refresh_interval = refresh;
    let collector = KubeCollector::new(config).unwrap();
    collector.start();
    synced(&collector).await;
    (sim, server, collector)
}

#[tokio::test]
async fn an_object_that_becomes_unparseable_is_reported_by_name_until_it_is_readable() {
    let (sim, server) = serve_basic().await;
    let collector = KubeCollector::new(config(vec![cluster("basic", &server)])).unwrap();
    collector.start();
    synced(&collector).await;
    failing(&sim, "shop-apps", "BuildFailed", "2026-04-21T09:31:00Z");
    let mut broken = sim
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "shop",
            "shop-apps",
        )
        .unwrap();
    broken["status"]["conditions"] = json!([{"type": "Ready", "reason": "BuildFailed"}]);
    sim.apply(broken).unwrap();
    let listed = |seen: &fluxbrain_core::ClusterObservation| {
        seen.snapshot
            .objects
            .iter()
            .any(|o| o.key.name == "shop-apps")
    };
    until(&collector, "shop-apps reported unreadable", || async {
        collector.collect().await.remove(0).is_ok_and(|seen| {
            !listed(&seen)
                && seen
                    .unreadable
                    .iter()
                    .any(|u| u.key.name == "shop-apps" && u.key.kind == Kind::Kustomization)
        })
    })
    .await;
    // Readable again: an object like any other.
    failing(&sim, "shop-apps", "BuildFailed", "2026-04-21T09:35:00Z");
    until(&collector, "shop-apps readable again", || async {
        collector
            .collect()
            .await
            .remove(0)
            .is_ok_and(|seen| listed(&seen) && seen.unreadable.is_empty())
    })
    .await;
}
