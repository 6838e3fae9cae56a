//! Once mode (a CronJob): one collection, one policy step, one delivery round per notifier,
//! the state saved, all under the Lease when the state is shared, so two runs that overlap
//! never both deliver.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fluxbrain_core::{
    Analyzer, CollectError, Collector, Engine, EngineConfig, Notifier, StateStore, StoreError,
};
use tokio::time::Instant;

use super::clock::Clock;
use crate::lease::LeaderElector;

/// What one run did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct OnceReport {
    /// Notifications the step made due.
    pub notifications: usize,
    /// Open incidents after the step.
    pub open_incidents: usize,
    /// Clusters that could not be read (their incidents were left as they were).
    pub failed_clusters: Vec<CollectError>,
    /// Delivery failures (`notifier`, message): kept in the outbox for the next run.
    pub delivery_errors: Vec<(String, String)>,
    /// Why an acknowledgement could not be saved, if it could not (the notification may be
    /// sent again by the next run).
    pub save_error: Option<StoreError>,
}

/// Why a run did nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnceError {
    /// Another replica or run holds the Lease and kept it.
    #[error(
        "another fluxbrain holds the Lease {lease} and kept it for {waited:?}; not running at \
         the same time as it"
    )]
    Busy {
        /// The Lease.
        lease: String,
        /// How long this run waited for it.
        waited: Duration,
    },
    /// The Lease cannot be read or written (RBAC, a missing namespace): waiting would not help.
    #[error("the Lease {lease} cannot be taken: {message}")]
    Lease {
        /// The Lease.
        lease: String,
        /// The API's answer.
        message: String,
    },
    /// The state could not be loaded.
    #[error("the state cannot be loaded")]
    Load(#[source] StoreError),
    /// The policy step's state could not be saved (so nothing was delivered).
    #[error("the state cannot be saved; nothing was delivered")]
    Save(#[source] StoreError),
}

/// One run of once mode. With an `elector` (a shared state), the run waits for its Lease (up
/// to the lease duration and two retry periods: a run that overlaps another waits for it to
/// finish, a crashed holder's lease runs out), keeps renewing it while it works, stops
/// delivering if it loses it, and releases it at the end.
pub async fn once(
    collector: &dyn Collector,
    store: Arc<dyn StateStore>,
    notifiers: Vec<Arc<dyn Notifier>>,
    analyzer: Option<Arc<dyn Analyzer>>,
    config: EngineConfig,
    clock: &dyn Clock,
    elector: Option<LeaderElector>,
) -> Result<OnceReport, OnceError> {
    let Some(mut elector) = elector else {
        return step(
            collector,
            store,
            notifiers,
            analyzer,
            config,
            clock,
            &|| true,
        )
        .await;
    };
    let started = Instant::now();
    let patience = elector.duration() + elector.retry_period() * 2;
    loop {
        match elector.round(Instant::now()).await {
            Ok(true) => break,
            Ok(false) => {}
            // A refusal is an answer: another try gets the same one.
            Err(message) if message.starts_with("403 ") || message.starts_with("404 ") => {
                return Err(OnceError::Lease {
                    lease: elector.name().to_owned(),
                    message,
                });
            }
            Err(message) => {
                tracing::warn!(lease = elector.name(), error = %message, "lease round failed");
            }
        }
        if started.elapsed() >= patience {
            return Err(OnceError::Busy {
                lease: elector.name().to_owned(),
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(elector.retry_period()).await;
    }
    let holding = Arc::new(AtomicBool::new(true));
    let renew = {
        let holding = holding.clone();
        let elector = &mut elector;
        async move {
            loop {
                tokio::time::sleep(elector.retry_period()).await;
                if !elector.tick().await {
                    holding.store(false, Ordering::SeqCst);
                    tracing::warn!("lost the lease during the run: stopped delivering");
                    return;
                }
            }
        }
    };
    let go_on = || holding.load(Ordering::SeqCst);
    let result = {
        let work = step(collector, store, notifiers, analyzer, config, clock, &go_on);
        tokio::pin!(work, renew);
        // Renewing ends only when the lease is lost; the work then finishes without
        // delivering.
        let mut renewing = true;
        loop {
            tokio::select! {
                result = &mut work => break result,
                () = &mut renew, if renewing => renewing = false,
            }
        }
    };
    elector.release().await;
    result
}

async fn step(
    collector: &dyn Collector,
    store: Arc<dyn StateStore>,
    notifiers: Vec<Arc<dyn Notifier>>,
    analyzer: Option<Arc<dyn Analyzer>>,
    config: EngineConfig,
    clock: &dyn Clock,
    go_on: &(dyn Fn() -> bool + Send + Sync),
) -> Result<OnceReport, OnceError> {
    // One run sees one moment: a group wait would only postpone the notification to the next
    // run. Dependents failing now are in the first notification; later ones arrive as
    // updates from the runs that see them.
    let mut config = config;
    config.policy.group_wait = Duration::ZERO;
    let engine = Engine::start(store, notifiers, analyzer, config)
        .await
        .map_err(OnceError::Load)?;
    let observations = collector.collect().await;
    for observation in observations.iter().flatten() {
        for conflict in observation.snapshot.conflicts() {
            tracing::warn!(
                cluster = %observation.snapshot.cluster,
                object = %format!("{} {}/{}", conflict.key.kind.as_str(), conflict.key.namespace, conflict.key.name),
                "the collection holds two copies of this object that disagree with nothing to say which is newer; a failing copy is preferred, so a failure is never hidden"
            );
        }
    }
    let observed = engine
        .observe(&observations, clock.now())
        .await
        .map_err(OnceError::Save)?;
    for warning in &observed.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(e) = &observed.control_error {
        tracing::warn!(error = %e, "silences and acknowledgements not read: none applied in this run");
    }
    let mut report = OnceReport {
        notifications: observed.notifications.len(),
        open_incidents: observed.open_incidents,
        failed_clusters: observed.failed_clusters,
        ..OnceReport::default()
    };
    let rounds = (0..engine.notifiers().len()).map(|i| {
        let engine = &engine;
        async move {
            let name = engine.notifiers()[i].name().to_owned();
            let result = engine
                .deliver_while(i, clock.now(), fastrand::f64(), go_on)
                .await;
            (name, result)
        }
    });
    for (name, result) in futures::future::join_all(rounds).await {
        match result {
            Ok(delivered) => {
                for error in delivered.errors {
                    tracing::warn!(notifier = %name, %error, "delivery failed; kept in the outbox for the next run");
                    report.delivery_errors.push((name.clone(), error));
                }
            }
            Err(e) => report.save_error = Some(e),
        }
    }
    Ok(report)
}
