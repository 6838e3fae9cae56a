//! fluxbrain-core against the shared fixtures, vectors and schema.
//!
//! The data comes from the repository (`testdata/`, `examples/clusters/basic`) or, when
//! `FLUXBRAIN_SHARED` names a folder laid out like the project's `shared/` (as `.ci/run` does),
//! from there, so the same tests prove the copies and the originals.

mod support;

mod facts;
mod fixtures;
mod flux2;
mod kinds;
mod malformed;
mod redaction;
mod schema;
mod shuffle;
mod vectors;
