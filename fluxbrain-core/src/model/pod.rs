//! Flux controller pods: where `source.version` and `source.hostname` come from.

use jiff::Timestamp;

/// The facts fluxbrain keeps about a controller pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerPod {
    /// Pod name (the controller's hostname).
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// The controller it runs, e.g. `kustomize-controller`.
    pub controller: String,
    /// The image tag of its controller container, e.g. `v1.8.2`.
    pub version: Option<String>,
    /// `metadata.creationTimestamp`.
    pub created: Option<Timestamp>,
    /// Whether `status.phase` is `Running`.
    pub running: bool,
}
