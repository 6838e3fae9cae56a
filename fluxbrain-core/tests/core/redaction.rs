//! No generated secret survives redaction, wherever it sits in a message.

use fluxbrain_core::{REDACTED, redact, text::export};
use proptest::prelude::*;

fn secret() -> impl Strategy<Value = (String, String)> {
    // (text to embed, the part that must not survive)
    prop_oneof![
        "[A-Za-z0-9]{36}".prop_map(|s| (format!("ghp_{s}"), format!("ghp_{s}"))),
        "[A-Za-z0-9_]{40,82}".prop_map(|s| (format!("github_pat_{s}"), format!("github_pat_{s}"))),
        ("[abposr]", "[0-9]{10,13}", "[A-Za-z0-9]{24}").prop_map(|(t, a, b)| {
            let s = format!("xox{t}-{a}-{b}");
            (s.clone(), s)
        }),
        "[A-Z0-9]{16}".prop_map(|s| (format!("AKIA{s}"), format!("AKIA{s}"))),
        (
            "[A-Za-z0-9_-]{10,40}",
            "[A-Za-z0-9_-]{10,60}",
            "[A-Za-z0-9_-]{10,43}"
        )
            .prop_map(|(h, p, s)| {
                let t = format!("eyJ{h}.eyJ{p}.{s}");
                (t.clone(), t)
            }),
        ("[a-z]{3,10}", "[A-Za-z0-9]{8,30}").prop_map(|(u, p)| (
            format!("https://{u}:{p}@git.example.com/r.git"),
            format!(":{p}@")
        )),
        "[A-Za-z0-9._~+/-]{16,64}"
            .prop_map(|t| (format!("Authorization: Bearer {t}"), format!(" {t}"))),
        "[A-Za-z0-9+/]{16,64}".prop_map(|t| (format!("authorization=Basic {t}"), format!(" {t}"))),
        "[A-Za-z0-9+/=\n]{20,200}".prop_map(|b| {
            let pem = format!("-----BEGIN EC PRIVATE KEY-----\n{b}\n-----END EC PRIVATE KEY-----");
            (pem, format!("\n{b}\n"))
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_generated_secret_survives(
        before in "[ -~\n]{0,40}",
        (text, secret) in secret(),
        after in "[ -~\n]{0,40}",
    ) {
        let message = format!("{before}{text}{after}");
        let redacted = redact(&message);
        prop_assert!(!redacted.contains(&secret), "{:?} -> {:?}", message, redacted);
        prop_assert!(redacted.contains(REDACTED));
        // The exported form (redacted, then capped) does not leak either.
        prop_assert!(!export(&message).contains(&secret));
    }

    #[test]
    fn redaction_is_idempotent(s in "[ -~\n]{0,200}") {
        let once = redact(&s).into_owned();
        prop_assert_eq!(redact(&once).into_owned(), once);
    }
}
