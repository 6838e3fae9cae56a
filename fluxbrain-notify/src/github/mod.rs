//! The GitHub issues notifier: one issue per incident.
//!
//! - Firing: list the repository's open issues labelled `fluxbrain:<fingerprint>`; when one
//!   exists, that is the incident's issue (so lost state, or a retry after a timeout whose
//!   create went through, never opens a duplicate); otherwise open one titled
//!   `fluxbrain: <Kind> <namespace>/<name> failing on <cluster>`, labelled `fluxbrain` and
//!   `fluxbrain:<fingerprint>`.
//! - Reminder: a comment on the issue (found the same way when the engine lost its receipt;
//!   opened when none is open).
//! - Resolved: close the issue, then comment why. Closing first keeps a retried resolution from
//!   commenting twice; without a receipt and with no open issue there is nothing to resolve.
//!
//! The issue number is the [`Receipt`]. Every call sends `Accept: application/vnd.github+json`,
//! `X-GitHub-Api-Version: 2022-11-28`, a `User-Agent` and `Authorization: Bearer`. Rate limits
//! (403/429 with `x-ratelimit-remaining: 0`, `retry-after`, or a secondary-limit message) are
//! retryable after the reset; other 4xx are not.

mod body;
pub mod wire;

use std::time::Duration;

use async_trait::async_trait;
use fluxbrain_core::{
    DeliveryError, Notification, NotificationKind, Notifier, Receipt, Resolution,
};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, Url};

use crate::env::{DEFAULT_TIMEOUT, Env};
use crate::error::{Error, sanitize_code};
use crate::http::{Answer, Http, bearer};
use crate::secret::{Secret, SecretUrl};
use wire::{CloseIssue, Issue, NewComment, NewIssue};

const NAME: &str = "github";

/// GitHub.com's REST API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The REST API version fluxbrain is written against.
pub const API_VERSION: &str = "2022-11-28";

/// Configuration of the [`GithubNotifier`].
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// Repository owner (user or organisation).
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// A token that may read and write issues.
    pub token: Secret,
    /// The REST API base: [`DEFAULT_API_URL`], or `https://<host>/api/v3` for GitHub
    /// Enterprise Server.
    pub api_url: SecretUrl,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

impl GithubConfig {
    /// Issues in `owner/repo` on GitHub.com with the default timeout.
    ///
    /// Fails when `owner` or `repo` is not a valid GitHub name.
    pub fn new(owner: &str, repo: &str, token: Secret) -> Result<GithubConfig, Error> {
        Ok(GithubConfig {
            owner: valid_name("FLUXBRAIN_GITHUB_OWNER", owner)?,
            repo: valid_name("FLUXBRAIN_GITHUB_REPO", repo)?,
            token,
            api_url: SecretUrl::parse(DEFAULT_API_URL).map_err(|reason| Error::Config {
                variable: "FLUXBRAIN_GITHUB_API_URL",
                reason,
            })?,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Reads `FLUXBRAIN_GITHUB_OWNER`, `FLUXBRAIN_GITHUB_REPO`, `FLUXBRAIN_GITHUB_TOKEN` (or
    /// `_TOKEN_FILE`), `FLUXBRAIN_GITHUB_API_URL` (default [`DEFAULT_API_URL`]) and
    /// `FLUXBRAIN_NOTIFY_TIMEOUT` (default `10s`).
    ///
    /// `Ok(None)` when none of owner, repo and token is set; some but not all is an error
    /// naming the missing variable.
    pub fn from_env(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<GithubConfig>, Error> {
        let env = Env::new(&lookup);
        let owner = env.var("FLUXBRAIN_GITHUB_OWNER");
        let repo = env.var("FLUXBRAIN_GITHUB_REPO");
        let token = env.secret("FLUXBRAIN_GITHUB_TOKEN", "FLUXBRAIN_GITHUB_TOKEN_FILE")?;
        let (owner, repo, token) = match (owner, repo, token) {
            (None, None, None) => return Ok(None),
            (Some(o), Some(r), Some(t)) => (o, r, t),
            (o, r, t) => {
                let set = [
                    "FLUXBRAIN_GITHUB_OWNER",
                    "FLUXBRAIN_GITHUB_REPO",
                    "FLUXBRAIN_GITHUB_TOKEN",
                ]
                .into_iter()
                .zip([o.is_some(), r.is_some(), t.is_some()]);
                let (missing, present): (Vec<_>, Vec<_>) = set.partition(|(_, is_set)| !is_set);
                let variable = missing
                    .first()
                    .map_or("FLUXBRAIN_GITHUB_OWNER", |(v, _)| *v);
                let given: Vec<&str> = present.iter().map(|(v, _)| *v).collect();
                return Err(Error::Config {
                    variable,
                    reason: format!("required when {} is set", given.join(" and ")),
                });
            }
        };
        let mut config = GithubConfig::new(&owner, &repo, token)?;
        if let Some(url) = env.url("FLUXBRAIN_GITHUB_API_URL")? {
            config.api_url = url;
        }
        config.timeout = env.duration("FLUXBRAIN_NOTIFY_TIMEOUT", DEFAULT_TIMEOUT)?;
        Ok(Some(config))
    }
}

/// Opens, comments on and closes one issue per incident. See the [module docs](self).
#[derive(Debug)]
pub struct GithubNotifier {
    config: GithubConfig,
    http: Http,
    /// GitHub's documented secondary limits on content creation: 80 a minute, 500 an hour.
    per_minute: crate::limit::Bucket,
    per_hour: crate::limit::Bucket,
}

impl GithubNotifier {
    /// A notifier with its own HTTP client.
    pub fn new(config: GithubConfig) -> Result<GithubNotifier, Error> {
        let http = Http::new(NAME, config.timeout)?;
        Ok(GithubNotifier {
            config,
            http,
            per_minute: crate::limit::Bucket::new(80, Duration::from_secs(60)),
            per_hour: crate::limit::Bucket::new(500, Duration::from_secs(3600)),
        })
    }

    /// Waits for GitHub's secondary limits on content-creating requests.
    async fn creating(&self) {
        self.per_minute.take().await;
        self.per_hour.take().await;
    }

    async fn deliver_one(
        &self,
        note: &Notification,
        thread: Option<&Receipt>,
    ) -> Result<Receipt, Error> {
        let label = format!("fluxbrain:{}", note.event.metadata.fingerprint);
        let known = thread
            .and_then(|r| r.reference.as_deref())
            .and_then(|r| r.trim().parse::<u64>().ok());
        match note.kind {
            NotificationKind::Firing => {
                let number = match self.find_open(&label).await? {
                    Some(n) => {
                        tracing::debug!(
                            notifier = NAME,
                            issue = n,
                            "incident already has an open issue"
                        );
                        n
                    }
                    None => self.open(note, &label).await?,
                };
                Ok(receipt(number))
            }
            NotificationKind::Reminder => {
                let number = match known {
                    Some(n) => n,
                    None => match self.find_open(&label).await? {
                        Some(n) => n,
                        // The issue was closed by hand or never opened: the incident is still
                        // open, so it gets one, which says everything a reminder would.
                        None => return Ok(receipt(self.open(note, &label).await?)),
                    },
                };
                self.comment(number, &body::reminder(note)).await?;
                Ok(receipt(number))
            }
            NotificationKind::Updated => {
                let number = match known {
                    Some(n) => n,
                    None => match self.find_open(&label).await? {
                        Some(n) => n,
                        None => return Ok(receipt(self.open(note, &label).await?)),
                    },
                };
                self.comment(number, &body::updated(note)).await?;
                Ok(receipt(number))
            }
            NotificationKind::Resolved(resolution) => {
                let number = match known {
                    Some(n) => n,
                    None => match self.find_open(&label).await? {
                        Some(n) => n,
                        None => {
                            tracing::debug!(notifier = NAME, notification = %note.id, "no open issue to resolve");
                            return Ok(Receipt::default());
                        }
                    },
                };
                self.close(number, resolution).await?;
                self.comment(number, &body::resolved(note, resolution))
                    .await?;
                Ok(receipt(number))
            }
        }
    }

    /// The oldest open issue carrying `label`, if any.
    async fn find_open(&self, label: &str) -> Result<Option<u64>, Error> {
        let mut url = self.url(&["issues"])?;
        url.query_pairs_mut()
            .append_pair("state", "open")
            .append_pair("labels", label)
            .append_pair("per_page", "100");
        let answer = self.call(Method::GET, url, None).await?;
        oldest_open(&answer, label)
    }

    async fn open(&self, note: &Notification, label: &str) -> Result<u64, Error> {
        let title = body::title(note);
        let text = body::issue(note);
        let issue = NewIssue {
            title: &title,
            body: &text,
            labels: ["fluxbrain", label],
        };
        self.creating().await;
        let answer = self
            .call(Method::POST, self.url(&["issues"])?, Some(to_json(&issue)))
            .await?;
        // The issue may exist although its reply is unreadable (no `number`, not JSON). The
        // error is retryable all the same: the next attempt lists the open issues with this
        // label first and takes the one this call opened, so it cannot open a second.
        let created = created(&answer)?;
        tracing::info!(notifier = NAME, issue = created.number, notification = %note.id, "opened issue");
        Ok(created.number)
    }

    async fn comment(&self, number: u64, text: &str) -> Result<(), Error> {
        let url = self.url(&["issues", &number.to_string(), "comments"])?;
        self.creating().await;
        self.call(Method::POST, url, Some(to_json(&NewComment { body: text })))
            .await?;
        Ok(())
    }

    async fn close(&self, number: u64, resolution: Resolution) -> Result<(), Error> {
        let state_reason = match resolution {
            Resolution::Recovered | Resolution::Deleted => "completed",
            Resolution::Superseded | Resolution::Suspended => "not_planned",
        };
        let url = self.url(&["issues", &number.to_string()])?;
        let patch = CloseIssue {
            state: "closed",
            state_reason,
        };
        self.creating().await;
        self.call(Method::PATCH, url, Some(to_json(&patch))).await?;
        Ok(())
    }

    /// `{api}/repos/{owner}/{repo}/<segments>`.
    fn url(&self, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.config.api_url.expose().clone();
        let host = self.config.api_url.host();
        {
            let mut path = url.path_segments_mut().map_err(|()| Error::Request {
                notifier: NAME,
                host: host.clone(),
                reason: "the API URL cannot take a path".into(),
            })?;
            path.pop_if_empty()
                .extend([
                    "repos",
                    self.config.owner.as_str(),
                    self.config.repo.as_str(),
                ])
                .extend(segments);
        }
        Ok(url)
    }

    async fn call(&self, method: Method, url: Url, body: Option<Vec<u8>>) -> Result<Answer, Error> {
        let host = self.config.api_url.host();
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        );
        headers.insert(
            "x-github-api-version",
            HeaderValue::from_static(API_VERSION),
        );
        headers.insert(AUTHORIZATION, bearer(NAME, &host, &self.config.token)?);
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        succeeded(self.http.send(method, &url, headers, body).await?)
    }
}

/// `Ok` for a 2xx answer; otherwise the classified error, with GitHub's message as its code.
pub(crate) fn succeeded(answer: Answer) -> Result<Answer, Error> {
    answer.success_or(NAME, github_message)
}

/// The oldest issue carrying `label` in a list of open issues (pull requests skipped).
pub(crate) fn oldest_open(answer: &Answer, label: &str) -> Result<Option<u64>, Error> {
    let issues: Vec<Issue> = answer.json(NAME, "the list of open issues")?;
    Ok(issues
        .iter()
        .filter(|i| i.pull_request.is_none() && i.has_label(label))
        .map(|i| i.number)
        .min())
}

/// The issue an `issues` POST opened.
pub(crate) fn created(answer: &Answer) -> Result<Issue, Error> {
    answer.json(NAME, "the reply to opening an issue")
}

#[async_trait]
impl Notifier for GithubNotifier {
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
}

fn receipt(number: u64) -> Receipt {
    Receipt {
        reference: Some(number.to_string()),
    }
}

/// GitHub names: letters, digits, `-`, `_`, `.`; at most 100 characters.
fn valid_name(variable: &'static str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    let ok = !value.is_empty()
        && value.len() <= 100
        && value != "."
        && value != ".."
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(Error::Config {
            variable,
            reason: format!("{value:?} is not a GitHub owner or repository name"),
        })
    }
}

/// A short reason from GitHub's `{"message": ...}` error body.
fn github_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Message {
        message: String,
    }
    let m: Message = serde_json::from_slice(body).ok()?;
    let words: String = m
        .message
        .split_whitespace()
        .take(8)
        .collect::<Vec<_>>()
        .join("_");
    Some(sanitize_code(&words))
}

fn to_json<T: serde::Serialize>(body: &T) -> Vec<u8> {
    // Wire types with string keys only: serializing into a Vec cannot fail.
    serde_json::to_vec(body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(valid_name("V", "fluxbrain").is_ok());
        assert!(valid_name("V", "my.repo-1_x").is_ok());
        assert!(valid_name("V", "a/b").is_err());
        assert!(valid_name("V", "..").is_err());
        assert!(valid_name("V", "").is_err());
    }

    #[test]
    fn urls_keep_the_enterprise_prefix() {
        let mut config = GithubConfig::new("acme", "fleet", Secret::new("t")).unwrap();
        config.api_url = SecretUrl::parse("https://ghe.example.com/api/v3/").unwrap();
        let n = GithubNotifier::new(config).unwrap();
        assert_eq!(
            n.url(&["issues", "7", "comments"]).unwrap().as_str(),
            "https://ghe.example.com/api/v3/repos/acme/fleet/issues/7/comments"
        );
    }

    #[test]
    fn error_messages_are_short_codes() {
        assert_eq!(
            github_message(br#"{"message":"Validation Failed","errors":[]}"#),
            Some("Validation_Failed".into())
        );
        assert_eq!(github_message(b"nope"), None);
    }
}
