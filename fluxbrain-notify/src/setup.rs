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
/// configured. Stops at the first problem; [`configured_notifiers`] reports them all.
pub fn notifiers_from_env(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Arc<dyn Notifier>>, Error> {
    let (notifiers, mut problems) = configured_notifiers(lookup);
    match problems.is_empty() {
        true => Ok(notifiers),
        false => Err(problems.remove(0)),
    }
}

/// Every notifier that is configured correctly, and the problem of each one that is not (the
/// first problem of each notifier: one per notifier, all notifiers checked).
pub fn configured_notifiers(
    lookup: impl Fn(&str) -> Option<String>,
) -> (Vec<Arc<dyn Notifier>>, Vec<Error>) {
    let mut notifiers: Vec<Arc<dyn Notifier>> = Vec::new();
    let mut problems = Vec::new();
    let mut add = |built: Result<Option<Arc<dyn Notifier>>, Error>| match built {
        Ok(Some(notifier)) => notifiers.push(notifier),
        Ok(None) => {}
        Err(e) => problems.push(e),
    };
    add(SlackConfig::from_env(&lookup).and_then(|c| {
        c.map(|c| SlackNotifier::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>))
            .transpose()
    }));
    add(WebhookConfig::from_env(&lookup).and_then(|c| {
        c.map(|c| WebhookNotifier::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>))
            .transpose()
    }));
    add(GithubConfig::from_env(&lookup).and_then(|c| {
        c.map(|c| GithubNotifier::new(c).map(|n| Arc::new(n) as Arc<dyn Notifier>))
            .transpose()
    }));
    (notifiers, problems)
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
