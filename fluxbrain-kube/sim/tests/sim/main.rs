//! The simulator over real HTTP: kubectl and kube-rs against it, protocol details, scripts.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kube_rs;
mod kubectl;
mod protocol;
mod scripts;
mod support;
