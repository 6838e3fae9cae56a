//! The Slack notifier: an incoming webhook, or a bot token posting with `chat.postMessage`.
//!
//! One Block Kit message per incident (cluster, object, reason, redacted message, revision,
//! source status, downstream objects, reminder count, and errorbrain's analysis when it came).
//! With a bot token the firing's `channel:ts` is the [`Receipt`]; the engine keeps it and hands
//! it back as `thread`, so reminders and the resolution reply in the incident's thread even
//! after a restart, and the resolution rewrites the first message to show it resolved
//! (`chat.update` first, then the reply, so a retried resolution never replies twice). An
//! incoming webhook cannot thread: every notification is its own message.
//!
//! [`Notifier::deliver_batch`] folds more than [`SlackConfig::summary_threshold`] firings for
//! one cluster into one summary message (their incidents share its thread), and as many
//! updates for one cluster into one message of their own.
//!
//! Failures: HTTP 429 and `{"ok": false, "error": "ratelimited"}` are retryable after
//! `Retry-After`; `internal_error`, `fatal_error`, `service_unavailable`, `request_timeout` and
//! 5xx are retryable; every other error code (`invalid_auth`, `channel_not_found`,
//! `invalid_blocks`, the webhook's `invalid_token`, `no_service`, ...) is not.

mod message;
pub mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use fluxbrain_core::{DeliveryError, Notification, NotificationKind, Notifier, Receipt, Retry};
use jiff::Timestamp;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, Url};

use crate::env::{DEFAULT_TIMEOUT, Env};
use crate::error::{Error, sanitize_code};
use crate::http::{Answer, Http, bearer, retry_after};
use crate::secret::{Secret, SecretUrl};
use message::{Message, Style};
use wire::{ApiAnswer, PostMessage, UpdateMessage};

const NAME: &str = "slack";

/// Slack's Web API.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// Error codes of the Web API that pass by themselves.
const RETRYABLE_CODES: [&str; 6] = [
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// Where Slack messages go.
#[derive(Debug, Clone)]
pub enum SlackTarget {
    /// An incoming webhook URL (a secret); no threading, no updates.
    Webhook {
        /// The webhook URL.
        url: SecretUrl,
    },
    /// A bot token posting to one channel through the Web API.
    Bot {
        /// The `xoxb-` token.
        token: Secret,
        /// Channel id (`C0123…`) or name.
        channel: String,
        /// The Web API base, e.g. `https://slack.com/api`.
        api_url: SecretUrl,
    },
}

/// Configuration of the [`SlackNotifier`].
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Webhook or bot.
    pub target: SlackTarget,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// A batch with more firings (or more updates) than this for one cluster becomes one
    /// summary message.
    pub summary_threshold: usize,
}

impl SlackConfig {
    /// An incoming webhook with the default timeout and summary threshold.
    pub fn webhook(url: SecretUrl) -> SlackConfig {
        SlackConfig::with_target(SlackTarget::Webhook { url })
    }

    /// A bot token posting to `channel` through `api_url` (see [`DEFAULT_API_URL`]).
    pub fn bot(token: Secret, channel: impl Into<String>, api_url: SecretUrl) -> SlackConfig {
        SlackConfig::with_target(SlackTarget::Bot {
            token,
            channel: channel.into(),
            api_url,
        })
    }

    fn with_target(target: SlackTarget) -> SlackConfig {
        SlackConfig {
            target,
            timeout: DEFAULT_TIMEOUT,
            summary_threshold: 10,
        }
    }

    /// Reads `FLUXBRAIN_SLACK_WEBHOOK` (or `_WEBHOOK_FILE`), or `FLUXBRAIN_SLACK_TOKEN` (or
    /// `_TOKEN_FILE`) with `FLUXBRAIN_SLACK_CHANNEL` and `FLUXBRAIN_SLACK_API_URL` (default
    /// [`DEFAULT_API_URL`]), and `FLUXBRAIN_NOTIFY_TIMEOUT` (default `10s`).
    ///
    /// `Ok(None)` when neither a webhook nor a token is set. Both at once, a token without a
    /// channel, or a channel without a token are errors.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<SlackConfig>, Error> {
        let env = Env::new(&lookup);
        let webhook = env.secret_url("FLUXBRAIN_SLACK_WEBHOOK", "FLUXBRAIN_SLACK_WEBHOOK_FILE")?;
        let token = env.secret("FLUXBRAIN_SLACK_TOKEN", "FLUXBRAIN_SLACK_TOKEN_FILE")?;
        let channel = env.var("FLUXBRAIN_SLACK_CHANNEL");
        let timeout = env.duration("FLUXBRAIN_NOTIFY_TIMEOUT", DEFAULT_TIMEOUT)?;
        let target = match (webhook, token, channel) {
            (Some(_), Some(_), _) => {
                return Err(Error::Config {
                    variable: "FLUXBRAIN_SLACK_TOKEN",
                    reason: "set either FLUXBRAIN_SLACK_WEBHOOK or FLUXBRAIN_SLACK_TOKEN, not both"
                        .into(),
                });
            }
            (Some(url), None, None) => SlackTarget::Webhook { url },
            (Some(_), None, Some(_)) => {
                return Err(Error::Config {
                    variable: "FLUXBRAIN_SLACK_CHANNEL",
                    reason: "only used with FLUXBRAIN_SLACK_TOKEN; an incoming webhook posts to its own channel"
                        .into(),
                });
            }
            (None, Some(token), Some(channel)) => {
                let api_url = match env.url("FLUXBRAIN_SLACK_API_URL")? {
                    Some(url) => url,
                    None => SecretUrl::parse(DEFAULT_API_URL).map_err(|reason| Error::Config {
                        variable: "FLUXBRAIN_SLACK_API_URL",
                        reason,
                    })?,
                };
                SlackTarget::Bot {
                    token,
                    channel,
                    api_url,
                }
            }
            (None, Some(_), None) => {
                return Err(Error::Config {
                    variable: "FLUXBRAIN_SLACK_CHANNEL",
                    reason: "required when FLUXBRAIN_SLACK_TOKEN is set".into(),
                });
            }
            (None, None, Some(_)) => {
                return Err(Error::Config {
                    variable: "FLUXBRAIN_SLACK_TOKEN",
                    reason: "required when FLUXBRAIN_SLACK_CHANNEL is set".into(),
                });
            }
            (None, None, None) => return Ok(None),
        };
        Ok(Some(SlackConfig {
            timeout,
            ..SlackConfig::with_target(target)
        }))
    }
}

/// A message already in Slack: where it is, and whether it is a burst summary (whose first
/// message is never rewritten for one incident).
///
/// Kept in a [`Receipt`] as `channel:ts`, or `channel:ts:summary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackThread {
    /// The channel id.
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
    /// Whether it is a burst summary.
    pub summary: bool,
}

impl SlackThread {
    /// The receipt reference.
    pub fn reference(&self) -> String {
        if self.summary {
            format!("{}:{}:summary", self.channel, self.ts)
        } else {
            format!("{}:{}", self.channel, self.ts)
        }
    }

    /// Reads a reference; a bare `ts` (no channel) is in `default_channel`.
    pub fn parse(reference: &str, default_channel: &str) -> Option<SlackThread> {
        let parts: Vec<&str> = reference.split(':').collect();
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| {
                    c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' || c == '#'
                })
        };
        let (channel, ts, summary) = match parts.as_slice() {
            [ts] => (default_channel, *ts, false),
            [channel, ts] => (*channel, *ts, false),
            [channel, ts, "summary"] => (*channel, *ts, true),
            _ => return None,
        };
        (valid(ts) && !channel.is_empty()).then(|| SlackThread {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
            summary,
        })
    }
}

/// Posts incidents to Slack. See the [module docs](self).
#[derive(Debug)]
pub struct SlackNotifier {
    config: SlackConfig,
    http: Http,
    /// Slack's one message per second per channel, bursts of 3 (see [`crate::limit`]).
    per_channel: crate::limit::Keyed,
}

impl SlackNotifier {
    /// A notifier with its own HTTP client.
    pub fn new(config: SlackConfig) -> Result<SlackNotifier, Error> {
        let http = Http::new(NAME, config.timeout)?;
        Ok(SlackNotifier {
            config,
            http,
            per_channel: crate::limit::Keyed::new(3, Duration::from_secs(3)),
        })
    }

    async fn deliver_one(
        &self,
        note: &Notification,
        thread: Option<&Receipt>,
    ) -> Result<Receipt, Error> {
        let SlackTarget::Bot { channel, .. } = &self.config.target else {
            // An incoming webhook: one standalone message per notification.
            self.webhook_post(&message::incident(note, Style::Full))
                .await?;
            return Ok(Receipt::default());
        };
        let thread = thread
            .and_then(|r| r.reference.as_deref())
            .and_then(|r| {
                let parsed = SlackThread::parse(r, channel);
                if parsed.is_none() {
                    tracing::warn!(notifier = NAME, notification = %note.id, "ignoring an unreadable thread reference");
                }
                parsed
            });
        match (note.kind, thread) {
            (NotificationKind::Firing, _) | (_, None) => {
                let posted = self
                    .post(channel, None, &message::incident(note, Style::Full))
                    .await?;
                Ok(receipt(&posted, false))
            }
            (NotificationKind::Reminder, Some(thread)) => {
                self.post(
                    &thread.channel,
                    Some(&thread.ts),
                    &message::incident(note, Style::ReminderReply),
                )
                .await?;
                Ok(receipt(&thread, thread.summary))
            }
            (NotificationKind::Updated, Some(thread)) => {
                if !thread.summary {
                    let root = message::incident(note, Style::UpdatedRoot);
                    match self.update(&thread, &root).await {
                        Ok(()) => {}
                        // The first message is gone or no longer editable: the reply still says it.
                        Err(e) if e.retry() == Retry::Never => {
                            tracing::warn!(notifier = NAME, notification = %note.id, error = %e, "could not update the first message");
                        }
                        Err(e) => return Err(e),
                    }
                }
                self.post(
                    &thread.channel,
                    Some(&thread.ts),
                    &message::incident(note, Style::UpdateReply),
                )
                .await?;
                Ok(receipt(&thread, thread.summary))
            }
            (NotificationKind::Resolved(resolution), Some(thread)) => {
                if !thread.summary {
                    let root = message::incident(note, Style::ResolvedRoot(resolution));
                    match self.update(&thread, &root).await {
                        Ok(()) => {}
                        // The first message is gone or no longer editable: the reply still says it.
                        Err(e) if e.retry() == Retry::Never => {
                            tracing::warn!(notifier = NAME, notification = %note.id, error = %e, "could not mark the first message resolved");
                        }
                        Err(e) => return Err(e),
                    }
                }
                self.post(
                    &thread.channel,
                    Some(&thread.ts),
                    &message::incident(note, Style::ResolvedReply(resolution)),
                )
                .await?;
                Ok(receipt(&thread, thread.summary))
            }
        }
    }

    async fn deliver_summary(
        &self,
        cluster: &str,
        burst: message::Burst,
        notes: &[&Notification],
    ) -> Result<Receipt, Error> {
        match &self.config.target {
            SlackTarget::Webhook { .. } => {
                self.webhook_post(&message::summary(cluster, burst, notes, false))
                    .await?;
                Ok(Receipt::default())
            }
            SlackTarget::Bot { channel, .. } => {
                let posted = self
                    .post(
                        channel,
                        None,
                        &message::summary(cluster, burst, notes, true),
                    )
                    .await?;
                // An updates summary is a message of its own: the incidents keep their threads
                // (the engine keeps a firing's receipt only).
                Ok(receipt(&posted, burst == message::Burst::Firings))
            }
        }
    }

    async fn webhook_post(&self, msg: &Message) -> Result<(), Error> {
        let SlackTarget::Webhook { url } = &self.config.target else {
            return Ok(());
        };
        let body = PostMessage {
            channel: None,
            thread_ts: None,
            text: &msg.text,
            blocks: &msg.blocks,
            unfurl_links: false,
            unfurl_media: false,
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // An incoming webhook posts to one channel.
        self.per_channel.take("").await;
        let answer = self
            .http
            .send(Method::POST, url.expose(), headers, Some(to_json(&body)))
            .await?;
        webhook_answer(answer)
    }

    /// `chat.postMessage`; the posted message's place.
    async fn post(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        msg: &Message,
    ) -> Result<SlackThread, Error> {
        let body = PostMessage {
            channel: Some(channel),
            thread_ts,
            text: &msg.text,
            blocks: &msg.blocks,
            unfurl_links: false,
            unfurl_media: false,
        };
        self.per_channel.take(channel).await;
        let (answer, host) = self.call("chat.postMessage", to_json(&body)).await?;
        posted(answer, host)
    }

    /// `chat.update` of the message at `thread`.
    async fn update(&self, thread: &SlackThread, msg: &Message) -> Result<(), Error> {
        let body = UpdateMessage {
            channel: &thread.channel,
            ts: &thread.ts,
            text: &msg.text,
            blocks: &msg.blocks,
        };
        self.per_channel.take(&thread.channel).await;
        self.call("chat.update", to_json(&body)).await?;
        Ok(())
    }

    /// One Web API call: HTTP errors, then `ok: false`, classified.
    async fn call(
        &self,
        operation: &'static str,
        body: Vec<u8>,
    ) -> Result<(ApiAnswer, String), Error> {
        let SlackTarget::Bot { token, api_url, .. } = &self.config.target else {
            return Err(Error::Request {
                notifier: NAME,
                host: String::new(),
                reason: format!("{operation} needs a bot token"),
            });
        };
        let host = api_url.host();
        let url = method_url(api_url, operation).ok_or_else(|| Error::Request {
            notifier: NAME,
            host: host.clone(),
            reason: format!("cannot form the {operation} URL"),
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert(AUTHORIZATION, bearer(NAME, &host, token)?);
        let answer = self
            .http
            .send(Method::POST, &url, headers, Some(body))
            .await?;
        Ok((api_answer(answer, operation)?, host))
    }
}

/// Reads the Web API's answer to `operation`: HTTP errors, then `ok: false`, classified.
pub(crate) fn api_answer(answer: Answer, operation: &'static str) -> Result<ApiAnswer, Error> {
    let answer = answer.success_or(NAME, error_code)?;
    let parsed: ApiAnswer = answer.json(NAME, &format!("the answer to {operation}"))?;
    if parsed.ok {
        return Ok(parsed);
    }
    let code = sanitize_code(parsed.error.as_deref().unwrap_or(""));
    let retry = if code == "ratelimited" || code == "rate_limited" {
        Retry::Throttled(
            retry_after(&answer.headers, Timestamp::now()).unwrap_or(Duration::from_secs(1)),
        )
    } else if RETRYABLE_CODES.contains(&code.as_str()) {
        Retry::After(retry_after(&answer.headers, Timestamp::now()))
    } else {
        Retry::Never
    };
    Err(Error::Api {
        notifier: NAME,
        host: answer.host,
        operation,
        code,
        retry,
    })
}

/// The place of the message `chat.postMessage` posted, from its `ok` answer.
pub(crate) fn posted(answer: ApiAnswer, host: String) -> Result<SlackThread, Error> {
    match (answer.channel, answer.ts) {
        (Some(channel), Some(ts)) if !channel.is_empty() && !ts.is_empty() => Ok(SlackThread {
            channel,
            ts,
            summary: false,
        }),
        _ => Err(Error::Response {
            notifier: NAME,
            host,
            reason: "chat.postMessage answered ok without channel and ts".into(),
        }),
    }
}

/// Reads an incoming webhook's answer: any 2xx is delivered.
pub(crate) fn webhook_answer(answer: Answer) -> Result<(), Error> {
    answer.success_or(NAME, error_code)?;
    Ok(())
}

#[async_trait]
impl Notifier for SlackNotifier {
    fn name(&self) -> &str {
        NAME
    }

    async fn deliver(
        &self,
        note: &Notification,
        thread: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        crate::error::logged(NAME, note, self.deliver_one(note, thread).await)
    }

    /// Folds a burst: `None` (nothing sent) unless some cluster has more than
    /// [`SlackConfig::summary_threshold`] firings. Then each such cluster gets one summary
    /// message, shared by its notes' results; the other notes come back as `None` for the
    /// engine to deliver one by one.
    async fn deliver_batch(
        &self,
        notes: &[Notification],
    ) -> Option<Vec<Option<Result<Receipt, DeliveryError>>>> {
        let mut bursts: BTreeMap<(&str, bool), Vec<usize>> = BTreeMap::new();
        for (i, note) in notes.iter().enumerate() {
            match note.kind {
                NotificationKind::Firing => bursts.entry((note.cluster(), true)),
                NotificationKind::Updated => bursts.entry((note.cluster(), false)),
                _ => continue,
            }
            .or_default()
            .push(i);
        }
        bursts.retain(|_, indices| indices.len() > self.config.summary_threshold);
        if bursts.is_empty() {
            return None;
        }
        let mut results: Vec<Option<Result<Receipt, DeliveryError>>> = vec![None; notes.len()];
        for ((cluster, firings), indices) in bursts {
            let burst: Vec<&Notification> = indices.iter().filter_map(|&i| notes.get(i)).collect();
            let kind = if firings {
                message::Burst::Firings
            } else {
                message::Burst::Updates
            };
            let outcome = self
                .deliver_summary(cluster, kind, &burst)
                .await
                .map_err(|e| {
                    tracing::warn!(notifier = NAME, %cluster, error = %e, "summary delivery failed");
                    DeliveryError::from(e)
                });
            for i in indices {
                if let Some(slot) = results.get_mut(i) {
                    *slot = Some(outcome.clone());
                }
            }
        }
        // Notes not folded into a summary are left to the engine, one message each.
        Some(results)
    }
}

fn receipt(thread: &SlackThread, summary: bool) -> Receipt {
    Receipt {
        reference: Some(
            SlackThread {
                summary,
                ..thread.clone()
            }
            .reference(),
        ),
    }
}

fn method_url(base: &SecretUrl, operation: &str) -> Option<Url> {
    let base = base.expose().as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/{operation}")).ok()
}

/// The error code of a non-2xx answer: the Web API's `{"error": ...}`, or an incoming
/// webhook's plain-text code (`invalid_token`, `no_service`, `channel_is_archived`).
fn error_code(body: &[u8]) -> Option<String> {
    if let Ok(answer) = serde_json::from_slice::<ApiAnswer>(body) {
        return answer.error.map(|e| sanitize_code(&e));
    }
    let text = std::str::from_utf8(body).ok()?.trim();
    let looks_like_code = !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    looks_like_code.then(|| sanitize_code(text))
}

fn to_json<T: serde::Serialize>(body: &T) -> Vec<u8> {
    // Wire types with string keys only: serializing into a Vec cannot fail.
    serde_json::to_vec(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_references_round_trip() {
        let t = SlackThread {
            channel: "C0123".into(),
            ts: "1714000000.000100".into(),
            summary: false,
        };
        assert_eq!(t.reference(), "C0123:1714000000.000100");
        assert_eq!(SlackThread::parse(&t.reference(), "x"), Some(t.clone()));
        let s = SlackThread {
            summary: true,
            ..t.clone()
        };
        assert_eq!(s.reference(), "C0123:1714000000.000100:summary");
        assert_eq!(SlackThread::parse(&s.reference(), "x"), Some(s));
        assert_eq!(
            SlackThread::parse("1714000000.000100", "C9").map(|t| t.channel),
            Some("C9".to_owned())
        );
        assert_eq!(SlackThread::parse("a:b:c:d", "x"), None);
        assert_eq!(SlackThread::parse("C1:", "x"), None);
    }

    #[test]
    fn error_codes_from_bodies() {
        assert_eq!(error_code(b"invalid_token"), Some("invalid_token".into()));
        assert_eq!(error_code(b"no_service\n"), Some("no_service".into()));
        assert_eq!(
            error_code(br#"{"ok":false,"error":"ratelimited"}"#),
            Some("ratelimited".into())
        );
        assert_eq!(error_code(b"<html>Bad gateway</html>"), None);
    }
}
