//! Counters of what the collector did and met: API calls, errors by class, watch restarts.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::ErrorClass;

/// Counters shared by every cluster of one collector (cheap atomics, read with
/// [`Counters::read`]).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    api_errors: [AtomicU64; ErrorClass::ALL.len()],
    forbidden_kinds: AtomicU64,
    watch_restarts: AtomicU64,
    relists: AtomicU64,
    objects_skipped: AtomicU64,
    log_requests: AtomicU64,
    log_lines: AtomicU64,
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
    /// (`fluxbrain_kube_api_errors_total{class}`).
    pub api_errors: BTreeMap<ErrorClass, u64>,
    /// Times a kind (or its events) could not be read because RBAC forbids it
    /// (`fluxbrain_kube_forbidden_total`).
    pub forbidden_kinds: u64,
    /// Watch streams restarted after an error, a dead connection or a scheduled resync
    /// (`fluxbrain_watch_restarts_total`).
    pub watch_restarts: u64,
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

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn request(&self) {
        add(&self.requests, 1);
    }

    pub(crate) fn api_error(&self, class: ErrorClass) {
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

    pub(crate) fn relist(&self) {
        add(&self.relists, 1);
    }

    pub(crate) fn skipped(&self, n: u64) {
        add(&self.objects_skipped, n);
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
            forbidden_kinds: get(&self.forbidden_kinds),
            watch_restarts: get(&self.watch_restarts),
            relists: get(&self.relists),
            objects_skipped: get(&self.objects_skipped),
            log_requests: get(&self.log_requests),
            log_lines: get(&self.log_lines),
        }
    }
}
