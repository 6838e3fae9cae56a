//! Model-based properties of the policy over random observation sequences, driven through the
//! engine (real snapshots, real events, an in-memory store).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::executor::block_on;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::collect::ClusterObservation;
use crate::engine::{Engine, EngineConfig, MemoryStore};
use crate::model::snapshot::Snapshot;
use crate::notification::NotificationKind;
use crate::parse::{Document, parse_document};
use crate::time::Time;

/// What one object shows in one step.
#[derive(Debug, Clone, Copy)]
enum Shown {
    Healthy,
    Failing(u8), // reason index
    Progressing,
    Suspended,
    Gone,
}

fn shown() -> impl Strategy<Value = Shown> {
    prop_oneof![
        3 => Just(Shown::Healthy),
        4 => (0u8..2).prop_map(Shown::Failing),
        1 => Just(Shown::Progressing),
        1 => Just(Shown::Suspended),
        1 => Just(Shown::Gone),
    ]
}

const NAMES: [&str; 4] = ["repo", "a", "b", "c"];

/// `repo` is a GitRepository; `a` and `b` read from it; `c` depends on `a`.
fn object(name: &str, shown: Shown) -> Option<Value> {
    let (ready, reason, suspend) = match shown {
        Shown::Gone => return None,
        Shown::Healthy => ("True", "Succeeded".to_owned(), false),
        Shown::Failing(r) => ("False", format!("Reason{r}"), false),
        Shown::Progressing => ("Unknown", "Progressing".to_owned(), false),
        Shown::Suspended => ("False", "Reason0".to_owned(), true),
    };
    let conditions = json!([{"type": "Ready", "status": ready, "reason": reason, "message": "m",
                             "lastTransitionTime": "2026-04-21T09:00:00Z"}]);
    Some(if name == "repo" {
        json!({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
               "metadata": {"name": name, "namespace": "ns"},
               "spec": {"suspend": suspend}, "status": {"conditions": conditions}})
    } else {
        let mut spec =
            json!({"suspend": suspend, "sourceRef": {"kind": "GitRepository", "name": "repo"}});
        if name == "c" {
            spec["dependsOn"] = json!([{"name": "a"}]);
        }
        json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
               "metadata": {"name": name, "namespace": "ns"},
               "spec": spec, "status": {"conditions": conditions}})
    })
}

fn observe(step: &[Shown; 4]) -> Vec<Result<ClusterObservation, crate::collect::CollectError>> {
    let mut snapshot = Snapshot::new("c");
    for (name, shown) in NAMES.iter().zip(step) {
        if let Some(value) = object(name, *shown) {
            for doc in parse_document(&value, &mut Vec::new()) {
                if let Ok(Document::Object(o)) = doc {
                    snapshot.objects.push(o.into());
                }
            }
        }
    }
    vec![Ok(ClusterObservation {
        snapshot,
        unobserved: vec![],
        unreadable: vec![],
    })]
}

const REMIND: i64 = 4 * 3600;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn notification_laws(
        steps in prop::collection::vec(
            (prop::array::uniform4(shown()), prop_oneof![0i64..120, 0i64..3 * 3600]),
            1..25,
        ),
        group_wait in prop_oneof![Just(0u64), Just(30), Just(600)],
        group_interval in prop_oneof![Just(None), Just(Some(300u64)), Just(Some(3600))],
    ) {
        let mut config = EngineConfig::default();
        config.policy.group_wait = std::time::Duration::from_secs(group_wait);
        config.policy.group_interval = group_interval.map(std::time::Duration::from_secs);
        let engine = block_on(Engine::start(Arc::new(MemoryStore::new()), vec![], None, config)).unwrap();
        // Per incident: the downstream objects its last firing, reminder or update listed,
        // and when.
        let mut listed: BTreeMap<String, (Vec<String>, Time)> = BTreeMap::new();
        let mut now = Time::parse("2026-04-21T10:00:00Z").unwrap();
        // Per object: the open incident id and when it last spoke.
        let mut open: BTreeMap<String, (String, Time)> = BTreeMap::new();
        let all_healthy = [Shown::Healthy; 4];
        let mut sequence: Vec<([Shown; 4], i64)> = steps;
        sequence.push((all_healthy, 60));
        for (step, advance) in sequence {
            now = now.add_seconds(advance);
            let report = block_on(engine.observe(&observe(&step), now)).unwrap();
            let state = block_on(engine.state());
            let folded: BTreeSet<String> = state
                .incidents
                .values()
                .filter(|r| r.folded_into.is_some())
                .map(|r| r.key.name.clone())
                .collect();
            for note in &report.notifications {
                let name = note.event.metadata.name.clone();
                let affected: Vec<String> = note.affected.iter().map(|a| a.key.clone()).collect();
                prop_assert_eq!(note.change.is_some(), note.kind == NotificationKind::Updated);
                match note.kind {
                    NotificationKind::Firing | NotificationKind::Reminder => {
                        listed.insert(note.incident_id.clone(), (affected.clone(), now));
                    }
                    NotificationKind::Updated => {
                        let interval = group_interval.expect("an update without a group interval");
                        let (before, at) = listed.get(&note.incident_id).cloned().expect("an update of an incident never announced");
                        let waited = now.timestamp().as_second() - at.timestamp().as_second();
                        prop_assert!(waited >= i64::try_from(interval).unwrap(), "update after {waited}s");
                        prop_assert!(before != affected, "an update that changes nothing: {before:?}");
                        let change = note.change.as_ref().unwrap();
                        for joined in &change.joined {
                            prop_assert!(affected.contains(joined) && !before.contains(joined));
                        }
                        for left in &change.left {
                            prop_assert!(before.contains(left) && !affected.contains(left));
                        }
                        prop_assert!(!change.joined.is_empty() || !change.left.is_empty());
                        listed.insert(note.incident_id.clone(), (affected.clone(), now));
                    }
                    NotificationKind::Resolved(_) => {
                        listed.remove(&note.incident_id);
                    }
                }
                match note.kind {
                    NotificationKind::Firing => {
                        prop_assert!(!open.contains_key(&name), "second firing for {name}");
                        prop_assert!(!folded.contains(&name), "{name} fired while folded");
                        open.insert(name, (note.incident_id.clone(), now));
                    }
                    NotificationKind::Reminder => {
                        let (id, last) = open.get(&name).cloned().expect("reminder without firing");
                        prop_assert_eq!(&id, &note.incident_id);
                        prop_assert!(!folded.contains(&name), "{name} reminded while folded");
                        let waited = now.timestamp().as_second() - last.timestamp().as_second();
                        prop_assert!(waited >= REMIND, "reminder for {name} after {waited}s");
                        open.insert(name, (id, now));
                    }
                    NotificationKind::Updated => {
                        let (id, _) = open.get(&name).cloned().expect("update without firing");
                        prop_assert_eq!(&id, &note.incident_id);
                        prop_assert!(!folded.contains(&name), "{name} updated while folded");
                    }
                    NotificationKind::Resolved(_) => {
                        let (id, _) = open.remove(&name).expect("resolution without firing");
                        prop_assert_eq!(id, note.incident_id.clone());
                    }
                }
            }
            // At most one open incident per object, and every open one is in the state.
            for (name, (id, _)) in &open {
                let record = state.incidents.values().find(|r| &r.key.name == name);
                prop_assert_eq!(record.map(|r| &r.id), Some(id));
            }
        }
        // Everything healthy at the end: every firing got exactly one resolution.
        prop_assert!(open.is_empty(), "still open: {open:?}");
        prop_assert!(block_on(engine.state()).incidents.is_empty());
    }
}

/// The story of one source outage with a 30 s group wait and a 5 min group interval.
#[test]
fn the_first_notification_lists_what_failed_within_the_wait_and_later_changes_are_updates() {
    use Shown::{Failing, Healthy};
    let mut config = EngineConfig::default();
    config.policy.group_wait = std::time::Duration::from_secs(30);
    config.policy.group_interval = Some(std::time::Duration::from_secs(300));
    let engine = block_on(Engine::start(
        Arc::new(MemoryStore::new()),
        vec![],
        None,
        config,
    ))
    .unwrap();
    let start = Time::parse("2026-04-21T10:00:00Z").unwrap();
    let mut said = Vec::new();
    // (seconds after start, repo, a, b, c)
    let steps = [
        (0, [Failing(0), Healthy, Healthy, Healthy]),
        (10, [Failing(0), Failing(0), Healthy, Healthy]),
        (30, [Failing(0), Failing(0), Healthy, Healthy]),
        (60, [Failing(0), Failing(0), Failing(0), Healthy]),
        (120, [Failing(0), Failing(0), Failing(0), Healthy]),
        (330, [Failing(0), Failing(0), Failing(0), Healthy]),
        // b recovers and fails again within the interval: nothing new to say.
        (400, [Failing(0), Failing(0), Healthy, Healthy]),
        (500, [Failing(0), Failing(0), Failing(0), Healthy]),
        (700, [Failing(0), Failing(0), Failing(0), Healthy]),
        (800, [Healthy, Healthy, Healthy, Healthy]),
    ];
    for (at, step) in steps {
        let now = start.add_seconds(at);
        let report = block_on(engine.observe(&observe(&step), now)).unwrap();
        for note in report.notifications {
            let affected: Vec<String> = note.affected.iter().map(|a| a.key.clone()).collect();
            said.push((
                at,
                note.event.metadata.name.clone(),
                note.kind,
                affected,
                note.change,
            ));
        }
    }
    let a = "Kustomization/ns/a".to_owned();
    let b = "Kustomization/ns/b".to_owned();
    assert_eq!(said.len(), 3, "{said:#?}");
    // Held for 30 s: the firing lists `a`, which failed within the wait.
    assert_eq!(
        (said[0].0, said[0].1.as_str(), said[0].2, &said[0].3),
        (30, "repo", NotificationKind::Firing, &vec![a.clone()])
    );
    // `b` joined at 60 s: one update when the interval since the firing ends.
    assert_eq!(
        (said[1].0, said[1].2, &said[1].3),
        (330, NotificationKind::Updated, &vec![a.clone(), b.clone()])
    );
    let change = said[1].4.clone().unwrap();
    assert_eq!((change.joined, change.left), (vec![b.clone()], vec![]));
    // b's flap within the next interval changed nothing announced. Everything recovered at
    // once: the resolution lists no object still failing on its own.
    assert_eq!(said[2].0, 800);
    assert!(matches!(said[2].2, NotificationKind::Resolved(_)));
    assert_eq!(said[2].3, Vec::<String>::new());
}
