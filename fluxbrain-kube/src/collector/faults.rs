//! API failures made visible without flooding the log: one WARN per cluster, kind and status
//! per interval (with how many were held back since), and one INFO when they stop.
//!
//! A 45-second burst of 503s on every watch is then a handful of lines naming the cluster,
//! the kind, what was being done and the status, not one line per retried request.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::error::ApiFailure;

/// How often the same failure is logged again while it lasts.
pub(crate) const REPEAT_EVERY: Duration = Duration::from_secs(300);

/// The objects failing requests are about, and how they failed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    cluster: String,
    kind: String,
    status: String,
}

#[derive(Debug)]
struct Open {
    logged: Instant,
    held_back: u64,
    failures: u64,
}

/// The failures being reported, by cluster, kind and status.
#[derive(Debug, Default)]
pub(crate) struct FaultLog {
    open: Mutex<BTreeMap<Key, Open>>,
}

/// The status label of a failure: its HTTP status code, else its class (`retryable` for a
/// transport error or a timeout).
pub(crate) fn status_label(failure: &ApiFailure) -> String {
    failure.code.map_or_else(
        || failure.class.as_str().to_owned(),
        |code| code.to_string(),
    )
}

impl FaultLog {
    /// A request about `kind` of `cluster` failed: logged at WARN if this status is new for
    /// them or was last logged [`REPEAT_EVERY`] ago.
    pub(crate) fn failed(&self, cluster: &str, kind: &str, failure: &ApiFailure) {
        let key = Key {
            cluster: cluster.to_owned(),
            kind: kind.to_owned(),
            status: status_label(failure),
        };
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = open.entry(key).or_insert(Open {
            logged: now,
            held_back: 0,
            failures: 0,
        });
        entry.failures += 1;
        let first = entry.failures == 1;
        if first || now.duration_since(entry.logged) >= REPEAT_EVERY {
            let held_back = std::mem::take(&mut entry.held_back);
            entry.logged = now;
            tracing::warn!(
                cluster,
                kind,
                verb = %failure.what,
                status = %status_label(failure),
                class = %failure.class,
                held_back,
                error = %failure.detail,
                "Kubernetes API request failed"
            );
        } else {
            entry.held_back += 1;
        }
    }

    /// A request about `kind` of `cluster` succeeded: each failure reported for them ends,
    /// with one INFO line saying how many there were.
    pub(crate) fn succeeded(&self, cluster: &str, kind: &str) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.is_empty() {
            return;
        }
        let ended: Vec<Key> = open
            .keys()
            .filter(|k| k.cluster == cluster && k.kind == kind)
            .cloned()
            .collect();
        for key in ended {
            if let Some(entry) = open.remove(&key) {
                tracing::info!(
                    cluster,
                    kind,
                    status = %key.status,
                    failures = entry.failures,
                    "Kubernetes API requests succeed again"
                );
            }
        }
    }
}
