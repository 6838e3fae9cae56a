//! The engine's state behind a lock that is never held across I/O, and its ordered saving.
//!
//! Every change is made under a short synchronous lock and numbered. [`Persisted::persist`]
//! makes a change durable: one save at a time, each writing the newest state there is when
//! its turn comes, so saves happen in order (an older state never overwrites a newer one) and
//! a caller whose change a later save already covered returns without writing. Notifications
//! queued by a change are *durable* once that change is saved; only durable ones are sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::state::State;
use super::store::{StateStore, StoreError};

/// What a change did.
#[derive(Debug)]
pub(super) enum Changed {
    /// Nothing to save.
    No,
    /// The state changed.
    Yes,
    /// The state changed and these notifications were queued: not to be sent before the
    /// change is saved.
    Queued(Vec<String>),
}

/// The state, its version and what is saved of it.
#[derive(Debug)]
pub(super) struct Persisted {
    inner: Mutex<Inner>,
    /// Held for the duration of one save: saves never overlap.
    writer: futures::lock::Mutex<()>,
    store: Arc<dyn StateStore>,
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// Bumped by every change.
    version: u64,
    /// The newest version saved.
    saved: u64,
    /// Notifications queued by changes not saved yet, with the version that queued them.
    unsaved: HashMap<String, u64>,
}

impl Persisted {
    /// `state`, as loaded from `store` (so already saved).
    pub fn new(state: State, store: Arc<dyn StateStore>) -> Self {
        Persisted {
            inner: Mutex::new(Inner {
                state,
                version: 0,
                saved: 0,
                unsaved: HashMap::new(),
            }),
            writer: futures::lock::Mutex::new(()),
            store,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic under the lock leaves the state as the panicking change left it; the state
        // is plain data, so later callers may still read and save it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// `f` over the state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock().state)
    }

    /// `f` over the state and a test of whether a queued notification is durable.
    pub fn read_durable<R>(&self, f: impl FnOnce(&State, &dyn Fn(&str) -> bool) -> R) -> R {
        let inner = self.lock();
        let durable = |id: &str| inner.unsaved.get(id).is_none_or(|v| *v <= inner.saved);
        f(&inner.state, &durable)
    }

    /// Runs the change `f` under the lock; the version to [`persist`](Self::persist) when it
    /// changed anything.
    pub fn change<R>(&self, f: impl FnOnce(&mut State) -> (R, Changed)) -> (R, Option<u64>) {
        let mut inner = self.lock();
        let (result, changed) = f(&mut inner.state);
        let version = match changed {
            Changed::No => return (result, None),
            Changed::Yes => inner.version + 1,
            Changed::Queued(ids) => {
                let version = inner.version + 1;
                inner
                    .unsaved
                    .extend(ids.into_iter().map(|id| (id, version)));
                version
            }
        };
        inner.version = version;
        (result, Some(version))
    }

    /// Returns once `version` (or a newer one) is saved. Waits for a save in progress, then
    /// saves the newest state unless that save already covered `version`.
    ///
    /// # Errors
    /// The store's error; the change stays in memory and the next save carries it.
    pub async fn persist(&self, version: u64) -> Result<(), StoreError> {
        let _turn = self.writer.lock().await;
        let (newest, snapshot) = {
            let inner = self.lock();
            if inner.saved >= version {
                return Ok(());
            }
            (inner.version, inner.state.clone())
        };
        self.store.save(&snapshot).await?;
        let mut inner = self.lock();
        inner.saved = inner.saved.max(newest);
        inner.unsaved.retain(|_, v| *v > newest);
        Ok(())
    }
}
