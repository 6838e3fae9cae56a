//! One cycle of the policy over every object: decisions applied, notifications due.

use std::collections::{BTreeMap, BTreeSet};

use crate::errorbrain::ErrorEvent;
use crate::event::Incident;
use crate::notification::{
    AffectedChange, AffectedObject, Notification, NotificationKind, Resolution,
};
use crate::time::Time;

use super::decide::{Decision, DecisionKind, Mute, Observed, PolicyConfig, decide};
use super::incident::{IncidentKey, IncidentRecord, SilencedBy};
use super::timeline::{self, Happened, ResolvedIncident};
use crate::control::Ack;

/// What operators say about one incident this cycle (see [`crate::control`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Controls {
    /// What holds back its notifications, if anything.
    pub silenced: Option<SilencedBy>,
    /// Its acknowledgement, if any.
    pub ack: Option<Ack>,
}

/// A notification decided this cycle, before its affected list is filled in.
struct Due {
    key: IncidentKey,
    kind: NotificationKind,
    event: ErrorEvent,
    incident_id: String,
    occurrence: u32,
    ack: Option<Ack>,
}

/// The outcome of one cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Notifications, in key order (a superseded incident's resolution before its successor's
    /// firing).
    pub due: Vec<Notification>,
    /// How many objects each decision applied to, for logs and metrics.
    pub decisions: BTreeMap<DecisionKind, usize>,
    /// The incidents that ended, with their timelines, for the history.
    pub resolved: Vec<ResolvedIncident>,
    /// How many open incidents operators silenced, unsilenced or acknowledged since the last
    /// cycle (a change to save even when every decision was quiet).
    pub controls_changed: usize,
}

/// Applies the policy to every object of one cycle.
///
/// - `records`: the open incidents, updated in place;
/// - `observed`: what each object showed (healthy ones may be left out when they have no
///   record);
/// - `absent_means_deleted`: whether a record missing from `observed` is gone (its cluster and
///   kind were fully read) rather than unobserved;
/// - `event`: builds the event of a failing object for the given incident facts (`None` for a
///   new incident); `None` when it cannot (the object is not failing after all);
/// - `controls`: what operators say about an incident (its silence and acknowledgement).
pub fn plan(
    records: &mut BTreeMap<IncidentKey, IncidentRecord>,
    observed: &BTreeMap<IncidentKey, Observed>,
    absent_means_deleted: &dyn Fn(&IncidentKey) -> bool,
    now: Time,
    config: &PolicyConfig,
    event: &mut dyn FnMut(&IncidentKey, Option<Incident>) -> Option<ErrorEvent>,
    controls: &dyn Fn(&IncidentRecord) -> Controls,
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
    // Affected lists are filled in afterwards.
    let mut pending: Vec<Due> = Vec::new();
    for key in keys {
        let seen = observed.get(&key);
        let mute = match records.get_mut(&key) {
            Some(record) => {
                let said = controls(record);
                let (mute, changed) = apply_controls(record, said, now);
                plan.controls_changed += usize::from(changed);
                mute
            }
            None => Mute::default(),
        };
        let decision = decide(records.get(&key), seen, now, config, mute);
        *plan.decisions.entry(decision.kind()).or_default() += 1;
        match decision {
            Decision::Quiet => {}
            Decision::Fire => {
                let hold = hold_until(now, config, None);
                open(
                    records,
                    &key,
                    None,
                    hold,
                    now,
                    event,
                    controls,
                    &mut pending,
                );
            }
            Decision::Fold(root) => match records.get_mut(&key) {
                Some(record) => {
                    timeline::push(
                        &mut record.timeline,
                        now,
                        Happened::Folded {
                            into: root.object(),
                        },
                    );
                    record.folded_into = Some(root);
                    record.hold_until = None;
                }
                None => open(
                    records,
                    &key,
                    Some(root),
                    None,
                    now,
                    event,
                    controls,
                    &mut pending,
                ),
            },
            Decision::Unfold | Decision::Announce => {
                if let Some(record) = records.get_mut(&key) {
                    if record.folded_into.take().is_some() {
                        timeline::push(&mut record.timeline, now, Happened::Unfolded);
                    }
                    record.hold_until = None;
                    // Silenced: announced when the silence ends.
                    if !record.fired && record.silenced.is_none() {
                        let incident = Incident {
                            started: record.started,
                            occurrence: record.occurrence,
                        };
                        if let Some(ev) = event(&key, Some(incident)) {
                            record.fired = true;
                            record.last_notified = now;
                            record.event = trimmed(&ev);
                            timeline::push(&mut record.timeline, now, Happened::Announced);
                            pending.push(Due {
                                key: key.clone(),
                                kind: NotificationKind::Firing,
                                event: ev,
                                incident_id: record.id.clone(),
                                occurrence: record.occurrence,
                                ack: record.ack.clone(),
                            });
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
                        timeline::push(
                            &mut record.timeline,
                            now,
                            Happened::Reminded {
                                occurrence: record.occurrence,
                            },
                        );
                        pending.push(Due {
                            key: key.clone(),
                            kind: NotificationKind::Reminder,
                            event: ev,
                            incident_id: record.id.clone(),
                            occurrence: record.occurrence,
                            ack: record.ack.clone(),
                        });
                    }
                }
            }
            Decision::Supersede { fold_into } => {
                let closed = close(records, &key, Resolution::Superseded, now, &mut pending);
                // A successor of an incident still held keeps its hold: a revision that moves
                // on every cycle never postpones the announcement.
                let held = closed.as_ref().and_then(|r| r.hold_until);
                plan.resolved
                    .extend(closed.map(|r| resolved(r, now, Resolution::Superseded)));
                let hold = match fold_into {
                    Some(_) => None,
                    None => hold_until(now, config, held),
                };
                open(
                    records,
                    &key,
                    fold_into,
                    hold,
                    now,
                    event,
                    controls,
                    &mut pending,
                );
            }
            Decision::Resolve(resolution) => {
                let closed = close(records, &key, resolution, now, &mut pending);
                plan.resolved
                    .extend(closed.map(|r| resolved(r, now, resolution)));
            }
        }
    }

    let folded_now = folded_map(records);
    updates(records, &folded_now, now, config, &mut pending);
    for Due {
        key,
        kind,
        event: ev,
        incident_id,
        occurrence,
        ack,
    } in pending
    {
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
                    let joined = difference(&listed, &record.announced);
                    let left = difference(&record.announced, &listed);
                    timeline::push(
                        &mut record.timeline,
                        now,
                        Happened::Updated {
                            joined: joined.clone(),
                            left: left.clone(),
                        },
                    );
                    change = Some(AffectedChange { joined, left });
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
            acknowledged: ack,
            analysis: None,
        });
    }
    plan
}

/// Brings the record's silence and acknowledgement up to what operators say now, noting each
/// change in its timeline; what it means for the decision, and whether anything changed.
fn apply_controls(record: &mut IncidentRecord, controls: Controls, now: Time) -> (Mute, bool) {
    let changed = controls.silenced != record.silenced || controls.ack != record.ack;
    if controls.silenced != record.silenced {
        let what = match &controls.silenced {
            Some(by) => Happened::Silenced {
                by: by.label(),
                until: by.until(),
            },
            None => Happened::Unsilenced,
        };
        // A silence that is merely extended (same silence, later end) is noted too.
        timeline::push(&mut record.timeline, now, what);
        record.silenced = controls.silenced;
    }
    if controls.ack != record.ack {
        if let Some(ack) = &controls.ack {
            timeline::push(
                &mut record.timeline,
                ack.at,
                Happened::Acknowledged {
                    by: ack.by.clone(),
                    comment: ack.comment.clone(),
                },
            );
        }
        record.ack = controls.ack;
    }
    let mute = Mute {
        silenced: record.silenced.is_some(),
        acknowledged: record.ack.is_some(),
    };
    (mute, changed)
}

/// The history's copy of a closed incident.
fn resolved(record: IncidentRecord, now: Time, resolution: Resolution) -> ResolvedIncident {
    ResolvedIncident {
        key: record.key,
        id: record.id,
        fingerprint: record.fingerprint,
        reason: record.reason,
        message: record.event.message,
        started: record.started,
        resolved: now,
        resolution,
        announced: record.fired,
        occurrence: record.occurrence,
        ack: record.ack,
        timeline: record.timeline,
    }
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
    pending: &mut Vec<Due>,
) {
    let Some(interval) = config.group_interval.filter(|i| !i.is_zero()) else {
        return;
    };
    let interval = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX / 2);
    for record in records.values() {
        if !record.fired || record.folded_into.is_some() || record.silenced.is_some() {
            continue;
        }
        // Listed by a firing or reminder of this very cycle.
        if pending.iter().any(|d| d.key == record.key) {
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
        pending.push(Due {
            key: record.key.clone(),
            kind: NotificationKind::Updated,
            event: record.event.clone(),
            incident_id: record.id.clone(),
            occurrence: record.occurrence,
            ack: record.ack.clone(),
        });
    }
}

/// The earliest time at which [`plan`] has something to do that no change of the cluster will
/// prompt: an incident held for the group wait to announce, an update whose interval ends, a
/// silence that ends. Not reminders, which the caller's periodic step covers.
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
            if let Some(silenced) = &r.silenced {
                return silenced.until();
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

/// Opens an incident for `key`: announced on its own (at once, or when `hold` ends, or when
/// the silence that matches it ends), or folded into `fold_into`.
#[allow(clippy::too_many_arguments)]
fn open(
    records: &mut BTreeMap<IncidentKey, IncidentRecord>,
    key: &IncidentKey,
    fold_into: Option<IncidentKey>,
    hold: Option<Time>,
    now: Time,
    event: &mut dyn FnMut(&IncidentKey, Option<Incident>) -> Option<ErrorEvent>,
    controls: &dyn Fn(&IncidentRecord) -> Controls,
    pending: &mut Vec<Due>,
) {
    let Some(ev) = event(key, None) else {
        return;
    };
    let reason = ev.error_type.clone().unwrap_or_default();
    let mut record = IncidentRecord {
        key: key.clone(),
        id: ev.id.clone(),
        fingerprint: ev.metadata.fingerprint,
        reason: reason.clone(),
        started: ev.metadata.incident.started,
        last_notified: now,
        occurrence: 1,
        folded_into: None,
        fired: false,
        hold_until: None,
        announced: Vec::new(),
        announced_at: None,
        updates: 0,
        ack: None,
        silenced: None,
        timeline: Vec::new(),
        event: trimmed(&ev),
    };
    timeline::push(&mut record.timeline, now, Happened::Opened { reason });
    if let Some(root) = &fold_into {
        timeline::push(
            &mut record.timeline,
            now,
            Happened::Folded {
                into: root.object(),
            },
        );
    }
    let said = controls(&record);
    let (mute, _) = apply_controls(&mut record, said, now);
    let fired = fold_into.is_none() && hold.is_none_or(|until| now >= until) && !mute.silenced;
    record.folded_into = fold_into;
    record.fired = fired;
    record.hold_until = if fired { None } else { hold };
    if fired {
        timeline::push(&mut record.timeline, now, Happened::Announced);
        pending.push(Due {
            key: key.clone(),
            kind: NotificationKind::Firing,
            incident_id: ev.id.clone(),
            event: ev,
            occurrence: 1,
            ack: None,
        });
    }
    records.insert(key.clone(), record);
}

/// Closes the incident of `key`; announces it if it fired (one never announced ends without
/// a word). Returns what it was.
fn close(
    records: &mut BTreeMap<IncidentKey, IncidentRecord>,
    key: &IncidentKey,
    resolution: Resolution,
    now: Time,
    pending: &mut Vec<Due>,
) -> Option<IncidentRecord> {
    let mut record = records.remove(key)?;
    timeline::push(&mut record.timeline, now, Happened::Resolved { resolution });
    if record.fired {
        pending.push(Due {
            key: key.clone(),
            kind: NotificationKind::Resolved(resolution),
            event: record.event.clone(),
            incident_id: record.id.clone(),
            occurrence: record.occurrence,
            ack: record.ack.clone(),
        });
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
