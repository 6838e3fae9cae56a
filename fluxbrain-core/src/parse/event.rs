//! Kubernetes events from JSON: core/v1 `Event` and events.k8s.io/v1 `Event`.

use serde_json::{Map, Value};

use super::fields::{Field, FieldError, Path, integer, object, required_string, string, time};
use crate::error::Problem;
use crate::model::event::KubeEvent;
use crate::model::kind::{Kind, group_of};
use crate::model::object::ObjectRef;
use crate::text::truncate_in_place;

/// The longest event message kept (the API server's own limit is 1 KiB for core events created
/// by the recorder; events from files may be longer).
const MAX_EVENT_MESSAGE: usize = 32768;

/// Reads a core/v1 (`events_k8s_io == false`) or events.k8s.io/v1 event.
pub(crate) fn parse_event(doc: &Map<String, Value>, events_k8s_io: bool) -> Field<KubeEvent> {
    let root = Path::Root;
    let metadata_path = root.key("metadata");
    let metadata = object(doc.get("metadata"), &metadata_path)?;
    let meta = |k: &str| metadata.and_then(|m| m.get(k));
    let own_namespace =
        string(meta("namespace"), &metadata_path.key("namespace"))?.unwrap_or_default();

    let (involved_key, message_key, count_key, first_key, last_key, reporter_key, source_key) =
        if events_k8s_io {
            (
                "regarding",
                "note",
                "deprecatedCount",
                "deprecatedFirstTimestamp",
                "deprecatedLastTimestamp",
                "reportingController",
                "deprecatedSource",
            )
        } else {
            (
                "involvedObject",
                "message",
                "count",
                "firstTimestamp",
                "lastTimestamp",
                "reportingComponent",
                "source",
            )
        };

    let involved_path = root.key(involved_key);
    let involved = object(doc.get(involved_key), &involved_path)?
        .ok_or_else(|| FieldError::new(&involved_path, Problem::Missing))?;
    let involved_api =
        string(involved.get("apiVersion"), &involved_path.key("apiVersion"))?.unwrap_or_default();
    let involved_kind = required_string(involved.get("kind"), &involved_path.key("kind"))?;
    let involved_name = required_string(involved.get("name"), &involved_path.key("name"))?;
    let involved_namespace = string(involved.get("namespace"), &involved_path.key("namespace"))?
        .filter(|ns| !ns.is_empty())
        .unwrap_or(own_namespace);

    let series_path = root.key("series");
    let series = object(doc.get("series"), &series_path)?;
    let series_count = integer(
        series.and_then(|s| s.get("count")),
        &series_path.key("count"),
    )?;
    let series_last = time(
        series.and_then(|s| s.get("lastObservedTime")),
        &series_path.key("lastObservedTime"),
    )?;
    let event_time = time(doc.get("eventTime"), &root.key("eventTime"))?;
    let created = time(
        meta("creationTimestamp"),
        &metadata_path.key("creationTimestamp"),
    )?;
    let first = time(doc.get(first_key), &root.key(first_key))?
        .or(event_time)
        .or(created);
    let last = time(doc.get(last_key), &root.key(last_key))?
        .or(series_last)
        .or(event_time)
        .or(first);
    let count = integer(doc.get(count_key), &root.key(count_key))?
        .or(series_count)
        .unwrap_or(1)
        .max(1);

    let source_path = root.key(source_key);
    let source_component = object(doc.get(source_key), &source_path)?
        .map(|s| string(s.get("component"), &source_path.key("component")))
        .transpose()?
        .flatten();
    let reporting_controller = string(doc.get(reporter_key), &root.key(reporter_key))?
        .filter(|s| !s.is_empty())
        .or(source_component.filter(|s| !s.is_empty()))
        .map(str::to_owned);

    let annotations_path = metadata_path.key("annotations");
    let annotations = object(meta("annotations"), &annotations_path)?;
    let mut revision = None;
    let mut origin_revision = None;
    for (k, v) in annotations.into_iter().flatten() {
        let Some((group, key)) = k.rsplit_once('/') else {
            continue;
        };
        if !group.ends_with(".toolkit.fluxcd.io") {
            continue;
        }
        let slot = match key {
            "revision" => &mut revision,
            "originRevision" => &mut origin_revision,
            _ => continue,
        };
        *slot = string(Some(v), &annotations_path.key(k))?.map(str::to_owned);
    }

    let mut message = string(doc.get(message_key), &root.key(message_key))?
        .unwrap_or_default()
        .to_owned();
    truncate_in_place(&mut message, MAX_EVENT_MESSAGE);

    Ok(KubeEvent {
        involved: ObjectRef::new(
            Kind::from_api(involved_api, involved_kind),
            involved_namespace,
            involved_name,
        ),
        involved_group: group_of(involved_api).to_owned(),
        involved_uid: string(involved.get("uid"), &involved_path.key("uid"))?
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        type_: string(doc.get("type"), &root.key("type"))?
            .unwrap_or_default()
            .to_owned(),
        reason: string(doc.get("reason"), &root.key("reason"))?
            .unwrap_or_default()
            .to_owned(),
        message,
        count,
        first,
        last,
        reporting_controller,
        revision,
        origin_revision,
    })
}
