//! The one error type of this crate.

/// Errors of `fluxbrain-kube`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The collector could not be configured or built.
    #[error(transparent)]
    Collector(#[from] crate::collector::Error),
}
