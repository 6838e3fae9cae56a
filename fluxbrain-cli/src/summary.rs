//! What `fluxbrain status` and the `/v1` endpoints show: the open incidents, and a summary of
//! clusters, objects, incidents and notifiers.
//!
//! A running instance knows everything; a state store alone knows the incidents and the
//! notifiers (its cluster and object fields are then empty).

use std::collections::BTreeMap;

use fluxbrain_core::{IncidentRecord, State};
use fluxbrain_kube::collector::ClusterStatus;
use serde::{Deserialize, Serialize};

/// The answer of `/v1/incidents` and of `status --output json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incidents {
    /// Open incidents, by cluster, kind, namespace and name.
    pub incidents: Vec<IncidentRecord>,
}

impl Incidents {
    /// The open incidents of `state`.
    pub fn of(state: &State) -> Self {
        Incidents {
            incidents: state.incidents.values().cloned().collect(),
        }
    }
}

/// The answer of `/v1/summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Whether this instance holds the lease (always, without a shared state); absent when
    /// read from a state store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leading: Option<bool>,
    /// The clusters watched.
    #[serde(default)]
    pub clusters: Vec<ClusterSummary>,
    /// Objects by cluster, kind and health, as of the last policy step.
    #[serde(default)]
    pub objects: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    /// The open incidents.
    pub incidents: IncidentCounts,
    /// Each notifier's deliveries.
    pub notifiers: BTreeMap<String, NotifierSummary>,
}

/// One cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterSummary {
    /// Its configured name.
    pub name: String,
    /// Whether every served kind has been listed.
    pub synced: bool,
    /// Objects held.
    pub objects: u64,
    /// Kinds served but not readable now.
    pub unobserved: Vec<String>,
    /// Why it cannot be read, when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<&ClusterStatus> for ClusterSummary {
    fn from(status: &ClusterStatus) -> Self {
        ClusterSummary {
            name: status.name.clone(),
            synced: status.synced,
            objects: status.objects as u64,
            unobserved: status.unobserved.iter().map(ToString::to_string).collect(),
            error: status.error.clone(),
        }
    }
}

/// Open incidents, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentCounts {
    /// All open incidents.
    pub open: u64,
    /// Of those, folded into a failing upstream's.
    pub folded: u64,
    /// Open incidents by kind.
    pub by_kind: BTreeMap<String, u64>,
}

/// One notifier's deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifierSummary {
    /// Notifications delivered.
    pub sent: u64,
    /// Failed attempts.
    pub failed: u64,
    /// Notifications waiting for it.
    pub pending: u64,
    /// Notifications it refused for good.
    pub dead_letters: u64,
    /// Attempts the destination throttled (429, rate limits): flow control, not failures.
    #[serde(default)]
    pub throttled: u64,
    /// While it waits (throttled, or backing off after failures): until when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<fluxbrain_core::Time>,
}

impl Summary {
    /// What `state` tells: incidents and notifiers.
    pub fn of_state(state: &State) -> Self {
        let mut incidents = IncidentCounts::default();
        for record in state.incidents.values() {
            incidents.open += 1;
            if record.folded_into.is_some() {
                incidents.folded += 1;
            }
            *incidents
                .by_kind
                .entry(record.key.kind.clone())
                .or_default() += 1;
        }
        let mut notifiers: BTreeMap<String, NotifierSummary> = state
            .notifiers
            .iter()
            .map(|(name, n)| {
                let summary = NotifierSummary {
                    sent: n.sent,
                    failed: n.failed,
                    throttled: n.throttled,
                    paused_until: n.waits_until(),
                    ..NotifierSummary::default()
                };
                (name.clone(), summary)
            })
            .collect();
        for entry in &state.outbox {
            for name in entry.pending.keys() {
                notifiers.entry(name.clone()).or_default().pending += 1;
            }
        }
        for letter in &state.dead_letters {
            notifiers
                .entry(letter.notifier.clone())
                .or_default()
                .dead_letters += 1;
        }
        Summary {
            leading: None,
            clusters: Vec::new(),
            objects: BTreeMap::new(),
            incidents,
            notifiers,
        }
    }
}

/// The incidents as a table for a terminal.
pub fn incidents_table(incidents: &Incidents) -> String {
    if incidents.incidents.is_empty() {
        return "no open incidents\n".to_owned();
    }
    let mut rows = vec![[
        "CLUSTER".to_owned(),
        "KIND".to_owned(),
        "OBJECT".to_owned(),
        "REASON".to_owned(),
        "SINCE".to_owned(),
        "NOTIFIED".to_owned(),
        "FOLDED INTO".to_owned(),
    ]];
    for r in &incidents.incidents {
        let k = &r.key;
        let folded = r.folded_into.as_ref().map_or_else(
            || "-".to_owned(),
            |u| format!("{}/{}/{}", u.kind, u.namespace, u.name),
        );
        rows.push([
            k.cluster.clone(),
            k.kind.clone(),
            format!("{}/{}", k.namespace, k.name),
            r.reason.clone(),
            r.started.to_string(),
            format!("{}×", r.occurrence),
            folded,
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The summary as a few lines for a terminal.
pub fn summary_text(summary: &Summary) -> String {
    let mut out = String::new();
    for c in &summary.clusters {
        let state = match (&c.error, c.synced) {
            (Some(e), _) => format!("unreachable: {e}"),
            (None, true) => "synced".to_owned(),
            (None, false) => "syncing".to_owned(),
        };
        out.push_str(&format!(
            "cluster {}: {state}, {} objects",
            c.name, c.objects
        ));
        if !c.unobserved.is_empty() {
            out.push_str(&format!(", not readable: {}", c.unobserved.join(", ")));
        }
        out.push('\n');
    }
    let i = &summary.incidents;
    out.push_str(&format!(
        "incidents: {} open ({} folded into an upstream)\n",
        i.open, i.folded
    ));
    for (name, n) in &summary.notifiers {
        out.push_str(&format!(
            "notifier {name}: {} sent, {} failed attempts, {} pending, {} refused\n",
            n.sent, n.failed, n.pending, n.dead_letters
        ));
    }
    out
}
