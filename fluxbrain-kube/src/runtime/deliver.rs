//! One delivery task per notifier: sends what is due while this replica leads.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fluxbrain_core::Engine;
use tokio::sync::{Notify, RwLock, watch};
use tokio::time::Instant;

use super::clock::Clock;

/// What every delivery task shares with the main loop.
pub(crate) struct Shared {
    /// The engine, while this replica leads.
    pub engine: RwLock<Option<Arc<Engine>>>,
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
        let engine = if shared.leading() {
            shared.engine.read().await.clone()
        } else {
            None
        };
        let next = match &engine {
            Some(engine) => {
                let now = shared.clock.now();
                let go_on = {
                    let stop = stop.clone();
                    move || !*stop.borrow()
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
