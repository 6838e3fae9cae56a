//! The per-object decision.

use std::time::Duration;

use crate::fingerprint::Fingerprint;
use crate::model::health::Health;
use crate::notification::Resolution;
use crate::time::Time;

use super::incident::{IncidentKey, IncidentRecord};

/// Policy settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyConfig {
    /// How often an open incident is reminded; `None` never.
    pub remind_every: Option<Duration>,
    /// How long a new incident that fails on its own is held before it is announced, so that
    /// the downstream objects failing with it within that time are in its first notification
    /// (Alertmanager's `group_wait`). Zero announces at once.
    pub group_wait: Duration,
    /// At most one `updated` notification per this interval per incident, when the downstream
    /// objects failing with it changed (Alertmanager's `group_interval`); `None` (or zero)
    /// never sends updates.
    pub group_interval: Option<Duration>,
}

impl Default for PolicyConfig {
    /// Reminders every 4 hours; no group wait and no updates (what an embedding that drives
    /// the engine step by step expects). The `fluxbrain` binary's defaults are a 30 s group
    /// wait and a 5 min group interval.
    fn default() -> Self {
        PolicyConfig {
            remind_every: Some(Duration::from_secs(4 * 3600)),
            group_wait: Duration::ZERO,
            group_interval: None,
        }
    }
}

/// What was observed of one object in one cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Its health.
    pub health: Health,
    /// Its fingerprint, when failing.
    pub fingerprint: Option<Fingerprint>,
    /// The failing upstream to fold into: the root of its chain of failing declared links,
    /// when that root has no failing upstream itself.
    pub fold_into: Option<IncidentKey>,
}

/// What operators said about an open incident: silenced (its firing, updates and reminders
/// wait), acknowledged (its reminders stop).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mute {
    /// A silence or the object's annotation holds it back.
    pub silenced: bool,
    /// Someone acknowledged it.
    pub acknowledged: bool,
}

/// What happens to one object's incident.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Decision {
    /// Nothing to say.
    Quiet,
    /// A new incident, announced on its own.
    Fire,
    /// A new (or folded) incident that its failing upstream announces; nothing of its own.
    Fold(IncidentKey),
    /// The open incident, folded until now, has lost its failing upstream: it fires on its own.
    Unfold,
    /// The open incident, held for the group wait, is announced now.
    Announce,
    /// The open incident is due a reminder.
    Remind,
    /// The object fails differently: the open incident resolves as superseded and a new one
    /// opens (on its own, or folded into `fold_into`).
    Supersede {
        /// Where the new incident folds into, if anywhere.
        fold_into: Option<IncidentKey>,
    },
    /// The open incident ends.
    Resolve(Resolution),
}

impl Decision {
    /// What kind of decision it is, without its data.
    pub fn kind(&self) -> DecisionKind {
        match self {
            Decision::Quiet => DecisionKind::Quiet,
            Decision::Fire => DecisionKind::Fire,
            Decision::Fold(_) => DecisionKind::Fold,
            Decision::Unfold => DecisionKind::Unfold,
            Decision::Announce => DecisionKind::Announce,
            Decision::Remind => DecisionKind::Remind,
            Decision::Supersede { .. } => DecisionKind::Supersede,
            Decision::Resolve(_) => DecisionKind::Resolve,
        }
    }
}

/// The kind of a [`Decision`], what [`Plan::decisions`](super::Plan::decisions) counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DecisionKind {
    /// [`Decision::Quiet`].
    Quiet,
    /// [`Decision::Fire`].
    Fire,
    /// [`Decision::Fold`].
    Fold,
    /// [`Decision::Unfold`].
    Unfold,
    /// [`Decision::Announce`].
    Announce,
    /// [`Decision::Remind`].
    Remind,
    /// [`Decision::Supersede`].
    Supersede,
    /// [`Decision::Resolve`].
    Resolve,
}

impl DecisionKind {
    /// Lower-case name, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Quiet => "quiet",
            DecisionKind::Fire => "fire",
            DecisionKind::Fold => "fold",
            DecisionKind::Unfold => "unfold",
            DecisionKind::Announce => "announce",
            DecisionKind::Remind => "remind",
            DecisionKind::Supersede => "supersede",
            DecisionKind::Resolve => "resolve",
        }
    }
}

/// Decides from state alone: same inputs, same answer. `seen` is `None` when the object is
/// gone from a cluster that was fully observed; `mute` is what operators said about the open
/// incident (a new one's silence is applied when it opens, see [`plan`](super::plan)).
pub fn decide(
    open: Option<&IncidentRecord>,
    seen: Option<&Observed>,
    now: Time,
    config: &PolicyConfig,
    mute: Mute,
) -> Decision {
    let Some(incident) = open else {
        return match seen {
            Some(seen) if seen.health == Health::Failing => match &seen.fold_into {
                Some(root) => Decision::Fold(root.clone()),
                None => Decision::Fire,
            },
            _ => Decision::Quiet,
        };
    };
    let Some(seen) = seen else {
        return Decision::Resolve(Resolution::Deleted);
    };
    match seen.health {
        Health::Healthy => Decision::Resolve(Resolution::Recovered),
        Health::Suspended => Decision::Resolve(Resolution::Suspended),
        // Flux retries: the incident stays open until the object is healthy.
        Health::Progressing | Health::Unknown => Decision::Quiet,
        Health::Failing if seen.fingerprint != Some(incident.fingerprint) => Decision::Supersede {
            fold_into: seen.fold_into.clone(),
        },
        Health::Failing => match (&incident.folded_into, &seen.fold_into) {
            (Some(_), None) => Decision::Unfold,
            (Some(was), Some(now_root)) if was != now_root => Decision::Fold(now_root.clone()),
            (Some(_), Some(_)) => Decision::Quiet,
            // Held for the group wait: announced when it ends; a failing upstream that shows
            // up meanwhile takes it in.
            (None, Some(root)) if !incident.fired => Decision::Fold(root.clone()),
            // Silenced before it was announced: announced when the silence ends.
            (None, None) if !incident.fired && mute.silenced => Decision::Quiet,
            (None, None) if !incident.fired => match incident.hold_until {
                Some(until) if now < until && !config.group_wait.is_zero() => Decision::Quiet,
                _ => Decision::Announce,
            },
            // An incident that fired on its own stays its own, even if its source fails later.
            // Silenced or acknowledged: no reminders.
            (None, _) if mute.silenced || mute.acknowledged => Decision::Quiet,
            (None, _) => match config.remind_every {
                Some(every) if !every.is_zero() && due(incident.last_notified, every, now) => {
                    Decision::Remind
                }
                _ => Decision::Quiet,
            },
        },
    }
}

fn due(last: Time, every: Duration, now: Time) -> bool {
    let elapsed = now.timestamp().as_second() - last.timestamp().as_second();
    u64::try_from(elapsed).is_ok_and(|elapsed| elapsed >= every.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errorbrain::*;
    use crate::fingerprint::FingerprintInput;

    pub(crate) fn fp(reason: &str) -> Fingerprint {
        Fingerprint::of(&FingerprintInput {
            cluster: "c",
            namespace: "n",
            kind: "Kustomization",
            name: "a",
            reason,
            revision: "",
        })
    }

    fn t(s: i64) -> Time {
        Time::new(jiff::Timestamp::from_second(1_776_000_000 + s).unwrap())
    }

    fn key(name: &str) -> IncidentKey {
        IncidentKey {
            cluster: "c".into(),
            kind: "Kustomization".into(),
            namespace: "n".into(),
            name: name.into(),
        }
    }

    fn record(folded_into: Option<IncidentKey>) -> IncidentRecord {
        IncidentRecord {
            key: key("a"),
            id: "id".into(),
            fingerprint: fp("BuildFailed"),
            reason: "BuildFailed".into(),
            started: t(0),
            last_notified: t(0),
            occurrence: 1,
            fired: folded_into.is_none(),
            folded_into,
            hold_until: None,
            announced: vec![],
            announced_at: None,
            updates: 0,
            ack: None,
            silenced: None,
            timeline: vec![],
            event: ErrorEvent {
                id: "id".into(),
                timestamp: t(0),
                source: EventSource {
                    language: Language::Other,
                    name: "kustomize-controller".into(),
                    version: None,
                    environment: None,
                    hostname: None,
                    tags: vec![],
                },
                message: String::new(),
                error_type: None,
                severity: None,
                metadata: FluxMetadata {
                    cluster: "c".into(),
                    namespace: "n".into(),
                    kind: "Kustomization".into(),
                    name: "a".into(),
                    api_version: "kustomize.toolkit.fluxcd.io/v1".into(),
                    uid: None,
                    generation: None,
                    observed_generation: None,
                    suspended: false,
                    revision: RevisionFacts::default(),
                    source: None,
                    depends_on: vec![],
                    conditions: vec![],
                    inventory_count: None,
                    fingerprint: fp("BuildFailed"),
                    incident: IncidentFacts {
                        started: t(0),
                        occurrence: 1,
                    },
                    upstream: None,
                    fluxbrain_version: String::new(),
                },
                evidence: vec![],
            },
        }
    }

    fn failing(reason: &str, fold_into: Option<IncidentKey>) -> Observed {
        Observed {
            health: Health::Failing,
            fingerprint: Some(fp(reason)),
            fold_into,
        }
    }

    fn health(health: Health) -> Observed {
        Observed {
            health,
            fingerprint: None,
            fold_into: None,
        }
    }

    #[test]
    fn table() {
        let cfg = PolicyConfig::default();
        let own = record(None);
        let folded = record(Some(key("root")));
        let four_hours = 4 * 3600;
        let cases: Vec<(Option<&IncidentRecord>, Option<Observed>, i64, Decision)> = vec![
            (None, Some(failing("BuildFailed", None)), 0, Decision::Fire),
            (
                None,
                Some(failing("BuildFailed", Some(key("root")))),
                0,
                Decision::Fold(key("root")),
            ),
            (None, Some(health(Health::Healthy)), 0, Decision::Quiet),
            (None, None, 0, Decision::Quiet),
            (
                Some(&own),
                Some(failing("BuildFailed", None)),
                four_hours - 1,
                Decision::Quiet,
            ),
            (
                Some(&own),
                Some(failing("BuildFailed", None)),
                four_hours,
                Decision::Remind,
            ),
            (
                Some(&own),
                Some(failing("BuildFailed", Some(key("root")))),
                60,
                Decision::Quiet,
            ),
            (
                Some(&own),
                Some(failing("HealthCheckFailed", None)),
                60,
                Decision::Supersede { fold_into: None },
            ),
            (
                Some(&own),
                Some(health(Health::Progressing)),
                60,
                Decision::Quiet,
            ),
            (
                Some(&own),
                Some(health(Health::Unknown)),
                60,
                Decision::Quiet,
            ),
            (
                Some(&own),
                Some(health(Health::Healthy)),
                60,
                Decision::Resolve(Resolution::Recovered),
            ),
            (
                Some(&own),
                Some(health(Health::Suspended)),
                60,
                Decision::Resolve(Resolution::Suspended),
            ),
            (Some(&own), None, 60, Decision::Resolve(Resolution::Deleted)),
            (
                Some(&folded),
                Some(failing("BuildFailed", Some(key("root")))),
                four_hours * 2,
                Decision::Quiet,
            ),
            (
                Some(&folded),
                Some(failing("BuildFailed", None)),
                60,
                Decision::Unfold,
            ),
            (
                Some(&folded),
                Some(failing("BuildFailed", Some(key("other")))),
                60,
                Decision::Fold(key("other")),
            ),
        ];
        for (open, seen, at, want) in cases {
            assert_eq!(
                decide(open, seen.as_ref(), t(at), &cfg, Mute::default()),
                want,
                "{open:?} {seen:?} at {at}"
            );
        }
    }

    #[test]
    fn zero_interval_never_reminds() {
        let cfg = PolicyConfig {
            remind_every: Some(Duration::ZERO),
            ..PolicyConfig::default()
        };
        let own = record(None);
        let seen = failing("BuildFailed", None);
        assert_eq!(
            decide(Some(&own), Some(&seen), t(1_000_000), &cfg, Mute::default()),
            Decision::Quiet
        );
        let never = PolicyConfig {
            remind_every: None,
            ..PolicyConfig::default()
        };
        assert_eq!(
            decide(
                Some(&own),
                Some(&seen),
                t(1_000_000),
                &never,
                Mute::default()
            ),
            Decision::Quiet
        );
    }

    #[test]
    fn a_held_incident_is_announced_when_its_wait_ends() {
        let cfg = PolicyConfig {
            group_wait: Duration::from_secs(30),
            ..PolicyConfig::default()
        };
        let mut held = record(None);
        held.fired = false;
        held.hold_until = Some(t(30));
        let seen = failing("BuildFailed", None);
        assert_eq!(
            decide(Some(&held), Some(&seen), t(29), &cfg, Mute::default()),
            Decision::Quiet
        );
        assert_eq!(
            decide(Some(&held), Some(&seen), t(30), &cfg, Mute::default()),
            Decision::Announce
        );
        // A failing upstream that appears meanwhile takes it in.
        let under = failing("BuildFailed", Some(key("root")));
        assert_eq!(
            decide(Some(&held), Some(&under), t(10), &cfg, Mute::default()),
            Decision::Fold(key("root"))
        );
        // Recovered before it was announced: it ends (silently, as it never fired).
        assert_eq!(
            decide(
                Some(&held),
                Some(&health(Health::Healthy)),
                t(10),
                &cfg,
                Mute::default()
            ),
            Decision::Resolve(Resolution::Recovered)
        );
        // Without a group wait (once mode), a held incident is announced at once.
        let at_once = PolicyConfig::default();
        assert_eq!(
            decide(Some(&held), Some(&seen), t(1), &at_once, Mute::default()),
            Decision::Announce
        );
    }

    #[test]
    fn silences_hold_the_announcement_and_silences_and_acks_stop_reminders() {
        let cfg = PolicyConfig::default();
        let silenced = Mute {
            silenced: true,
            acknowledged: false,
        };
        let acked = Mute {
            silenced: false,
            acknowledged: true,
        };
        let seen = failing("BuildFailed", None);
        let mut held = record(None);
        held.fired = false;
        assert_eq!(
            decide(Some(&held), Some(&seen), t(1), &cfg, silenced),
            Decision::Quiet
        );
        assert_eq!(
            decide(Some(&held), Some(&seen), t(1), &cfg, Mute::default()),
            Decision::Announce,
            "announced once the silence ends"
        );
        let own = record(None);
        let due = 4 * 3600;
        for mute in [silenced, acked] {
            assert_eq!(
                decide(Some(&own), Some(&seen), t(due), &cfg, mute),
                Decision::Quiet
            );
            // Resolutions and supersessions are not held back.
            assert_eq!(
                decide(
                    Some(&own),
                    Some(&health(Health::Healthy)),
                    t(due),
                    &cfg,
                    mute
                ),
                Decision::Resolve(Resolution::Recovered)
            );
            assert_eq!(
                decide(
                    Some(&own),
                    Some(&failing("Other", None)),
                    t(due),
                    &cfg,
                    mute
                ),
                Decision::Supersede { fold_into: None }
            );
        }
        assert_eq!(
            decide(Some(&own), Some(&seen), t(due), &cfg, Mute::default()),
            Decision::Remind
        );
    }
}
