//! Cluster state: objects, events, pods and controller logs, loaded from a folder or built in code.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::resources::{flux_kind, split_api_version};
use crate::Error;

/// Where a state object came from, so errors can name it.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub path: PathBuf,
    pub document: usize,
}

/// A cluster state to start a [`Simulator`](super::Simulator) from.
///
/// Folder layout (that of `shared/fixtures/cluster-basic`): every `*.yaml`, `*.yml` and `*.json`
/// file at the top level holds objects (one per YAML document, or `kind: List`), in file name
/// order; `logs/<pod-name>.log` holds the lines of that pod's (first) container. Objects may be
/// Flux objects of the kinds in DESIGN section 4 (any served version), core `v1` Namespaces, Pods,
/// Events and ConfigMaps, `coordination.k8s.io/v1` Leases and `events.k8s.io/v1` Events. Anything
/// else is an error naming the file and document, as is a document that is not valid YAML.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub(crate) objects: Vec<(Value, Origin)>,
    pub(crate) logs: Vec<PodLogs>,
    seen: HashSet<(String, String, String, String)>,
}

/// Lines of one pod's log.
#[derive(Debug, Clone)]
pub(crate) struct PodLogs {
    pub pod: String,
    pub lines: Vec<String>,
    pub origin: PathBuf,
}

impl State {
    /// An empty state (the simulator still serves the default namespaces).
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads a state folder.
    ///
    /// # Errors
    /// [`Error::Read`] when a file cannot be read, [`Error::Parse`] for a document that is not
    /// YAML, [`Error::Invalid`] for an object the simulator cannot serve or a duplicate.
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let dir = dir.as_ref();
        let mut state = Self::new();
        let mut files = read_dir_sorted(dir)?;
        files.retain(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        });
        for file in files {
            state.load_file(&file)?;
        }
        let logs = dir.join("logs");
        if logs.is_dir() {
            for file in read_dir_sorted(&logs)? {
                if file.extension().and_then(|e| e.to_str()) != Some("log") {
                    continue;
                }
                let bytes = fs::read(&file).map_err(|source| Error::Read {
                    path: file.clone(),
                    source,
                })?;
                let pod = file
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string();
                let lines = String::from_utf8_lossy(&bytes)
                    .lines()
                    .map(str::to_string)
                    .collect();
                state.logs.push(PodLogs {
                    pod,
                    lines,
                    origin: file,
                });
            }
        }
        Ok(state)
    }

    /// Loads one file of objects (multi-document YAML, JSON, or `kind: List`).
    ///
    /// # Errors
    /// As [`State::load_dir`].
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let text = fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_str(&text, path)
    }

    /// Loads objects from YAML or JSON text; `name` is used in errors.
    ///
    /// # Errors
    /// As [`State::load_dir`].
    pub fn load_str(&mut self, text: &str, name: impl AsRef<Path>) -> Result<(), Error> {
        let path = name.as_ref();
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let document = i + 1;
            let value = Value::deserialize(doc).map_err(|e| Error::Parse {
                path: path.to_path_buf(),
                document,
                source: Box::new(e),
            })?;
            let origin = Origin {
                path: path.to_path_buf(),
                document,
            };
            if value.is_null() {
                continue;
            }
            if value.get("kind").and_then(Value::as_str) == Some("List") {
                let Some(items) = value.get("items").and_then(Value::as_array) else {
                    return Err(invalid(
                        &origin,
                        "a List without an `items` array".to_string(),
                    ));
                };
                for item in items {
                    self.insert_from(item.clone(), origin.clone())?;
                }
            } else {
                self.insert_from(value, origin)?;
            }
        }
        Ok(())
    }

    /// Adds one object.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the simulator cannot serve the object or already has it.
    pub fn insert(&mut self, object: Value) -> Result<(), Error> {
        let origin = Origin {
            path: PathBuf::from("<memory>"),
            document: self.objects.len() + 1,
        };
        self.insert_from(object, origin)
    }

    /// Adds log lines to a pod's (first) container; the pod must be in the state when the
    /// simulator starts.
    pub fn add_log_lines(&mut self, pod: &str, lines: impl IntoIterator<Item = String>) {
        let lines: Vec<String> = lines.into_iter().collect();
        match self.logs.iter_mut().find(|l| l.pod == pod) {
            Some(existing) => existing.lines.extend(lines),
            None => self.logs.push(PodLogs {
                pod: pod.to_string(),
                lines,
                origin: PathBuf::from("<memory>"),
            }),
        }
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the state has no objects.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn insert_from(&mut self, object: Value, origin: Origin) -> Result<(), Error> {
        let key = check_object(&object).map_err(|m| invalid(&origin, m))?;
        if !self.seen.insert(key.clone()) {
            let (group, kind, ns, name) = key;
            let what = if group.is_empty() {
                kind
            } else {
                format!("{kind}.{group}")
            };
            return Err(invalid(
                &origin,
                format!("duplicate object {what} {ns}/{name}"),
            ));
        }
        self.objects.push((object, origin));
        Ok(())
    }
}

fn invalid(origin: &Origin, message: String) -> Error {
    Error::Invalid {
        path: origin.path.clone(),
        document: origin.document,
        message,
    }
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        paths.push(entry.path());
    }
    paths.sort();
    Ok(paths)
}

/// Checks the shape the simulator needs; returns (group, kind, namespace, name) for duplicates.
fn check_object(obj: &Value) -> Result<(String, String, String, String), String> {
    if !obj.is_object() {
        return Err("an object must be a mapping".to_string());
    }
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or("missing `apiVersion`")?;
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("missing `kind`")?;
    let meta = obj
        .get("metadata")
        .filter(|m| m.is_object())
        .ok_or(format!("{kind}: missing `metadata`"))?;
    let name = meta
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or(format!("{kind}: `metadata.name` is required"))?;
    let namespace = match meta.get("namespace") {
        None | Some(Value::Null) => "",
        Some(Value::String(ns)) => ns,
        Some(_) => {
            return Err(format!(
                "{kind} {name}: `metadata.namespace` must be a string"
            ));
        }
    };
    let (group, _) = split_api_version(api_version);
    let known = matches!(
        (api_version, kind),
        ("v1", "Namespace" | "Pod" | "Event" | "ConfigMap")
            | ("coordination.k8s.io/v1", "Lease")
            | ("events.k8s.io/v1", "Event")
    ) || flux_kind(group, kind).is_some();
    if !known {
        return Err(format!(
            "{kind} ({api_version}) {name}: not a kind the simulator serves (Flux kinds, core Namespace, \
             Pod, Event, ConfigMap, coordination.k8s.io Lease, events.k8s.io Event)"
        ));
    }
    // Both event APIs share one storage, like the API server's.
    let group = if kind == "Event" { "" } else { group };
    Ok((
        group.to_string(),
        kind.to_string(),
        namespace.to_string(),
        name.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_and_lists() {
        let mut state = State::new();
        let text = "# comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\n\
                    kind: List\napiVersion: v1\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b, namespace: x}}\n";
        let loaded = state.load_str(text, "objects.yaml");
        assert!(loaded.is_ok(), "{loaded:?}");
        assert_eq!(state.len(), 2);
    }

    #[test]
    fn errors_name_file_and_document() {
        let mut state = State::new();
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n";
        let err = state
            .load_str(text, "objects.yaml")
            .map_err(|e| e.to_string());
        let Err(message) = err else {
            panic!("a Deployment is refused")
        };
        assert!(
            message.starts_with("objects.yaml: document 2: Deployment (apps/v1) d"),
            "{message}"
        );

        let err = State::new()
            .load_str("a: [\n", "bad.yaml")
            .map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("bad.yaml: document 1: not valid YAML/JSON".to_string())
        );

        let dup = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
        let err = State::new()
            .load_str(dup, "dup.yaml")
            .map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("dup.yaml: document 2: duplicate object ConfigMap /a".to_string())
        );
    }
}
