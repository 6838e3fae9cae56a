//! `run --once` and `render` on the same state give the same bytes (item 6 of the collector
//! issue): the live path and the offline path must never drift apart.

use std::collections::HashSet;

use fluxbrain_core::{Collector, KubeEvent, ObjectRef};
use fluxbrain_kube::collector::KubeCollector;

use super::support::{basic_dir, cluster, collect_one, config, ndjson, offline, serve_basic};

#[tokio::test]
async fn once_gives_the_events_render_gives() {
    let (_sim, server) = serve_basic().await;
    let mut config = config(vec![cluster("basic", &server)]);
    config.collect_logs = true;
    let collector = KubeCollector::new(config).unwrap();
    let seen = collect_one(&collector).await;
    assert!(seen.unobserved.is_empty(), "{:?}", seen.unobserved);

    let expected = ndjson(&offline(&basic_dir(), "basic"));
    let live = ndjson(&seen.snapshot);
    assert!(
        expected.lines().count() >= 5,
        "the fixture has failing objects"
    );
    assert_same(&live, &expected);

    // The same again in continuous mode, from the watchers' stores.
    collector.start();
    super::support::synced(&collector).await;
    let stored = collector.collect().await.remove(0).unwrap();
    assert_same(&ndjson(&stored.snapshot), &expected);
}

/// Equal NDJSON; on a difference, shows the first differing event only.
fn assert_same(live: &str, expected: &str) {
    if live == expected {
        return;
    }
    let live: Vec<&str> = live.lines().collect();
    let expected: Vec<&str> = expected.lines().collect();
    for (i, (a, b)) in live.iter().zip(&expected).enumerate() {
        if a != b {
            let a: serde_json::Value = serde_json::from_str(a).unwrap();
            let b: serde_json::Value = serde_json::from_str(b).unwrap();
            panic!(
                "event {i} differs:\nlive:     {}\nexpected: {}",
                serde_json::to_string_pretty(&a).unwrap(),
                serde_json::to_string_pretty(&b).unwrap()
            );
        }
    }
    panic!("{} live events, {} expected", live.len(), expected.len());
}

#[tokio::test]
async fn observations_hold_exactly_the_events_of_failing_objects() {
    let (_sim, server) = serve_basic().await;
    let offline = offline(&basic_dir(), "basic");
    let failing: HashSet<&ObjectRef> = offline
        .objects
        .iter()
        .filter(|o| o.failing_condition().is_some())
        .map(|o| &o.key)
        .collect();
    let about_failing = offline
        .events
        .iter()
        .filter(|e| failing.contains(&e.involved));
    let expected = sorted(about_failing);
    assert!(
        !expected.is_empty() && expected.len() < offline.events.len(),
        "the fixture has events about failing and about other objects"
    );

    let collector = KubeCollector::new(config(vec![cluster("basic", &server)])).unwrap();
    let once = collect_one(&collector).await;
    assert_eq!(sorted(&once.snapshot.events), expected, "once");

    collector.start();
    super::support::synced(&collector).await;
    let stored = collector.collect().await.remove(0).unwrap();
    assert_eq!(sorted(&stored.snapshot.events), expected, "continuous");
}

/// Events in a comparable order.
fn sorted<'e>(events: impl IntoIterator<Item = &'e KubeEvent>) -> Vec<String> {
    let mut all: Vec<String> = events.into_iter().map(|e| format!("{e:?}")).collect();
    all.sort();
    all
}
