//! Notifications: what the incident policy decides to say, and the [`Notifier`] trait that says it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::errorbrain::ErrorEvent;
use crate::fingerprint::Fingerprint;
use crate::time::Time;

/// Why an incident ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The object became healthy.
    Recovered,
    /// The object fails for another reason or at another revision: a new incident replaces it.
    Superseded,
    /// The object was deleted.
    Deleted,
    /// The object was suspended.
    Suspended,
}

impl Resolution {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Recovered => "recovered",
            Resolution::Superseded => "superseded",
            Resolution::Deleted => "deleted",
            Resolution::Suspended => "suspended",
        }
    }
}

/// What a notification says about its incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "resolution")]
pub enum NotificationKind {
    /// The incident started.
    Firing,
    /// The incident is still open (sent every remind interval).
    Reminder,
    /// The set of downstream objects failing with the incident changed (some joined, some
    /// recovered); sent at most once per group interval.
    Updated,
    /// The incident ended.
    Resolved(Resolution),
}

impl NotificationKind {
    /// `firing`, `reminder`, `updated` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Firing => "firing",
            NotificationKind::Reminder => "reminder",
            NotificationKind::Updated => "updated",
            NotificationKind::Resolved(_) => "resolved",
        }
    }
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotificationKind::Resolved(r) => write!(f, "resolved ({})", r.as_str()),
            other => f.write_str(other.as_str()),
        }
    }
}

/// A downstream object folded into its upstream's incident.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AffectedObject {
    /// `Kind/namespace/name`.
    pub key: String,
    /// Its failing condition's reason.
    pub reason: String,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
}

/// How the downstream objects of an incident changed since they were last announced: what an
/// [`NotificationKind::Updated`] notification reports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedChange {
    /// `Kind/namespace/name` of the objects that started failing with the incident, sorted.
    pub joined: Vec<String>,
    /// `Kind/namespace/name` of the objects that no longer fail with it (recovered, deleted,
    /// failing on their own, suspended), sorted.
    pub left: Vec<String>,
}

/// errorbrain's analysis of an event, shown beside (never instead of) the facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Analysis {
    /// A response that validates as `verdict.schema.json`, kept as received.
    Verdict {
        /// The verdict document.
        verdict: serde_json::Value,
    },
    /// The current errorbrain server's `{"explanation": ...}` text.
    Text {
        /// The explanation.
        explanation: String,
    },
}

/// One notification about one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable id: `<incident id>:<kind>:<n>` (`n` the occurrence, or the update's number for
    /// `updated`); receivers deduplicate on it.
    pub id: String,
    /// What it says.
    pub kind: NotificationKind,
    /// The incident's id (the ErrorEvent `id`).
    pub incident_id: String,
    /// 1 for the firing, then one more per reminder; a resolution repeats the last occurrence.
    pub occurrence: u32,
    /// When the policy decided it.
    pub at: Time,
    /// The incident's latest event.
    pub event: ErrorEvent,
    /// Downstream objects folded into this incident, sorted.
    pub affected: Vec<AffectedObject>,
    /// For `updated`: how the downstream objects changed since they were last announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<AffectedChange>,
    /// Who acknowledged the incident, when and why, if someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<crate::control::Ack>,
    /// errorbrain's analysis, when one was asked for and arrived in time.
    pub analysis: Option<Analysis>,
}

impl Notification {
    /// The stable id of the notification `kind` number `occurrence` of `incident_id`.
    pub fn id_for(incident_id: &str, kind: NotificationKind, occurrence: u32) -> String {
        format!("{incident_id}:{}:{occurrence}", kind.as_str())
    }

    /// The cluster.
    pub fn cluster(&self) -> &str {
        &self.event.metadata.cluster
    }
}

/// What a notifier keeps about a delivered notification, so that later notifications of the
/// same incident can refer to it (a Slack message `ts`, a GitHub issue number).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The destination's own reference, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Whether and when a failed delivery may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Sending again will not change the answer (a 4xx other than 429, a bad configuration).
    Never,
    /// A passing failure (5xx, a timeout, a connection error); `after` is the destination's
    /// own `Retry-After`, when it gave one. Consecutive failures back off exponentially.
    After(Option<Duration>),
    /// Not a failure: the destination asked to slow down (429, a rate limit) for this long.
    /// The notifier pauses until then, the failure backoff does not grow, and a notification
    /// is never given up for being throttled.
    Throttled(Duration),
}

impl Retry {
    /// The longest a destination's own wait is trusted: a `Retry-After` of a day is a broken
    /// header, not a plan.
    pub const LONGEST_WAIT: Duration = Duration::from_secs(3600);
}

/// A failed delivery. The message names the notifier and host, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{notifier}: {message}")]
pub struct DeliveryError {
    /// The notifier's name.
    pub notifier: String,
    /// What went wrong.
    pub message: String,
    /// Whether to try again.
    pub retry: Retry,
}

/// Delivers notifications to one destination.
///
/// Called concurrently by the engine. Do not loop on failure: return a [`DeliveryError`] marked
/// retryable or not; the engine owns backoff and the outbox, and calls again with the same
/// notification id.
#[async_trait::async_trait]
pub trait Notifier: Send + Sync + fmt::Debug {
    /// Stable name for logs, metrics and the outbox, e.g. `"slack"`.
    fn name(&self) -> &str;

    /// Sends one notification within the implementation's own timeout.
    ///
    /// `thread` is this notifier's receipt for the incident's firing, when it has one.
    async fn deliver(
        &self,
        note: &Notification,
        thread: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError>;

    /// Folds some of the firings and updates of one cycle into one message each, when the
    /// notifier does that (Slack's summary of more than 10 firings, or updates, for one
    /// cluster).
    ///
    /// Returns one entry per note, in order: `Some(result)` for a note sent in a folded
    /// message, `None` for a note the engine must deliver on its own. `None` as a whole (the
    /// default) means nothing was folded and nothing was sent. The engine saves the
    /// acknowledgements after each message, so a crash repeats at most one message.
    async fn deliver_batch(
        &self,
        notes: &[Notification],
    ) -> Option<Vec<Option<Result<Receipt, DeliveryError>>>> {
        let _ = notes;
        None
    }
}

/// Asks an analysis service about an event.
///
/// Bounded by the implementation's timeout; a failure means the notification goes out without
/// analysis, never later.
#[async_trait::async_trait]
pub trait Analyzer: Send + Sync + fmt::Debug {
    /// Stable name for logs and metrics, e.g. `"errorbrain"`.
    fn name(&self) -> &str;

    /// Analyses one event.
    async fn analyze(&self, event: &ErrorEvent) -> Result<Analysis, AnalyzerError>;
}

/// A failed analysis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{analyzer}: {message}")]
pub struct AnalyzerError {
    /// The analyzer's name.
    pub analyzer: String,
    /// What went wrong (no secrets).
    pub message: String,
}
