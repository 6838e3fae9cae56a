//! The [`StateStore`] trait, its in-memory implementation and its conformance suite.

use std::fmt;
use std::sync::Mutex;

use super::state::{STATE_VERSION, State};
use crate::control::{Control, Revision};

/// A failure to load or save state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another writer changed the state since it was loaded (a deposed leader): reload, and do
    /// not deliver.
    #[error("{store}: state was changed by another writer")]
    Conflict {
        /// The store.
        store: String,
    },
    /// The stored state cannot be read: truncated, garbled or not fluxbrain's. Stores leave it
    /// where it is (a store that can also keeps a copy aside) and never replace it silently.
    #[error("{store}: {message}")]
    Corrupt {
        /// The store.
        store: String,
        /// What is wrong and where, where a copy was kept, and how to start over.
        message: String,
    },
    /// The stored state was written by a newer fluxbrain (this one was rolled back): left
    /// untouched, neither read nor treated as damaged.
    #[error(
        "{store}: written by a newer fluxbrain (state version {found}; this one reads {reads}); {message}"
    )]
    Newer {
        /// The store.
        store: String,
        /// The version found.
        found: u32,
        /// The version this fluxbrain reads ([`STATE_VERSION`]).
        reads: u32,
        /// What was done with it and how to go on.
        message: String,
    },
    /// The store could not be reached or written.
    #[error("{store}: {message}")]
    Unavailable {
        /// The store.
        store: String,
        /// What failed.
        message: String,
    },
}

/// Keeps the engine's [`State`] across restarts.
///
/// `save` must be atomic (a crash leaves the old or the new state, never a mix) and, for stores
/// shared between replicas, fenced: a save based on a stale load fails with
/// [`StoreError::Conflict`].
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + fmt::Debug {
    /// Stable name for logs, e.g. `"file:/var/lib/fluxbrain/state.json"`.
    fn name(&self) -> String;
    /// The last saved state; `None` when nothing was ever saved. Saved state that cannot be
    /// read is [`StoreError::Corrupt`] (see [`decode`]), or [`StoreError::Newer`], and stays as
    /// it is: never replaced by empty state without an operator.
    async fn load(&self) -> Result<Option<State>, StoreError>;
    /// Replaces the saved state.
    async fn save(&self, state: &State) -> Result<(), StoreError>;
    /// The operators' [`Control`] document (silences, acknowledgements) and its revision;
    /// `None` when none was ever saved. The engine reads it once per step; only operators
    /// write it.
    async fn load_control(&self) -> Result<Option<(Control, Revision)>, StoreError>;
    /// Replaces the control document if it is still at `expected` (`None`: if there is none
    /// yet); [`StoreError::Conflict`] otherwise. Use [`crate::control::update`].
    async fn save_control(
        &self,
        control: &Control,
        expected: Option<&Revision>,
    ) -> Result<(), StoreError>;
}

/// Serializes state as every store writes it: versioned JSON.
pub fn encode(state: &State) -> Vec<u8> {
    // State holds only strings, integers, booleans and string-keyed maps: serializing it
    // cannot fail.
    serde_json::to_vec(state).unwrap_or_default()
}

/// Why stored bytes are not a [`State`] this fluxbrain reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Truncated, garbled or not fluxbrain's state. The text is a predicate for the store to
    /// put its subject before: `ends early (EOF while parsing a list at line 1 column 4096):
    /// truncated?`, `is not valid JSON (...)`, `is not fluxbrain state (...)`.
    #[error("{0}")]
    Damaged(String),
    /// Written by a newer fluxbrain.
    #[error("written by a newer fluxbrain (state version {found}; this one reads {STATE_VERSION})")]
    Newer {
        /// The version found.
        found: u32,
    },
}

/// Reads what [`encode`] wrote.
///
/// # Errors
/// [`DecodeError::Newer`] for a later [`STATE_VERSION`], [`DecodeError::Damaged`] naming what
/// is wrong and where for anything else that is not this version's state.
pub fn decode(bytes: &[u8]) -> Result<State, DecodeError> {
    #[derive(serde::Deserialize)]
    struct Version {
        version: u32,
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Damaged("is empty".to_owned()));
    }
    let version: Version = serde_json::from_slice(bytes).map_err(|e| {
        DecodeError::Damaged(match e.classify() {
            serde_json::error::Category::Data => format!("is not fluxbrain state ({e})"),
            _ => not_json(&e),
        })
    })?;
    match version.version {
        STATE_VERSION => {}
        found if found > STATE_VERSION => return Err(DecodeError::Newer { found }),
        found => {
            return Err(DecodeError::Damaged(format!(
                "is state version {found}, which this fluxbrain cannot read (it reads version {STATE_VERSION})"
            )));
        }
    }
    serde_json::from_slice(bytes).map_err(|e| {
        DecodeError::Damaged(match e.classify() {
            serde_json::error::Category::Data => {
                format!("says state version {STATE_VERSION} but does not match it ({e})")
            }
            _ => not_json(&e),
        })
    })
}

/// What a JSON syntax error says about the bytes: an early end is most likely a cut.
fn not_json(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Eof => format!("ends early ({e}): truncated?"),
        _ => format!("is not valid JSON ({e})"),
    }
}

/// State in memory, encoded as the other stores encode it; lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    bytes: Mutex<Option<Vec<u8>>>,
    /// The control document and how many times it was saved.
    control: Mutex<Option<(Vec<u8>, u64)>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

#[async_trait::async_trait]
impl StateStore for MemoryStore {
    fn name(&self) -> String {
        "memory".to_owned()
    }

    async fn load(&self) -> Result<Option<State>, StoreError> {
        let bytes = self
            .bytes
            .lock()
            .map_err(|_| unavailable("lock poisoned"))?
            .clone();
        bytes
            .map(|b| {
                decode(&b).map_err(|e| match e {
                    DecodeError::Newer { found } => StoreError::Newer {
                        store: "memory".into(),
                        found,
                        reads: STATE_VERSION,
                        message: "left as it is".into(),
                    },
                    DecodeError::Damaged(problem) => StoreError::Corrupt {
                        store: "memory".into(),
                        message: format!("the state {problem}"),
                    },
                })
            })
            .transpose()
    }

    async fn save(&self, state: &State) -> Result<(), StoreError> {
        let encoded = encode(state);
        *self
            .bytes
            .lock()
            .map_err(|_| unavailable("lock poisoned"))? = Some(encoded);
        Ok(())
    }

    async fn load_control(&self) -> Result<Option<(Control, Revision)>, StoreError> {
        let saved = self
            .control
            .lock()
            .map_err(|_| unavailable("lock poisoned"))?
            .clone();
        saved
            .map(|(bytes, n)| {
                crate::control::decode(&bytes)
                    .map(|c| (c, Revision(n.to_string())))
                    .map_err(|message| StoreError::Corrupt {
                        store: "memory".into(),
                        message,
                    })
            })
            .transpose()
    }

    async fn save_control(
        &self,
        control: &Control,
        expected: Option<&Revision>,
    ) -> Result<(), StoreError> {
        let mut slot = self
            .control
            .lock()
            .map_err(|_| unavailable("lock poisoned"))?;
        let current = slot.as_ref().map(|(_, n)| Revision(n.to_string()));
        if current.as_ref() != expected {
            return Err(StoreError::Conflict {
                store: "memory".into(),
            });
        }
        let next = slot.as_ref().map_or(1, |(_, n)| n + 1);
        *slot = Some((crate::control::encode(control), next));
        Ok(())
    }
}

fn unavailable(message: &str) -> StoreError {
    StoreError::Unavailable {
        store: "memory".into(),
        message: message.into(),
    }
}

/// The conformance suite every [`StateStore`] passes: call it from the store's own tests with
/// a fresh, empty store. Panics (it is test code) on the first violation.
#[cfg(feature = "conformance")]
pub mod conformance {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::control::Silence;
    use crate::engine::state::{DeadLetter, Delivery, NotifierState, OutboxEntry};
    use crate::policy::{IncidentKey, IncidentRecord};
    use crate::time::Time;

    /// A state with `incidents` open incidents, one outbox entry each, one resolved incident in
    /// the history per ten open ones, and some notifier facts.
    pub fn sample_state(incidents: usize) -> State {
        let event = crate::conformance_event();
        let mut state = State::default();
        for i in 0..incidents {
            let key = IncidentKey {
                cluster: "prod".into(),
                kind: "Kustomization".into(),
                namespace: format!("team-{}", i % 50),
                name: format!("app-{i}"),
            };
            let mut ev = event.clone();
            ev.metadata.name = key.name.clone();
            ev.id = format!("00000000-0000-8000-8000-{i:012}");
            let record = IncidentRecord {
                key: key.clone(),
                id: ev.id.clone(),
                fingerprint: ev.metadata.fingerprint,
                reason: "BuildFailed".into(),
                started: ev.timestamp,
                last_notified: ev.timestamp,
                occurrence: 1,
                folded_into: None,
                fired: true,
                hold_until: None,
                announced: vec![],
                announced_at: None,
                updates: 0,
                ack: None,
                silenced: None,
                timeline: vec![crate::policy::Moment {
                    at: ev.timestamp,
                    what: crate::policy::Happened::Opened {
                        reason: "BuildFailed".into(),
                    },
                }],
                event: ev.clone(),
            };
            let note = crate::notification::Notification {
                id: format!("{}:firing:1", ev.id),
                kind: crate::notification::NotificationKind::Firing,
                incident_id: ev.id.clone(),
                occurrence: 1,
                at: ev.timestamp,
                event: ev,
                affected: vec![],
                change: None,
                acknowledged: None,
                analysis: None,
            };
            // One resolved incident in the history for every ten open ones.
            if i % 10 == 0 {
                state.history.push(crate::policy::ResolvedIncident {
                    key: IncidentKey {
                        name: format!("gone-{i}"),
                        ..key.clone()
                    },
                    id: format!("00000000-0000-8000-9000-{i:012}"),
                    fingerprint: record.fingerprint,
                    reason: "BuildFailed".into(),
                    message: record.event.message.clone(),
                    started: record.started,
                    resolved: record.started.add_seconds(600),
                    resolution: crate::notification::Resolution::Recovered,
                    announced: true,
                    occurrence: 1,
                    ack: None,
                    timeline: record.timeline.clone(),
                });
            }
            state.incidents.insert(key, record);
            state.outbox.push(OutboxEntry {
                notification: note,
                analysis_tried: false,
                pending: [("webhook".to_owned(), Delivery::default())].into(),
            });
        }
        state.notifiers.insert(
            "webhook".into(),
            NotifierState {
                failures: 2,
                paused_until: Time::parse("2026-04-21T10:00:00Z"),
                sent: 7,
                failed: 2,
                throttled: 3,
                throttled_until: Time::parse("2026-04-21T10:00:05Z"),
            },
        );
        state.dead_letters.push(DeadLetter {
            notification_id: "x:firing:1".into(),
            notifier: "github".into(),
            error: "404".into(),
            at: Time::UNIX_EPOCH,
        });
        state
    }

    /// What the engine expects of every [`Analyzer`](crate::Analyzer), checked on one
    /// realistic failing event: `analyze` never panics, and a failure is a value that names
    /// the analyzer and says what went wrong. Returns the answer for the caller's own checks.
    /// Time is the caller's to bound (wrap the call in its runtime's timeout): the engine never
    /// waits longer than the analyzer's own timeout.
    pub async fn analyzer(
        analyzer: &dyn crate::Analyzer,
    ) -> Result<crate::Analysis, crate::AnalyzerError> {
        use futures::FutureExt;
        let event = crate::conformance_event();
        let answer = std::panic::AssertUnwindSafe(analyzer.analyze(&event))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| panic!("analyzer {} panicked", analyzer.name()));
        if let Err(e) = &answer {
            assert_eq!(e.analyzer, analyzer.name(), "the error names its analyzer");
            assert!(
                !e.message.trim().is_empty(),
                "the error says what went wrong"
            );
        }
        answer
    }

    /// A control document with two silences and an ack.
    pub fn sample_control() -> Control {
        let now = Time::parse("2026-04-21T09:00:00Z").unwrap();
        let mut control = Control::default();
        for (matchers, duration) in [
            (
                vec![
                    "namespace=team-*".to_owned(),
                    "kind=Kustomization".to_owned(),
                ],
                "2h",
            ),
            (vec!["reason=ChartPull*".to_owned()], "30m"),
        ] {
            control
                .add_silence(
                    &crate::control::SilenceRequest {
                        matchers,
                        duration: Some(duration.into()),
                        ends: None,
                        comment: "planned maintenance, ticket OPS-1".into(),
                        author: "ana".into(),
                    },
                    now,
                )
                .unwrap();
        }
        control
            .acknowledge(
                "00000000-0000-8000-8000-000000000001",
                "ben",
                Some("on it"),
                now,
                &["00000000-0000-8000-8000-000000000001"],
            )
            .unwrap();
        control
    }

    /// The control document's part of the suite: round trip and compare-and-swap.
    pub async fn run_control(store: &dyn StateStore) {
        assert_eq!(
            store.load_control().await.unwrap(),
            None,
            "a new store has no control document"
        );
        let control = sample_control();
        store.save_control(&control, None).await.unwrap();
        let (loaded, first) = store.load_control().await.unwrap().unwrap();
        assert_eq!(loaded, control, "control round trip");
        assert!(
            matches!(
                store.save_control(&control, None).await,
                Err(StoreError::Conflict { .. })
            ),
            "creating over an existing document is a conflict"
        );
        let mut changed = control.clone();
        changed.acks.clear();
        store.save_control(&changed, Some(&first)).await.unwrap();
        let (loaded, second) = store.load_control().await.unwrap().unwrap();
        assert_eq!(loaded, changed, "save replaces");
        assert_ne!(first, second, "each save is a new revision");
        assert!(
            matches!(
                store.save_control(&control, Some(&first)).await,
                Err(StoreError::Conflict { .. })
            ),
            "a save based on a stale read is a conflict"
        );
        assert_eq!(store.load_control().await.unwrap().unwrap().0, changed);
        // Two writers racing through `update`: both changes land.
        let add = |name: &'static str| {
            crate::control::update(store, move |c| {
                c.add_silence(
                    &crate::control::SilenceRequest {
                        matchers: vec![format!("name={name}")],
                        duration: Some("1h".into()),
                        ends: None,
                        comment: "race".into(),
                        author: "test".into(),
                    },
                    Time::parse("2026-04-21T09:00:00Z").unwrap(),
                )
            })
        };
        let (a, b) = futures::future::join(add("a"), add("b")).await;
        a.unwrap();
        b.unwrap();
        let names: Vec<String> = store
            .load_control()
            .await
            .unwrap()
            .unwrap()
            .0
            .silences
            .iter()
            .map(Silence::matchers_text)
            .collect();
        assert!(
            names.contains(&"name=a".to_owned()) && names.contains(&"name=b".to_owned()),
            "{names:?}"
        );
    }

    /// Runs the suite against an empty `store`.
    pub async fn run(store: &dyn StateStore) {
        run_control(store).await;
        assert_eq!(store.load().await.unwrap(), None, "a new store is empty");
        let small = sample_state(3);
        store.save(&small).await.unwrap();
        assert_eq!(
            store.load().await.unwrap().as_ref(),
            Some(&small),
            "round trip"
        );
        let empty = State::default();
        store.save(&empty).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(empty), "save replaces");
        let big = sample_state(10_000);
        store.save(&big).await.unwrap();
        assert_eq!(
            store.load().await.unwrap().map(|s| s.incidents.len()),
            Some(10_000)
        );
        assert_eq!(
            store.load().await.unwrap(),
            Some(big),
            "10k open incidents round trip"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn damaged(bytes: &[u8]) -> String {
        match decode(bytes) {
            Err(DecodeError::Damaged(problem)) => problem,
            other => panic!("not damaged: {other:?}"),
        }
    }

    #[test]
    fn a_cut_is_told_from_garbage_and_from_other_json() {
        let whole = encode(&State::default());
        let cut = &whole[..whole.len() - 3];
        let problem = damaged(cut);
        assert!(
            problem.starts_with("ends early (EOF while parsing ")
                && problem.ends_with(&format!("at line 1 column {}): truncated?", cut.len())),
            "{problem}"
        );
        assert_eq!(damaged(b""), "is empty");
        assert_eq!(damaged(b" \n"), "is empty");
        assert_eq!(
            damaged(b"\x1f\x8b\x08\x00garbage"),
            "is not valid JSON (expected value at line 1 column 1)"
        );
        let mut zeros = whole.clone();
        zeros.extend([0; 4]);
        assert!(
            damaged(&zeros).starts_with("is not valid JSON (trailing characters at line 1"),
            "{}",
            damaged(&zeros)
        );
        assert_eq!(
            damaged(br#"{"incidents": []}"#),
            "is not fluxbrain state (missing field `version` at line 1 column 17)"
        );
        assert!(
            damaged(br#"{"version": 1, "incidents": 3}"#)
                .starts_with("says state version 1 but does not match it (invalid type: integer"),
            "{}",
            damaged(br#"{"version": 1, "incidents": 3}"#)
        );
        assert_eq!(
            damaged(br#"{"version": 0}"#),
            "is state version 0, which this fluxbrain cannot read (it reads version 1)"
        );
    }

    #[test]
    fn a_newer_version_is_not_damage() {
        let newer = format!(
            r#"{{"version": {}, "shape": "unknown"}}"#,
            STATE_VERSION + 2
        );
        let err = decode(newer.as_bytes()).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Newer {
                found: STATE_VERSION + 2
            }
        );
        assert_eq!(
            err.to_string(),
            format!(
                "written by a newer fluxbrain (state version {}; this one reads {STATE_VERSION})",
                STATE_VERSION + 2
            )
        );
    }

    #[test]
    fn the_memory_store_names_what_it_found() {
        let store = MemoryStore::new();
        *store.bytes.lock().unwrap() = Some(br#"{"version": 7}"#.to_vec());
        let err = futures::executor::block_on(store.load()).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Newer {
                    found: 7,
                    reads: STATE_VERSION,
                    ..
                }
            ),
            "{err}"
        );
        *store.bytes.lock().unwrap() = Some(b"{\"version\": 1, \"outbox\": [".to_vec());
        let err = futures::executor::block_on(store.load()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "memory: the state ends early (EOF while parsing a list at line 1 column 26): truncated?"
        );
    }
}
