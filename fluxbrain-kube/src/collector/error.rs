//! The collector's setup errors, and the classes of the API failures it meets while running.

use std::fmt;
use std::time::Duration;

/// Why the collector could not be configured or built.
///
/// Failures while running (an unreachable cluster, a forbidden kind) are not errors of this
/// type: they are reported per cluster by [`fluxbrain_core::Collector::collect`] and counted in
/// [`Metrics`](super::Metrics).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is invalid or missing.
    #[error("{variable}: {message}")]
    Variable {
        /// The environment variable or flag, e.g. `FLUXBRAIN_REQUEUE_INTERVAL`.
        variable: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// A kubeconfig could not be read, or lacks the context.
    #[error(
        "kubeconfig {files} (from {origin}): cannot load the {context}: {problem}; point \
         fluxbrain at a cluster with KUBECONFIG=PATH, --context NAME=CONTEXT (several \
         clusters), or run it in a pod"
    )]
    Kubeconfig {
        /// The files read, `:`-separated.
        files: String,
        /// Where their names came from: `KUBECONFIG` or `$HOME/.kube/config`.
        origin: &'static str,
        /// `current context` or `context NAME`.
        context: String,
        /// What is wrong (kube's reason, the file named once).
        problem: String,
    },
    /// Running in a pod, but the service account could not be read.
    #[error("in-cluster configuration: cannot load the service account")]
    InCluster {
        /// kube's error.
        #[source]
        source: kube::config::InClusterError,
    },
    /// A client could not be built from a cluster's settings (TLS, proxy, credentials).
    #[error("cluster {cluster}: cannot build a Kubernetes client")]
    Client {
        /// The cluster's name.
        cluster: String,
        /// kube's error.
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// Whether changing a setting fixes it (every setup error but a client that cannot be
    /// built from valid settings).
    pub fn is_configuration(&self) -> bool {
        !matches!(self, Error::Client { .. })
    }
}

/// What kind of failure an API call met: it decides between retrying, skipping a kind, and
/// listing again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    /// Transport errors, timeouts, 429 and 5xx: try again later.
    Retryable,
    /// 401 or 403: the credentials may not read this; skip it and warn.
    Forbidden,
    /// 410: the resourceVersion or continue token expired; list again from scratch.
    Gone,
    /// 404: the resource is not (or no longer) served.
    NotFound,
    /// Any other answer (400, undecodable body): retrying the same request will not help.
    Invalid,
}

impl ErrorClass {
    /// Every class, in declaration order (for metrics).
    pub const ALL: [ErrorClass; 5] = [
        ErrorClass::Retryable,
        ErrorClass::Forbidden,
        ErrorClass::Gone,
        ErrorClass::NotFound,
        ErrorClass::Invalid,
    ];

    /// The label of the class, e.g. `"forbidden"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::Forbidden => "forbidden",
            ErrorClass::Gone => "gone",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Invalid => "invalid",
        }
    }

    /// The class of an HTTP status code.
    pub fn of_status(code: u16) -> ErrorClass {
        match code {
            401 | 403 => ErrorClass::Forbidden,
            404 => ErrorClass::NotFound,
            410 => ErrorClass::Gone,
            408 | 429 | 500..=599 => ErrorClass::Retryable,
            _ => ErrorClass::Invalid,
        }
    }

    /// The class of a kube-rs error.
    pub fn of(err: &kube::Error) -> ErrorClass {
        match err {
            kube::Error::Api(status) => ErrorClass::of_status(status.code),
            kube::Error::SerdeError(_)
            | kube::Error::BuildRequest(_)
            | kube::Error::HttpError(_)
            | kube::Error::FromUtf8(_)
            | kube::Error::LinesCodecMaxLineLengthExceeded => ErrorClass::Invalid,
            // Transport, TLS, auth refresh and stream errors: the next attempt may succeed.
            _ => ErrorClass::Retryable,
        }
    }

    /// The class of a watcher error.
    pub fn of_watch(err: &kube::runtime::watcher::Error) -> ErrorClass {
        use kube::runtime::watcher::Error as W;
        match err {
            W::InitialListFailed(e) | W::WatchStartFailed(e) | W::WatchFailed(e) => {
                ErrorClass::of(e)
            }
            W::WatchError(status) => ErrorClass::of_status(status.code),
            W::NoResourceVersion => ErrorClass::Invalid,
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed API call: what was attempted, its class and a message without secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiFailure {
    /// e.g. `list kustomizations.kustomize.toolkit.fluxcd.io`.
    pub what: String,
    /// The class.
    pub class: ErrorClass,
    /// The API server's message, or the transport error.
    pub detail: String,
    /// The HTTP status the API server answered with, if it answered.
    pub code: Option<u16>,
}

impl ApiFailure {
    pub(crate) fn new(what: impl Into<String>, err: &kube::Error) -> Self {
        let (detail, code) = match err {
            kube::Error::Api(status) => (
                format!("{} {}: {}", status.code, status.reason, status.message),
                Some(status.code),
            ),
            other => (error_chain(other), None),
        };
        ApiFailure {
            what: what.into(),
            class: ErrorClass::of(err),
            detail,
            code,
        }
    }

    /// A watcher's failure.
    pub(crate) fn of_watch(what: impl Into<String>, err: &kube::runtime::watcher::Error) -> Self {
        use kube::runtime::watcher::Error as W;
        let code = match err {
            W::InitialListFailed(kube::Error::Api(status))
            | W::WatchStartFailed(kube::Error::Api(status))
            | W::WatchFailed(kube::Error::Api(status)) => Some(status.code),
            W::WatchError(status) => Some(status.code),
            _ => None,
        };
        ApiFailure {
            what: what.into(),
            class: ErrorClass::of_watch(err),
            detail: error_chain(err),
            code,
        }
    }

    pub(crate) fn timeout(what: impl Into<String>, after: Duration) -> Self {
        ApiFailure {
            what: what.into(),
            class: ErrorClass::Retryable,
            detail: format!("no answer within {after:?}"),
            code: None,
        }
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.what, self.detail, self.class)
    }
}

/// An error and its sources on one line.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify() {
        assert_eq!(ErrorClass::of_status(403), ErrorClass::Forbidden);
        assert_eq!(ErrorClass::of_status(401), ErrorClass::Forbidden);
        assert_eq!(ErrorClass::of_status(410), ErrorClass::Gone);
        assert_eq!(ErrorClass::of_status(503), ErrorClass::Retryable);
        assert_eq!(ErrorClass::of_status(429), ErrorClass::Retryable);
        assert_eq!(ErrorClass::of_status(404), ErrorClass::NotFound);
        assert_eq!(ErrorClass::of_status(400), ErrorClass::Invalid);
    }
}
