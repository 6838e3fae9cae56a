//! An [`Analyzer`] for an analysis service reached over HTTP: what a team writes to plug its
//! own backend into fluxbrain. It depends on `fluxbrain-core` alone.
//!
//! The service is asked `POST {base}/v1/analyze` with the ErrorEvent as JSON and answers
//! `{"summary": "..."}`; the summary is shown beside the facts of the notification. Every
//! failure (unreachable, slow, non-2xx, a body that is not the expected JSON) is an
//! [`AnalyzerError`] naming the analyzer, never a panic, and no call takes longer than the
//! configured timeout, so a notification is never held up by the backend.
//!
//! ```no_run
//! # async fn wire() -> Result<(), String> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use fluxbrain_core::{Analyzer, Engine, EngineConfig, MemoryStore};
//! use fluxbrain_example_analyzer_adapter::HttpAnalyzer;
//!
//! let analyzer = HttpAnalyzer::new("http://analysis.tools.svc:8080", Duration::from_secs(5))?;
//! let engine = Engine::start(
//!     Arc::new(MemoryStore::new()),
//!     vec![],
//!     Some(Arc::new(analyzer) as Arc<dyn Analyzer>),
//!     EngineConfig::default(),
//! )
//! .await
//! .map_err(|e| e.to_string())?;
//! # drop(engine);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::{Analysis, Analyzer, AnalyzerError, ErrorEvent};
use serde::Deserialize;

/// The analyzer's name in logs, metrics and errors.
pub const NAME: &str = "analysis-service";

/// Asks an analysis service about each firing.
#[derive(Debug, Clone)]
pub struct HttpAnalyzer {
    endpoint: reqwest::Url,
    client: reqwest::Client,
    timeout: Duration,
}

/// The service's answer.
#[derive(Debug, Deserialize)]
struct Answer {
    summary: String,
}

impl HttpAnalyzer {
    /// An analyzer for the service at `base` (`http://` or `https://`), each call bounded by
    /// `timeout`.
    ///
    /// # Errors
    /// A `base` that is not an http(s) URL, or a TLS setup that fails.
    pub fn new(base: &str, timeout: Duration) -> Result<HttpAnalyzer, String> {
        let base = reqwest::Url::parse(base).map_err(|e| format!("{base:?}: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(format!("{base}: not an http or https URL"));
        }
        let endpoint = base
            .join("v1/analyze")
            .map_err(|e| format!("{base}: {e}"))?;
        // TLS with rustls and the ring provider, trusting the platform's roots.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
        let tls = rustls_platform_verifier::BuilderVerifierExt::with_platform_verifier(tls)
            .map_err(|e| e.to_string())?
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpAnalyzer {
            endpoint,
            client,
            timeout,
        })
    }

    fn error(message: impl Into<String>) -> AnalyzerError {
        AnalyzerError {
            analyzer: NAME.to_owned(),
            message: message.into(),
        }
    }
}

#[async_trait::async_trait]
impl Analyzer for HttpAnalyzer {
    fn name(&self) -> &str {
        NAME
    }

    async fn analyze(&self, event: &ErrorEvent) -> Result<Analysis, AnalyzerError> {
        let response = self
            .client
            .post(self.endpoint.clone())
            .json(event)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    Self::error(format!("no answer within {:?}", self.timeout))
                } else {
                    Self::error(format!("request failed: {}", e.without_url()))
                }
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(Self::error(format!("the service answered {status}")));
        }
        let answer: Answer = response.json().await.map_err(|e| {
            if e.is_timeout() {
                Self::error(format!("no complete answer within {:?}", self.timeout))
            } else {
                Self::error(format!(
                    "the answer is not {{\"summary\": ...}}: {}",
                    e.without_url()
                ))
            }
        })?;
        Ok(Analysis::Text {
            explanation: answer.summary,
        })
    }
}
