//! Kubernetes protobuf request bodies, decoded into the JSON the rest of the server works on.
//!
//! kubectl's typed clients (`kubectl create configmap`, `kubectl create namespace`) send
//! `application/vnd.kubernetes.protobuf`: the prefix `k8s\0`, then a `runtime.Unknown` whose
//! `typeMeta` names the kind and whose `raw` holds the object's own message. The simulator
//! reads the kinds of [`kinds::KINDS`] (ConfigMap, Namespace, Lease, DeleteOptions) into the
//! same JSON their JSON bodies give; any other kind is refused with 415, asking for JSON.
//! Answers stay JSON: these clients accept `application/json` too.

mod kinds;
mod shape;
mod wire;

use serde_json::Value;

use super::status::ApiError;
use shape::{Shape, field};
use wire::{Malformed, Reader, text};

/// The media type of a Kubernetes protobuf body.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// What every Kubernetes protobuf body starts with.
const PREFIX: &[u8] = b"k8s\0";

/// `runtime.TypeMeta` (not `meta.v1.TypeMeta`, which numbers its fields the other way round).
const TYPE_META: shape::Message = &[
    field(1, "apiVersion", Shape::Text),
    field(2, "kind", Shape::Text),
];

/// Decodes a protobuf body into the JSON object its kind's JSON encoding would give.
///
/// # Errors
/// 400 BadRequest naming what is malformed and where (`ConfigMap.metadata.labels: ...`);
/// 415 UnsupportedMediaType, naming the kind, for a kind without a layout or an encoded body.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = body.strip_prefix(PREFIX).ok_or_else(|| {
        malformed(&Malformed::new(
            "it does not start with the Kubernetes protobuf prefix \"k8s\\x00\"",
        ))
    })?;
    let unknown = Unknown::read(envelope).map_err(|e| malformed(&e.within("runtime.Unknown")))?;
    if unknown.kind.is_empty() {
        return Err(malformed(&Malformed::new(
            "runtime.Unknown.typeMeta names no kind",
        )));
    }
    let what = format!("{} ({})", unknown.kind, unknown.api_version);
    if !unknown.content_encoding.is_empty() {
        return Err(ApiError::unsupported_media_type(format!(
            "the protobuf body of {what} has content encoding {:?}, which the simulator does not read: send it as JSON (Content-Type: application/json)",
            unknown.content_encoding
        )));
    }
    let Some(kind) = kinds::find(&unknown.api_version, &unknown.kind) else {
        let known: Vec<&str> = kinds::KINDS.iter().map(|k| k.kind).collect();
        return Err(ApiError::unsupported_media_type(format!(
            "the simulator cannot decode a protobuf body of kind {what} (it decodes {}): send it as JSON (Content-Type: application/json)",
            known.join(", ")
        )));
    };
    let mut object =
        shape::decode(kind.message, unknown.raw).map_err(|e| malformed(&e.within(kind.kind)))?;
    if !unknown.api_version.is_empty() {
        object.insert("apiVersion".to_string(), Value::String(unknown.api_version));
    }
    object.insert("kind".to_string(), Value::String(unknown.kind));
    Ok(Value::Object(object))
}

/// A 400 for a body that is not well-formed protobuf.
fn malformed(err: &Malformed) -> ApiError {
    ApiError::bad_request(format!("error decoding protobuf body: {err}"))
}

/// `runtime.Unknown`: the envelope of every Kubernetes protobuf body.
#[derive(Debug, Default)]
struct Unknown<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
}

impl<'a> Unknown<'a> {
    /// Reads typeMeta (1), raw (2) and contentEncoding (3); contentType (4) and anything
    /// else is skipped.
    fn read(bytes: &'a [u8]) -> Result<Self, Malformed> {
        let mut unknown = Unknown::default();
        let mut reader = Reader::new(bytes);
        while let Some((number, wire)) = reader.key()? {
            let wanted = match number {
                1 => "typeMeta",
                2 => "raw",
                3 => "contentEncoding",
                _ => {
                    reader.skip(number, wire)?;
                    continue;
                }
            };
            if wire != prost::encoding::WireType::LengthDelimited {
                return Err(Malformed::new(format!(
                    "field {number} should be length-delimited bytes but is {}",
                    wire::describe(wire)
                ))
                .within(wanted));
            }
            let value = reader.bytes().map_err(|e| e.within(wanted))?;
            match number {
                1 => {
                    let meta = shape::decode(TYPE_META, value).map_err(|e| e.within(wanted))?;
                    let get = |key: &str| {
                        meta.get(key)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string()
                    };
                    unknown.api_version = get("apiVersion");
                    unknown.kind = get("kind");
                }
                2 => unknown.raw = value,
                _ => unknown.content_encoding = text(value).map_err(|e| e.within(wanted))?,
            }
        }
        Ok(unknown)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What `kubectl create configmap foo --from-literal=a=b` sends (kubectl 1.33).
    const CREATE_CONFIGMAP: &[u8] = b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x1d\x0a\x13\x0a\x03foo\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x06\x0a\x01a\x12\x01b\x1a\x00\x22\x00";

    /// What `kubectl create namespace x` sends (kubectl 1.33).
    const CREATE_NAMESPACE: &[u8] = b"k8s\x00\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x19\x0a\x11\x0a\x01x\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00";

    fn len(field: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![field << 3 | 2];
        let mut n = bytes.len();
        while n >= 0x80 {
            out.push((n as u8 & 0x7f) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
        out.extend_from_slice(bytes);
        out
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [len(1, api_version.as_bytes()), len(2, kind.as_bytes())].concat();
        [b"k8s\0".to_vec(), len(1, &type_meta), len(2, raw)].concat()
    }

    #[test]
    fn kubectl_create_configmap() {
        assert_eq!(
            decode(CREATE_CONFIGMAP).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "foo"}, "data": {"a": "b"}})
        );
    }

    #[test]
    fn kubectl_create_namespace() {
        assert_eq!(
            decode(CREATE_NAMESPACE).unwrap(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spec": {}, "status": {}})
        );
    }

    #[test]
    fn a_full_configmap_round_trips_every_field() {
        let time = [vec![0x08], vec![0x98, 0x87, 0x9d, 0xcf, 0x06]].concat();
        let owner = [
            len(5, b"apps/v1"),
            len(1, b"Deployment"),
            len(3, b"web"),
            len(4, b"u-1"),
            vec![0x30, 0x01],
        ]
        .concat();
        let meta = [
            len(1, b"cfg"),
            len(3, b"shop"),
            vec![0x38, 0x02],
            len(8, &time),
            len(11, &[len(1, b"app"), len(2, b"web")].concat()),
            len(12, &[len(1, b"note"), len(2, b"hi")].concat()),
            len(13, &owner),
            len(14, b"example.com/keep"),
        ]
        .concat();
        let raw = [
            len(1, &meta),
            len(2, &[len(1, b"k"), len(2, b"v")].concat()),
            len(3, &[len(1, b"bin"), len(2, b"\x00\x01")].concat()),
            vec![0x20, 0x01],
        ]
        .concat();
        assert_eq!(
            decode(&envelope("v1", "ConfigMap", &raw)).unwrap(),
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": "cfg",
                    "namespace": "shop",
                    "generation": 2,
                    "creationTimestamp": "2026-04-21T09:30:00Z",
                    "labels": {"app": "web"},
                    "annotations": {"note": "hi"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u-1", "controller": true}],
                    "finalizers": ["example.com/keep"]
                },
                "data": {"k": "v"},
                "binaryData": {"bin": "AAE="},
                "immutable": true
            })
        );
    }

    #[test]
    fn delete_options_under_any_version() {
        let raw = [
            len(2, &len(2, b"42")),
            len(4, b"Background"),
            len(5, b"All"),
        ]
        .concat();
        assert_eq!(
            decode(&envelope("v1", "DeleteOptions", &raw)).unwrap(),
            json!({"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"resourceVersion": "42"},
                   "propagationPolicy": "Background", "dryRun": ["All"]})
        );
    }

    #[test]
    fn a_lease_with_micro_times() {
        let time = [
            vec![0x08],
            vec![0x98, 0x87, 0x9d, 0xcf, 0x06],
            vec![0x10, 0x88, 0x8c, 0x06],
        ]
        .concat();
        let spec = [len(1, b"me"), vec![0x10, 0x0f], len(4, &time)].concat();
        let raw = [len(1, &len(1, b"lock")), len(2, &spec)].concat();
        assert_eq!(
            decode(&envelope("coordination.k8s.io/v1", "Lease", &raw)).unwrap()["spec"],
            json!({"holderIdentity": "me", "leaseDurationSeconds": 15, "renewTime": "2026-04-21T09:30:00.000099Z"})
        );
    }

    #[test]
    fn a_kind_without_a_layout_is_415_naming_it() {
        let err = decode(&envelope("v1", "Secret", &len(1, &len(1, b"s")))).unwrap_err();
        assert_eq!(err.code, 415);
        assert!(err.message.contains("kind Secret (v1)"), "{}", err.message);
        assert!(err.message.contains("send it as JSON"), "{}", err.message);
        let err = decode(&envelope("apps/v1", "ConfigMap", &[])).unwrap_err();
        assert_eq!(err.code, 415, "{}", err.message);
    }

    #[test]
    fn malformed_bodies_are_400_naming_the_problem() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"{\"kind\":\"ConfigMap\"}",
                "does not start with the Kubernetes protobuf prefix",
            ),
            (
                b"k8s\0\x0a\x05\x0a\x02v1",
                "runtime.Unknown.typeMeta: a length of 5 bytes runs past the end of the message (4 left)",
            ),
            (b"k8s\0\x12\x00", "runtime.Unknown.typeMeta names no kind"),
            (
                b"k8s\0\x08\x01",
                "runtime.Unknown.typeMeta: field 1 should be length-delimited bytes but is a varint",
            ),
        ];
        for (body, want) in cases {
            let err = decode(body).unwrap_err();
            assert_eq!(err.code, 400, "{want}");
            assert!(err.message.starts_with("error decoding protobuf body: "));
            assert!(err.message.contains(want), "{} lacks {want}", err.message);
        }
        let mut truncated = CREATE_CONFIGMAP.to_vec();
        // The data entry announces 6 bytes: make it 60.
        let at = truncated
            .windows(2)
            .position(|w| w == [0x12, 0x06])
            .unwrap();
        truncated[at + 1] = 60;
        let err = decode(&truncated).unwrap_err();
        assert_eq!(err.code, 400);
        assert!(
            err.message.contains(
                "ConfigMap.data: a length of 60 bytes runs past the end of the message (6 left)"
            ),
            "{}",
            err.message
        );
        let bad_label = envelope(
            "v1",
            "ConfigMap",
            &len(1, &len(11, &[len(1, b"k"), vec![0x10, 0x01]].concat())),
        );
        let err = decode(&bad_label).unwrap_err();
        assert_eq!(
            err.message,
            "error decoding protobuf body: ConfigMap.metadata.labels: map entry field 2 should be length-delimited bytes but is a varint"
        );
    }
}
