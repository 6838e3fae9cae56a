//! Building every notifier and the analyzer the `FLUXBRAIN_*` settings ask for.
//!
//! This is what the CLI calls: it passes a lookup closure over its merged flags and
//! environment, and gets ready-to-use trait objects, or the first configuration error (which
//! names its variable; exit code 2).

use std::sync::Arc;

use fluxbrain_core::{Analyzer, Notifier};

use crate::error::Error;
use crate::errorbrain::{ErrorbrainAnalyzer, ErrorbrainConfig};
use crate::github::{GithubConfig, GithubNotifier};
use crate::slack::{SlackConfig, SlackNotifier};
use crate::webhook::{WebhookConfig, WebhookNotifier};

/// Every configured notifier, in a fixed order (Slack, webhook, GitHub); empty when none is
/// configured.
pub fn notifiers_from_env(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Arc<dyn Notifier>>, Error> {
    let mut out: Vec<Arc<dyn Notifier>> = Vec::new();
    if let Some(config) = SlackConfig::from_env(&lookup)? {
        out.push(Arc::new(SlackNotifier::new(config)?));
    }
    if let Some(config) = WebhookConfig::from_env(&lookup)? {
        out.push(Arc::new(WebhookNotifier::new(config)?));
    }
    if let Some(config) = GithubConfig::from_env(&lookup)? {
        out.push(Arc::new(GithubNotifier::new(config)?));
    }
    Ok(out)
}

/// The errorbrain analyzer, when `FLUXBRAIN_ERRORBRAIN_URL` is set.
pub fn analyzer_from_env(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Option<Arc<dyn Analyzer>>, Error> {
    match ErrorbrainConfig::from_env(lookup)? {
        Some(config) => Ok(Some(Arc::new(ErrorbrainAnalyzer::new(config)?))),
        None => Ok(None),
    }
}
