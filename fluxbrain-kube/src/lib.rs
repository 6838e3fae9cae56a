//! Kubernetes side of fluxbrain.
//!
//! The default build holds the kube-rs collector ([`collector`]; start with [`KubeCollector`]):
//! discovery of the Flux kinds a cluster serves, list and watch, events, controller pods and
//! logs, many clusters at once. Beside it, what fluxbrain keeps in the cluster: the
//! [`ConfigMapStore`] for the engine's state (compressed, split past 1 MiB, compare-and-swap
//! writes) and the [`LeaderElector`] that lets one replica of several deliver. Behind the
//! feature `sim` is the simulator.
//!
//! With feature `sim`, [`sim`] is an in-process Kubernetes API server that speaks the real HTTP
//! protocol well enough that `kubectl` and kube-rs work against it unchanged: discovery, get and
//! list with selectors and paging, watch with resourceVersions, bookmarks and `410 Gone`, writes
//! with optimistic concurrency, pod logs, Tables. It is what collector tests, the demo and the
//! scale benchmarks run on. It deliberately is not a full API server: no admission, no RBAC, no
//! schemas or validation, no controllers (except that it finalizes deleted objects at once).
//! Start with [`sim::Simulator`].
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod collector;
pub mod configmap_store;
pub mod error;
pub mod lease;
pub mod runtime;
pub use collector::{ClusterConfig, CollectorConfig, KubeCollector};
pub use configmap_store::ConfigMapStore;
pub use error::Error;
pub use lease::{LeaderElector, LeaseConfig};
pub use runtime::{Runtime, RuntimeConfig};
