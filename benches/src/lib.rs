//! Shared inputs for fluxbrain benchmarks.
