//! Building errorbrain v1 ErrorEvents from a snapshot (DESIGN.md section 6).

mod build;
mod evidence;
mod id;
mod messages;

pub use build::{BuildOptions, Incident, build, build_all, fingerprint_of, reported_fingerprint};
pub use id::event_id;
