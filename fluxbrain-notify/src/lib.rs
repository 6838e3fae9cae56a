//! Outbound HTTP of fluxbrain: the Slack, webhook and GitHub issue [`Notifier`]s and the
//! errorbrain [`Analyzer`].
//!
//! Each notifier implements core's [`Notifier`] trait: it makes one attempt per call, within
//! its own timeout, and says through [`Retry`] whether the engine may try again (5xx,
//! timeouts, 429 and rate limits: yes, with the destination's `Retry-After` or reset time; other
//! 4xx: no). A destination that misbehaves (a redirect, which is never followed, a failed TLS
//! handshake, an answer over [`http::MAX_ANSWER`], which is not read past it) is retryable with
//! the error shown, so the notification stays in the engine's outbox. Idempotency comes from the notification id: the webhook sends it as
//! `Idempotency-Key`, GitHub finds an incident's issue by its `fluxbrain:<fingerprint>` label
//! before opening one, and Slack threads on the [`Receipt`] the engine keeps.
//!
//! What it deliberately is not: a retry loop, a queue or a policy. The engine (in
//! `fluxbrain-core`) decides what to say and when, owns backoff and the outbox, and stores the
//! receipts. Nothing here judges a failure: messages show observed facts, and errorbrain's
//! analysis only when it arrived in time, labelled as errorbrain's.
//!
//! Secrets (webhook URLs, tokens, signing keys) are held in [`Secret`] and [`SecretUrl`], never
//! appear in `Debug` output, errors or logs; errors name the notifier and the host.
//!
//! Where to start: [`notifiers_from_env`] and [`analyzer_from_env`] build everything the
//! `FLUXBRAIN_*` settings ask for; or build one notifier from its config:
//! [`SlackNotifier`], [`WebhookNotifier`], [`GithubNotifier`], [`ErrorbrainAnalyzer`].
//! Webhook receivers verify signatures as described in [`webhook::signature`].

#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod env;
pub mod error;
pub mod errorbrain;
mod facts;
// The fuzz targets' way in to the answer parsers; hidden, not a stable API.
#[doc(hidden)]
pub mod fuzzing;
pub mod github;
pub mod http;
pub mod limit;
pub mod secret;
mod setup;
pub mod slack;
pub mod webhook;

pub use env::DEFAULT_TIMEOUT;
pub use error::Error;
pub use errorbrain::{AnalyzeRequest, ErrorbrainAnalyzer, ErrorbrainConfig};
pub use fluxbrain_core::{Analyzer, Notifier, Receipt, Retry};
pub use github::{GithubConfig, GithubNotifier};
pub use http::{USER_AGENT, classify};
pub use secret::{Secret, SecretUrl};
pub use setup::{analyzer_from_env, configured_notifiers, notifiers_from_env};
pub use slack::{SlackConfig, SlackNotifier, SlackTarget, SlackThread};
pub use webhook::{Envelope, EnvelopeHeader, WebhookConfig, WebhookFormat, WebhookNotifier};
