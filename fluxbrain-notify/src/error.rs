//! The crate's one error type, and its mapping into core's [`DeliveryError`] and
//! [`AnalyzerError`].
//!
//! Every variant names the notifier (or the `FLUXBRAIN_*` variable) and at most the host it
//! talked to: never a URL, since a Slack webhook URL is itself a credential, and never a token.
//! `reqwest` errors are stored with their URL stripped for the same reason.

use std::path::PathBuf;
use std::time::Duration;

use fluxbrain_core::{AnalyzerError, DeliveryError, Notification, Receipt, Retry};

/// Errors from fluxbrain's outbound HTTP: configuration, the notifiers and the analyzer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `FLUXBRAIN_*` variable holds a value that cannot be used (or is missing beside one
    /// that needs it).
    #[error("{variable}: {reason}")]
    Config {
        /// The variable.
        variable: &'static str,
        /// What is wrong with it (never its value when it is a secret).
        reason: String,
    },
    /// The file named by a `*_FILE` variable could not be read.
    #[error("{variable}: cannot read {}", path.display())]
    SecretFile {
        /// The variable.
        variable: &'static str,
        /// The file it names.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be set up (TLS roots, crypto provider).
    #[error("{notifier}: cannot set up the HTTP client: {reason}")]
    Client {
        /// The notifier or analyzer.
        notifier: &'static str,
        /// Why.
        reason: String,
    },
    /// A request could not be built from the notification (a value not allowed in a header).
    #[error("{notifier}: cannot build the request to {host}: {reason}")]
    Request {
        /// The notifier or analyzer.
        notifier: &'static str,
        /// The destination host.
        host: String,
        /// Why.
        reason: String,
    },
    /// No complete answer within the timeout.
    #[error("{notifier}: {method} to {host} timed out after {}", humanize(*timeout))]
    Timeout {
        /// The notifier or analyzer.
        notifier: &'static str,
        /// The destination host.
        host: String,
        /// `GET`, `POST`, `PATCH`.
        method: &'static str,
        /// The per-attempt timeout.
        timeout: Duration,
    },
    /// The request could not be sent, or its answer could not be read.
    #[error("{notifier}: {method} to {host} failed")]
    Transport {
        /// The notifier or analyzer.
        notifier: &'static str,
        /// The destination host.
        host: String,
        /// `GET`, `POST`, `PATCH`.
        method: &'static str,
        /// Whether sending again may help (connection errors: yes; a bad request: no).
        retry: Retry,
        /// The cause, without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// The TLS handshake failed: a certificate the client does not trust (self-signed,
    /// expired, for another name) or a peer that does not speak TLS.
    #[error("{notifier}: TLS handshake with {host} failed ({method})")]
    Tls {
        /// The notifier or analyzer.
        notifier: &'static str,
        /// The destination host.
        host: String,
        /// `GET`, `POST`, `PATCH`.
        method: &'static str,
        /// The cause (rustls' reason is at its end), without its URL.
        #[source]
        source: reqwest::Error,
    },
    /// The destination answered with a redirect, which is never followed: it would carry the
    /// body and the credentials to a place nobody configured.
    #[error(
        "{notifier}: {method} to {host} was redirected with status {status} {}; redirects are not followed",
        location_suffix(location)
    )]
    Redirected {
        /// The notifier or analyzer.
        notifier: &'static str,
        /// The destination host.
        host: String,
        /// `GET`, `POST`, `PATCH`.
        method: &'static str,
        /// The HTTP status: 301, 302, 303, 307 or 308.
        status: u16,
        /// The host (and port) the `Location` header points to; never its path or query.
        location: Option<String>,
    },
    /// The answer's body was longer than [`MAX_ANSWER`](crate::http::MAX_ANSWER): reading
    /// stopped at the bound and the connection was dropped.
    #[error(
        "{notifier}: response body larger than {} from {host} (answer to {method}, status {status})",
        human_bytes(*limit)
    )]
    TooLarge {
        /// The notifier or analyzer.
        notifier: &'static str,
        /// The destination host.
        host: String,
        /// `GET`, `POST`, `PATCH`.
        method: &'static str,
        /// The HTTP status the body came with.
        status: u16,
        /// The bound, in bytes.
        limit: usize,
        /// Always retryable: the status's own wait when it has one (429, 503 with
        /// `Retry-After`), the engine's backoff otherwise.
        retry: Retry,
    },
    /// The destination answered with a status other than 2xx.
    #[error(
        "{notifier}: {method} to {host} was answered with status {status}{}",
        detail_suffix(detail)
    )]
    Status {
        /// The notifier or analyzer.
        notifier: &'static str,
        /// The destination host.
        host: String,
        /// `GET`, `POST`, `PATCH`.
        method: &'static str,
        /// The HTTP status.
        status: u16,
        /// A short, sanitized error code from the body, when the API gives one.
        detail: Option<String>,
        /// The classification of the status and rate-limit headers.
        retry: Retry,
    },
    /// The API answered 2xx but reported a failure in its body (Slack's `{"ok": false}`).
    #[error("{notifier}: {host} refused {operation}: {code}")]
    Api {
        /// The notifier.
        notifier: &'static str,
        /// The destination host.
        host: String,
        /// The API method, e.g. `chat.postMessage`.
        operation: &'static str,
        /// The API's error code, sanitized.
        code: String,
        /// Whether the code is a passing condition (rate limits, internal errors).
        retry: Retry,
    },
    /// The answer was not what the API documents (malformed JSON, missing fields).
    #[error("{notifier}: unexpected answer from {host}: {reason}")]
    Response {
        /// The notifier or analyzer.
        notifier: &'static str,
        /// The destination host.
        host: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl Error {
    /// Whether and when to try again.
    ///
    /// Configuration and request errors never heal by themselves. An unexpected answer is
    /// treated as passing (most often a proxy or gateway page in front of the API), as are
    /// timeouts and connection failures; statuses follow [`crate::http::classify`].
    ///
    /// A destination that misbehaves (a TLS failure, a redirect, a body over the bound) is
    /// retryable too, even where the cause may be lasting: the notification stays queued with
    /// the error shown to the operator, rather than being dropped for the destination's fault.
    pub fn retry(&self) -> Retry {
        match self {
            Error::Config { .. }
            | Error::SecretFile { .. }
            | Error::Client { .. }
            | Error::Request { .. } => Retry::Never,
            Error::Timeout { .. }
            | Error::Response { .. }
            | Error::Tls { .. }
            | Error::Redirected { .. } => Retry::After(None),
            Error::Transport { retry, .. }
            | Error::TooLarge { retry, .. }
            | Error::Status { retry, .. }
            | Error::Api { retry, .. } => *retry,
        }
    }

    /// The notifier or analyzer that failed, or `config` for configuration errors.
    pub fn notifier(&self) -> &'static str {
        match self {
            Error::Config { .. } | Error::SecretFile { .. } => "config",
            Error::Client { notifier, .. }
            | Error::Request { notifier, .. }
            | Error::Timeout { notifier, .. }
            | Error::Transport { notifier, .. }
            | Error::Tls { notifier, .. }
            | Error::Redirected { notifier, .. }
            | Error::TooLarge { notifier, .. }
            | Error::Status { notifier, .. }
            | Error::Api { notifier, .. }
            | Error::Response { notifier, .. } => notifier,
        }
    }

    /// The message with its causes, `a: b: c`, for core's error types (which carry text).
    fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            out.push_str(": ");
            out.push_str(&cause.to_string());
            source = cause.source();
        }
        // The notifier name is carried separately by core's types.
        let prefix = format!("{}: ", self.notifier());
        match out.strip_prefix(&prefix) {
            Some(rest) => rest.to_owned(),
            None => out,
        }
    }
}

/// One delivery's outcome, logged (the notification id and the error, never a secret) and
/// turned into core's error: what every notifier's `deliver` returns.
pub(crate) fn logged(
    notifier: &'static str,
    note: &Notification,
    result: Result<Receipt, Error>,
) -> Result<Receipt, DeliveryError> {
    match result {
        Ok(receipt) => {
            tracing::debug!(notifier, notification = %note.id, "delivered");
            Ok(receipt)
        }
        Err(e) => {
            tracing::warn!(notifier, notification = %note.id, error = %e, "delivery failed");
            Err(e.into())
        }
    }
}

impl From<Error> for DeliveryError {
    fn from(e: Error) -> DeliveryError {
        DeliveryError {
            notifier: e.notifier().to_owned(),
            message: e.chain(),
            retry: e.retry(),
        }
    }
}

impl From<Error> for AnalyzerError {
    fn from(e: Error) -> AnalyzerError {
        AnalyzerError {
            analyzer: e.notifier().to_owned(),
            message: e.chain(),
        }
    }
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_ref()
        .map_or_else(String::new, |d| format!(" ({d})"))
}

fn location_suffix(location: &Option<String>) -> String {
    location.as_ref().map_or_else(
        || "without a usable Location".to_owned(),
        |h| format!("to {h}"),
    )
}

/// `1 MiB`, `64 KiB`, `100 bytes`: sizes as an operator reads them.
pub(crate) fn human_bytes(n: usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// `200ms`, `10s`, `1.5s`: durations as an operator reads them.
pub(crate) fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

/// Keeps an API error code printable and short: `[A-Za-z0-9_.-]`, at most 64 characters.
///
/// Codes come from the remote body; a misbehaving server could otherwise inject arbitrary
/// text (or echo a secret) into logs.
pub(crate) fn sanitize_code(raw: &str) -> String {
    let code: String = raw
        .trim()
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if code.is_empty() {
        "unknown_error".to_owned()
    } else {
        fluxbrain_core::redact(&code).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_error_keeps_retry_and_drops_prefix() {
        let e = Error::Status {
            notifier: "slack",
            host: "hooks.slack.com".into(),
            method: "POST",
            status: 429,
            detail: Some("rate_limited".into()),
            retry: Retry::After(Some(Duration::from_secs(30))),
        };
        let d = DeliveryError::from(e);
        assert_eq!(d.notifier, "slack");
        assert_eq!(
            d.message,
            "POST to hooks.slack.com was answered with status 429 (rate_limited)"
        );
        assert_eq!(d.retry, Retry::After(Some(Duration::from_secs(30))));
        assert_eq!(
            d.to_string(),
            "slack: POST to hooks.slack.com was answered with status 429 (rate_limited)"
        );
    }

    #[test]
    fn config_errors_never_retry() {
        let e = Error::Config {
            variable: "FLUXBRAIN_SLACK_CHANNEL",
            reason: "required when FLUXBRAIN_SLACK_TOKEN is set".into(),
        };
        assert_eq!(e.retry(), Retry::Never);
        assert_eq!(
            e.to_string(),
            "FLUXBRAIN_SLACK_CHANNEL: required when FLUXBRAIN_SLACK_TOKEN is set"
        );
    }

    #[test]
    fn codes_are_sanitized() {
        assert_eq!(sanitize_code("invalid_auth"), "invalid_auth");
        assert_eq!(sanitize_code(" bad\ncode <x> "), "bad_code__x_");
        assert_eq!(sanitize_code(""), "unknown_error");
        assert_eq!(sanitize_code(&"a".repeat(200)).len(), 64);
        assert_eq!(
            sanitize_code("xoxb-1234567890-abcdefghij"),
            fluxbrain_core::REDACTED
        );
    }

    #[test]
    fn humanized_sizes() {
        assert_eq!(human_bytes(1 << 20), "1 MiB");
        assert_eq!(human_bytes(64 << 10), "64 KiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }

    #[test]
    fn misbehaving_destinations_are_retried() {
        let redirected = Error::Redirected {
            notifier: "webhook",
            host: "hooks.example.com".into(),
            method: "POST",
            status: 308,
            location: Some("elsewhere.example.net".into()),
        };
        assert_eq!(redirected.retry(), Retry::After(None));
        assert_eq!(
            redirected.to_string(),
            "webhook: POST to hooks.example.com was redirected with status 308 to \
             elsewhere.example.net; redirects are not followed"
        );
        let nowhere = Error::Redirected {
            notifier: "webhook",
            host: "hooks.example.com".into(),
            method: "POST",
            status: 308,
            location: None,
        };
        assert!(
            nowhere
                .to_string()
                .contains("status 308 without a usable Location;"),
            "{nowhere}"
        );
        let too_large = Error::TooLarge {
            notifier: "github",
            host: "api.github.com".into(),
            method: "POST",
            status: 201,
            limit: 1 << 20,
            retry: Retry::After(None),
        };
        assert_eq!(
            DeliveryError::from(too_large).message,
            "response body larger than 1 MiB from api.github.com (answer to POST, status 201)"
        );
    }

    #[test]
    fn humanized_durations() {
        assert_eq!(humanize(Duration::from_millis(200)), "200ms");
        assert_eq!(humanize(Duration::from_secs(10)), "10s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.500s");
    }
}
