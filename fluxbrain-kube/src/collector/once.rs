//! One-shot collection of a cluster: discovery, then paged lists of every served kind and of
//! the controller pods, a few at a time; then of the events about each kind, keeping those
//! about failing objects (the only ones an ErrorEvent ever reads); then the logs.

use std::collections::HashSet;
use std::sync::Mutex;

use fluxbrain_core::{ClusterObservation, CollectError, ObjectRef, Snapshot, UnreadableObject};
use futures::StreamExt;

use super::cluster::Cluster;
use super::config::CollectorConfig;
use super::discovery::discover;
use super::error::{ApiFailure, ErrorClass};
use super::facts::{Fact, PodFacts, is_flux_event, may_be_about, read};
use super::list::{PageItems, list_all};
use super::logs;
use super::metrics::Counters;
use super::source::Source;

/// The failing objects, whose events are kept.
#[derive(Debug, Default)]
struct Failing {
    keys: HashSet<ObjectRef>,
    /// Their names, to skip most other events before parsing them.
    names: HashSet<String>,
}

/// The facts one list yielded.
#[derive(Debug, Default)]
struct Gathered {
    snapshot: Snapshot,
    pods: Vec<PodFacts>,
    unreadable: Vec<UnreadableObject>,
}

impl Gathered {
    /// Adds the facts of one page; of events, only those about a `failing` object.
    fn add(
        &mut self,
        source: &Source,
        page: &PageItems<'_>,
        failing: &Failing,
        cluster: &str,
        counters: &Counters,
    ) {
        let events = matches!(source, Source::Events(_));
        for raw in &page.raw {
            if events && !may_be_about(raw, &failing.names) {
                continue;
            }
            let Some(item) = page.document(raw) else {
                counters.skipped(1);
                tracing::warn!(cluster, "skipped a document nested too deeply to be parsed");
                continue;
            };
            if events && !is_flux_event(&item) {
                continue;
            }
            match read(&item, cluster, counters) {
                Some(Fact::Object(o)) => self.snapshot.objects.push(o.into()),
                Some(Fact::Event(e)) if failing.keys.contains(&e.involved) => {
                    self.snapshot.events.push(e);
                }
                Some(Fact::Event(_)) => {}
                Some(Fact::Pod(p)) => {
                    self.snapshot.pods.push(p.pod.clone());
                    self.pods.push(p);
                }
                Some(Fact::Unreadable(u)) => self.unreadable.push(u),
                None => {}
            }
        }
    }
}

/// Reads `cluster` once.
///
/// # Errors
/// A [`CollectError`] when discovery fails or no list at all succeeds (the cluster is
/// unreachable); a kind that alone cannot be read is in `unobserved` instead.
pub(crate) async fn collect(
    cluster: &Cluster,
    config: &CollectorConfig,
    counters: &Counters,
) -> Result<ClusterObservation, CollectError> {
    let unreachable = |e: ApiFailure| CollectError {
        cluster: cluster.name.clone(),
        message: e.to_string(),
    };
    let served = discover(cluster, counters).await.map_err(unreachable)?;
    let (events, others): (Vec<Source>, Vec<Source>) = Source::all(&served, &config.flux_namespace)
        .into_iter()
        .partition(|s| matches!(s, Source::Events(_)));
    let mut results = gather(cluster, config, counters, others, &Failing::default()).await;
    let keys: HashSet<ObjectRef> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flat_map(|g| &g.snapshot.objects)
        .filter(|o| o.failing_condition().is_some())
        .map(|o| o.key.clone())
        .collect();
    let failing = Failing {
        names: keys.iter().map(|k| k.name.clone()).collect(),
        keys,
    };
    if !failing.keys.is_empty() {
        results.extend(gather(cluster, config, counters, events, &failing).await);
    }

    let mut observation = ClusterObservation {
        snapshot: Snapshot::new(cluster.name.clone()),
        unobserved: Vec::new(),
        unreadable: Vec::new(),
    };
    let mut pods = Vec::new();
    let mut failures = Vec::new();
    let total = results.len();
    for (source, result) in results {
        match result {
            Ok(g) => {
                let s = g.snapshot;
                observation.snapshot.objects.extend(s.objects);
                observation.snapshot.events.extend(s.events);
                observation.snapshot.pods.extend(s.pods);
                observation.unreadable.extend(g.unreadable);
                pods.extend(g.pods);
            }
            Err(e) => {
                warn_unread(&cluster.name, &e);
                if let Source::Objects(s) = &source {
                    observation.unobserved.push(s.kind.clone());
                }
                failures.push(e);
            }
        }
    }
    if total > 0 && failures.len() == total {
        // Nothing could be read at all: report the cluster, not a cluster with no objects.
        if let Some(first) = failures
            .into_iter()
            .find(|f| f.class == ErrorClass::Retryable)
        {
            return Err(unreachable(first));
        }
    }
    observation.unobserved.sort();
    if config.collect_logs {
        let (requests, failing) = logs::plan(&observation.snapshot, &pods);
        observation.snapshot.logs =
            logs::fetch(cluster, counters, requests, &failing, config.log_tail_lines)
                .await
                .lines;
    }
    Ok(observation)
}

/// Lists `sources`, a few at a time; events only about `failing` objects.
async fn gather(
    cluster: &Cluster,
    config: &CollectorConfig,
    counters: &Counters,
    sources: Vec<Source>,
    failing: &Failing,
) -> Vec<(Source, Result<Gathered, ApiFailure>)> {
    futures::stream::iter(sources)
        .map(|source| async move {
            let request = source.request(config.page_size);
            let gathered = Mutex::new(Gathered::default());
            let result = list_all(
                cluster,
                counters,
                &request,
                |page| {
                    if let Ok(mut g) = gathered.lock() {
                        g.add(&source, page, failing, &cluster.name, counters);
                    }
                },
                || {
                    if let Ok(mut g) = gathered.lock() {
                        *g = Gathered::default();
                    }
                },
            )
            .await;
            let gathered = gathered.into_inner().unwrap_or_default();
            (source, result.map(|()| gathered))
        })
        .buffer_unordered(config.list_concurrency.max(1))
        .collect()
        .await
}

/// A feed that could not be read: a warning, louder when RBAC is the reason.
pub(crate) fn warn_unread(cluster: &str, failure: &ApiFailure) {
    if failure.class == ErrorClass::Forbidden {
        tracing::warn!(cluster, error = %failure, "forbidden by RBAC; its objects are left unobserved");
    } else {
        tracing::warn!(cluster, error = %failure, "could not be read; left unobserved this time");
    }
}
