//! Realistic notifications from the repository's fixture cluster, log capture, schemas, and
//! one delivery round through the engine's outbox.

// Each topic module uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use fluxbrain_core::engine::{Delivery, OutboxEntry};
use fluxbrain_core::{
    AffectedObject, Analysis, Analyzer, BuildOptions, DeliverReport, Document, Engine,
    EngineConfig, ErrorEvent, Fingerprint, FingerprintInput, MemoryStore, Notification,
    NotificationKind, Notifier, Snapshot, State, StateStore, Time, build_all, parse_document,
    parse_log_line,
};
use serde::Deserialize;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every ErrorEvent of `examples/clusters/basic`, cluster `prod`.
pub fn events() -> &'static [ErrorEvent] {
    static EVENTS: OnceLock<Vec<ErrorEvent>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let dir = repo().join("examples/clusters/basic");
        let mut snapshot = Snapshot::new("prod");
        let mut warnings = Vec::new();
        for file in ["objects.yaml", "events.yaml", "pods.yaml"] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            for document in serde_yaml_ng::Deserializer::from_str(&text) {
                let value = serde_json::Value::deserialize(document).unwrap();
                if value.is_null() {
                    continue;
                }
                for doc in parse_document(&value, &mut warnings) {
                    match doc {
                        Ok(Document::Object(o)) => snapshot.objects.push(o.into()),
                        Ok(Document::Event(e)) => snapshot.events.push(e),
                        Ok(Document::Pod(p)) => snapshot.pods.push(p),
                        _ => {}
                    }
                }
            }
        }
        let mut logs: Vec<PathBuf> = std::fs::read_dir(dir.join("logs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        logs.sort();
        for path in logs {
            let pod = path.file_stem().unwrap().to_str().unwrap().to_owned();
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if let Ok(Some(l)) = parse_log_line(line, &pod, "manager") {
                    snapshot.logs.push(l);
                }
            }
        }
        let options = BuildOptions {
            now: Some(now()),
            ..BuildOptions::default()
        };
        build_all(&snapshot, &options)
    })
}

pub fn now() -> Time {
    Time::parse("2026-04-21T09:30:00Z").unwrap()
}

/// A failing Kustomization whose declared source is observed (the richest message).
pub fn event() -> ErrorEvent {
    events()
        .iter()
        .find(|e| e.metadata.kind == "Kustomization" && e.metadata.source.is_some())
        .cloned()
        .expect("the fixture cluster has a failing Kustomization with a source")
}

/// Another failing object (for bursts and dedupe tests).
pub fn events_of_kind(kind: &str) -> Vec<ErrorEvent> {
    events()
        .iter()
        .filter(|e| e.metadata.kind == kind)
        .cloned()
        .collect()
}

pub fn note_for(event: ErrorEvent, kind: NotificationKind, occurrence: u32) -> Notification {
    Notification {
        id: Notification::id_for(&event.id, kind, occurrence),
        kind,
        incident_id: event.id.clone(),
        occurrence,
        at: now(),
        event,
        affected: Vec::new(),
        change: None,
        acknowledged: None,
        analysis: None,
    }
}

pub fn note(kind: NotificationKind, occurrence: u32) -> Notification {
    note_for(event(), kind, occurrence)
}

pub fn affected() -> Vec<AffectedObject> {
    let fp = |name: &str| {
        Fingerprint::of(&FingerprintInput {
            cluster: "prod",
            namespace: "shop",
            kind: "HelmRelease",
            name,
            reason: "DependencyNotReady",
            revision: "",
        })
    };
    vec![
        AffectedObject {
            key: "HelmRelease/shop/cart".into(),
            reason: "DependencyNotReady".into(),
            fingerprint: fp("cart"),
        },
        AffectedObject {
            key: "HelmRelease/shop/storefront".into(),
            reason: "DependencyNotReady".into(),
            fingerprint: fp("storefront"),
        },
    ]
}

pub fn verdict_example() -> serde_json::Value {
    let text = std::fs::read_to_string(
        repo().join("testdata/errorbrain-spec/examples/verdict-crashloop.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn with_verdict(mut note: Notification) -> Notification {
    note.analysis = Some(Analysis::Verdict {
        verdict: verdict_example(),
    });
    note
}

pub fn schema(name: &str) -> serde_json::Value {
    let text =
        std::fs::read_to_string(repo().join("testdata/errorbrain-spec/v1").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Everything the crate logs on this thread while the guard lives, at every level.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(logs.clone())
            .with_max_level(tracing::Level::TRACE)
            .finish();
        (logs.clone(), tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

pub struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter(self.0.clone())
    }
}

/// Panics if any of `secrets` (or a telling part of it) occurs in `text`.
pub fn assert_no_secret(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "secret {secret:?} leaked into:\n{text}"
        );
    }
}

/// A lookup over fixed pairs.
pub fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    }
}

/// The JSON body of a received request.
pub fn json(request: &wiremock::Request) -> serde_json::Value {
    serde_json::from_slice(&request.body).unwrap()
}

/// An `updated` notification (update number 1): `cart` joined, `checkout` left; both
/// objects of [`affected`] are listed now.
pub fn updated() -> Notification {
    let mut note = note(NotificationKind::Updated, 1);
    note.affected = affected();
    note.change = Some(fluxbrain_core::AffectedChange {
        joined: vec!["HelmRelease/shop/cart".into()],
        left: vec!["HelmRelease/shop/checkout".into()],
    });
    note
}

/// Queues `note` for `notifier` alone in a fresh engine (asking `analyzer` first, when given),
/// runs one delivery round at [`now`] and returns its report and the state after it: whether
/// the notification stayed in the outbox, was delivered or was dead-lettered.
pub async fn one_round(
    notifier: Arc<dyn Notifier>,
    analyzer: Option<Arc<dyn Analyzer>>,
    note: Notification,
) -> (DeliverReport, State) {
    let store = Arc::new(MemoryStore::new());
    let mut state = State::default();
    state.outbox.push(OutboxEntry {
        notification: note,
        analysis_tried: false,
        pending: BTreeMap::from([(notifier.name().to_owned(), Delivery::default())]),
    });
    store.save(&state).await.unwrap();
    let engine = Engine::start(store, vec![notifier], analyzer, EngineConfig::default())
        .await
        .unwrap();
    let report = engine.deliver(0, now(), 0.5).await.unwrap();
    (report, engine.state().await)
}
