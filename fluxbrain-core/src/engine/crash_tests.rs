//! Crash safety: the engine is dropped at every step of a delivery, over many random schedules
//! with receivers failing at random. Nothing is lost; a notification is repeated only when the
//! crash fell between the receiver's acceptance and the saved acknowledgement, at most once per
//! such crash, and always under the same id (the webhook's `Idempotency-Key`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::notification::{DeliveryError, Retry};
use crate::parse::{Document, parse_document};

/// A store whose next save can be made to fail, as if the process died during it (saves are
/// atomic: a failed save leaves the previous state).
#[derive(Debug, Default)]
struct CrashStore {
    inner: MemoryStore,
    crash_next_save: AtomicBool,
}

#[async_trait::async_trait]
impl StateStore for CrashStore {
    fn name(&self) -> String {
        "crash".into()
    }
    async fn load(&self) -> Result<Option<State>, StoreError> {
        self.inner.load().await
    }
    async fn save(&self, state: &State) -> Result<(), StoreError> {
        if self.crash_next_save.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable {
                store: "crash".into(),
                message: "process died during save".into(),
            });
        }
        self.inner.save(state).await
    }
    async fn load_control(
        &self,
    ) -> Result<Option<(crate::control::Control, crate::control::Revision)>, StoreError> {
        self.inner.load_control().await
    }
    async fn save_control(
        &self,
        control: &crate::control::Control,
        expected: Option<&crate::control::Revision>,
    ) -> Result<(), StoreError> {
        self.inner.save_control(control, expected).await
    }
}

/// A receiver that accepts (records) or refuses with a retryable error, as scripted.
#[derive(Debug, Default)]
struct Receiver {
    accepted: StdMutex<Vec<String>>,
    refuse_next: AtomicBool,
}

#[async_trait::async_trait]
impl Notifier for Receiver {
    fn name(&self) -> &str {
        "receiver"
    }
    async fn deliver(
        &self,
        note: &Notification,
        _: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        if self.refuse_next.swap(false, Ordering::SeqCst) {
            return Err(DeliveryError {
                notifier: "receiver".into(),
                message: "503".into(),
                retry: Retry::After(Some(std::time::Duration::from_secs(1))),
            });
        }
        self.accepted.lock().unwrap().push(note.id.clone());
        Ok(Receipt::default())
    }
}

/// What the cluster shows at each observation: object `i` fails with reason `r` or is healthy;
/// `since[i]` is when its Ready condition last changed (as Kubernetes keeps it).
fn observation(
    failing: &[Option<u8>; 3],
    since: &[Time; 3],
) -> Vec<Result<ClusterObservation, CollectError>> {
    let mut snapshot = crate::model::snapshot::Snapshot::new("c");
    for (i, state) in failing.iter().enumerate() {
        let (status, reason) = match state {
            Some(r) => ("False", format!("Reason{r}")),
            None => ("True", "Succeeded".to_owned()),
        };
        let value = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": format!("app-{i}"), "namespace": "ns"},
            "status": {"conditions": [{"type": "Ready", "status": status, "reason": reason,
                "message": "m", "lastTransitionTime": since[i].to_string()}]}});
        for doc in parse_document(&value, &mut Vec::new()) {
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

/// Where a crash falls in one cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    None,
    /// During the save after the policy step: the outbox write never happened.
    BeforeOutboxWrite,
    /// After the outbox write, before any send.
    BeforeSend,
    /// After the receiver accepted, during the save of the acknowledgement.
    AfterAcceptBeforeAck,
}

fn crash() -> impl Strategy<Value = Crash> {
    prop_oneof![
        4 => Just(Crash::None),
        1 => Just(Crash::BeforeOutboxWrite),
        1 => Just(Crash::BeforeSend),
        1 => Just(Crash::AfterAcceptBeforeAck),
    ]
}

fn cycle_state() -> impl Strategy<Value = [Option<u8>; 3]> {
    prop::array::uniform3(prop_oneof![2 => Just(None), 3 => (0u8..2).prop_map(Some)])
}

/// Runs the schedule; returns what the receiver accepted and how many crashes fell in the
/// accept-before-ack window.
fn run(schedule: &[([Option<u8>; 3], Crash, bool)]) -> (Vec<String>, usize) {
    let store = Arc::new(CrashStore::default());
    let receiver = Arc::new(Receiver::default());
    let start = |store: &Arc<CrashStore>, receiver: &Arc<Receiver>| {
        block_on(Engine::start(
            store.clone(),
            vec![receiver.clone()],
            None,
            EngineConfig::default(),
        ))
        .unwrap()
    };
    let mut engine = start(&store, &receiver);
    let mut now = Time::parse("2026-04-21T10:00:00Z").unwrap();
    let mut ack_window_crashes = 0;
    // The schedule, then calm cycles (everything healthy, receiver up, no crash) until the
    // outbox drains.
    let calm = ([None, None, None], Crash::None, false);
    let mut shown = [None; 3];
    let mut since = [now; 3];
    let tail = std::iter::repeat_n(&calm, 8);
    for (failing, crash, refuse) in schedule.iter().chain(tail) {
        now = now.add_seconds(3 * 3600); // reminders fall due between cycles
        receiver.refuse_next.store(*refuse, Ordering::SeqCst);
        for i in 0..3 {
            if failing[i] != shown[i] {
                shown[i] = failing[i];
                since[i] = now;
            }
        }
        // A crashed cycle is followed by a restart that collects the same cluster state again,
        // as a restarted process would.
        let mut crash = *crash;
        loop {
            store
                .crash_next_save
                .store(crash == Crash::BeforeOutboxWrite, Ordering::SeqCst);
            let observed = block_on(engine.observe(&observation(failing, &since), now));
            store.crash_next_save.store(false, Ordering::SeqCst);
            if observed.is_err() || crash == Crash::BeforeSend {
                engine = start(&store, &receiver);
                crash = Crash::None;
                continue;
            }
            store
                .crash_next_save
                .store(crash == Crash::AfterAcceptBeforeAck, Ordering::SeqCst);
            let before = receiver.accepted.lock().unwrap().len();
            let delivered = block_on(engine.deliver(0, now, 0.5));
            store.crash_next_save.store(false, Ordering::SeqCst);
            if delivered.is_err() {
                if receiver.accepted.lock().unwrap().len() > before {
                    ack_window_crashes += 1;
                }
                engine = start(&store, &receiver);
                crash = Crash::None;
                continue;
            }
            break;
        }
    }
    // What the calm cycles left (one message per incident and per fingerprint each round)
    // goes out in later rounds.
    for _ in 0..100 {
        if block_on(engine.state()).outbox.is_empty() {
            break;
        }
        now = now.add_seconds(3600);
        block_on(engine.deliver(0, now, 0.5)).unwrap();
    }
    assert!(
        block_on(engine.state()).outbox.is_empty(),
        "the outbox drains"
    );
    let accepted = receiver.accepted.lock().unwrap().clone();
    (accepted, ack_window_crashes)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn nothing_lost_duplicates_only_in_the_ack_window(
        schedule in prop::collection::vec((cycle_state(), crash(), any::<bool>()), 1..12),
    ) {
        let calm: Vec<_> = schedule.iter().map(|(s, _, _)| (*s, Crash::None, false)).collect();
        let (expected, _) = run(&calm);
        let (accepted, window_crashes) = run(&schedule);

        let expected_ids: BTreeSet<&String> = expected.iter().collect();
        let accepted_ids: BTreeSet<&String> = accepted.iter().collect();
        prop_assert_eq!(&accepted_ids, &expected_ids, "lost or invented notifications");

        let mut counts: BTreeMap<&String, usize> = BTreeMap::new();
        for id in &accepted {
            *counts.entry(id).or_default() += 1;
        }
        let duplicates: usize = counts.values().map(|c| c - 1).sum();
        prop_assert!(
            duplicates <= window_crashes,
            "{duplicates} duplicates for {window_crashes} crashes in the ack window"
        );
    }
}
