//! The errorbrain request body, wire type only.
//!
//! `event` and `store_in_vault` are the errorbrain SDK envelope a spec-strict server reads;
//! the fields after them are the published server's `ErrorReport` model (`language`,
//! `project`, `message`, `traceback`, `tags`, `metadata`), filled from the same event, since
//! that server reads those and ignores unknown keys. One body serves both.

use fluxbrain_core::{ErrorEvent, FluxMetadata, Language};
use serde::Serialize;

/// `POST {base}/v1/errors`.
#[derive(Debug, Serialize)]
pub struct AnalyzeRequest<'a> {
    /// The errorbrain v1 ErrorEvent.
    pub event: &'a ErrorEvent,
    /// Whether errorbrain should keep the analysis in its vault.
    pub store_in_vault: bool,
    /// `ErrorReport.language`: the event's `source.language` (`other` for Flux).
    pub language: Language,
    /// `ErrorReport.project`: the configured project, else the cluster.
    pub project: &'a str,
    /// `ErrorReport.message`: the event's message.
    pub message: &'a str,
    /// `ErrorReport.traceback`: the failing object, its conditions, events and log lines as
    /// text (Flux has no stack trace; these are its nearest equivalent).
    pub traceback: String,
    /// `ErrorReport.tags`: the event's `source.tags`.
    pub tags: &'a [String],
    /// `ErrorReport.metadata`: the event's `metadata`.
    pub metadata: &'a FluxMetadata,
}
