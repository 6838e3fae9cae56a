//! Message layouts as tables, and the one decoder that turns any of them into JSON.
//!
//! Each [`Message`] lists the fields of a `generated.proto` message with their JSON names and
//! [`Shape`]s. The decoder gives the JSON the API server's own JSON encoding would: a Go value
//! (not a pointer) that is empty is omitted, a pointer that was sent is kept even when zero.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use prost::encoding::WireType;
use serde_json::{Map, Value};

use super::wire::{Malformed, Reader, describe, text};

/// The fields of one protobuf message.
pub(crate) type Message = &'static [Field];

/// One field of a protobuf message.
#[derive(Debug)]
pub(crate) struct Field {
    /// The field number in `generated.proto`.
    pub number: u32,
    /// The JSON name.
    pub name: &'static str,
    /// How the value is read and written.
    pub shape: Shape,
}

/// A field of `number` named `name` in JSON.
pub(crate) const fn field(number: u32, name: &'static str, shape: Shape) -> Field {
    Field {
        number,
        name,
        shape,
    }
}

/// How a field is carried on the wire and written in JSON.
#[derive(Debug)]
pub(crate) enum Shape {
    /// `string`, omitted when empty.
    Text,
    /// `*string`: kept when sent, even empty.
    OptText,
    /// `int64`, omitted when zero.
    Int64,
    /// `*int64`: kept when sent.
    OptInt64,
    /// `*int32`: kept when sent.
    OptInt32,
    /// `*bool`: kept when sent.
    OptBool,
    /// `metav1.Time` (seconds, nanos), written as RFC 3339 in whole seconds; omitted when zero.
    Time,
    /// `metav1.MicroTime`, written as RFC 3339 with six fractional digits; omitted when zero.
    MicroTime,
    /// A nested message, written as an object (a repeated occurrence merges into it).
    Object(Message),
    /// A repeated message, written as an array of objects.
    Objects(Message),
    /// `repeated string`.
    Texts,
    /// `map<string, string>`.
    TextMap,
    /// `map<string, bytes>`, values written in base64 as JSON carries `[]byte`.
    BytesMap,
}

impl Shape {
    /// The wire type a field of this shape must have.
    fn wire_type(&self) -> WireType {
        match self {
            Shape::Int64 | Shape::OptInt64 | Shape::OptInt32 | Shape::OptBool => WireType::Varint,
            _ => WireType::LengthDelimited,
        }
    }
}

/// Decodes a message of layout `message` into a JSON object.
///
/// # Errors
/// [`Malformed`] naming the field (from `message` inwards) whose bytes are not what its
/// layout says. Fields not in the layout are skipped whatever they hold.
pub(crate) fn decode(message: Message, bytes: &[u8]) -> Result<Map<String, Value>, Malformed> {
    let mut out = Map::new();
    merge(message, bytes, &mut out)?;
    Ok(out)
}

/// Reads `bytes` into `out`: a later occurrence of a field replaces a scalar, extends a list
/// or map, and merges into an object, as protobuf merges.
fn merge(message: Message, bytes: &[u8], out: &mut Map<String, Value>) -> Result<(), Malformed> {
    let mut reader = Reader::new(bytes);
    while let Some((number, wire)) = reader.key()? {
        match message.iter().find(|f| f.number == number) {
            Some(field) => read(field, wire, &mut reader, out).map_err(|e| e.within(field.name))?,
            None => reader.skip(number, wire)?,
        }
    }
    Ok(())
}

/// Reads one field of a known layout into `out`.
fn read(
    field: &Field,
    wire: WireType,
    reader: &mut Reader<'_>,
    out: &mut Map<String, Value>,
) -> Result<(), Malformed> {
    let want = field.shape.wire_type();
    if wire != want {
        return Err(Malformed::new(format!(
            "field {} should be {} but is {}",
            field.number,
            describe(want),
            describe(wire)
        )));
    }
    let name = field.name;
    let value = match &field.shape {
        Shape::Text => Some(text(reader.bytes()?)?)
            .filter(|s| !s.is_empty())
            .map(Value::String),
        Shape::OptText => Some(Value::String(text(reader.bytes()?)?)),
        Shape::Int64 => Some(reader.varint()? as i64)
            .filter(|n| *n != 0)
            .map(Value::from),
        Shape::OptInt64 => Some(Value::from(reader.varint()? as i64)),
        // int32 is sent sign-extended to 64 bits: the low 32 bits are the value.
        Shape::OptInt32 => Some(Value::from(reader.varint()? as i32)),
        Shape::OptBool => Some(Value::Bool(reader.varint()? != 0)),
        Shape::Time => time(reader.bytes()?, 0)?.map(Value::String),
        Shape::MicroTime => time(reader.bytes()?, 6)?.map(Value::String),
        Shape::Object(message) => {
            let mut object = take_object(out, name);
            merge(message, reader.bytes()?, &mut object)?;
            Some(Value::Object(object))
        }
        Shape::Objects(message) => {
            let mut items = take_array(out, name);
            items.push(Value::Object(decode(message, reader.bytes()?)?));
            Some(Value::Array(items))
        }
        Shape::Texts => {
            let mut items = take_array(out, name);
            items.push(Value::String(text(reader.bytes()?)?));
            Some(Value::Array(items))
        }
        Shape::TextMap | Shape::BytesMap => {
            let binary = matches!(field.shape, Shape::BytesMap);
            let (key, value) = entry(reader.bytes()?, binary)?;
            let mut map = take_object(out, name);
            map.insert(key, value);
            Some(Value::Object(map))
        }
    };
    match value {
        Some(value) => out.insert(name.to_string(), value),
        None => out.remove(name),
    };
    Ok(())
}

/// The object read so far at `name`, taken out to be extended and put back.
fn take_object(out: &mut Map<String, Value>, name: &str) -> Map<String, Value> {
    match out.remove(name) {
        Some(Value::Object(object)) => object,
        _ => Map::new(),
    }
}

/// The list read so far at `name`, taken out to be extended and put back.
fn take_array(out: &mut Map<String, Value>, name: &str) -> Vec<Value> {
    match out.remove(name) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// A map entry: key (1) and value (2), the value base64-encoded when `binary`.
fn entry(bytes: &[u8], binary: bool) -> Result<(String, Value), Malformed> {
    let (mut key, mut value) = (String::new(), Value::String(String::new()));
    let mut reader = Reader::new(bytes);
    while let Some((number, wire)) = reader.key()? {
        match (number, wire) {
            (1, WireType::LengthDelimited) => key = text(reader.bytes()?)?,
            (2, WireType::LengthDelimited) => {
                let raw = reader.bytes()?;
                value = Value::String(if binary {
                    STANDARD.encode(raw)
                } else {
                    text(raw).map_err(|e| e.within(&format!("[{key:?}]")))?
                });
            }
            (1 | 2, other) => {
                return Err(Malformed::new(format!(
                    "map entry field {number} should be length-delimited bytes but is {}",
                    describe(other)
                )));
            }
            _ => reader.skip(number, wire)?,
        }
    }
    Ok((key, value))
}

/// A `metav1.Time` or `MicroTime` (seconds 1, nanos 2) in RFC 3339 with `digits` fractional
/// digits, as Go writes them in JSON; `None` for the zero time (Go writes `null`).
fn time(bytes: &[u8], digits: usize) -> Result<Option<String>, Malformed> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut reader = Reader::new(bytes);
    while let Some((number, wire)) = reader.key()? {
        match (number, wire) {
            (1, WireType::Varint) => seconds = reader.varint()? as i64,
            (2, WireType::Varint) => nanos = reader.varint()? as i32,
            (1 | 2, other) => {
                return Err(Malformed::new(format!(
                    "time field {number} should be a varint but is {}",
                    describe(other)
                )));
            }
            _ => reader.skip(number, wire)?,
        }
    }
    if seconds == 0 && nanos == 0 {
        return Ok(None);
    }
    let at = Timestamp::new(seconds, nanos).map_err(|e| {
        Malformed::new(format!(
            "{seconds} seconds and {nanos} nanoseconds is not a time ({e})"
        ))
    })?;
    let at = if digits == 0 {
        Timestamp::from_second(at.as_second()).unwrap_or(at)
    } else {
        at
    };
    Ok(Some(format!("{at:.digits$}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const INNER: Message = &[field(1, "items", Shape::Texts)];
    const OUTER: Message = &[
        field(1, "name", Shape::Text),
        field(2, "count", Shape::Int64),
        field(3, "inner", Shape::Object(INNER)),
        field(4, "labels", Shape::TextMap),
        field(5, "blobs", Shape::BytesMap),
        field(6, "flag", Shape::OptBool),
        field(7, "small", Shape::OptInt32),
        field(8, "at", Shape::Time),
        field(9, "micro", Shape::MicroTime),
    ];

    fn len(field: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![field << 3 | 2, u8::try_from(bytes.len()).unwrap()];
        out.extend_from_slice(bytes);
        out
    }

    fn varint(field: u8, mut value: u64) -> Vec<u8> {
        let mut out = vec![field << 3];
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    #[test]
    fn empty_values_are_omitted_and_pointers_kept() {
        let bytes = [
            len(1, b""),
            varint(2, 0),
            varint(6, 0),
            len(8, &[]),
            varint(7, (-5i64) as u64),
        ]
        .concat();
        assert_eq!(
            Value::Object(decode(OUTER, &bytes).unwrap()),
            json!({"flag": false, "small": -5})
        );
    }

    #[test]
    fn maps_lists_and_objects_merge_as_protobuf_does() {
        let bytes = [
            len(4, &[len(1, b"a"), len(2, b"1")].concat()),
            len(4, &[len(1, b"b"), len(2, b"")].concat()),
            len(3, &len(1, b"x")),
            len(3, &len(1, b"y")),
            len(5, &[len(1, b"k"), len(2, &[0, 255])].concat()),
            len(1, b"first"),
            len(1, b"second"),
            varint(2, 42),
        ]
        .concat();
        assert_eq!(
            Value::Object(decode(OUTER, &bytes).unwrap()),
            json!({
                "name": "second",
                "count": 42,
                "inner": {"items": ["x", "y"]},
                "labels": {"a": "1", "b": ""},
                "blobs": {"k": "AP8="}
            })
        );
    }

    #[test]
    fn times_are_written_as_go_writes_them() {
        let at = [varint(1, 1_776_763_800), varint(2, 123_456_789)].concat();
        let bytes = [len(8, &at), len(9, &at)].concat();
        assert_eq!(
            Value::Object(decode(OUTER, &bytes).unwrap()),
            json!({"at": "2026-04-21T09:30:00Z", "micro": "2026-04-21T09:30:00.123456Z"})
        );
    }

    #[test]
    fn unknown_fields_are_skipped_whatever_their_wire_type() {
        let bytes = [
            varint(14, 7),
            len(15, b"\xff\xfe"),
            vec![0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8],
            len(1, b"kept"),
        ]
        .concat();
        assert_eq!(
            Value::Object(decode(OUTER, &bytes).unwrap()),
            json!({"name": "kept"})
        );
    }

    #[test]
    fn errors_name_the_field_and_the_problem() {
        let wrong_wire = varint(3, 1);
        assert_eq!(
            decode(OUTER, &wrong_wire).unwrap_err().to_string(),
            "inner: field 3 should be length-delimited bytes but is a varint"
        );
        let bad_utf8 = len(4, &[len(1, b"k"), len(2, b"\xff")].concat());
        let err = decode(OUTER, &bad_utf8).unwrap_err();
        assert_eq!(err.at, "labels[\"k\"]");
        assert!(err.problem.starts_with("the string is not valid UTF-8"));
        let truncated = len(3, &[0x0a, 0x09, b'a']);
        assert_eq!(
            decode(OUTER, &truncated).unwrap_err().to_string(),
            "inner.items: a length of 9 bytes runs past the end of the message (1 left)"
        );
    }
}
