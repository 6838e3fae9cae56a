//! Incident records: what the policy remembers about an open incident.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::timeline::Moment;
use crate::control::Ack;
use crate::errorbrain::ErrorEvent;
use crate::fingerprint::Fingerprint;
use crate::model::object::ObjectRef;
use crate::time::Time;

/// Identifies an object across clusters: the unit of the incident policy.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IncidentKey {
    /// Cluster name.
    pub cluster: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl IncidentKey {
    /// The key of `object` in `cluster`.
    pub fn of(cluster: &str, object: &ObjectRef) -> Self {
        IncidentKey {
            cluster: cluster.to_owned(),
            kind: object.kind.as_str().to_owned(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
        }
    }

    /// `Kind/namespace/name`, without the cluster.
    pub fn object(&self) -> String {
        format!("{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// `cluster: Kind namespace/name`.
impl fmt::Display for IncidentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {}/{}",
            self.cluster, self.kind, self.namespace, self.name
        )
    }
}

/// An open incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// The object.
    pub key: IncidentKey,
    /// The incident id: the id of its events.
    pub id: String,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The failing condition's reason.
    pub reason: String,
    /// The event timestamp when it fired.
    pub started: Time,
    /// When the last own notification (firing or reminder) was decided.
    pub last_notified: Time,
    /// 1 after the firing, one more per reminder.
    pub occurrence: u32,
    /// The failing upstream it is folded into, while it is: it sends nothing of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folded_into: Option<IncidentKey>,
    /// Whether it sent its own firing (a folded incident has not, and resolves silently; nor
    /// has one held for the group wait).
    pub fired: bool,
    /// While a new incident is held for the group wait: when it is announced (if it still
    /// fails on its own then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<Time>,
    /// The downstream objects (`Kind/namespace/name`, sorted) its last firing, reminder or
    /// update listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub announced: Vec<String>,
    /// When that list was last announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announced_at: Option<Time>,
    /// How many `updated` notifications it sent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub updates: u32,
    /// Its acknowledgement, while it has one: no reminders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Ack>,
    /// What holds back its notifications, while something does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced: Option<SilencedBy>,
    /// What happened to it so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Moment>,
    /// Its latest event, without evidence (kept small: it is what a resolution reports).
    pub event: ErrorEvent,
}

/// What holds back an incident's notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum SilencedBy {
    /// A silence an operator added.
    Silence {
        /// Its id.
        id: String,
        /// When it ends.
        until: Time,
    },
    /// The object's `fluxbrain.io/silence` annotation.
    Annotation {
        /// When it ends (`None`: while the annotation is there).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Time>,
    },
}

impl SilencedBy {
    /// `silence <id>` or `annotation`, for timelines and tables.
    pub fn label(&self) -> String {
        match self {
            SilencedBy::Silence { id, .. } => format!("silence {id}"),
            SilencedBy::Annotation { .. } => "annotation".to_owned(),
        }
    }

    /// When it ends, if it does by itself.
    pub fn until(&self) -> Option<Time> {
        match self {
            SilencedBy::Silence { until, .. } => Some(*until),
            SilencedBy::Annotation { until } => *until,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
