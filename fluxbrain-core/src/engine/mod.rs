//! The engine: collector → policy → analyzer → notifiers → state store, over the traits.
//!
//! The engine owns no clock and no runtime: the caller passes `now` (and the random draw for
//! backoff jitter) and decides when to call [`Engine::observe`] and [`Engine::deliver`].
//! Each notifier is delivered by its own call, so a slow or failing notifier never delays
//! another or the collection; the state is saved after every change, before anything is sent
//! and after it is acknowledged.
//!
//! The state lock is never held across I/O: a change is made under it and numbered, and the
//! save happens outside it, one at a time, each writing the newest state, so an
//! older state never overwrites a newer one and a slow store stalls only the callers waiting
//! for their own change to be durable. A notification is sent only once the change that
//! queued it is saved.

mod backoff;
mod outbox;
mod persist;
mod state;
mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;

pub use backoff::Backoff;
pub use state::{DeadLetter, Delivery, NotifierState, OutboxEntry, STATE_VERSION, State};
#[cfg(feature = "conformance")]
pub use store::conformance;
pub use store::{DecodeError, MemoryStore, StateStore, StoreError, decode, encode};

use crate::collect::{ClusterObservation, CollectError};
use crate::control::Control;
use crate::event::{BuildOptions, build, reported_fingerprint};
use crate::model::health::Health;
use crate::model::object::{FluxObject, ObjectSilence, SILENCE_ANNOTATION};
use crate::model::snapshot::SnapshotIndex;
use crate::notification::{Analyzer, Notification, NotificationKind, Notifier, Receipt};
use crate::policy::{
    Controls, DecisionKind, IncidentKey, IncidentRecord, Observed, PolicyConfig, ResolvedIncident,
    SilencedBy, plan,
};
use crate::time::Time;
use persist::{Changed, Persisted};

/// Engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Incident policy.
    pub policy: PolicyConfig,
    /// What every event carries (environment, tags).
    pub build: BuildOptions,
    /// Delivery backoff per notifier.
    pub backoff: Backoff,
    /// How many requests one notifier may have in flight at once (each for a different
    /// incident); at least 1.
    pub delivery_concurrency: usize,
    /// How much of the resolved incidents' history is kept.
    pub history: HistoryConfig,
}

/// How many resolved incidents the state keeps, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryConfig {
    /// At most this many (the newest); 0 keeps none.
    pub keep: usize,
    /// None older than this (by when it resolved).
    pub max_age: Duration,
}

impl Default for HistoryConfig {
    /// The last 1,000, for 30 days.
    fn default() -> Self {
        HistoryConfig {
            keep: 1000,
            max_age: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl Default for EngineConfig {
    /// The default policy and backoff, no build options, 4 requests in flight per notifier.
    fn default() -> Self {
        EngineConfig {
            policy: PolicyConfig::default(),
            build: BuildOptions::default(),
            backoff: Backoff::default(),
            delivery_concurrency: 4,
            history: HistoryConfig::default(),
        }
    }
}

/// What one observation did.
#[derive(Debug, Default)]
pub struct ObserveReport {
    /// Notifications it made due (also in the outbox, when notifiers are configured).
    pub notifications: Vec<Notification>,
    /// Clusters that could not be read; their incidents were left as they were.
    pub failed_clusters: Vec<CollectError>,
    /// Objects seen, by health.
    pub objects: BTreeMap<Health, usize>,
    /// Open incidents after the step.
    pub open_incidents: usize,
    /// The control document could not be read: the step used the last one read.
    pub control_error: Option<StoreError>,
    /// Things worth a warning, each said once per process (e.g. a malformed silence
    /// annotation).
    pub warnings: Vec<String>,
}

/// What one delivery round of one notifier did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliverReport {
    /// Acknowledged notifications.
    pub delivered: usize,
    /// When each acknowledged notification fell due (its `at`), for delivery latency.
    pub delivered_due: Vec<Time>,
    /// Failures that will be retried.
    pub retrying: usize,
    /// Permanent failures (moved to the dead letters).
    pub refused: usize,
    /// The messages of the failures, for logs.
    pub errors: Vec<String>,
}

/// Drives the policy and the deliveries over a [`StateStore`].
#[derive(Debug)]
pub struct Engine {
    state: Persisted,
    /// The control document as last read.
    control: std::sync::Mutex<Control>,
    /// Warnings already given.
    warned: std::sync::Mutex<HashSet<String>>,
    notifiers: Vec<Arc<dyn Notifier>>,
    analyzer: Option<Arc<dyn Analyzer>>,
    config: EngineConfig,
}

impl Engine {
    /// Loads the saved state (or starts empty) and returns a ready engine.
    ///
    /// # Errors
    /// The store's: saved state that cannot be read ([`StoreError::Corrupt`],
    /// [`StoreError::Newer`]) is not replaced by empty state; the caller stops and says how to
    /// start over.
    pub async fn start(
        store: Arc<dyn StateStore>,
        notifiers: Vec<Arc<dyn Notifier>>,
        analyzer: Option<Arc<dyn Analyzer>>,
        config: EngineConfig,
    ) -> Result<Self, StoreError> {
        let mut state = store.load().await?.unwrap_or_default();
        // Notifiers removed from the configuration have nothing left to do.
        let names: BTreeSet<String> = notifiers.iter().map(|n| n.name().to_owned()).collect();
        for entry in &mut state.outbox {
            entry.pending.retain(|n, _| names.contains(n));
        }
        state.outbox.retain(|e| !e.pending.is_empty());
        Ok(Engine {
            state: Persisted::new(state, store),
            // Read by every step (Engine::observe) before the policy runs.
            control: std::sync::Mutex::new(Control::default()),
            warned: std::sync::Mutex::new(HashSet::new()),
            notifiers,
            analyzer,
            config,
        })
    }

    /// The configured notifiers.
    pub fn notifiers(&self) -> &[Arc<dyn Notifier>] {
        &self.notifiers
    }

    /// A copy of the current state (for tests; prefer [`Engine::inspect`]).
    pub async fn state(&self) -> State {
        self.state.read(State::clone)
    }

    /// `f` over the current state, without copying it. The state stays locked while `f` runs
    /// (observing and delivering wait), so `f` should only read what it needs. Never waits
    /// for a save in progress: it does not wait at all.
    pub fn inspect<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        self.state.read(f)
    }

    /// Runs the policy on one collection and queues the notifications it makes due; saves the
    /// state before returning them. Clusters that failed keep their incidents untouched.
    pub async fn observe(
        &self,
        observations: &[Result<ClusterObservation, CollectError>],
        now: Time,
    ) -> Result<ObserveReport, StoreError> {
        let control_error = self.refresh_control().await.err();
        crate::crash::point(crate::crash::OBSERVE_BEFORE_PLAN);
        let (mut report, change) = self
            .state
            .change(|state| self.step(state, observations, now));
        report.control_error = control_error;
        match change {
            Some(version) => {
                crate::crash::point(crate::crash::OUTBOX_BEFORE_WRITE);
                self.state.persist(version).await?;
                crate::crash::point(crate::crash::OUTBOX_AFTER_WRITE);
                Ok(report)
            }
            None => Ok(report),
        }
    }

    /// Reads the control document again (what the next step applies).
    ///
    /// # Errors
    /// The store's; the last document read stays in effect.
    pub async fn refresh_control(&self) -> Result<(), StoreError> {
        let control = self
            .state
            .store()
            .load_control()
            .await?
            .map(|(control, _)| control)
            .unwrap_or_default();
        *self
            .control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = control;
        Ok(())
    }

    /// The control document as last read (silences and acknowledgements).
    pub fn control(&self) -> Control {
        self.control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The policy step of [`Engine::observe`], under the state lock; the version to save when
    /// something changed.
    fn step(
        &self,
        state: &mut State,
        observations: &[Result<ClusterObservation, CollectError>],
        now: Time,
    ) -> (ObserveReport, Changed) {
        let mut report = ObserveReport::default();
        let indexes: Vec<(&ClusterObservation, SnapshotIndex<'_>)> = observations
            .iter()
            .filter_map(|o| match o {
                Ok(o) => Some((o, o.snapshot.index())),
                Err(e) => {
                    report.failed_clusters.push(e.clone());
                    None
                }
            })
            .collect();

        let report_drift = self.config.build.report_drift;
        let mut observed: BTreeMap<IncidentKey, Observed> = BTreeMap::new();
        let mut objects: HashMap<IncidentKey, (&SnapshotIndex<'_>, &FluxObject)> = HashMap::new();
        let mut scope: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        // Objects listed but not parsed, with what is wrong with them: neither new nor gone.
        let mut unreadable: HashMap<IncidentKey, &str> = HashMap::new();
        for (observation, index) in &indexes {
            let cluster = observation.snapshot.cluster.as_str();
            scope.insert(
                cluster,
                observation.unobserved.iter().map(|k| k.as_str()).collect(),
            );
            unreadable.extend(
                observation
                    .unreadable
                    .iter()
                    .map(|u| (IncidentKey::of(cluster, &u.key), u.error.as_str())),
            );
            for object in index.objects() {
                let health = object.health();
                *report.objects.entry(health).or_default() += 1;
                let key = IncidentKey::of(cluster, &object.key);
                // A drift report is an incident like a failure's, of its own fingerprint.
                let drifted = report_drift
                    && health != Health::Failing
                    && object.reported_condition(true).is_some();
                if health != Health::Failing && !drifted && !state.incidents.contains_key(&key) {
                    continue;
                }
                let fold_into = (health == Health::Failing)
                    .then(|| index.root(object))
                    .flatten()
                    .filter(|root| index.upstream(root).is_none())
                    .map(|root| IncidentKey::of(cluster, &root.key))
                    .or_else(|| held_fold(state, &key, object, health, &unreadable));
                observed.insert(
                    key.clone(),
                    Observed {
                        health: if drifted { Health::Failing } else { health },
                        fingerprint: reported_fingerprint(cluster, object, report_drift),
                        fold_into,
                    },
                );
                objects.insert(key, (index, object));
            }
        }
        let absent_means_deleted = |key: &IncidentKey| {
            !unreadable.contains_key(key)
                && scope
                    .get(key.cluster.as_str())
                    .is_some_and(|unobserved| !unobserved.contains(key.kind.as_str()))
        };
        let build_options = &self.config.build;
        let mut event = |key: &IncidentKey, incident| {
            let (index, object) = objects.get(key)?;
            build(index, object, incident, build_options)
        };
        let control = self.control();
        report.warnings = self.annotation_warnings(&objects);
        report
            .warnings
            .extend(self.unreadable_warnings(&state.incidents, &unreadable));
        let controls = |record: &IncidentRecord| Controls {
            silenced: silenced_by(&control, record, objects.get(&record.key).map(|o| o.1), now),
            ack: control.ack_for(&record.id).cloned(),
        };
        let mut planned = plan(
            &mut state.incidents,
            &observed,
            &absent_means_deleted,
            now,
            &self.config.policy,
            &mut event,
            &controls,
        );
        let pruned = keep_history(
            state,
            std::mem::take(&mut planned.resolved),
            now,
            self.config.history,
        );
        let changed = pruned
            || planned.controls_changed > 0
            || planned
                .decisions
                .iter()
                .any(|(d, n)| *d != DecisionKind::Quiet && *n > 0);
        let names: Vec<String> = self.notifiers.iter().map(|n| n.name().to_owned()).collect();
        for note in &planned.due {
            outbox::enqueue(state, note.clone(), &names);
        }
        let queued: Vec<String> = planned.due.iter().map(|n| n.id.clone()).collect();
        report.notifications = planned.due;
        report.open_incidents = state.incidents.len();
        let changed = match (changed, queued.is_empty()) {
            (false, _) => Changed::No,
            (true, true) => Changed::Yes,
            (true, false) => Changed::Queued(queued),
        };
        (report, changed)
    }

    /// One warning per malformed silence annotation value per object, the first time it is
    /// seen.
    fn annotation_warnings(
        &self,
        objects: &HashMap<IncidentKey, (&SnapshotIndex<'_>, &FluxObject)>,
    ) -> Vec<String> {
        let mut warned = self
            .warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for (key, (_, object)) in objects {
            if let Some(ObjectSilence::Malformed(value)) = &object.silence {
                let warning = format!(
                    "{key}: annotation {SILENCE_ANNOTATION}={value:?} is neither \"true\" nor an RFC 3339 time (e.g. 2026-12-24T18:00:00Z); ignored"
                );
                if warned.insert(warning.clone()) {
                    out.push(warning);
                }
            }
        }
        out.sort();
        out
    }

    /// One warning per open incident whose object could not be read (and per distinct
    /// problem), the first time it is seen: its incident is kept open, neither recovered nor
    /// deleted.
    fn unreadable_warnings(
        &self,
        incidents: &BTreeMap<IncidentKey, IncidentRecord>,
        unreadable: &HashMap<IncidentKey, &str>,
    ) -> Vec<String> {
        let mut warned = self
            .warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for (key, error) in unreadable {
            let Some(record) = incidents.get(key) else {
                continue;
            };
            let warning = format!(
                "{key} could not be read ({error}); its incident {} stays open, neither recovered nor deleted, until it can be read again",
                record.id
            );
            if warned.insert(warning.clone()) {
                out.push(warning);
            }
        }
        out.sort();
        out
    }

    /// Delivers what notifier number `index` is due at `now`: asks the analyzer first (once
    /// per notification, within the analyzer's own bound), sends the firings as one batch and
    /// the rest in order, records every outcome and saves the state. `jitter` ∈ `[0, 1]`.
    pub async fn deliver(
        &self,
        index: usize,
        now: Time,
        jitter: f64,
    ) -> Result<DeliverReport, StoreError> {
        self.deliver_while(index, now, jitter, &|| true).await
    }

    /// [`Engine::deliver`], asking `go_on` before each message: once it says no, the rest
    /// stays in the outbox (a shutdown finishes the message in flight, not the whole round).
    pub async fn deliver_while(
        &self,
        index: usize,
        now: Time,
        jitter: f64,
        go_on: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<DeliverReport, StoreError> {
        let Some(notifier) = self.notifiers.get(index) else {
            return Ok(DeliverReport::default());
        };
        let name = notifier.name().to_owned();
        let (mut work, to_analyze) = self.state.read_durable(|state, durable| {
            let due: Vec<usize> = outbox::due(state, &name, now)
                .into_iter()
                .filter(|&i| durable(&state.outbox[i].notification.id))
                .collect();
            let work: Vec<(Notification, Option<Receipt>)> = due
                .iter()
                .map(|&i| {
                    let note = state.outbox[i].notification.clone();
                    let thread = outbox::thread(state, &note.incident_id, &name).cloned();
                    (note, thread)
                })
                .collect();
            let to_analyze: Vec<usize> = due
                .iter()
                .enumerate()
                .filter(|(_, i)| {
                    let entry = &state.outbox[**i];
                    !entry.analysis_tried && entry.notification.kind == NotificationKind::Firing
                })
                .map(|(w, _)| w)
                .collect();
            (work, to_analyze)
        });
        if work.is_empty() {
            return Ok(DeliverReport::default());
        }

        if let Some(analyzer) = &self.analyzer
            && !to_analyze.is_empty()
        {
            let mut results = Vec::new();
            for &w in &to_analyze {
                let analysis = analyzer.analyze(&work[w].0.event).await.ok();
                results.push((work[w].0.id.clone(), analysis));
            }
            // Kept in memory only: saved with the next change (the acknowledgement), and if
            // that never comes, asking once more after a restart is harmless.
            self.state.change(|state| {
                for (id, analysis) in results {
                    if let Some(entry) = outbox::position(state, &id, &name)
                        .and_then(|pos| state.outbox.get_mut(pos))
                    {
                        // Another notifier's round may have analysed it meanwhile: keep the
                        // first.
                        if !entry.analysis_tried {
                            entry.analysis_tried = true;
                            entry.notification.analysis = analysis;
                        }
                    }
                }
                for (note, _) in &mut work {
                    if let Some(entry) = outbox::position(state, &note.id, &name)
                        .and_then(|pos| state.outbox.get(pos))
                    {
                        note.analysis = entry.notification.analysis.clone();
                    }
                }
                ((), Changed::Yes)
            });
        } else if !to_analyze.is_empty() {
            self.state.change(|state| {
                for &w in &to_analyze {
                    if let Some(entry) = outbox::position(state, &work[w].0.id, &name)
                        .and_then(|pos| state.outbox.get_mut(pos))
                    {
                        entry.analysis_tried = true;
                    }
                }
                ((), Changed::Yes)
            });
        }

        let mut report = DeliverReport::default();
        let failure_counted = std::sync::atomic::AtomicBool::new(false);
        let firings: Vec<Notification> = work
            .iter()
            .filter(|(note, _)| {
                matches!(
                    note.kind,
                    NotificationKind::Firing | NotificationKind::Updated
                )
            })
            .map(|(note, _)| note.clone())
            .collect();
        let mut one_by_one = work;
        if firings.len() > 1
            && go_on()
            && let Some(results) = notifier.deliver_batch(&firings).await
        {
            if results.iter().flatten().any(Result::is_ok) {
                crate::crash::point(crate::crash::DELIVER_BATCH_AFTER_ACCEPT);
            }
            let mut folded = Vec::new();
            for (note, result) in firings.into_iter().zip(results) {
                if let Some(result) = result {
                    folded.push((note.id, result));
                }
            }
            let sent: std::collections::BTreeSet<String> =
                folded.iter().map(|(id, _)| id.clone()).collect();
            self.record(
                &name,
                Outcomes::new(folded, &failure_counted),
                now,
                jitter,
                &mut report,
            )
            .await?;
            one_by_one.retain(|(note, _)| !sent.contains(&note.id));
        }
        // Up to `delivery_concurrency` requests at a time, each of another incident (the
        // outbox hands out only the oldest pending notification of an incident, so an
        // incident's notifications keep their order): a slow request holds one slot, not the
        // notifier. One message, one saved acknowledgement: a crash repeats at most the
        // messages in flight.
        // Once the destination fails or asks to slow down, nothing more is started this
        // round: what is in flight finishes, the rest waits for the pause to end.
        let due_at: HashMap<String, Time> = one_by_one
            .iter()
            .map(|(note, _)| (note.id.clone(), note.at))
            .collect();
        let concurrency = self.config.delivery_concurrency.max(1);
        let paused = std::sync::atomic::AtomicBool::new(false);
        let paused = &paused;
        let mut sends = futures::stream::iter(one_by_one.into_iter().map(|(note, thread)| {
            let notifier = notifier.clone();
            async move {
                if !go_on() || paused.load(std::sync::atomic::Ordering::SeqCst) {
                    return None;
                }
                let result = notifier.deliver(&note, thread.as_ref()).await;
                Some((note.id, result))
            }
        }))
        .buffer_unordered(concurrency);
        while let Some(outcome) = sends.next().await {
            if let Some(outcome) = outcome {
                if outcome.1.is_ok() {
                    crate::crash::point(crate::crash::DELIVER_AFTER_ACCEPT);
                }
                if outcome
                    .1
                    .as_ref()
                    .is_err_and(|e| e.retry != crate::notification::Retry::Never)
                {
                    paused.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                if outcome.1.is_ok()
                    && let Some(at) = due_at.get(&outcome.0)
                {
                    report.delivered_due.push(*at);
                }
                self.record(
                    &name,
                    Outcomes::new(vec![outcome], &failure_counted),
                    now,
                    jitter,
                    &mut report,
                )
                .await?;
            }
        }
        Ok(report)
    }

    async fn record(
        &self,
        notifier: &str,
        outcomes: Outcomes<'_>,
        now: Time,
        jitter: f64,
        report: &mut DeliverReport,
    ) -> Result<(), StoreError> {
        let ((), version) = self.state.change(|state| {
            self.apply_outcomes(state, notifier, outcomes, now, jitter, report);
            ((), Changed::Yes)
        });
        match version {
            Some(version) => self.state.persist(version).await,
            None => Ok(()),
        }
    }

    fn apply_outcomes(
        &self,
        state: &mut State,
        notifier: &str,
        outcomes: Outcomes<'_>,
        now: Time,
        jitter: f64,
        report: &mut DeliverReport,
    ) {
        let Outcomes { items, counted } = outcomes;
        for (id, outcome) in items {
            let backs_off = matches!(
                &outcome,
                Err(e) if matches!(e.retry, crate::notification::Retry::After(_))
            );
            let counts = backs_off && !counted.swap(true, std::sync::atomic::Ordering::SeqCst);
            match &outcome {
                Ok(_) => report.delivered += 1,
                Err(e) => {
                    report.errors.push(e.to_string());
                    match e.retry {
                        crate::notification::Retry::Never => report.refused += 1,
                        crate::notification::Retry::After(_)
                        | crate::notification::Retry::Throttled(_) => report.retrying += 1,
                    }
                }
            }
            outbox::record(
                state,
                notifier,
                &id,
                outcome,
                now,
                outbox::Step {
                    backoff: &self.config.backoff,
                    jitter,
                    counts,
                },
            );
        }
    }

    /// Saves the current state as it is, even when nothing changed. A replica that just took
    /// over a shared store calls this first: its write moves the store on, so a deposed
    /// leader's next write is refused.
    pub async fn save(&self) -> Result<(), StoreError> {
        let ((), version) = self.state.change(|_| ((), Changed::Yes));
        match version {
            Some(version) => self.state.persist(version).await,
            None => Ok(()),
        }
    }

    /// The earliest time the policy has something to say that no change of the clusters will
    /// prompt (an incident held for the group wait, an update waiting for its group
    /// interval): the caller observes again then.
    pub fn next_step(&self) -> Option<Time> {
        self.state
            .read(|state| crate::policy::next_deadline(&state.incidents, &self.config.policy))
    }

    /// The earliest time notifier number `index` has something to attempt.
    pub async fn next_due(&self, index: usize) -> Option<Time> {
        let name = self.notifiers.get(index)?.name().to_owned();
        self.state.read(|state| outbox::next_due(state, &name))
    }
}

/// What silences the incident of `record` at `now`: a matching silence or the object's
/// annotation, whichever lasts longer.
fn silenced_by(
    control: &Control,
    record: &IncidentRecord,
    object: Option<&FluxObject>,
    now: Time,
) -> Option<SilencedBy> {
    let by_silence = control
        .silence_for(&record.key, &record.reason, now)
        .map(|s| SilencedBy::Silence {
            id: s.id.clone(),
            until: s.ends,
        });
    let by_annotation = match object.and_then(|o| o.silence.as_ref()) {
        Some(ObjectSilence::Always) => Some(SilencedBy::Annotation { until: None }),
        Some(ObjectSilence::Until(until)) if *until > now => Some(SilencedBy::Annotation {
            until: Some(*until),
        }),
        _ => None,
    };
    match (by_silence, by_annotation) {
        (Some(silence), Some(annotation)) => {
            let longer = match (silence.until(), annotation.until()) {
                (_, None) => true,
                (Some(a), Some(b)) => b > a,
                (None, Some(_)) => false,
            };
            Some(if longer { annotation } else { silence })
        }
        (silence, annotation) => silence.or(annotation),
    }
}

/// The incident a failing object stays folded into although no failing upstream of it is
/// in view: the one it was folded into, when that is still open and an object it links to
/// could not be read (the broken link is why the upstream is out of view, not a recovery).
fn held_fold(
    state: &State,
    key: &IncidentKey,
    object: &FluxObject,
    health: Health,
    unreadable: &HashMap<IncidentKey, &str>,
) -> Option<IncidentKey> {
    if health != Health::Failing || unreadable.is_empty() {
        return None;
    }
    let root = state.incidents.get(key)?.folded_into.clone()?;
    let link_unreadable = object
        .links
        .iter()
        .any(|link| unreadable.contains_key(&IncidentKey::of(&key.cluster, &link.target)));
    (link_unreadable && state.incidents.contains_key(&root)).then_some(root)
}

/// Appends the incidents that ended to the history and drops what the history no longer
/// keeps; whether the history changed.
fn keep_history(
    state: &mut State,
    resolved: Vec<ResolvedIncident>,
    now: Time,
    config: HistoryConfig,
) -> bool {
    let before = state.history.len();
    let added = !resolved.is_empty();
    state.history.extend(resolved);
    let max_age = i64::try_from(config.max_age.as_secs()).unwrap_or(i64::MAX / 2);
    state
        .history
        .retain(|r| r.resolved.add_seconds(max_age) > now);
    let excess = state.history.len().saturating_sub(config.keep);
    state.history.drain(..excess);
    added || state.history.len() != before
}

/// What requests of one delivery round gave, per notification.
struct Outcomes<'r> {
    items: Vec<(String, Result<Receipt, crate::notification::DeliveryError>)>,
    /// Whether the round already counted a failure towards the notifier's backoff: a round
    /// (its requests in flight together, a batch carrying many notifications) is one attempt
    /// at the destination, so it raises the backoff by one step however many of its requests
    /// failed.
    counted: &'r std::sync::atomic::AtomicBool,
}

impl<'r> Outcomes<'r> {
    fn new(
        items: Vec<(String, Result<Receipt, crate::notification::DeliveryError>)>,
        counted: &'r std::sync::atomic::AtomicBool,
    ) -> Self {
        Outcomes { items, counted }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod crash_tests;

#[cfg(test)]
mod save_tests;

#[cfg(test)]
mod control_tests;

#[cfg(test)]
mod drift_tests;

#[cfg(test)]
mod unreadable_tests;
