//! Kubernetes side of fluxbrain: reading clusters, keeping state in them, and the runtime
//! that drives the engine over time.
//!
//! The map:
//! - [`collector`]: the kube-rs [`KubeCollector`] (core's `Collector`): discovery of the Flux
//!   kinds a cluster serves, list (once) or watch (continuous), events, controller pods and
//!   logs, many clusters at once, each failing alone. Built from a [`CollectorConfig`]
//!   ([`CollectorConfig::from_env`] reads the `FLUXBRAIN_*` variables and the kubeconfig).
//! - [`ConfigMapStore`]: the engine's state in ConfigMaps (compressed, split past 1 MiB,
//!   compare-and-swap writes, so a deposed leader cannot overwrite its successor).
//! - [`LeaderElector`]: one Lease, client-go's protocol, so one replica of several works.
//! - [`runtime`]: the continuous [`Runtime`] (observe on every change and every requeue,
//!   deliver per notifier, lead on the Lease, shut down gracefully) and [`runtime::once`]
//!   (a CronJob's run). Its clock is injected ([`runtime::Clock`]), so tests play it on
//!   paused time.
//!
//! What it deliberately is not: a Kubernetes object cache (it keeps only the facts core
//! parses), or a test server (that is the `fluxbrain-sim` crate).
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
