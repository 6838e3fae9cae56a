//! `/metrics` as a prometheus-client [`Collector`] over the live state: every scrape reads
//! the engine, the collector and the last step as they are now; nothing is rebuilt or copied
//! between scrapes.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::View;
use crate::summary::Summary;

/// The metrics of [`View`].
#[derive(Debug)]
pub(crate) struct LiveMetrics(pub std::sync::Arc<View>);

/// Labels of one sample.
type Labels = Vec<(&'static str, String)>;

/// One metric with its samples: a gauge or a counter, labelled or not.
struct Metric<'a> {
    name: &'a str,
    help: &'a str,
    kind: MetricType,
    samples: Vec<(Labels, u64)>,
}

impl Metric<'_> {
    fn encode(self, encoder: &mut DescriptorEncoder<'_>) -> fmt::Result {
        let mut metric = encoder.encode_descriptor(self.name, self.help, None, self.kind)?;
        match self.samples.as_slice() {
            // One sample without labels: the metric itself.
            [(labels, n)] if labels.is_empty() => sample(self.kind, *n, metric),
            samples => {
                for (labels, n) in samples {
                    sample(self.kind, *n, metric.encode_family(labels)?)?;
                }
                Ok(())
            }
        }
    }
}

/// One value of a metric of `kind`.
fn sample(kind: MetricType, value: u64, encoder: MetricEncoder<'_>) -> fmt::Result {
    match kind {
        MetricType::Counter => ConstCounter::new(value).encode(encoder),
        _ => ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(encoder),
    }
}

fn gauge<'a>(name: &'a str, help: &'a str, samples: Vec<(Labels, u64)>) -> Metric<'a> {
    Metric {
        name,
        help,
        kind: MetricType::Gauge,
        samples,
    }
}

fn counter<'a>(name: &'a str, help: &'a str, samples: Vec<(Labels, u64)>) -> Metric<'a> {
    Metric {
        name,
        help,
        kind: MetricType::Counter,
        samples,
    }
}

impl Collector for LiveMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let view = &self.0;
        let mut objects = Vec::new();
        let objects_now = view.objects(&view.last());
        for (cluster, kinds) in &objects_now {
            for (kind, healths) in kinds {
                for (health, n) in healths {
                    let labels = vec![
                        ("cluster", cluster.clone()),
                        ("kind", kind.clone()),
                        ("health", health.clone()),
                    ];
                    objects.push((labels, *n));
                }
            }
        }
        gauge("objects", "Objects by health", objects).encode(&mut encoder)?;

        if let Some(engine) = view.current() {
            // The control document as of the engine's last step: no I/O while scraping.
            let summary = engine
                .inspect(Summary::of_state)
                .with_control(&engine.control(), crate::operate::now());
            gauge(
                "incidents_open",
                "Open incidents",
                vec![(Vec::new(), summary.incidents.open)],
            )
            .encode(&mut encoder)?;
            gauge(
                "incidents_acknowledged",
                "Open incidents someone acknowledged",
                vec![(Vec::new(), summary.incidents.acknowledged)],
            )
            .encode(&mut encoder)?;
            gauge(
                "incidents_silenced",
                "Open incidents a silence or the silence annotation holds back",
                vec![(Vec::new(), summary.incidents.silenced)],
            )
            .encode(&mut encoder)?;
            gauge(
                "silences_active",
                "Silences in effect",
                vec![(Vec::new(), summary.incidents.silences_active)],
            )
            .encode(&mut encoder)?;
            let per_notifier = |f: fn(&crate::summary::NotifierSummary) -> u64| {
                summary
                    .notifiers
                    .iter()
                    .map(|(name, n)| (vec![("notifier", name.clone())], f(n)))
                    .collect::<Vec<_>>()
            };
            counter(
                "notifications_sent",
                "Notifications delivered",
                per_notifier(|n| n.sent),
            )
            .encode(&mut encoder)?;
            counter(
                "notifications_failed",
                "Failed delivery attempts",
                per_notifier(|n| n.failed),
            )
            .encode(&mut encoder)?;
            counter(
                "notifications_dead_lettered",
                "Notifications a destination refused for good (a 4xx other than 429), by reason",
                summary
                    .notifiers
                    .iter()
                    .map(|(name, n)| {
                        let labels =
                            vec![("notifier", name.clone()), ("reason", "refused".to_owned())];
                        (labels, n.dead_letters)
                    })
                    .collect(),
            )
            .encode(&mut encoder)?;
            counter(
                "notifications_throttled",
                "Attempts a destination throttled (429, rate limits): flow control, not failures",
                per_notifier(|n| n.throttled),
            )
            .encode(&mut encoder)?;
            let now = fluxbrain_core::Time::new(jiff::Timestamp::now());
            let paused = summary
                .notifiers
                .iter()
                .map(|(name, n)| {
                    let paused = n.paused_until.is_some_and(|until| until > now);
                    (vec![("notifier", name.clone())], u64::from(paused))
                })
                .collect();
            gauge(
                "notifier_paused",
                "1 while a notifier waits: throttled by its destination or backing off",
                paused,
            )
            .encode(&mut encoder)?;
            gauge(
                "notifications_pending",
                "Notifications waiting for a notifier",
                per_notifier(|n| n.pending),
            )
            .encode(&mut encoder)?;
        }

        if let super::Watched::Owned(fleet) = &view.watched {
            let owned = fleet.ownership.owned();
            let samples = fleet
                .clusters
                .iter()
                .map(|c| {
                    (
                        vec![("cluster", c.clone())],
                        u64::from(owned.contains_key(c)),
                    )
                })
                .collect();
            gauge(
                "cluster_owned",
                "1 on the replica that owns the cluster (holds its Lease and watches it)",
                samples,
            )
            .encode(&mut encoder)?;
            counter(
                "ownership_changes",
                "Clusters this replica took over or gave up",
                vec![(Vec::new(), fleet.ownership.changes())],
            )
            .encode(&mut encoder)?;
        }
        let clusters = view.watched.status();
        let synced = clusters
            .iter()
            .map(|c| {
                let synced = c.synced && c.error.is_none();
                (vec![("cluster", c.name.clone())], u64::from(synced))
            })
            .collect();
        gauge(
            "cluster_synced",
            "1 when every served kind of the cluster is listed and it is reachable",
            synced,
        )
        .encode(&mut encoder)?;
        let unobserved = clusters
            .iter()
            .flat_map(|c| {
                c.unobserved.iter().map(|kind| {
                    (
                        vec![("cluster", c.name.clone()), ("kind", kind.to_string())],
                        1,
                    )
                })
            })
            .collect();
        gauge(
            "kind_unobserved",
            "Kinds a cluster serves that cannot be read now (RBAC, not listed yet)",
            unobserved,
        )
        .encode(&mut encoder)?;

        let m = view.watched.metrics();
        let one = |n: u64| vec![(Vec::new(), n)];
        counter(
            "kube_requests",
            "Plain Kubernetes API requests",
            one(m.requests),
        )
        .encode(&mut encoder)?;
        let errors = m
            .failed_requests
            .iter()
            .map(|(r, n)| {
                let labels = vec![
                    ("cluster", r.cluster.clone()),
                    ("kind", r.kind.clone()),
                    ("code", r.code.clone()),
                ];
                (labels, *n)
            })
            .collect();
        counter(
            "kube_api_errors",
            "Failed API calls by cluster, kind and HTTP status (the class when there was none)",
            errors,
        )
        .encode(&mut encoder)?;
        let classes = m
            .api_errors
            .iter()
            .map(|(class, n)| (vec![("class", class.to_string())], *n))
            .collect();
        counter(
            "kube_api_error_classes",
            "Failed API calls by class",
            classes,
        )
        .encode(&mut encoder)?;
        counter(
            "kube_forbidden",
            "Kinds or events that RBAC forbids reading",
            one(m.forbidden_kinds),
        )
        .encode(&mut encoder)?;
        counter(
            "watch_restarts",
            "Watch streams restarted after an error or a dead connection",
            one(m.watch_restarts),
        )
        .encode(&mut encoder)?;
        counter(
            "watch_resyncs",
            "Watch streams replaced by the scheduled full resync",
            one(m.watch_resyncs),
        )
        .encode(&mut encoder)?;
        counter("kube_relists", "Complete relists", one(m.relists)).encode(&mut encoder)?;
        counter(
            "objects_skipped",
            "Documents that could not be parsed",
            one(m.objects_skipped),
        )
        .encode(&mut encoder)?;
        counter(
            "kube_log_requests",
            "Controller log reads",
            one(m.log_requests),
        )
        .encode(&mut encoder)
    }
}
