//! The ErrorEvent of one failing object.

use crate::errorbrain::{
    ConditionFacts, Environment, ErrorEvent, EventSource, FluxMetadata, IncidentFacts, Language,
    RevisionFacts, Severity, SourceFacts, Upstream,
};
use crate::fingerprint::{Fingerprint, FingerprintInput};
use crate::model::object::{FluxObject, LinkVia};
use crate::model::snapshot::{Snapshot, SnapshotIndex};
use crate::text::export;
use crate::time::Time;

use super::evidence;
use super::id::event_id;

/// What the environment adds to every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// `source.environment`.
    pub environment: Option<Environment>,
    /// Tags appended after fluxbrain's own.
    pub tags: Vec<String>,
    /// The end of the failure window for log lines, and the timestamp of a failing object that
    /// shows no time at all; `None` keeps every line after the start.
    pub now: Option<Time>,
    /// Whether a HelmRelease whose `Drifted` condition is `True` is reported although it is
    /// not failing (`FLUXBRAIN_REPORT_DRIFT`), as a warning of its own.
    pub report_drift: bool,
}

/// The incident an event belongs to, as the incident policy tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incident {
    /// The event timestamp as it was when the incident fired.
    pub started: Time,
    /// 1 for the firing, then one more per reminder.
    pub occurrence: u32,
}

/// The fingerprint of `object` in `cluster` (DESIGN.md section 8), `None` unless it is failing.
pub fn fingerprint_of(cluster: &str, object: &FluxObject) -> Option<Fingerprint> {
    reported_fingerprint(cluster, object, false)
}

/// The fingerprint of the incident `object` is reported for: failing, or (with
/// `report_drift`) drifted, whose reason (`DriftDetected`) keeps it apart from a failure's.
pub fn reported_fingerprint(
    cluster: &str,
    object: &FluxObject,
    report_drift: bool,
) -> Option<Fingerprint> {
    if object.suspended {
        return None;
    }
    let condition = object.reported_condition(report_drift)?;
    Some(Fingerprint::of(&FingerprintInput {
        cluster,
        namespace: &object.key.namespace,
        kind: object.key.kind.as_str(),
        name: &object.key.name,
        reason: &condition.reason,
        revision: object.revision_fact(),
    }))
}

/// The ErrorEvent of every failing object of `snapshot`, sorted by namespace, kind and name,
/// each as a first notification (`occurrence` 1, incident started at its timestamp).
pub fn build_all(snapshot: &Snapshot, options: &BuildOptions) -> Vec<ErrorEvent> {
    let index = snapshot.index();
    index
        .objects()
        .into_iter()
        .filter_map(|object| build(&index, object, None, options))
        .collect()
}

/// The ErrorEvent of `object`, or `None` when it is not failing.
///
/// `incident` is the open incident the policy holds for it; `None` builds the first event of a
/// new incident that starts at the event's timestamp.
pub fn build(
    index: &SnapshotIndex<'_>,
    object: &FluxObject,
    incident: Option<Incident>,
    options: &BuildOptions,
) -> Option<ErrorEvent> {
    let cluster = index.snapshot().cluster.as_str();
    let fingerprint = reported_fingerprint(cluster, object, options.report_drift)?;
    let condition = object.reported_condition(options.report_drift)?;
    let failing = object.failing_condition().is_some();
    let key = &object.key;
    let events = index.events(key);

    // The failing condition's transition, else the newest event, else the object's creation,
    // else the caller's "now" (else the Unix epoch, visibly not a real time).
    let timestamp = condition
        .last_transition_time
        .or_else(|| events.iter().filter_map(|e| e.last).max())
        .or(object.created)
        .map(Time::new)
        .or(options.now)
        .unwrap_or(Time::UNIX_EPOCH);
    let incident = incident.unwrap_or(Incident {
        started: timestamp,
        occurrence: 1,
    });

    let controller = object.controller();
    let pod = index.pod(&controller);
    let mut tags = Vec::with_capacity(4 + options.tags.len());
    tags.push("fluxcd".to_owned());
    tags.push(format!("kind:{}", key.kind));
    tags.push(format!("cluster:{cluster}"));
    tags.push(format!("namespace:{}", key.namespace));
    tags.extend(options.tags.iter().cloned());

    let source = source_facts(index, object);
    let upstream = index.upstream(object).and_then(|(link, target)| {
        Some(Upstream {
            key: format!(
                "{}/{}/{}",
                target.key.kind, target.key.namespace, target.key.name
            ),
            fingerprint: fingerprint_of(cluster, target)?,
            via: link.via.as_str().to_owned(),
        })
    });

    let mut conditions: Vec<ConditionFacts> = object
        .conditions
        .iter()
        .map(|c| ConditionFacts {
            type_: c.type_.clone(),
            status: c.status.as_str().to_owned(),
            reason: c.reason.clone(),
            message: export(&c.message),
            last_transition_time: c.last_transition_time.map(Time::new),
            observed_generation: c.observed_generation,
        })
        .collect();
    conditions.sort_by(|a, b| {
        (
            &a.type_,
            &a.status,
            &a.reason,
            &a.message,
            a.last_transition_time,
        )
            .cmp(&(
                &b.type_,
                &b.status,
                &b.reason,
                &b.message,
                b.last_transition_time,
            ))
    });

    let evidence = evidence::collect(
        index,
        object,
        source.as_ref(),
        incident.started,
        options.now,
    );

    Some(ErrorEvent {
        id: event_id(&fingerprint, incident.started),
        timestamp,
        source: EventSource {
            language: Language::Other,
            name: controller,
            version: pod.and_then(|p| p.version.clone()),
            environment: options.environment,
            hostname: pod.map(|p| p.name.clone()),
            tags,
        },
        message: export(&condition.message),
        error_type: Some(condition.reason.clone()).filter(|r| !r.is_empty()),
        // A drift report is a warning: the release is not failing.
        severity: Some(if failing {
            Severity::Error
        } else {
            Severity::Warning
        }),
        metadata: FluxMetadata {
            cluster: cluster.to_owned(),
            namespace: key.namespace.clone(),
            kind: key.kind.as_str().to_owned(),
            name: key.name.clone(),
            api_version: object.api_version.clone(),
            uid: object.uid.clone(),
            generation: object.generation,
            observed_generation: object.observed_generation,
            suspended: object.suspended,
            revision: RevisionFacts {
                applied: object
                    .revision
                    .applied
                    .clone()
                    .or_else(|| object.revision.artifact.clone()),
                attempted: object.revision.attempted.clone(),
            },
            source,
            depends_on: object
                .links
                .iter()
                .filter(|l| l.via == LinkVia::DependsOn)
                .map(|l| format!("{}/{}", l.target.namespace, l.target.name))
                .collect(),
            conditions,
            inventory_count: object.inventory.as_ref().map(|i| i.total),
            fingerprint,
            incident: IncidentFacts {
                started: incident.started,
                occurrence: incident.occurrence,
            },
            upstream,
            fluxbrain_version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        evidence,
    })
}

/// The declared source of `object` and what it shows, when it declares one.
fn source_facts(index: &SnapshotIndex<'_>, object: &FluxObject) -> Option<SourceFacts> {
    let link = object.source_link()?;
    let target = index.object(&link.target);
    let ready = target.and_then(|t| t.condition("Ready"));
    Some(SourceFacts {
        kind: link.target.kind.as_str().to_owned(),
        name: link.target.name.clone(),
        namespace: link.target.namespace.clone(),
        via: link.via.as_str().to_owned(),
        url: target.and_then(|t| t.url.as_deref()).map(export),
        revision: target
            .map(FluxObject::revision_fact)
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
        ready: ready.map(|c| c.status.as_str().to_owned()),
        reason: ready.map(|c| c.reason.clone()).filter(|r| !r.is_empty()),
        message: ready.map(|c| export(&c.message)).filter(|m| !m.is_empty()),
    })
}
