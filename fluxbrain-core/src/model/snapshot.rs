//! A snapshot of one cluster, and the index that joins its parts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::event::KubeEvent;
use super::health::Health;
use super::kind::group_of;
use super::log::LogLine;
use super::object::{FluxObject, Link, ObjectRef};
use super::pod::ControllerPod;

/// Everything observed in one cluster at one moment: objects, events, controller pods and the
/// controller log lines that name objects. Order does not matter anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The cluster's name (configured; Kubernetes objects never carry it).
    pub cluster: String,
    /// Flux objects, shared: a watching collector hands out the same objects collection after
    /// collection without copying them.
    pub objects: Vec<Arc<FluxObject>>,
    /// Events about them (others are ignored).
    pub events: Vec<KubeEvent>,
    /// Controller pods.
    pub pods: Vec<ControllerPod>,
    /// Controller log lines that name objects.
    pub logs: Vec<LogLine>,
}

impl Snapshot {
    /// An empty snapshot of `cluster`.
    pub fn new(cluster: impl Into<String>) -> Self {
        Snapshot {
            cluster: cluster.into(),
            ..Snapshot::default()
        }
    }

    /// Joins objects with their events, log lines and controller pods.
    pub fn index(&self) -> SnapshotIndex<'_> {
        SnapshotIndex::new(self)
    }

    /// Copies of one object that disagree although nothing says which is newer: the same
    /// generation, observed generation and condition times, a different content (two exports
    /// merged, a stale copy in a folder). The index keeps one of them by a fixed rule (the
    /// failing copy first, so a failure is never hidden; then a total order on the content,
    /// so the choice never depends on the input order); each pair is reported here so that
    /// the caller can say so. Identical copies (the same file read twice) are not conflicts.
    pub fn conflicts(&self) -> Vec<Conflict> {
        let mut first: HashMap<&ObjectRef, usize> = HashMap::new();
        let mut out = Vec::new();
        for (i, object) in self.objects.iter().enumerate() {
            let Some(&j) = first.get(&object.key) else {
                first.insert(&object.key, i);
                continue;
            };
            let (a, b) = (&self.objects[j], object);
            if stamp(a) == stamp(b) && a != b {
                let (kept, dropped) = if newer(b, a) { (i, j) } else { (j, i) };
                out.push(Conflict {
                    key: object.key.clone(),
                    kept,
                    dropped,
                });
            }
            if newer(b, a) {
                first.insert(&object.key, i);
            }
        }
        out
    }
}

/// Two copies of one object that disagree with nothing to order them (see
/// [`Snapshot::conflicts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The object.
    pub key: ObjectRef,
    /// The index in [`Snapshot::objects`] of the copy kept.
    pub kept: usize,
    /// The index of the copy set aside.
    pub dropped: usize,
}

/// Lookups over a [`Snapshot`]: objects by key, the events and log lines of each object, the
/// pod of each controller, and the upstream of a failing object.
#[derive(Debug)]
pub struct SnapshotIndex<'s> {
    snapshot: &'s Snapshot,
    objects: HashMap<&'s ObjectRef, &'s FluxObject>,
    events: HashMap<&'s ObjectRef, Vec<&'s KubeEvent>>,
    logs: HashMap<&'s ObjectRef, Vec<&'s LogLine>>,
    pods: HashMap<&'s str, &'s ControllerPod>,
}

impl<'s> SnapshotIndex<'s> {
    fn new(snapshot: &'s Snapshot) -> Self {
        let mut objects: HashMap<&ObjectRef, &FluxObject> =
            HashMap::with_capacity(snapshot.objects.len());
        for object in snapshot.objects.iter().map(Arc::as_ref) {
            objects
                .entry(&object.key)
                .and_modify(|kept| {
                    if newer(object, kept) {
                        *kept = object;
                    }
                })
                .or_insert(object);
        }
        let mut events: HashMap<&ObjectRef, Vec<&KubeEvent>> = HashMap::new();
        for event in &snapshot.events {
            let Some(object) = objects.get(&event.involved) else {
                continue;
            };
            // Recorders always set the involved apiVersion; a hand-written event without one
            // still counts.
            let same_group = event.involved_group.is_empty()
                || event.involved_group == group_of(&object.api_version);
            let same_uid = match (&event.involved_uid, &object.uid) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            };
            if same_group && same_uid {
                events.entry(&object.key).or_default().push(event);
            }
        }
        let mut logs: HashMap<&ObjectRef, Vec<&LogLine>> = HashMap::new();
        for line in &snapshot.logs {
            if let Some(object) = objects.get(&line.object) {
                logs.entry(&object.key).or_default().push(line);
            }
        }
        let mut pods: HashMap<&str, &ControllerPod> = HashMap::new();
        for pod in &snapshot.pods {
            pods.entry(pod.controller.as_str())
                .and_modify(|kept| {
                    if preferred(pod, kept) {
                        *kept = pod;
                    }
                })
                .or_insert(pod);
        }
        SnapshotIndex {
            snapshot,
            objects,
            events,
            logs,
            pods,
        }
    }

    /// The snapshot this index is over.
    pub fn snapshot(&self) -> &'s Snapshot {
        self.snapshot
    }

    /// The object with this key (when the input held it twice, the newer copy).
    pub fn object(&self, key: &ObjectRef) -> Option<&'s FluxObject> {
        self.objects.get(key).copied()
    }

    /// Every distinct object, sorted by namespace, kind and name.
    pub fn objects(&self) -> Vec<&'s FluxObject> {
        let mut all: Vec<&FluxObject> = self.objects.values().copied().collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    /// The events about `key`, in no particular order.
    pub fn events(&self, key: &ObjectRef) -> &[&'s KubeEvent] {
        self.events.get(key).map_or(&[], Vec::as_slice)
    }

    /// The log lines naming `key`, in no particular order.
    pub fn logs(&self, key: &ObjectRef) -> &[&'s LogLine] {
        self.logs.get(key).map_or(&[], Vec::as_slice)
    }

    /// The pod of `controller`: a running one before others, then the newest, then by name.
    pub fn pod(&self, controller: &str) -> Option<&'s ControllerPod> {
        self.pods.get(controller).copied()
    }

    /// The first declared link of `object` whose target is itself failing, in [`crate::LinkVia`]
    /// order (sources before dependencies).
    pub fn upstream<'a>(&self, object: &'a FluxObject) -> Option<(&'a Link, &'s FluxObject)> {
        self.failing_link(object)
    }

    fn failing_link<'a>(&self, object: &'a FluxObject) -> Option<(&'a Link, &'s FluxObject)> {
        object.links.iter().find_map(|link| {
            let target = self.object(&link.target)?;
            (target.health() == Health::Failing && target.key != object.key)
                .then_some((link, target))
        })
    }

    /// The root of the chain of failing upstreams of `object`: the failing object that has no
    /// failing upstream itself. `None` when `object` has no failing upstream. Cycles in
    /// `dependsOn` end the walk at the first repeated object.
    pub fn root(&self, object: &FluxObject) -> Option<&'s FluxObject> {
        let (_, mut current) = self.upstream(object)?;
        let mut seen = HashSet::from([&object.key, &current.key]);
        while let Some((_, next)) = self.failing_link(current) {
            if !seen.insert(&next.key) {
                break;
            }
            current = next;
        }
        Some(current)
    }
}

/// What orders copies of one object: generation, observed generation, latest condition time.
type Stamp = (Option<i64>, Option<i64>, Option<jiff::Timestamp>);

fn stamp(o: &FluxObject) -> Stamp {
    (
        o.generation,
        o.observed_generation,
        o.conditions
            .iter()
            .filter_map(|c| c.last_transition_time)
            .max(),
    )
}

/// Whether `a` is a newer copy of the same object than `b`; a total order so that duplicates
/// resolve the same way whatever the input order. Between copies that nothing orders, the
/// failing one wins (a failure is never hidden), then the larger content.
fn newer(a: &FluxObject, b: &FluxObject) -> bool {
    let failing = |o: &FluxObject| o.health() == Health::Failing;
    match stamp(a)
        .cmp(&stamp(b))
        .then_with(|| failing(a).cmp(&failing(b)))
    {
        std::cmp::Ordering::Equal => format!("{a:?}") > format!("{b:?}"),
        ordering => ordering.is_gt(),
    }
}

/// Whether pod `a` is a better source of controller facts than `b`.
fn preferred(a: &ControllerPod, b: &ControllerPod) -> bool {
    (a.running, a.created, &a.name) > (b.running, b.created, &b.name)
}
