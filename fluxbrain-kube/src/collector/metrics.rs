//! Counters of what the collector did and met: API calls, errors by class, watch restarts.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::error::{ApiFailure, ErrorClass};
use super::faults::{FaultLog, status_label};

/// Counters shared by every cluster of one collector (cheap atomics, read with
/// [`Counters::read`]).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    api_errors: [AtomicU64; ErrorClass::ALL.len()],
    failed_requests: Mutex<BTreeMap<FailedRequests, u64>>,
    forbidden_kinds: AtomicU64,
    watch_restarts: AtomicU64,
    watch_resyncs: AtomicU64,
    relists: AtomicU64,
    objects_skipped: AtomicU64,
    log_requests: AtomicU64,
    log_lines: AtomicU64,
    /// Failures as logged (rate-limited).
    pub(crate) faults: FaultLog,
    /// Documents already warned about as unparseable: (cluster, identity, resourceVersion).
    warned_documents: Mutex<HashSet<(String, String, String)>>,
}

/// At most this many unparseable documents are remembered as warned about; past it the
/// memory starts over (a warning may then repeat once).
const WARNED_KEPT: usize = 10_000;

/// Which requests failed: the cluster, the kind they were about and the status.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FailedRequests {
    /// The cluster.
    pub cluster: String,
    /// The kind (`Kustomization`, `Event`, `Pod`; `discovery` and `logs` for those requests).
    pub kind: String,
    /// The HTTP status code, or the class of a failure without one (`retryable` for a
    /// transport error or a timeout).
    pub code: String,
}

/// What the collector has done since it was built.
///
/// Prometheus names suggested for the CLI's `/metrics` are given per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Plain API requests made: discovery, list pages, logs
    /// (`fluxbrain_kube_requests_total`).
    pub requests: u64,
    /// Failed API calls by class, watch errors included
    /// (`fluxbrain_kube_api_error_classes_total{class}`).
    pub api_errors: BTreeMap<ErrorClass, u64>,
    /// Failed API calls by cluster, kind and status (429 and 5xx among them)
    /// (`fluxbrain_kube_api_errors_total{cluster,kind,code}`).
    pub failed_requests: BTreeMap<FailedRequests, u64>,
    /// Times a kind (or its events) could not be read because RBAC forbids it
    /// (`fluxbrain_kube_forbidden_total`).
    pub forbidden_kinds: u64,
    /// Watch streams restarted after an error or a dead connection
    /// (`fluxbrain_watch_restarts_total`).
    pub watch_restarts: u64,
    /// Watch streams replaced by a scheduled resync, a full relist every requeue interval
    /// (`fluxbrain_watch_resyncs_total`).
    pub watch_resyncs: u64,
    /// Complete (re)lists that replaced a kind's store (`fluxbrain_kube_relists_total`).
    pub relists: u64,
    /// Objects, events or pods that could not be parsed and were skipped
    /// (`fluxbrain_objects_skipped_total`).
    pub objects_skipped: u64,
    /// Controller log requests (`fluxbrain_kube_log_requests_total`).
    pub log_requests: u64,
    /// Log lines kept because they name a failing object (`fluxbrain_kube_log_lines_total`).
    pub log_lines: u64,
}

impl Metrics {
    /// Adds `other`'s counts to these (the collectors of several clusters as one).
    pub fn add(&mut self, other: &Metrics) {
        self.requests += other.requests;
        for (class, n) in &other.api_errors {
            *self.api_errors.entry(*class).or_default() += n;
        }
        for (key, n) in &other.failed_requests {
            *self.failed_requests.entry(key.clone()).or_default() += n;
        }
        self.forbidden_kinds += other.forbidden_kinds;
        self.watch_restarts += other.watch_restarts;
        self.watch_resyncs += other.watch_resyncs;
        self.relists += other.relists;
        self.objects_skipped += other.objects_skipped;
        self.log_requests += other.log_requests;
        self.log_lines += other.log_lines;
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn request(&self) {
        add(&self.requests, 1);
    }

    /// A request about `kind` of `cluster` failed: counted, by class and by status, and
    /// logged (rate-limited, see [`FaultLog`]).
    pub(crate) fn failed(&self, cluster: &str, kind: &str, failure: &ApiFailure) {
        self.api_error(failure.class);
        let key = FailedRequests {
            cluster: cluster.to_owned(),
            kind: kind.to_owned(),
            code: status_label(failure),
        };
        *self
            .failed_requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
        self.faults.failed(cluster, kind, failure);
    }

    /// A request about `kind` of `cluster` succeeded (ends its logged failures).
    pub(crate) fn succeeded(&self, cluster: &str, kind: &str) {
        self.faults.succeeded(cluster, kind);
    }

    fn api_error(&self, class: ErrorClass) {
        let i = ErrorClass::ALL
            .iter()
            .position(|c| *c == class)
            .unwrap_or_default();
        if let Some(counter) = self.api_errors.get(i) {
            add(counter, 1);
        }
        if class == ErrorClass::Forbidden {
            add(&self.forbidden_kinds, 1);
        }
    }

    pub(crate) fn watch_restart(&self) {
        add(&self.watch_restarts, 1);
    }

    pub(crate) fn watch_resync(&self) {
        add(&self.watch_resyncs, 1);
    }

    pub(crate) fn relist(&self) {
        add(&self.relists, 1);
    }

    pub(crate) fn skipped(&self, n: u64) {
        add(&self.objects_skipped, n);
    }

    /// Whether an unparseable document (`identity` at `resource_version` in `cluster`) is seen
    /// for the first time, so that it is warned about once per version, not at every relist.
    pub(crate) fn first_warning(
        &self,
        cluster: &str,
        identity: &str,
        resource_version: &str,
    ) -> bool {
        let mut warned = self
            .warned_documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if warned.len() >= WARNED_KEPT {
            warned.clear();
        }
        warned.insert((
            cluster.to_owned(),
            identity.to_owned(),
            resource_version.to_owned(),
        ))
    }

    pub(crate) fn log_request(&self, lines: u64) {
        add(&self.log_requests, 1);
        add(&self.log_lines, lines);
    }

    /// A consistent-enough reading (each counter is read once).
    pub(crate) fn read(&self) -> Metrics {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Metrics {
            requests: get(&self.requests),
            api_errors: ErrorClass::ALL
                .iter()
                .zip(&self.api_errors)
                .map(|(class, c)| (*class, get(c)))
                .collect(),
            failed_requests: self
                .failed_requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            forbidden_kinds: get(&self.forbidden_kinds),
            watch_restarts: get(&self.watch_restarts),
            watch_resyncs: get(&self.watch_resyncs),
            relists: get(&self.relists),
            objects_skipped: get(&self.objects_skipped),
            log_requests: get(&self.log_requests),
            log_lines: get(&self.log_lines),
        }
    }
}
