//! The errorbrain v1 ErrorEvent as fluxbrain emits it (wire types only).
//!
//! Field order is declaration order and is part of the output contract (DESIGN.md section 7):
//! reorder nothing here without updating the snapshots on purpose. Optional facts are omitted
//! when absent, never written as `null`. The schema is `errorbrain-spec/v1/error_event.schema.json`.

use serde::{Deserialize, Serialize};

use crate::fingerprint::Fingerprint;
use crate::time::Time;

/// An errorbrain v1 ErrorEvent describing one failing Flux object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// UUIDv8 derived from the fingerprint and the incident start (see [`crate::event_id`]).
    pub id: String,
    /// When the failure was observed to start (see [`crate::build`]).
    pub timestamp: Time,
    /// The controller that reports the failure.
    pub source: EventSource,
    /// The failing condition's message, redacted and capped at 4 KiB.
    pub message: String,
    /// The failing condition's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// Always `error` for a failing object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// The facts of the object.
    pub metadata: FluxMetadata,
    /// Events, log lines and custom facts, bounded and sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
}

/// `source` of an ErrorEvent: the Flux controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSource {
    /// Always [`Language::Other`] for Flux controllers.
    pub language: Language,
    /// The controller of the kind, e.g. `kustomize-controller`.
    pub name: String,
    /// The controller's image tag, when its pod was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The configured environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// The controller's pod name, when observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `fluxcd`, `kind:<Kind>`, `cluster:<cluster>`, `namespace:<ns>`, then configured tags.
    pub tags: Vec<String>,
}

/// `source.language` values of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Language {
    Python,
    Go,
    Typescript,
    Javascript,
    Deno,
    Rust,
    Cpp,
    Terraform,
    Other,
}

/// `source.environment` values of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Environment {
    Local,
    Development,
    Staging,
    Production,
}

impl Environment {
    /// Every value, for help texts and validation.
    pub const ALL: [Environment; 4] = [
        Environment::Local,
        Environment::Development,
        Environment::Staging,
        Environment::Production,
    ];

    /// The schema's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Environment::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown environment {s:?}; expected local, development, staging or production"
                )
            })
    }
}

/// `severity` values of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Severity {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

/// `metadata` of a fluxbrain ErrorEvent: the object's facts, in snake_case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FluxMetadata {
    /// Configured cluster name.
    pub cluster: String,
    /// Object namespace.
    pub namespace: String,
    /// Object kind.
    pub kind: String,
    /// Object name.
    pub name: String,
    /// Object `apiVersion`.
    pub api_version: String,
    /// `metadata.uid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// `metadata.generation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// `status.observedGeneration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `spec.suspend`.
    pub suspended: bool,
    /// Revisions.
    pub revision: RevisionFacts,
    /// The object's declared source and its status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceFacts>,
    /// `spec.dependsOn`, as `namespace/name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// All conditions, sorted by type.
    pub conditions: Vec<ConditionFacts>,
    /// Number of `status.inventory` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_count: Option<u64>,
    /// The incident fingerprint (DESIGN.md section 8).
    pub fingerprint: Fingerprint,
    /// The incident this event belongs to.
    pub incident: IncidentFacts,
    /// The failing upstream this object declares, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Upstream>,
    /// The fluxbrain version that built the event.
    pub fluxbrain_version: String,
}

/// `metadata.revision`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionFacts {
    /// Last applied revision (for sources: the artifact revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// Last attempted revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempted: Option<String>,
}

/// An object's declared source and what it shows (`metadata.source`, and the
/// `source_status` evidence item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFacts {
    /// Source kind.
    pub kind: String,
    /// Source name.
    pub name: String,
    /// Source namespace.
    pub namespace: String,
    /// The declaring field, e.g. `spec.sourceRef`.
    pub via: String,
    /// `spec.url`, redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Artifact revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// `Ready` status (`True`, `False`, `Unknown`); absent when the source was not observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<String>,
    /// `Ready` reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `Ready` message, redacted and capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One condition in `metadata.conditions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionFacts {
    /// `type`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `status`.
    pub status: String,
    /// `reason`.
    pub reason: String,
    /// `message`, redacted and capped.
    pub message: String,
    /// `lastTransitionTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// `observedGeneration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// `metadata.incident`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFacts {
    /// The event timestamp as it was when the incident fired.
    pub started: Time,
    /// 1 for the first notification of the incident, then one more per reminder.
    pub occurrence: u32,
}

/// `metadata.upstream`: the failing object this one declares as source or dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// `Kind/namespace/name`.
    pub key: String,
    /// Its incident fingerprint.
    pub fingerprint: Fingerprint,
    /// The declaring field, e.g. `spec.dependsOn`.
    pub via: String,
}

/// One evidence item: `{"type": ..., "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Evidence {
    /// A Kubernetes event about the object (deduplicated by reason and message).
    Event(EventEvidence),
    /// A controller log line naming the object.
    LogLine(LogEvidence),
    /// Other facts, by `data.kind`.
    Custom(CustomEvidence),
}

/// `event` evidence data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEvidence {
    /// `Normal` or `Warning`.
    pub event_type: String,
    /// `reason`.
    pub reason: String,
    /// `message`, redacted and capped.
    pub message: String,
    /// Occurrences summed over the deduplicated events.
    pub count: i64,
    /// Earliest first occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_time: Option<Time>,
    /// Latest last occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_time: Option<Time>,
    /// The reporting controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_controller: Option<String>,
    /// Flux `<group>/revision` annotation of the latest occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Flux `<group>/originRevision` annotation of the latest occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_revision: Option<String>,
}

/// `log_line` evidence data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvidence {
    /// `ts`, whole seconds.
    pub time: Time,
    /// Pod.
    pub pod: String,
    /// Container.
    pub container: String,
    /// `level`.
    pub level: String,
    /// `msg`, redacted and capped.
    pub message: String,
    /// `error`, redacted and capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// `reconcileID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconcile_id: Option<String>,
}

/// `custom` evidence data, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CustomEvidence {
    /// The status of the object's declared source.
    SourceStatus {
        /// The source and what it shows.
        source: SourceFacts,
    },
    /// The newest Helm release snapshots of a HelmRelease, newest first, and what
    /// helm-controller last attempted.
    HelmHistory {
        /// The snapshots (`status.history`).
        entries: Vec<HelmHistoryEntry>,
        /// The `status.lastAttempted*` and failure counters.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attempt: Option<HelmAttemptFacts>,
    },
    /// The objects a failed health check names, read from a condition's message.
    HealthChecks {
        /// The condition whose message names them (`Ready`, `Healthy`).
        condition: String,
        /// `timeout` or `stalled` (Flux's "failed early due to stalled resources").
        outcome: String,
        /// The objects, in the message's order.
        objects: Vec<HealthCheckObject>,
    },
    /// Drift of a Helm release from its desired state, as helm-controller reported it.
    Drift {
        /// `detected` (`DriftDetected`) or `corrected` (`DriftCorrected`).
        state: String,
        /// Where it was read: `condition` (`Drifted`) or `event`.
        from: String,
        /// The release, `namespace/name.vN`.
        release: String,
        /// When it was reported.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<Time>,
        /// The objects and what changed.
        objects: Vec<DriftObject>,
    },
    /// The first inventory entries and their total.
    Inventory {
        /// Total number of entries.
        total: u64,
        /// The first entry ids (`<namespace>_<name>_<group>_<Kind>`).
        entries: Vec<String>,
    },
}

/// An object a failed health check names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckObject {
    /// Kind (Flux names it without its group).
    pub kind: String,
    /// Namespace; empty for a cluster-scoped object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Its kstatus status (`InProgress`, `Failed`, `NotFound`, ...), when Flux gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The error Flux gave with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An object of a drifted (or corrected) Helm release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftObject {
    /// Kind (without its group).
    pub kind: String,
    /// Namespace; empty for a cluster-scoped object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `removed`, `changed`, `excluded`, `unchanged`; for a correction `created`,
    /// `configured`, ...
    pub change: String,
    /// Fields added (`changed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additions: Option<u64>,
    /// Fields changed (`changed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<u64>,
    /// Fields removed (`changed` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removals: Option<u64>,
}

/// What helm-controller last attempted for a HelmRelease, and its failure counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelmAttemptFacts {
    /// `status.lastAttemptedReleaseAction` (`install`, `upgrade`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_action: Option<String>,
    /// `status.lastAttemptedRevisionDigest` (the chart's OCI digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_digest: Option<String>,
    /// `status.lastAttemptedConfigDigest` (the values' digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    /// `status.lastAttemptedValuesChecksum` (v2beta1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values_checksum: Option<String>,
    /// `status.lastReleaseRevision` (v2beta1): the Helm release version last observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_revision: Option<i64>,
    /// `status.failures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<i64>,
    /// `status.installFailures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_failures: Option<i64>,
    /// `status.upgradeFailures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_failures: Option<i64>,
}

/// The result of one Helm test hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestHookFacts {
    /// The hook's name.
    pub name: String,
    /// `Succeeded`, `Failed`, `Running`, `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_started: Option<Time>,
    /// When it completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<Time>,
}

/// One Helm release snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelmHistoryEntry {
    /// Helm release version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Helm release status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Chart name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_name: Option<String>,
    /// Chart version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_version: Option<String>,
    /// App version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// First deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_deployed: Option<Time>,
    /// Last deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_deployed: Option<Time>,
    /// The action that made it (`install`, `upgrade`, `rollback`, ...; helm-controller ≥ 1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Digest of the release object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Digest of the values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_digest: Option<String>,
    /// OCI digest of the chart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci_digest: Option<String>,
    /// When the release was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Time>,
    /// Its test hooks, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_hooks: Vec<TestHookFacts>,
}
