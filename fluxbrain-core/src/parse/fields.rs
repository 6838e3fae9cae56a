//! Typed, path-aware access to `serde_json::Value` fields.
//!
//! Paths are built on the stack and only rendered when a field is wrong, so reading a valid
//! object allocates nothing for error reporting.

use std::fmt;

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::error::Problem;

/// Where a field sits in a document, e.g. `status.conditions[2].type`.
#[derive(Clone, Copy)]
pub(crate) enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl<'p> Path<'p> {
    pub(crate) fn key(&'p self, key: &'p str) -> Path<'p> {
        Path::Key(self, key)
    }

    pub(crate) fn index(&'p self, index: usize) -> Path<'p> {
        Path::Index(self, index)
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

/// A field error before it is attached to the object it belongs to.
#[derive(Debug)]
pub(crate) struct FieldError {
    pub field: String,
    pub problem: Problem,
}

impl FieldError {
    pub(crate) fn new(path: &Path<'_>, problem: Problem) -> Self {
        FieldError {
            field: path.to_string(),
            problem,
        }
    }

    fn wrong_type(path: &Path<'_>, expected: &'static str, found: &Value) -> Self {
        Self::new(
            path,
            Problem::WrongType {
                expected,
                found: describe(found),
            },
        )
    }
}

pub(crate) type Field<T> = Result<T, FieldError>;

/// Describes a JSON value for an error message without dumping it whole.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ({:?})", shorten(s)),
        Value::Array(a) => format!("a list of {} items", a.len()),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

/// The first 60 characters of a value, for messages.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

/// The mapping at `value`, or an error if it is something else. Null counts as absent.
pub(crate) fn object<'v>(
    value: Option<&'v Value>,
    path: &Path<'_>,
) -> Field<Option<&'v Map<String, Value>>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(FieldError::wrong_type(path, "a mapping", other)),
    }
}

/// The list at `value`, or an error if it is something else. Null counts as absent.
pub(crate) fn array<'v>(value: Option<&'v Value>, path: &Path<'_>) -> Field<Option<&'v [Value]>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(other) => Err(FieldError::wrong_type(path, "a list", other)),
    }
}

/// The string at `value`, or an error if it is something else. Null counts as absent.
pub(crate) fn string<'v>(value: Option<&'v Value>, path: &Path<'_>) -> Field<Option<&'v str>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(FieldError::wrong_type(path, "a string", other)),
    }
}

/// A required, non-empty string.
pub(crate) fn required_string<'v>(value: Option<&'v Value>, path: &Path<'_>) -> Field<&'v str> {
    match string(value, path)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(FieldError::new(path, Problem::Missing)),
    }
}

/// An integer; Kubernetes integers are sometimes quoted by hand-written files, so a string
/// holding an integer is accepted too.
pub(crate) fn integer(value: Option<&Value>, path: &Path<'_>) -> Field<Option<i64>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| FieldError::wrong_type(path, "an integer", &Value::Number(n.clone()))),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| {
            FieldError::new(
                path,
                Problem::Invalid {
                    value: shorten(s),
                    expected: "an integer",
                },
            )
        }),
        Some(other) => Err(FieldError::wrong_type(path, "an integer", other)),
    }
}

/// A boolean; absent is `false`.
pub(crate) fn boolean(value: Option<&Value>, path: &Path<'_>) -> Field<bool> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(FieldError::wrong_type(path, "a boolean", other)),
    }
}

/// An RFC 3339 time, as Kubernetes writes `metav1.Time` and `metav1.MicroTime`.
pub(crate) fn time(value: Option<&Value>, path: &Path<'_>) -> Field<Option<Timestamp>> {
    match string(value, path)? {
        None | Some("") => Ok(None),
        Some(s) => parse_rfc3339(s).map(Some).ok_or_else(|| {
            FieldError::new(
                path,
                Problem::Invalid {
                    value: shorten(s),
                    expected: "an RFC 3339 time such as 2026-04-21T09:14:07Z",
                },
            )
        }),
    }
}

/// Parses an RFC 3339 time with a `T` separator and an offset (`Z` or `±hh:mm`).
pub(crate) fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    // jiff also accepts a space separator and other ISO 8601 forms; Kubernetes does not.
    if s.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    s.parse().ok()
}
