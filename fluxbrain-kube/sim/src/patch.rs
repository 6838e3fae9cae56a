//! Patch documents: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch.

use serde_json::{Map, Value};

/// The patch types the server accepts, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json` (built-in kinds only).
    Strategic,
}

impl PatchType {
    /// The patch type for a `Content-Type`, if supported.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media {
            "application/merge-patch+json" => Some(Self::Merge),
            "application/json-patch+json" => Some(Self::Json),
            "application/strategic-merge-patch+json" => Some(Self::Strategic),
            _ => None,
        }
    }
}

/// Applies a patch document to `target`.
pub(crate) fn apply(kind: PatchType, target: &Value, patch: &Value) -> Result<Value, String> {
    match kind {
        PatchType::Merge => Ok(merge(target, patch)),
        PatchType::Strategic => strategic(target, patch),
        PatchType::Json => json_patch(target, patch),
    }
}

/// RFC 7386: objects merge recursively, `null` deletes, anything else replaces.
pub(crate) fn merge(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut out = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            out.remove(key);
        } else {
            let merged = merge(out.get(key).unwrap_or(&Value::Null), value);
            out.insert(key.clone(), merged);
        }
    }
    Value::Object(out)
}

/// Strategic merge patch for the built-in kinds the simulator writes (ConfigMap, Lease, Event):
/// none of their fields is a list with a merge key, so it is a merge patch plus the `$patch`
/// directives on maps (`replace`, `delete`); lists are replaced.
fn strategic(target: &Value, patch: &Value) -> Result<Value, String> {
    let Value::Object(patch_map) = patch else {
        return Err("strategic merge patch must be a JSON object".to_string());
    };
    match patch_map.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut out = patch_map.clone();
            out.remove("$patch");
            return Ok(Value::Object(out));
        }
        Some("delete") => return Ok(Value::Null),
        Some(other) => return Err(format!("unknown patch type: {other}")),
        None => {}
    }
    let mut out = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch_map {
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                out.remove(key);
            }
            Value::Object(_) => {
                let merged = strategic(out.get(key).unwrap_or(&Value::Null), value)?;
                if merged.is_null() {
                    out.remove(key);
                } else {
                    out.insert(key.clone(), merged);
                }
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(Value::Object(out))
}

/// RFC 6902 JSON patch.
fn json_patch(target: &Value, patch: &Value) -> Result<Value, String> {
    let Value::Array(ops) = patch else {
        return Err("json patch must be a JSON array".to_string());
    };
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        let name = op
            .get("op")
            .and_then(Value::as_str)
            .ok_or(format!("operation {i}: missing \"op\""))?;
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or(format!("operation {i}: missing \"path\""))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or(format!("operation {i}: missing \"value\""))
        };
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or(format!("operation {i}: missing \"from\""))
        };
        match name {
            "add" => add(&mut doc, path, value()?),
            "remove" => remove(&mut doc, path).map(drop),
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, value()?)
            }
            "move" => {
                let v = remove(&mut doc, from()?)?;
                add(&mut doc, path, v)
            }
            "copy" => {
                let v = doc
                    .pointer(from()?)
                    .cloned()
                    .ok_or(format!("operation {i}: \"from\" does not exist"))?;
                add(&mut doc, path, v)
            }
            "test" => {
                if doc.pointer(path) == Some(&value()?) {
                    Ok(())
                } else {
                    Err(format!("testing value {path} failed"))
                }
            }
            other => Err(format!("unexpected kind of patch operation: {other}")),
        }
        .map_err(|e| format!("operation {i} ({name}): {e}"))?;
    }
    Ok(doc)
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    if path.is_empty() {
        return Err("the root cannot be patched".to_string());
    }
    let Some(idx) = path.rfind('/') else {
        return Err(format!("invalid JSON pointer {path:?}"));
    };
    let last = path[idx + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..idx].to_string(), last))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let (parent, last) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(map)) => {
            map.insert(last, value);
            Ok(())
        }
        Some(Value::Array(list)) => {
            let idx = if last == "-" {
                list.len()
            } else {
                index(&last, list.len() + 1)?
            };
            list.insert(idx, value);
            Ok(())
        }
        _ => Err(format!("doc is missing path: {path}")),
    }
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(map)) => map
            .remove(&last)
            .ok_or(format!("doc is missing key: {path}")),
        Some(Value::Array(list)) => {
            let idx = index(&last, list.len())?;
            Ok(list.remove(idx))
        }
        _ => Err(format!("doc is missing path: {path}")),
    }
}

fn index(token: &str, len: usize) -> Result<usize, String> {
    match token.parse::<usize>() {
        Ok(i) if i < len && (token == "0" || !token.starts_with('0')) => Ok(i),
        _ => Err(format!("invalid array index {token:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        let patch = json!({"a": "z", "c": {"f": null}});
        assert_eq!(merge(&target, &patch), json!({"a": "z", "c": {"d": "e"}}));
        assert_eq!(
            merge(&json!({"a": [1]}), &json!({"a": [2, 3]})),
            json!({"a": [2, 3]})
        );
    }

    #[test]
    fn json_patch_operations() {
        let target = json!({"a": {"b": [1, 2]}, "x": 1});
        let patch = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/x", "value": 2},
            {"op": "copy", "from": "/x", "path": "/y"},
            {"op": "move", "from": "/y", "path": "/a/z"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "test", "path": "/a/z", "value": 2},
            {"op": "add", "path": "/m~1n", "value": true}
        ]);
        let got = apply(PatchType::Json, &target, &patch);
        assert_eq!(
            got,
            Ok(json!({"a": {"b": [2, 3], "z": 2}, "x": 2, "m/n": true}))
        );
    }

    #[test]
    fn json_patch_failures_are_errors() {
        let target = json!({"a": 1});
        for patch in [
            json!([{"op": "remove", "path": "/b"}]),
            json!([{"op": "test", "path": "/a", "value": 2}]),
            json!({"op": "add"}),
        ] {
            assert!(apply(PatchType::Json, &target, &patch).is_err(), "{patch}");
        }
    }

    #[test]
    fn strategic_directives() {
        let target = json!({"data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "y"}}});
        let patch =
            json!({"data": {"$patch": "replace", "c": "3"}, "metadata": {"labels": {"z": "w"}}});
        let got = apply(PatchType::Strategic, &target, &patch);
        assert_eq!(
            got,
            Ok(json!({"data": {"c": "3"}, "metadata": {"labels": {"x": "y", "z": "w"}}}))
        );
    }
}
