//! Controller log lines about failing objects: one bounded request per controller pod.
//!
//! When objects fail, each controller pod's log is read once: from the earliest failure start
//! among the failing objects that controller reconciles (`sinceTime`), or, for a pod that
//! reconciles none of them (notification-controller logs about every kind), from the earliest
//! failure start of all; and at most `tailLines` lines, never the whole log. Lines are parsed by
//! core's [`parse_log_line`] and kept when they name a failing object, exactly the lines
//! `render` would use from the same logs.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use fluxbrain_core::{Health, LogLine, ObjectRef, Snapshot, parse_log_line};
use jiff::Timestamp;
use kube::api::LogParams;

use super::cluster::Cluster;
use super::facts::PodFacts;
use super::metrics::Counters;

/// One log request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogRequest {
    pub namespace: String,
    pub pod: String,
    pub container: Option<String>,
    /// The earliest failure start among the failing objects of its controller.
    pub since: Timestamp,
}

/// The log requests a snapshot calls for, and the failing objects whose lines are kept.
///
/// A failure starts at the failing condition's `lastTransitionTime`, else the newest event
/// about the object, else its creation: the incident start `build` uses, so the window read
/// is the window the event shows.
pub(crate) fn plan(
    snapshot: &Snapshot,
    pods: &[PodFacts],
) -> (Vec<LogRequest>, HashSet<ObjectRef>) {
    let index = snapshot.index();
    let mut since_by_controller: BTreeMap<String, Timestamp> = BTreeMap::new();
    let mut failing = HashSet::new();
    for object in index.objects() {
        if object.health() != Health::Failing {
            continue;
        }
        failing.insert(object.key.clone());
        let started = object
            .failing_condition()
            .and_then(|c| c.last_transition_time)
            .or_else(|| {
                index
                    .events(&object.key)
                    .iter()
                    .filter_map(|e| e.last)
                    .max()
            })
            .or(object.created)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let controller = object.controller();
        since_by_controller
            .entry(controller)
            .and_modify(|t| *t = (*t).min(started))
            .or_insert(started);
    }
    let Some(earliest) = since_by_controller.values().min().copied() else {
        return (Vec::new(), failing);
    };
    let mut requests: Vec<LogRequest> = pods
        .iter()
        .map(|p| LogRequest {
            namespace: p.pod.namespace.clone(),
            pod: p.pod.name.clone(),
            container: p.container.clone(),
            since: since_by_controller
                .get(&p.pod.controller)
                .copied()
                .unwrap_or(earliest),
        })
        .collect();
    requests.sort_by(|a, b| (&a.namespace, &a.pod).cmp(&(&b.namespace, &b.pod)));
    requests.dedup_by(|a, b| a.namespace == b.namespace && a.pod == b.pod);
    (requests, failing)
}

/// What a continuous collector read last, reused while nothing that decides it changed: the
/// same requests (pods, containers, failure starts), the same failing objects, and younger
/// than the refresh interval. Without it, every `collect()` (up to two a second while objects
/// change) would read every controller's log again.
#[derive(Debug, Default)]
pub(crate) struct LogCache {
    last: Option<Cached>,
}

#[derive(Debug)]
struct Cached {
    requests: Vec<LogRequest>,
    failing: HashSet<ObjectRef>,
    read_at: tokio::time::Instant,
    fetched: Fetched,
}

/// How long a read that missed a log (RBAC, a container not started) is reused at most: a
/// failing read is retried soon, but not on every collection.
const PARTIAL_REFRESH: Duration = Duration::from_secs(10);

impl LogCache {
    /// The lines read for exactly this plan less than `refresh` ago (a read that missed a
    /// log: less than [`PARTIAL_REFRESH`] ago).
    pub fn get(
        &self,
        requests: &[LogRequest],
        failing: &HashSet<ObjectRef>,
        refresh: Duration,
    ) -> Option<Vec<LogLine>> {
        let last = self.last.as_ref()?;
        let refresh = if last.fetched.complete {
            refresh
        } else {
            refresh.min(PARTIAL_REFRESH)
        };
        let fresh = last.read_at.elapsed() < refresh;
        (fresh && last.requests == requests && &last.failing == failing)
            .then(|| last.fetched.lines.clone())
    }

    /// Remembers a read (one that missed a log for at most [`PARTIAL_REFRESH`]).
    pub fn put(
        &mut self,
        requests: Vec<LogRequest>,
        failing: HashSet<ObjectRef>,
        read_at: tokio::time::Instant,
        fetched: Fetched,
    ) {
        self.last = Some(Cached {
            requests,
            failing,
            read_at,
            fetched,
        });
    }
}

/// The lines of a [`fetch`], and whether every log could be read.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    pub lines: Vec<LogLine>,
    pub complete: bool,
}

/// Reads the planned logs concurrently; a log that cannot be read is logged and left out (it
/// is evidence, not the failure itself), and the result is not `complete`.
pub(crate) async fn fetch(
    cluster: &Cluster,
    counters: &Counters,
    requests: Vec<LogRequest>,
    failing: &HashSet<ObjectRef>,
    tail_lines: u32,
) -> Fetched {
    let reads = requests.into_iter().map(|request| async move {
        let what = format!("read log of pod {}/{}", request.namespace, request.pod);
        let path = format!("/api/v1/namespaces/{}/pods", request.namespace);
        let params = LogParams {
            container: request.container.clone(),
            since_time: Some(request.since),
            tail_lines: Some(i64::from(tail_lines)),
            ..LogParams::default()
        };
        let http = match kube::core::Request::new(path).logs(&request.pod, &params) {
            Ok(http) => http,
            Err(e) => {
                tracing::warn!(cluster = %cluster.name, error = %e, "{what}");
                return None;
            }
        };
        match cluster
            .call(&what, "logs", counters, cluster.client.request_text(http))
            .await
        {
            Ok(text) => {
                let container = request.container.as_deref().unwrap_or("manager");
                let lines: Vec<LogLine> = text
                    .lines()
                    .filter_map(|line| parse_log_line(line, &request.pod, container).ok().flatten())
                    .filter(|line| failing.contains(&line.object))
                    .collect();
                counters.log_request(lines.len() as u64);
                Some(lines)
            }
            Err(e) => {
                tracing::warn!(cluster = %cluster.name, error = %e, "controller log not read");
                None
            }
        }
    });
    let mut fetched = Fetched {
        lines: Vec::new(),
        complete: true,
    };
    for read in futures::future::join_all(reads).await {
        match read {
            Some(lines) => fetched.lines.extend(lines),
            None => fetched.complete = false,
        }
    }
    fetched
}
