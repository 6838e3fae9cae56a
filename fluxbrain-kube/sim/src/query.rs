//! Query strings: form decoding and typed parameters, each failure a `400`.

use super::status::ApiError;

/// A decoded query string (later values of a repeated key win, as Go's `Get` takes the first;
/// kubectl never repeats one).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `a=b&c=d` (`+` is a space, `%XX` a byte).
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Self { pairs })
    }

    /// The first value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean (`true`, `false`, `1`, `0`; empty is false).
    pub fn bool(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("" | "false" | "0" | "False") => Ok(false),
            Some("true" | "1" | "True") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value for {key}: {other:?} is not a boolean"
            ))),
        }
    }

    /// A non-negative integer.
    pub fn non_negative(&self, key: &str) -> Result<Option<usize>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "{key}: Invalid value: {v:?}: must be a non-negative integer"
                ))
            }),
        }
    }
}

fn decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = byte else {
                    return Err(ApiError::bad_request(format!(
                        "invalid URL escape in query: {s:?}"
                    )));
                };
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("query is not valid UTF-8"))
}

/// Decodes a path segment (`%XX` only).
pub(crate) fn decode_segment(s: &str) -> Result<String, ApiError> {
    if s.contains('%') {
        decode(&s.replace('+', "%2B"))
    } else {
        Ok(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_selectors() {
        let q = Query::parse(Some("labelSelector=app+in+%28a%2Cb%29&limit=5&watch=1"));
        let Ok(q) = q else { panic!("valid query") };
        assert_eq!(q.get("labelSelector"), Some("app in (a,b)"));
        assert_eq!(q.non_negative("limit").ok().flatten(), Some(5));
        assert_eq!(q.bool("watch").ok(), Some(true));
        assert!(Query::parse(Some("a=%zz")).is_err());
        assert_eq!(
            Query::parse(Some("limit=x"))
                .and_then(|q| q.non_negative("limit"))
                .map_err(|e| e.code),
            Err(400)
        );
    }
}
