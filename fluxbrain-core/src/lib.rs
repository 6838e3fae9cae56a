//! Pure core of fluxbrain.
