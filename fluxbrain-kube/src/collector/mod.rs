//! The collector: Flux objects, their events, controller pods and log lines, read from real
//! clusters through kube-rs and turned into core's [`Snapshot`](fluxbrain_core::Snapshot)s.
//!
//! Start with [`KubeCollector`], built from a [`CollectorConfig`] (usually
//! [`CollectorConfig::from_env`]). Per cluster it discovers the Flux kinds served at their
//! preferred version ([`ServedKind`]), then either lists them once (pages of 500, a few lists in
//! flight) or watches them continuously, keeping only the facts core parses (never the raw
//! objects). Every document goes through core's own parser, so `run` and `render` give the same
//! events for the same objects.
//!
//! What it deliberately is not: a cache of Kubernetes objects, or a judge of them. It reads;
//! the engine decides.
//!
//! Robustness: every plain request has a timeout ([`CollectorConfig::api_timeout`]) and a
//! watch that goes silent for 2.5 bookmark periods is resumed; API failures are classified
//! ([`ErrorClass`]) and counted ([`Metrics`]); one cluster failing never affects another.

mod cluster;
mod config;
mod discovery;
mod error;
mod facts;
mod faults;
mod kube_collector;
mod list;
mod logs;
mod metrics;
mod once;
mod source;
mod store;
mod stored_event;
mod supervisor;
mod watch;

pub use config::{ClusterConfig, CollectorConfig, DEFAULT_FLUX_NAMESPACE};
pub use discovery::ServedKind;
pub use error::{Error, ErrorClass};
pub use kube_collector::{ClusterStatus, KubeCollector};
pub use metrics::{FailedRequests, Metrics};
