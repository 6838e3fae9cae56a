//! The errorbrain [`Analyzer`]: `POST {base}/v1/errors`, bounded by a timeout.
//!
//! The body is [`AnalyzeRequest`]. An answer that validates against errorbrain's
//! `verdict.schema.json` (embedded in this crate) is an [`Analysis::Verdict`]; one with an
//! `explanation` string (the published server's `ErrorResponse`) is an [`Analysis::Text`];
//! anything else, a non-2xx status, malformed JSON or no answer within the timeout is an
//! [`AnalyzerError`], and the notification goes out without analysis.

pub mod wire;

use std::fmt::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use fluxbrain_core::{Analysis, Analyzer, AnalyzerError, ErrorEvent, Evidence};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, Url};

pub use wire::AnalyzeRequest;

use crate::env::{DEFAULT_TIMEOUT, Env};
use crate::error::{Error, sanitize_code};
use crate::http::{Answer, Http, bearer};
use crate::secret::{Secret, SecretUrl};

const NAME: &str = "errorbrain";

/// errorbrain's `verdict.schema.json` (errorbrain-spec v1), which answers are validated against.
pub const VERDICT_SCHEMA: &str = include_str!("verdict.schema.json");

/// The most bytes of the `traceback` text.
const MAX_TRACEBACK: usize = 16 * 1024;

/// Configuration of the [`ErrorbrainAnalyzer`].
#[derive(Debug, Clone)]
pub struct ErrorbrainConfig {
    /// The server's base URL; requests go to `{url}/v1/errors`.
    pub url: SecretUrl,
    /// Ask errorbrain to keep the analysis in its vault.
    pub store_in_vault: bool,
    /// `ErrorReport.project`; `None` sends the event's cluster.
    pub project: Option<String>,
    /// Optional bearer token for servers behind authentication.
    pub token: Option<Secret>,
    /// The bound on one analysis, answer included.
    pub timeout: Duration,
}

impl ErrorbrainConfig {
    /// `url` with the defaults: no vault, the cluster as project, no token, 10 s.
    pub fn new(url: SecretUrl) -> ErrorbrainConfig {
        ErrorbrainConfig {
            url,
            store_in_vault: false,
            project: None,
            token: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Reads `FLUXBRAIN_ERRORBRAIN_URL`, `FLUXBRAIN_ERRORBRAIN_STORE_IN_VAULT` (default
    /// `false`), `FLUXBRAIN_ERRORBRAIN_PROJECT` (default: the event's cluster),
    /// `FLUXBRAIN_ERRORBRAIN_TOKEN` (or `_TOKEN_FILE`, optional) and
    /// `FLUXBRAIN_ERRORBRAIN_TIMEOUT` (default `10s`).
    ///
    /// `Ok(None)` when no URL is set; other settings without it are an error.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<ErrorbrainConfig>, Error> {
        let env = Env::new(&lookup);
        let url = env.url("FLUXBRAIN_ERRORBRAIN_URL")?;
        let store_in_vault = env.flag("FLUXBRAIN_ERRORBRAIN_STORE_IN_VAULT", false)?;
        let project = env.var("FLUXBRAIN_ERRORBRAIN_PROJECT");
        let token = env.secret(
            "FLUXBRAIN_ERRORBRAIN_TOKEN",
            "FLUXBRAIN_ERRORBRAIN_TOKEN_FILE",
        )?;
        let timeout = env.duration("FLUXBRAIN_ERRORBRAIN_TIMEOUT", DEFAULT_TIMEOUT)?;
        let Some(url) = url else {
            let orphan = [
                "FLUXBRAIN_ERRORBRAIN_STORE_IN_VAULT",
                "FLUXBRAIN_ERRORBRAIN_PROJECT",
                "FLUXBRAIN_ERRORBRAIN_TIMEOUT",
            ]
            .into_iter()
            .find(|v| env.var(v).is_some())
            .or(token.as_ref().map(|_| "FLUXBRAIN_ERRORBRAIN_TOKEN"));
            return match orphan {
                Some(orphan) => Err(Error::Config {
                    variable: "FLUXBRAIN_ERRORBRAIN_URL",
                    reason: format!("required when {orphan} is set"),
                }),
                None => Ok(None),
            };
        };
        Ok(Some(ErrorbrainConfig {
            url,
            store_in_vault,
            project,
            token,
            timeout,
        }))
    }
}

/// Asks errorbrain about an event. See the [module docs](self).
pub struct ErrorbrainAnalyzer {
    config: ErrorbrainConfig,
    http: Http,
    endpoint: Url,
    verdicts: jsonschema::Validator,
}

impl std::fmt::Debug for ErrorbrainAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorbrainAnalyzer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ErrorbrainAnalyzer {
    /// An analyzer with its own HTTP client and the compiled verdict schema.
    pub fn new(config: ErrorbrainConfig) -> Result<ErrorbrainAnalyzer, Error> {
        let http = Http::new(NAME, config.timeout)?;
        let schema: serde_json::Value =
            serde_json::from_str(VERDICT_SCHEMA).map_err(|e| Error::Client {
                notifier: NAME,
                reason: format!("the embedded verdict schema is not JSON ({e})"),
            })?;
        let verdicts = jsonschema::validator_for(&schema).map_err(|e| Error::Client {
            notifier: NAME,
            reason: format!("the embedded verdict schema does not compile ({e})"),
        })?;
        let base = config.url.expose().as_str().trim_end_matches('/');
        let endpoint = Url::parse(&format!("{base}/v1/errors")).map_err(|e| Error::Config {
            variable: "FLUXBRAIN_ERRORBRAIN_URL",
            reason: format!("cannot form the /v1/errors URL ({e})"),
        })?;
        Ok(ErrorbrainAnalyzer {
            config,
            http,
            endpoint,
            verdicts,
        })
    }

    /// The exact request body for `event`.
    pub fn body(&self, event: &ErrorEvent) -> Vec<u8> {
        let request = AnalyzeRequest {
            event,
            store_in_vault: self.config.store_in_vault,
            language: event.source.language,
            project: self
                .config
                .project
                .as_deref()
                .unwrap_or(&event.metadata.cluster),
            message: &event.message,
            traceback: traceback(event),
            tags: &event.source.tags,
            metadata: &event.metadata,
        };
        // Wire types with string keys only: serializing into a Vec cannot fail.
        serde_json::to_vec(&request).unwrap_or_default()
    }

    /// Whether `value` is a verdict by errorbrain's schema.
    pub fn is_verdict(&self, value: &serde_json::Value) -> bool {
        self.verdicts.is_valid(value)
    }

    async fn ask(&self, event: &ErrorEvent) -> Result<Analysis, Error> {
        let host = self.config.url.host();
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(token) = &self.config.token {
            headers.insert(AUTHORIZATION, bearer(NAME, &host, token)?);
        }
        let answer = self
            .http
            .send(
                Method::POST,
                &self.endpoint,
                headers,
                Some(self.body(event)),
            )
            .await?;
        self.analysis(answer)
    }

    /// Reads errorbrain's answer: a verdict, an explanation, or the error saying why neither.
    pub(crate) fn analysis(&self, answer: Answer) -> Result<Analysis, Error> {
        let answer = answer.success_or(NAME, fastapi_detail)?;
        let value: serde_json::Value = answer.json(NAME, "the analysis")?;
        if self.is_verdict(&value) {
            return Ok(Analysis::Verdict { verdict: value });
        }
        match value.get("explanation").and_then(serde_json::Value::as_str) {
            Some(text) if !text.trim().is_empty() => Ok(Analysis::Text {
                explanation: text.to_owned(),
            }),
            _ => Err(Error::Response {
                notifier: NAME,
                host: answer.host,
                reason: "neither a verdict (verdict.schema.json) nor an explanation".into(),
            }),
        }
    }
}

#[async_trait]
impl Analyzer for ErrorbrainAnalyzer {
    fn name(&self) -> &str {
        NAME
    }

    async fn analyze(&self, event: &ErrorEvent) -> Result<Analysis, AnalyzerError> {
        match self.ask(event).await {
            Ok(analysis) => {
                let kind = match analysis {
                    Analysis::Verdict { .. } => "verdict",
                    Analysis::Text { .. } => "text",
                };
                tracing::debug!(analyzer = NAME, event = %event.id, kind, "analysis received");
                Ok(analysis)
            }
            Err(e) => {
                tracing::warn!(analyzer = NAME, event = %event.id, error = %e, "analysis failed");
                Err(e.into())
            }
        }
    }
}

/// The object's facts as text, for `ErrorReport.traceback`: what a stack trace is to a program.
fn traceback(event: &ErrorEvent) -> String {
    let m = &event.metadata;
    let mut out = format!(
        "{} {}/{} on cluster {}\n",
        m.kind, m.namespace, m.name, m.cluster
    );
    for c in &m.conditions {
        let _ = writeln!(
            out,
            "condition {}={} {}: {}",
            c.type_, c.status, c.reason, c.message
        );
    }
    for item in &event.evidence {
        match item {
            Evidence::Event(e) => {
                let _ = writeln!(
                    out,
                    "event {} {} (x{}): {}",
                    e.event_type, e.reason, e.count, e.message
                );
            }
            Evidence::LogLine(l) => {
                let _ = write!(out, "log {} {} {}: {}", l.time, l.pod, l.level, l.message);
                if let Some(error) = &l.error {
                    let _ = write!(out, ": {error}");
                }
                out.push('\n');
            }
            Evidence::Custom(_) => {}
        }
    }
    // Every piece is already redacted by core; `export` caps the whole (and redacts again).
    let mut text = fluxbrain_core::redact(&out).into_owned();
    if text.len() > MAX_TRACEBACK {
        let mut cut = MAX_TRACEBACK;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n…[truncated by fluxbrain]");
    }
    text
}

/// FastAPI's `{"detail": "..."}`, shortened to a code.
fn fastapi_detail(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let detail = value.get("detail")?.as_str()?;
    let words: String = detail
        .split_whitespace()
        .take(6)
        .collect::<Vec<_>>()
        .join("_");
    Some(sanitize_code(&words))
}
