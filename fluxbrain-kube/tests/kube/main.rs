//! The collector, the ConfigMap state store and Lease election against the simulator over real
//! HTTP.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod collector;
mod fleet;
mod lease;
mod runtime;
mod state_store;
mod support;
