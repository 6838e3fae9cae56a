//! Fuzzes how the Slack notifier reads an answer, as an incoming webhook's and as the Web
//! API's `chat.postMessage`: delivered, or an error saying why and whether to retry; never a
//! panic.
//!
//! Input (see `fluxbrain_fuzz::Message`): the status code, headers as `name: value` lines, an
//! empty line, the body.

#![no_main]

use fluxbrain_fuzz::Message;
use fluxbrain_notify::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Message::parse(data);
    let Some(status) = input.status() else {
        return;
    };
    let Some((webhook, posted)) = fuzzing::slack(status, &input.fields, input.body) else {
        return;
    };
    // Only a 2xx delivers.
    let success = (200..300).contains(&status);
    assert_eq!(webhook.is_ok(), success);
    assert!(success || posted.is_err());
});
