//! Exported text: redacted, then capped on a UTF-8 boundary with a visible marker.

use std::borrow::Cow;

use crate::redact::redact;

/// The most bytes of an exported message (4 KiB), marker included.
pub const MAX_MESSAGE: usize = 4096;

/// Caps `s` at `max` bytes on a UTF-8 boundary; a cut string ends with a marker saying how long
/// it was, and the result, marker included, is at most `max` bytes (for `max` ≥ 64).
pub fn cap(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let marker = format!(" …[truncated by fluxbrain, {} bytes in all]", s.len());
    let mut cut = max.saturating_sub(marker.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut + marker.len());
    out.push_str(&s[..cut]);
    out.push_str(&marker);
    Cow::Owned(out)
}

/// The one path every exported string takes: [`redact`], then [`cap`] at [`MAX_MESSAGE`].
///
/// Redaction comes first so a cut can never leave half a secret unrecognised.
pub fn export(s: &str) -> String {
    match redact(s) {
        Cow::Borrowed(clean) => cap(clean, MAX_MESSAGE).into_owned(),
        Cow::Owned(redacted) => match cap(&redacted, MAX_MESSAGE) {
            Cow::Borrowed(_) => redacted,
            Cow::Owned(capped) => capped,
        },
    }
}

/// Truncates `s` in place to at most `max` bytes on a UTF-8 boundary; returns whether it cut.
pub(crate) fn truncate_in_place(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    let mut cut = max;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_is_untouched() {
        assert_eq!(cap("abc", 10), "abc");
    }

    #[test]
    fn cut_on_char_boundary_with_marker() {
        let s = "é".repeat(3000); // 6000 bytes
        let out = cap(&s, MAX_MESSAGE);
        assert!(out.len() <= MAX_MESSAGE, "{}", out.len());
        assert!(out.ends_with(" …[truncated by fluxbrain, 6000 bytes in all]"));
        assert!(out.starts_with("éé"));
    }

    #[test]
    fn export_redacts_before_cutting() {
        let secret = "ghp_R8mZq2VtLx5Nw7Kc3Yh9Pd1Fs6Jb4Gu0AeTo";
        // Cut first, the cut would land inside the token and keep its first bytes.
        let s = format!("{}{secret}{}", "x".repeat(4040), "y".repeat(100));
        let out = export(&s);
        assert!(!out.contains("ghp_R8mZq2"), "{out}");
        assert!(out.len() <= MAX_MESSAGE);
    }
}
