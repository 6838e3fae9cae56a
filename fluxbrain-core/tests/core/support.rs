//! Loading test data: folders of YAML documents and controller logs into a snapshot.

use std::path::{Path, PathBuf};

use fluxbrain_core::{
    BuildOptions, Document, ErrorEvent, ParseError, ParseWarning, Snapshot, Time, build_all,
    parse_document, parse_log_line,
};
use serde::Deserialize;

/// The shared data folder, when the tests run against it.
pub fn shared() -> Option<PathBuf> {
    std::env::var_os("FLUXBRAIN_SHARED").map(PathBuf::from)
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixtures() -> PathBuf {
    shared().map_or_else(|| repo().join("testdata/fixtures"), |s| s.join("fixtures"))
}

pub fn cluster_basic() -> PathBuf {
    shared().map_or_else(
        || repo().join("examples/clusters/basic"),
        |s| s.join("fixtures/cluster-basic"),
    )
}

pub fn vectors() -> PathBuf {
    shared().map_or_else(|| repo().join("testdata/vectors"), |s| s.join("vectors"))
}

/// The errorbrain spec's example documents.
pub fn spec_examples() -> PathBuf {
    shared().map_or_else(
        || repo().join("testdata/errorbrain-spec/examples"),
        |s| s.join("errorbrain-spec/examples"),
    )
}

pub fn schema(name: &str) -> serde_json::Value {
    let dir = shared().map_or_else(
        || repo().join("testdata/errorbrain-spec/v1"),
        |s| s.join("errorbrain-spec/v1"),
    );
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// What a file held.
#[derive(Debug, Default)]
pub struct Loaded {
    pub snapshot: Snapshot,
    pub errors: Vec<ParseError>,
    pub warnings: Vec<ParseWarning>,
    pub yaml_errors: usize,
    pub bad_lines: usize,
}

/// Reads YAML files (multi-document) and `<pod>.log` files into one snapshot of `cluster`.
pub fn load(paths: &[PathBuf], cluster: &str) -> Loaded {
    let mut loaded = Loaded {
        snapshot: Snapshot::new(cluster),
        ..Loaded::default()
    };
    for path in paths {
        let bytes = std::fs::read(path).unwrap();
        if path.extension().is_some_and(|e| e == "log") {
            let pod = path.file_stem().unwrap().to_str().unwrap();
            for raw in bytes.split(|&b| b == b'\n') {
                let line = String::from_utf8_lossy(raw);
                if line.trim().is_empty() {
                    continue;
                }
                match parse_log_line(&line, pod, "manager") {
                    Ok(Some(line)) => loaded.snapshot.logs.push(line),
                    Ok(None) => {}
                    Err(_) => loaded.bad_lines += 1,
                }
            }
            continue;
        }
        let text = String::from_utf8(bytes).unwrap();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = match serde_json::Value::deserialize(document) {
                Ok(serde_json::Value::Null) => continue,
                Ok(value) => value,
                Err(_) => {
                    loaded.yaml_errors += 1;
                    break;
                }
            };
            for result in parse_document(&value, &mut loaded.warnings) {
                match result {
                    Ok(Document::Object(o)) => loaded.snapshot.objects.push(o.into()),
                    Ok(Document::Event(e)) => loaded.snapshot.events.push(e),
                    Ok(Document::Pod(p)) => loaded.snapshot.pods.push(p),
                    Ok(Document::Ignored { .. }) => {}
                    Err(e) => loaded.errors.push(e),
                }
            }
        }
    }
    loaded
}

/// Every file of a cluster state folder (`*.yaml` and `logs/*.log`).
pub fn cluster_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["objects.yaml", "events.yaml", "pods.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .collect();
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    logs.sort();
    files.extend(logs);
    files
}

/// The fixtures' "now".
pub fn now() -> Time {
    Time::parse("2026-04-21T09:30:00Z").unwrap()
}

pub fn basic_snapshot() -> Snapshot {
    let loaded = load(&cluster_files(&cluster_basic()), "basic");
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(loaded.bad_lines, 0);
    loaded.snapshot
}

pub fn basic_events() -> Vec<ErrorEvent> {
    build_all(
        &basic_snapshot(),
        &BuildOptions {
            now: Some(now()),
            ..BuildOptions::default()
        },
    )
}
