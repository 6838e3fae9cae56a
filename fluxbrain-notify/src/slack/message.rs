//! Block Kit messages from [`Facts`]: one per incident, thread replies, the resolved update of
//! the first message, and the summary of a burst.
//!
//! Every untrusted string is escaped for mrkdwn (`&`, `<`, `>`, which also keeps a message from
//! pinging `<!channel>`) and kept inside code spans or blocks; every text is cut to Slack's
//! limits with a visible marker, measured in UTF-16 units (never fewer than Slack counts).

use fluxbrain_core::{Notification, Resolution};

use super::wire::{Block, Text, limits};
use crate::facts::{ANALYSIS_CAVEAT, ANALYSIS_LABEL, AnalysisView, Facts, resolution_text};

/// A message: fallback text and blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) text: String,
    pub(crate) blocks: Vec<Block>,
}

/// Which message to build for one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// The first message of an incident (also a reminder or resolution that has no thread).
    Full,
    /// A reminder replying in the incident's thread.
    ReminderReply,
    /// A resolution replying in the incident's thread.
    ResolvedReply(Resolution),
    /// The first message, rewritten to show the incident resolved.
    ResolvedRoot(Resolution),
    /// The incident's first message, edited to list the downstream objects as they are now.
    UpdatedRoot,
    /// The thread reply of an `updated` notification: what changed.
    UpdateReply,
}

const MARKER: &str = " …[cut to fit Slack]";

/// The message for `note` in `style`.
pub(crate) fn incident(note: &Notification, style: Style) -> Message {
    let f = Facts::of(note);
    let title = title(&f, note, style);
    let mut blocks = Vec::new();
    match style {
        Style::ReminderReply => {
            blocks.push(section(&format!(
                "*Still failing* (reminder {}) as of {}: reason {}, revision {}.",
                reminder(note),
                esc(&f.at),
                code_opt(f.reason.as_deref()),
                code_opt(f.revision.as_deref()),
            )));
            blocks.push(message_block(&f));
            push_affected(&mut blocks, &f);
            push_analysis(&mut blocks, &f);
        }
        Style::ResolvedReply(resolution) => {
            blocks.push(section(&format!(
                "*Resolved ({})* at {}: {}. Failing since {}; {} reminder(s) were sent.",
                resolution.as_str(),
                esc(&f.at),
                resolution_text(resolution),
                esc(&f.started),
                note.occurrence.saturating_sub(1),
            )));
        }
        Style::UpdateReply => {
            blocks.push(section(&format!(
                "*Downstream changed* as of {}: {}.",
                esc(&f.at),
                esc(&crate::facts::change_summary(note).unwrap_or_default()),
            )));
            push_change(&mut blocks, note);
            push_affected(&mut blocks, &f);
        }
        Style::Full | Style::ResolvedRoot(_) | Style::UpdatedRoot => {
            blocks.push(Block::Header {
                text: Text::PlainText {
                    text: fit(&title, limits::HEADER, |s| s.to_owned()),
                    emoji: true,
                },
            });
            blocks.push(Block::Section {
                text: None,
                fields: fields(&f, note, style),
            });
            blocks.push(message_block(&f));
            push_source(&mut blocks, &f);
            if style == Style::Full {
                push_change(&mut blocks, note);
            }
            push_affected(&mut blocks, &f);
            if !matches!(style, Style::ResolvedRoot(_)) {
                push_analysis(&mut blocks, &f);
            }
            blocks.push(Block::Context {
                elements: vec![Text::Mrkdwn {
                    text: fit(
                        &format!(
                            "fluxbrain · fingerprint {} · notification {}",
                            code(&f.fingerprint),
                            code(&f.notification_id)
                        ),
                        limits::SECTION,
                        |s| s.to_owned(),
                    ),
                }],
            });
        }
    }
    if let Some(text) = crate::facts::ack_text(note) {
        blocks.push(Block::Context {
            elements: vec![Text::Mrkdwn {
                text: fit(
                    &format!(":ballot_box_with_check: {text}"),
                    limits::SECTION,
                    esc,
                ),
            }],
        });
    }
    blocks.truncate(limits::BLOCKS);
    Message {
        text: fit(&title, limits::TEXT, esc),
        blocks,
    }
}

/// What a burst summary is about: the firings of one cycle, or its updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Burst {
    /// New incidents.
    Firings,
    /// Open incidents whose affected objects changed.
    Updates,
}

/// One message for a burst of firings or updates on `cluster` (sorted by object).
pub(crate) fn summary(
    cluster: &str,
    burst: Burst,
    notes: &[&Notification],
    threaded: bool,
) -> Message {
    let mut facts: Vec<(Facts, Option<String>)> = notes
        .iter()
        .map(|n| (Facts::of(n), crate::facts::change_summary(n)))
        .collect();
    facts.sort_by(|(a, _), (b, _)| {
        (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name))
    });
    let cluster = fluxbrain_core::text::export(cluster);
    let (title, intro) = match burst {
        Burst::Firings => (
            format!(
                ":red_circle: {} Flux objects started failing on {}",
                facts.len(),
                cluster
            ),
            "started failing",
        ),
        Burst::Updates => (
            format!(
                ":large_orange_circle: {} failing Flux objects on {} changed what fails with them",
                facts.len(),
                cluster
            ),
            "changed what fails with them",
        ),
    };
    let mut blocks = vec![
        Block::Header {
            text: Text::PlainText {
                text: fit(&title, limits::HEADER, |s| s.to_owned()),
                emoji: true,
            },
        },
        section(&format!(
            "{} objects {intro} on cluster {} in one cycle; they are listed in this one message instead of one message each.",
            facts.len(),
            code(&cluster)
        )),
    ];
    // Header, intro, context and a possible "and N more" line leave 46 blocks for the list.
    let max_list_blocks = limits::BLOCKS - 4;
    let mut current = String::new();
    let mut listed = 0usize;
    let mut list_blocks = 0usize;
    for (f, change) in &facts {
        let mut line = format!(
            "• {} — {}",
            code(&f.object()),
            code_opt(f.reason.as_deref())
        );
        match (burst, change) {
            (Burst::Updates, Some(change)) => line.push_str(&format!(": {}", esc(change))),
            _ if !f.affected.is_empty() => {
                line.push_str(&format!(" (+{} downstream)", f.affected.len()));
            }
            _ => {}
        }
        line = fit(&line, limits::SECTION, |s| s.to_owned());
        if !current.is_empty() && utf16_len(&current) + 1 + utf16_len(&line) > limits::SECTION {
            if list_blocks + 1 == max_list_blocks {
                break;
            }
            blocks.push(section(&current));
            list_blocks += 1;
            current.clear();
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
        listed += 1;
    }
    if !current.is_empty() {
        blocks.push(section(&current));
    }
    if listed < facts.len() {
        blocks.push(section(&format!("…and {} more.", facts.len() - listed)));
    }
    let context = match (burst, threaded) {
        (Burst::Firings, true) => {
            "a burst of more than 10 firings becomes one message; reminders and resolutions follow in this thread"
        }
        (Burst::Firings, false) => {
            "a burst of more than 10 firings becomes one message; reminders and resolutions follow as separate messages"
        }
        (Burst::Updates, _) => {
            "a burst of more than 10 updates becomes one message; each incident's own messages go on as before"
        }
    };
    blocks.push(Block::Context {
        elements: vec![Text::Mrkdwn {
            text: format!("fluxbrain · {context}"),
        }],
    });
    Message {
        text: fit(&title, limits::TEXT, esc),
        blocks,
    }
}

fn title(f: &Facts, note: &Notification, style: Style) -> String {
    let object = f.object();
    match (style, note.kind) {
        (Style::ResolvedRoot(r), _) => format!(
            ":white_check_mark: Resolved ({}): {object} on {}",
            r.as_str(),
            f.cluster
        ),
        (Style::ResolvedReply(r), _)
        | (Style::Full, fluxbrain_core::NotificationKind::Resolved(r)) => {
            format!(
                ":large_green_circle: Resolved ({}): {object} on {}",
                r.as_str(),
                f.cluster
            )
        }
        (Style::UpdatedRoot, _) => format!(":red_circle: {object} failing on {}", f.cluster),
        (_, fluxbrain_core::NotificationKind::Updated) => format!(
            ":large_blue_circle: Downstream changed: {object} on {}",
            f.cluster
        ),
        (_, fluxbrain_core::NotificationKind::Reminder) => format!(
            ":large_orange_circle: Still failing (reminder {}): {object} on {}",
            reminder(note),
            f.cluster
        ),
        _ => format!(":red_circle: {object} failing on {}", f.cluster),
    }
}

fn reminder(note: &Notification) -> u32 {
    crate::facts::reminder_number(note).unwrap_or(note.occurrence.saturating_sub(1))
}

fn fields(f: &Facts, note: &Notification, style: Style) -> Vec<Text> {
    let mut out = vec![
        field("Cluster", &code(&f.cluster)),
        field("Object", &code(&f.object())),
        field("Reason", &code_opt(f.reason.as_deref())),
        field("Revision", &code_opt(f.revision.as_deref())),
        field("Failing since", &esc(&f.started)),
    ];
    match (style, note.kind) {
        (Style::ResolvedRoot(r), _) => {
            out.push(field(
                "Status",
                &format!("resolved ({}) at {}", r.as_str(), esc(&f.at)),
            ));
        }
        (_, fluxbrain_core::NotificationKind::Resolved(r)) => {
            out.push(field(
                "Status",
                &format!("resolved ({}) at {}", r.as_str(), esc(&f.at)),
            ));
        }
        (_, fluxbrain_core::NotificationKind::Reminder) => {
            out.push(field(
                "Reminder",
                &format!("{} (as of {})", reminder(note), esc(&f.at)),
            ));
        }
        _ => {}
    }
    if !f.affected.is_empty() {
        out.push(field("Downstream affected", &f.affected.len().to_string()));
    }
    out.truncate(limits::FIELDS);
    out
}

fn field(label: &str, value: &str) -> Text {
    Text::Mrkdwn {
        text: fit_rendered(&format!("*{label}*\n{value}"), limits::FIELD),
    }
}

fn message_block(f: &Facts) -> Block {
    section_raw(fit(&f.message, limits::SECTION, |m| {
        format!("*Message*\n{}", code_block(m))
    }))
}

fn push_source(blocks: &mut Vec<Block>, f: &Facts) {
    let Some(s) = &f.source else {
        return;
    };
    let mut text = format!("*Source* {} ({})", code(&s.object), esc(&s.via));
    match &s.ready {
        Some(ready) => {
            text.push_str(&format!("\nReady: {}", code(ready)));
            if let Some(reason) = &s.reason {
                text.push_str(&format!(" · {}", code(reason)));
            }
        }
        None => text.push_str("\nnot observed"),
    }
    if let Some(rev) = &s.revision {
        text.push_str(&format!("\nRevision: {}", code(rev)));
    }
    let message = s.message.clone().unwrap_or_default();
    let head = text;
    blocks.push(section_raw(fit(&message, limits::SECTION, |m| {
        if m.is_empty() {
            head.clone()
        } else {
            format!("{head}\n{}", code_block(m))
        }
    })));
}

fn push_affected(blocks: &mut Vec<Block>, f: &Facts) {
    if f.affected.is_empty() {
        return;
    }
    let mut text = format!("*Downstream objects affected* ({})", f.affected.len());
    let mut shown = 0;
    for (key, reason) in &f.affected {
        let line = format!("\n• {} — {}", code(key), code(reason));
        // Leave room for the "and N more" line.
        if utf16_len(&text) + utf16_len(&line) > limits::SECTION - 40 {
            break;
        }
        text.push_str(&line);
        shown += 1;
    }
    if shown < f.affected.len() {
        text.push_str(&format!("\n…and {} more", f.affected.len() - shown));
    }
    blocks.push(section_raw(text));
}

/// An `updated` notification's change: the objects that joined and those that left.
fn push_change(blocks: &mut Vec<Block>, note: &Notification) {
    let (joined, left) = crate::facts::change_lists(note);
    for (label, keys) in [
        ("Started failing with it", joined),
        ("No longer failing with it", left),
    ] {
        if keys.is_empty() {
            continue;
        }
        let mut text = format!("*{label}* ({})", keys.len());
        let mut shown = 0;
        for key in &keys {
            let line = format!("\n• {}", code(key));
            if utf16_len(&text) + utf16_len(&line) > limits::SECTION - 40 {
                break;
            }
            text.push_str(&line);
            shown += 1;
        }
        if shown < keys.len() {
            text.push_str(&format!("\n…and {} more", keys.len() - shown));
        }
        blocks.push(section_raw(text));
    }
}

fn push_analysis(blocks: &mut Vec<Block>, f: &Facts) {
    let Some(analysis) = &f.analysis else {
        return;
    };
    blocks.push(Block::Divider {});
    let label = format!("*{ANALYSIS_LABEL}*\n_{ANALYSIS_CAVEAT}_");
    match analysis {
        AnalysisView::Text(explanation) => {
            blocks.push(section_raw(fit(explanation, limits::SECTION, |e| {
                format!("{label}\n{}", esc(e))
            })));
        }
        AnalysisView::Verdict {
            title,
            description,
            confidence,
            severity,
            components,
            actions,
        } => {
            let mut head = format!("{label}\n*Hypothesis:* {}", esc(title));
            if let Some(c) = confidence {
                head.push_str(&format!(" (confidence {c})"));
            }
            if let Some(sev) = severity {
                head.push_str(&format!("\n*Impact:* {}", esc(sev)));
                if !components.is_empty() {
                    head.push_str(&format!(" · {}", esc(&components.join(", "))));
                }
            }
            blocks.push(section_raw(fit(description, limits::SECTION, |d| {
                format!("{head}\n{}", esc(d))
            })));
            if !actions.is_empty() {
                let list: String = actions
                    .iter()
                    .enumerate()
                    .map(|(i, (t, u, d))| format!("{}. *{}* ({}) {}\n", i + 1, t, u, d))
                    .collect();
                blocks.push(section_raw(fit(&list, limits::SECTION, |l| {
                    format!("*Recommended actions (errorbrain)*\n{}", esc(l))
                })));
            }
        }
    }
}

fn section(text: &str) -> Block {
    section_raw(fit_rendered(text, limits::SECTION))
}

fn section_raw(text: String) -> Block {
    Block::Section {
        text: Some(Text::Mrkdwn { text }),
        fields: Vec::new(),
    }
}

/// Escapes mrkdwn control characters.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// An inline code span of `s` (one line; backticks replaced so the span cannot end early).
fn code(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| match c {
            '`' => 'ˋ',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    format!("`{}`", esc(&flat))
}

fn code_opt(s: Option<&str>) -> String {
    s.map_or_else(|| "—".to_owned(), code)
}

/// A code block of `s` (triple backticks inside replaced so the block cannot end early).
fn code_block(s: &str) -> String {
    let s = s.trim_end_matches(['\n', '\r']);
    format!("```{}```", esc(&s.replace("```", "ˋˋˋ")))
}

pub(crate) fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Renders `raw` with `render`, cutting `raw` (with a marker) to the longest prefix whose
/// rendering fits `max` UTF-16 units. Cutting the raw text, not the rendered one, never splits
/// an escape or a code fence.
fn fit(raw: &str, max: usize, render: impl Fn(&str) -> String) -> String {
    let full = render(raw);
    if utf16_len(&full) <= max {
        return full;
    }
    let cut = |keep: usize| {
        let mut s: String = raw.chars().take(keep).collect();
        s.push_str(MARKER);
        render(&s)
    };
    // Binary search for the longest prefix that fits; `lo` always fits or is 0.
    let (mut lo, mut hi) = (0usize, raw.chars().count());
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if utf16_len(&cut(mid)) <= max {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let out = cut(lo);
    if utf16_len(&out) <= max {
        out
    } else {
        // The frame alone is too long: cut the rendering hard.
        fit_rendered(&out, max)
    }
}

/// Cuts already rendered text to `max` UTF-16 units, at a character boundary.
fn fit_rendered(s: &str, max: usize) -> String {
    if utf16_len(s) <= max {
        return s.to_owned();
    }
    let budget = max.saturating_sub(utf16_len(MARKER));
    let mut used = 0;
    let mut out = String::new();
    for c in s.chars() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        out.push(c);
    }
    out.push_str(MARKER);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_defuses_mentions_and_links() {
        assert_eq!(
            esc("<!channel> a & b > c"),
            "&lt;!channel&gt; a &amp; b &gt; c"
        );
        assert_eq!(code("a`b\nc"), "`aˋb c`");
        assert_eq!(code_block("x```y"), "```xˋˋˋy```");
    }

    #[test]
    fn fit_cuts_raw_text_and_keeps_the_frame() {
        let raw = "<".repeat(5000);
        let out = fit(&raw, 3000, |m| format!("*Message*\n{}", code_block(m)));
        assert!(utf16_len(&out) <= 3000, "{}", utf16_len(&out));
        assert!(out.starts_with("*Message*\n```&lt;"));
        assert!(
            out.ends_with(&format!("{MARKER}```")),
            "{}",
            &out[out.len() - 40..]
        );
        // No escape is split.
        assert!(!out.contains("&l ") && !out.contains("&lt …"));
    }

    #[test]
    fn fit_counts_utf16() {
        let raw = "😀".repeat(100); // 200 UTF-16 units
        let out = fit(&raw, 150, |s| s.to_owned());
        assert!(utf16_len(&out) <= 150);
        assert!(out.ends_with(MARKER));
    }
}
