//! The two Event APIs over one storage: core `v1` Events served as `events.k8s.io/v1`.
//!
//! The API server stores one Event type and converts field by field between the two groups;
//! so does the simulator (field names from `k8s.io/kubernetes` `pkg/apis/events/v1` conversion).

use serde_json::{Map, Value};

/// Field pairs: (core `v1` name, `events.k8s.io/v1` name).
const FIELDS: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("reportingInstance", "reportingInstance"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("action", "action"),
    ("reason", "reason"),
    ("related", "related"),
    ("type", "type"),
    ("metadata", "metadata"),
];

/// A stored core Event as `events.k8s.io/v1` serves it.
pub(crate) fn to_events_v1(core: &Value) -> Value {
    convert(core, false, "events.k8s.io/v1")
}

/// An `events.k8s.io/v1` Event as core `v1` stores it.
pub(crate) fn to_core(v1: &Value) -> Value {
    convert(v1, true, "v1")
}

fn convert(obj: &Value, to_core: bool, api_version: &str) -> Value {
    let mut out = Map::new();
    out.insert(
        "apiVersion".to_string(),
        Value::String(api_version.to_string()),
    );
    out.insert("kind".to_string(), Value::String("Event".to_string()));
    for (core, v1) in FIELDS {
        let (from, to) = if to_core { (v1, core) } else { (core, v1) };
        if let Some(value) = obj.get(*from) {
            out.insert((*to).to_string(), value.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_every_field() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "a.1", "namespace": "ns"},
            "involvedObject": {"kind": "Kustomization", "name": "a"},
            "message": "m", "reason": "r", "type": "Warning", "count": 3,
            "firstTimestamp": "2026-04-21T08:00:00Z", "lastTimestamp": "2026-04-21T09:00:00Z",
            "source": {"component": "kustomize-controller"}, "reportingComponent": "kustomize-controller",
            "reportingInstance": "", "eventTime": null
        });
        let v1 = to_events_v1(&core);
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["regarding"]["name"], "a");
        assert_eq!(v1["note"], "m");
        assert_eq!(v1["deprecatedCount"], 3);
        assert_eq!(v1["reportingController"], "kustomize-controller");
        assert_eq!(to_core(&v1), core);
    }
}
