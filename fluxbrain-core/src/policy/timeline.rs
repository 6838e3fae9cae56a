//! What happened to an incident, in order: the timeline `fluxbrain status INCIDENT` shows and
//! the history keeps.

use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprint;
use crate::notification::Resolution;
use crate::time::Time;

use super::incident::IncidentKey;

/// How many moments one incident keeps: the first, and the newest after it.
pub const TIMELINE_KEPT: usize = 100;

/// One moment of an incident's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    /// When.
    pub at: Time,
    /// What.
    #[serde(flatten)]
    pub what: Happened,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Happened {
    /// First seen failing.
    Opened {
        /// The failing condition's reason.
        reason: String,
    },
    /// Folded into its failing upstream (it sends nothing of its own).
    Folded {
        /// The upstream, `Kind/namespace/name`.
        into: String,
    },
    /// No longer folded: its upstream recovered while it still fails.
    Unfolded,
    /// Its firing was queued.
    Announced,
    /// An `updated` notification was queued.
    Updated {
        /// Downstream objects that joined.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        joined: Vec<String>,
        /// Downstream objects that left.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        left: Vec<String>,
    },
    /// A reminder was queued.
    Reminded {
        /// Its occurrence.
        occurrence: u32,
    },
    /// An operator acknowledged it.
    Acknowledged {
        /// Who.
        by: String,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// A silence or the object's annotation began to hold back its notifications.
    Silenced {
        /// `silence <id>` or `annotation`.
        by: String,
        /// Until when (`None`: while the annotation says so).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Time>,
    },
    /// No silence holds it back any more.
    Unsilenced,
    /// A notifier acknowledged a notification of it.
    Delivered {
        /// The notifier.
        notifier: String,
        /// The notification id.
        notification: String,
    },
    /// A notifier refused a notification of it for good.
    DeadLettered {
        /// The notifier.
        notifier: String,
        /// The notification id.
        notification: String,
        /// Its answer.
        error: String,
    },
    /// It ended.
    Resolved {
        /// Why.
        resolution: Resolution,
    },
}

/// Appends `what` at `at`, dropping the oldest moment after the first past [`TIMELINE_KEPT`].
pub fn push(timeline: &mut Vec<Moment>, at: Time, what: Happened) {
    if timeline.len() >= TIMELINE_KEPT {
        timeline.remove(1);
    }
    timeline.push(Moment { at, what });
}

/// A resolved incident, as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedIncident {
    /// The object.
    pub key: IncidentKey,
    /// The incident id.
    pub id: String,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The failing condition's reason.
    pub reason: String,
    /// Its last message (redacted, as its events carried it).
    pub message: String,
    /// When it started.
    pub started: Time,
    /// When it resolved.
    pub resolved: Time,
    /// Why.
    pub resolution: Resolution,
    /// Whether it was ever announced (a silenced, held or folded incident may not have been).
    pub announced: bool,
    /// Its occurrence when it ended.
    pub occurrence: u32,
    /// Its acknowledgement, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<crate::control::Ack>,
    /// What happened to it.
    pub timeline: Vec<Moment>,
}
