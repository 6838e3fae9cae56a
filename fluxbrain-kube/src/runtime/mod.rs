//! The continuous runtime: the async shell that drives the [`Engine`] against a [`Collector`]
//! over time.
//!
//! A [`Runtime`] observes on every change the collector reports (debounced) and every
//! requeue interval, elects a leader on a Lease when the state is shared, delivers from one
//! task per notifier, and shuts down gracefully: it stops observing, lets deliveries in
//! flight finish within a grace period, saves the state and releases the Lease so a standby
//! takes over at once. The engine decides; the runtime only keeps time and calls it.
//!
//! Time is injected: the engine is given [`Clock::now`] and the runtime sleeps on tokio's
//! clock, so tests run whole scenarios (failover, reminders, debounce, requeue, shutdown) on
//! paused time with a [`TokioClock`].

mod clock;
mod deliver;
mod observer;
mod once;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::{Analyzer, Collector, Engine, EngineConfig, Notifier, StateStore, StoreError};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use clock::{Clock, SystemClock, TokioClock};
pub use observer::{Ignore, Observer, Step};
pub use once::{OnceError, OnceReport, once};

use crate::lease::LeaderElector;
use deliver::{Shared, deliver_loop};

/// Timing of a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// A policy step at least this often, even when nothing changed (reminders fall due on
    /// it); default 5 minutes.
    pub requeue_interval: Duration,
    /// After a change, wait this long for more before the step, so a burst is one step;
    /// default 500 ms.
    pub debounce: Duration,
    /// How long to wait for the collector's first lists before the first step; default 30 s.
    pub first_sync: Duration,
    /// Deliveries stop this long before the Lease could run out; default 3 s.
    pub lease_margin: Duration,
    /// On shutdown, how long deliveries in flight may take to finish; default 20 s.
    pub shutdown_grace: Duration,
    /// Longest sleep of a delivery task with nothing due; default 30 s.
    pub idle_delivery: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            requeue_interval: Duration::from_secs(300),
            debounce: Duration::from_millis(500),
            first_sync: Duration::from_secs(30),
            lease_margin: Duration::from_secs(3),
            shutdown_grace: Duration::from_secs(20),
            idle_delivery: Duration::from_secs(30),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stopped {
    /// Shut down as asked: deliveries finished or cut at the grace period, state saved (when
    /// leading), Lease released.
    Shutdown {
        /// Delivery tasks still busy when the grace period ended (their notifications stay in
        /// the outbox).
        cut: usize,
    },
    /// The engine could not start: the state store cannot be read.
    EngineFailed(StoreError),
}

/// The continuous runtime; see the [module documentation](self).
pub struct Runtime {
    collector: Arc<dyn Collector>,
    store: Arc<dyn StateStore>,
    notifiers: Vec<Arc<dyn Notifier>>,
    analyzer: Option<Arc<dyn Analyzer>>,
    engine_config: EngineConfig,
    elector: Option<LeaderElector>,
    clock: Arc<dyn Clock>,
    config: RuntimeConfig,
    observer: Arc<dyn Observer>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("store", &self.store.name())
            .field("notifiers", &self.notifiers.len())
            .field("elector", &self.elector)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime observing `collector` (already started, if it watches), keeping the state in
    /// `store` and delivering to `notifiers`; on the system clock, without leader election,
    /// with the default timing.
    pub fn new(
        collector: Arc<dyn Collector>,
        store: Arc<dyn StateStore>,
        notifiers: Vec<Arc<dyn Notifier>>,
    ) -> Self {
        Runtime {
            collector,
            store,
            notifiers,
            analyzer: None,
            engine_config: EngineConfig::default(),
            elector: None,
            clock: Arc::new(SystemClock),
            config: RuntimeConfig::default(),
            observer: Arc::new(Ignore),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Steps (soon) whenever `wake` is notified: e.g. after an operator added a silence.
    pub fn wake_on(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// Asks `analyzer` about every firing before it is delivered.
    pub fn analyzer(mut self, analyzer: Option<Arc<dyn Analyzer>>) -> Self {
        self.analyzer = analyzer;
        self
    }

    /// The engine's policy, event and backoff settings.
    pub fn engine_config(mut self, config: EngineConfig) -> Self {
        self.engine_config = config;
        self
    }

    /// Leads only while holding the elector's Lease (replicas sharing one state store).
    pub fn elector(mut self, elector: LeaderElector) -> Self {
        self.elector = Some(elector);
        self
    }

    /// The clock the engine is given.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Timing.
    pub fn config(mut self, config: RuntimeConfig) -> Self {
        self.config = config;
        self
    }

    /// Who hears about leadership, engines and steps.
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Runs until `shutdown` resolves, then shuts down gracefully (see [`Stopped`]).
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Stopped {
        let shared = Arc::new(Shared::new(
            self.clock.clone(),
            self.observer.clone(),
            self.config.idle_delivery,
        ));
        let (stop, stopped) = watch::channel(false);
        let mut wakes = Vec::new();
        // Dropping `run` (a crash in tests) ends the delivery tasks with it.
        let mut deliverers = JoinSet::new();
        for index in 0..self.notifiers.len() {
            let wake = Arc::new(Notify::new());
            wakes.push(wake.clone());
            deliverers.spawn(deliver_loop(index, shared.clone(), wake, stopped.clone()));
        }
        tokio::pin!(shutdown);

        let outcome = self.observe_loop(&shared, &wakes, &mut shutdown).await;

        // Stop observing (done), let deliveries in flight finish within the grace period.
        let _ = stop.send(true);
        let finished = async { while deliverers.join_next().await.is_some() {} };
        let cut = match tokio::time::timeout(self.config.shutdown_grace, finished).await {
            Ok(()) => 0,
            Err(_) => {
                let cut = deliverers.len();
                deliverers.abort_all();
                cut
            }
        };
        if cut > 0 {
            tracing::warn!(
                tasks = cut,
                grace = ?self.config.shutdown_grace,
                "deliveries still in flight at the end of the grace period; they stay in the outbox"
            );
        }
        // Save what the deliveries acknowledged, then let a standby take over at once.
        fluxbrain_core::crash::point(fluxbrain_core::crash::SHUTDOWN_BEFORE_SAVE);
        let engine = shared.retire().await;
        if let Some(engine) = engine {
            if let Err(e) = engine.save().await {
                tracing::warn!(error = %e, "state not saved on shutdown");
            }
            self.observer.engine(None);
        } else {
            // Stepped down without saving and never took over again: one last try.
            save_unsaved(&shared).await;
        }
        fluxbrain_core::crash::point(fluxbrain_core::crash::SHUTDOWN_BEFORE_RELEASE);
        if let Some(elector) = self.elector.as_mut() {
            elector.release().await;
        }
        self.observer.leading(false);
        outcome.unwrap_or(Stopped::Shutdown { cut })
    }

    /// Steps until shutdown; `Some` when it ends for another reason.
    async fn observe_loop(
        &mut self,
        shared: &Arc<Shared>,
        wakes: &[Arc<Notify>],
        shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> Option<Stopped> {
        // Let the first lists arrive before the first step (bounded: an unreachable cluster
        // is reported by that step).
        tokio::select! {
            () = shutdown.as_mut() => return None,
            _ = tokio::time::timeout(self.config.first_sync, self.collector.synced()) => {}
        }
        let retry_period = self
            .elector
            .as_ref()
            .map_or(self.config.requeue_interval, LeaderElector::retry_period);
        let mut lease_tick = tokio::time::interval(retry_period);
        let mut requeue = tokio::time::interval(self.config.requeue_interval);
        // The first step after taking over is logged whatever it finds.
        let mut first = true;
        // When the policy has something due that no change will prompt (the group wait).
        let mut policy_due: Option<Instant> = None;
        loop {
            let due = policy_due.unwrap_or_else(Instant::now);
            tokio::select! {
                () = shutdown.as_mut() => return None,
                () = tokio::time::sleep_until(due), if policy_due.is_some() => {}
                // Lease rounds only with an elector; alone, a step follows a change or the
                // requeue interval, not a timer.
                _ = lease_tick.tick(), if self.elector.is_some() => {}
                _ = requeue.tick() => {}
                () = self.wake.notified() => {}
                () = self.collector.changed() => {
                    // Let a burst of changes settle into one step.
                    tokio::time::sleep(self.config.debounce).await;
                }
            }
            let round = Instant::now();
            let leading = match self.elector.as_mut() {
                Some(elector) => elector.tick_at(round).await,
                None => true,
            };
            if let Ok(mut until) = shared.leading_until.lock() {
                *until = match (&self.elector, leading) {
                    // From the last renewal that succeeded, not from this round: a replica
                    // that cannot renew stops delivering a margin before its Lease can run
                    // out, however many rounds it still believes it leads.
                    (Some(elector), true) => elector.renewed_at().map(|renewed| {
                        renewed + elector.duration().saturating_sub(self.config.lease_margin)
                    }),
                    (Some(_), false) => None,
                    (None, _) => Some(round + Duration::from_secs(365 * 24 * 3600)),
                };
            }
            self.observer.leading(leading);
            if !leading {
                if step_down(shared).await {
                    tracing::warn!("lost the lease: stopped delivering");
                    self.observer.engine(None);
                }
                continue;
            }
            let existing = shared.engine().await;
            let engine = match existing {
                Some(engine) => engine,
                None => {
                    // The last engine's rounds end first (after their message in flight).
                    let handover = tokio::select! {
                        () = shutdown.as_mut() => return None,
                        guard = shared.handover() => guard,
                    };
                    if !save_unsaved(shared).await {
                        continue;
                    }
                    match self.take_over().await {
                        Ok(Some(engine)) => {
                            first = true;
                            shared.install(engine.clone()).await;
                            drop(handover);
                            self.observer.engine(Some(engine.clone()));
                            engine
                        }
                        Ok(None) => continue,
                        Err(e) => {
                            tracing::error!(error = %e, "cannot start the engine");
                            self.observer.engine_failed(&e.to_string());
                            return Some(Stopped::EngineFailed(e));
                        }
                    }
                }
            };
            let observations = self.collector.collect().await;
            let observed = engine.observe(&observations, self.clock.now()).await;
            policy_due = engine.next_step().map(|at| {
                let now = self.clock.now().timestamp().as_second();
                // At least a second: a cluster that could not be read leaves its held incidents
                // as they were, and must not make this a busy loop.
                let wait = u64::try_from(at.timestamp().as_second() - now).unwrap_or(0);
                Instant::now() + Duration::from_secs(wait.max(1))
            });
            self.observer.step(&Step {
                observations: &observations,
                took: round.elapsed(),
                state_error: observed.as_ref().err().map(ToString::to_string),
            });
            match observed {
                Ok(report) => {
                    let objects: usize = report.objects.values().sum();
                    if first || !report.notifications.is_empty() {
                        tracing::info!(
                            objects,
                            notifications = report.notifications.len(),
                            open_incidents = report.open_incidents,
                            "observed"
                        );
                    } else {
                        tracing::debug!(
                            objects,
                            open_incidents = report.open_incidents,
                            "observed"
                        );
                    }
                    first = false;
                    for warning in &report.warnings {
                        tracing::warn!("{warning}");
                    }
                    if let Some(e) = &report.control_error {
                        tracing::warn!(error = %e, "silences and acknowledgements not read; the last ones read stay in effect");
                    }
                    for e in &report.failed_clusters {
                        tracing::warn!(error = %e, "cluster not read; its incidents are kept as they were");
                    }
                    if !report.notifications.is_empty() {
                        for wake in wakes {
                            wake.notify_one();
                        }
                    }
                }
                Err(e) => {
                    // A conflict means another replica wrote: it leads now.
                    tracing::warn!(error = %e, "state not saved; stepping down until the next lease round");
                    if step_down(shared).await {
                        self.observer.engine(None);
                    }
                }
            }
        }
    }

    /// Loads the state into a new engine; with an elector, fences the store first (the new
    /// leader's write makes a deposed one's writes fail). `None`: the fence failed, try again
    /// at the next round.
    async fn take_over(&self) -> Result<Option<Arc<Engine>>, StoreError> {
        let engine = Engine::start(
            self.store.clone(),
            self.notifiers.clone(),
            self.analyzer.clone(),
            self.engine_config.clone(),
        )
        .await?;
        if self.elector.is_some() {
            if let Err(e) = engine.save().await {
                tracing::warn!(error = %e, "state not saved on taking over; stepping down");
                return Ok(None);
            }
            tracing::info!(state = %self.store.name(), "holding the lease: state loaded, delivering");
        } else {
            tracing::info!(state = %self.store.name(), "state loaded, watching");
        }
        Ok(Some(Arc::new(engine)))
    }
}

/// Puts the engine aside (it is no longer the leader's, or its state could not be saved):
/// its delivery rounds end after the message in flight, then what they acknowledged is saved.
/// When that save fails, the engine is kept aside and [`save_unsaved`] tries again before the
/// next engine loads. Whether there was an engine.
async fn step_down(shared: &Shared) -> bool {
    let Some(engine) = shared.retire().await else {
        return false;
    };
    let rounds_ended = shared.handover().await;
    if let Err(e) = engine.save().await {
        tracing::warn!(error = %e, "state not saved on stepping down; trying again before taking over");
        if let Ok(mut unsaved) = shared.unsaved.lock() {
            *unsaved = Some(engine);
        }
    }
    drop(rounds_ended);
    true
}

/// Saves the state of an engine that stepped down without saving, before the next engine
/// loads the store: what it delivered is not sent again. The store refuses it (a conflict)
/// when another replica wrote meanwhile; then that state is the truth and this one is
/// dropped. `false` when the store is still unavailable (the engine stays aside).
async fn save_unsaved(shared: &Shared) -> bool {
    let engine = shared.unsaved.lock().ok().and_then(|mut e| e.take());
    let Some(engine) = engine else {
        return true;
    };
    match engine.save().await {
        Ok(()) => true,
        Err(StoreError::Conflict { .. }) => {
            tracing::warn!(
                "the state moved on while stepped down (another replica led); loading it"
            );
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "state still not saved; taking over at a later round");
            if let Ok(mut unsaved) = shared.unsaved.lock() {
                *unsaved = Some(engine);
            }
            false
        }
    }
}
