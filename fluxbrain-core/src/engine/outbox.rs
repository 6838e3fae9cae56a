//! Outbox scheduling: which notifications a notifier is due to send, and what an attempt's
//! outcome does to the state. Pure; the engine performs the sends.

use std::time::Duration;

use crate::notification::{DeliveryError, NotificationKind, Receipt, Retry};
use crate::policy::IncidentKey;
use crate::policy::timeline::{self, Happened};
use crate::time::Time;

use super::backoff::Backoff;
use super::state::{DeadLetter, Delivery, OutboxEntry, State};

/// Adds `notification` for every notifier in `notifiers`.
pub fn enqueue(
    state: &mut State,
    notification: crate::notification::Notification,
    notifiers: &[String],
) {
    if notifiers.is_empty() {
        return;
    }
    state.outbox.push(OutboxEntry {
        notification,
        analysis_tried: false,
        pending: notifiers
            .iter()
            .map(|n| (n.clone(), Delivery::default()))
            .collect(),
    });
}

/// The outbox positions `notifier` may attempt at `now`: per incident only the oldest pending
/// one (a reminder never overtakes its firing), and per fingerprint too (an object that
/// failed, recovered and failed again the same way is announced again only after its earlier
/// incident's resolution went out: a GitHub issue is found by the fingerprint's label, and
/// the new incident must not be filed on the issue its old resolution is about to close);
/// none while the notifier is paused.
pub fn due(state: &State, notifier: &str, now: Time) -> Vec<usize> {
    if let Some(until) = state
        .notifiers
        .get(notifier)
        .and_then(super::state::NotifierState::waits_until)
        && until > now
    {
        return Vec::new();
    }
    let mut incidents = std::collections::BTreeSet::new();
    let mut fingerprints = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, entry) in state.outbox.iter().enumerate() {
        let Some(delivery) = entry.pending.get(notifier) else {
            continue;
        };
        let note = &entry.notification;
        let first_of_incident = incidents.insert(note.incident_id.as_str());
        let first_of_fingerprint = fingerprints.insert(note.event.metadata.fingerprint);
        if !(first_of_incident && first_of_fingerprint) {
            continue;
        }
        if delivery.not_before.is_none_or(|t| t <= now) {
            out.push(i);
        }
    }
    out
}

/// The position of the notification `id` that `notifier` still has to send. Ids repeat only
/// when an object fails again with the start (fingerprint and transition second) of an
/// incident whose notifications are still queued for another notifier; the entry this
/// notifier's round took is the one pending for it.
pub fn position(state: &State, id: &str, notifier: &str) -> Option<usize> {
    state
        .outbox
        .iter()
        .position(|e| e.notification.id == id && e.pending.contains_key(notifier))
}

/// The earliest time `notifier` has something to attempt; `None` when nothing is pending.
pub fn next_due(state: &State, notifier: &str) -> Option<Time> {
    let paused = state
        .notifiers
        .get(notifier)
        .and_then(super::state::NotifierState::waits_until);
    state
        .outbox
        .iter()
        .filter_map(|e| e.pending.get(notifier))
        .map(|d| d.not_before.unwrap_or(Time::UNIX_EPOCH))
        .min()
        .map(|t| paused.map_or(t, |p| p.max(t)))
}

/// The receipt `notifier` got for the firing of `incident_id`, for threading.
pub fn thread<'s>(state: &'s State, incident_id: &str, notifier: &str) -> Option<&'s Receipt> {
    state.threads.get(incident_id)?.get(notifier)
}

/// How a retryable failure moves the notifier's backoff.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub backoff: &'a Backoff,
    /// The caller's random draw, in `[0, 1]`.
    pub jitter: f64,
    /// Whether this failure raises the backoff a step: only the first failure of a delivery
    /// round does (its requests, or a batch, are one attempt at the destination).
    pub counts: bool,
}

/// Records the outcome of `notifier`'s attempt at the notification with `id`.
///
/// Success removes it from the notifier's queue (and the outbox once every notifier has it)
/// and resets the notifier's backoff; a retryable failure pauses the notifier for the
/// destination's `Retry-After` or the backoff delay; a permanent failure moves it to the dead
/// letters. `jitter` ∈ `[0, 1]` is the caller's random draw.
pub fn record(
    state: &mut State,
    notifier: &str,
    id: &str,
    outcome: Result<Receipt, DeliveryError>,
    now: Time,
    step: Step<'_>,
) {
    let Some(pos) = position(state, id, notifier) else {
        return;
    };
    let moment = match &outcome {
        Ok(_) => Some(Happened::Delivered {
            notifier: notifier.to_owned(),
            notification: id.to_owned(),
        }),
        Err(error) if error.retry == Retry::Never => Some(Happened::DeadLettered {
            notifier: notifier.to_owned(),
            notification: id.to_owned(),
            error: error.message.clone(),
        }),
        Err(_) => None,
    };
    if let Some(what) = moment {
        note_in_timeline(state, pos, now, what);
    }
    let health = state.notifiers.entry(notifier.to_owned()).or_default();
    match outcome {
        Ok(receipt) => {
            health.failures = 0;
            health.paused_until = None;
            health.sent += 1;
            let entry = &mut state.outbox[pos];
            entry.pending.remove(notifier);
            let note = &entry.notification;
            if note.kind == NotificationKind::Firing {
                state
                    .threads
                    .entry(note.incident_id.clone())
                    .or_default()
                    .insert(notifier.to_owned(), receipt);
            }
        }
        Err(error) => {
            match error.retry {
                Retry::Throttled(wait) => {
                    // Flow control: pause for what the destination asked, and no longer
                    // than the longest wait trusted; the failure backoff stays as it was.
                    health.throttled += 1;
                    let until = later(now, wait.min(Retry::LONGEST_WAIT));
                    health.throttled_until =
                        Some(health.throttled_until.map_or(until, |t| t.max(until)));
                    if let Some(delivery) = state.outbox[pos].pending.get_mut(notifier) {
                        delivery.attempts += 1;
                        delivery.not_before = Some(until);
                        delivery.last_error = Some(error.message);
                    }
                }
                Retry::After(retry_after) => {
                    health.failed += 1;
                    if step.counts {
                        health.failures = health.failures.saturating_add(1);
                    }
                    let delay = retry_after
                        .map(|d| d.min(Retry::LONGEST_WAIT))
                        .unwrap_or_else(|| step.backoff.delay(health.failures, step.jitter));
                    let until = later(now, delay);
                    health.paused_until = Some(until);
                    if let Some(delivery) = state.outbox[pos].pending.get_mut(notifier) {
                        delivery.attempts += 1;
                        delivery.not_before = Some(until);
                        delivery.last_error = Some(error.message);
                    }
                }
                Retry::Never => {
                    health.failed += 1;
                    state.outbox[pos].pending.remove(notifier);
                    state.dead_letters.push(DeadLetter {
                        notification_id: id.to_owned(),
                        notifier: notifier.to_owned(),
                        error: error.message,
                        at: now,
                    });
                }
            }
        }
    }
    let entry = &state.outbox[pos];
    if entry.pending.is_empty() {
        let entry = state.outbox.remove(pos);
        // The incident's last notification is out: its threads are no longer needed.
        if matches!(entry.notification.kind, NotificationKind::Resolved(_))
            && !state
                .outbox
                .iter()
                .any(|e| e.notification.incident_id == entry.notification.incident_id)
        {
            state.threads.remove(&entry.notification.incident_id);
        }
    }
}

/// Adds `what` to the timeline of the incident of outbox entry `pos`, open or in the history.
fn note_in_timeline(state: &mut State, pos: usize, now: Time, what: Happened) {
    let note = &state.outbox[pos].notification;
    let meta = &note.event.metadata;
    let key = IncidentKey {
        cluster: meta.cluster.clone(),
        kind: meta.kind.clone(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
    };
    let timeline = match state.incidents.get_mut(&key) {
        Some(record) if record.id == note.incident_id => &mut record.timeline,
        _ => match state
            .history
            .iter_mut()
            .rev()
            .find(|r| r.id == note.incident_id)
        {
            Some(resolved) => &mut resolved.timeline,
            None => return,
        },
    };
    timeline::push(timeline, now, what);
}

fn later(now: Time, delay: Duration) -> Time {
    let seconds = i64::try_from(delay.as_secs()).unwrap_or(i64::MAX);
    let secs = now.timestamp().as_second().saturating_add(seconds.max(1));
    jiff::Timestamp::from_second(secs).map_or(now, Time::new)
}
