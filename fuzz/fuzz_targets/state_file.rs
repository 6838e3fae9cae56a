//! Fuzzes the decoders of the stored state document and of the operators' control document
//! (what the file store and every other store read back): any bytes decode or are refused
//! with a reason; never a panic. What decodes encodes to bytes that decode to the same value.

#![no_main]

use fluxbrain_core::{control, engine};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match engine::decode(data) {
        Ok(state) => assert_eq!(engine::decode(&engine::encode(&state)), Ok(state)),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    match control::decode(data) {
        Ok(doc) => assert_eq!(control::decode(&control::encode(&doc)), Ok(doc)),
        Err(e) => assert!(!e.is_empty()),
    }
});
