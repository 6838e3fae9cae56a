//! What the fuzz targets share: one readable input format for the targets that need more than
//! one byte string.
//!
//! An input is a head and a body, split at the first empty line, as in HTTP: the head's first
//! line, then `name: value` lines, then the body's bytes as they are. Seeds stay readable
//! (`fuzz/seeds/`) and mutations reach every part. Without an empty line the whole input is
//! the head and the body is empty.

/// An input split into its first line, its `name: value` lines and its body.
#[derive(Debug)]
pub struct Message<'a> {
    /// The first line (a status code, or empty).
    pub first: &'a [u8],
    /// The `name: value` lines, trimmed; a line without `:` has an empty value.
    pub fields: Vec<(&'a [u8], &'a [u8])>,
    /// Everything after the first empty line.
    pub body: &'a [u8],
}

impl<'a> Message<'a> {
    /// Splits `data`; never fails.
    pub fn parse(data: &'a [u8]) -> Message<'a> {
        let (head, body) = match find(data, b"\n\n") {
            Some(at) => (&data[..at], &data[at + 2..]),
            None => (data, &data[data.len()..]),
        };
        let mut lines = head.split(|&b| b == b'\n');
        let first = lines.next().unwrap_or_default();
        let fields = lines
            .map(|line| match line.iter().position(|&b| b == b':') {
                Some(at) => (trim(&line[..at]), trim(&line[at + 1..])),
                None => (trim(line), &line[line.len()..]),
            })
            .collect();
        Message {
            first,
            fields,
            body,
        }
    }

    /// The first line as an HTTP status code, if it is a number that fits in a `u16`.
    pub fn status(&self) -> Option<u16> {
        std::str::from_utf8(self.first).ok()?.trim().parse().ok()
    }

    /// The value of the first field named `name`.
    pub fn field(&self, name: &str) -> Option<&'a [u8]> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, v)| *v)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}
