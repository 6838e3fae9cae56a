//! `X-Fluxbrain-Signature-256`: HMAC-SHA256 of the exact body bytes.
//!
//! # Verifying a delivery (receiver side)
//!
//! 1. Read the raw request body as bytes, before any JSON parsing (re-serialising changes the
//!    bytes and breaks the signature).
//! 2. Compute HMAC-SHA256 over those bytes with the shared secret (`FLUXBRAIN_WEBHOOK_SECRET`,
//!    taken as its UTF-8 bytes, surrounding whitespace trimmed) as the key, and hex-encode it in
//!    lowercase.
//! 3. Compare `sha256=<that hex>` with the header in constant time (Python
//!    `hmac.compare_digest`, Go `hmac.Equal`, Node `crypto.timingSafeEqual`); reject on any
//!    difference or a missing header.
//! 4. Deduplicate on `Idempotency-Key` (the notification id, also in the body): retries after a
//!    timeout send the same id and the same bytes.
//!
//! ```sh
//! printf '%s' "$BODY" | openssl dgst -sha256 -hmac "$FLUXBRAIN_WEBHOOK_SECRET" -hex
//! ```
//!
//! In Rust, [`verify`] does steps 2 and 3.

use hmac::{KeyInit, Mac};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-fluxbrain-signature-256";

/// `sha256=<lowercase hex HMAC-SHA256 of body under key>`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length (long keys are hashed), so this cannot fail.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return String::new();
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for byte in digest.iter() {
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0x0f)]);
    }
    out
}

/// Whether `header` (`sha256=<hex>`) is the signature of `body` under `key`; the comparison of
/// the MACs is constant-time.
pub fn verify(key: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

const HEX: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
];

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verify_accepts_own_and_rejects_others() {
        let sig = sign(b"k", b"body");
        assert!(verify(b"k", b"body", &sig));
        assert!(verify(
            b"k",
            b"body",
            &sig.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify(b"k", b"body ", &sig));
        assert!(!verify(b"other", b"body", &sig));
        assert!(!verify(b"k", b"body", sig.trim_start_matches("sha256=")));
        assert!(!verify(b"k", b"body", "sha256=zz"));
        assert!(!verify(b"k", b"body", "sha256=abc"));
    }
}
