//! Controller log lines that name a Flux object.

use jiff::Timestamp;

use super::object::ObjectRef;

/// One controller log line (controller-runtime's zap JSON) that names an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogLine {
    /// The pod that wrote it.
    pub pod: String,
    /// The container that wrote it.
    pub container: String,
    /// `ts`.
    pub time: Timestamp,
    /// `level` (`info`, `error`, ...).
    pub level: String,
    /// `msg`, at most 32 KiB.
    pub message: String,
    /// `error`, when present, at most 32 KiB.
    pub error: Option<String>,
    /// `revision`, when present.
    pub revision: Option<String>,
    /// `reconcileID`, when present.
    pub reconcile_id: Option<String>,
    /// The object the line is about.
    pub object: ObjectRef,
}
