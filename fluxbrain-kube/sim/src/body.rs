//! Request bodies: JSON, YAML or Kubernetes protobuf, read into the JSON the store works on.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use serde_json::Value;

use super::protobuf;
use super::status::ApiError;

/// Largest request body accepted.
const LIMIT: usize = 16 * 1024 * 1024;

/// The whole body, whatever its type.
///
/// # Errors
/// 413 when it is larger than 16 MiB.
pub(crate) async fn bytes(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, LIMIT)
        .await
        .map_err(|_| ApiError::too_large(LIMIT))
}

/// An object to create or update, in the format its `Content-Type` names (JSON without one).
///
/// # Errors
/// 400 for a body that does not decode, 415 for another format (or a protobuf kind the
/// simulator cannot read), 413 for a body over the limit.
pub(crate) async fn object(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let bytes = bytes(body).await?;
    decode(headers, &bytes, "body")
}

/// The `DeleteOptions` of a delete; `Null` for an empty body.
///
/// # Errors
/// As [`object`].
pub(crate) async fn delete_options(headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let bytes = bytes(body).await?;
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    decode(headers, &bytes, "DeleteOptions")
}

/// Decodes `bytes` by the request's `Content-Type`; `what` names the body in errors.
fn decode(headers: &HeaderMap, bytes: &[u8], what: &str) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    match media_type {
        "application/yaml" => serde_yaml_ng::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML {what}: {e}"))),
        "application/json" | "" | "*/*" => serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON {what}: {e}"))),
        protobuf::MEDIA_TYPE => protobuf::decode(bytes),
        other => Err(ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, {} (got {other:?})",
            protobuf::MEDIA_TYPE
        ))),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn typed(content_type: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers
    }

    #[test]
    fn each_format_by_its_content_type() {
        let want = json!({"kind": "ConfigMap"});
        assert_eq!(
            decode(&HeaderMap::new(), br#"{"kind":"ConfigMap"}"#, "body"),
            Ok(want.clone())
        );
        assert_eq!(
            decode(&typed("application/yaml"), b"kind: ConfigMap\n", "body"),
            Ok(want)
        );
        let protobuf = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x07\x0a\x05\x0a\x03foo";
        assert_eq!(
            decode(
                &typed("application/vnd.kubernetes.protobuf"),
                protobuf,
                "body"
            ),
            Ok(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "foo"}}))
        );
    }

    #[test]
    fn failures_name_the_body_and_the_format() {
        let err = decode(&typed("application/json"), b"{", "DeleteOptions").unwrap_err();
        assert_eq!(err.code, 400);
        assert!(
            err.message
                .starts_with("error decoding JSON DeleteOptions: "),
            "{}",
            err.message
        );
        let err = decode(&typed("text/plain"), b"x", "body").unwrap_err();
        assert_eq!(err.code, 415);
        assert!(
            err.message.ends_with("(got \"text/plain\")"),
            "{}",
            err.message
        );
    }
}
