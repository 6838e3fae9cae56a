//! The state lock is off I/O: a save that blocks stalls nobody's work, only the wait for its
//! own durability; saves stay in order.

use std::sync::Mutex as StdMutex;

use futures::channel::oneshot;
use futures::executor::LocalPool;
use futures::task::LocalSpawnExt;
use serde_json::json;

use super::*;
use crate::notification::DeliveryError;
use crate::parse::{Document, parse_document};

/// A memory store whose saves wait at a gate while one is set, and which remembers every
/// state it saved.
#[derive(Debug, Default)]
struct GatedStore {
    saved: StdMutex<Vec<State>>,
    gate: StdMutex<Option<oneshot::Receiver<()>>>,
    started: StdMutex<usize>,
    control: MemoryStore,
}

#[async_trait::async_trait]
impl StateStore for GatedStore {
    fn name(&self) -> String {
        "gated".into()
    }

    async fn load(&self) -> Result<Option<State>, StoreError> {
        Ok(self.saved.lock().unwrap().last().cloned())
    }

    async fn save(&self, state: &State) -> Result<(), StoreError> {
        *self.started.lock().unwrap() += 1;
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            let _ = gate.await;
        }
        self.saved.lock().unwrap().push(state.clone());
        Ok(())
    }
    async fn load_control(
        &self,
    ) -> Result<Option<(crate::control::Control, crate::control::Revision)>, StoreError> {
        self.control.load_control().await
    }
    async fn save_control(
        &self,
        control: &crate::control::Control,
        expected: Option<&crate::control::Revision>,
    ) -> Result<(), StoreError> {
        self.control.save_control(control, expected).await
    }
}

#[derive(Debug)]
struct Named {
    name: &'static str,
    sent: StdMutex<Vec<String>>,
}

#[async_trait::async_trait]
impl Notifier for Named {
    fn name(&self) -> &str {
        self.name
    }

    async fn deliver(
        &self,
        note: &Notification,
        _: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        self.sent.lock().unwrap().push(note.id.clone());
        Ok(Receipt::default())
    }
}

fn observation(ready: &str) -> Vec<Result<ClusterObservation, CollectError>> {
    let object = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "app", "namespace": "ns"},
        "status": {"conditions": [{"type": "Ready", "status": ready, "reason": "R",
            "message": "m", "lastTransitionTime": "2026-04-21T09:00:00Z"}]}
    });
    let mut snapshot = crate::model::snapshot::Snapshot::new("c");
    for doc in parse_document(&object, &mut Vec::new()) {
        if let Ok(Document::Object(o)) = doc {
            snapshot.objects.push(o.into());
        }
    }
    vec![Ok(ClusterObservation {
        snapshot,
        unobserved: vec![],
        unreadable: vec![],
    })]
}

fn t(minutes: i64) -> Time {
    Time::new(jiff::Timestamp::from_second(1_776_000_000 + minutes * 60).unwrap())
}

#[test]
fn a_blocked_save_stalls_no_notifier_and_no_observation() {
    let store = Arc::new(GatedStore::default());
    let notifier = |name| {
        Arc::new(Named {
            name,
            sent: StdMutex::default(),
        })
    };
    let (a, b) = (notifier("a"), notifier("b"));
    let mut pool = LocalPool::new();
    let engine = Arc::new(
        pool.run_until(Engine::start(
            store.clone(),
            vec![a.clone(), b.clone()],
            None,
            EngineConfig::default(),
        ))
        .unwrap(),
    );
    let fired = pool.run_until(engine.observe(&observation("False"), t(0)));
    assert_eq!(fired.unwrap().notifications.len(), 1);

    // From now on the next save hangs until released.
    let (release, gate) = oneshot::channel();
    *store.gate.lock().unwrap() = Some(gate);
    let done = Arc::new(StdMutex::new(Vec::new()));
    let spawn = |pool: &mut LocalPool,
                 what: &'static str,
                 work: futures::future::BoxFuture<'static, ()>| {
        let done = done.clone();
        pool.spawner()
            .spawn_local(async move {
                work.await;
                done.lock().unwrap().push(what);
            })
            .unwrap();
    };
    let e = engine.clone();
    spawn(
        &mut pool,
        "deliver a",
        Box::pin(async move {
            e.deliver(0, t(1), 0.5).await.unwrap();
        }),
    );
    pool.run_until_stalled();
    // a sent, and its acknowledgement's save is stuck.
    assert_eq!(a.sent.lock().unwrap().len(), 1);
    assert_eq!(*store.started.lock().unwrap(), 2);

    // Meanwhile b sends, and the next observation decides (the incident resolves).
    let e = engine.clone();
    spawn(
        &mut pool,
        "deliver b",
        Box::pin(async move {
            e.deliver(1, t(1), 0.5).await.unwrap();
        }),
    );
    let e = engine.clone();
    spawn(
        &mut pool,
        "observe",
        Box::pin(async move {
            let report = e.observe(&observation("True"), t(2)).await.unwrap();
            assert_eq!(report.notifications.len(), 1);
        }),
    );
    pool.run_until_stalled();
    assert_eq!(
        b.sent.lock().unwrap().len(),
        1,
        "b is not held up by a's save"
    );
    assert_eq!(
        engine.inspect(|s| s.incidents.len()),
        0,
        "the observation was applied while the save hangs"
    );
    assert!(
        done.lock().unwrap().is_empty(),
        "nobody's change is durable yet"
    );
    // The resolution is not sent before it is saved.
    pool.spawner()
        .spawn_local({
            let e = engine.clone();
            async move {
                e.deliver(0, t(3), 0.5).await.unwrap();
            }
        })
        .unwrap();
    pool.run_until_stalled();
    assert_eq!(a.sent.lock().unwrap().len(), 1);

    release.send(()).unwrap();
    pool.run();
    let mut finished = done.lock().unwrap().clone();
    finished.sort_unstable();
    assert_eq!(finished, ["deliver a", "deliver b", "observe"]);
    // The stuck save was followed by one save carrying everything after it, not one each.
    assert_eq!(*store.started.lock().unwrap(), 3);
    // Saves in order: what each notifier has sent never goes back, and the last saved
    // state is the engine's.
    let saved = store.saved.lock().unwrap().clone();
    for pair in saved.windows(2) {
        for name in ["a", "b"] {
            let sent = |s: &State| s.notifiers.get(name).map_or(0, |n| n.sent);
            assert!(sent(&pair[0]) <= sent(&pair[1]), "{name} went back");
        }
    }
    assert_eq!(saved.last(), Some(&pool.run_until(engine.state())));
    // Now the resolution goes out.
    pool.run_until(engine.deliver(0, t(4), 0.5)).unwrap();
    assert_eq!(a.sent.lock().unwrap().len(), 2);
}
