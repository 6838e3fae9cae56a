//! Canonical JSON (DESIGN.md section 7): the exact bytes fluxbrain emits.
//!
//! Keys come in struct declaration order (maps are `BTreeMap`), arrays are sorted by the
//! builder, times are whole-second UTC, and there are no floats, so equal events are equal
//! bytes on every platform. Compact by default, two-space indented on request.

use serde::Serialize;

use crate::errorbrain::ErrorEvent;

/// The compact canonical bytes of `event`.
pub fn to_vec(event: &ErrorEvent) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    write(&mut out, event, false);
    out
}

/// The indented canonical text of `event`.
pub fn to_string_pretty(event: &ErrorEvent) -> String {
    let mut out = Vec::with_capacity(4096);
    write(&mut out, event, true);
    // serde_json writes UTF-8 only.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends `event` to `out`, compact or indented.
pub fn write(out: &mut Vec<u8>, event: &ErrorEvent, pretty: bool) {
    // Serializing these types into a Vec cannot fail: no maps with non-string keys, no I/O.
    let _ = if pretty {
        event.serialize(&mut serde_json::Serializer::pretty(&mut *out))
    } else {
        event.serialize(&mut serde_json::Serializer::new(&mut *out))
    };
}

/// NDJSON: one event per line, in the order of section 7 (cluster, namespace, kind, name).
///
/// Sorts a copy of the references; with `pretty`, each event spans several lines and events
/// are separated by a newline.
pub fn to_ndjson(events: &[ErrorEvent], pretty: bool) -> Vec<u8> {
    let mut sorted: Vec<&ErrorEvent> = events.iter().collect();
    sorted.sort_by(|a, b| stream_key(a).cmp(&stream_key(b)));
    let mut out = Vec::with_capacity(events.len() * 2048);
    for event in sorted {
        write(&mut out, event, pretty);
        out.push(b'\n');
    }
    out
}

fn stream_key(e: &ErrorEvent) -> (&str, &str, &str, &str) {
    let m = &e.metadata;
    (&m.cluster, &m.namespace, &m.kind, &m.name)
}
