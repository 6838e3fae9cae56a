//! The webhook's JSON envelope (DESIGN.md section 11), wire types only.
//!
//! Field order is declaration order and part of the contract: the body bytes of one
//! notification are the same on every run, which is what a signature is computed over.

use fluxbrain_core::{
    AffectedChange, AffectedObject, Analysis, ErrorEvent, Notification, NotificationKind, Time,
};
use serde::Serialize;

/// `{"notification": {...}, "event": <ErrorEvent>, "affected": [...], "analysis": ... | null}`,
/// and for `updated` also `"change": {"joined": [...], "left": [...]}` after `affected`.
#[derive(Debug, Serialize)]
pub struct Envelope<'a> {
    /// What this notification says about its incident.
    pub notification: EnvelopeHeader<'a>,
    /// The incident's latest ErrorEvent, as canonical JSON.
    pub event: &'a ErrorEvent,
    /// Downstream objects folded into the incident, sorted.
    pub affected: &'a [AffectedObject],
    /// For `updated` only: `Kind/namespace/name` of the objects that started failing with the
    /// incident and of those that no longer do, since they were last announced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<&'a AffectedChange>,
    /// errorbrain's analysis (`{"kind": "verdict", "verdict": {...}}` or
    /// `{"kind": "text", "explanation": "..."}`), or `null`.
    pub analysis: Option<&'a Analysis>,
}

/// The envelope's `notification` object.
#[derive(Debug, Serialize)]
pub struct EnvelopeHeader<'a> {
    /// The notification's stable id, also sent as `Idempotency-Key`.
    pub id: &'a str,
    /// `firing`, `reminder`, `updated` or `resolved`.
    pub kind: &'static str,
    /// For `resolved` only: `recovered`, `superseded`, `deleted` or `suspended`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<&'static str>,
    /// The incident's id (the ErrorEvent `id`).
    pub incident_id: &'a str,
    /// 1 for the firing, one more per reminder; a resolution repeats the last.
    pub occurrence: u32,
    /// When fluxbrain decided this notification.
    pub at: Time,
    /// Who acknowledged the incident, when and why, if someone did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<&'a fluxbrain_core::Ack>,
}

impl<'a> Envelope<'a> {
    /// The envelope of `note`, with `analysis` in place of the note's own (the notifier passes
    /// a redacted copy).
    pub fn new(note: &'a Notification, analysis: Option<&'a Analysis>) -> Envelope<'a> {
        let resolution = match note.kind {
            NotificationKind::Resolved(r) => Some(r.as_str()),
            NotificationKind::Firing | NotificationKind::Reminder | NotificationKind::Updated => {
                None
            }
        };
        Envelope {
            notification: EnvelopeHeader {
                id: &note.id,
                kind: note.kind.as_str(),
                resolution,
                incident_id: &note.incident_id,
                occurrence: note.occurrence,
                at: note.at,
                acknowledged: note.acknowledged.as_ref(),
            },
            event: &note.event,
            affected: &note.affected,
            change: note.change.as_ref(),
            analysis,
        }
    }
}
