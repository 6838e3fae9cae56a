//! An in-process Kubernetes API server for fluxbrain's tests, demo and benchmarks: the real
//! HTTP protocol, Flux kinds, scripted failures and injected faults. Never in the shipped
//! image (the CLI links it only behind its `sim` feature).
//!
//! It speaks the real protocol (plain HTTP/1.1, no auth) so `kubectl` and kube-rs work
//! against it unchanged: discovery (legacy and aggregated), get and list (`limit`/`continue`,
//! label and field selectors, Tables), watch (resourceVersions, bookmarks, `timeoutSeconds`,
//! `410 Gone`), create/update/patch/delete with optimistic concurrency and the `status`
//! subresource (bodies in JSON, YAML, or the protobuf kubectl's typed clients send for
//! ConfigMaps, Namespaces and Leases), pod logs, OpenAPI documents with a schemaless entry per
//! kind, and RBAC for one ServiceAccount when asked. Every failure is a Kubernetes `Status`.
//! It deliberately is not a full API server: no admission, no schemas or validation, no
//! controllers (except that it finalizes deleted objects at once).
//!
//! Where to start:
//! - [`Simulator`]: the cluster; [`Simulator::serve`] puts it on a port (a [`Server`], which
//!   writes a [`kubeconfig`]), [`Simulator::service`] serves it in process (tests on paused
//!   time);
//! - [`State`]: what it starts from (a folder in the layout of `examples/clusters/basic`);
//! - [`Rbac`]: Roles and bindings from a file (a rendered `deploy/base`), enforced on every
//!   request of one ServiceAccount;
//! - [`Script`]: timed steps (a failure starts, repeats, recovers); [`Faults`]: latency, 5xx,
//!   429, dropped watches, expired resourceVersions;
//! - [`Error`]: everything that can go wrong loading or serving.
//!
//! Time is injected: the simulator has its own clock that only [`Simulator::advance`] (or the
//! real-time driver of `fluxbrain sim serve`) moves, and scripted steps run as the clock passes
//! their time. Server timeouts (watch `timeoutSeconds`, bookmarks, injected latency) use tokio
//! time, so tests with paused tokio time never wait on the wall clock either.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fluxbrain_sim::Error> {
//! use std::time::Duration;
//! use fluxbrain_sim::{Config, Faults, Script, Simulator, State};
//!
//! let state = State::load_dir("examples/clusters/basic")?;
//! let sim = Simulator::new(state, Config::default())?;
//! let server = sim.serve(([127, 0, 0, 1], 0).into()).await?;  // port 0: a free port
//! server.write_kubeconfig("/tmp/kubeconfig")?;      // kubectl --kubeconfig /tmp/kubeconfig ...
//! sim.run_script(Script::from_file("failure.yaml")?);
//! sim.advance(Duration::from_secs(60))?;             // steps due in the first minute apply now
//! sim.set_faults(Faults { error_rate: 0.5, error_status: 429, retry_after: Some(1), ..Faults::default() });
//! sim.drop_watches();
//! sim.expire_resource_versions();
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod body;
mod clock;
mod discovery;
mod error;
mod events;
mod faults;
mod kubeconfig;
mod logs;
mod media;
mod openapi;
mod patch;
mod protobuf;
mod query;
mod rbac;
mod resources;
mod script;
mod selector;
mod server;
mod simulator;
mod state;
mod status;
mod store;
mod table;
mod watch;

pub use error::Error;
pub use faults::Faults;
pub use kubeconfig::{kubeconfig, kubeconfig_with_token};
pub use rbac::Rbac;
pub use script::Script;
pub use server::Server;
pub use simulator::{Config, Crds, Simulator};
pub use state::State;
