//! Pure core of fluxbrain: the Flux failure model, errorbrain v1 events, canonical JSON,
//! fingerprints, redaction, the incident policy, and the [`Engine`] that drives them over
//! three traits other crates implement.
//!
//! Nothing here performs I/O or reads a clock: every input is a `serde_json::Value` (or a log
//! line as text), and every function that needs the time takes it as an argument. That makes
//! the output a pure function of the input, byte for byte: the same objects, events, pods and
//! log lines give the same events in any order, on any platform. What it deliberately is not:
//! a Kubernetes client, an HTTP client, a runtime, a judge. Health is read off the conditions
//! ([`Health`]); links are the ones objects declare ([`Link`]); nothing guesses a root cause.
//!
//! The map:
//! - **Facts.** [`parse_document`] and [`parse_log_line`] turn Kubernetes JSON into
//!   [`FluxObject`], [`KubeEvent`], [`ControllerPod`] and [`LogLine`], collected in a
//!   [`Snapshot`].
//! - **Events.** [`build_all`] (or [`build`] for one object) turns a snapshot into
//!   errorbrain [`ErrorEvent`]s; [`canonical`] writes them as bytes; [`Fingerprint`] and
//!   [`redact()`] are usable alone.
//! - **Policy.** [`decide`] says what happens to one object's incident (fire, fold into a
//!   failing upstream, remind, supersede, resolve); [`plan`] applies it to a whole cycle and
//!   returns the [`Notification`]s due. Pure: state in, decisions out.
//! - **Operator controls.** [`control`]: silences ([`Silence`], matched by glob on cluster,
//!   namespace, kind, name and reason) and acknowledgements ([`Ack`]), kept in a small
//!   [`Control`] document beside the state that only operators write.
//! - **Engine.** [`Engine`] runs the policy over a [`StateStore`] (with [`MemoryStore`] and a
//!   conformance suite for other stores), keeps the outbox and delivers through the traits:
//!   - [`Collector`]: where snapshots come from (`fluxbrain-kube` reads clusters);
//!   - [`Notifier`]: where notifications go (`fluxbrain-notify`: Slack, webhook, GitHub);
//!   - [`Analyzer`]: who analyses an event before it is sent (errorbrain).
//!
//!   The caller owns the clock and the tasks: it calls [`Engine::observe`] with `now`, and
//!   [`Engine::deliver`] per notifier.
//!
//! ```
//! use fluxbrain_core::{BuildOptions, Document, Snapshot, build_all, canonical, parse_document};
//!
//! let object = serde_json::json!({
//!     "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
//!     "kind": "Kustomization",
//!     "metadata": {"name": "apps", "namespace": "flux-system"},
//!     "status": {"conditions": [{
//!         "type": "Ready", "status": "False", "reason": "BuildFailed",
//!         "message": "kustomize build failed", "lastTransitionTime": "2026-04-21T09:22:52Z"
//!     }]}
//! });
//! let mut snapshot = Snapshot::new("prod");
//! let mut warnings = Vec::new();
//! for doc in parse_document(&object, &mut warnings) {
//!     if let Ok(Document::Object(o)) = doc {
//!         snapshot.objects.push(o.into());
//!     }
//! }
//! let events = build_all(&snapshot, &BuildOptions::default());
//! assert_eq!(events[0].error_type.as_deref(), Some("BuildFailed"));
//! let bytes = canonical::to_vec(&events[0]);
//! assert!(bytes.starts_with(b"{\"id\":\""));
//! ```
//!
//! The engine over a memory store, with a notifier that records what it is given (any
//! executor drives it; the engine needs no runtime of its own):
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use fluxbrain_core::{
//!     ClusterObservation, DeliveryError, Document, Engine, EngineConfig, MemoryStore,
//!     Notification, NotificationKind, Notifier, Receipt, Snapshot, Time, parse_document,
//! };
//!
//! #[derive(Debug, Default)]
//! struct Recorder(Mutex<Vec<Notification>>);
//!
//! #[async_trait::async_trait]
//! impl Notifier for Recorder {
//!     fn name(&self) -> &str {
//!         "recorder"
//!     }
//!     async fn deliver(&self, note: &Notification, _: Option<&Receipt>) -> Result<Receipt, DeliveryError> {
//!         self.0.lock().unwrap().push(note.clone());
//!         Ok(Receipt::default())
//!     }
//! }
//!
//! # futures::executor::block_on(async {
//! let failing = serde_json::json!({
//!     "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
//!     "metadata": {"name": "apps", "namespace": "flux-system"},
//!     "status": {"conditions": [{"type": "Ready", "status": "False",
//!         "reason": "GitOperationFailed", "message": "authentication required",
//!         "lastTransitionTime": "2026-04-21T09:00:00Z"}]}
//! });
//! let mut snapshot = Snapshot::new("prod");
//! for doc in parse_document(&failing, &mut Vec::new()) {
//!     if let Ok(Document::Object(o)) = doc {
//!         snapshot.objects.push(o.into());
//!     }
//! }
//! let recorder = Arc::new(Recorder::default());
//! let engine = Engine::start(
//!     Arc::new(MemoryStore::new()),
//!     vec![recorder.clone()],
//!     None,
//!     EngineConfig::default(),
//! )
//! .await
//! .unwrap();
//! let now = Time::parse("2026-04-21T09:30:00Z").unwrap();
//! let observation = ClusterObservation { snapshot, unobserved: vec![], unreadable: vec![] };
//! let report = engine.observe(&[Ok(observation.clone())], now).await.unwrap();
//! assert_eq!(report.notifications.len(), 1);
//! engine.deliver(0, now, 0.5).await.unwrap();
//! assert_eq!(recorder.0.lock().unwrap()[0].kind, NotificationKind::Firing);
//! // The same failure a minute later: nothing new to say.
//! let again = engine.observe(&[Ok(observation)], now.add_seconds(60)).await.unwrap();
//! assert!(again.notifications.is_empty());
//! # });
//! ```

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod canonical;
pub mod collect;
pub mod control;
pub mod crash;
pub mod duration;
pub mod engine;
pub mod error;
pub mod errorbrain;
pub mod event;
pub mod fingerprint;
pub mod model;
pub mod notification;
pub mod parse;
pub mod policy;
pub mod redact;
pub mod text;
pub mod time;

pub use collect::{ClusterObservation, CollectError, Collector, UnreadableObject};
pub use control::{Ack, Control, ControlError, Matcher, Silence, SilenceRequest};
pub use duration::DurationError;
pub use engine::{
    Backoff, DeliverReport, Engine, EngineConfig, HistoryConfig, MemoryStore, ObserveReport, State,
    StateStore, StoreError,
};
pub use error::{Error, ParseError, ParseWarning, Problem};
pub use errorbrain::{
    ConditionFacts, CustomEvidence, DriftObject, Environment, ErrorEvent, EventEvidence,
    EventSource, Evidence, FluxMetadata, HealthCheckObject, HelmAttemptFacts, HelmHistoryEntry,
    IncidentFacts, Language, LogEvidence, RevisionFacts, Severity, SourceFacts, TestHookFacts,
    Upstream,
};
pub use event::{
    BuildOptions, Incident, build, build_all, event_id, fingerprint_of, reported_fingerprint,
};
pub use fingerprint::{Fingerprint, FingerprintInput};
pub use model::event::KubeEvent;
pub use model::health::Health;
pub use model::kind::{Kind, controller_of, group_of, version_priority};
pub use model::log::LogLine;
pub use model::object::{
    Condition, ConditionStatus, FluxObject, HelmSnapshot, Inventory, Link, LinkVia, ObjectRef,
    ObjectSilence, Revision, SILENCE_ANNOTATION,
};
pub use model::pod::ControllerPod;
pub use model::snapshot::{Conflict, Snapshot, SnapshotIndex};
pub use notification::{
    AffectedChange, AffectedObject, Analysis, Analyzer, AnalyzerError, DeliveryError, Notification,
    NotificationKind, Notifier, Receipt, Resolution, Retry,
};
pub use parse::{Document, LogLineError, parse_document, parse_log_line};
pub use policy::{
    Controls, Decision, DecisionKind, Happened, IncidentKey, IncidentRecord, Moment, Mute,
    Observed, Plan, PolicyConfig, ResolvedIncident, SilencedBy, decide, plan,
};
pub use redact::{REDACTED, redact};
pub use time::Time;

/// A realistic failing event for store conformance tests.
#[cfg(feature = "conformance")]
fn conformance_event() -> ErrorEvent {
    let object = serde_json::json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {"name": "app", "namespace": "team", "uid": "u", "generation": 2},
        "spec": {"sourceRef": {"kind": "GitRepository", "name": "repo"}},
        "status": {"conditions": [{
            "type": "Ready", "status": "False", "reason": "BuildFailed",
            "message": "kustomize build failed: accumulating resources from './overlay'",
            "lastTransitionTime": "2026-04-21T09:22:52Z"
        }], "lastAttemptedRevision": "main@sha1:312cbb1905592a6a3686eeda5324738a17049e51"}
    });
    let mut snapshot = Snapshot::new("prod");
    for doc in parse_document(&object, &mut Vec::new()) {
        if let Ok(Document::Object(o)) = doc {
            snapshot.objects.push(o.into());
        }
    }
    build_all(&snapshot, &BuildOptions::default())
        .into_iter()
        .next()
        .unwrap_or_else(|| unreachable!("the sample object fails"))
}
