//! Markdown for issues and comments.
//!
//! Untrusted text (messages, names, errorbrain's prose) never becomes live markup: facts sit in
//! code spans and fenced blocks (where `@mentions` and `#refs` do nothing), and errorbrain's
//! prose has its `@` defused. Bodies stay under GitHub's 65 536 characters.

use fluxbrain_core::{Notification, Resolution, canonical};

use crate::facts::{ANALYSIS_CAVEAT, ANALYSIS_LABEL, AnalysisView, Facts, resolution_text};

/// GitHub's limit on an issue or comment body is 65 536 characters; this leaves room.
const MAX_BODY: usize = 60_000;
/// GitHub's limit on a title.
const MAX_TITLE: usize = 256;

/// `fluxbrain: <Kind> <namespace>/<name> failing on <cluster>` (DESIGN.md section 11).
pub(crate) fn title(note: &Notification) -> String {
    let f = Facts::of(note);
    let title = format!("fluxbrain: {} failing on {}", f.object(), f.cluster);
    cut_chars(&title, MAX_TITLE)
}

/// The body of a new issue: the facts, the analysis, the event as JSON (collapsed).
pub(crate) fn issue(note: &Notification) -> String {
    let f = Facts::of(note);
    let mut out = format!(
        "**{} is failing on cluster {}.** Observed facts, reported by fluxbrain.\n\n",
        code(&f.object()),
        code(&f.cluster)
    );
    facts_list(&mut out, &f);
    out.push_str(&format!("- **Incident:** {}\n", code(&note.incident_id)));
    message(&mut out, &f);
    source(&mut out, &f);
    affected(&mut out, &f);
    analysis(&mut out, &f);
    let footer = format!(
        "\n<sub>fluxbrain closes this issue when the incident resolves. Labels: `fluxbrain`, `fluxbrain:{}`. Notification {}.</sub>\n",
        f.fingerprint,
        code(&f.notification_id)
    );
    let json = details_json(
        note,
        MAX_BODY.saturating_sub(out.chars().count() + footer.chars().count()),
    );
    out.push_str(&json);
    out.push_str(&footer);
    cut_chars(&out, MAX_BODY)
}

/// A reminder comment.
pub(crate) fn reminder(note: &Notification) -> String {
    let f = Facts::of(note);
    let mut out = format!(
        "**Still failing** (reminder {}) as of {}.\n\n",
        note.occurrence.saturating_sub(1),
        f.at
    );
    reason_and_revision(&mut out, &f);
    message(&mut out, &f);
    affected(&mut out, &f);
    analysis(&mut out, &f);
    cut_chars(&out, MAX_BODY)
}

/// The comment posted when the downstream objects failing with the incident changed.
pub(crate) fn updated(note: &Notification) -> String {
    let f = Facts::of(note);
    let mut out = format!(
        "**Downstream changed** as of {}: {}.\n\n",
        f.at,
        crate::facts::change_summary(note).unwrap_or_default()
    );
    let (joined, left) = crate::facts::change_lists(note);
    for (label, keys) in [
        ("Started failing with it", joined),
        ("No longer failing with it", left),
    ] {
        if keys.is_empty() {
            continue;
        }
        out.push_str(&format!("{label}:\n"));
        for key in keys {
            out.push_str(&format!("- {}\n", code(&key)));
        }
        out.push('\n');
    }
    affected(&mut out, &f);
    acknowledged(&mut out, note);
    cut_chars(&out, MAX_BODY)
}

/// The comment posted when the incident resolves (the issue is then closed).
pub(crate) fn resolved(note: &Notification, resolution: Resolution) -> String {
    let f = Facts::of(note);
    let mut out = format!(
        "**Resolved ({})** at {}: {}.\n\nFailing since {}; {} reminder(s) were sent. fluxbrain closes this issue.\n",
        resolution.as_str(),
        f.at,
        resolution_text(resolution),
        f.started,
        note.occurrence.saturating_sub(1),
    );
    acknowledged(&mut out, note);
    cut_chars(&out, MAX_BODY)
}

/// The incident's acknowledgement, when it has one.
fn acknowledged(out: &mut String, note: &Notification) {
    if let Some(text) = crate::facts::ack_text(note) {
        out.push_str(&format!("\n_{}_\n", text.replace('_', "\\_")));
    }
}

fn facts_list(out: &mut String, f: &Facts) {
    out.push_str(&format!("- **Cluster:** {}\n", code(&f.cluster)));
    out.push_str(&format!("- **Object:** {}\n", code(&f.object())));
    reason_and_revision(out, f);
    out.push_str(&format!("- **Failing since:** {}\n", f.started));
    out.push_str(&format!("- **Fingerprint:** `{}`\n", f.fingerprint));
}

fn reason_and_revision(out: &mut String, f: &Facts) {
    out.push_str(&format!(
        "- **Reason:** {}\n",
        code_opt(f.reason.as_deref())
    ));
    out.push_str(&format!(
        "- **Revision:** {}\n",
        code_opt(f.revision.as_deref())
    ));
}

fn message(out: &mut String, f: &Facts) {
    out.push_str("\n### Message\n\n");
    out.push_str(&fence(&f.message, "text"));
}

fn source(out: &mut String, f: &Facts) {
    let Some(s) = &f.source else {
        return;
    };
    out.push_str(&format!(
        "\n### Source\n\n{} (`{}`): ",
        code(&s.object),
        s.via.replace('`', "'")
    ));
    match &s.ready {
        Some(ready) => {
            out.push_str(&format!("Ready {}", code(ready)));
            if let Some(reason) = &s.reason {
                out.push_str(&format!(", reason {}", code(reason)));
            }
        }
        None => out.push_str("not observed"),
    }
    if let Some(rev) = &s.revision {
        out.push_str(&format!(", revision {}", code(rev)));
    }
    out.push_str("\n\n");
    if let Some(m) = &s.message {
        out.push_str(&fence(m, "text"));
    }
}

fn affected(out: &mut String, f: &Facts) {
    if f.affected.is_empty() {
        return;
    }
    out.push_str(&format!(
        "\n### Downstream objects affected ({})\n\n",
        f.affected.len()
    ));
    for (key, reason) in &f.affected {
        out.push_str(&format!("- {} — {}\n", code(key), code(reason)));
    }
}

fn analysis(out: &mut String, f: &Facts) {
    let Some(a) = &f.analysis else {
        return;
    };
    out.push_str(&format!(
        "\n### {ANALYSIS_LABEL}\n\n> {ANALYSIS_CAVEAT}\n\n"
    ));
    match a {
        AnalysisView::Text(text) => {
            out.push_str(&prose(text));
            out.push('\n');
        }
        AnalysisView::Verdict {
            title,
            description,
            confidence,
            severity,
            components,
            actions,
        } => {
            out.push_str(&format!("**Hypothesis:** {}", prose(title)));
            if let Some(c) = confidence {
                out.push_str(&format!(" (confidence {c})"));
            }
            out.push_str(&format!("\n\n{}\n", prose(description)));
            if let Some(sev) = severity {
                out.push_str(&format!("\n**Impact:** {}", prose(sev)));
                if !components.is_empty() {
                    out.push_str(&format!(" — {}", prose(&components.join(", "))));
                }
                out.push('\n');
            }
            if !actions.is_empty() {
                out.push_str("\n**Recommended actions (errorbrain):**\n\n");
                for (i, (t, u, d)) in actions.iter().enumerate() {
                    // Continuation lines indented, so a multi-line description stays in its item.
                    let d = prose(d.trim_end()).replace('\n', "\n   ");
                    out.push_str(&format!(
                        "{}. **{}** ({}): {d}\n",
                        i + 1,
                        prose(t),
                        prose(u)
                    ));
                }
            }
        }
    }
}

/// The event as pretty JSON in a collapsed block, or a note when it does not fit `room`.
fn details_json(note: &Notification, room: usize) -> String {
    let pretty = canonical::to_string_pretty(&note.event);
    let wrap = |json: &str| {
        format!(
            "\n<details><summary>ErrorEvent (errorbrain v1 JSON)</summary>\n\n{}\n</details>\n",
            fence(json, "json")
        )
    };
    let block = wrap(&pretty);
    if block.chars().count() <= room {
        return block;
    }
    let compact = String::from_utf8(canonical::to_vec(&note.event)).unwrap_or_default();
    let block = wrap(&compact);
    if block.chars().count() <= room {
        return block;
    }
    format!(
        "\n_The ErrorEvent ({} bytes) is too large for an issue body; the webhook notifier and `fluxbrain render` give it whole._\n",
        compact.len()
    )
}

/// An inline code span (one line; backticks replaced so the span cannot end early).
pub(crate) fn code(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| match c {
            '`' => 'ˋ',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    format!("`{flat}`")
}

fn code_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "—".to_owned(), code)
}

/// A fenced block whose fence is longer than any backtick run inside.
pub(crate) fn fence(s: &str, lang: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let ticks = "`".repeat(longest.max(2) + 1);
    let s = s.trim_end_matches(['\n', '\r']);
    format!("{ticks}{lang}\n{s}\n{ticks}\n")
}

/// errorbrain's prose as Markdown, with `@` defused so it cannot mention anyone.
fn prose(s: &str) -> String {
    s.replace('@', "@\u{200b}")
}

fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let marker = " …[cut to fit GitHub]";
    let keep = max.saturating_sub(marker.chars().count());
    let mut out: String = s.chars().take(keep).collect();
    out.push_str(marker);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_backtick_runs() {
        assert_eq!(fence("a", "text"), "```text\na\n```\n");
        assert_eq!(fence("a ```` b", "text"), "`````text\na ```` b\n`````\n");
        assert_eq!(code("a`b\nc"), "`aˋb c`");
    }

    #[test]
    fn prose_cannot_mention() {
        assert_eq!(prose("ping @octocat"), "ping @\u{200b}octocat");
    }

    #[test]
    fn cut_is_bounded() {
        let s = "é".repeat(300);
        let out = cut_chars(&s, 256);
        assert_eq!(out.chars().count(), 256);
    }
}
