//! Operator controls: silences and acknowledgements, the one thing people write into
//! fluxbrain's state.
//!
//! They live in their own small document beside the engine's state ([`Control`], through
//! [`StateStore::load_control`] and
//! [`StateStore::save_control`]), so an operator's write never
//! races the engine's: people write the control document (compare-and-swap, see [`update`]),
//! the engine only reads it, once per policy step. A write made through any replica, or
//! straight into the store, is what the leader reads at its next step.
//!
//! - A [`Silence`] holds back the firing, updates and reminders of every incident it matches
//!   until it ends; the incident still opens and resolves. It always has an author, a comment
//!   and an end.
//! - An [`Ack`] stops the reminders of one open incident until it resolves or is superseded.

mod glob;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::{StateStore, StoreError};
use crate::policy::IncidentKey;
use crate::time::Time;

pub use glob::{Glob, GlobError};

/// The version of the control document format; stores refuse other versions.
pub const CONTROL_VERSION: u32 = 1;

/// The longest a silence may last: none is forever.
pub const LONGEST_SILENCE: Duration = Duration::from_secs(365 * 24 * 3600);

/// How long an ended silence stays listed before it is dropped.
pub const ENDED_SILENCES_KEPT: Duration = Duration::from_secs(7 * 24 * 3600);

/// The operators' document: silences and acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// [`CONTROL_VERSION`].
    pub version: u32,
    /// Silences, active and recently ended, oldest first.
    #[serde(default)]
    pub silences: Vec<Silence>,
    /// Acknowledgements of open incidents.
    #[serde(default)]
    pub acks: Vec<Ack>,
}

impl Default for Control {
    fn default() -> Self {
        Control {
            version: CONTROL_VERSION,
            silences: Vec::new(),
            acks: Vec::new(),
        }
    }
}

/// What a matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// The cluster name.
    Cluster,
    /// The object's namespace.
    Namespace,
    /// The object's kind (`Kustomization`, `HelmRelease`, ...).
    Kind,
    /// The object's name.
    Name,
    /// The failing condition's reason (`BuildFailed`, ...).
    Reason,
}

impl MatchKey {
    /// Every key, in the order they are listed.
    pub const ALL: [MatchKey; 5] = [
        MatchKey::Cluster,
        MatchKey::Namespace,
        MatchKey::Kind,
        MatchKey::Name,
        MatchKey::Reason,
    ];

    /// The key as written in `KEY=VALUE`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKey::Cluster => "cluster",
            MatchKey::Namespace => "namespace",
            MatchKey::Kind => "kind",
            MatchKey::Name => "name",
            MatchKey::Reason => "reason",
        }
    }
}

impl FromStr for MatchKey {
    type Err = ControlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MatchKey::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| ControlError::UnknownKey(s.to_owned()))
    }
}

/// One `KEY=VALUE` condition of a silence; the value is a [`Glob`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matcher {
    /// What is compared.
    pub key: MatchKey,
    /// The pattern.
    pub value: String,
}

impl Matcher {
    /// Reads `KEY=VALUE`.
    ///
    /// # Errors
    /// No `=`, an unknown key, or a value that is not a valid [`Glob`].
    pub fn parse(text: &str) -> Result<Matcher, ControlError> {
        let (key, value) = text
            .split_once('=')
            .ok_or_else(|| ControlError::NotAMatcher(text.to_owned()))?;
        let matcher = Matcher {
            key: key.trim().parse()?,
            value: value.to_owned(),
        };
        matcher.glob()?;
        Ok(matcher)
    }

    fn glob(&self) -> Result<Glob, ControlError> {
        Glob::new(&self.value).map_err(|e| ControlError::InvalidGlob {
            matcher: self.to_string(),
            problem: e.0,
        })
    }

    /// Whether the incident of `key`, failing with `reason`, matches.
    pub fn matches(&self, key: &IncidentKey, reason: &str) -> bool {
        let text = match self.key {
            MatchKey::Cluster => &key.cluster,
            MatchKey::Namespace => &key.namespace,
            MatchKey::Kind => &key.kind,
            MatchKey::Name => &key.name,
            MatchKey::Reason => reason,
        };
        // A stored matcher was checked when it was added; one edited by hand into something
        // unreadable matches nothing.
        self.glob().is_ok_and(|g| g.matches(text))
    }
}

/// `key=value`.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key.as_str(), self.value)
    }
}

/// A silence: while it lasts, the incidents it matches announce nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// Short stable id (12 hex digits).
    pub id: String,
    /// All must match (an incident matches when every matcher does).
    pub matchers: Vec<Matcher>,
    /// Who added it.
    pub author: String,
    /// Why.
    pub comment: String,
    /// When it was added.
    pub created: Time,
    /// When it ends (or ended).
    pub ends: Time,
    /// Who ended it early, if anyone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_by: Option<String>,
}

impl Silence {
    /// Whether it is in effect at `now`.
    pub fn active(&self, now: Time) -> bool {
        now < self.ends
    }

    /// Whether it matches the incident of `key` failing with `reason` (whatever the time).
    pub fn matches(&self, key: &IncidentKey, reason: &str) -> bool {
        self.matchers.iter().all(|m| m.matches(key, reason))
    }

    /// `key=value key=value`.
    pub fn matchers_text(&self) -> String {
        let parts: Vec<String> = self.matchers.iter().map(ToString::to_string).collect();
        parts.join(" ")
    }
}

/// What an operator asks for when adding a silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceRequest {
    /// `KEY=VALUE` matchers (at least one).
    pub matchers: Vec<String>,
    /// How long it lasts, from now (e.g. `2h`); this or `ends`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// When it ends (RFC 3339); this or `duration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends: Option<String>,
    /// Why (required).
    pub comment: String,
    /// Who.
    pub author: String,
}

/// An acknowledgement of an open incident: its reminders stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The incident's id.
    pub incident_id: String,
    /// Who.
    pub by: String,
    /// When.
    pub at: Time,
    /// Why, if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Why an operator's request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// A matcher without `=`.
    #[error("matcher {0:?} is not KEY=VALUE (keys: cluster, namespace, kind, name, reason)")]
    NotAMatcher(String),
    /// A key other than the five.
    #[error("unknown match key {0:?} (keys: cluster, namespace, kind, name, reason)")]
    UnknownKey(String),
    /// A value that is not a glob.
    #[error("matcher {matcher:?} has an invalid pattern: {problem}")]
    InvalidGlob {
        /// The matcher.
        matcher: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// No matcher at all.
    #[error("a silence needs at least one --match KEY=VALUE")]
    NoMatchers,
    /// Neither a duration nor an end.
    #[error("a silence needs an end: --for DURATION (e.g. 2h); none is forever")]
    NoEnd,
    /// Both a duration and an end.
    #[error("give either --for or an end time, not both")]
    TwoEnds,
    /// A duration that does not parse.
    #[error("--for {value:?}: {problem}")]
    BadDuration {
        /// What was given.
        value: String,
        /// Why it is refused.
        problem: String,
    },
    /// An end that does not parse.
    #[error("end {0:?} is not an RFC 3339 time (e.g. 2026-12-24T18:00:00Z)")]
    BadEnd(String),
    /// An end in the past (or now).
    #[error("the silence would end at {ends}, which is not after now ({now})")]
    EndInPast {
        /// The end asked for.
        ends: Time,
        /// Now.
        now: Time,
    },
    /// An end too far away.
    #[error(
        "the silence would end at {ends}: at most a year from now (for longer, annotate the object in git)"
    )]
    TooLong {
        /// The end asked for.
        ends: Time,
    },
    /// No comment.
    #[error("a silence needs a --comment saying why")]
    NoComment,
    /// No author.
    #[error("the author is empty: give --author")]
    NoAuthor,
    /// No silence with that id.
    #[error("no silence {0:?} (see `fluxbrain silence list`)")]
    UnknownSilence(String),
    /// A prefix that names several silences.
    #[error("{0:?} names more than one silence: give more of the id")]
    AmbiguousSilence(String),
    /// A silence that already ended.
    #[error("silence {id} already ended at {ends}")]
    SilenceEnded {
        /// Its id.
        id: String,
        /// When it ended.
        ends: Time,
    },
    /// No open incident with that id.
    #[error(
        "no open incident {0:?}: it never existed or has resolved (see `fluxbrain status --history`)"
    )]
    UnknownIncident(String),
    /// A prefix that names several incidents.
    #[error("{0:?} names more than one open incident: give more of the id")]
    AmbiguousIncident(String),
}

impl Control {
    /// The active silence matching the incident of `key` failing with `reason` at `now` (the
    /// one lasting longest, when several do).
    pub fn silence_for(&self, key: &IncidentKey, reason: &str, now: Time) -> Option<&Silence> {
        self.silences
            .iter()
            .filter(|s| s.active(now) && s.matches(key, reason))
            .max_by_key(|s| s.ends)
    }

    /// The acknowledgement of the incident `incident_id`.
    pub fn ack_for(&self, incident_id: &str) -> Option<&Ack> {
        self.acks.iter().find(|a| a.incident_id == incident_id)
    }

    /// Adds a silence as `request` asks, from `now`; returns it.
    ///
    /// # Errors
    /// What is wrong with the request (see [`ControlError`]); nothing is added then.
    pub fn add_silence(
        &mut self,
        request: &SilenceRequest,
        now: Time,
    ) -> Result<Silence, ControlError> {
        if request.matchers.is_empty() {
            return Err(ControlError::NoMatchers);
        }
        let matchers = request
            .matchers
            .iter()
            .map(|m| Matcher::parse(m))
            .collect::<Result<Vec<_>, _>>()?;
        let ends = match (&request.duration, &request.ends) {
            (None, None) => return Err(ControlError::NoEnd),
            (Some(_), Some(_)) => return Err(ControlError::TwoEnds),
            (Some(text), None) => {
                let duration =
                    crate::duration::parse(text).map_err(|e| ControlError::BadDuration {
                        value: text.clone(),
                        problem: e.to_string(),
                    })?;
                if duration.is_zero() {
                    return Err(ControlError::EndInPast { ends: now, now });
                }
                if duration > LONGEST_SILENCE {
                    let secs = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
                    return Err(ControlError::TooLong {
                        ends: now.add_seconds(secs),
                    });
                }
                now.add_seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
            }
            (None, Some(text)) => {
                Time::parse(text).ok_or_else(|| ControlError::BadEnd(text.clone()))?
            }
        };
        if ends <= now {
            return Err(ControlError::EndInPast { ends, now });
        }
        let longest = i64::try_from(LONGEST_SILENCE.as_secs()).unwrap_or(i64::MAX);
        if ends > now.add_seconds(longest) {
            return Err(ControlError::TooLong { ends });
        }
        let comment = request.comment.trim();
        if comment.is_empty() {
            return Err(ControlError::NoComment);
        }
        let author = request.author.trim();
        if author.is_empty() {
            return Err(ControlError::NoAuthor);
        }
        let mut silence = Silence {
            id: String::new(),
            matchers,
            author: author.to_owned(),
            comment: comment.to_owned(),
            created: now,
            ends,
            expired_by: None,
        };
        silence.id = self.fresh_id(&silence);
        self.prune(now, None);
        self.silences.push(silence.clone());
        Ok(silence)
    }

    /// A 12-hex-digit id from the silence's content, unique in this document.
    fn fresh_id(&self, silence: &Silence) -> String {
        let mut hasher = Sha256::new();
        hasher.update(serde_json::to_vec(silence).unwrap_or_default());
        let mut salt = 0u32;
        loop {
            let mut h = hasher.clone();
            h.update(salt.to_be_bytes());
            let digest = h.finalize();
            let id: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
            if !self.silences.iter().any(|s| s.id == id) {
                return id;
            }
            salt += 1;
        }
    }

    /// Ends the silence whose id is (or starts with) `id` at `now`; returns it.
    ///
    /// # Errors
    /// No such silence, a prefix naming several, or one that already ended.
    pub fn expire_silence(
        &mut self,
        id: &str,
        by: &str,
        now: Time,
    ) -> Result<Silence, ControlError> {
        let id = id.trim();
        let found: Vec<usize> = self
            .silences
            .iter()
            .enumerate()
            .filter(|(_, s)| !id.is_empty() && s.id.starts_with(id))
            .map(|(i, _)| i)
            .collect();
        let i = match found.as_slice() {
            [] => return Err(ControlError::UnknownSilence(id.to_owned())),
            [i] => *i,
            _ => match found.iter().find(|&&i| self.silences[i].id == id) {
                Some(&i) => i,
                None => return Err(ControlError::AmbiguousSilence(id.to_owned())),
            },
        };
        let silence = &mut self.silences[i];
        if !silence.active(now) {
            return Err(ControlError::SilenceEnded {
                id: silence.id.clone(),
                ends: silence.ends,
            });
        }
        silence.ends = now;
        silence.expired_by = Some(by.to_owned());
        Ok(silence.clone())
    }

    /// Acknowledges the open incident whose id is (or starts with) `incident_id`, among
    /// `open` (the ids of the open incidents); replaces an earlier ack of it. Acks of
    /// incidents no longer open are dropped.
    ///
    /// # Errors
    /// No such open incident, or a prefix naming several.
    pub fn acknowledge(
        &mut self,
        incident_id: &str,
        by: &str,
        comment: Option<&str>,
        now: Time,
        open: &[&str],
    ) -> Result<Ack, ControlError> {
        let wanted = incident_id.trim();
        let found: Vec<&str> = open
            .iter()
            .copied()
            .filter(|id| !wanted.is_empty() && id.starts_with(wanted))
            .collect();
        let id = match found.as_slice() {
            [] => return Err(ControlError::UnknownIncident(wanted.to_owned())),
            [id] => *id,
            many => match many.iter().find(|id| **id == wanted) {
                Some(id) => *id,
                None => return Err(ControlError::AmbiguousIncident(wanted.to_owned())),
            },
        };
        if by.trim().is_empty() {
            return Err(ControlError::NoAuthor);
        }
        let ack = Ack {
            incident_id: id.to_owned(),
            by: by.trim().to_owned(),
            at: now,
            comment: comment
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        };
        self.prune(now, Some(open));
        self.acks.retain(|a| a.incident_id != id);
        self.acks.push(ack.clone());
        Ok(ack)
    }

    /// Drops silences that ended more than [`ENDED_SILENCES_KEPT`] ago and, given the open
    /// incident ids, acks of incidents that are no longer open.
    pub fn prune(&mut self, now: Time, open: Option<&[&str]>) {
        let kept = i64::try_from(ENDED_SILENCES_KEPT.as_secs()).unwrap_or(i64::MAX);
        self.silences.retain(|s| s.ends.add_seconds(kept) > now);
        if let Some(open) = open {
            self.acks.retain(|a| open.contains(&a.incident_id.as_str()));
        }
    }
}

/// An opaque token naming one saved version of a control document, for compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision(pub String);

/// Reads a control document as stores write it (JSON); a message naming the problem otherwise.
pub fn decode(bytes: &[u8]) -> Result<Control, String> {
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let version: Version = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a fluxbrain control document: {e}"))?;
    if version.version != CONTROL_VERSION {
        return Err(format!(
            "control format version {} (this fluxbrain reads version {CONTROL_VERSION})",
            version.version
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| format!("control version {CONTROL_VERSION}: {e}"))
}

/// Writes a control document as stores keep it: indented JSON, for people reading it.
pub fn encode(control: &Control) -> Vec<u8> {
    // Strings, integers and lists only: serializing cannot fail.
    serde_json::to_vec_pretty(control).unwrap_or_default()
}

/// Why [`update`] did not change the control document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// The request was refused; nothing was written.
    #[error(transparent)]
    Refused(#[from] ControlError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How many times [`update`] tries when other writers keep winning the race.
const UPDATE_TRIES: usize = 8;

/// Reads the control document of `store`, applies `change` and writes it back with
/// compare-and-swap, trying again (from a fresh read) when another writer got there first.
///
/// # Errors
/// What `change` refused, or the store's error (a conflict only after
/// several lost races).
pub async fn update<T>(
    store: &dyn StateStore,
    mut change: impl FnMut(&mut Control) -> Result<T, ControlError>,
) -> Result<T, UpdateError> {
    let mut last = None;
    for _ in 0..UPDATE_TRIES {
        let (mut control, revision) = match store.load_control().await? {
            Some((control, revision)) => (control, Some(revision)),
            None => (Control::default(), None),
        };
        let result = change(&mut control)?;
        match store.save_control(&control, revision.as_ref()).await {
            Ok(()) => return Ok(result),
            Err(e @ StoreError::Conflict { .. }) => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(UpdateError::Store(last.unwrap_or_else(|| {
        StoreError::Conflict {
            store: store.name(),
        }
    })))
}

#[cfg(test)]
mod tests;
