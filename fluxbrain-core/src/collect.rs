//! The [`Collector`] trait: where snapshots come from.

use std::fmt;

use crate::model::kind::Kind;
use crate::model::object::ObjectRef;
use crate::model::snapshot::Snapshot;

/// What one cluster showed in one collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterObservation {
    /// Objects, events, pods and log lines.
    pub snapshot: Snapshot,
    /// Kinds the cluster serves that could not be read this time (forbidden, failing). Their
    /// objects are neither new nor gone: the incident policy leaves their incidents alone.
    pub unobserved: Vec<Kind>,
    /// Objects the cluster listed that could not be parsed: like the objects of an unobserved
    /// kind, neither new nor gone, so their open incidents stay open.
    pub unreadable: Vec<UnreadableObject>,
}

/// An object that was listed but could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableObject {
    /// The object, from its `apiVersion`, `kind` and `metadata`.
    pub key: ObjectRef,
    /// What is wrong with it (a [`ParseError`](crate::ParseError) as text).
    pub error: String,
}

/// A cluster that could not be read at all this time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cluster {cluster}: {message}")]
pub struct CollectError {
    /// The cluster's configured name.
    pub cluster: String,
    /// What went wrong (no secrets).
    pub message: String,
}

/// Observes clusters.
///
/// `collect` returns one result per configured cluster, so one unreachable cluster never hides
/// the others. A watch-driven collector also resolves `changed` when something changed since
/// the last `collect`; a one-shot collector never does.
#[async_trait::async_trait]
pub trait Collector: Send + Sync + fmt::Debug {
    /// The current state of every cluster.
    async fn collect(&self) -> Vec<Result<ClusterObservation, CollectError>>;

    /// Resolves when an observed object changed. The default never resolves.
    async fn changed(&self) {
        futures::future::pending::<()>().await;
    }

    /// Resolves once every cluster has been read in full, or has failed to be: a watching
    /// collector's first lists are in. The default (a collector that reads on `collect`)
    /// resolves at once.
    async fn synced(&self) {}
}
