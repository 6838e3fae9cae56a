//! From Kubernetes JSON to the trimmed facts the stores keep, through core's own parser.
//!
//! Every object, event and pod goes through [`fluxbrain_core::parse_document`], exactly as
//! `fluxbrain render` reads files, so the live path and the offline path cannot drift apart.

use fluxbrain_core::{
    ControllerPod, Document, FluxObject, Kind, KubeEvent, ObjectRef, ParseWarning,
    UnreadableObject, group_of, parse_document,
};
use std::borrow::Cow;
use std::collections::HashSet;

use kube::api::{ApiResource, DynamicObject};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::metrics::Counters;
use super::store::{Key, key};

/// A controller pod and the container whose log names objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodFacts {
    /// What core keeps.
    pub pod: ControllerPod,
    /// `manager` when the pod has it (Flux's controllers do), else its first container.
    pub container: Option<String>,
}

/// One parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fact {
    Object(FluxObject),
    Event(KubeEvent),
    Pod(PodFacts),
    /// An object that could not be parsed: kept as such, so that it does not look deleted.
    Unreadable(UnreadableObject),
}

/// Adds `apiVersion` and `kind` to a list item that lacks them (core lists omit them).
pub(crate) fn complete(item: &mut Value, api_version: &str, kind: &str) {
    if let Value::Object(map) = item {
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(api_version.to_owned()));
        map.entry("kind")
            .or_insert_with(|| Value::String(kind.to_owned()));
    }
}

/// A watched object as the JSON document core parses: its fields, `apiVersion` and `kind`
/// (from the resource when the server left them out), and its metadata without
/// `managedFields`.
pub(crate) fn from_dynamic(object: DynamicObject, resource: &ApiResource) -> Value {
    let DynamicObject {
        types,
        mut metadata,
        data,
    } = object;
    metadata.managed_fields = None;
    let mut map = match data {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let (api_version, kind) = match types {
        Some(t) if !t.api_version.is_empty() && !t.kind.is_empty() => (t.api_version, t.kind),
        _ => (resource.api_version.clone(), resource.kind.clone()),
    };
    map.insert("apiVersion".to_owned(), Value::String(api_version));
    map.insert("kind".to_owned(), Value::String(kind));
    map.insert(
        "metadata".to_owned(),
        serde_json::to_value(metadata).unwrap_or_default(),
    );
    Value::Object(map)
}

/// The store key (`namespace/name`) of a document.
pub(crate) fn name_of(value: &Value) -> Key {
    let text = |p: &str| value.pointer(p).and_then(Value::as_str).unwrap_or_default();
    key(text("/metadata/namespace"), text("/metadata/name"))
}

/// Whether an Event is about an object of a named Flux kind (only those are kept).
pub(crate) fn is_flux_event(value: &Value) -> bool {
    let involved = value
        .get("involvedObject")
        .or_else(|| value.get("regarding"));
    let text = |field: &str| {
        involved
            .and_then(|o| o.get(field))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    Kind::from_api(text("apiVersion"), text("kind"))
        .group()
        .is_some_and(|group| group == group_of(text("apiVersion")))
}

/// Just enough of an Event to tell which object it is about, borrowed from the page's text.
#[derive(Debug, Deserialize)]
struct EventHead<'a> {
    #[serde(default, borrow, rename = "involvedObject")]
    involved: Option<&'a RawValue>,
    #[serde(default, borrow)]
    regarding: Option<&'a RawValue>,
}

#[derive(Debug, Deserialize)]
struct HeadRef<'a> {
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
}

/// Whether `raw` is a JSON object (serde would also read a struct from an array).
fn is_object(raw: &RawValue) -> bool {
    raw.get().trim_start().starts_with('{')
}

/// Whether the raw Event may be about an object named in `names`: `false` only when it
/// certainly is not (its object's name is readable and not among them). An event that cannot
/// be read that far is left to core's parser, which reports what is wrong with it.
pub(crate) fn may_be_about(raw: &RawValue, names: &HashSet<String>) -> bool {
    if !is_object(raw) {
        return true;
    }
    let Ok(head) = serde_json::from_str::<EventHead<'_>>(raw.get()) else {
        return true;
    };
    let mut named = false;
    for reference in [head.involved, head.regarding].into_iter().flatten() {
        if !is_object(reference) {
            return true;
        }
        match serde_json::from_str::<HeadRef<'_>>(reference.get()) {
            Ok(HeadRef { name: Some(name) }) if !names.contains(name.as_ref()) => named = true,
            _ => return true,
        }
    }
    // Named, and by none of `names`; without a reference at all, core says what is missing.
    !named
}

/// Parses one document; a malformed one is logged, counted and skipped.
pub(crate) fn read(value: &Value, cluster: &str, counters: &Counters) -> Option<Fact> {
    let mut warnings: Vec<ParseWarning> = Vec::new();
    let mut out = None;
    for result in parse_document(value, &mut warnings) {
        match result {
            Ok(Document::Object(object)) => out = Some(Fact::Object(object)),
            Ok(Document::Event(event)) => out = Some(Fact::Event(event)),
            Ok(Document::Pod(pod)) => {
                out = Some(Fact::Pod(PodFacts {
                    pod,
                    container: log_container(value),
                }));
            }
            Ok(Document::Ignored { .. }) => {}
            Err(err) => {
                counters.skipped(1);
                let text = |p: &str| value.pointer(p).and_then(Value::as_str).unwrap_or_default();
                let identity = format!(
                    "{}/{}/{}/{}",
                    text("/apiVersion"),
                    text("/kind"),
                    text("/metadata/namespace"),
                    text("/metadata/name")
                );
                let version = text("/metadata/resourceVersion");
                if counters.first_warning(cluster, &identity, version) {
                    tracing::warn!(cluster, error = %err, "skipped a document that cannot be parsed");
                } else {
                    tracing::debug!(cluster, error = %err, "skipped a document that cannot be parsed");
                }
                out = out.or_else(|| unreadable(value, err.to_string()).map(Fact::Unreadable));
            }
        }
    }
    for warning in warnings {
        tracing::debug!(cluster, %warning, "corrected while parsing");
    }
    out
}

/// The object a document that could not be parsed is, as its `apiVersion`, `kind` and
/// `metadata` say; `None` for an Event or a Pod (never an incident's object) or without a name.
fn unreadable(value: &Value, error: String) -> Option<UnreadableObject> {
    let text = |p: &str| value.pointer(p).and_then(Value::as_str);
    let api_version = text("/apiVersion")?;
    let kind = text("/kind")?;
    let name = text("/metadata/name").filter(|n| !n.is_empty())?;
    if matches!(
        (group_of(api_version), kind),
        ("" | "events.k8s.io", "Event") | ("", "Pod")
    ) {
        return None;
    }
    let namespace = text("/metadata/namespace").unwrap_or_default();
    Some(UnreadableObject {
        key: ObjectRef::new(Kind::from_api(api_version, kind), namespace, name),
        error,
    })
}

/// The container to read a controller's log from.
fn log_container(pod: &Value) -> Option<String> {
    let containers = pod.pointer("/spec/containers")?.as_array()?;
    let name = |c: &Value| c.get("name").and_then(Value::as_str).map(str::to_owned);
    containers
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some("manager"))
        .or_else(|| containers.first())
        .and_then(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_about_other_objects_are_told_apart_without_parsing() {
        let names: HashSet<String> = ["broken".to_owned()].into();
        let raw = |json: &str| serde_json::from_str::<Box<RawValue>>(json).unwrap();
        let about = |json: &str| may_be_about(&raw(json), &names);
        assert!(about(
            r#"{"involvedObject": {"name": "broken", "kind": "Kustomization"}}"#
        ));
        assert!(about(r#"{"regarding": {"name": "broken"}, "note": "x"}"#));
        assert!(!about(
            r#"{"involvedObject": {"name": "fine"}, "message": "x"}"#
        ));
        // Malformed or nameless: core's parser decides and reports.
        assert!(about(r#"{"involvedObject": "broken"}"#));
        assert!(about(r#"{"involvedObject": ["fine"]}"#));
        assert!(about(r#"[{"name": "fine"}]"#));
        assert!(about(
            r#"{"involvedObject": {"name": "fine"}, "regarding": 3}"#
        ));
        assert!(about(r#"{"involvedObject": {"name": 3}}"#));
        assert!(about(r#"{"involvedObject": {"kind": "Kustomization"}}"#));
        assert!(about(r#"{"message": "x"}"#));
    }

    #[test]
    fn only_flux_events() {
        let event = |api_version: &str, kind: &str| {
            is_flux_event(&json!({"involvedObject": {"apiVersion": api_version, "kind": kind}}))
        };
        assert!(event("helm.toolkit.fluxcd.io/v2", "HelmRelease"));
        assert!(event("notification.toolkit.fluxcd.io/v1", "Receiver"));
        assert!(event("fluxcd.controlplane.io/v1", "FluxInstance"));
        assert!(event(
            "source.extensions.fluxcd.io/v1beta1",
            "ArtifactGenerator"
        ));
        assert!(!event("v1", "Pod"));
        assert!(!event("notification.toolkit.fluxcd.io/v1beta3", "Alert"));
        assert!(!event("storage.example.com/v1", "Bucket"));
        assert!(!event("", "Kustomization"));
        let regarding = json!({"regarding": {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization"}});
        assert!(is_flux_event(&regarding));
    }

    #[test]
    fn pods_keep_their_log_container() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kustomize-controller-1", "namespace": "flux-system",
                         "labels": {"app": "kustomize-controller"}},
            "spec": {"containers": [{"name": "sidecar", "image": "x:1"},
                                    {"name": "manager", "image": "ghcr.io/fluxcd/kustomize-controller:v1.8.2"}]},
            "status": {"phase": "Running"}});
        let Some(Fact::Pod(facts)) = read(&pod, "c", &Counters::default()) else {
            panic!("not a pod");
        };
        assert_eq!(facts.container.as_deref(), Some("manager"));
        assert_eq!(facts.pod.version.as_deref(), Some("v1.8.2"));
    }

    #[test]
    fn malformed_documents_are_counted() {
        let counters = Counters::default();
        let bad = json!({"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": 3}});
        assert_eq!(read(&bad, "c", &counters), None);
        assert_eq!(counters.read().objects_skipped, 1);
    }
}
