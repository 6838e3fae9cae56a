//! Evidence items: events, log lines and custom facts, bounded and in a total order.

use std::collections::BTreeMap;

use super::messages;
use crate::errorbrain::{
    CustomEvidence, EventEvidence, Evidence, HelmAttemptFacts, HelmHistoryEntry, LogEvidence,
    SourceFacts, TestHookFacts,
};
use crate::model::event::KubeEvent;
use crate::model::kind::Kind;
use crate::model::log::LogLine;
use crate::model::object::FluxObject;
use crate::model::object::{ConditionStatus, HelmAttempt, HelmSnapshot};
use crate::model::snapshot::SnapshotIndex;
use crate::text::export;
use crate::time::Time;

/// At most this many (deduplicated) events per ErrorEvent: the newest.
pub const MAX_EVENTS: usize = 20;
/// At most this many log lines per ErrorEvent: the newest.
pub const MAX_LOG_LINES: usize = 50;

/// Events, then log lines in the failure window `[started, now]`, then custom facts.
pub(super) fn collect(
    index: &SnapshotIndex<'_>,
    object: &FluxObject,
    source: Option<&SourceFacts>,
    started: Time,
    now: Option<Time>,
) -> Vec<Evidence> {
    let mut out = Vec::new();
    out.extend(events(index.events(&object.key)).map(Evidence::Event));
    out.extend(log_lines(index.logs(&object.key), started, now).map(Evidence::LogLine));
    if let Some(source) = source {
        out.push(Evidence::Custom(CustomEvidence::SourceStatus {
            source: source.clone(),
        }));
    }
    if !object.helm_history.is_empty() || object.helm_attempt.is_some() {
        out.push(Evidence::Custom(CustomEvidence::HelmHistory {
            entries: object.helm_history.iter().map(history_entry).collect(),
            attempt: object.helm_attempt.as_deref().map(attempt_facts),
        }));
    }
    out.extend(health_checks(object).map(Evidence::Custom));
    out.extend(drift(index, object).map(Evidence::Custom));
    if let Some(inventory) = &object.inventory {
        out.push(Evidence::Custom(CustomEvidence::Inventory {
            total: inventory.total,
            entries: inventory.first.clone(),
        }));
    }
    out
}

fn history_entry(h: &HelmSnapshot) -> HelmHistoryEntry {
    HelmHistoryEntry {
        version: h.version,
        status: h.status.clone(),
        chart_name: h.chart_name.clone(),
        chart_version: h.chart_version.clone(),
        app_version: h.app_version.clone(),
        first_deployed: h.first_deployed.map(Time::new),
        last_deployed: h.last_deployed.map(Time::new),
        action: h.action.clone(),
        digest: h.digest.clone(),
        config_digest: h.config_digest.clone(),
        oci_digest: h.oci_digest.clone(),
        deleted: h.deleted.map(Time::new),
        test_hooks: h
            .test_hooks
            .iter()
            .map(|t| TestHookFacts {
                name: t.name.clone(),
                phase: t.phase.clone(),
                last_started: t.last_started.map(Time::new),
                last_completed: t.last_completed.map(Time::new),
            })
            .collect(),
    }
}

fn attempt_facts(a: &HelmAttempt) -> HelmAttemptFacts {
    HelmAttemptFacts {
        release_action: a.release_action.clone(),
        revision_digest: a.revision_digest.clone(),
        config_digest: a.config_digest.clone(),
        values_checksum: a.values_checksum.clone(),
        release_revision: a.release_revision,
        failures: a.failures,
        install_failures: a.install_failures,
        upgrade_failures: a.upgrade_failures,
    }
}

/// The objects a failed health check names: in the failing condition's message, else in a
/// `Healthy` condition that is `False` (kustomize-controller keeps the bare list there).
fn health_checks(object: &FluxObject) -> Option<CustomEvidence> {
    let healthy = object
        .condition("Healthy")
        .filter(|c| c.status == ConditionStatus::False);
    [object.failing_condition(), healthy]
        .into_iter()
        .flatten()
        .find_map(|condition| {
            let checks = messages::health_checks(&condition.message)?;
            Some(CustomEvidence::HealthChecks {
                condition: condition.type_.clone(),
                outcome: checks.outcome.to_owned(),
                objects: checks.objects,
            })
        })
}

/// A HelmRelease's drift: detected (the `Drifted` condition when it is `True`, else the
/// newest `DriftDetected` event) and corrected (the newest `DriftCorrected` event).
fn drift<'a>(
    index: &'a SnapshotIndex<'_>,
    object: &'a FluxObject,
) -> impl Iterator<Item = CustomEvidence> + 'a {
    let is_helm = object.key.kind == Kind::HelmRelease;
    let events: &[&KubeEvent] = if is_helm {
        index.events(&object.key)
    } else {
        &[]
    };
    let newest = |reason: &str| {
        events
            .iter()
            .filter(|e| e.reason == reason)
            .max_by_key(|e| e.last.or(e.first))
            .copied()
    };
    let condition = object.drift_condition().filter(|_| is_helm).and_then(|c| {
        let drift = messages::drift_detected(&c.message)?;
        Some(("condition", c.last_transition_time, drift))
    });
    let detected = condition.or_else(|| {
        let event = newest("DriftDetected")?;
        let drift = messages::drift_detected(&event.message)?;
        Some(("event", event.last.or(event.first), drift))
    });
    let corrected = newest("DriftCorrected").and_then(|event| {
        let drift = messages::drift_corrected(&event.message)?;
        Some(("event", event.last.or(event.first), drift))
    });
    [("detected", detected), ("corrected", corrected)]
        .into_iter()
        .filter_map(|(state, found)| {
            let (from, time, drift) = found?;
            Some(CustomEvidence::Drift {
                state: state.to_owned(),
                from: from.to_owned(),
                release: drift.release,
                time: time.map(Time::new),
                objects: drift.objects,
            })
        })
}

/// Events deduplicated by reason and message (counts summed, first/last widened, the other
/// facts from the latest occurrence), sorted by last time, reason and message; the newest
/// [`MAX_EVENTS`].
fn events<'e>(events: &[&'e KubeEvent]) -> impl Iterator<Item = EventEvidence> + use<'e> {
    let mut groups: BTreeMap<(&str, &str), Group<'_>> = BTreeMap::new();
    for &event in events {
        groups
            .entry((event.reason.as_str(), event.message.as_str()))
            .and_modify(|g| g.add(event))
            .or_insert_with(|| Group::new(event));
    }
    let mut merged: Vec<Group<'_>> = groups.into_values().collect();
    merged.sort_by(|a, b| {
        (a.last, &a.latest.reason, &a.latest.message).cmp(&(
            b.last,
            &b.latest.reason,
            &b.latest.message,
        ))
    });
    let skip = merged.len().saturating_sub(MAX_EVENTS);
    merged.into_iter().skip(skip).map(|g| EventEvidence {
        event_type: g.latest.type_.clone(),
        reason: g.latest.reason.clone(),
        message: export(&g.latest.message),
        count: g.count,
        first_time: g.first.map(Time::new),
        last_time: g.last.map(Time::new),
        reporting_controller: g.latest.reporting_controller.clone(),
        revision: g.latest.revision.clone(),
        origin_revision: g.latest.origin_revision.clone(),
    })
}

struct Group<'e> {
    latest: &'e KubeEvent,
    count: i64,
    first: Option<jiff::Timestamp>,
    last: Option<jiff::Timestamp>,
}

impl<'e> Group<'e> {
    fn new(event: &'e KubeEvent) -> Self {
        Group {
            latest: event,
            count: event.count,
            first: event.first,
            last: event.last,
        }
    }

    fn add(&mut self, event: &'e KubeEvent) {
        self.count = self.count.saturating_add(event.count);
        self.first = match (self.first, event.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = self.last.max(event.last);
        if recency(event) > recency(self.latest) {
            self.latest = event;
        }
    }
}

/// A total order on events of one group, newest last, so the "latest" pick ignores input order.
#[allow(clippy::type_complexity)]
fn recency(
    e: &KubeEvent,
) -> (
    Option<jiff::Timestamp>,
    Option<jiff::Timestamp>,
    &str,
    &Option<String>,
    &Option<String>,
    &Option<String>,
    i64,
) {
    (
        e.last,
        e.first,
        &e.type_,
        &e.reporting_controller,
        &e.revision,
        &e.origin_revision,
        e.count,
    )
}

/// Log lines from `started` (whole seconds) to `now`, sorted by time, pod, container and
/// content; the newest [`MAX_LOG_LINES`].
fn log_lines<'l>(
    lines: &[&'l LogLine],
    started: Time,
    now: Option<Time>,
) -> impl Iterator<Item = LogEvidence> + use<'l> {
    let mut kept: Vec<&LogLine> = lines
        .iter()
        .copied()
        .filter(|l| {
            let t = Time::new(l.time);
            t >= started && now.is_none_or(|now| t <= now)
        })
        .collect();
    kept.sort_by(|a, b| line_order(a).cmp(&line_order(b)));
    let skip = kept.len().saturating_sub(MAX_LOG_LINES);
    kept.into_iter().skip(skip).map(|l| LogEvidence {
        time: Time::new(l.time),
        pod: l.pod.clone(),
        container: l.container.clone(),
        level: l.level.clone(),
        message: export(&l.message),
        error: l.error.as_deref().map(export),
        revision: l.revision.clone(),
        reconcile_id: l.reconcile_id.clone(),
    })
}

#[allow(clippy::type_complexity)]
fn line_order(
    l: &LogLine,
) -> (
    jiff::Timestamp,
    &str,
    &str,
    &str,
    &str,
    &Option<String>,
    &Option<String>,
    &Option<String>,
) {
    (
        l.time,
        &l.pod,
        &l.container,
        &l.message,
        &l.level,
        &l.error,
        &l.revision,
        &l.reconcile_id,
    )
}
