//! Faults visible, logs quiet: a burst of 503s on every watch, with fluxbrain's logging as it
//! ships, gives a number of log lines bounded by the kinds watched, not by the request rate,
//! and says when the requests succeed again.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fluxbrain_core::Collector;
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_sim::Faults;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use crate::serve_basic;

/// Log lines, as the JSON formatter writes them.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Lines {
    fn all(&self) -> Vec<Value> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn message(line: &Value) -> &str {
    line["message"].as_str().unwrap_or_default()
}

async fn until(collector: &KubeCollector, what: &str, mut check: impl FnMut() -> bool) {
    let wait = async {
        loop {
            let _ = collector.collect().await;
            if check() {
                return;
            }
            collector.changed().await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .is_err()
    {
        panic!("timed out waiting until {what}");
    }
}

// One thread: the collector's and the simulator's tasks all log to this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn a_burst_of_503s_on_every_watch_logs_a_bounded_number_of_lines() {
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .json()
        .flatten_event(true)
        .with_writer(move || writer.clone())
        .finish()
        .with(fluxbrain_cli::settings::log_filter());
    let _guard = tracing::subscriber::set_default(subscriber);

    let (sim, server, _kubeconfig) = serve_basic("fault-logs").await;
    let kube = kube::Config::new(server.url().parse().unwrap());
    let mut config = CollectorConfig::new(vec![ClusterConfig::new("basic", kube)]);
    config.requeue_interval = Duration::from_secs(3600);
    config.retry = fluxbrain_core::Backoff {
        base: Duration::from_millis(20),
        cap: Duration::from_millis(200),
    };
    let collector = KubeCollector::new(config).unwrap();
    collector.start();
    until(&collector, "synced", || {
        collector.status().iter().all(|s| s.synced)
    })
    .await;
    let before = lines.all().len();
    let failed = |collector: &KubeCollector| -> u64 {
        let m = collector.metrics();
        m.failed_requests
            .iter()
            .filter(|(r, _)| r.code == "503")
            .map(|(_, n)| n)
            .sum()
    };

    let requests_before = sim.requests().len();
    sim.set_faults(Faults {
        error_rate: 1.0,
        error_status: 503,
        request_contains: Some("watch=".to_owned()),
        ..Faults::default()
    });
    sim.drop_watches();
    // The burst lasts until the watches have failed hundreds of times (a counter: nothing to
    // await, so it is read every 50 ms).
    let burst = async {
        while failed(&collector) < 300 {
            let _ = collector.collect().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(60), burst)
        .await
        .is_err()
    {
        panic!(
            "not hundreds of failed watch requests within a minute ({requests_before} -> {} requests): {:?}\n{:#?}",
            sim.requests().len(),
            collector.metrics(),
            sim.requests().iter().rev().take(10).collect::<Vec<_>>()
        );
    }
    sim.set_faults(Faults::default());
    let warned = |all: &[Value]| {
        all.iter()
            .filter(|l| message(l) == "Kubernetes API request failed")
            .count()
    };
    until(&collector, "every failure reported as ended", || {
        let all = lines.all();
        let recovered = all
            .iter()
            .filter(|l| message(l) == "Kubernetes API requests succeed again")
            .count();
        recovered > 0 && recovered == warned(&all)
    })
    .await;

    let during: Vec<Value> = lines.all().split_off(before);
    let failures = failed(&collector);
    let warnings = warned(&during);
    // One source per kind's objects, one per kind's events (all labelled `Event`), the pods.
    let kinds = fluxbrain_core::Kind::FLUX.len() + 2;
    assert!(
        warnings >= 1 && warnings <= kinds,
        "{warnings} warnings for {failures} failed requests: {during:#?}"
    );
    assert!(
        during.len() <= 2 * kinds + 4,
        "{} lines for {failures} failed requests: {during:#?}",
        during.len()
    );
    assert!(
        during.iter().all(|l| l["level"] != "ERROR"),
        "no line at ERROR: {during:#?}"
    );
    // Each warning names the cluster, the kind, what was done and the status.
    for line in during
        .iter()
        .filter(|l| message(l) == "Kubernetes API request failed")
    {
        assert_eq!(line["cluster"], "basic", "{line}");
        assert_eq!(line["status"], "503", "{line}");
        assert!(
            line["kind"].as_str().is_some_and(|k| !k.is_empty()),
            "{line}"
        );
        assert!(
            line["verb"]
                .as_str()
                .is_some_and(|v| v.starts_with("watch ")),
            "{line}"
        );
    }
    let metrics = collector.metrics();
    assert!(metrics.watch_restarts > 0, "{metrics:?}");
    assert_eq!(
        metrics.watch_resyncs, 0,
        "no scheduled resync within the hour: {metrics:?}"
    );
}
