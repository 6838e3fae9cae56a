//! `meta.k8s.io/v1` Tables: the server-side columns kubectl prints.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::clock::human_age;
use super::resources::{CONFIGMAPS, EVENTS, LEASES, NAMESPACES, PODS, Resource};

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Include {
    /// No object.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl Include {
    /// Parses `includeObject`.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("" | "Metadata") => Ok(Self::Metadata),
            Some("None") => Ok(Self::None),
            Some("Object") => Ok(Self::Object),
            Some(other) => Err(format!(
                "includeObject: unsupported value {other:?}: must be None, Metadata or Object"
            )),
        }
    }
}

/// Column definitions for a resource (storage id picks the printer, as the API server does).
pub(crate) fn columns(storage: usize, r: &Resource) -> Value {
    let col = |name: &str, kind: &str, format: &str, priority: u8, description: &str| json!({"name": name, "type": kind, "format": format, "description": description, "priority": priority});
    let name = col(
        "Name",
        "string",
        "name",
        0,
        "Name must be unique within a namespace.",
    );
    let age = col(
        "Age",
        "date",
        "",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    let cols = match storage {
        PODS => vec![
            name,
            col(
                "Ready",
                "string",
                "",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            col(
                "Status",
                "string",
                "",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            col(
                "Restarts",
                "string",
                "",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age,
            col("IP", "string", "", 1, "IP address allocated to the pod."),
            col(
                "Node",
                "string",
                "",
                1,
                "Name of the node this pod is assigned to.",
            ),
        ],
        EVENTS => vec![
            col(
                "Last Seen",
                "string",
                "",
                0,
                "Time when this Event was last observed.",
            ),
            col(
                "Type",
                "string",
                "",
                0,
                "Type of this event (Normal, Warning).",
            ),
            col(
                "Reason",
                "string",
                "",
                0,
                "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            ),
            col(
                "Object",
                "string",
                "",
                0,
                "The object that this event is about.",
            ),
            col(
                "Message",
                "string",
                "",
                0,
                "A human-readable description of the status of this operation.",
            ),
            col(
                "Source",
                "string",
                "",
                1,
                "The component reporting this event.",
            ),
            col(
                "First Seen",
                "string",
                "",
                1,
                "The time at which the event was first recorded.",
            ),
            col(
                "Count",
                "integer",
                "",
                1,
                "The number of times this event has occurred.",
            ),
            col(
                "Name",
                "string",
                "name",
                1,
                "Name must be unique within a namespace.",
            ),
        ],
        CONFIGMAPS => vec![
            name,
            col("Data", "integer", "", 0, "Number of keys in the ConfigMap."),
            age,
        ],
        NAMESPACES => vec![
            name,
            col("Status", "string", "", 0, "The status of the namespace"),
            age,
        ],
        LEASES => vec![
            name,
            col(
                "Holder",
                "string",
                "",
                0,
                "The identity of the current holder of the lease.",
            ),
            age,
        ],
        _ if r.custom => vec![
            name,
            age,
            col("Ready", "string", "", 0, ""),
            col("Status", "string", "", 0, ""),
        ],
        _ => vec![name, age],
    };
    Value::Array(cols)
}

/// The cells of one object.
pub(crate) fn cells(storage: usize, r: &Resource, obj: &Value, now: Timestamp) -> Value {
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let age_of = |p: &str| -> String {
        obj.pointer(p)
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<Timestamp>().ok())
            .map_or_else(
                || "<unknown>".to_string(),
                |t| human_age(now.as_second() - t.as_second()),
            )
    };
    let name = s("/metadata/name");
    let age = age_of("/metadata/creationTimestamp");
    match storage {
        PODS => {
            let statuses = obj
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let total = obj
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let ready = statuses
                .iter()
                .filter(|c| c.get("ready") == Some(&Value::Bool(true)))
                .count();
            let restarts: i64 = statuses
                .iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
                .sum();
            let waiting = statuses
                .iter()
                .find_map(|c| c.pointer("/state/waiting/reason").and_then(Value::as_str));
            let status = waiting.map_or_else(|| s("/status/phase"), str::to_string);
            json!([
                name,
                format!("{ready}/{total}"),
                status,
                restarts.to_string(),
                age,
                s("/status/podIP"),
                s("/spec/nodeName")
            ])
        }
        EVENTS => {
            // Both event APIs use this printer: core field names first, events.k8s.io's after.
            let either = |a: &str, b: &str| {
                let first = s(a);
                if first.is_empty() { s(b) } else { first }
            };
            let object = format!(
                "{}/{}",
                either("/involvedObject/kind", "/regarding/kind").to_ascii_lowercase(),
                either("/involvedObject/name", "/regarding/name")
            );
            let last = ["/lastTimestamp", "/deprecatedLastTimestamp", "/eventTime"]
                .iter()
                .find(|p| obj.pointer(p).is_some_and(Value::is_string))
                .map_or_else(|| "<unknown>".to_string(), |p| age_of(p));
            let first = if obj.pointer("/firstTimestamp").is_some_and(Value::is_string) {
                age_of("/firstTimestamp")
            } else {
                age_of("/deprecatedFirstTimestamp")
            };
            let count = obj
                .get("count")
                .or_else(|| obj.get("deprecatedCount"))
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let source = either("/source/component", "/deprecatedSource/component");
            json!([
                last,
                s("/type"),
                s("/reason"),
                object,
                either("/message", "/note"),
                source,
                first,
                count,
                name
            ])
        }
        CONFIGMAPS => {
            let data = obj
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, serde_json::Map::len)
                + obj
                    .get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, serde_json::Map::len);
            json!([name, data, age])
        }
        NAMESPACES => json!([name, s("/status/phase"), age]),
        LEASES => json!([name, s("/spec/holderIdentity"), age]),
        _ if r.custom => {
            let ready = obj
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter()
                        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
                });
            let field = |f: &str| {
                ready
                    .and_then(|c| c.get(f))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            json!([name, age, field("status"), field("message")])
        }
        _ => json!([name, age]),
    }
}

/// One Table row.
pub(crate) fn row(
    storage: usize,
    r: &Resource,
    obj: &Value,
    now: Timestamp,
    include: Include,
) -> Value {
    let mut row = json!({"cells": cells(storage, r, obj, now)});
    match include {
        Include::None => {}
        Include::Metadata => row["object"] = partial(obj),
        Include::Object => row["object"] = obj.clone(),
    }
    row
}

/// `PartialObjectMetadata` of an object.
pub(crate) fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

/// A whole Table.
pub(crate) fn table(storage: usize, r: &Resource, rows: Vec<Value>, list_meta: Value) -> Value {
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "columnDefinitions": columns(storage, r), "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{FLUX_KINDS, Resources};

    #[test]
    fn flux_rows_show_ready_condition() {
        let res = Resources::new(&[(&FLUX_KINDS[0], ["v1".to_string()].into())]);
        let r = res.get(6);
        let obj = json!({"metadata": {"name": "apps", "creationTimestamp": "2026-04-21T09:00:00Z"},
                         "status": {"conditions": [{"type": "Ready", "status": "False", "message": "boom"}]}});
        let now = "2026-04-21T09:30:00Z"
            .parse()
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let row = row(6, r, &obj, now, Include::Metadata);
        assert_eq!(row["cells"], json!(["apps", "30m", "False", "boom"]));
        assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(columns(6, r).as_array().map(Vec::len), Some(4));
    }
}
