//! The engine's durable state: open incidents, the outbox, per-notifier health.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::notification::{Notification, Receipt};
use crate::policy::{IncidentKey, IncidentRecord, ResolvedIncident};
use crate::time::Time;

/// The version of the persisted state format; stores refuse other versions.
pub const STATE_VERSION: u32 = 1;

/// Everything that must survive a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Open incidents by object.
    #[serde(with = "records")]
    pub incidents: BTreeMap<IncidentKey, IncidentRecord>,
    /// Notifications not yet acknowledged by every notifier, oldest first.
    pub outbox: Vec<OutboxEntry>,
    /// Each notifier's receipts per incident id (firing receipts, for threading).
    #[serde(default)]
    pub threads: BTreeMap<String, BTreeMap<String, Receipt>>,
    /// Per-notifier delivery health.
    #[serde(default)]
    pub notifiers: BTreeMap<String, NotifierState>,
    /// Notifications a notifier refused for good (kept, never dropped silently).
    #[serde(default)]
    pub dead_letters: Vec<DeadLetter>,
    /// Resolved incidents with their timelines, oldest first, bounded by
    /// [`HistoryConfig`](super::HistoryConfig).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<ResolvedIncident>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            incidents: BTreeMap::new(),
            outbox: Vec::new(),
            threads: BTreeMap::new(),
            notifiers: BTreeMap::new(),
            dead_letters: Vec::new(),
            history: Vec::new(),
        }
    }
}

impl State {
    /// The states of several clusters as one (the inverse of [`State::for_cluster`]), to read
    /// them together: incidents, outboxes, threads, dead letters and histories side by side;
    /// each notifier's counts added up, its pause the longest.
    #[must_use]
    pub fn merged(parts: impl IntoIterator<Item = State>) -> State {
        let mut all = State::default();
        for part in parts {
            all.incidents.extend(part.incidents);
            all.outbox.extend(part.outbox);
            all.threads.extend(part.threads);
            all.dead_letters.extend(part.dead_letters);
            all.history.extend(part.history);
            for (name, health) in part.notifiers {
                let into = all.notifiers.entry(name).or_default();
                into.failures = into.failures.max(health.failures);
                into.paused_until = into.paused_until.max(health.paused_until);
                into.sent += health.sent;
                into.failed += health.failed;
                into.throttled += health.throttled;
                into.throttled_until = into.throttled_until.max(health.throttled_until);
            }
        }
        all.history.sort_by_key(|h| h.resolved);
        all
    }

    /// The part of this state that is about `cluster`: its incidents, the notifications about
    /// them, their threads and history; the notifiers' health as it is (a destination's
    /// pause holds for every cluster). A dead letter is kept when its incident is the
    /// cluster's, and also when no incident of any cluster claims it (copied rather than
    /// lost). Splits a state that held several clusters into one per cluster.
    #[must_use]
    pub fn for_cluster(&self, cluster: &str) -> State {
        let incident_of = |id: &str| -> Option<String> {
            self.incidents
                .values()
                .map(|r| (&r.key, &r.id))
                .chain(self.history.iter().map(|h| (&h.key, &h.id)))
                .find(|(_, incident)| id.starts_with(incident.as_str()))
                .map(|(key, _)| key.cluster.clone())
                .or_else(|| {
                    self.outbox
                        .iter()
                        .find(|e| id.starts_with(e.notification.incident_id.as_str()))
                        .map(|e| e.notification.event.metadata.cluster.clone())
                })
        };
        let incidents: BTreeMap<IncidentKey, IncidentRecord> = self
            .incidents
            .iter()
            .filter(|(key, _)| key.cluster == cluster)
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        let outbox: Vec<OutboxEntry> = self
            .outbox
            .iter()
            .filter(|e| e.notification.event.metadata.cluster == cluster)
            .cloned()
            .collect();
        let threads = self
            .threads
            .iter()
            .filter(|(id, _)| {
                incidents.values().any(|r| &r.id == *id)
                    || outbox.iter().any(|e| &e.notification.incident_id == *id)
            })
            .map(|(id, t)| (id.clone(), t.clone()))
            .collect();
        State {
            version: self.version,
            incidents,
            outbox,
            threads,
            notifiers: self.notifiers.clone(),
            dead_letters: self
                .dead_letters
                .iter()
                .filter(|d| incident_of(&d.notification_id).is_none_or(|c| c == cluster))
                .cloned()
                .collect(),
            history: self
                .history
                .iter()
                .filter(|h| h.key.cluster == cluster)
                .cloned()
                .collect(),
        }
    }
}

/// A notification waiting for some notifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// The notification (its analysis is filled in before the first delivery).
    pub notification: Notification,
    /// Whether the analyzer was asked (it is asked once per notification).
    #[serde(default)]
    pub analysis_tried: bool,
    /// Notifiers that have not acknowledged it yet.
    pub pending: BTreeMap<String, Delivery>,
}

/// One notifier's attempts at one notification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not to be tried before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<Time>,
    /// The last failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A notifier's health: consecutive failures pause it (backoff per notifier).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifierState {
    /// Consecutive retryable failures; reset by a success.
    pub failures: u32,
    /// No attempt before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<Time>,
    /// Notifications delivered.
    pub sent: u64,
    /// Failed attempts (retryable or not).
    pub failed: u64,
    /// Attempts the destination throttled (429, rate limits): flow control, not failures.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled: u64,
    /// No attempt before this time, as the destination asked (a success elsewhere does not
    /// lift it, unlike a failure's pause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled_until: Option<Time>,
}

impl NotifierState {
    /// Until when the notifier waits, for either reason.
    pub fn waits_until(&self) -> Option<Time> {
        match (self.paused_until, self.throttled_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A notification a notifier refused for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The notification id.
    pub notification_id: String,
    /// The notifier.
    pub notifier: String,
    /// Its answer.
    pub error: String,
    /// When.
    pub at: Time,
}

/// Incident records serialize as a list (their keys are inside them).
mod records {
    use super::*;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<IncidentKey, IncidentRecord>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.values())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<IncidentKey, IncidentRecord>, D::Error> {
        let list = Vec::<IncidentRecord>::deserialize(deserializer)?;
        Ok(list.into_iter().map(|r| (r.key.clone(), r)).collect())
    }
}
