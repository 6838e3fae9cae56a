//! The generic webhook notifier: one signed JSON `POST` per notification.
//!
//! The body is the [`Envelope`] of DESIGN.md section 11 (or, with
//! `FLUXBRAIN_WEBHOOK_FORMAT=errorbrain`, the bare ErrorEvent), with `Content-Type:
//! application/json`, `Idempotency-Key: <notification id>` and, when a secret is configured,
//! [`SIGNATURE_HEADER`]: `sha256=<hex HMAC-SHA256 of the body>` (see [`signature`] for how a
//! receiver verifies it). A retry of the same notification sends the same bytes.

pub mod envelope;
pub mod signature;

use std::time::Duration;

use async_trait::async_trait;
use fluxbrain_core::{DeliveryError, Notification, Notifier, Receipt, canonical};
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

pub use envelope::{Envelope, EnvelopeHeader};
pub use signature::SIGNATURE_HEADER;

use crate::env::{DEFAULT_TIMEOUT, Env};
use crate::error::Error;
use crate::facts::redacted_analysis;
use crate::http::{Http, header_value};
use crate::secret::{Secret, SecretUrl};

const NAME: &str = "webhook";

/// What the webhook body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookFormat {
    /// The [`Envelope`]: notification, event, affected objects, analysis (`envelope`, the
    /// default).
    #[default]
    Envelope,
    /// The bare errorbrain v1 ErrorEvent, canonical JSON (`errorbrain`), for receivers that
    /// speak errorbrain only.
    Errorbrain,
}

/// Configuration of the [`WebhookNotifier`].
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Where to `POST`; a secret, since webhook URLs often embed a token.
    pub url: SecretUrl,
    /// The HMAC key; `None` sends no signature.
    pub secret: Option<Secret>,
    /// The body format.
    pub format: WebhookFormat,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// At most this many requests per this long (a token bucket: bursts up to the number,
    /// then spread evenly); `None` sends as fast as the engine delivers.
    pub rate: Option<(u32, Duration)>,
}

impl WebhookConfig {
    /// `url` with no signature, the envelope format and the default 10 s timeout.
    pub fn new(url: SecretUrl) -> WebhookConfig {
        WebhookConfig {
            url,
            secret: None,
            format: WebhookFormat::Envelope,
            timeout: DEFAULT_TIMEOUT,
            rate: None,
        }
    }

    /// Reads `FLUXBRAIN_WEBHOOK_URL` (or `_URL_FILE`), `FLUXBRAIN_WEBHOOK_SECRET` (or
    /// `_SECRET_FILE`), `FLUXBRAIN_WEBHOOK_FORMAT` (`envelope` | `errorbrain`, default
    /// `envelope`), `FLUXBRAIN_WEBHOOK_RATE` (`N/s`, `N/m` or `N/h`, default none) and
    /// `FLUXBRAIN_NOTIFY_TIMEOUT` (default `10s`).
    ///
    /// `Ok(None)` when no URL is set; a secret or format without a URL is an error.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<WebhookConfig>, Error> {
        let env = Env::new(&lookup);
        let url = env.secret_url("FLUXBRAIN_WEBHOOK_URL", "FLUXBRAIN_WEBHOOK_URL_FILE")?;
        let secret = env.secret("FLUXBRAIN_WEBHOOK_SECRET", "FLUXBRAIN_WEBHOOK_SECRET_FILE")?;
        let format = match env.var("FLUXBRAIN_WEBHOOK_FORMAT").as_deref() {
            None | Some("envelope") => WebhookFormat::Envelope,
            Some("errorbrain") => WebhookFormat::Errorbrain,
            Some(other) => {
                return Err(Error::Config {
                    variable: "FLUXBRAIN_WEBHOOK_FORMAT",
                    reason: format!("{other:?} is not envelope or errorbrain"),
                });
            }
        };
        let timeout = env.duration("FLUXBRAIN_NOTIFY_TIMEOUT", DEFAULT_TIMEOUT)?;
        let rate = match env.var("FLUXBRAIN_WEBHOOK_RATE") {
            None => None,
            Some(value) => {
                Some(
                    crate::limit::parse_rate(&value).map_err(|reason| Error::Config {
                        variable: "FLUXBRAIN_WEBHOOK_RATE",
                        reason,
                    })?,
                )
            }
        };
        let Some(url) = url else {
            let orphan = if secret.is_some() {
                Some("FLUXBRAIN_WEBHOOK_SECRET")
            } else if env.var("FLUXBRAIN_WEBHOOK_FORMAT").is_some() {
                Some("FLUXBRAIN_WEBHOOK_FORMAT")
            } else if rate.is_some() {
                Some("FLUXBRAIN_WEBHOOK_RATE")
            } else {
                None
            };
            return match orphan {
                Some(orphan) => Err(Error::Config {
                    variable: "FLUXBRAIN_WEBHOOK_URL",
                    reason: format!("required when {orphan} is set"),
                }),
                None => Ok(None),
            };
        };
        Ok(Some(WebhookConfig {
            url,
            secret,
            format,
            timeout,
            rate,
        }))
    }
}

/// Posts each notification to one URL. See the [module docs](self).
#[derive(Debug)]
pub struct WebhookNotifier {
    config: WebhookConfig,
    http: Http,
    limit: Option<crate::limit::Bucket>,
}

impl WebhookNotifier {
    /// A notifier with its own HTTP client.
    pub fn new(config: WebhookConfig) -> Result<WebhookNotifier, Error> {
        let http = Http::new(NAME, config.timeout)?;
        let limit = config
            .rate
            .map(|(n, per)| crate::limit::Bucket::new(n, per));
        Ok(WebhookNotifier {
            config,
            http,
            limit,
        })
    }

    /// The exact body bytes sent for `note`.
    pub fn body(&self, note: &Notification) -> Vec<u8> {
        body(note, self.config.format)
    }

    async fn send(&self, note: &Notification) -> Result<(), Error> {
        let url = self.config.url.expose();
        let host = self.config.url.host();
        let body = self.body(note);
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            "idempotency-key",
            header_value(NAME, &host, "the notification id", &note.id)?,
        );
        if let Some(secret) = &self.config.secret {
            let signature = signature::sign(secret.expose().as_bytes(), &body);
            headers.insert(
                SIGNATURE_HEADER,
                header_value(NAME, &host, SIGNATURE_HEADER, &signature)?,
            );
        }
        if let Some(limit) = &self.limit {
            limit.take().await;
        }
        let answer = self
            .http
            .send(Method::POST, url, headers, Some(body))
            .await?;
        // A receiver's error body is arbitrary text: only the status is reported.
        answer.success_or(NAME, |_| None)?;
        Ok(())
    }
}

/// The body of `note` in `format`: deterministic bytes.
pub fn body(note: &Notification, format: WebhookFormat) -> Vec<u8> {
    match format {
        WebhookFormat::Errorbrain => canonical::to_vec(&note.event),
        WebhookFormat::Envelope => {
            let analysis = note.analysis.as_ref().map(redacted_analysis);
            let envelope = Envelope::new(note, analysis.as_ref());
            // Serializing borrowed wire types into a Vec cannot fail (no I/O, string keys).
            serde_json::to_vec(&envelope).unwrap_or_default()
        }
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    fn name(&self) -> &str {
        NAME
    }

    async fn deliver(
        &self,
        note: &Notification,
        _thread: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        let result = self.send(note).await.map(|()| Receipt::default());
        crate::error::logged(NAME, note, result)
    }
}
