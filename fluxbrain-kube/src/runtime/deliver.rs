//! One delivery task per notifier: sends what is due while this replica leads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fluxbrain_core::Engine;
use tokio::sync::{Notify, RwLock, watch};
use tokio::time::Instant;

use super::clock::Clock;

/// What every delivery task shares with the main loop.
///
/// One engine at a time: an engine put aside (the lease lost, a save refused, shutdown) is
/// [`retire`](Shared::retire)d, which ends its delivery rounds after the message in flight,
/// and the next engine is loaded only once those rounds have ended (see
/// [`handover`](Shared::handover)). Without that, a round of the old engine could go on
/// sending what the new one loaded as unsent (a repeat), and save its older state over the
/// new one's (through the same store, so no fence stops it).
pub(crate) struct Shared {
    /// The engine, while this replica leads.
    engine: RwLock<Option<Arc<Engine>>>,
    /// Bumped whenever the engine is retired: a round started under an older epoch stops.
    epoch: AtomicU64,
    /// Held (shared) by every delivery round; taken (exclusive) to load the next engine.
    rounds: RwLock<()>,
    /// A retired engine whose last state could not be saved: saved before the next engine
    /// loads, unless another replica wrote meanwhile.
    pub unsaved: Mutex<Option<Arc<Engine>>>,
    /// Deliveries stop at this instant unless the lease is renewed: a paused process must not
    /// send on a stale view of who leads.
    pub leading_until: Mutex<Option<Instant>>,
    pub clock: Arc<dyn Clock>,
    /// Told how long delivered notifications waited.
    pub observer: Arc<dyn super::Observer>,
    /// Longest sleep of an idle task.
    pub idle: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("leading_until", &self.leading_until)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub fn new(clock: Arc<dyn Clock>, observer: Arc<dyn super::Observer>, idle: Duration) -> Self {
        Shared {
            engine: RwLock::new(None),
            epoch: AtomicU64::new(0),
            rounds: RwLock::new(()),
            unsaved: Mutex::new(None),
            leading_until: Mutex::new(None),
            clock,
            observer,
            idle,
        }
    }

    /// The current engine.
    pub async fn engine(&self) -> Option<Arc<Engine>> {
        self.engine.read().await.clone()
    }

    /// Puts the engine aside: its delivery rounds stop after the message in flight. The
    /// engine, if there was one.
    pub async fn retire(&self) -> Option<Arc<Engine>> {
        let mut engine = self.engine.write().await;
        self.epoch.fetch_add(1, Ordering::SeqCst);
        engine.take()
    }

    /// Waits until no delivery round is running (a retired engine's end after the message in
    /// flight, with its acknowledgements saved); none starts until the guard is dropped.
    pub async fn handover(&self) -> tokio::sync::RwLockWriteGuard<'_, ()> {
        self.rounds.write().await
    }

    /// Installs the engine loaded during a [`handover`](Shared::handover).
    pub async fn install(&self, engine: Arc<Engine>) {
        *self.engine.write().await = Some(engine);
    }

    fn leading(&self) -> bool {
        self.leading_until
            .lock()
            .ok()
            .and_then(|until| *until)
            .is_some_and(|until| Instant::now() < until)
    }
}

/// Delivers for notifier `index` until `stop` turns true; a round in progress is finished
/// first (the caller bounds that with its grace period).
pub(crate) async fn deliver_loop(
    index: usize,
    shared: Arc<Shared>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let round = shared.rounds.read().await;
        let epoch = shared.epoch.load(Ordering::SeqCst);
        let engine = if shared.leading() {
            shared.engine().await
        } else {
            None
        };
        let next = match &engine {
            Some(engine) => {
                let now = shared.clock.now();
                // Each message: not stopping, this engine still the current one, the lease
                // still held.
                let go_on = {
                    let stop = stop.clone();
                    let shared = shared.clone();
                    move || {
                        !*stop.borrow()
                            && shared.epoch.load(Ordering::SeqCst) == epoch
                            && shared.leading()
                    }
                };
                match engine
                    .deliver_while(index, now, fastrand::f64(), &go_on)
                    .await
                {
                    Ok(report) => {
                        let notifier = engine
                            .notifiers()
                            .get(index)
                            .map(|n| n.name().to_owned())
                            .unwrap_or_default();
                        if report.delivered > 0 {
                            tracing::info!(%notifier, delivered = report.delivered, "delivered");
                            let now = shared.clock.now().timestamp();
                            let waited: Vec<Duration> = report
                                .delivered_due
                                .iter()
                                .map(|due| {
                                    let ms =
                                        now.as_millisecond() - due.timestamp().as_millisecond();
                                    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
                                })
                                .collect();
                            shared.observer.delivered(&notifier, &waited);
                        }
                        for error in &report.errors {
                            tracing::warn!(%notifier, %error, "delivery failed; kept in the outbox");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "acknowledgement not saved"),
                }
                engine.next_due(index).await
            }
            None => None,
        };
        drop(round);
        let wait = next.map_or(shared.idle, |t| {
            let secs = t.timestamp().as_second() - shared.clock.now().timestamp().as_second();
            Duration::from_secs(u64::try_from(secs).unwrap_or(0).max(1))
        });
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}
