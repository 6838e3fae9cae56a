//! The oracle is the plan: every failure cycle gives each notifier exactly one firing and one
//! resolution, every reminder is sent once, nothing is lost, and a notification is repeated
//! only after a crash, at most once per crash and delivery slot, under the same
//! Idempotency-Key; never a second GitHub issue for one incident.

use std::collections::{BTreeMap, BTreeSet};

use crate::receivers::Received;
use crate::schedule::{OBJECTS, Plan, name};

/// What a run's receivers got beyond the expected notifications.
#[derive(Debug, Default, Clone, Copy)]
pub struct Repeats {
    pub webhook: usize,
    pub slack: usize,
    pub github: usize,
}

/// Whether every notification the plan calls for has arrived at every receiver (the run's
/// drain waits for this; [`check`] then says whether what arrived is right).
pub fn complete(plan: &Plan, received: &Received) -> bool {
    let cycles = plan.cycles();
    let hooks = received.hooks.lock().unwrap();
    let slack = received.slack.lock().unwrap();
    let issues = received.issues.lock().unwrap();
    (0..OBJECTS).all(|o| {
        let object = name(o);
        let resolved_hooks: BTreeSet<&str> = hooks
            .iter()
            .filter(|h| h.object == object && h.kind == "resolved")
            .map(|h| h.key.as_str())
            .collect();
        let resolved_slack = slack
            .iter()
            .filter(|c| is_resolved(&c.text, &object))
            .count();
        let closed = issues
            .values()
            .filter(|i| names(&i.title, &object) && !i.open)
            .count();
        resolved_hooks.len() >= cycles[o] as usize
            && resolved_slack >= cycles[o] as usize
            && closed >= cycles[o] as usize
    })
}

fn names(text: &str, object: &str) -> bool {
    text.contains(&format!("apps/{object} "))
}

fn is_resolved(text: &str, object: &str) -> bool {
    text.starts_with(":large_green_circle: Resolved") && names(text, object)
}

fn is_firing(text: &str, object: &str) -> bool {
    text.starts_with(":red_circle: ") && names(text, object)
}

/// Requests fluxbrain gave up waiting for (its log's `timed out` delivery failures): the
/// receiver may have acted on them, so a repeat of one is expected, under the same id.
#[derive(Debug, Default)]
pub struct TimedOut {
    /// Per notifier, how many.
    pub count: BTreeMap<String, usize>,
    /// The notification ids, per notifier.
    pub ids: BTreeMap<String, BTreeSet<String>>,
}

impl TimedOut {
    /// Reads fluxbrain's JSON log lines.
    pub fn from_log(log: &str) -> TimedOut {
        let mut out = TimedOut::default();
        for line in log.lines() {
            let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let (Some(notifier), Some(id), Some(error)) = (
                value["notifier"].as_str(),
                value["notification"].as_str(),
                value["error"].as_str(),
            ) else {
                continue;
            };
            if value["message"] == "delivery failed" && error.contains("timed out") {
                *out.count.entry(notifier.to_owned()).or_default() += 1;
                out.ids
                    .entry(notifier.to_owned())
                    .or_default()
                    .insert(id.to_owned());
            }
        }
        out
    }

    fn of(&self, notifier: &str) -> usize {
        self.count.get(notifier).copied().unwrap_or(0)
    }
}

/// Checks what arrived against `plan`, given the crashes that happened, the delivery
/// concurrency (a crash can repeat each message in flight) and the requests that timed out.
pub fn check(
    plan: &Plan,
    received: &Received,
    crashes: usize,
    timed_out: &TimedOut,
) -> Result<Repeats, Vec<String>> {
    let cycles = plan.cycles();
    let allowance = crashes * plan.concurrency;
    let mut problems = Vec::new();
    let mut repeats = Repeats::default();

    // Webhook: exact, by Idempotency-Key.
    let hooks = received.hooks.lock().unwrap();
    let mut by_key: BTreeMap<&str, Vec<&crate::receivers::Hook>> = BTreeMap::new();
    for h in hooks.iter() {
        by_key.entry(h.key.as_str()).or_default().push(h);
    }
    repeats.webhook = hooks.len() - by_key.len();
    let no_timeout = BTreeSet::new();
    let timed_out_hooks = timed_out.ids.get("webhook").unwrap_or(&no_timeout);
    let unexplained: usize = by_key
        .iter()
        .filter(|(key, _)| !timed_out_hooks.contains(**key))
        .map(|(_, copies)| copies.len() - 1)
        .sum();
    let mut keys_of: BTreeMap<(&str, &str, u64), BTreeSet<&str>> = BTreeMap::new();
    for (key, copies) in &by_key {
        let first = copies[0];
        if copies.iter().any(|c| {
            (&c.kind, &c.incident, c.occurrence) != (&first.kind, &first.incident, first.occurrence)
        }) {
            problems.push(format!(
                "webhook: Idempotency-Key {key} names different notifications"
            ));
        }
        keys_of
            .entry((
                first.incident.as_str(),
                first.kind.as_str(),
                first.occurrence,
            ))
            .or_default()
            .insert(key);
    }
    for ((incident, kind, occurrence), keys) in &keys_of {
        if keys.len() > 1 {
            problems.push(format!(
                "webhook: {kind} #{occurrence} of incident {incident} sent under {} different keys",
                keys.len()
            ));
        }
    }
    for (o, &cycles_of) in cycles.iter().enumerate() {
        let object = name(o);
        let distinct = |kind: &str| -> BTreeSet<&str> {
            by_key
                .values()
                .filter(|c| c[0].object == object && c[0].kind == kind)
                .map(|c| c[0].incident.as_str())
                .collect()
        };
        let fired = distinct("firing");
        let resolved = distinct("resolved");
        if fired.len() != cycles_of as usize || resolved != fired {
            problems.push(format!(
                "webhook: {object} failed {} time(s): {} firing(s), {} resolution(s) (for the same incidents: {})",
                cycles_of,
                fired.len(),
                resolved.len(),
                resolved == fired
            ));
        }
    }
    if unexplained > allowance {
        problems.push(format!(
            "webhook: {unexplained} repeated request(s) of notifications that did not time out, after {crashes} crash(es) at concurrency {}",
            plan.concurrency
        ));
    }
    drop(hooks);

    // Slack: by what each message says. An outage's firings are one summary, or individual
    // messages for the objects a step saw apart from the rest.
    let slack = received.slack.lock().unwrap();
    let posts: Vec<&crate::receivers::SlackCall> = slack
        .iter()
        .filter(|c| c.method == "chat.postMessage")
        .collect();
    for (o, &cycles_of) in cycles.iter().enumerate() {
        let object = name(o);
        let resolved = posts
            .iter()
            .filter(|c| is_resolved(&c.text, &object))
            .count();
        let fired = posts
            .iter()
            .filter(|c| !c.threaded && is_firing(&c.text, &object))
            .count();
        let alone = cycles_of as usize - usize::from(plan.outages() > 0);
        if resolved < cycles_of as usize || fired < alone {
            problems.push(format!(
                "slack: {object} failed {cycles_of} time(s): {fired} firing message(s), {resolved} resolution(s)"
            ));
        }
        repeats.slack +=
            resolved.saturating_sub(cycles_of as usize) + fired.saturating_sub(cycles_of as usize);
    }
    // Summaries: top-level messages that are no single object's firing, reminder or resolution.
    let summaries = posts
        .iter()
        .filter(|c| {
            !c.threaded && !c.text.starts_with(":large_") && !c.text.starts_with(":red_circle: ")
        })
        .count();
    repeats.slack += summaries.saturating_sub(plan.outages() as usize);
    if repeats.slack > allowance + timed_out.of("slack") {
        problems.push(format!(
            "slack: {} message(s) repeated after {crashes} crash(es) and {} timeout(s)",
            repeats.slack,
            timed_out.of("slack")
        ));
    }
    drop(slack);

    // GitHub: one issue per incident, never two; each closed with one resolution comment.
    let issues = received.issues.lock().unwrap();
    for (o, &cycles_of) in cycles.iter().enumerate() {
        let object = name(o);
        let mine: Vec<_> = issues
            .values()
            .filter(|i| names(&i.title, &object))
            .collect();
        if mine.len() != cycles_of as usize {
            problems.push(format!(
                "github: {object} failed {} time(s) and has {} issue(s)",
                cycles_of,
                mine.len()
            ));
        }
        for issue in &mine {
            if issue.open {
                problems.push(format!("github: the issue of {object} is still open"));
            }
            let resolutions = issue
                .comments
                .iter()
                .filter(|c| c.starts_with("**Resolved ("))
                .count();
            repeats.github += resolutions.saturating_sub(1);
            if resolutions == 0 {
                problems.push(format!(
                    "github: an issue of {object} was closed without a resolution comment"
                ));
            }
        }
    }
    if repeats.github > allowance + timed_out.of("github") {
        problems.push(format!(
            "github: {} repeated comment(s) after {crashes} crash(es)",
            repeats.github
        ));
    }
    if problems.is_empty() {
        Ok(repeats)
    } else {
        Err(problems)
    }
}
