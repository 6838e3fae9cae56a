//! One cycle of the policy over every object: decisions applied, notifications due.

use std::collections::{BTreeMap, BTreeSet};

use crate::errorbrain::ErrorEvent;
use crate::event::Incident;
use crate::notification::{
    AffectedChange, AffectedObject, Notification, NotificationKind, Resolution,
};
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
            Decision::Fire => {
                let hold = hold_until(now, config, None);
                open(records, &key, None, hold, now, event, &mut pending);
            }
            Decision::Fold(root) => match records.get_mut(&key) {
                Some(record) => {
                    record.folded_into = Some(root);
                    record.hold_until = None;
                }
                None => open(records, &key, Some(root), None, now, event, &mut pending),
            },
            Decision::Unfold | Decision::Announce => {
                if let Some(record) = records.get_mut(&key) {
                    record.folded_into = None;
                    record.hold_until = None;
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
                let closed = close(records, &key, Resolution::Superseded, &mut pending);
                // A successor of an incident still held keeps its hold: a revision that moves
                // on every cycle never postpones the announcement.
                let held = closed.and_then(|r| r.hold_until);
                let hold = match fold_into {
                    Some(_) => None,
                    None => hold_until(now, config, held),
                };
                open(records, &key, fold_into, hold, now, event, &mut pending);
            }
            Decision::Resolve(resolution) => {
                close(records, &key, resolution, &mut pending);
            }
        }
    }

    let folded_now = folded_map(records);
    updates(records, &folded_now, now, config, &mut pending);
    for (key, kind, ev, incident_id, occurrence) in pending {
        let affected_from = match kind {
            NotificationKind::Resolved(_) => &folded_before,
            _ => &folded_now,
        };
        let affected: Vec<AffectedObject> = affected_from
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
        let mut change = None;
        let mut number = occurrence;
        if let Some(record) = records.get_mut(&key) {
            let listed: Vec<String> = affected.iter().map(|a| a.key.clone()).collect();
            match kind {
                NotificationKind::Firing | NotificationKind::Reminder => {
                    record.announced = listed;
                    record.announced_at = Some(now);
                }
                NotificationKind::Updated => {
                    change = Some(AffectedChange {
                        joined: difference(&listed, &record.announced),
                        left: difference(&record.announced, &listed),
                    });
                    record.updates += 1;
                    number = record.updates;
                    record.announced = listed;
                    record.announced_at = Some(now);
                }
                NotificationKind::Resolved(_) => {}
            }
        }
        plan.due.push(Notification {
            id: Notification::id_for(&incident_id, kind, number),
            kind,
            incident_id,
            occurrence,
            at: now,
            event: ev,
            affected,
            change,
            analysis: None,
        });
    }
    plan
}

/// When a new incident failing on its own is announced: after the group wait, counted from
/// `held` when it succeeds a held one; `None` (at once) without a group wait.
fn hold_until(now: Time, config: &PolicyConfig, held: Option<Time>) -> Option<Time> {
    if config.group_wait.is_zero() {
        return None;
    }
    let wait = i64::try_from(config.group_wait.as_secs()).unwrap_or(i64::MAX / 2);
    Some(held.unwrap_or_else(|| now.add_seconds(wait)))
}

/// `updated` notifications: every announced incident whose downstream objects differ from
/// what it last listed, once the group interval since that listing has passed.
fn updates(
    records: &BTreeMap<IncidentKey, IncidentRecord>,
    folded_now: &BTreeMap<IncidentKey, Vec<IncidentKey>>,
    now: Time,
    config: &PolicyConfig,
    pending: &mut Vec<(IncidentKey, NotificationKind, ErrorEvent, String, u32)>,
) {
    let Some(interval) = config.group_interval.filter(|i| !i.is_zero()) else {
        return;
    };
    let interval = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX / 2);
    for record in records.values() {
        if !record.fired || record.folded_into.is_some() {
            continue;
        }
        // Listed by a firing or reminder of this very cycle.
        if pending.iter().any(|(k, ..)| *k == record.key) {
            continue;
        }
        let mut current: Vec<String> = folded_now
            .get(&record.key)
            .map(|keys| keys.iter().map(IncidentKey::object).collect())
            .unwrap_or_default();
        current.sort();
        if current == record.announced {
            continue;
        }
        let since = record.announced_at.unwrap_or(record.last_notified);
        if now < since.add_seconds(interval) {
            continue;
        }
        pending.push((
            record.key.clone(),
            NotificationKind::Updated,
            record.event.clone(),
            record.id.clone(),
            record.occurrence,
        ));
    }
}

/// The earliest time at which [`plan`] has something to do that no change of the cluster will
/// prompt: an incident held for the group wait to announce, an update whose interval ends. Not
/// reminders, which the caller's periodic step covers.
pub fn next_deadline(
    records: &BTreeMap<IncidentKey, IncidentRecord>,
    config: &PolicyConfig,
) -> Option<Time> {
    let folded = folded_map(records);
    let interval = config
        .group_interval
        .filter(|i| !i.is_zero())
        .map(|i| i64::try_from(i.as_secs()).unwrap_or(i64::MAX / 2));
    records
        .values()
        .filter_map(|r| {
            if r.folded_into.is_some() {
                return None;
            }
            if !r.fired {
                return r.hold_until;
            }
            let mut current: Vec<String> = folded
                .get(&r.key)
                .map(|keys| keys.iter().map(IncidentKey::object).collect())
                .unwrap_or_default();
            current.sort();
            (current != r.announced)
                .then(|| interval.map(|i| r.announced_at.unwrap_or(r.last_notified).add_seconds(i)))
                .flatten()
        })
        .min()
}

/// The items of `a` not in `b` (both sorted).
fn difference(a: &[String], b: &[String]) -> Vec<String> {
    a.iter()
        .filter(|x| b.binary_search(x).is_err())
        .cloned()
        .collect()
}

/// Opens an incident for `key`: announced on its own (at once, or when `hold` ends), or
/// folded into `fold_into`.
fn open(
    records: &mut BTreeMap<IncidentKey, IncidentRecord>,
    key: &IncidentKey,
    fold_into: Option<IncidentKey>,
    hold: Option<Time>,
    now: Time,
    event: &mut dyn FnMut(&IncidentKey, Option<Incident>) -> Option<ErrorEvent>,
    pending: &mut Vec<(IncidentKey, NotificationKind, ErrorEvent, String, u32)>,
) {
    let Some(ev) = event(key, None) else {
        return;
    };
    let fired = fold_into.is_none() && hold.is_none_or(|until| now >= until);
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
            hold_until: if fired { None } else { hold },
            announced: Vec::new(),
            announced_at: None,
            updates: 0,
            event: trimmed(&ev),
        },
    );
    if fired {
        let id = ev.id.clone();
        pending.push((key.clone(), NotificationKind::Firing, ev, id, 1));
    }
}

/// Closes the incident of `key`; announces it if it fired (one never announced ends without
/// a word). Returns what it was.
fn close(
    records: &mut BTreeMap<IncidentKey, IncidentRecord>,
    key: &IncidentKey,
    resolution: Resolution,
    pending: &mut Vec<(IncidentKey, NotificationKind, ErrorEvent, String, u32)>,
) -> Option<IncidentRecord> {
    let record = records.remove(key)?;
    if record.fired {
        pending.push((
            key.clone(),
            NotificationKind::Resolved(resolution),
            record.event.clone(),
            record.id.clone(),
            record.occurrence,
        ));
    }
    Some(record)
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
