//! What `fluxbrain status` and the `/v1` endpoints show: the open incidents, and a summary of
//! clusters, objects, incidents and notifiers.
//!
//! A running instance knows everything; a state store alone knows the incidents and the
//! notifiers (its cluster and object fields are then empty).

use std::collections::BTreeMap;

use fluxbrain_core::{Control, IncidentRecord, ResolvedIncident, State, Time};
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

/// The resolved incidents the state keeps, newest first (what `status --history` and
/// `/v1/history` show).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Newest first.
    pub resolved: Vec<ResolvedIncident>,
}

impl History {
    /// The history of `state`, newest first.
    pub fn of(state: &State) -> Self {
        History {
            resolved: state.history.iter().rev().cloned().collect(),
        }
    }
}

/// One incident, open or resolved, with its timeline (what `status INCIDENT` and
/// `/v1/incidents/{id}` show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OneIncident {
    /// Still open.
    Open(Box<IncidentRecord>),
    /// In the history.
    Resolved(Box<ResolvedIncident>),
}

/// Why [`OneIncident::find`] found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFound {
    /// No incident has that id.
    None,
    /// Several ids start with it.
    Ambiguous,
}

impl OneIncident {
    /// The incident whose id is `id` or starts with it, open or in the history.
    pub fn find(state: &State, id: &str) -> Result<OneIncident, NotFound> {
        let id = id.trim();
        if id.is_empty() {
            return Err(NotFound::None);
        }
        let mut found: Vec<OneIncident> = state
            .incidents
            .values()
            .filter(|r| r.id.starts_with(id))
            .map(|r| OneIncident::Open(Box::new(r.clone())))
            .collect();
        found.extend(
            state
                .history
                .iter()
                .rev()
                .filter(|r| r.id.starts_with(id))
                .map(|r| OneIncident::Resolved(Box::new(r.clone()))),
        );
        if let Some(exact) = found.iter().position(|f| f.id() == id) {
            return Ok(found.swap_remove(exact));
        }
        match found.len() {
            0 => Err(NotFound::None),
            1 => Ok(found.remove(0)),
            _ => Err(NotFound::Ambiguous),
        }
    }

    /// Its id.
    pub fn id(&self) -> &str {
        match self {
            OneIncident::Open(r) => &r.id,
            OneIncident::Resolved(r) => &r.id,
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
    /// Sharded by cluster: the replica holding its Lease (none while it moves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Since when that replica holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_since: Option<fluxbrain_core::Time>,
    /// Sharded by cluster: watched by another replica, so not by this one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub elsewhere: bool,
}

impl From<&ClusterStatus> for ClusterSummary {
    fn from(status: &ClusterStatus) -> Self {
        ClusterSummary {
            name: status.name.clone(),
            synced: status.synced,
            objects: status.objects as u64,
            unobserved: status.unobserved.iter().map(ToString::to_string).collect(),
            error: status.error.clone(),
            owner: None,
            owner_since: None,
            elsewhere: false,
        }
    }
}

impl ClusterSummary {
    /// A cluster another replica watches (or none, while it moves).
    pub fn elsewhere(name: String, holder: fluxbrain_kube::fleet::Holder) -> Self {
        ClusterSummary {
            name,
            synced: false,
            objects: 0,
            unobserved: Vec::new(),
            error: None,
            owner: holder.replica,
            owner_since: holder.since,
            elsewhere: true,
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
    /// Open incidents a silence or annotation holds back.
    #[serde(default)]
    pub silenced: u64,
    /// Open incidents someone acknowledged.
    #[serde(default)]
    pub acknowledged: u64,
    /// Resolved incidents in the history.
    #[serde(default)]
    pub resolved_kept: u64,
    /// Silences in effect.
    #[serde(default)]
    pub silences_active: u64,
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
            incidents.silenced += u64::from(record.silenced.is_some());
            incidents.acknowledged += u64::from(record.ack.is_some());
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
        incidents.resolved_kept = state.history.len() as u64;
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
impl Summary {
    /// Counts the silences in effect at `now`.
    pub fn with_control(mut self, control: &Control, now: Time) -> Self {
        self.incidents.silences_active =
            control.silences.iter().filter(|s| s.active(now)).count() as u64;
        self
    }
}

/// Rows as a left-aligned table (the first row is the header).
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
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

/// The first 8 characters of an incident id: enough for `fluxbrain ack` and `status ID`.
pub fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

pub fn incidents_table(incidents: &Incidents) -> String {
    if incidents.incidents.is_empty() {
        return "no open incidents\n".to_owned();
    }
    let mut rows = vec![[
        "ID".to_owned(),
        "CLUSTER".to_owned(),
        "KIND".to_owned(),
        "OBJECT".to_owned(),
        "REASON".to_owned(),
        "SINCE".to_owned(),
        "NOTIFIED".to_owned(),
        "FOLDED INTO".to_owned(),
        "OPERATORS".to_owned(),
    ]];
    for r in &incidents.incidents {
        let k = &r.key;
        let folded = r.folded_into.as_ref().map_or_else(
            || "-".to_owned(),
            |u| format!("{}/{}/{}", u.kind, u.namespace, u.name),
        );
        let mut said = Vec::new();
        if let Some(by) = &r.silenced {
            said.push(match by.until() {
                Some(until) => format!("silenced ({}) until {until}", by.label()),
                None => format!("silenced ({})", by.label()),
            });
        }
        if let Some(ack) = &r.ack {
            said.push(format!("acked by {}", ack.by));
        }
        let notified = match (r.fired, &r.folded_into) {
            (true, _) => format!("{}×", r.occurrence),
            // Told in its upstream's notifications.
            (false, Some(_)) => "-".to_owned(),
            (false, None) => "not yet".to_owned(),
        };
        rows.push([
            short_id(&r.id),
            k.cluster.clone(),
            k.kind.clone(),
            format!("{}/{}", k.namespace, k.name),
            r.reason.clone(),
            r.started.to_string(),
            notified,
            folded,
            if said.is_empty() {
                "-".to_owned()
            } else {
                said.join(", ")
            },
        ]);
    }
    table(&rows)
}

/// The history as a table, newest first.
pub fn history_table(history: &History) -> String {
    if history.resolved.is_empty() {
        return "no resolved incidents kept\n".to_owned();
    }
    let mut rows = vec![[
        "ID".to_owned(),
        "CLUSTER".to_owned(),
        "KIND".to_owned(),
        "OBJECT".to_owned(),
        "REASON".to_owned(),
        "STARTED".to_owned(),
        "RESOLVED".to_owned(),
        "HOW".to_owned(),
        "ANNOUNCED".to_owned(),
    ]];
    for r in &history.resolved {
        rows.push([
            short_id(&r.id),
            r.key.cluster.clone(),
            r.key.kind.clone(),
            format!("{}/{}", r.key.namespace, r.key.name),
            r.reason.clone(),
            r.started.to_string(),
            r.resolved.to_string(),
            r.resolution.as_str().to_owned(),
            if r.announced { "yes" } else { "no" }.to_owned(),
        ]);
    }
    table(&rows)
}

/// One incident and its timeline, for people.
pub fn timeline_text(incident: &OneIncident) -> String {
    use fluxbrain_core::Happened as H;
    let (key, id, reason, started, timeline, ack) = match incident {
        OneIncident::Open(r) => (&r.key, &r.id, &r.reason, r.started, &r.timeline, &r.ack),
        OneIncident::Resolved(r) => (&r.key, &r.id, &r.reason, r.started, &r.timeline, &r.ack),
    };
    let mut out = format!("incident {id}\n{key}\nreason {reason}, started {started}\n");
    match incident {
        OneIncident::Open(r) => {
            out.push_str("state: open");
            if let Some(by) = &r.silenced {
                out.push_str(&format!(", silenced by {}", by.label()));
            }
            out.push('\n');
        }
        OneIncident::Resolved(r) => out.push_str(&format!(
            "state: resolved ({}) at {}\n",
            r.resolution.as_str(),
            r.resolved
        )),
    }
    if let Some(ack) = ack {
        out.push_str(&format!("acknowledged by {} at {}", ack.by, ack.at));
        if let Some(c) = &ack.comment {
            out.push_str(&format!(": {c}"));
        }
        out.push('\n');
    }
    out.push_str("timeline:\n");
    for m in timeline {
        let what = match &m.what {
            H::Opened { reason } => format!("first seen failing ({reason})"),
            H::Folded { into } => format!("folded into its failing upstream {into}"),
            H::Unfolded => "its upstream recovered; on its own now".to_owned(),
            H::Announced => "firing queued".to_owned(),
            H::Updated { joined, left } => format!(
                "update queued (joined: {}; left: {})",
                list(joined),
                list(left)
            ),
            H::Reminded { occurrence } => format!("reminder {occurrence} queued"),
            H::Acknowledged { by, comment } => match comment {
                Some(c) => format!("acknowledged by {by}: {c}"),
                None => format!("acknowledged by {by}"),
            },
            H::Silenced { by, until } => match until {
                Some(until) => format!("silenced by {by} until {until}"),
                None => format!("silenced by {by}"),
            },
            H::Unsilenced => "no longer silenced".to_owned(),
            H::Delivered {
                notifier,
                notification,
            } => format!("{notifier} delivered {}", notification_kind(notification)),
            H::DeadLettered {
                notifier,
                notification,
                error,
            } => format!(
                "{notifier} refused {} for good: {error}",
                notification_kind(notification)
            ),
            H::Resolved { resolution } => format!("resolved ({})", resolution.as_str()),
        };
        out.push_str(&format!("  {}  {what}\n", m.at));
    }
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// `firing 1`, `reminder 2`, ... from a notification id `<incident>:<kind>:<n>`.
fn notification_kind(id: &str) -> String {
    let mut parts = id.rsplitn(3, ':');
    match (parts.next(), parts.next()) {
        (Some(n), Some(kind)) => format!("{kind} {n}"),
        _ => id.to_owned(),
    }
}

/// The summary as a few lines for a terminal.
pub fn summary_text(summary: &Summary) -> String {
    let mut out = String::new();
    for c in &summary.clusters {
        let owner = match (&c.owner, &c.owner_since) {
            (Some(owner), Some(since)) => format!(" (owner {owner} since {since})"),
            (Some(owner), None) => format!(" (owner {owner})"),
            (None, _) if c.elsewhere => " (no owner: moving)".to_owned(),
            (None, _) => String::new(),
        };
        if c.elsewhere {
            out.push_str(&format!(
                "cluster {}: watched by another replica{owner}\n",
                c.name
            ));
            continue;
        }
        let state = match (&c.error, c.synced) {
            (Some(e), _) => format!("unreachable: {e}"),
            (None, true) => "synced".to_owned(),
            (None, false) => "syncing".to_owned(),
        };
        out.push_str(&format!(
            "cluster {}: {state}, {} objects{owner}",
            c.name, c.objects
        ));
        if !c.unobserved.is_empty() {
            out.push_str(&format!(", not readable: {}", c.unobserved.join(", ")));
        }
        out.push('\n');
    }
    let i = &summary.incidents;
    out.push_str(&format!(
        "incidents: {} open ({} folded into an upstream, {} silenced, {} acknowledged), {} resolved kept\n",
        i.open, i.folded, i.silenced, i.acknowledged, i.resolved_kept
    ));
    if i.silences_active > 0 {
        out.push_str(&format!(
            "silences: {} active (fluxbrain silence list)\n",
            i.silences_active
        ));
    }
    for (name, n) in &summary.notifiers {
        out.push_str(&format!(
            "notifier {name}: {} sent, {} failed attempts, {} pending, {} refused\n",
            n.sent, n.failed, n.pending, n.dead_letters
        ));
    }
    out
}
