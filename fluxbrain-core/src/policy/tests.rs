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
    })]
}

const REMIND: i64 = 4 * 3600;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn notification_laws(
        steps in prop::collection::vec((prop::array::uniform4(shown()), 0i64..3 * 3600), 1..25),
    ) {
        let engine = block_on(Engine::start(Arc::new(MemoryStore::new()), vec![], None, EngineConfig::default())).unwrap();
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
