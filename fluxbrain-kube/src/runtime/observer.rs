//! What the runtime tells the rest of the process (readiness, metrics, the `/v1` routes).

use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::{ClusterObservation, CollectError, Engine};

/// One policy step, as the runtime reports it.
#[derive(Debug)]
pub struct Step<'a> {
    /// What the collector returned.
    pub observations: &'a [Result<ClusterObservation, CollectError>],
    /// How long the step took (collect, observe, save).
    pub took: Duration,
    /// Why the state could not be saved, if it could not.
    pub state_error: Option<String>,
}

/// Receives the runtime's news. Every method has an empty default; the calls come from the
/// runtime's own task, so they should return at once.
pub trait Observer: Send + Sync {
    /// Whether this replica leads (holds the Lease, or needs none).
    fn leading(&self, leading: bool) {
        let _ = leading;
    }

    /// The engine now in charge: `Some` when this replica took over and loaded the state,
    /// `None` when it stepped down.
    fn engine(&self, engine: Option<Arc<Engine>>) {
        let _ = engine;
    }

    /// A policy step ran.
    fn step(&self, step: &Step<'_>) {
        let _ = step;
    }

    /// The engine could not start (the state store cannot be read).
    fn engine_failed(&self, error: &str) {
        let _ = error;
    }

    /// `notifier` delivered notifications that had waited this long since they fell due.
    fn delivered(&self, notifier: &str, waited: &[Duration]) {
        let _ = (notifier, waited);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ignore;

impl Observer for Ignore {}
