//! Tolerant, typed parsing of Kubernetes documents from `serde_json::Value`.
//!
//! Every reader keeps only the facts fluxbrain uses. A malformed document is a [`ParseError`]
//! naming the object and the field, never a panic, and never affects its neighbours.

pub(crate) mod event;
pub(crate) mod fields;
pub(crate) mod log;
pub(crate) mod object;
pub(crate) mod pod;

use serde_json::{Map, Value};

use crate::error::{ParseError, ParseWarning, Problem};
use crate::model::event::KubeEvent;
use crate::model::kind::{Kind, group_of};
use crate::model::object::FluxObject;
use crate::model::pod::ControllerPod;
use fields::{FieldError, describe};

pub use log::{LogLineError, parse_log_line};

/// What one Kubernetes document turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// A Flux object, or another object with `status.conditions`.
    Object(FluxObject),
    /// A core/v1 or events.k8s.io/v1 Event.
    Event(KubeEvent),
    /// A Pod.
    Pod(ControllerPod),
    /// Something fluxbrain does not watch (a Namespace, a ConfigMap, ...).
    Ignored {
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
    },
}

/// Reads one document; a `kind: List` (or `*List`) yields one result per item.
///
/// Corrections that keep the object (a condition message longer than Kubernetes allows) are
/// appended to `warnings`.
pub fn parse_document(
    value: &Value,
    warnings: &mut Vec<ParseWarning>,
) -> Vec<Result<Document, ParseError>> {
    let mut out = Vec::new();
    parse_into(value, None, warnings, &mut out);
    out
}

fn parse_into(
    value: &Value,
    list_index: Option<usize>,
    warnings: &mut Vec<ParseWarning>,
    out: &mut Vec<Result<Document, ParseError>>,
) {
    let Value::Object(doc) = value else {
        out.push(Err(ParseError {
            object: name_in_list("document", list_index),
            field: String::new(),
            problem: Problem::WrongType {
                expected: "a Kubernetes object (a mapping)",
                found: describe(value),
            },
        }));
        return;
    };
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    if list_index.is_none()
        && kind.ends_with("List")
        && let Some(Value::Array(items)) = doc.get("items")
    {
        // The API server's own lists (`KustomizationList`) leave `apiVersion` and `kind` out
        // of their items; `kubectl get -o json` (`kind: List`) keeps them.
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
        let api_version = doc.get("apiVersion").and_then(Value::as_str);
        for (i, item) in items.iter().enumerate() {
            match (item, item_kind, api_version) {
                (Value::Object(map), Some(item_kind), Some(api_version))
                    if !map.contains_key("kind") =>
                {
                    let mut filled = map.clone();
                    filled.insert("kind".into(), Value::from(item_kind));
                    filled
                        .entry("apiVersion")
                        .or_insert_with(|| Value::from(api_version));
                    parse_into(&Value::Object(filled), Some(i), warnings, out);
                }
                _ => parse_into(item, Some(i), warnings, out),
            }
        }
        return;
    }
    out.push(parse_one(doc, warnings).map_err(|e| ParseError {
        object: name_in_list(&identify(doc), list_index),
        field: e.field,
        problem: e.problem,
    }));
}

fn parse_one(
    doc: &Map<String, Value>,
    warnings: &mut Vec<ParseWarning>,
) -> Result<Document, FieldError> {
    let root = fields::Path::Root;
    let api_version = fields::required_string(doc.get("apiVersion"), &root.key("apiVersion"))?;
    let kind_name = fields::required_string(doc.get("kind"), &root.key("kind"))?;
    let group = group_of(api_version);
    match (group, kind_name) {
        ("", "Event") => return event::parse_event(doc, false).map(Document::Event),
        ("events.k8s.io", "Event") => return event::parse_event(doc, true).map(Document::Event),
        ("", "Pod") => return pod::parse_pod(doc).map(Document::Pod),
        _ => {}
    }
    let kind = Kind::from_api(api_version, kind_name);
    let has_conditions = doc
        .get("status")
        .and_then(|s| s.get("conditions"))
        .is_some_and(|c| !c.is_null());
    if kind.group().is_none() && !group.ends_with(".toolkit.fluxcd.io") && !has_conditions {
        return Ok(Document::Ignored {
            api_version: api_version.to_owned(),
            kind: kind_name.to_owned(),
        });
    }
    let mut local = Vec::new();
    let object = object::parse_object(api_version, kind, doc, &mut local)?;
    warnings.append(&mut local);
    Ok(Document::Object(object))
}

/// `Kind namespace/name` of a document, as far as it can be read.
fn identify(doc: &Map<String, Value>) -> String {
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    let metadata = doc.get("metadata");
    let kind = text(doc.get("kind")).unwrap_or("object");
    let name = text(metadata.and_then(|m| m.get("name")))
        .map(str::to_owned)
        .or_else(|| {
            text(metadata.and_then(|m| m.get("generateName"))).map(|g| format!("{g}<no name>"))
        })
        .unwrap_or_else(|| "<no name>".to_owned());
    match text(metadata.and_then(|m| m.get("namespace"))) {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn name_in_list(name: &str, list_index: Option<usize>) -> String {
    match list_index {
        Some(i) => format!("items[{i}] ({name})"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests;
