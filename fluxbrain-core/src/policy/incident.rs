//! Incident records: what the policy remembers about an open incident.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    /// Its latest event, without evidence (kept small: it is what a resolution reports).
    pub event: ErrorEvent,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}
