//! Fuzzes how the errorbrain analyzer reads an answer: a verdict (valid by errorbrain's
//! schema), an explanation, or an error saying why neither; never a panic.
//!
//! Input (see `fluxbrain_fuzz::Message`): the status code, headers as `name: value` lines, an
//! empty line, the body.

#![no_main]

use std::sync::LazyLock;

use fluxbrain_core::Analysis;
use fluxbrain_fuzz::Message;
use fluxbrain_notify::{ErrorbrainAnalyzer, ErrorbrainConfig, SecretUrl, fuzzing};
use libfuzzer_sys::fuzz_target;

/// Built once: it compiles the verdict schema.
static ANALYZER: LazyLock<ErrorbrainAnalyzer> = LazyLock::new(|| {
    let url = SecretUrl::parse("http://errorbrain.fuzz.invalid").expect("a valid URL");
    ErrorbrainAnalyzer::new(ErrorbrainConfig::new(url)).expect("the analyzer builds")
});

fuzz_target!(|data: &[u8]| {
    let input = Message::parse(data);
    let Some(status) = input.status() else {
        return;
    };
    let Some(outcome) = fuzzing::errorbrain(&ANALYZER, status, &input.fields, input.body) else {
        return;
    };
    match outcome {
        Ok(Analysis::Verdict { verdict }) => assert!(ANALYZER.is_verdict(&verdict)),
        Ok(Analysis::Text { explanation }) => assert!(!explanation.trim().is_empty()),
        Err(e) => assert!(!e.is_empty()),
    }
});
