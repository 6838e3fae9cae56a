//! Object storage with resourceVersions, a bounded change history and write semantics.
//!
//! One global, monotonic resourceVersion, like etcd's revision: every write bumps it and stamps
//! the object; a list carries the version it was read at. The history keeps the last
//! `history_limit` changes; a watch or continue token older than the oldest retained change
//! gets `410 Gone`, so a client must relist.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::events;
use super::patch::{self, PatchType};
use super::resources::{
    EVENTS, EVENTS_V1, NAMESPACES, ResId, Resource, Resources, View, api_version,
};
use super::status::{self, ApiError};

/// `(namespace, name)`; namespace is empty for cluster-scoped objects.
pub(crate) type ObjKey = (String, String);

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed change.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    /// Storage resource.
    pub res: ResId,
    pub kind: ChangeType,
    pub object: Arc<Value>,
    /// The object before a modification (for selector transitions).
    pub prev: Option<Arc<Value>>,
}

/// The object store.
#[derive(Debug)]
pub(crate) struct Store {
    pub resources: Resources,
    objects: Vec<BTreeMap<ObjKey, Arc<Value>>>,
    rv: u64,
    floor: u64,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    tx: broadcast::Sender<Arc<Change>>,
    rng: SplitMix,
}

/// A write's options from the query string.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriteOpts {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// The write targets the `status` subresource.
    pub status: bool,
}

impl Store {
    /// An empty store for the given resources.
    pub fn new(resources: Resources, history_limit: usize, channel: usize, seed: u64) -> Self {
        let (tx, _) = broadcast::channel(channel.max(16));
        let objects = vec![BTreeMap::new(); resources.all().len()];
        Self {
            resources,
            objects,
            rv: 0,
            floor: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            tx,
            rng: SplitMix(seed),
        }
    }

    /// Sets the starting resourceVersion (before any object is loaded).
    pub fn start_at(&mut self, rv: u64) {
        self.rv = rv;
        self.floor = rv;
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// The oldest resourceVersion a watch may start from.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// A receiver of every change committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    /// Drops the whole history: every older resourceVersion is now expired.
    pub fn compact(&mut self) {
        self.history.clear();
        self.floor = self.rv;
    }

    /// Changes after `from`, or `None` if `from` is older than the retained history.
    pub fn since(&self, from: u64) -> Option<impl Iterator<Item = &Arc<Change>>> {
        (from >= self.floor).then(|| self.history.iter().filter(move |c| c.rv > from))
    }

    /// One object (storage resource).
    pub fn get(&self, res: ResId, ns: &str, name: &str) -> Option<&Arc<Value>> {
        self.objects
            .get(res)?
            .get(&(ns.to_string(), name.to_string()))
    }

    /// Objects of a storage resource in key order, optionally in one namespace, after a key.
    pub fn range<'a>(
        &'a self,
        res: ResId,
        ns: Option<&'a str>,
        after: Option<ObjKey>,
    ) -> impl Iterator<Item = (&'a ObjKey, &'a Arc<Value>)> + 'a {
        let start = match (&after, ns) {
            (Some(key), _) => Bound::Excluded(key.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        self.objects
            .get(res)
            .into_iter()
            .flat_map(move |m| m.range((start.clone(), Bound::Unbounded)))
            .take_while(move |(k, _)| ns.is_none_or(|ns| k.0 == ns))
    }

    /// Whether a namespace exists.
    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.get(NAMESPACES, "", ns).is_some()
    }

    /// Loads an object as initial state: stamps uid (when missing) and a fresh resourceVersion,
    /// records no change.
    pub fn load(&mut self, res: ResId, mut obj: Value) {
        let res = self.resources.get(res).storage;
        if res == EVENTS
            && obj.get("apiVersion").and_then(Value::as_str) == Some("events.k8s.io/v1")
        {
            obj = events::to_core(&obj);
        }
        self.rv += 1;
        self.floor = self.rv;
        let uid = self.uid();
        let meta = meta_mut(&mut obj);
        meta.entry("uid").or_insert(Value::String(uid));
        meta.insert(
            "resourceVersion".to_string(),
            Value::String(self.rv.to_string()),
        );
        let key = key_of(&obj);
        if let Some(map) = self.objects.get_mut(res) {
            map.insert(key, Arc::new(obj));
        }
    }

    /// The object as served by resource `res` at `version` (events.k8s.io conversion, apiVersion).
    pub fn present(&self, res: ResId, version: &str, obj: &Arc<Value>) -> Arc<Value> {
        present(&self.resources, res, version, obj)
    }

    /// Creates an object (POST).
    pub fn create(
        &mut self,
        res: ResId,
        version: &str,
        ns: Option<&str>,
        body: Value,
        now: Timestamp,
        opts: WriteOpts,
    ) -> Result<Arc<Value>, ApiError> {
        let r = self.resources.get(res).clone();
        let mut obj = self.normalize(&r, version, body)?;
        let meta = meta_mut(&mut obj);
        if meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
        {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let ns = check_namespace(&r, meta, ns)?;
        let name = match meta
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(name) => name.to_string(),
            None => match meta.get("generateName").and_then(Value::as_str) {
                Some(prefix) => format!("{prefix}{}", self.suffix()),
                None => {
                    return Err(ApiError::invalid(
                        &r.group,
                        &r.kind,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
            },
        };
        if !ns.is_empty() && !self.namespace_exists(&ns) {
            return Err(ApiError::not_found("", "namespaces", &ns));
        }
        let storage = r.storage;
        if self.get(storage, &ns, &name).is_some() {
            return Err(ApiError::already_exists(&r.group, &r.plural, &name));
        }
        let uid = self.uid();
        let meta = meta_mut(&mut obj);
        meta.insert("name".to_string(), Value::String(name.clone()));
        if r.namespaced {
            meta.insert("namespace".to_string(), Value::String(ns.clone()));
        }
        meta.insert("uid".to_string(), Value::String(uid));
        meta.insert("creationTimestamp".to_string(), Value::String(rfc3339(now)));
        if r.generation {
            meta.insert("generation".to_string(), json!(1));
        }
        meta.remove("deletionTimestamp");
        if r.status_subresource
            && let Some(map) = obj.as_object_mut()
        {
            // Status is written through its subresource only, as on the API server.
            map.remove("status");
        }
        if opts.dry_run {
            return Ok(Arc::new(obj));
        }
        Ok(self.commit(storage, ChangeType::Added, obj, None))
    }

    /// Replaces an object (PUT), honouring `resourceVersion` (optimistic concurrency).
    pub fn update(
        &mut self,
        res: ResId,
        version: &str,
        ns: &str,
        name: &str,
        body: Value,
        opts: WriteOpts,
    ) -> Result<Arc<Value>, ApiError> {
        let r = self.resources.get(res).clone();
        let body = self.normalize(&r, version, body)?;
        let old = self
            .get(r.storage, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&r.group, &r.plural, name))?;
        let body_meta = body.get("metadata").cloned().unwrap_or(Value::Null);
        match body_meta.get("name").and_then(Value::as_str) {
            Some(n) if n != name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            _ => {}
        }
        if let Some(n) = body_meta
            .get("namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            && n != ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        match body_meta
            .get("resourceVersion")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
        {
            Some(rv)
                if Some(rv)
                    != old
                        .pointer("/metadata/resourceVersion")
                        .and_then(Value::as_str) =>
            {
                return Err(ApiError::conflict(&r.group, &r.plural, name));
            }
            Some(_) => {}
            None if r.custom => {
                return Err(ApiError::invalid(
                    &r.group,
                    &r.kind,
                    name,
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                ));
            }
            None => {}
        }
        self.replace(&r, ns, name, old, body, opts)
    }

    /// Patches an object (PATCH).
    #[allow(
        clippy::too_many_arguments,
        reason = "the REST call's parts: resource, version, namespace, name, body, options"
    )]
    pub fn patch(
        &mut self,
        res: ResId,
        version: &str,
        ns: &str,
        name: &str,
        kind: PatchType,
        doc: &Value,
        opts: WriteOpts,
    ) -> Result<Arc<Value>, ApiError> {
        let r = self.resources.get(res).clone();
        if kind == PatchType::Strategic && r.custom {
            return Err(ApiError::unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let old = self
            .get(r.storage, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&r.group, &r.plural, name))?;
        let current = self.present(res, version, &old);
        let patched = patch::apply(kind, &current, doc).map_err(ApiError::bad_request)?;
        if !patched.is_object() {
            return Err(ApiError::bad_request("the patch did not produce an object"));
        }
        let want_rv = patched
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        let have_rv = old
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if want_rv.is_some_and(|v| !v.is_empty()) && want_rv != have_rv {
            return Err(ApiError::conflict(&r.group, &r.plural, name));
        }
        for field in ["name", "namespace"] {
            if patched.pointer(&format!("/metadata/{field}"))
                != old.pointer(&format!("/metadata/{field}"))
            {
                return Err(ApiError::bad_request(format!(
                    "metadata.{field} cannot be changed by a patch"
                )));
            }
        }
        let body = self.normalize(&r, version, patched)?;
        self.replace(&r, ns, name, old, body, opts)
    }

    /// Deletes an object. Returns the response body (the object, or a success `Status`).
    ///
    /// An object with finalizers first gets `deletionTimestamp` (a MODIFIED change), then the
    /// simulator acts as the finalizing controller and removes it at once (DELETED).
    #[allow(
        clippy::too_many_arguments,
        reason = "the REST call's parts: resource, version, namespace, name, body, options"
    )]
    pub fn delete(
        &mut self,
        res: ResId,
        version: &str,
        ns: &str,
        name: &str,
        options: &Value,
        now: Timestamp,
        opts: WriteOpts,
    ) -> Result<Value, ApiError> {
        let r = self.resources.get(res).clone();
        let old = self
            .get(r.storage, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&r.group, &r.plural, name))?;
        let pre = |field: &str| {
            options
                .pointer(&format!("/preconditions/{field}"))
                .and_then(Value::as_str)
        };
        for (field, label, pointer) in [
            ("uid", "UID", "/metadata/uid"),
            (
                "resourceVersion",
                "ResourceVersion",
                "/metadata/resourceVersion",
            ),
        ] {
            if let Some(want) = pre(field) {
                let have = old
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if want != have {
                    return Err(ApiError::precondition(
                        &r.group,
                        &r.plural,
                        name,
                        format!(
                            "Precondition failed: {label} in precondition: {want}, {label} in object meta: {have}"
                        ),
                    ));
                }
            }
        }
        let finalizers = old
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        let mut last = (*old).clone();
        if finalizers {
            let meta = meta_mut(&mut last);
            meta.insert("deletionTimestamp".to_string(), Value::String(rfc3339(now)));
            meta.insert("deletionGracePeriodSeconds".to_string(), json!(0));
        }
        if opts.dry_run {
            return Ok((*self.present(res, version, &Arc::new(last))).clone());
        }
        let answer = if finalizers {
            let marked = self.commit(r.storage, ChangeType::Modified, last.clone(), Some(old));
            meta_mut(&mut last).remove("finalizers");
            let gone = self.commit(
                r.storage,
                ChangeType::Deleted,
                last,
                Some(Arc::clone(&marked)),
            );
            drop(gone);
            marked
        } else {
            self.commit(r.storage, ChangeType::Deleted, last, Some(old))
        };
        if r.custom || finalizers {
            Ok((*self.present(res, version, &answer)).clone())
        } else {
            let uid = answer
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Ok(status::success(&r.group, &r.plural, name, uid))
        }
    }

    /// Writes an already validated update: keeps server-owned metadata, splits spec and status
    /// by subresource, bumps generation on spec changes, and skips no-op writes.
    fn replace(
        &mut self,
        r: &Resource,
        ns: &str,
        name: &str,
        old: Arc<Value>,
        body: Value,
        opts: WriteOpts,
    ) -> Result<Arc<Value>, ApiError> {
        let mut new = if opts.status {
            let mut new = (*old).clone();
            if let Some(map) = new.as_object_mut() {
                match body.get("status") {
                    Some(status) => map.insert("status".to_string(), status.clone()),
                    None => map.remove("status"),
                };
            }
            new
        } else {
            let mut new = body;
            if r.status_subresource
                && let Some(map) = new.as_object_mut()
            {
                match old.get("status") {
                    Some(status) => map.insert("status".to_string(), status.clone()),
                    None => map.remove("status"),
                };
            }
            new
        };
        let old_meta = old.get("metadata").cloned().unwrap_or(Value::Null);
        let meta = meta_mut(&mut new);
        meta.insert("name".to_string(), Value::String(name.to_string()));
        if r.namespaced {
            meta.insert("namespace".to_string(), Value::String(ns.to_string()));
        }
        for field in [
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
        ] {
            match old_meta.get(field) {
                Some(v) => meta.insert(field.to_string(), v.clone()),
                None => meta.remove(field),
            };
        }
        if r.generation && spec_changed(&old, &new) {
            let generation = old_meta
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            meta_mut(&mut new).insert("generation".to_string(), json!(generation));
        }
        if new == *old {
            return Ok(old);
        }
        if opts.dry_run {
            return Ok(Arc::new(new));
        }
        Ok(self.commit(r.storage, ChangeType::Modified, new, Some(old)))
    }

    /// Checks kind and apiVersion against the resource and converts to the storage form.
    fn normalize(&self, r: &Resource, version: &str, body: Value) -> Result<Value, ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the request body must be a JSON object",
            ));
        }
        let gv = api_version(&r.group, version);
        match body.get("apiVersion").and_then(Value::as_str) {
            Some(v) if v != gv => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({gv})"
                )));
            }
            _ => {}
        }
        match body.get("kind").and_then(Value::as_str) {
            Some(k) if k != r.kind => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    r.kind
                )));
            }
            _ => {}
        }
        let mut obj = body;
        if let Some(map) = obj.as_object_mut() {
            map.insert("apiVersion".to_string(), Value::String(gv));
            map.insert("kind".to_string(), Value::String(r.kind.clone()));
        }
        if r.view == View::EventsV1 {
            obj = events::to_core(&obj);
        }
        Ok(obj)
    }

    /// Bumps the resourceVersion, stamps it, stores the object and records the change.
    fn commit(
        &mut self,
        res: ResId,
        kind: ChangeType,
        mut obj: Value,
        prev: Option<Arc<Value>>,
    ) -> Arc<Value> {
        self.rv += 1;
        meta_mut(&mut obj).insert(
            "resourceVersion".to_string(),
            Value::String(self.rv.to_string()),
        );
        let obj = Arc::new(obj);
        let key = key_of(&obj);
        if let Some(map) = self.objects.get_mut(res) {
            if kind == ChangeType::Deleted {
                map.remove(&key);
            } else {
                map.insert(key, Arc::clone(&obj));
            }
        }
        let change = Arc::new(Change {
            rv: self.rv,
            res,
            kind,
            object: Arc::clone(&obj),
            prev,
        });
        self.history.push_back(Arc::clone(&change));
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.floor = old.rv;
            }
        }
        // No receiver is fine: nobody watches.
        let _ = self.tx.send(change);
        obj
    }

    /// A random-looking but seeded UID (UUID v4 layout).
    fn uid(&mut self) -> String {
        let a = self.rng.next();
        let b = self.rng.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// Five characters for `generateName`, from the API server's alphabet.
    fn suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut n = self.rng.next();
        (0..5)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    /// The resource used for events of both APIs (for callers that hold a served id).
    pub fn storage_of(&self, res: ResId) -> ResId {
        if res == EVENTS_V1 {
            EVENTS
        } else {
            self.resources.get(res).storage
        }
    }
}

/// The stored object as served by resource `res` at `version`.
pub(crate) fn present(
    resources: &Resources,
    res: ResId,
    version: &str,
    obj: &Arc<Value>,
) -> Arc<Value> {
    let r = resources.get(res);
    if r.view == View::EventsV1 {
        return Arc::new(events::to_events_v1(obj));
    }
    let gv = api_version(&r.group, version);
    if obj.get("apiVersion").and_then(Value::as_str) == Some(gv.as_str()) {
        return Arc::clone(obj);
    }
    let mut out = (**obj).clone();
    if let Some(map) = out.as_object_mut() {
        map.insert("apiVersion".to_string(), Value::String(gv));
    }
    Arc::new(out)
}

/// A seeded pseudo-random generator (SplitMix64): reproducible UIDs and fault draws.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A draw in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// RFC 3339 UTC with whole seconds, as the API server writes timestamps.
pub(crate) fn rfc3339(t: Timestamp) -> String {
    Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string()
}

/// The store key of an object.
pub(crate) fn key_of(obj: &Value) -> ObjKey {
    let get = |f: &str| {
        obj.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (get("namespace"), get("name"))
}

/// `metadata` as a mutable map, created if missing or not a map.
pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let Value::Object(map) = obj else {
        unreachable!("made an object just above")
    };
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    let Value::Object(meta) = meta else {
        unreachable!("made an object just above")
    };
    meta
}

fn check_namespace(
    r: &Resource,
    meta: &Map<String, Value>,
    url_ns: Option<&str>,
) -> Result<String, ApiError> {
    let body_ns = meta
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty());
    if !r.namespaced {
        return Ok(String::new());
    }
    match (url_ns, body_ns) {
        (None, _) => Err(ApiError::method_not_allowed()),
        (Some(u), Some(b)) if u != b => Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )),
        (Some(u), _) => Ok(u.to_string()),
    }
}

/// Whether anything but `metadata` and `status` differs (what bumps a custom resource's generation).
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Map<String, Value> {
        let mut map = v.as_object().cloned().unwrap_or_default();
        for k in ["metadata", "status", "apiVersion", "kind"] {
            map.remove(k);
        }
        map
    };
    strip(old) != strip(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{CONFIGMAPS, FLUX_KINDS};

    fn store() -> Store {
        let ks = (&FLUX_KINDS[0], ["v1".to_string()].into());
        let mut store = Store::new(Resources::new(&[ks]), 100, 64, 1);
        store.start_at(100);
        store.load(
            NAMESPACES,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}),
        );
        store
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_776_763_800).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn update_with_stale_version_conflicts() {
        let mut s = store();
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "1"}});
        let created = s.create(
            CONFIGMAPS,
            "v1",
            Some("ns"),
            cm,
            now(),
            WriteOpts::default(),
        );
        let Ok(created) = created else {
            panic!("create: {created:?}")
        };
        assert_eq!(created["metadata"]["resourceVersion"], "102");
        let mut stale = (*created).clone();
        stale["data"]["k"] = json!("2");
        let first = s.update(
            CONFIGMAPS,
            "v1",
            "ns",
            "a",
            stale.clone(),
            WriteOpts::default(),
        );
        assert!(first.is_ok());
        let second = s.update(CONFIGMAPS, "v1", "ns", "a", stale, WriteOpts::default());
        assert_eq!(second.map_err(|e| e.code), Err(409));
    }

    #[test]
    fn spec_changes_bump_generation_status_changes_do_not() {
        let mut s = store();
        let ks_id = 6;
        let ks = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                        "metadata": {"name": "k", "namespace": "ns"}, "spec": {"path": "./a"}});
        let created = s.create(ks_id, "v1", Some("ns"), ks, now(), WriteOpts::default());
        let Ok(created) = created else {
            panic!("create: {created:?}")
        };
        assert_eq!(created["metadata"]["generation"], 1);
        let status = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let opts = WriteOpts {
            status: true,
            ..WriteOpts::default()
        };
        let patched = s.patch(ks_id, "v1", "ns", "k", PatchType::Merge, &status, opts);
        let Ok(patched) = patched else {
            panic!("patch: {patched:?}")
        };
        assert_eq!(patched["metadata"]["generation"], 1);
        assert_eq!(patched["status"]["conditions"][0]["status"], "True");
        let spec = json!({"spec": {"path": "./b"}, "status": null});
        let patched = s.patch(
            ks_id,
            "v1",
            "ns",
            "k",
            PatchType::Merge,
            &spec,
            WriteOpts::default(),
        );
        let Ok(patched) = patched else {
            panic!("patch: {patched:?}")
        };
        assert_eq!(patched["metadata"]["generation"], 2);
        // The main resource does not write status.
        assert_eq!(patched["status"]["conditions"][0]["status"], "True");
        let strategic = s.patch(
            ks_id,
            "v1",
            "ns",
            "k",
            PatchType::Strategic,
            &spec,
            WriteOpts::default(),
        );
        assert_eq!(strategic.map_err(|e| e.code), Err(415));
    }

    #[test]
    fn history_expires_old_versions() {
        let mut s = Store::new(Resources::new(&[]), 2, 64, 1);
        s.load(
            NAMESPACES,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}),
        );
        let start = s.rv();
        for i in 0..4 {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}")}});
            assert!(
                s.create(
                    CONFIGMAPS,
                    "v1",
                    Some("ns"),
                    cm,
                    now(),
                    WriteOpts::default()
                )
                .is_ok()
            );
        }
        assert!(s.since(start).is_none());
        assert_eq!(s.since(s.rv() - 2).map(Iterator::count), Some(2));
        s.compact();
        assert!(s.since(s.rv() - 1).is_none());
        assert_eq!(s.since(s.rv()).map(Iterator::count), Some(0));
    }

    #[test]
    fn delete_with_finalizers_marks_then_removes() {
        let mut s = store();
        let mut rx = s.subscribe();
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "finalizers": ["x"]}});
        assert!(
            s.create(
                CONFIGMAPS,
                "v1",
                Some("ns"),
                cm,
                now(),
                WriteOpts::default()
            )
            .is_ok()
        );
        let deleted = s.delete(
            CONFIGMAPS,
            "v1",
            "ns",
            "a",
            &Value::Null,
            now(),
            WriteOpts::default(),
        );
        let Ok(deleted) = deleted else {
            panic!("delete: {deleted:?}")
        };
        assert!(deleted["metadata"]["deletionTimestamp"].is_string());
        let kinds: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|c| c.kind)
            .collect();
        assert_eq!(
            kinds,
            [ChangeType::Added, ChangeType::Modified, ChangeType::Deleted]
        );
        assert!(s.get(CONFIGMAPS, "ns", "a").is_none());
    }
}
