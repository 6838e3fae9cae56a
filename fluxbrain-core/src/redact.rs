//! Redaction of secrets in exported strings (DESIGN.md section 9).
//!
//! One function, [`redact`], is applied to every string fluxbrain exports: messages, condition
//! messages, event messages, log lines, URLs. It replaces, with [`REDACTED`]:
//!
//! - the user information of URLs (`https://user:token@host`),
//! - the credential after `Authorization:` and after `Bearer`,
//! - GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), Slack tokens
//!   (`xoxb-`, `xoxp-`, ...), AWS access key ids (`AKIA…`, `ASIA…`), JWTs (`eyJ….….…`),
//! - PEM private key blocks (to the end of the string when the block is cut short).
//!
//! It errs towards redacting: a token glued to other characters is redacted with them.

use std::borrow::Cow;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Returns `s` with every secret replaced by [`REDACTED`]; borrows when there is none.
pub fn redact(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let found = if TRIGGER[usize::from(bytes[i])] {
            secret_at(bytes, i)
        } else {
            None
        };
        match found {
            Some((start, end)) => {
                match spans.last_mut() {
                    Some(last) if start <= last.1 => last.1 = last.1.max(end),
                    _ => spans.push((start, end)),
                }
                i = end.max(i + 1);
            }
            None => i += 1,
        }
    }
    if spans.is_empty() {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for (start, end) in spans {
        // Spans start and end at ASCII bytes or at the string's end, so they are char
        // boundaries; `get` keeps that an invariant checked, not assumed.
        out.push_str(s.get(at..start).unwrap_or_default());
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(s.get(at..).unwrap_or_default());
    Cow::Owned(out)
}

/// Bytes at which a secret pattern can start.
const TRIGGER: [bool; 256] = {
    let mut table = [false; 256];
    let bytes = b":aAbBgxe-";
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
};

/// The span of a secret that starts being recognisable at `i`.
fn secret_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let rest = &b[i..];
    match b[i] {
        b':' if rest.starts_with(b"://") => url_userinfo(b, i + 3),
        b'a' | b'A' if starts_with_ignore_case(rest, b"authorization") => {
            authorization(b, i + b"authorization".len())
        }
        b'b' | b'B' if starts_with_ignore_case(rest, b"bearer") => {
            let start = skip(b, i + b"bearer".len(), |c| c == b' ' || c == b'\t');
            if start == i + b"bearer".len() {
                return None;
            }
            // "the bearer of" is prose; a bearer token is long.
            credential(b, start).filter(|(s, e)| e - s >= 8)
        }
        b'A' if rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") => {
            let end = skip(b, i + 4, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
            (end - i >= 20).then_some((i, end))
        }
        b'g' if rest.starts_with(b"github_pat_") => {
            prefixed(b, i, 11, |c| c.is_ascii_alphanumeric() || c == b'_')
        }
        b'g' if rest.len() > 4
            && rest.starts_with(b"gh")
            && matches!(rest[2], b'p' | b'o' | b'u' | b's' | b'r')
            && rest[3] == b'_' =>
        {
            prefixed(b, i, 4, |c| c.is_ascii_alphanumeric())
        }
        b'x' if rest.len() > 5
            && rest.starts_with(b"xox")
            && rest[3].is_ascii_alphabetic()
            && rest[4] == b'-' =>
        {
            prefixed(b, i, 5, |c| c.is_ascii_alphanumeric() || c == b'-')
        }
        b'e' if rest.starts_with(b"eyJ") => jwt(b, i),
        b'-' if rest.starts_with(b"-----BEGIN ") => pem(b, i),
        _ => None,
    }
}

/// `scheme://userinfo@host`: the userinfo when it holds a password or a token.
fn url_userinfo(b: &[u8], start: usize) -> Option<(usize, usize)> {
    let end = skip(b, start, |c| {
        !(c.is_ascii_whitespace() || b"/?#@\"'`<>[]{}|\\".contains(&c))
    });
    if b.get(end) != Some(&b'@') || end == start {
        return None;
    }
    let userinfo = &b[start..end];
    (userinfo.contains(&b':') || userinfo.len() >= 20).then_some((start, end))
}

/// After `authorization`: separators, an optional scheme word, then the credential.
fn authorization(b: &[u8], after: usize) -> Option<(usize, usize)> {
    let mut i = skip(b, after, |c| matches!(c, b'"' | b'\''));
    let separated = skip(b, i, |c| matches!(c, b':' | b'=' | b' ' | b'\t'));
    // "authorization failed" is prose: a header or setting has a `:` or `=`.
    if !b[i..separated].iter().any(|&c| c == b':' || c == b'=') {
        return None;
    }
    i = skip(b, separated, |c| matches!(c, b'"' | b'\'' | b' '));
    let word_end = skip(b, i, |c| c.is_ascii_alphabetic());
    if word_end > i && matches!(b.get(word_end), Some(b' ' | b'\t')) {
        i = skip(b, word_end, |c| c == b' ' || c == b'\t');
    }
    credential(b, i)
}

/// A credential: a run of token characters starting at `start`.
fn credential(b: &[u8], start: usize) -> Option<(usize, usize)> {
    let end = skip(b, start, |c| {
        c.is_ascii_alphanumeric() || b"._~+/=-:%".contains(&c)
    });
    (end > start).then_some((start, end))
}

/// A token made of a known prefix of `prefix_len` bytes and at least 10 body characters.
fn prefixed(
    b: &[u8],
    i: usize,
    prefix_len: usize,
    body: impl Fn(u8) -> bool,
) -> Option<(usize, usize)> {
    let end = skip(b, i + prefix_len, body);
    (end - (i + prefix_len) >= 10).then_some((i, end))
}

/// A JWT: three base64url segments, the first starting with `eyJ` (`{"`).
fn jwt(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let segment = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let header_end = skip(b, i, segment);
    if b.get(header_end) != Some(&b'.') || header_end - i < 10 {
        return None;
    }
    let payload_end = skip(b, header_end + 1, segment);
    if b.get(payload_end) != Some(&b'.') || payload_end == header_end + 1 {
        return None;
    }
    Some((i, skip(b, payload_end + 1, segment)))
}

/// A PEM private key block, to its `-----END … PRIVATE KEY-----` line or the string's end.
fn pem(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let header_end = find(b, i + 11, b"-----")?;
    if !b[i..header_end].ends_with(b"PRIVATE KEY") {
        return None;
    }
    let mut at = header_end + 5;
    while let Some(end) = find(b, at, b"-----END ") {
        let Some(close) = find(b, end + 9, b"-----") else {
            return Some((i, b.len()));
        };
        if b[end..close].ends_with(b"PRIVATE KEY") {
            return Some((i, close + 5));
        }
        at = close + 5;
    }
    Some((i, b.len()))
}

fn skip(b: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && keep(b[i]) {
        i += 1;
    }
    i
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn starts_with_ignore_case(b: &[u8], prefix: &[u8]) -> bool {
    b.len() >= prefix.len() && b[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            (
                "unable to list remote for 'https://deploy-bot:ghp_R8mZq2VtLx5Nw7Kc3Yh9Pd1Fs6Jb4Gu0AeTo@github.com/acme/x.git': auth",
                "unable to list remote for 'https://[REDACTED]@github.com/acme/x.git': auth",
            ),
            ("ssh://git@github.com/acme/x", "ssh://git@github.com/acme/x"),
            (
                "https://x-access-token:abc@host/p",
                "https://[REDACTED]@host/p",
            ),
            (
                "https://0123456789abcdef0123456789@host",
                "https://[REDACTED]@host",
            ),
            (
                "Authorization: Bearer abc.def-ghi",
                "Authorization: Bearer [REDACTED]",
            ),
            (
                "authorization=Basic dXNlcjpwYXNz",
                "authorization=Basic [REDACTED]",
            ),
            (
                "\"Authorization\": \"token123\"",
                "\"Authorization\": \"[REDACTED]\"",
            ),
            ("got bearer eyJhbGciOi", "got bearer [REDACTED]"),
            ("the bearer of bad news", "the bearer of bad news"),
            ("authorization failed for x", "authorization failed for x"),
            (
                "token ghp_R8mZq2VtLx5Nw7Kc3Yh9Pd1Fs6Jb4Gu0AeTo!",
                "token [REDACTED]!",
            ),
            (
                "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnop end",
                "pat [REDACTED] end",
            ),
            ("slack xoxb-1234567890-abcdefghij", "slack [REDACTED]"),
            ("key AKIAIOSFODNN7EXAMPLE.", "key [REDACTED]."),
            ("key ASIAIOSFODNN7EXAMPL", "key ASIAIOSFODNN7EXAMPL"),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl rest",
                "jwt [REDACTED] rest",
            ),
            (
                "k: -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- after",
                "k: [REDACTED] after",
            ),
            ("cut -----BEGIN PRIVATE KEY-----\nMIIE", "cut [REDACTED]"),
            (
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            ),
            (
                "nothing secret here: ghp_short",
                "nothing secret here: ghp_short",
            ),
            ("ünïcode https://a:b@h ✓", "ünïcode https://[REDACTED]@h ✓"),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "input: {input:?}");
        }
    }

    #[test]
    fn borrows_when_clean() {
        assert!(matches!(redact("health check failed"), Cow::Borrowed(_)));
    }

    #[test]
    fn idempotent() {
        let once = redact("Authorization: Bearer abc https://u:p@h ghp_0123456789abcdefghij");
        assert_eq!(redact(&once), once);
    }
}
