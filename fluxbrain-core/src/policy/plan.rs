//! One cycle of the policy over every object: decisions applied, notifications due.

use std::collections::{BTreeMap, BTreeSet};

use crate::errorbrain::ErrorEvent;
use crate::event::Incident;
use crate::notification::{AffectedObject, Notification, NotificationKind, Resolution};
use crate::time::Time;

use super::decide::{Decision, DecisionKind, Observed, PolicyConfig, decide};
use super::incident::{IncidentKey, IncidentRecord};

/// The outcome of one cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Notifications, in key order (a superseded incident's resolution before its successor's
    /// firing).
    pub due: Vec<Notification>,
    /// How many objects each decision applied to, for logs and metrics.
    pub decisions: BTreeMap<DecisionKind, usize>,
}

/// Applies the policy to every object of one cycle.
///
/// - `records`: the open incidents, updated in place;
/// - `observed`: what each object showed (healthy ones may be left out when they have no
///   record);
/// - `absent_means_deleted`: whether a record missing from `observed` is gone (its cluster and
///   kind were fully read) rather than unobserved;
/// - `event`: builds the event of a failing object for the given incident facts (`None` for a
///   new incident); `None` when it cannot (the object is not failing after all).
pub fn plan(
    records: &mut BTreeMap<IncidentKey, IncidentRecord>,
    observed: &BTreeMap<IncidentKey, Observed>,
    absent_means_deleted: &dyn Fn(&IncidentKey) -> bool,
    now: Time,
    config: &PolicyConfig,
    event: &mut dyn FnMut(&IncidentKey, Option<Incident>) -> Option<ErrorEvent>,
) -> Plan {
    let mut keys: BTreeSet<IncidentKey> = observed
        .iter()
        .filter(|(_, o)| o.health == crate::model::health::Health::Failing)
        .map(|(k, _)| k.clone())
        .collect();
    keys.extend(
        records
            .keys()
            .filter(|k| observed.contains_key(*k) || absent_means_deleted(k))
            .cloned(),
    );
    // Who was folded into whom before this cycle, for the affected lists of resolutions.
    let folded_before = folded_map(records);

    let mut plan = Plan::default();
    // (key, kind, incident id, occurrence, event); affected lists are filled in afterwards.
    let mut pending: Vec<(IncidentKey, NotificationKind, ErrorEvent, String, u32)> = Vec::new();
    for key in keys {
        let seen = observed.get(&key);
        let decision = decide(records.get(&key), seen, now, config);
        *plan.decisions.entry(decision.kind()).or_default() += 1;
        match decision {
            Decision::Quiet => {}
            Decision::Fire => open(records, &key, None, now, event, &mut pending),
            Decision::Fold(root) => match records.get_mut(&key) {
                Some(record) => record.folded_into = Some(root),
                None => open(records, &key, Some(root), now, event, &mut pending),
            },
            Decision::Unfold => {
                if let Some(record) = records.get_mut(&key) {
                    record.folded_into = None;
                    if !record.fired {
                        let incident = Incident {
                            started: record.started,
                            occurrence: record.occurrence,
                        };
                        if let Some(ev) = event(&key, Some(incident)) {
                            record.fired = true;
                            record.last_notified = now;
                            record.event = trimmed(&ev);
                            pending.push((
                                key.clone(),
                                NotificationKind::Firing,
                                ev,
                                record.id.clone(),
                                record.occurrence,
                            ));
                        }
                    }
                }
            }
            Decision::Remind => {
                if let Some(record) = records.get_mut(&key) {
                    let incident = Incident {
                        started: record.started,
                        occurrence: record.occurrence + 1,
                    };
                    if let Some(ev) = event(&key, Some(incident)) {
                        record.occurrence += 1;
                        record.last_notified = now;
                        record.event = trimmed(&ev);
                        pending.push((
                            key.clone(),
                            NotificationKind::Reminder,
                            ev,
                            record.id.clone(),
                            record.occurrence,
                        ));
                    }
                }
            }
            Decision::Supersede { fold_into } => {
                close(records, &key, Resolution::Superseded, &mut pending);
                open(records, &key, fold_into, now, event, &mut pending);
            }
            Decision::Resolve(resolution) => close(records, &key, resolution, &mut pending),
        }
    }

    let folded_now = folded_map(records);
    for (key, kind, ev, incident_id, occurrence) in pending {
        let affected_from = match kind {
            NotificationKind::Resolved(_) => &folded_before,
            _ => &folded_now,
        };
        let affected = affected_from
            .get(&key)
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| {
                        let r = records.get(k)?;
                        Some(AffectedObject {
                            key: k.object(),
                            reason: r.reason.clone(),
                            fingerprint: r.fingerprint,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        plan.due.push(Notification {
            id: Notification::id_for(&incident_id, kind, occurrence),
            kind,
            incident_id,
            occurrence,
            at: now,
            event: ev,
            affected,
            analysis: None,
        });
    }
    plan
}

/// Opens an incident for `key`: announced on its own, or folded into `fold_into`.
fn open(
    records: &mut BTreeMap<IncidentKey, IncidentRecord>,
    key: &IncidentKey,
    fold_into: Option<IncidentKey>,
    now: Time,
    event: &mut dyn FnMut(&IncidentKey, Option<Incident>) -> Option<ErrorEvent>,
    pending: &mut Vec<(IncidentKey, NotificationKind, ErrorEvent, String, u32)>,
) {
    let Some(ev) = event(key, None) else {
        return;
    };
    let fired = fold_into.is_none();
    records.insert(
        key.clone(),
        IncidentRecord {
            key: key.clone(),
            id: ev.id.clone(),
            fingerprint: ev.metadata.fingerprint,
            reason: ev.error_type.clone().unwrap_or_default(),
            started: ev.metadata.incident.started,
            last_notified: now,
            occurrence: 1,
            folded_into: fold_into,
            fired,
            event: trimmed(&ev),
        },
    );
    if fired {
        let id = ev.id.clone();
        pending.push((key.clone(), NotificationKind::Firing, ev, id, 1));
    }
}

/// Closes the incident of `key`; announces it if it fired.
fn close(
    records: &mut BTreeMap<IncidentKey, IncidentRecord>,
    key: &IncidentKey,
    resolution: Resolution,
    pending: &mut Vec<(IncidentKey, NotificationKind, ErrorEvent, String, u32)>,
) {
    let Some(record) = records.remove(key) else {
        return;
    };
    if record.fired {
        pending.push((
            key.clone(),
            NotificationKind::Resolved(resolution),
            record.event,
            record.id,
            record.occurrence,
        ));
    }
}

fn folded_map(
    records: &BTreeMap<IncidentKey, IncidentRecord>,
) -> BTreeMap<IncidentKey, Vec<IncidentKey>> {
    let mut map: BTreeMap<IncidentKey, Vec<IncidentKey>> = BTreeMap::new();
    for record in records.values() {
        if let Some(root) = &record.folded_into {
            map.entry(root.clone())
                .or_default()
                .push(record.key.clone());
        }
    }
    map
}

/// The event as an incident record keeps it: without evidence.
fn trimmed(event: &ErrorEvent) -> ErrorEvent {
    let mut event = event.clone();
    event.evidence.clear();
    event
}
