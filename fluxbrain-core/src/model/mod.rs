//! The fact model: what fluxbrain keeps about objects, events, pods and log lines.

pub mod event;
pub mod health;
pub mod kind;
pub mod log;
pub mod object;
pub mod pod;
pub mod snapshot;
