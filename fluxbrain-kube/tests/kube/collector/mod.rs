//! The collector against the simulator: once, continuous, several clusters, logs, faults.

mod clusters;
mod equivalence;
mod once;
mod support;
mod watch;
mod watches_alone;
