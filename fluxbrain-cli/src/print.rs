//! Notifiers that print: JSON lines for scripts (the default when no destination is
//! configured), readable text for people (the demo).

use std::io::Write;
use std::sync::{Arc, Mutex};

use fluxbrain_core::{
    DeliveryError, Evidence, Notification, NotificationKind, Notifier, Receipt, Retry,
};

/// Where printed notifications go: stdout, or a buffer in tests.
#[derive(Clone)]
pub enum Sink {
    /// The process's standard output.
    Stdout,
    /// A shared buffer.
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sink::Stdout => "Sink::Stdout",
            Sink::Buffer(_) => "Sink::Buffer",
        })
    }
}

impl Sink {
    /// Writes text (headers and summaries around printed notifications).
    pub fn write_text(&self, text: &str) -> Result<(), DeliveryError> {
        self.write(text.as_bytes(), "console")
    }

    fn write(&self, bytes: &[u8], notifier: &str) -> Result<(), DeliveryError> {
        let result = match self {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Sink::Buffer(buffer) => buffer
                .lock()
                .map(|mut b| b.extend_from_slice(bytes))
                .map_err(|_| std::io::Error::other("buffer lock poisoned")),
        };
        result.map_err(|e| DeliveryError {
            notifier: notifier.to_owned(),
            message: format!("cannot write: {e}"),
            retry: Retry::After(None),
        })
    }
}

/// Prints each notification as one JSON line: the webhook's envelope
/// (`{"notification":…,"event":…,"affected":…,"analysis":…}`).
#[derive(Debug, Clone)]
pub struct JsonLines(pub Sink);

#[async_trait::async_trait]
impl Notifier for JsonLines {
    fn name(&self) -> &str {
        "stdout"
    }

    async fn deliver(
        &self,
        note: &Notification,
        _thread: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        let envelope = fluxbrain_notify::Envelope::new(note, note.analysis.as_ref());
        let mut line = serde_json::to_vec(&envelope).map_err(|e| DeliveryError {
            notifier: "stdout".into(),
            message: e.to_string(),
            retry: Retry::Never,
        })?;
        line.push(b'\n');
        self.0.write(&line, "stdout")?;
        Ok(Receipt::default())
    }
}

/// Prints each notification as a few lines a person reads at 3 a.m.
#[derive(Debug, Clone)]
pub struct Readable(pub Sink);

#[async_trait::async_trait]
impl Notifier for Readable {
    fn name(&self) -> &str {
        "console"
    }

    async fn deliver(
        &self,
        note: &Notification,
        _thread: Option<&Receipt>,
    ) -> Result<Receipt, DeliveryError> {
        self.0.write(readable(note).as_bytes(), "console")?;
        Ok(Receipt::default())
    }
}

/// The readable form of a notification.
pub fn readable(note: &Notification) -> String {
    let event = &note.event;
    let m = &event.metadata;
    let headline = match note.kind {
        NotificationKind::Firing => "FIRING".to_owned(),
        NotificationKind::Reminder => format!("STILL FAILING (reminder {})", note.occurrence - 1),
        NotificationKind::Updated => "DOWNSTREAM CHANGED".to_owned(),
        NotificationKind::Resolved(r) => format!("RESOLVED ({})", r.as_str()),
    };
    let mut out = format!(
        "[{}] {headline}  {}: {} {}/{}\n",
        note.at, m.cluster, m.kind, m.namespace, m.name
    );
    let reason = event.error_type.as_deref().unwrap_or("(no reason)");
    if matches!(note.kind, NotificationKind::Resolved(_)) {
        let lasted = note.at.timestamp().as_second() - m.incident.started.timestamp().as_second();
        let lasted = std::time::Duration::from_secs(u64::try_from(lasted).unwrap_or(0));
        out.push_str(&format!(
            "    was       {reason} since {} ({})\n",
            m.incident.started,
            fluxbrain_core::duration::format(lasted)
        ));
    } else {
        out.push_str(&format!(
            "    reason    {reason}, failing since {}\n",
            m.incident.started
        ));
    }
    if let Some(revision) = m
        .revision
        .attempted
        .as_deref()
        .or(m.revision.applied.as_deref())
    {
        out.push_str(&format!("    revision  {revision}\n"));
    }
    if !matches!(note.kind, NotificationKind::Resolved(_)) {
        let message = first_lines(&event.message, 3);
        out.push_str(&format!("    message   {message}\n"));
    }
    if let Some(source) = &m.source {
        let state = match (&source.ready, &source.reason) {
            (Some(ready), Some(reason)) => format!("Ready={ready} ({reason})"),
            (Some(ready), None) => format!("Ready={ready}"),
            _ => "not observed".to_owned(),
        };
        out.push_str(&format!(
            "    source    {} {}/{}: {state}\n",
            source.kind, source.namespace, source.name
        ));
    }
    if let Some(upstream) = &m.upstream {
        out.push_str(&format!(
            "    upstream  {} is failing ({})\n",
            upstream.key, upstream.via
        ));
    }
    if let Some(change) = &note.change {
        for (label, keys) in [
            ("started failing with it", &change.joined),
            ("no longer failing with it", &change.left),
        ] {
            if !keys.is_empty() {
                out.push_str(&format!("    changed   {} {label}:\n", keys.len()));
                for key in keys {
                    out.push_str(&format!("              - {key}\n"));
                }
            }
        }
    }
    if !note.affected.is_empty() {
        let label = match note.kind {
            NotificationKind::Resolved(_) => "still failing, now on their own",
            _ => "downstream object(s) failing with it",
        };
        out.push_str(&format!("    affected  {} {label}:\n", note.affected.len()));
        for a in &note.affected {
            out.push_str(&format!("              - {} ({})\n", a.key, a.reason));
        }
    }
    let lines: Vec<String> = event
        .evidence
        .iter()
        .filter_map(|e| match e {
            Evidence::Event(ev) => Some(format!(
                "event {} {}: {}",
                ev.event_type,
                ev.reason,
                first_lines(&ev.message, 1)
            )),
            Evidence::LogLine(log) => Some(format!(
                "log {} {}: {}{}",
                log.container,
                log.level,
                first_lines(&log.message, 1),
                log.error
                    .as_deref()
                    .map(|e| format!(" ({})", first_lines(e, 1)))
                    .unwrap_or_default()
            )),
            Evidence::Custom(_) => None,
        })
        .collect();
    const SHOWN: usize = 3;
    for (i, line) in lines.iter().take(SHOWN).enumerate() {
        let label = if i == 0 { "evidence" } else { "" };
        out.push_str(&format!("    {label:<9} {}\n", cut(line, 160)));
    }
    if lines.len() > SHOWN {
        out.push_str(&format!(
            "              … and {} more (the full event: --emit ndjson, or a webhook)\n",
            lines.len() - SHOWN
        ));
    }
    if !lines.is_empty() || note.kind == NotificationKind::Firing {
        out.push_str(&format!("    fingerprint {}\n", m.fingerprint));
    }
    out.push('\n');
    out
}

/// `s` cut to `max` characters, with an ellipsis when it was longer.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// The first `n` lines of `s`, joined, with a marker when there were more.
fn first_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut shown = lines
        .iter()
        .take(n)
        .copied()
        .collect::<Vec<_>>()
        .join("\n              ");
    if lines.len() > n {
        shown.push_str(&format!(" … ({} more lines)", lines.len() - n));
    }
    shown
}
