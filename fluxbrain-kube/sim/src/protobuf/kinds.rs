//! The layouts of the built-in kinds whose protobuf bodies the simulator reads.
//!
//! Field numbers are those of `k8s.io/api/core/v1/generated.proto`,
//! `k8s.io/api/coordination/v1/generated.proto` and
//! `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto`. A field left out of a layout is
//! skipped: only `ObjectMeta.managedFields` is, as the simulator has no server-side apply.

use super::shape::{Field, Message, Shape, field};

/// One kind the simulator decodes.
#[derive(Debug)]
pub(crate) struct Kind {
    /// `apiVersion` as the envelope's `typeMeta` names it; `None`: any (meta.k8s.io types are
    /// sent under the version of the resource they are for).
    pub api_version: Option<&'static str>,
    /// `kind`.
    pub kind: &'static str,
    /// The message layout.
    pub message: Message,
}

/// Every kind with a layout, looked up by [`find`].
pub(crate) const KINDS: &[Kind] = &[
    Kind {
        api_version: Some("v1"),
        kind: "ConfigMap",
        message: CONFIG_MAP,
    },
    Kind {
        api_version: Some("v1"),
        kind: "Namespace",
        message: NAMESPACE,
    },
    Kind {
        api_version: Some("coordination.k8s.io/v1"),
        kind: "Lease",
        message: LEASE,
    },
    Kind {
        api_version: None,
        kind: "DeleteOptions",
        message: DELETE_OPTIONS,
    },
];

/// The layout of `kind` at `api_version`, if the simulator has one.
pub(crate) fn find(api_version: &str, kind: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .find(|k| k.kind == kind && k.api_version.is_none_or(|v| v == api_version))
}

/// `meta.v1.ObjectMeta`.
const OBJECT_META: Message = &[
    field(1, "name", Shape::Text),
    field(2, "generateName", Shape::Text),
    field(3, "namespace", Shape::Text),
    field(4, "selfLink", Shape::Text),
    field(5, "uid", Shape::Text),
    field(6, "resourceVersion", Shape::Text),
    field(7, "generation", Shape::Int64),
    field(8, "creationTimestamp", Shape::Time),
    field(9, "deletionTimestamp", Shape::Time),
    field(10, "deletionGracePeriodSeconds", Shape::OptInt64),
    field(11, "labels", Shape::TextMap),
    field(12, "annotations", Shape::TextMap),
    field(13, "ownerReferences", Shape::Objects(OWNER_REFERENCE)),
    field(14, "finalizers", Shape::Texts),
];

/// `meta.v1.OwnerReference`.
const OWNER_REFERENCE: Message = &[
    field(5, "apiVersion", Shape::Text),
    field(1, "kind", Shape::Text),
    field(3, "name", Shape::Text),
    field(4, "uid", Shape::Text),
    field(6, "controller", Shape::OptBool),
    field(7, "blockOwnerDeletion", Shape::OptBool),
];

/// The `metadata` field every object has at number 1.
const METADATA: Field = field(1, "metadata", Shape::Object(OBJECT_META));

/// `core.v1.ConfigMap`.
const CONFIG_MAP: Message = &[
    METADATA,
    field(2, "data", Shape::TextMap),
    field(3, "binaryData", Shape::BytesMap),
    field(4, "immutable", Shape::OptBool),
];

/// `core.v1.Namespace`.
const NAMESPACE: Message = &[
    METADATA,
    field(2, "spec", Shape::Object(NAMESPACE_SPEC)),
    field(3, "status", Shape::Object(NAMESPACE_STATUS)),
];

/// `core.v1.NamespaceSpec`.
const NAMESPACE_SPEC: Message = &[field(1, "finalizers", Shape::Texts)];

/// `core.v1.NamespaceStatus`.
const NAMESPACE_STATUS: Message = &[
    field(1, "phase", Shape::Text),
    field(2, "conditions", Shape::Objects(NAMESPACE_CONDITION)),
];

/// `core.v1.NamespaceCondition`.
const NAMESPACE_CONDITION: Message = &[
    field(1, "type", Shape::Text),
    field(2, "status", Shape::Text),
    field(4, "lastTransitionTime", Shape::Time),
    field(5, "reason", Shape::Text),
    field(6, "message", Shape::Text),
];

/// `coordination.v1.Lease`.
const LEASE: Message = &[METADATA, field(2, "spec", Shape::Object(LEASE_SPEC))];

/// `coordination.v1.LeaseSpec`.
const LEASE_SPEC: Message = &[
    field(1, "holderIdentity", Shape::OptText),
    field(2, "leaseDurationSeconds", Shape::OptInt32),
    field(3, "acquireTime", Shape::MicroTime),
    field(4, "renewTime", Shape::MicroTime),
    field(5, "leaseTransitions", Shape::OptInt32),
    field(6, "strategy", Shape::OptText),
    field(7, "preferredHolder", Shape::OptText),
];

/// `meta.v1.DeleteOptions`.
const DELETE_OPTIONS: Message = &[
    field(1, "gracePeriodSeconds", Shape::OptInt64),
    field(2, "preconditions", Shape::Object(PRECONDITIONS)),
    field(3, "orphanDependents", Shape::OptBool),
    field(4, "propagationPolicy", Shape::OptText),
    field(5, "dryRun", Shape::Texts),
    field(
        6,
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        Shape::OptBool,
    ),
];

/// `meta.v1.Preconditions`.
const PRECONDITIONS: Message = &[
    field(1, "uid", Shape::OptText),
    field(2, "resourceVersion", Shape::OptText),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_numbers_are_unique_in_every_layout() {
        let layouts: &[Message] = &[
            OBJECT_META,
            OWNER_REFERENCE,
            CONFIG_MAP,
            NAMESPACE,
            NAMESPACE_SPEC,
            NAMESPACE_STATUS,
            NAMESPACE_CONDITION,
            LEASE,
            LEASE_SPEC,
            DELETE_OPTIONS,
            PRECONDITIONS,
        ];
        for layout in layouts {
            let mut numbers: Vec<u32> = layout.iter().map(|f| f.number).collect();
            numbers.sort_unstable();
            numbers.dedup();
            assert_eq!(numbers.len(), layout.len(), "{layout:?}");
        }
    }

    #[test]
    fn kinds_are_found_by_api_version_and_kind() {
        assert_eq!(find("v1", "ConfigMap").map(|k| k.kind), Some("ConfigMap"));
        assert!(find("apps/v1", "ConfigMap").is_none());
        assert!(find("v1", "Secret").is_none());
        assert!(find("meta.k8s.io/v1", "DeleteOptions").is_some());
        assert!(find("v1", "DeleteOptions").is_some());
    }
}
