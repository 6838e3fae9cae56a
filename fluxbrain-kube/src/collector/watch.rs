//! Continuous mode: one kube-runtime watcher per source, feeding the cluster's store.
//!
//! Each watcher lists (pages of `watch_page_size`, `resourceVersion=0` semantics), then
//! watches with bookmarks; a `410 Gone` makes it list again. The first failure after the watch
//! was up is retried at once, failures in a row back off exponentially with jitter
//! ([`Jittered`]). Every `requeue_interval` the watcher is replaced by a fresh one,
//! which is a full relist (mark and sweep, so the store never holds two copies). A watch that
//! stays silent, not even a bookmark, for 2.5 bookmark periods hits the watch client's read
//! timeout and is resumed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fluxbrain_core::Backoff;
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};

use super::cluster::Cluster;
use super::error::ApiFailure;
use super::facts::{Fact, from_dynamic, is_flux_event, name_of, read};
use super::metrics::Counters;
use super::source::Source;
use super::store::{ClusterStore, FeedHealth, Key, key};
use super::stored_event::StoredEvent;

/// Bumped on every change of any store; `changed()` waits on it.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    version: std::sync::atomic::AtomicU64,
    notify: tokio::sync::Notify,
}

impl Changes {
    /// Something changed.
    pub fn bump(&self) {
        self.version
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once the version is above `seen`.
    pub async fn after(&self, seen: u64) {
        loop {
            let notified = self.notify.notified();
            if self.version() > seen {
                return;
            }
            notified.await;
        }
    }
}

/// How long past a retry a watch must stay without a new failure to count as up again (its
/// backoff starts over); for its health, which cannot see the retry, past the longest delay.
const QUIET_AFTER_RETRY: Duration = Duration::from_secs(5);

/// What a watcher needs besides its source.
#[derive(Debug, Clone)]
pub(crate) struct WatchSettings {
    pub page_size: u32,
    pub resync: Duration,
    pub retry: Backoff,
    /// The server-side watch timeout (`timeoutSeconds`).
    pub server_timeout: u32,
}

/// Exponential backoff with jitter, for kube-runtime (core's arithmetic, fastrand's draw).
///
/// kube-runtime resets a backoff only when the stream yields an event, and a watch that comes
/// back yields none until something of its kind changes: a kind that rarely changes would keep
/// counting the failures of every outage since, and after a few short ones wait the cap (a
/// minute) to come back from the next. So a failure that comes more than [`QUIET_AFTER_RETRY`]
/// after its retry was due (the watch was up in between: it went silent, was cut or answered an
/// error after working) starts over, and its retry is immediate: a dead watch is resumed as
/// soon as its read timeout ends it, and a `410 Gone` relists at once. Failures in a row (a
/// retry that fails at once) back off from `base`, doubling to `cap`.
#[derive(Debug)]
struct Jittered {
    policy: Backoff,
    failures: u32,
    /// When the retry of the last failure was due.
    retry_at: Option<tokio::time::Instant>,
}

impl Jittered {
    fn new(policy: Backoff) -> Self {
        Jittered {
            policy,
            failures: 0,
            retry_at: None,
        }
    }
}

impl Iterator for Jittered {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let now = tokio::time::Instant::now();
        if self
            .retry_at
            .is_some_and(|due| now > due + QUIET_AFTER_RETRY)
        {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        let delay = match self.failures {
            1 => Duration::ZERO,
            n => self.policy.delay(n - 1, fastrand::f64()),
        };
        self.retry_at = Some(now + delay);
        Some(delay)
    }
}

impl kube::runtime::utils::Backoff for Jittered {
    fn reset(&mut self) {
        self.failures = 0;
        self.retry_at = None;
    }
}

/// Watches `source` forever, keeping `store` up to date. Ends only when aborted.
pub(crate) async fn run(
    cluster: Cluster,
    source: Source,
    store: Arc<Mutex<ClusterStore>>,
    changes: Arc<Changes>,
    counters: Arc<Counters>,
    settings: WatchSettings,
) {
    let resource = source.api_resource();
    let api: Api<DynamicObject> = match &source {
        Source::Pods(ns) => Api::namespaced_with(cluster.watch_client.clone(), ns, &resource),
        _ => Api::all_with(cluster.watch_client.clone(), &resource),
    };
    let mut config = watcher::Config::default()
        .any_semantic()
        .page_size(settings.page_size)
        .timeout(settings.server_timeout);
    if let Some(fields) = source.fields() {
        config = config.fields(&fields);
    }
    loop {
        let stream =
            watcher::watcher(api.clone(), config.clone()).backoff(Jittered::new(settings.retry));
        let mut stream = std::pin::pin!(stream);
        let resync = tokio::time::sleep(settings.resync);
        let mut resync = std::pin::pin!(resync);
        let mut resynced = false;
        // Armed by a failure: a watch that starts again yields nothing until something changes,
        // so no new failure for longer than the longest retry delay means it is up again.
        let mut quiet: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            let item = tokio::select! {
                () = &mut resync => {
                    resynced = true;
                    break;
                }
                () = async {
                    match quiet.as_mut() {
                        Some(sleep) => sleep.await,
                        None => std::future::pending().await,
                    }
                } => {
                    quiet = None;
                    let recovered = {
                        let mut store = lock(&store);
                        let health = health_of(&mut store, &source);
                        let was = std::mem::replace(health, FeedHealth::Ok);
                        was != FeedHealth::Ok
                    };
                    if recovered {
                        counters.succeeded(&cluster.name, source.kind());
                        changes.bump();
                    }
                    continue;
                }
                item = stream.next() => item,
            };
            let Some(item) = item else { break };
            match item {
                Ok(event) => {
                    let (changed, recovered) = apply(
                        &mut lock(&store),
                        &source,
                        event,
                        &resource,
                        &cluster.name,
                        &counters,
                    );
                    if recovered {
                        counters.succeeded(&cluster.name, source.kind());
                    }
                    if changed {
                        changes.bump();
                    }
                }
                Err(err) => {
                    quiet = Some(Box::pin(tokio::time::sleep(
                        settings.retry.cap + QUIET_AFTER_RETRY,
                    )));
                    let failure = ApiFailure::of_watch(format!("watch {}", source.what()), &err);
                    counters.failed(&cluster.name, source.kind(), &failure);
                    counters.watch_restart();
                    let mut store = lock(&store);
                    let health = health_of(&mut store, &source);
                    let newly =
                        !matches!(health, FeedHealth::Failing(f) if f.class == failure.class);
                    *health = FeedHealth::Failing(failure);
                    drop(store);
                    if newly {
                        changes.bump();
                    }
                }
            }
        }
        if resynced {
            counters.watch_resync();
        } else {
            counters.watch_restart();
        }
    }
}

/// The store, even after a panic elsewhere: every change is one map operation, so a panic
/// while holding the lock cannot leave a half-applied event.
fn lock(store: &Mutex<ClusterStore>) -> std::sync::MutexGuard<'_, ClusterStore> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

fn health_of<'s>(store: &'s mut ClusterStore, source: &Source) -> &'s mut FeedHealth {
    match source {
        Source::Objects(s) => &mut store.objects.entry(s.kind.clone()).or_default().health,
        Source::Events(s) => &mut store.events.entry(s.kind.clone()).or_default().health,
        Source::Pods(_) => &mut store.pods.health,
    }
}

/// Applies one watcher event: whether the stored facts changed, and whether the feed was
/// failing until now.
fn apply(
    store: &mut ClusterStore,
    source: &Source,
    event: Event<DynamicObject>,
    resource: &kube::api::ApiResource,
    cluster: &str,
    counters: &Counters,
) -> (bool, bool) {
    macro_rules! feed {
        ($f:ident => $body:expr) => {
            match source {
                Source::Objects(s) => {
                    let $f = store.objects.entry(s.kind.clone()).or_default();
                    $body
                }
                Source::Events(s) => {
                    let $f = store.events.entry(s.kind.clone()).or_default();
                    $body
                }
                Source::Pods(_) => {
                    let $f = &mut store.pods;
                    $body
                }
            }
        };
    }
    let healthy = |health: &mut FeedHealth| {
        let was = std::mem::replace(health, FeedHealth::Ok);
        was != FeedHealth::Ok
    };
    match event {
        Event::Init => {
            feed!(f => f.begin_relist());
            (false, false)
        }
        Event::InitDone => {
            counters.relist();
            let recovered = feed!(f => healthy(&mut f.health));
            (feed!(f => f.finish_relist()) || recovered, recovered)
        }
        Event::InitApply(object) | Event::Apply(object) => {
            let value = from_dynamic(object, resource);
            let key: Key = name_of(&value);
            let fact = if matches!(source, Source::Events(_)) && !is_flux_event(&value) {
                None
            } else {
                read(&value, cluster, counters)
            };
            let recovered = feed!(f => healthy(&mut f.health));
            let changed = match fact {
                Some(Fact::Object(o)) => match source {
                    Source::Objects(s) => store
                        .objects
                        .entry(s.kind.clone())
                        .or_default()
                        .upsert(key, Arc::new(o)),
                    _ => false,
                },
                Some(Fact::Event(e)) => match source {
                    Source::Events(s) => store
                        .events
                        .entry(s.kind.clone())
                        .or_default()
                        .upsert(key, StoredEvent::new(&e)),
                    _ => false,
                },
                Some(Fact::Pod(p)) => store.pods.upsert(key, p),
                Some(Fact::Unreadable(u)) => feed!(f => f.mark_unreadable(key, u)),
                None => feed!(f => f.remove(&key)),
            };
            (changed || recovered, recovered)
        }
        Event::Delete(object) => {
            let meta = &object.metadata;
            let key = key(
                meta.namespace.as_deref().unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default(),
            );
            (feed!(f => f.remove(&key)), false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Backoff = Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
    };

    #[tokio::test(start_paused = true)]
    async fn failures_in_a_row_back_off_and_a_watch_that_was_up_starts_over() {
        let mut backoff = Jittered::new(POLICY);
        // The first failure after the watch was up: retried at once.
        assert_eq!(backoff.next(), Some(Duration::ZERO));
        // Each retry fails as soon as it is made: 1 s, 2 s, 4 s, ... (jittered down to half).
        let mut delays = Vec::new();
        for _ in 0..8 {
            let delay = backoff.next().unwrap();
            delays.push(delay);
            tokio::time::advance(delay).await;
        }
        for (n, delay) in delays.iter().enumerate() {
            let nominal = POLICY.base.saturating_mul(1 << n).min(POLICY.cap);
            assert!(*delay <= nominal && *delay >= nominal / 2, "{n}: {delay:?}");
        }
        // The last retry worked: the watch stayed up, then failed again (a read timeout, a
        // cut connection): retried at once, then from 1 s again.
        tokio::time::advance(QUIET_AFTER_RETRY + Duration::from_secs(1)).await;
        assert_eq!(backoff.next(), Some(Duration::ZERO));
        assert!(backoff.next().unwrap() <= POLICY.base);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_soon_after_its_retry_keeps_counting() {
        let mut backoff = Jittered::new(POLICY);
        assert_eq!(backoff.next(), Some(Duration::ZERO));
        let first = backoff.next().unwrap();
        // The retry answered an error within the quiet time: still the same outage.
        tokio::time::advance(first + QUIET_AFTER_RETRY).await;
        assert!(backoff.next().unwrap() >= POLICY.base);
    }
}
