//! The [`StateStore`] trait, its in-memory implementation and its conformance suite.

use std::fmt;
use std::sync::Mutex;

use super::state::{STATE_VERSION, State};

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
    /// The stored state cannot be read; it is kept aside, never silently replaced.
    #[error("{store}: stored state is unreadable: {message}")]
    Corrupt {
        /// The store.
        store: String,
        /// What is wrong and where the bad copy was kept.
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
    /// The last saved state; `None` when nothing was ever saved.
    async fn load(&self) -> Result<Option<State>, StoreError>;
    /// Replaces the saved state.
    async fn save(&self, state: &State) -> Result<(), StoreError>;
}

/// Serializes state as every store writes it: versioned JSON.
pub fn encode(state: &State) -> Vec<u8> {
    // State holds only strings, integers, booleans and string-keyed maps: serializing it
    // cannot fail.
    serde_json::to_vec(state).unwrap_or_default()
}

/// Reads what [`encode`] wrote; a message naming the problem otherwise.
pub fn decode(bytes: &[u8]) -> Result<State, String> {
    #[derive(serde::Deserialize)]
    struct Version {
        version: u32,
    }
    let version: Version =
        serde_json::from_slice(bytes).map_err(|e| format!("not fluxbrain state: {e}"))?;
    if version.version != STATE_VERSION {
        return Err(format!(
            "state format version {} (this fluxbrain reads version {STATE_VERSION})",
            version.version
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| format!("state version {STATE_VERSION}: {e}"))
}

/// State in memory, encoded as the other stores encode it; lost when the process ends.
#[derive(Debug, Default)]
pub struct MemoryStore {
    bytes: Mutex<Option<Vec<u8>>>,
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
                decode(&b).map_err(|message| StoreError::Corrupt {
                    store: "memory".into(),
                    message,
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
    use crate::engine::state::{DeadLetter, Delivery, NotifierState, OutboxEntry};
    use crate::policy::{IncidentKey, IncidentRecord};
    use crate::time::Time;

    /// A state with `incidents` open incidents, one outbox entry each, and some notifier facts.
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
                analysis: None,
            };
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

    /// Runs the suite against an empty `store`.
    pub async fn run(store: &dyn StateStore) {
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
