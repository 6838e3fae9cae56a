//! Reading Kubernetes documents and controller logs from files and folders.

use std::fmt;
use std::path::{Path, PathBuf};

use fluxbrain_core::{
    Document, LogLineError, ParseWarning, Snapshot, parse_document, parse_log_line,
};
use serde::Deserialize;

/// What a set of paths held, and what could not be read.
#[derive(Debug)]
pub struct Loaded {
    /// Objects, events, pods and log lines.
    pub snapshot: Snapshot,
    /// Everything skipped or corrected, each naming the file (and document or line).
    pub problems: Vec<InputProblem>,
    /// Where each object of the snapshot came from (`path: document N`), by index.
    pub origins: Vec<String>,
}

/// One problem with one input.
#[derive(Debug)]
pub struct InputProblem {
    path: PathBuf,
    place: Option<String>,
    message: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(place) = &self.place {
            write!(f, ": {place}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The container a log file is attributed to when it does not say.
const DEFAULT_CONTAINER: &str = "manager";

/// Reads every file under `paths` (folders recursively, in name order) into a snapshot of
/// `cluster`. Never fails as a whole: each unreadable input becomes a problem.
pub fn load(paths: &[PathBuf], cluster: &str) -> Loaded {
    let mut loaded = Loaded {
        snapshot: Snapshot::new(cluster),
        problems: Vec::new(),
        origins: Vec::new(),
    };
    for path in paths {
        let mut files = Vec::new();
        if let Err(message) = collect(path, true, &mut files) {
            loaded.problem(path, None, message);
        }
        for file in files {
            read_file(&file, &mut loaded);
        }
    }
    finish(&mut loaded);
    loaded
}

/// Reads `bytes` as [`load`] reads the file at `path` (its extension picks YAML, JSON or a
/// log), without touching the file system. For the fuzz targets in `fuzz/`; not a stable API.
#[doc(hidden)]
pub fn load_bytes(path: &Path, bytes: &[u8], cluster: &str) -> Loaded {
    let mut loaded = Loaded {
        snapshot: Snapshot::new(cluster),
        problems: Vec::new(),
        origins: Vec::new(),
    };
    read_bytes(path, bytes, &mut loaded);
    finish(&mut loaded);
    loaded
}

/// What [`load`] does once every file is read.
fn finish(loaded: &mut Loaded) {
    // The same input read twice (a folder and a file in it, or a copy of a file) must not
    // count its events or log lines twice. (Objects read twice are already one: the index
    // keeps the newest copy.)
    keep_first(&mut loaded.snapshot.events);
    keep_first(&mut loaded.snapshot.logs);
    report_conflicts(loaded);
}

/// Copies of one object that disagree with nothing to say which is newer: each pair is a
/// problem naming both sources and the copy kept (the failing one, so that a failure is never
/// hidden by a stale healthy copy).
fn report_conflicts(loaded: &mut Loaded) {
    for conflict in loaded.snapshot.conflicts() {
        let describe = |i: usize| {
            let object = &loaded.snapshot.objects[i];
            let ready = object.condition("Ready").map_or_else(
                || "no Ready condition".to_owned(),
                |c| format!("Ready={} ({})", c.status.as_str(), c.reason),
            );
            let origin = loaded.origins.get(i).map_or("?", String::as_str);
            format!("{origin} ({ready})")
        };
        let key = &conflict.key;
        let failing =
            |i: usize| loaded.snapshot.objects[i].health() == fluxbrain_core::Health::Failing;
        let rule = if failing(conflict.kept) && !failing(conflict.dropped) {
            "the failing copy is kept so that a failure is never hidden"
        } else {
            "nothing says which is newer, so the same copy is kept whatever the input order"
        };
        let message = format!(
            "{} {}/{} is given twice with the same generation and condition times but a \
             different status: kept {}, ignored {}; {rule}",
            key.kind.as_str(),
            key.namespace,
            key.name,
            describe(conflict.kept),
            describe(conflict.dropped),
        );
        loaded.problems.push(InputProblem {
            path: PathBuf::from(loaded.origins.get(conflict.dropped).map_or("?", |o| {
                o.split_once(": ").map_or(o.as_str(), |(path, _)| path)
            })),
            place: None,
            message,
        });
    }
}

/// Drops exact repeats, keeping the first of each.
fn keep_first<T: Clone + Eq + std::hash::Hash>(items: &mut Vec<T>) {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items.retain(|item| seen.insert(item.clone()));
}

impl Loaded {
    fn problem(&mut self, path: &Path, place: Option<String>, message: impl Into<String>) {
        self.problems.push(InputProblem {
            path: path.to_owned(),
            place,
            message: message.into(),
        });
    }
}

/// Files to read under `path`: an explicitly named file whatever its name; in folders, the
/// `.yaml`, `.yml`, `.json` and `.log` files, skipping hidden entries.
fn collect(path: &Path, explicit: bool, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.is_file() {
        if explicit || kind_of(path).is_some() {
            out.push(path.to_owned());
        }
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("cannot list folder: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for entry in entries {
        // A problem deep in a folder is reported against that entry, and the rest goes on.
        collect(&entry, false, out).map_err(|e| format!("{}: {e}", entry.display()))?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Yaml,
    Json,
    Log,
}

fn kind_of(path: &Path) -> Option<FileKind> {
    match path.extension()?.to_str()? {
        "yaml" | "yml" => Some(FileKind::Yaml),
        "json" => Some(FileKind::Json),
        "log" => Some(FileKind::Log),
        _ => None,
    }
}

fn read_file(path: &Path, loaded: &mut Loaded) {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return loaded.problem(path, None, format!("cannot read: {e}")),
    };
    read_bytes(path, &bytes, loaded);
}

fn read_bytes(path: &Path, bytes: &[u8], loaded: &mut Loaded) {
    match kind_of(path).unwrap_or(FileKind::Yaml) {
        FileKind::Log => read_log(path, bytes, loaded),
        FileKind::Json => read_json(path, bytes, loaded),
        FileKind::Yaml => match std::str::from_utf8(bytes) {
            Ok(text) => read_yaml(path, text, loaded),
            Err(e) => loaded.problem(path, None, format!("not UTF-8 text: {e} (skipped)")),
        },
    }
}

/// One JSON document, or several one after another (NDJSON, `kubectl get -w -o json`); a
/// syntax error ends the file there, keeping the documents before it.
fn read_json(path: &Path, bytes: &[u8], loaded: &mut Loaded) {
    let documents: Vec<_> = serde_json::Deserializer::from_slice(bytes)
        .into_iter::<serde_json::Value>()
        .collect();
    let several = documents.len() > 1;
    for (i, document) in documents.into_iter().enumerate() {
        let place = several.then(|| format!("document {}", i + 1));
        match document {
            Ok(value) => add_document(path, place, &value, loaded),
            Err(e) => {
                loaded.problem(
                    path,
                    Some(format!("document {}", i + 1)),
                    format!("not valid JSON: {e} (this and any later documents skipped)"),
                );
                break;
            }
        }
    }
}

/// Multi-document YAML: each document on its own; a syntax error ends the file there (YAML
/// cannot be resynchronised), keeping the documents before it.
fn read_yaml(path: &Path, text: &str, loaded: &mut Loaded) {
    for (i, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let place = format!("document {}", i + 1);
        match serde_json::Value::deserialize(document) {
            Ok(serde_json::Value::Null) => {}
            Ok(value) => add_document(path, Some(place), &value, loaded),
            Err(e) => {
                loaded.problem(
                    path,
                    Some(place),
                    format!("not valid YAML: {e} (this and any later documents skipped)"),
                );
                break;
            }
        }
    }
}

fn add_document(
    path: &Path,
    place: Option<String>,
    value: &serde_json::Value,
    loaded: &mut Loaded,
) {
    let mut warnings: Vec<ParseWarning> = Vec::new();
    for result in parse_document(value, &mut warnings) {
        match result {
            Ok(Document::Object(object)) => {
                loaded.snapshot.objects.push(object.into());
                loaded.origins.push(match &place {
                    Some(place) => format!("{}: {place}", path.display()),
                    None => path.display().to_string(),
                });
            }
            Ok(Document::Event(event)) => loaded.snapshot.events.push(event),
            Ok(Document::Pod(pod)) => loaded.snapshot.pods.push(pod),
            Ok(Document::Ignored { .. }) => {}
            Err(e) => loaded.problem(path, place.clone(), format!("{e} (skipped)")),
        }
    }
    for warning in warnings {
        loaded.problem(path, place.clone(), warning.to_string());
    }
}

/// A controller log: one JSON line each; other lines are counted and reported once per file.
fn read_log(path: &Path, bytes: &[u8], loaded: &mut Loaded) {
    let mut pod = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned();
    let mut container = DEFAULT_CONTAINER.to_owned();
    let mut not_json: Vec<usize> = Vec::new();
    let mut no_time: Vec<usize> = Vec::new();
    let mut not_utf8: Vec<usize> = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = String::from_utf8_lossy(raw);
        if matches!(line, std::borrow::Cow::Owned(_)) {
            not_utf8.push(line_no);
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if i == 0
            && let Some(header) = trimmed.strip_prefix("# pod:")
        {
            let mut parts = header.trim().split('/');
            let (_namespace, name, c) = (parts.next(), parts.next(), parts.next());
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                pod = name.to_owned();
            }
            if let Some(c) = c.filter(|c| !c.is_empty()) {
                container = c.to_owned();
            }
            continue;
        }
        match parse_log_line(trimmed, &pod, &container) {
            Ok(Some(line)) => loaded.snapshot.logs.push(line),
            Ok(None) => {}
            Err(LogLineError::NoTime) => no_time.push(line_no),
            Err(_) => not_json.push(line_no),
        }
    }
    let mut report = |lines: Vec<usize>, what: &str| {
        if !lines.is_empty() {
            loaded.problem(path, Some(line_list(&lines)), what.to_owned());
        }
    };
    report(not_utf8, "invalid UTF-8, replaced with U+FFFD and read");
    report(not_json, "not a JSON log line (skipped)");
    report(no_time, "JSON log line without a valid \"ts\" (skipped)");
}

/// `line 3`, `lines 3, 4, 9`, or `lines 3, 4, 9 and 12 more`.
fn line_list(lines: &[usize]) -> String {
    const SHOWN: usize = 5;
    let shown: Vec<String> = lines.iter().take(SHOWN).map(usize::to_string).collect();
    match lines.len() {
        1 => format!("line {}", shown[0]),
        n if n <= SHOWN => format!("lines {}", shown.join(", ")),
        n => format!("lines {} and {} more", shown.join(", "), n - SHOWN),
    }
}
