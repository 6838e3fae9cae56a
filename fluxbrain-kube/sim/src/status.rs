//! Kubernetes `Status` failures: every error the server answers with.

use serde_json::{Value, json};

/// A failed API request, answered as a `Status` object with its HTTP code.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    /// HTTP status code (also `Status.code`).
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// Human readable message, worded like the API server's.
    pub message: String,
    /// `Status.details`, when the failure is about one object.
    pub details: Option<Value>,
    /// `Retry-After` seconds, for 429 and 5xx answers.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
            retry_after: None,
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 404 NotFound for one object.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        let what = qualified(group, plural);
        Self::new(404, "NotFound", format!("{what} \"{name}\" not found"))
            .with_details(group, plural, name)
    }

    /// 404 for a path the server does not serve.
    pub fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_raw_details(json!({}))
    }

    /// 409 AlreadyExists.
    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        let what = qualified(group, plural);
        Self::new(
            409,
            "AlreadyExists",
            format!("{what} \"{name}\" already exists"),
        )
        .with_details(group, plural, name)
    }

    /// 409 Conflict on a stale `resourceVersion`.
    pub fn conflict(group: &str, plural: &str, name: &str) -> Self {
        let what = qualified(group, plural);
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {what} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again"
            ),
        )
        .with_details(group, plural, name)
    }

    /// 409 Conflict for a failed delete precondition.
    pub fn precondition(group: &str, plural: &str, name: &str, message: String) -> Self {
        let what = qualified(group, plural);
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {what} \"{name}\": {message}"),
        )
        .with_details(group, plural, name)
    }

    /// 422 Invalid.
    pub fn invalid(group: &str, kind: &str, name: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let what = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        Self::new(422, "Invalid", format!("{what} \"{name}\" is invalid: {message}")).with_raw_details(
            json!({"name": name, "group": group, "kind": kind, "causes": [{"reason": "FieldValueInvalid", "message": message}]}),
        )
    }

    /// 401 Unauthorized: a token the simulator does not know.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 Forbidden by RBAC, worded and detailed as the API server does.
    pub fn forbidden(attributes: &crate::rbac::Attributes, message: String) -> Self {
        let details = match attributes {
            crate::rbac::Attributes::Resource {
                group,
                resource,
                name,
                ..
            } => {
                let mut details = json!({"group": group, "kind": resource});
                if let Some(name) = name {
                    details["name"] = json!(name);
                }
                details
            }
            crate::rbac::Attributes::NonResource => json!({}),
        };
        Self::new(403, "Forbidden", message).with_raw_details(details)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// 406 NotAcceptable.
    pub fn not_acceptable(accept: &str) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: application/json (asked for {accept})"
            ),
        )
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// 410 Gone (Expired) for a resourceVersion older than the retained history.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// An injected fault: 429 TooManyRequests or a 5xx.
    pub fn injected(code: u16, retry_after: Option<u64>) -> Self {
        let reason = match code {
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        let message = match code {
            429 => "the server has received too many requests and has asked us to try again later"
                .to_string(),
            _ => format!("injected fault: HTTP {code}"),
        };
        let mut err = Self::new(code, reason, message);
        err.retry_after = retry_after;
        if let Some(secs) = retry_after {
            err.details = Some(json!({"retryAfterSeconds": secs}));
        }
        err
    }

    fn with_details(self, group: &str, plural: &str, name: &str) -> Self {
        let mut details = json!({"name": name, "kind": plural});
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        self.with_raw_details(details)
    }

    fn with_raw_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// `plural.group` as the API server names a resource in messages.
fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// A `Status` with `status: Success`, as some deletes answer.
pub(crate) fn success(group: &str, plural: &str, name: &str, uid: &str) -> Value {
    let mut details = json!({"name": name, "kind": plural, "uid": uid});
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_reads_like_the_api_server() {
        let status = ApiError::conflict("", "configmaps", "x").to_status();
        assert_eq!(status["code"], 409);
        assert_eq!(status["reason"], "Conflict");
        assert_eq!(
            status["details"],
            json!({"name": "x", "kind": "configmaps"})
        );
        let message = status["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(
            "Operation cannot be fulfilled on configmaps \"x\": the object has been modified"
        ));
    }

    #[test]
    fn group_qualifies_the_resource() {
        let status = ApiError::not_found("kustomize.toolkit.fluxcd.io", "kustomizations", "apps")
            .to_status();
        assert_eq!(
            status["message"],
            "kustomizations.kustomize.toolkit.fluxcd.io \"apps\" not found"
        );
        assert_eq!(status["details"]["group"], "kustomize.toolkit.fluxcd.io");
    }
}
