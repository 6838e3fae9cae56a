//! The trimmed facts fluxbrain keeps about one Flux object.
//!
//! Only what the ErrorEvent, the fingerprint and the incident policy use is kept: at 100k
//! watched objects every field counts.

use std::cmp::Ordering;
use std::fmt;

use jiff::Timestamp;

use super::kind::Kind;

/// Identifies an object within one cluster: kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    /// The object's kind.
    pub kind: Kind,
    /// The namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// A reference to `kind` `namespace/name`.
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectRef {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// Orders by namespace, kind name, then name: the order of fluxbrain's output streams.
impl Ord for ObjectRef {
    fn cmp(&self, other: &Self) -> Ordering {
        (
            self.namespace.as_str(),
            self.kind.as_str(),
            self.name.as_str(),
        )
            .cmp(&(
                other.namespace.as_str(),
                other.kind.as_str(),
                other.name.as_str(),
            ))
    }
}

impl PartialOrd for ObjectRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// `Kind namespace/name`, the way operators name objects.
impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// The status of a condition: exactly the three values `metav1.Condition` allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionStatus {
    /// `"True"`.
    True,
    /// `"False"`.
    False,
    /// `"Unknown"`.
    Unknown,
}

impl ConditionStatus {
    /// The status as Kubernetes writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// One `status.conditions` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `type`, e.g. `Ready`.
    pub type_: String,
    /// `status`.
    pub status: ConditionStatus,
    /// `reason` (empty when absent).
    pub reason: String,
    /// `message` (empty when absent), at most [`MAX_CONDITION_MESSAGE`] bytes.
    pub message: String,
    /// `lastTransitionTime`.
    pub last_transition_time: Option<Timestamp>,
    /// `observedGeneration`.
    pub observed_generation: Option<i64>,
}

/// The longest condition message the Kubernetes API server accepts (`metav1.Condition`).
pub const MAX_CONDITION_MESSAGE: usize = 32768;

/// The revision facts of an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revision {
    /// `status.lastAppliedRevision`.
    pub applied: Option<String>,
    /// `status.lastAttemptedRevision`.
    pub attempted: Option<String>,
    /// `status.artifact.revision` (sources).
    pub artifact: Option<String>,
}

/// How an object declares a link to another (DESIGN.md section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LinkVia {
    /// `spec.sourceRef`.
    SourceRef,
    /// `spec.chartRef` (HelmRelease).
    ChartRef,
    /// `status.helmChart`: the HelmChart helm-controller generated for a HelmRelease.
    HelmChart,
    /// `spec.chart.spec.sourceRef` (HelmRelease).
    ChartSourceRef,
    /// `spec.imageRepositoryRef` (ImagePolicy).
    ImageRepositoryRef,
    /// `spec.sources` (ArtifactGenerator).
    Sources,
    /// `spec.inputsFrom` (ResourceSet): the input providers named there.
    InputsFrom,
    /// `spec.sync` (FluxInstance): the source object the Flux Operator makes for the sync.
    Sync,
    /// `spec.dependsOn`.
    DependsOn,
}

impl LinkVia {
    /// The field that declares the link.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkVia::SourceRef => "spec.sourceRef",
            LinkVia::ChartRef => "spec.chartRef",
            LinkVia::HelmChart => "status.helmChart",
            LinkVia::ChartSourceRef => "spec.chart.spec.sourceRef",
            LinkVia::ImageRepositoryRef => "spec.imageRepositoryRef",
            LinkVia::Sources => "spec.sources",
            LinkVia::InputsFrom => "spec.inputsFrom",
            LinkVia::Sync => "spec.sync",
            LinkVia::DependsOn => "spec.dependsOn",
        }
    }

    /// Whether the link names where the object gets its artifact (as opposed to a dependency,
    /// an input provider or the source a FluxInstance applies).
    pub fn is_source(self) -> bool {
        !matches!(
            self,
            LinkVia::DependsOn | LinkVia::InputsFrom | LinkVia::Sync
        )
    }
}

/// A link an object declares, with namespaces already defaulted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    /// The declaring field.
    pub via: LinkVia,
    /// The linked object.
    pub target: ObjectRef,
}

/// A summary of `status.inventory`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// How many entries the inventory has.
    pub total: u64,
    /// The first [`INVENTORY_KEPT`] entry ids, in the object's order.
    pub first: Vec<String>,
}

/// How many inventory entries are kept per object.
pub const INVENTORY_KEPT: usize = 10;

/// One `status.history` snapshot of a HelmRelease.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmSnapshot {
    /// Helm release version (`version`).
    pub version: Option<i64>,
    /// Helm release status (`deployed`, `failed`, ...).
    pub status: Option<String>,
    /// Chart name.
    pub chart_name: Option<String>,
    /// Chart version.
    pub chart_version: Option<String>,
    /// App version.
    pub app_version: Option<String>,
    /// First deployment time.
    pub first_deployed: Option<Timestamp>,
    /// Last deployment time.
    pub last_deployed: Option<Timestamp>,
    /// The action that made it (`action`).
    pub action: Option<String>,
    /// `digest` of the release object.
    pub digest: Option<String>,
    /// `configDigest` of the values.
    pub config_digest: Option<String>,
    /// `ociDigest` of the chart.
    pub oci_digest: Option<String>,
    /// `deleted`.
    pub deleted: Option<Timestamp>,
    /// `testHooks`, sorted by name.
    pub test_hooks: Vec<TestHook>,
}

/// One `testHooks` entry of a Helm release snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestHook {
    /// The hook's name (the map key).
    pub name: String,
    /// `phase`.
    pub phase: Option<String>,
    /// `lastStarted`.
    pub last_started: Option<Timestamp>,
    /// `lastCompleted`.
    pub last_completed: Option<Timestamp>,
}

/// What helm-controller last attempted (`status.lastAttempted*`) and its failure counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmAttempt {
    /// `lastAttemptedReleaseAction`.
    pub release_action: Option<String>,
    /// `lastAttemptedRevisionDigest`.
    pub revision_digest: Option<String>,
    /// `lastAttemptedConfigDigest`.
    pub config_digest: Option<String>,
    /// `lastAttemptedValuesChecksum` (v2beta1).
    pub values_checksum: Option<String>,
    /// `lastReleaseRevision` (v2beta1).
    pub release_revision: Option<i64>,
    /// `failures`.
    pub failures: Option<i64>,
    /// `installFailures`.
    pub install_failures: Option<i64>,
    /// `upgradeFailures`.
    pub upgrade_failures: Option<i64>,
}

/// How many `status.history` snapshots are kept per object.
pub const HELM_HISTORY_KEPT: usize = 5;

/// The facts fluxbrain keeps about one Flux object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FluxObject {
    /// Kind, namespace and name.
    pub key: ObjectRef,
    /// `apiVersion`.
    pub api_version: String,
    /// `metadata.uid`.
    pub uid: Option<String>,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `status.observedGeneration`.
    pub observed_generation: Option<i64>,
    /// `metadata.creationTimestamp`.
    pub created: Option<Timestamp>,
    /// `spec.suspend`.
    pub suspended: bool,
    /// `status.conditions`, in the object's order.
    pub conditions: Vec<Condition>,
    /// Revision facts.
    pub revision: Revision,
    /// Declared links, in [`LinkVia`] order.
    pub links: Vec<Link>,
    /// `spec.url` (sources), unredacted: redact before export.
    pub url: Option<String>,
    /// `status.inventory` summary.
    pub inventory: Option<Inventory>,
    /// The newest `status.history` snapshots of a HelmRelease.
    pub helm_history: Vec<HelmSnapshot>,
    /// A HelmRelease's last attempt, when its status shows one.
    pub helm_attempt: Option<Box<HelmAttempt>>,
    /// Its [`SILENCE_ANNOTATION`], when it has one.
    pub silence: Option<ObjectSilence>,
}

/// The annotation that silences an object's incidents from git: `"true"` (while it is there)
/// or an RFC 3339 end; `"false"` or empty means not silenced.
pub const SILENCE_ANNOTATION: &str = "fluxbrain.io/silence";

/// What an object's [`SILENCE_ANNOTATION`] says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectSilence {
    /// `"true"`: silenced while the annotation is there.
    Always,
    /// Silenced until this time.
    Until(crate::time::Time),
    /// A value that is neither: ignored (and warned about once).
    Malformed(String),
}

impl ObjectSilence {
    /// Reads an annotation value; `None` for `"false"` and empty.
    pub fn parse(value: &str) -> Option<ObjectSilence> {
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("false") {
            return None;
        }
        if value.eq_ignore_ascii_case("true") {
            return Some(ObjectSilence::Always);
        }
        Some(match crate::time::Time::parse(value) {
            Some(until) => ObjectSilence::Until(until),
            None => ObjectSilence::Malformed(value.to_owned()),
        })
    }
}

impl FluxObject {
    /// The condition of `type_`, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// The revision fact of the kind (DESIGN.md section 8): Kustomization, HelmRelease and
    /// other reconcilers: last attempted, else last applied; sources: the artifact revision;
    /// image kinds: empty.
    pub fn revision_fact(&self) -> &str {
        let r = &self.revision;
        let fact = match self.key.kind {
            Kind::ImageRepository | Kind::ImagePolicy | Kind::ImageUpdateAutomation => None,
            ref kind if kind.is_source() => r.artifact.as_deref(),
            Kind::Kustomization | Kind::HelmRelease => {
                r.attempted.as_deref().or(r.applied.as_deref())
            }
            _ => r
                .attempted
                .as_deref()
                .or(r.applied.as_deref())
                .or(r.artifact.as_deref()),
        };
        fact.unwrap_or("")
    }

    /// The controller that writes the object's status (`source.name` of its events): the
    /// kind's, or for an ExternalArtifact the controller of the producer its
    /// `spec.sourceRef` names (source-watcher for an ArtifactGenerator's).
    pub fn controller(&self) -> String {
        if self.key.kind == Kind::ExternalArtifact
            && let Some(producer) = self
                .links
                .iter()
                .find(|l| l.via == LinkVia::SourceRef)
                .and_then(|l| l.target.kind.controller())
        {
            return producer.to_owned();
        }
        super::kind::controller_of(&self.key.kind, &self.api_version)
    }

    /// The link through which the object gets its artifact, if it declares one.
    pub fn source_link(&self) -> Option<&Link> {
        self.links.iter().find(|l| l.via.is_source())
    }
}
