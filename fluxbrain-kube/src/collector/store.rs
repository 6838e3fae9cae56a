//! The continuous mode's stores: per cluster and feed, only the trimmed facts (never the
//! `DynamicObject`s; events packed), replaced by mark and sweep on a relist so a relist never
//! holds two copies.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use fluxbrain_core::{ClusterObservation, FluxObject, Kind, Snapshot, UnreadableObject};

use super::error::{ApiFailure, ErrorClass};
use super::facts::PodFacts;
use super::stored_event::StoredEvent;

/// `namespace/name` (neither can contain a `/`), in one allocation.
pub(crate) type Key = Box<str>;

/// The key of `namespace/name`.
pub(crate) fn key(namespace: &str, name: &str) -> Key {
    let mut key = String::with_capacity(namespace.len() + 1 + name.len());
    key.push_str(namespace);
    key.push('/');
    key.push_str(name);
    key.into_boxed_str()
}

/// How a feed is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum FeedHealth {
    /// Started, nothing heard yet.
    #[default]
    Starting,
    /// The last thing heard was a success.
    Ok,
    /// The last thing heard was this failure.
    Failing(ApiFailure),
}

/// The facts of one feed (a kind's objects, the events about a kind, the pods).
#[derive(Debug)]
pub(crate) struct Feed<V> {
    items: HashMap<Key, (V, u32)>,
    /// Objects listed but not parsed, with the epoch that last listed them: neither present
    /// nor gone (an incident of theirs stays open).
    unreadable: HashMap<Key, (UnreadableObject, u32)>,
    /// Bumped by each relist; an item not seen in the current relist is swept at its end.
    epoch: u32,
    /// Whether a complete list has been stored at least once.
    pub synced: bool,
    pub health: FeedHealth,
}

impl<V> Default for Feed<V> {
    fn default() -> Self {
        Feed {
            items: HashMap::new(),
            unreadable: HashMap::new(),
            epoch: 0,
            synced: false,
            health: FeedHealth::Starting,
        }
    }
}

impl<V: Clone> Feed<V> {
    /// A relist begins: items it does not list again will be swept by [`Feed::finish_relist`].
    pub fn begin_relist(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// An object was listed, added or modified; whether its facts changed.
    pub fn upsert(&mut self, key: Key, value: V) -> bool
    where
        V: PartialEq,
    {
        self.unreadable.remove(&key);
        let epoch = self.epoch;
        match self.items.get_mut(&key) {
            Some((old, seen)) => {
                *seen = epoch;
                if *old == value {
                    false
                } else {
                    *old = value;
                    true
                }
            }
            None => {
                self.items.insert(key, (value, epoch));
                true
            }
        }
    }

    /// An object was deleted (or became something fluxbrain does not keep); whether it was
    /// there.
    pub fn remove(&mut self, key: &Key) -> bool {
        let unreadable = self.unreadable.remove(key).is_some();
        self.items.remove(key).is_some() || unreadable
    }

    /// An object was listed, added or modified but could not be parsed: its old facts go, and
    /// it is kept as unreadable (not gone); whether that changed anything.
    pub fn mark_unreadable(&mut self, key: Key, object: UnreadableObject) -> bool {
        let removed = self.items.remove(&key).is_some();
        let old = self.unreadable.insert(key, (object.clone(), self.epoch));
        removed || old.is_none_or(|(old, _)| old != object)
    }

    /// The objects listed but not parsed.
    pub fn unreadable(&self) -> impl Iterator<Item = &UnreadableObject> {
        self.unreadable.values().map(|(u, _)| u)
    }

    /// The relist is complete: sweeps what it did not list. Whether that changed anything
    /// (items gone, the first sync, a recovery): a relist that finds what was known is no
    /// news.
    pub fn finish_relist(&mut self) -> bool {
        let epoch = self.epoch;
        let before = self.items.len() + self.unreadable.len();
        self.items.retain(|_, (_, seen)| *seen == epoch);
        self.unreadable.retain(|_, (_, seen)| *seen == epoch);
        let news = self.items.len() + self.unreadable.len() != before
            || !self.synced
            || self.health != FeedHealth::Ok;
        self.synced = true;
        self.health = FeedHealth::Ok;
        news
    }

    /// The values.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.items.values().map(|(v, _)| v)
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the feed can be trusted for its kind: synced and not forbidden.
    pub fn observed(&self) -> bool {
        self.synced
            && !matches!(&self.health, FeedHealth::Failing(f) if f.class == ErrorClass::Forbidden)
    }
}

/// Everything known about one cluster.
#[derive(Debug, Default)]
pub(crate) struct ClusterStore {
    /// Objects by kind.
    pub objects: BTreeMap<Kind, Feed<Arc<FluxObject>>>,
    /// Events by the kind they are about.
    pub events: BTreeMap<Kind, Feed<StoredEvent>>,
    /// Controller pods.
    pub pods: Feed<PodFacts>,
}

impl ClusterStore {
    /// The current content as an observation: kinds not (yet) readable are `unobserved`, and
    /// their possibly stale objects are left out.
    pub fn observation(&self, cluster: &str) -> (ClusterObservation, Vec<PodFacts>) {
        let mut snapshot = Snapshot::new(cluster);
        let mut unobserved = Vec::new();
        let mut unreadable = Vec::new();
        // Events only ever serve as evidence (and timestamps) of failing objects: copying the
        // others into every observation would only cost time.
        let mut failing = HashSet::new();
        for (kind, feed) in &self.objects {
            if feed.observed() {
                for object in feed.values() {
                    if object.failing_condition().is_some() {
                        let key = &object.key;
                        failing.insert((key.kind.as_str(), &*key.namespace, &*key.name));
                    }
                    snapshot.objects.push(Arc::clone(object));
                }
                unreadable.extend(feed.unreadable().cloned());
            } else {
                unobserved.push(kind.clone());
            }
        }
        for feed in self.events.values() {
            snapshot.events.extend(
                feed.values()
                    .filter(|e| e.is_about(&failing))
                    .filter_map(StoredEvent::event),
            );
        }
        let pods: Vec<PodFacts> = self.pods.values().cloned().collect();
        snapshot.pods = pods.iter().map(|p| p.pod.clone()).collect();
        (
            ClusterObservation {
                snapshot,
                unobserved,
                unreadable,
            },
            pods,
        )
    }

    /// Objects stored, all kinds together.
    pub fn object_count(&self) -> usize {
        self.objects.values().map(Feed::len).sum()
    }

    /// Whether every object feed is failing with a retryable error (the cluster is
    /// unreachable), and the first such failure.
    pub fn unreachable(&self) -> Option<ApiFailure> {
        let mut first = None;
        for feed in self.objects.values() {
            match &feed.health {
                FeedHealth::Failing(f) if f.class == ErrorClass::Retryable => {
                    first.get_or_insert_with(|| f.clone());
                }
                _ => return None,
            }
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        super::key("ns", name)
    }

    #[test]
    fn relist_sweeps_what_it_did_not_see() {
        let mut feed: Feed<u32> = Feed::default();
        feed.begin_relist();
        feed.upsert(key("a"), 1);
        feed.upsert(key("b"), 1);
        feed.finish_relist();
        assert!(feed.synced);
        feed.begin_relist();
        feed.upsert(key("b"), 2);
        // During the relist the old facts stay readable.
        assert_eq!(feed.len(), 2);
        feed.finish_relist();
        let values: Vec<_> = feed.values().copied().collect();
        assert_eq!(values, [2]);
    }

    #[test]
    fn an_unreadable_object_is_neither_kept_nor_gone() {
        let broken = |error: &str| UnreadableObject {
            key: fluxbrain_core::ObjectRef::new(Kind::HelmRelease, "ns", "a"),
            error: error.to_owned(),
        };
        let unreadable = |feed: &Feed<u32>| feed.unreadable().cloned().collect::<Vec<_>>();
        let mut feed: Feed<u32> = Feed::default();
        feed.upsert(key("a"), 1);
        assert!(feed.mark_unreadable(key("a"), broken("x")));
        assert_eq!((feed.len(), unreadable(&feed)), (0, vec![broken("x")]));
        assert!(!feed.mark_unreadable(key("a"), broken("x")), "no news");
        assert!(feed.mark_unreadable(key("a"), broken("y")));
        // A relist that lists it again, still broken, keeps it; one that does not sweeps it.
        feed.begin_relist();
        feed.mark_unreadable(key("a"), broken("y"));
        feed.finish_relist();
        assert_eq!(unreadable(&feed), vec![broken("y")]);
        feed.begin_relist();
        assert!(feed.finish_relist(), "swept: news");
        assert!(unreadable(&feed).is_empty());
        // Readable again, or deleted: no longer unreadable.
        feed.mark_unreadable(key("a"), broken("x"));
        assert!(feed.upsert(key("a"), 2));
        assert!(unreadable(&feed).is_empty());
        feed.mark_unreadable(key("a"), broken("x"));
        assert!(feed.remove(&key("a")));
        assert!(unreadable(&feed).is_empty());
    }
}
