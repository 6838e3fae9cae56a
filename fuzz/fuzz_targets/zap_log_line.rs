//! Fuzzes the controller log line parser (controller-runtime's zap JSON, with or without the
//! kubelet's timestamp in front): a line is kept, skipped or refused with a reason; never a
//! panic, and what is kept stays within its bounds.

#![no_main]

use fluxbrain_core::parse_log_line;
use libfuzzer_sys::fuzz_target;

/// `msg` and `error` are cut to 32 KiB.
const MAX_FIELD: usize = 32 * 1024;

fuzz_target!(|data: &[u8]| {
    // As render reads a log file: invalid UTF-8 replaced, not refused.
    let line = String::from_utf8_lossy(data);
    match parse_log_line(&line, "pod", "manager") {
        Ok(Some(line)) => {
            assert_eq!(
                (line.pod.as_str(), line.container.as_str()),
                ("pod", "manager")
            );
            assert!(line.message.len() <= MAX_FIELD);
            assert!(line.error.as_ref().is_none_or(|e| e.len() <= MAX_FIELD));
        }
        Ok(None) => {}
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
