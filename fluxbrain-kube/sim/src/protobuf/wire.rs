//! Reading a protobuf message key by key, on prost's wire-format primitives.
//!
//! No generated code: a decoder asks for the next key, reads the value of the fields it knows
//! and skips the others, as protobuf requires of unknown fields.

use std::fmt;

use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};

/// What was wrong with a protobuf body, and in which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// Field names from the outermost message inwards, e.g. `ConfigMap.metadata.labels`;
    /// empty for the envelope itself.
    pub at: String,
    /// The problem, e.g. `a length of 200 bytes runs past the end of the message (3 left)`.
    pub problem: String,
}

impl Malformed {
    /// A problem found in the message being read; [`Malformed::within`] adds where.
    pub fn new(problem: impl Into<String>) -> Self {
        Self {
            at: String::new(),
            problem: problem.into(),
        }
    }

    /// Places the problem inside the field (or message) `name`.
    pub fn within(mut self, name: &str) -> Self {
        self.at = if self.at.is_empty() {
            name.to_string()
        } else if self.at.starts_with('[') {
            format!("{name}{}", self.at)
        } else {
            format!("{name}.{}", self.at)
        };
        self
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.at, self.problem)
        }
    }
}

/// prost's description of a decode failure, without its generic prefix.
fn problem(err: &prost::DecodeError) -> Malformed {
    let text = err.to_string();
    let text = text
        .strip_prefix("failed to decode Protobuf message: ")
        .unwrap_or(&text);
    Malformed::new(text.to_string())
}

/// How a wire type reads in a message.
pub(crate) fn describe(wire: WireType) -> &'static str {
    match wire {
        WireType::Varint => "a varint",
        WireType::SixtyFourBit => "a 64-bit value",
        WireType::LengthDelimited => "length-delimited bytes",
        WireType::StartGroup | WireType::EndGroup => "a group",
        WireType::ThirtyTwoBit => "a 32-bit value",
    }
}

/// The fields of one message, read front to back.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads the message encoded in `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The next field's number and wire type; `None` at the end of the message.
    pub fn key(&mut self) -> Result<Option<(u32, WireType)>, Malformed> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        decode_key(&mut self.rest)
            .map(Some)
            .map_err(|e| problem(&e))
    }

    /// The value of a varint field (int32, int64, bool, enum).
    pub fn varint(&mut self) -> Result<u64, Malformed> {
        decode_varint(&mut self.rest).map_err(|e| problem(&e))
    }

    /// The value of a length-delimited field (string, bytes, message, map entry).
    pub fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = decode_varint(&mut self.rest).map_err(|e| problem(&e))?;
        let left = self.rest.len();
        match usize::try_from(len) {
            Ok(len) if len <= left => {
                let (value, rest) = self.rest.split_at(len);
                self.rest = rest;
                Ok(value)
            }
            _ => Err(Malformed::new(format!(
                "a length of {len} bytes runs past the end of the message ({left} left)"
            ))),
        }
    }

    /// Skips the value of a field the decoder does not know.
    pub fn skip(&mut self, number: u32, wire: WireType) -> Result<(), Malformed> {
        skip_field(wire, number, &mut self.rest, DecodeContext::default())
            .map_err(|e| problem(&e).within(&format!("field {number}")))
    }
}

/// A string field's value: protobuf strings are UTF-8.
pub(crate) fn text(bytes: &[u8]) -> Result<String, Malformed> {
    std::str::from_utf8(bytes)
        .map(str::to_string)
        .map_err(|e| Malformed::new(format!("the string is not valid UTF-8 ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_varints_and_length_delimited_values() {
        // field 1 = "ab", field 2 = 300, field 3 = 1 (unknown here, skipped)
        let bytes = [0x0a, 0x02, b'a', b'b', 0x10, 0xac, 0x02, 0x18, 0x01];
        let mut r = Reader::new(&bytes);
        assert_eq!(r.key(), Ok(Some((1, WireType::LengthDelimited))));
        assert_eq!(r.bytes(), Ok(&b"ab"[..]));
        assert_eq!(r.key(), Ok(Some((2, WireType::Varint))));
        assert_eq!(r.varint(), Ok(300));
        assert_eq!(r.key(), Ok(Some((3, WireType::Varint))));
        assert_eq!(r.skip(3, WireType::Varint), Ok(()));
        assert_eq!(r.key(), Ok(None));
    }

    #[test]
    fn a_length_past_the_end_names_both_lengths() {
        let mut r = Reader::new(&[0x0a, 0x05, b'a']);
        assert_eq!(r.key(), Ok(Some((1, WireType::LengthDelimited))));
        let err = r.bytes().unwrap_err();
        assert_eq!(
            err.problem,
            "a length of 5 bytes runs past the end of the message (1 left)"
        );
    }

    #[test]
    fn bad_keys_and_varints_are_described_by_prost() {
        assert_eq!(
            Reader::new(&[0x00]).key().unwrap_err().problem,
            "invalid tag value: 0"
        );
        assert_eq!(
            Reader::new(&[0x80, 0x80]).varint().unwrap_err().problem,
            "invalid varint"
        );
        let err = Reader::new(&[0x0f]).key().unwrap_err();
        assert_eq!(err.problem, "invalid wire type value: 7");
    }

    #[test]
    fn skipping_a_truncated_unknown_field_names_it() {
        let mut r = Reader::new(&[0x3a, 0x09, 0x01]);
        assert_eq!(r.key(), Ok(Some((7, WireType::LengthDelimited))));
        let err = r.skip(7, WireType::LengthDelimited).unwrap_err();
        assert_eq!(err.to_string(), "field 7: buffer underflow");
    }

    #[test]
    fn locations_nest_outwards() {
        let err = Malformed::new("bad")
            .within("labels")
            .within("metadata")
            .within("ConfigMap");
        assert_eq!(err.to_string(), "ConfigMap.metadata.labels: bad");
    }
}
