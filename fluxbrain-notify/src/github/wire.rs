//! GitHub REST wire types for issues and comments. Shapes only.

use serde::{Deserialize, Serialize};

/// `POST /repos/{owner}/{repo}/issues`.
#[derive(Debug, Serialize)]
pub struct NewIssue<'a> {
    /// The title.
    pub title: &'a str,
    /// Markdown body.
    pub body: &'a str,
    /// `fluxbrain` and `fluxbrain:<fingerprint>`.
    pub labels: [&'a str; 2],
}

/// `POST /repos/{owner}/{repo}/issues/{number}/comments`.
#[derive(Debug, Serialize)]
pub struct NewComment<'a> {
    /// Markdown body.
    pub body: &'a str,
}

/// `PATCH /repos/{owner}/{repo}/issues/{number}` closing it.
#[derive(Debug, Serialize)]
pub struct CloseIssue {
    /// Always `closed`.
    pub state: &'static str,
    /// `completed` (recovered, deleted) or `not_planned` (superseded, suspended).
    pub state_reason: &'static str,
}

/// The fields fluxbrain reads of an issue.
#[derive(Debug, Deserialize)]
pub struct Issue {
    /// The issue number.
    pub number: u64,
    /// Present when the "issue" is a pull request (the issues API lists both).
    #[serde(default)]
    pub pull_request: Option<serde::de::IgnoredAny>,
    /// Labels, as objects with a `name` (or plain strings).
    #[serde(default)]
    pub labels: Vec<serde_json::Value>,
}

impl Issue {
    /// Whether `label` is among the issue's labels (true when the API left labels out).
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.is_empty()
            || self.labels.iter().any(|l| {
                l.as_str() == Some(label)
                    || l.get("name").and_then(serde_json::Value::as_str) == Some(label)
            })
    }
}
