//! Engine behaviour over an in-memory store and a recording notifier.

use std::sync::Mutex as StdMutex;
use std::time::Duration;

use futures::executor::block_on;
use serde_json::{Value, json};

use super::*;
use crate::model::kind::Kind;
use crate::notification::{DeliveryError, Resolution, Retry};
use crate::parse::{Document, parse_document};

fn t(minutes: i64) -> Time {
    Time::new(jiff::Timestamp::from_second(1_776_000_000 + minutes * 60).unwrap())
}

fn object(kind: &str, name: &str, ready: &str, reason: &str, spec: Value, status: Value) -> Value {
    let group = match kind {
        "Kustomization" => "kustomize.toolkit.fluxcd.io/v1",
        _ => "source.toolkit.fluxcd.io/v1",
    };
    let mut status = status;
    status["conditions"] = json!([{
        "type": "Ready", "status": ready, "reason": reason, "message": format!("{name} is {reason}"),
        "lastTransitionTime": "2026-04-21T09:00:00Z"
    }]);
    json!({"apiVersion": group, "kind": kind, "metadata": {"name": name, "namespace": "ns"},
           "spec": spec, "status": status})
}

fn repo(ready: &str, reason: &str) -> Value {
    object(
        "GitRepository",
        "repo",
        ready,
        reason,
        json!({"url": "https://git.example/r"}),
        json!({}),
    )
}

fn app(name: &str, ready: &str, reason: &str, revision: &str) -> Value {
    object(
        "Kustomization",
        name,
        ready,
        reason,
        json!({"sourceRef": {"kind": "GitRepository", "name": "repo"}}),
        json!({"lastAttemptedRevision": revision}),
    )
}

fn observation(values: &[Value]) -> Vec<Result<ClusterObservation, CollectError>> {
    let mut snapshot = crate::model::snapshot::Snapshot::new("c");
    for value in values {
        for doc in parse_document(value, &mut Vec::new()) {
            if let Ok(Document::Object(o)) = doc {
                snapshot.objects.push(o.into());
            }
        }
    }
    vec![Ok(ClusterObservation {
        snapshot,
        unobserved: vec![],
        unreadable: vec![],
    })]
}

/// Records what it is asked to send; fails while `failing` says so. Named `recorder` unless
/// `name` says otherwise.
#[derive(Debug, Default)]
struct Recorder {
    name: Option<&'static str>,
    sent: StdMutex<Vec<(String, Option<String>)>>,
    failing: StdMutex<Option<Retry>>,
}

#[async_trait::async_trait]
impl Notifier for Recorder {
    fn name(&self) -> &str {
        self.name.unwrap_or("recorder")
    }

    async fn deliver(
        &self,
        note: &Notification,
        thread: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        if let Some(retry) = *self.failing.lock().unwrap() {
            return Err(DeliveryError {
                notifier: "recorder".into(),
                message: "down".into(),
                retry,
            });
        }
        self.sent
            .lock()
            .unwrap()
            .push((note.id.clone(), thread.and_then(|t| t.reference.clone())));
        Ok(Receipt {
            reference: Some(format!("ts-{}", note.incident_id)),
        })
    }
}

fn start(recorder: Arc<Recorder>, store: Arc<MemoryStore>) -> Engine {
    block_on(Engine::start(
        store,
        vec![recorder],
        None,
        EngineConfig::default(),
    ))
    .unwrap()
}

fn kinds(notes: &[Notification]) -> Vec<(String, NotificationKind)> {
    notes
        .iter()
        .map(|n| (n.event.metadata.name.clone(), n.kind))
        .collect()
}

#[test]
fn fires_reminds_and_resolves_once_each() {
    let recorder = Arc::new(Recorder::default());
    let store = Arc::new(MemoryStore::new());
    let engine = start(recorder.clone(), store.clone());
    let failing = observation(&[
        repo("True", "Succeeded"),
        app("a", "False", "BuildFailed", "r1"),
    ]);

    let first = block_on(engine.observe(&failing, t(0))).unwrap();
    assert_eq!(
        kinds(&first.notifications),
        [("a".into(), NotificationKind::Firing)]
    );
    assert_eq!(block_on(engine.deliver(0, t(0), 0.5)).unwrap().delivered, 1);

    // Same failure a little later: quiet. Four hours later: one reminder, in the thread.
    assert!(
        block_on(engine.observe(&failing, t(60)))
            .unwrap()
            .notifications
            .is_empty()
    );
    let remind = block_on(engine.observe(&failing, t(240))).unwrap();
    assert_eq!(
        kinds(&remind.notifications),
        [("a".into(), NotificationKind::Reminder)]
    );
    assert_eq!(remind.notifications[0].occurrence, 2);
    assert!(
        block_on(engine.observe(&failing, t(241)))
            .unwrap()
            .notifications
            .is_empty()
    );
    block_on(engine.deliver(0, t(241), 0.5)).unwrap();

    // Progressing keeps it open; healthy resolves it.
    let progressing = observation(&[
        repo("True", "Succeeded"),
        app("a", "Unknown", "Progressing", "r1"),
    ]);
    assert!(
        block_on(engine.observe(&progressing, t(250)))
            .unwrap()
            .notifications
            .is_empty()
    );
    let healthy = observation(&[
        repo("True", "Succeeded"),
        app("a", "True", "ReconciliationSucceeded", "r1"),
    ]);
    let resolved = block_on(engine.observe(&healthy, t(260))).unwrap();
    assert_eq!(
        kinds(&resolved.notifications),
        [(
            "a".into(),
            NotificationKind::Resolved(Resolution::Recovered)
        )]
    );
    block_on(engine.deliver(0, t(260), 0.5)).unwrap();

    let sent = recorder.sent.lock().unwrap().clone();
    let id = &first.notifications[0].incident_id;
    assert_eq!(
        sent,
        [
            (format!("{id}:firing:1"), None),
            (format!("{id}:reminder:2"), Some(format!("ts-{id}"))),
            (format!("{id}:resolved:2"), Some(format!("ts-{id}"))),
        ]
    );
    let state = block_on(store.load()).unwrap().unwrap();
    assert!(state.incidents.is_empty() && state.outbox.is_empty() && state.threads.is_empty());
}

#[test]
fn a_failing_source_folds_its_dependents_into_one_message() {
    let recorder = Arc::new(Recorder::default());
    let engine = start(recorder.clone(), Arc::new(MemoryStore::new()));
    let broken = observation(&[
        repo("False", "GitOperationFailed"),
        app("a", "False", "ArtifactFailed", "r1"),
        app("b", "False", "ArtifactFailed", "r1"),
    ]);
    let report = block_on(engine.observe(&broken, t(0))).unwrap();
    assert_eq!(
        kinds(&report.notifications),
        [("repo".into(), NotificationKind::Firing)]
    );
    let affected: Vec<&str> = report.notifications[0]
        .affected
        .iter()
        .map(|a| a.key.as_str())
        .collect();
    assert_eq!(affected, ["Kustomization/ns/a", "Kustomization/ns/b"]);
    assert_eq!(block_on(engine.state()).incidents.len(), 3);

    // The source recovers while `a` still fails: the source resolves, `a` fires on its own,
    // `b` (healthy now) resolves silently.
    let partly = observation(&[
        repo("True", "Succeeded"),
        app("a", "False", "ArtifactFailed", "r1"),
        app("b", "True", "ReconciliationSucceeded", "r1"),
    ]);
    let report = block_on(engine.observe(&partly, t(5))).unwrap();
    assert_eq!(
        kinds(&report.notifications),
        [
            (
                "repo".into(),
                NotificationKind::Resolved(Resolution::Recovered)
            ),
            ("a".into(), NotificationKind::Firing),
        ]
    );
    assert_eq!(
        report.notifications[0].affected.len(),
        1,
        "b is gone, a is still affected"
    );
}

#[test]
fn a_new_reason_supersedes() {
    let engine = start(Arc::new(Recorder::default()), Arc::new(MemoryStore::new()));
    block_on(engine.observe(
        &observation(&[app("a", "False", "BuildFailed", "r1")]),
        t(0),
    ))
    .unwrap();
    let next = block_on(engine.observe(
        &observation(&[app("a", "False", "BuildFailed", "r2")]),
        t(1),
    ))
    .unwrap();
    assert_eq!(
        kinds(&next.notifications),
        [
            (
                "a".into(),
                NotificationKind::Resolved(Resolution::Superseded)
            ),
            ("a".into(), NotificationKind::Firing),
        ]
    );
    assert_ne!(
        next.notifications[0].incident_id,
        next.notifications[1].incident_id
    );
}

#[test]
fn deletion_needs_a_full_read() {
    let engine = start(Arc::new(Recorder::default()), Arc::new(MemoryStore::new()));
    block_on(engine.observe(
        &observation(&[app("a", "False", "BuildFailed", "r1")]),
        t(0),
    ))
    .unwrap();
    // The cluster could not be read: nothing resolves.
    let failed = vec![Err(CollectError {
        cluster: "c".into(),
        message: "unreachable".into(),
    })];
    let report = block_on(engine.observe(&failed, t(1))).unwrap();
    assert!(report.notifications.is_empty());
    assert_eq!(report.failed_clusters.len(), 1);
    // Kustomizations could not be listed: nothing resolves either.
    let mut partial = observation(&[]);
    if let Ok(o) = &mut partial[0] {
        o.unobserved.push(Kind::Kustomization);
    }
    assert!(
        block_on(engine.observe(&partial, t(2)))
            .unwrap()
            .notifications
            .is_empty()
    );
    // Read in full and gone: deleted.
    let gone = block_on(engine.observe(&observation(&[]), t(3))).unwrap();
    assert_eq!(
        kinds(&gone.notifications),
        [("a".into(), NotificationKind::Resolved(Resolution::Deleted))]
    );
}

#[test]
fn a_failure_that_returns_waits_for_the_last_resolution_of_its_fingerprint() {
    let recorder = Arc::new(Recorder::default());
    let engine = start(recorder.clone(), Arc::new(MemoryStore::new()));
    let failing = observation(&[app("a", "False", "BuildFailed", "r1")]);
    block_on(engine.observe(&failing, t(0))).unwrap();
    assert_eq!(block_on(engine.deliver(0, t(0), 1.0)).unwrap().delivered, 1);
    // It recovers while the destination is down, and fails again the same way: a new
    // incident with the old one's fingerprint.
    *recorder.failing.lock().unwrap() = Some(Retry::After(None));
    block_on(engine.observe(
        &observation(&[app("a", "True", "ReconciliationSucceeded", "r1")]),
        t(1),
    ))
    .unwrap();
    assert_eq!(block_on(engine.deliver(0, t(1), 1.0)).unwrap().retrying, 1);
    let mut failing_again = app("a", "False", "BuildFailed", "r1");
    failing_again["status"]["conditions"][0]["lastTransitionTime"] = json!("2026-04-21T11:00:00Z");
    let again = block_on(engine.observe(&observation(&[failing_again]), t(2))).unwrap();
    assert_eq!(
        kinds(&again.notifications),
        [("a".into(), NotificationKind::Firing)]
    );
    // Back up: the resolution goes first, alone; the new firing in the next round.
    *recorder.failing.lock().unwrap() = None;
    assert_eq!(block_on(engine.deliver(0, t(5), 1.0)).unwrap().delivered, 1);
    assert_eq!(block_on(engine.deliver(0, t(5), 1.0)).unwrap().delivered, 1);
    let sent: Vec<String> = recorder
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(sent.len(), 3);
    assert!(
        sent[0].ends_with(":firing:1") && sent[1].ends_with(":resolved:1"),
        "{sent:?}"
    );
    assert!(
        sent[2].ends_with(":firing:1") && sent[2] != sent[0],
        "{sent:?}"
    );
}

#[test]
fn a_failure_that_returns_within_the_same_second_is_sent_once_per_notifier() {
    // Failing, recovered and failing again with the same transition time (one second's
    // resolution) is, by its id (fingerprint and start), the same incident again: its
    // notifications carry the ids of the first time. While another notifier still holds the
    // first time's, each notifier must still send each of them exactly once.
    let fast = Arc::new(Recorder::default());
    let slow = Arc::new(Recorder {
        name: Some("slow"),
        failing: StdMutex::new(Some(Retry::After(None))),
        ..Recorder::default()
    });
    let notifiers: Vec<Arc<dyn Notifier>> = vec![fast.clone(), slow.clone()];
    let engine = block_on(Engine::start(
        Arc::new(MemoryStore::new()),
        notifiers,
        None,
        EngineConfig::default(),
    ))
    .unwrap();
    let failing = observation(&[app("a", "False", "BuildFailed", "r1")]);
    let healthy = observation(&[app("a", "True", "ReconciliationSucceeded", "r1")]);
    block_on(engine.observe(&failing, t(0))).unwrap();
    block_on(engine.deliver(0, t(0), 1.0)).unwrap();
    block_on(engine.observe(&healthy, t(1))).unwrap();
    block_on(engine.deliver(0, t(1), 1.0)).unwrap();
    block_on(engine.observe(&failing, t(2))).unwrap();
    for minute in 2..12 {
        block_on(engine.deliver(0, t(minute), 1.0)).unwrap();
    }
    let ids = |r: &Recorder| -> Vec<String> {
        r.sent
            .lock()
            .unwrap()
            .iter()
            .map(|(id, _)| id.clone())
            .collect()
    };
    let fast_sent = ids(&fast);
    assert_eq!(fast_sent.len(), 3, "{fast_sent:?}");
    assert!(fast_sent[0].ends_with(":firing:1"), "{fast_sent:?}");
    assert!(fast_sent[1].ends_with(":resolved:1"), "{fast_sent:?}");
    assert_eq!(fast_sent[2], fast_sent[0]);

    // The slow one comes back: the first time's two, then the second firing, each once.
    *slow.failing.lock().unwrap() = None;
    for minute in 12..40 {
        block_on(engine.deliver(1, t(minute), 1.0)).unwrap();
    }
    assert_eq!(ids(&slow), fast_sent);
    assert_eq!(ids(&fast), fast_sent, "nothing more from the fast one");
    let pending = engine.state.read(|s| {
        s.outbox
            .iter()
            .map(|e| (e.notification.id.clone(), e.pending.len()))
            .collect::<Vec<_>>()
    });
    assert!(pending.is_empty(), "{pending:?}");
}

#[test]
fn failures_back_off_and_nothing_is_lost() {
    let recorder = Arc::new(Recorder::default());
    let store = Arc::new(MemoryStore::new());
    let engine = start(recorder.clone(), store.clone());
    *recorder.failing.lock().unwrap() = Some(Retry::After(None));
    block_on(engine.observe(
        &observation(&[app("a", "False", "BuildFailed", "r1")]),
        t(0),
    ))
    .unwrap();
    let report = block_on(engine.deliver(0, t(0), 1.0)).unwrap();
    assert_eq!(report.retrying, 1);
    // Paused for 30 s: nothing due at +10 s.
    assert_eq!(block_on(engine.next_due(0)), Some(t(0).add_seconds(30)));
    assert_eq!(
        block_on(engine.deliver(0, t(0).add_seconds(10), 1.0)).unwrap(),
        DeliverReport::default()
    );
    // A restart with the destination back: the outbox survives and delivers once.
    *recorder.failing.lock().unwrap() = None;
    drop(engine);
    let engine = start(recorder.clone(), store);
    assert_eq!(block_on(engine.deliver(0, t(1), 1.0)).unwrap().delivered, 1);
    assert_eq!(block_on(engine.deliver(0, t(2), 1.0)).unwrap().delivered, 0);
    assert_eq!(recorder.sent.lock().unwrap().len(), 1);
}

#[test]
fn throttling_pauses_for_the_asked_time_without_growing_the_backoff() {
    let recorder = Arc::new(Recorder::default());
    let engine = start(recorder.clone(), Arc::new(MemoryStore::new()));
    block_on(engine.observe(
        &observation(&[app("a", "False", "BuildFailed", "r1")]),
        t(0),
    ))
    .unwrap();
    // Twenty 429s in a row, each asking for one second.
    *recorder.failing.lock().unwrap() = Some(Retry::Throttled(Duration::from_secs(1)));
    let mut at = t(0);
    for _ in 0..20 {
        assert_eq!(block_on(engine.deliver(0, at, 1.0)).unwrap().retrying, 1);
        // Due again after the second asked for, never after a growing backoff.
        assert_eq!(block_on(engine.next_due(0)), Some(at.add_seconds(1)));
        at = at.add_seconds(1);
    }
    let state = block_on(engine.state());
    let health = &state.notifiers["recorder"];
    assert_eq!(
        (health.failures, health.failed, health.throttled),
        (0, 0, 20)
    );
    assert!(
        state.dead_letters.is_empty(),
        "never given up for being throttled"
    );
    // A 5xx now starts the backoff at its base, as if the 429s had not happened.
    *recorder.failing.lock().unwrap() = Some(Retry::After(None));
    block_on(engine.deliver(0, at, 1.0)).unwrap();
    assert_eq!(block_on(engine.next_due(0)), Some(at.add_seconds(30)));
    // An absurd wait is capped to an hour.
    *recorder.failing.lock().unwrap() = Some(Retry::Throttled(Duration::from_secs(86_400)));
    let later = at.add_seconds(30);
    block_on(engine.deliver(0, later, 1.0)).unwrap();
    assert_eq!(block_on(engine.next_due(0)), Some(later.add_seconds(3600)));
    *recorder.failing.lock().unwrap() = None;
    assert_eq!(
        block_on(engine.deliver(0, later.add_seconds(3600), 1.0))
            .unwrap()
            .delivered,
        1
    );
}

#[test]
fn retry_after_is_honoured_and_refusals_are_kept() {
    let recorder = Arc::new(Recorder::default());
    let engine = start(recorder.clone(), Arc::new(MemoryStore::new()));
    *recorder.failing.lock().unwrap() = Some(Retry::After(Some(Duration::from_secs(120))));
    block_on(engine.observe(
        &observation(&[app("a", "False", "BuildFailed", "r1")]),
        t(0),
    ))
    .unwrap();
    block_on(engine.deliver(0, t(0), 0.0)).unwrap();
    assert_eq!(block_on(engine.next_due(0)), Some(t(2)));
    *recorder.failing.lock().unwrap() = Some(Retry::Never);
    let report = block_on(engine.deliver(0, t(2), 0.0)).unwrap();
    assert_eq!(report.refused, 1);
    let state = block_on(engine.state());
    assert!(state.outbox.is_empty());
    assert_eq!(state.dead_letters.len(), 1);
    assert_eq!(state.dead_letters[0].notifier, "recorder");
}

#[test]
fn memory_store_conformance() {
    #[cfg(feature = "conformance")]
    block_on(conformance::run(&MemoryStore::new()));
    let state = State::default();
    assert_eq!(decode(&encode(&state)), Ok(state));
    assert_eq!(
        decode(br#"{"version": 99}"#),
        Err(DecodeError::Newer { found: 99 })
    );
    assert!(decode(b"{").is_err());
}

/// Folds the first two firings of a batch into one message; leaves the rest to the engine.
#[derive(Debug, Default)]
struct Folder {
    messages: StdMutex<Vec<Vec<String>>>,
}

#[async_trait::async_trait]
impl Notifier for Folder {
    fn name(&self) -> &str {
        "folder"
    }

    async fn deliver(
        &self,
        note: &Notification,
        _: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        self.messages.lock().unwrap().push(vec![note.id.clone()]);
        Ok(Receipt::default())
    }

    async fn deliver_batch(
        &self,
        notes: &[Notification],
    ) -> Option<Vec<Option<Result<Receipt, DeliveryError>>>> {
        self.messages
            .lock()
            .unwrap()
            .push(notes.iter().take(2).map(|n| n.id.clone()).collect());
        Some(
            (0..notes.len())
                .map(|i| (i < 2).then(|| Ok(Receipt::default())))
                .collect(),
        )
    }
}

#[test]
fn a_batch_may_fold_some_firings_and_leave_the_rest() {
    let folder = Arc::new(Folder::default());
    let engine = block_on(Engine::start(
        Arc::new(MemoryStore::new()),
        vec![folder.clone()],
        None,
        EngineConfig::default(),
    ))
    .unwrap();
    let apps: Vec<Value> = (0..4)
        .map(|i| app(&format!("app-{i}"), "False", "BuildFailed", "r1"))
        .collect();
    block_on(engine.observe(&observation(&apps), t(0))).unwrap();
    assert_eq!(block_on(engine.deliver(0, t(0), 0.5)).unwrap().delivered, 4);
    let messages = folder.messages.lock().unwrap().clone();
    assert_eq!(
        messages.len(),
        3,
        "one folded message, then two on their own: {messages:?}"
    );
    assert_eq!(messages[0].len(), 2);
    assert!(block_on(engine.state()).outbox.is_empty());
}

/// Holds the delivery of `a` until the other deliveries are done.
#[derive(Debug)]
struct Gate {
    release: StdMutex<Option<futures::channel::oneshot::Receiver<()>>>,
    done: futures::channel::mpsc::UnboundedSender<String>,
}

#[async_trait::async_trait]
impl Notifier for Gate {
    fn name(&self) -> &str {
        "gate"
    }

    async fn deliver(
        &self,
        note: &Notification,
        _: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        let name = note.event.metadata.name.clone();
        if name == "a" {
            let release = self.release.lock().unwrap().take();
            if let Some(release) = release {
                let _ = release.await;
            }
        }
        let _ = self.done.unbounded_send(name);
        Ok(Receipt::default())
    }
}

#[test]
fn a_slow_request_holds_one_slot_not_the_notifier() {
    use futures::StreamExt;
    let (release, released) = futures::channel::oneshot::channel();
    let (done, mut finished) = futures::channel::mpsc::unbounded();
    let gate = Arc::new(Gate {
        release: StdMutex::new(Some(released)),
        done,
    });
    let engine = block_on(Engine::start(
        Arc::new(MemoryStore::new()),
        vec![gate],
        None,
        EngineConfig::default(),
    ))
    .unwrap();
    block_on(engine.observe(
        &observation(&[
            app("a", "False", "BuildFailed", "r1"),
            app("b", "False", "BuildFailed", "r1"),
            app("c", "False", "BuildFailed", "r1"),
        ]),
        t(0),
    ))
    .unwrap();
    // `a` is first in the outbox and hangs until `b` and `c`, behind it, are delivered: with
    // one request at a time this would never finish.
    let (report, order) = block_on(async {
        let deliver = engine.deliver(0, t(0), 1.0);
        let others = async {
            let mut order = vec![
                finished.next().await.unwrap(),
                finished.next().await.unwrap(),
            ];
            release.send(()).unwrap();
            order.push(finished.next().await.unwrap());
            order
        };
        futures::future::join(deliver, others).await
    });
    assert_eq!(report.unwrap().delivered, 3);
    order.iter().take(2).for_each(|n| assert_ne!(n, "a"));
    assert_eq!(order[2], "a");
    assert!(block_on(engine.state()).outbox.is_empty());
}

/// Sends every batch as one request that fails (a Slack summary answered 500).
#[derive(Debug, Default)]
struct FailingBatch;

#[async_trait::async_trait]
impl Notifier for FailingBatch {
    fn name(&self) -> &str {
        "failing-batch"
    }

    async fn deliver(
        &self,
        _: &Notification,
        _: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        Ok(Receipt::default())
    }

    async fn deliver_batch(
        &self,
        notes: &[Notification],
    ) -> Option<Vec<Option<Result<Receipt, DeliveryError>>>> {
        let failed = DeliveryError {
            notifier: "failing-batch".into(),
            message: "500".into(),
            retry: Retry::After(None),
        };
        Some(notes.iter().map(|_| Some(Err(failed.clone()))).collect())
    }
}

#[test]
fn a_failed_batch_counts_as_one_failure_however_many_it_carried() {
    let engine = block_on(Engine::start(
        Arc::new(MemoryStore::new()),
        vec![Arc::new(FailingBatch)],
        None,
        EngineConfig::default(),
    ))
    .unwrap();
    let apps: Vec<Value> = (0..12)
        .map(|i| app(&format!("app-{i}"), "False", "BuildFailed", "r1"))
        .collect();
    block_on(engine.observe(&observation(&apps), t(0))).unwrap();
    assert_eq!(block_on(engine.deliver(0, t(0), 1.0)).unwrap().retrying, 12);
    let state = block_on(engine.state());
    assert_eq!(state.notifiers["failing-batch"].failures, 1);
    // The first backoff step (30 s), not the twelfth.
    assert_eq!(block_on(engine.next_due(0)), Some(t(0).add_seconds(30)));
}
