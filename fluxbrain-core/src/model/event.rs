//! Kubernetes events about Flux objects, core/v1 and events.k8s.io/v1 alike.

use jiff::Timestamp;

use super::object::ObjectRef;

/// The facts fluxbrain keeps about one Kubernetes event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KubeEvent {
    /// The object the event is about (`involvedObject` or `regarding`).
    pub involved: ObjectRef,
    /// The group of the involved object's `apiVersion` (empty for core kinds).
    pub involved_group: String,
    /// The involved object's uid, when the event names one.
    pub involved_uid: Option<String>,
    /// `type`: `Normal` or `Warning`.
    pub type_: String,
    /// `reason`.
    pub reason: String,
    /// `message` (`note` in events.k8s.io), at most 32 KiB.
    pub message: String,
    /// How often the event occurred (at least 1).
    pub count: i64,
    /// First occurrence.
    pub first: Option<Timestamp>,
    /// Last occurrence.
    pub last: Option<Timestamp>,
    /// The controller that reported it.
    pub reporting_controller: Option<String>,
    /// The `<group>/revision` annotation Flux controllers set.
    pub revision: Option<String>,
    /// The `<group>/originRevision` annotation.
    pub origin_revision: Option<String>,
}
