//! Incident fingerprints, compatible with the Go fluxbrain (DESIGN.md section 8).
//!
//! The fingerprint is the first 16 bytes (32 hex characters) of SHA-256 over the bytes Go's
//! `encoding/json` writes for `{"cluster","namespace","kind","name","reason","gitRev"}`, so
//! dedupe keys survive a migration from the Go implementation.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// The inputs of a fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FingerprintInput<'a> {
    /// Cluster name.
    pub cluster: &'a str,
    /// Object namespace.
    pub namespace: &'a str,
    /// Object kind.
    pub kind: &'a str,
    /// Object name.
    pub name: &'a str,
    /// The failing condition's reason.
    pub reason: &'a str,
    /// The revision fact of the kind (empty when there is none).
    pub revision: &'a str,
}

/// An incident fingerprint: 16 bytes, shown as 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 16]);

impl Fingerprint {
    /// Computes the fingerprint of `input`.
    pub fn of(input: &FingerprintInput<'_>) -> Fingerprint {
        // One contiguous buffer, on the stack for the usual sizes, and one hash call: much
        // cheaper than feeding the hasher a dozen small pieces or allocating.
        let mut hasher = GoJsonHasher::default();
        hasher.raw(b"{\"cluster\":");
        hasher.string(input.cluster);
        hasher.raw(b",\"namespace\":");
        hasher.string(input.namespace);
        hasher.raw(b",\"kind\":");
        hasher.string(input.kind);
        hasher.raw(b",\"name\":");
        hasher.string(input.name);
        hasher.raw(b",\"reason\":");
        hasher.string(input.reason);
        hasher.raw(b",\"gitRev\":");
        hasher.string(input.revision);
        hasher.raw(b"}");
        let digest = Sha256::digest(hasher.bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        Fingerprint(bytes)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Parses 32 hex characters.
    pub fn parse(hex: &str) -> Option<Fingerprint> {
        let hex = hex.as_bytes();
        if hex.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Fingerprint(bytes))
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut hex = [0u8; 32];
        write_hex(&self.0, &mut hex);
        // Hex digits are ASCII.
        f.write_str(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Fingerprint::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not a fingerprint: {s:?}")))
    }
}

/// Writes lowercase hex of `bytes` into `out` (twice as long).
pub(crate) fn write_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

/// Bytes that may need escaping (or start U+2028/U+2029); all others are copied as they are.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'&' as usize] = true;
    table[0xE2] = true;
    table
};

/// Collects the bytes Go's `encoding/json` would write: in a stack buffer, spilling to the heap
/// only for unusually long names.
struct GoJsonHasher {
    stack: [u8; 256],
    len: usize,
    spill: Vec<u8>,
}

impl Default for GoJsonHasher {
    fn default() -> Self {
        GoJsonHasher {
            stack: [0; 256],
            len: 0,
            spill: Vec::new(),
        }
    }
}

impl GoJsonHasher {
    #[inline(always)]
    fn raw(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(slot) = self.stack.get_mut(self.len..end)
            && self.spill.is_empty()
        {
            slot.copy_from_slice(bytes);
            self.len = end;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.stack[..self.len]);
            }
            self.spill.extend_from_slice(bytes);
        }
    }

    fn bytes(&self) -> &[u8] {
        if self.spill.is_empty() {
            &self.stack[..self.len]
        } else {
            &self.spill
        }
    }

    /// A JSON string with Go's escaping: `"` `\` and control characters, `\b \f \n \r \t` by
    /// name, other controls as `\u00XX`, `<` `>` `&` as `\u003c` `\u003e` `\u0026`, and
    /// U+2028/U+2029 as `\u2028`/`\u2029`.
    #[inline]
    fn string(&mut self, s: &str) {
        self.raw(b"\"");
        let bytes = s.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if !SPECIAL[usize::from(b)] {
                i += 1;
                continue;
            }
            let escape: Option<&[u8]> = match b {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0x08 => Some(b"\\b"),
                0x0c => Some(b"\\f"),
                b'<' => Some(b"\\u003c"),
                b'>' => Some(b"\\u003e"),
                b'&' => Some(b"\\u0026"),
                // U+2028 and U+2029 are E2 80 A8 and E2 80 A9 in UTF-8.
                0xE2 if bytes.get(i + 1) == Some(&0x80)
                    && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) =>
                {
                    Some(if bytes[i + 2] == 0xA8 {
                        b"\\u2028"
                    } else {
                        b"\\u2029"
                    })
                }
                _ => None,
            };
            if let Some(escape) = escape {
                self.raw(&bytes[start..i]);
                self.raw(escape);
                i += if b == 0xE2 { 3 } else { 1 };
                start = i;
            } else if b < 0x20 {
                self.raw(&bytes[start..i]);
                let mut esc = *b"\\u0000";
                write_hex(&[b], &mut esc[4..]);
                self.raw(&esc);
                i += 1;
                start = i;
            } else {
                i += 1;
            }
        }
        self.raw(&bytes[start..]);
        self.raw(b"\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(name: &'a str, revision: &'a str) -> FingerprintInput<'a> {
        FingerprintInput {
            cluster: "prod",
            namespace: "default",
            kind: "Kustomization",
            name,
            reason: "ReconciliationFailed",
            revision,
        }
    }

    #[test]
    fn known_value() {
        let fp = Fingerprint::of(&input("app", "main/abc123"));
        assert_eq!(fp.to_string(), "bb6c27c1eff30860fa11e14d2d10cda7");
    }

    #[test]
    fn parse_round_trips() {
        let fp = Fingerprint::of(&input("app", ""));
        assert_eq!(Fingerprint::parse(&fp.to_string()), Some(fp));
        assert_eq!(Fingerprint::parse("BB6C27C1EFF30860FA11E14D2D10CDA7"), None);
        assert_eq!(Fingerprint::parse("bb6c"), None);
    }

    #[test]
    fn control_characters_escape_like_go() {
        // Go writes \u0001 for U+0001 and \b for U+0008 (Go >= 1.22).
        let mut a = GoJsonHasher::default();
        a.string("\u{1}\u{8}x\u{2029}<&>\u{e2}\u{2027}");
        assert_eq!(
            a.bytes(),
            "\"\\u0001\\bx\\u2029\\u003c\\u0026\\u003e\u{e2}\u{2027}\"".as_bytes()
        );
        let mut long = GoJsonHasher::default();
        let name = "n".repeat(300);
        long.string(&name);
        assert_eq!(
            long.bytes(),
            format!("\"{name}\"").as_bytes(),
            "spills to the heap"
        );
    }
}
