//! The HTTP layer every notifier shares: one client per notifier (rustls with the *ring*
//! provider, no redirects, a per-attempt timeout), one send path, and the classification of
//! every failure as retryable or not.
//!
//! There is no retry loop here: the engine's outbox owns retries and backoff, so a notifier
//! makes each call once and says, through [`Retry`], whether and when to call again.
//!
//! A destination that misbehaves never costs more than one bounded attempt: a body longer than
//! [`MAX_ANSWER`] is not read past the bound ([`Error::TooLarge`]), a redirect is not followed
//! ([`Error::Redirected`]) and a failed TLS handshake is named as such ([`Error::Tls`]); each is
//! retryable, so the notification stays in the outbox with the error shown.

use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::Retry;
use jiff::Timestamp;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use crate::error::Error;
use crate::secret::host_of;

/// The most bytes of an answer's body that are read: 1 MiB. The APIs answer a few KiB (a
/// created issue, a verdict, `{"ok": true}`); a longer body is an [`Error::TooLarge`], found
/// without reading or holding more than this, whatever the status.
pub const MAX_ANSWER: usize = 1 << 20;

/// When a secondary rate limit gives no header, GitHub asks to wait at least a minute.
const RATE_LIMIT_FALLBACK: Duration = Duration::from_secs(60);

/// `fluxbrain/<version>`: GitHub rejects requests without a `User-Agent`.
pub const USER_AGENT: &str = concat!("fluxbrain/", env!("CARGO_PKG_VERSION"));

/// One notifier's HTTP client.
#[derive(Clone)]
pub(crate) struct Http {
    notifier: &'static str,
    client: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("notifier", &self.notifier)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An answer with any status but a redirect, its whole body read (at most [`MAX_ANSWER`]
/// bytes).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) host: String,
    pub(crate) method: &'static str,
}

impl Http {
    /// A client for `notifier` whose every attempt, answer body included, ends within
    /// `timeout`.
    pub(crate) fn new(notifier: &'static str, timeout: Duration) -> Result<Http, Error> {
        let client = client_builder(notifier)?
            .user_agent(USER_AGENT)
            .timeout(timeout)
            .connect_timeout(timeout)
            // A redirect would carry the body (and the Authorization header's purpose) to a
            // host nobody configured; a 3xx is reported instead.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Client {
                notifier,
                reason: e.without_url().to_string(),
            })?;
        Ok(Http {
            notifier,
            client,
            timeout,
        })
    }

    /// Sends one request and reads the answer, whatever its status.
    ///
    /// Fails when no complete answer arrived (timeout, transport or TLS error), when the answer
    /// is a redirect, or when its body is longer than [`MAX_ANSWER`].
    pub(crate) async fn send(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, Error> {
        let host = host_of(url);
        let method_name = method_name(&method);
        let mut request = self.client.request(method, url.clone()).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let started = std::time::Instant::now();
        // reqwest's own timeout covers the body too; this outer bound also covers the time
        // spent in this function and is what callers can rely on.
        let attempt = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            if is_redirect(status) {
                // Its body is of no use: not read.
                return Ok::<_, reqwest::Error>(Received::Redirect(status, headers));
            }
            Ok(match read_capped(response).await? {
                Some(body) => Received::Answer(status, headers, body),
                None => Received::TooLarge(status, headers),
            })
        };
        let outcome = tokio::time::timeout(self.timeout, attempt).await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Err(_elapsed) => {
                tracing::debug!(notifier = self.notifier, %host, method = method_name, elapsed_ms, "timed out");
                Err(self.timeout_error(host, method_name))
            }
            Ok(Err(e)) if e.is_timeout() => {
                tracing::debug!(notifier = self.notifier, %host, method = method_name, elapsed_ms, "timed out");
                Err(self.timeout_error(host, method_name))
            }
            Ok(Err(e)) if is_tls(&e) => {
                // A certificate gets renewed, a proxy gets fixed: passing, and shown.
                tracing::debug!(notifier = self.notifier, %host, method = method_name, elapsed_ms, "TLS handshake failed");
                Err(Error::Tls {
                    notifier: self.notifier,
                    host,
                    method: method_name,
                    source: e.without_url(),
                })
            }
            Ok(Err(e)) => {
                // A request reqwest cannot build stays unbuildable; connection resets,
                // refused connections and cut bodies are passing.
                let retry = if e.is_builder() {
                    Retry::Never
                } else {
                    Retry::After(None)
                };
                tracing::debug!(notifier = self.notifier, %host, method = method_name, elapsed_ms, "transport error");
                Err(Error::Transport {
                    notifier: self.notifier,
                    host,
                    method: method_name,
                    retry,
                    source: e.without_url(),
                })
            }
            Ok(Ok(Received::Redirect(status, headers))) => {
                let location = location_host(url, &headers);
                tracing::debug!(notifier = self.notifier, %host, method = method_name, status = status.as_u16(), elapsed_ms, "redirected");
                Err(Error::Redirected {
                    notifier: self.notifier,
                    host,
                    method: method_name,
                    status: status.as_u16(),
                    location,
                })
            }
            Ok(Ok(Received::TooLarge(status, headers))) => {
                tracing::debug!(notifier = self.notifier, %host, method = method_name, status = status.as_u16(), elapsed_ms, "answer too large");
                Err(Error::TooLarge {
                    notifier: self.notifier,
                    host,
                    method: method_name,
                    status: status.as_u16(),
                    limit: MAX_ANSWER,
                    retry: too_large_retry(status, &headers, Timestamp::now()),
                })
            }
            Ok(Ok(Received::Answer(status, headers, body))) => {
                tracing::debug!(
                    notifier = self.notifier,
                    %host,
                    method = method_name,
                    status = status.as_u16(),
                    elapsed_ms,
                    "answered"
                );
                Ok(Answer {
                    status,
                    headers,
                    body,
                    host,
                    method: method_name,
                })
            }
        }
    }

    fn timeout_error(&self, host: String, method: &'static str) -> Error {
        Error::Timeout {
            notifier: self.notifier,
            host,
            method,
            timeout: self.timeout,
        }
    }
}

/// What one attempt received, before it is judged.
enum Received {
    /// A complete answer.
    Answer(StatusCode, HeaderMap, Vec<u8>),
    /// A redirect; its body is not read.
    Redirect(StatusCode, HeaderMap),
    /// An answer whose body is longer than [`MAX_ANSWER`]; reading stopped at the bound.
    TooLarge(StatusCode, HeaderMap),
}

/// A `reqwest` client builder with TLS set up: rustls with the *ring* provider and the
/// platform's certificate roots.
///
/// The workspace builds reqwest with `rustls-no-provider` (aws-lc needs cmake), so a plain
/// `reqwest::Client::builder().build()` panics for want of a crypto provider; any other client
/// in the workspace should start from this builder. `name` only labels the error.
pub fn client_builder(name: &'static str) -> Result<reqwest::ClientBuilder, Error> {
    let client_error = |reason: String| Error::Client {
        notifier: name,
        reason,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| client_error(e.to_string()))?;
    let tls = rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(tls)
        .map_err(|e| client_error(e.to_string()))?
        .with_no_client_auth();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}

impl Answer {
    /// `Ok(self)` for 2xx; otherwise a [`Error::Status`] classified by [`classify`], with
    /// `detail` (a short error code the caller extracted from the body) in its message.
    pub(crate) fn success_or(
        self,
        notifier: &'static str,
        detail: impl FnOnce(&[u8]) -> Option<String>,
    ) -> Result<Answer, Error> {
        if self.status.is_success() {
            return Ok(self);
        }
        let retry = classify(self.status, &self.headers, &self.body, Timestamp::now());
        Err(Error::Status {
            notifier,
            host: self.host,
            method: self.method,
            status: self.status.as_u16(),
            detail: detail(&self.body),
            retry,
        })
    }

    /// The body as JSON of type `T`, or an [`Error::Response`] saying why not; `what` names
    /// the answer in that error, e.g. `"the reply to opening an issue"`.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        notifier: &'static str,
        what: &str,
    ) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Response {
            notifier,
            host: self.host.clone(),
            reason: format!(
                "{what} (status {}) is not the expected JSON ({e})",
                self.status.as_u16()
            ),
        })
    }
}

/// Whether a non-2xx answer may succeed later, and when.
///
/// - 429, and 403 when it is a rate limit (GitHub: `x-ratelimit-remaining: 0`, a
///   `retry-after` header, or a body that says "rate limit"): retryable after `retry-after`,
///   else after `x-ratelimit-reset` (epoch seconds, relative to `now`), else after a minute.
/// - 408 and 5xx: retryable, after `retry-after` when given.
/// - everything else (4xx, and the 3xx that are not redirects: redirects never reach here,
///   they are an [`Error::Redirected`]): never.
///
/// Pure: `now` is the caller's clock.
pub fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8], now: Timestamp) -> Retry {
    let retry_after = retry_after(headers, now);
    let reset = rate_limit_reset(headers, now);
    let exhausted = header_str(headers, "x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    match status.as_u16() {
        // Flow control, not failure: the destination says when to come back.
        429 => Retry::Throttled(retry_after.or(reset).unwrap_or(RATE_LIMIT_FALLBACK)),
        403 if exhausted || retry_after.is_some() || says_rate_limit(body) => Retry::Throttled(
            retry_after
                .or(if exhausted { reset } else { None })
                .unwrap_or(RATE_LIMIT_FALLBACK),
        ),
        408 => Retry::After(retry_after),
        500..=599 => Retry::After(retry_after),
        _ => Retry::Never,
    }
}

/// `Retry-After` as delta-seconds or an HTTP date, relative to `now` (a date in the past is
/// zero). Never trusted blindly: a wait longer than [`Retry::LONGEST_WAIT`] is capped to it,
/// and a value that is neither (negative, a fraction, garbage) is ignored (the caller's own
/// wait applies); each is logged once per process, not on every answer.
pub fn retry_after(headers: &HeaderMap, now: Timestamp) -> Option<Duration> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static CAPPED: AtomicBool = AtomicBool::new(false);
    static IGNORED: AtomicBool = AtomicBool::new(false);
    let raw = headers.get(header::RETRY_AFTER)?;
    let value = raw.to_str().unwrap_or_default().trim().to_owned();
    let wait = value
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
        .or_else(|| {
            let date = jiff::fmt::rfc2822::parse(&value).ok()?.timestamp();
            Some(until(now, date))
        });
    match wait {
        Some(wait) if wait > Retry::LONGEST_WAIT => {
            if !CAPPED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    retry_after = %value.chars().take(64).collect::<String>(),
                    "a destination asked to wait longer than an hour; waiting an hour (logged once)"
                );
            }
            Some(Retry::LONGEST_WAIT)
        }
        Some(wait) => Some(wait),
        None => {
            if !IGNORED.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    retry_after = %value.chars().take(64).collect::<String>(),
                    "ignoring a Retry-After that is neither seconds nor an HTTP date (logged once)"
                );
            }
            None
        }
    }
}

/// GitHub's `x-ratelimit-reset` (UTC epoch seconds) as a wait from `now`.
fn rate_limit_reset(headers: &HeaderMap, now: Timestamp) -> Option<Duration> {
    let epoch: i64 = header_str(headers, "x-ratelimit-reset")?
        .trim()
        .parse()
        .ok()?;
    let at = Timestamp::from_second(epoch).ok()?;
    Some(until(now, at))
}

fn until(now: Timestamp, at: Timestamp) -> Duration {
    let secs = at.as_second().saturating_sub(now.as_second());
    Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

fn says_rate_limit(body: &[u8]) -> bool {
    let head = &body[..body.len().min(4096)];
    String::from_utf8_lossy(head)
        .to_ascii_lowercase()
        .contains("rate limit")
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "request",
    }
}

/// The statuses whose `Location` a browser would follow.
fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The host (and port) a redirect points to, resolved against the request's URL; never the
/// path or query, which may hold a credential.
fn location_host(url: &Url, headers: &HeaderMap) -> Option<String> {
    let raw = headers.get(header::LOCATION)?.to_str().ok()?;
    let target = url.join(raw.trim()).ok()?;
    target.has_host().then(|| host_of(&target))
}

/// Whether `error` comes from the TLS handshake: rustls refused the certificate or the peer's
/// bytes.
fn is_tls(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<rustls::Error>() {
            return true;
        }
        // The TLS stream wraps rustls' error in an io::Error, which the connector wraps in
        // another; an io::Error's `source` skips the error it wraps, so look inside instead.
        cause = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// A body over the bound is the destination misbehaving, whatever its status: retryable, so
/// the notification is kept. A status that says when to come back (429, `Retry-After`) keeps
/// its wait.
fn too_large_retry(status: StatusCode, headers: &HeaderMap, now: Timestamp) -> Retry {
    match classify(status, headers, &[], now) {
        Retry::Never => Retry::After(None),
        other => other,
    }
}

/// The body, or `None` when it is longer than [`MAX_ANSWER`]: a declared length over the bound
/// is refused unread, and a streamed body is read only up to the bound. The caller then drops
/// the response, which closes the connection instead of draining it.
async fn read_capped(mut response: reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > MAX_ANSWER))
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        // `body` never exceeds the bound, so this does not underflow.
        if chunk.len() > MAX_ANSWER - body.len() {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// A header value from text the caller built; an invalid one is an [`Error::Request`].
pub(crate) fn header_value(
    notifier: &'static str,
    host: &str,
    name: &str,
    value: &str,
) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value).map_err(|_| Error::Request {
        notifier,
        host: host.to_owned(),
        reason: format!("{name} holds characters not allowed in a header"),
    })
}

/// `Authorization: Bearer <token>`, marked sensitive so HTTP stacks never log it.
pub(crate) fn bearer(
    notifier: &'static str,
    host: &str,
    token: &crate::Secret,
) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
        Error::Request {
            notifier,
            host: host.to_owned(),
            // Never the token itself.
            reason: "the token holds characters not allowed in a header".to_owned(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-04-21T09:30:00Z".parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn server_errors_retry() {
        for code in [500, 502, 503, 504] {
            assert_eq!(
                classify(status(code), &HeaderMap::new(), b"", now()),
                Retry::After(None)
            );
        }
        let h = headers(&[("retry-after", "7")]);
        assert_eq!(
            classify(status(503), &h, b"", now()),
            Retry::After(Some(Duration::from_secs(7)))
        );
        assert_eq!(
            classify(status(408), &HeaderMap::new(), b"", now()),
            Retry::After(None)
        );
    }

    #[test]
    fn client_errors_do_not() {
        for code in [301, 400, 401, 404, 410, 422] {
            assert_eq!(
                classify(status(code), &HeaderMap::new(), b"", now()),
                Retry::Never,
                "{code}"
            );
        }
        // A plain 403 is a permission problem.
        assert_eq!(
            classify(
                status(403),
                &HeaderMap::new(),
                b"{\"message\":\"Resource not accessible\"}",
                now()
            ),
            Retry::Never
        );
    }

    #[test]
    fn too_many_requests_honours_retry_after() {
        let h = headers(&[("retry-after", "30")]);
        assert_eq!(
            classify(status(429), &h, b"", now()),
            Retry::Throttled(Duration::from_secs(30))
        );
        let h = headers(&[("retry-after", "Tue, 21 Apr 2026 09:31:00 GMT")]);
        assert_eq!(
            classify(status(429), &h, b"", now()),
            Retry::Throttled(Duration::from_secs(60))
        );
        let h = headers(&[("retry-after", "Tue, 21 Apr 2026 09:00:00 GMT")]);
        assert_eq!(
            classify(status(429), &h, b"", now()),
            Retry::Throttled(Duration::ZERO)
        );
        // No header: GitHub's documented minimum wait.
        assert_eq!(
            classify(status(429), &HeaderMap::new(), b"", now()),
            Retry::Throttled(Duration::from_secs(60))
        );
    }

    #[test]
    fn a_retry_after_is_never_trusted_blindly() {
        // A day is capped to an hour; garbage and negative values are ignored, so the
        // fallback wait applies.
        let h = headers(&[("retry-after", "86400")]);
        assert_eq!(
            classify(status(429), &h, b"", now()),
            Retry::Throttled(Retry::LONGEST_WAIT)
        );
        for garbage in ["-5", "soon", "1.5", ""] {
            let h = headers(&[("retry-after", garbage)]);
            assert_eq!(
                classify(status(429), &h, b"", now()),
                Retry::Throttled(Duration::from_secs(60)),
                "{garbage:?}"
            );
            assert_eq!(classify(status(503), &h, b"", now()), Retry::After(None));
        }
    }

    #[test]
    fn github_primary_rate_limit() {
        let reset = now().as_second() + 120;
        let h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset.to_string()),
        ]);
        assert_eq!(
            classify(status(403), &h, b"", now()),
            Retry::Throttled(Duration::from_secs(120))
        );
        assert_eq!(
            classify(status(429), &h, b"", now()),
            Retry::Throttled(Duration::from_secs(120))
        );
    }

    #[test]
    fn github_secondary_rate_limit() {
        let h = headers(&[("retry-after", "45"), ("x-ratelimit-remaining", "12")]);
        assert_eq!(
            classify(status(403), &h, b"", now()),
            Retry::Throttled(Duration::from_secs(45))
        );
        let body = br#"{"message":"You have exceeded a secondary rate limit."}"#;
        assert_eq!(
            classify(status(403), &HeaderMap::new(), body, now()),
            Retry::Throttled(Duration::from_secs(60))
        );
    }

    #[test]
    fn a_body_too_large_is_retried_whatever_the_status() {
        assert_eq!(
            too_large_retry(status(200), &HeaderMap::new(), now()),
            Retry::After(None)
        );
        assert_eq!(
            too_large_retry(status(404), &HeaderMap::new(), now()),
            Retry::After(None)
        );
        let h = headers(&[("retry-after", "20")]);
        assert_eq!(
            too_large_retry(status(503), &h, now()),
            Retry::After(Some(Duration::from_secs(20)))
        );
        assert_eq!(
            too_large_retry(status(429), &h, now()),
            Retry::Throttled(Duration::from_secs(20))
        );
    }

    #[test]
    fn redirect_targets_are_hosts_only() {
        let url = Url::parse("https://hooks.example.com/T/B/secret").unwrap();
        let at = |location: &str| location_host(&url, &headers(&[("location", location)]));
        assert_eq!(
            at("https://evil.example.net:8443/collect?token=x").as_deref(),
            Some("evil.example.net:8443")
        );
        assert_eq!(at("/moved").as_deref(), Some("hooks.example.com"));
        assert_eq!(at("data:text/plain,x"), None);
        assert_eq!(location_host(&url, &HeaderMap::new()), None);
        for code in [301, 302, 303, 307, 308] {
            assert!(is_redirect(status(code)), "{code}");
        }
        for code in [200, 300, 304] {
            assert!(!is_redirect(status(code)), "{code}");
        }
    }

    #[test]
    fn garbage_headers_are_ignored() {
        let h = headers(&[("retry-after", "soon"), ("x-ratelimit-reset", "never")]);
        assert_eq!(
            classify(status(429), &h, b"", now()),
            Retry::Throttled(Duration::from_secs(60))
        );
        assert_eq!(classify(status(503), &h, b"", now()), Retry::After(None));
    }
}
