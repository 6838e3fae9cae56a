//! Fuzzes how the GitHub notifier reads an answer, as the list of open issues and as the
//! reply to opening one: an issue number, or an error saying why and whether to retry; never
//! a panic.
//!
//! Input (see `fluxbrain_fuzz::Message`): the status code, headers as `name: value` lines, an
//! empty line, the body.

#![no_main]

use fluxbrain_fuzz::Message;
use fluxbrain_notify::fuzzing;
use libfuzzer_sys::fuzz_target;

/// The label of the incident whose issue is looked for (the seeds use it).
const LABEL: &str = "fluxbrain:3f6c1d2a9b8e7f60";

fuzz_target!(|data: &[u8]| {
    let input = Message::parse(data);
    let Some(status) = input.status() else {
        return;
    };
    let Some((listed, opened)) = fuzzing::github(status, &input.fields, input.body, LABEL) else {
        return;
    };
    if !(200..300).contains(&status) {
        assert!(listed.is_err() && opened.is_err());
    }
});
