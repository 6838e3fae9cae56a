//! The error type of fluxbrain-core.

use std::fmt;

/// Errors from fluxbrain-core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An object, event, pod or log line could not be read; the others are unaffected.
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// A Kubernetes object (or log line) that fluxbrain could not read.
///
/// Names the object as far as it could be read and the field that was wrong, so an operator can
/// find it with `kubectl get`. Parsing one bad object never affects the others.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {field}: {problem}")]
pub struct ParseError {
    /// The object as `Kind namespace/name`, as far as it could be read.
    pub object: String,
    /// The path of the offending field, e.g. `status.conditions[0].type`.
    pub field: String,
    /// What was wrong with it.
    pub problem: Problem,
}

/// What was wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The field is required and absent (or null).
    Missing,
    /// The field has the wrong JSON type.
    WrongType {
        /// What fluxbrain expected, e.g. `a string`.
        expected: &'static str,
        /// What the document holds, e.g. `a boolean (false)`.
        found: String,
    },
    /// The field has a value outside what Kubernetes allows.
    Invalid {
        /// The value, shortened for display.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing"),
            Problem::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            Problem::Invalid { value, expected } => {
                write!(f, "invalid value {value:?}, expected {expected}")
            }
        }
    }
}

/// Something fluxbrain read but had to correct, reported beside the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    /// The object as `Kind namespace/name`.
    pub object: String,
    /// The path of the field.
    pub field: String,
    /// What was corrected.
    pub message: String,
}

impl fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.object, self.field, self.message)
    }
}
