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
//! - [`fleet`]: many clusters shared among replicas: a membership Lease per replica, a Lease
//!   and a state document per cluster, owners by rendezvous hashing; each owned cluster runs a
//!   [`Runtime`] of its own.
//! - [`runtime`]: the continuous [`Runtime`] (observe on every change and every requeue,
//!   deliver per notifier, lead on the Lease, shut down gracefully) and [`runtime::once`]
//!   (a CronJob's run). Its clock is injected ([`runtime::Clock`]), so tests play it on
//!   paused time.
//!
//! What it deliberately is not: a Kubernetes object cache (it keeps only the facts core
//! parses), or a test server (that is the `fluxbrain-sim` crate).
//!
//! The collector over a simulated cluster, served in process (a real cluster: build the
//! [`ClusterConfig`] from a `kube::Config` instead):
//!
//! ```
//! use fluxbrain_core::Collector;
//! use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
//! use fluxbrain_sim::{Config, Simulator, State};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mut state = State::new();
//! state
//!     .load_str(
//!         r#"
//! apiVersion: kustomize.toolkit.fluxcd.io/v1
//! kind: Kustomization
//! metadata: {name: apps, namespace: flux-system}
//! spec: {interval: 10m, path: ./apps, sourceRef: {kind: GitRepository, name: flux-system}}
//! status:
//!   conditions:
//!   - {type: Ready, status: "False", reason: BuildFailed, message: "kustomize build failed"}
//! "#,
//!         "inline",
//!     )
//!     .unwrap();
//! let sim = Simulator::new(state, Config::default()).unwrap();
//! let client = kube::Client::new(sim.service(), "default");
//! let config = CollectorConfig::new(vec![ClusterConfig::with_client("prod", client)]);
//! let collector = KubeCollector::new(config).unwrap();
//! // Once mode lists; `collector.start()` would watch instead.
//! let observations = collector.collect().await;
//! let snapshot = &observations[0].as_ref().unwrap().snapshot;
//! assert_eq!(snapshot.cluster, "prod");
//! assert_eq!(snapshot.objects[0].key.name, "apps");
//! # }
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod collector;
pub mod configmap_store;
pub mod error;
pub mod fleet;
pub mod lease;
pub mod runtime;
pub use collector::{ClusterConfig, CollectorConfig, KubeCollector};
pub use configmap_store::ConfigMapStore;
pub use error::Error;
pub use lease::{LeaderElector, LeaseConfig};
pub use runtime::{Runtime, RuntimeConfig};
