//! Watch streams: newline-delimited `{"type": ..., "object": ...}` events from a resourceVersion.
//!
//! Semantics follow the API server: no version (or `0`) starts with synthetic ADDED events for
//! what exists; a version replays the retained changes after it, then live ones; a version older
//! than the retained history gets one `ERROR` event holding a `410 Expired` Status. A change that
//! moves an object into or out of the selectors is seen as ADDED or DELETED. Bookmarks carry the
//! latest version the stream has passed; `timeoutSeconds` ends the stream cleanly; a dropped
//! stream ends without the final chunk, as a broken connection does; a stalled one stays open
//! and silent until the client gives up.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::Simulator;
use super::media::Want;
use super::resources::{ResId, Resources, api_version};
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Change, ChangeType, key_of, present};
use super::table::{self, Include};

/// A parsed watch request.
#[derive(Debug, Clone)]
pub(crate) struct WatchSpec {
    pub res: ResId,
    pub version: String,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub resource_version: Option<String>,
    pub bookmarks: bool,
    pub send_initial: bool,
    pub timeout: Option<Duration>,
    pub want: Want,
    pub include: Include,
}

/// A chunk of the response body.
pub(crate) type Chunk = Result<Bytes, io::Error>;

struct Filter {
    resources: Resources,
    spec: WatchSpec,
    storage: ResId,
}

impl Filter {
    fn matches(&self, obj: &Value) -> bool {
        let ns_ok = self
            .spec
            .namespace
            .as_deref()
            .is_none_or(|ns| key_of(obj).0 == ns);
        ns_ok && self.spec.labels.matches(obj) && self.spec.fields.matches(obj)
    }

    /// The event a change is for this watch, if any.
    fn translate(&self, change: &Change) -> Option<(&'static str, Arc<Value>)> {
        if change.res != self.storage {
            return None;
        }
        let now = self.matches(&change.object);
        let before = change.prev.as_deref().is_some_and(|p| self.matches(p));
        let kind = match change.kind {
            ChangeType::Added if now => "ADDED",
            ChangeType::Modified if now && before => "MODIFIED",
            ChangeType::Modified if now => "ADDED",
            ChangeType::Modified if before => "DELETED",
            ChangeType::Deleted if now => "DELETED",
            _ => return None,
        };
        Some((kind, Arc::clone(&change.object)))
    }

    fn encode(&self, kind: &str, stored: &Arc<Value>, now: Timestamp) -> Bytes {
        let obj = present(&self.resources, self.spec.res, &self.spec.version, stored);
        let r = self.resources.get(self.spec.res);
        let object = match self.spec.want {
            Want::Table => {
                let rv = obj
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(Value::Null);
                let row = table::row(self.storage, r, &obj, now, self.spec.include);
                table::table(self.storage, r, vec![row], json!({"resourceVersion": rv}))
            }
            Want::Metadata => table::partial(&obj),
            _ => (*obj).clone(),
        };
        line(&json!({"type": kind, "object": object}))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let r = self.resources.get(self.spec.res);
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({"kind": r.kind, "apiVersion": api_version(&r.group, &self.spec.version), "metadata": meta});
        line(&json!({"type": "BOOKMARK", "object": object}))
    }
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The ERROR event for an expired version.
pub(crate) fn expired_event(message: &str) -> Bytes {
    line(&json!({"type": "ERROR", "object": ApiError::gone(message).to_status()}))
}

/// Opens a watch; the receiver yields the body chunks.
pub(crate) fn start(sim: &Simulator, spec: WatchSpec) -> Result<mpsc::Receiver<Chunk>, ApiError> {
    let (tx, rx) = mpsc::channel::<Chunk>(256);
    let core = sim.core();
    let store = &core.store;
    let storage = store.storage_of(spec.res);
    let filter = Filter {
        resources: store.resources.clone(),
        spec: spec.clone(),
        storage,
    };
    let now = core.clock.now();
    let mut first: Vec<Bytes> = Vec::new();
    let from = match spec.resource_version.as_deref() {
        None | Some("" | "0") => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {v:?}")))?,
        ),
    };
    let start_rv;
    match from {
        Some(from) if !spec.send_initial => {
            let Some(changes) = store.since(from) else {
                let message = format!("too old resource version: {from} ({})", store.floor());
                drop(core);
                let _ = tx.try_send(Ok(expired_event(&message)));
                return Ok(rx);
            };
            for change in changes {
                if let Some((kind, obj)) = filter.translate(change) {
                    first.push(filter.encode(kind, &obj, now));
                }
            }
            start_rv = store.rv();
        }
        _ => {
            let ns = spec.namespace.as_deref();
            for (_, obj) in store.range(storage, ns, None) {
                if filter.matches(obj) {
                    first.push(filter.encode("ADDED", obj, now));
                }
            }
            start_rv = store.rv();
            if spec.send_initial && spec.bookmarks {
                first.push(filter.bookmark(start_rv, true));
            }
        }
    }
    let changes = store.subscribe();
    let drop_after = core.faults.watch_drop_after;
    drop(core);
    let kill = sim.kill_signal();
    let stall = sim.stall_signal();
    let config = sim.config();
    let timeout = spec
        .timeout
        .unwrap_or(config.max_watch)
        .min(config.max_watch);
    let bookmark_every = config.bookmark_interval;
    let sim = sim.clone();
    tokio::spawn(async move {
        let run = Stream {
            filter,
            tx,
            changes,
            kill,
            stall,
            last_rv: start_rv,
            sim,
        };
        run.run(first, timeout, drop_after, bookmark_every).await;
    });
    Ok(rx)
}

struct Stream {
    filter: Filter,
    tx: mpsc::Sender<Chunk>,
    changes: broadcast::Receiver<Arc<Change>>,
    kill: tokio::sync::watch::Receiver<u64>,
    stall: tokio::sync::watch::Receiver<u64>,
    last_rv: u64,
    sim: Simulator,
}

impl Stream {
    async fn run(
        mut self,
        first: Vec<Bytes>,
        timeout: Duration,
        drop_after: Option<Duration>,
        bookmark_every: Duration,
    ) {
        for chunk in first {
            if self.tx.send(Ok(chunk)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let drop_at = tokio::time::sleep(drop_after.unwrap_or(Duration::MAX / 4));
        tokio::pin!(drop_at);
        let start = tokio::time::Instant::now() + bookmark_every;
        let mut bookmarks =
            tokio::time::interval_at(start, bookmark_every.max(Duration::from_millis(10)));
        self.kill.mark_unchanged();
        self.stall.mark_unchanged();
        loop {
            tokio::select! {
                biased;
                _ = self.kill.changed() => {
                    let _ = self.tx.send(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "watch dropped"))).await;
                    return;
                }
                () = &mut drop_at, if drop_after.is_some() => {
                    let _ = self.tx.send(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "watch dropped"))).await;
                    return;
                }
                _ = self.stall.changed() => {
                    // Silent: no timeout, no bookmark, only the client (or a drop) ends it.
                    tokio::select! {
                        _ = self.kill.changed() => {
                            let _ = self.tx.send(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "watch dropped"))).await;
                        }
                        () = self.tx.closed() => {}
                    }
                    return;
                }
                () = &mut deadline => return,
                () = self.tx.closed() => return,
                got = self.changes.recv() => match got {
                    Ok(change) => {
                        self.last_rv = change.rv;
                        if let Some((kind, obj)) = self.filter.translate(&change) {
                            let now = self.sim.now();
                            if self.tx.send(Ok(self.filter.encode(kind, &obj, now))).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let message = format!("too old resource version: {} (the watch fell behind)", self.last_rv);
                        let _ = self.tx.send(Ok(expired_event(&message))).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = bookmarks.tick(), if self.filter.spec.bookmarks => {
                    if self.tx.send(Ok(self.filter.bookmark(self.last_rv, false))).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
