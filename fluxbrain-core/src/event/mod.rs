//! Building errorbrain v1 ErrorEvents from a snapshot (DESIGN.md section 6).

mod build;
mod evidence;
mod id;

pub use build::{BuildOptions, Incident, build, build_all, fingerprint_of};
pub use id::event_id;
