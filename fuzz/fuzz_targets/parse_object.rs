//! Fuzzes the object parser and the event builder: any JSON document must either parse into
//! facts that build valid, bounded events, or give an error; never a panic.

#![no_main]

use fluxbrain_core::{BuildOptions, Document, Snapshot, build_all, canonical, parse_document};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let mut warnings = Vec::new();
    let mut snapshot = Snapshot::new("fuzz");
    for doc in parse_document(&value, &mut warnings) {
        match doc {
            Ok(Document::Object(o)) => snapshot.objects.push(o.into()),
            Ok(Document::Event(e)) => snapshot.events.push(e),
            Ok(Document::Pod(p)) => snapshot.pods.push(p),
            Ok(Document::Ignored { .. }) => {}
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    for event in build_all(&snapshot, &BuildOptions::default()) {
        assert!(event.message.len() <= fluxbrain_core::text::MAX_MESSAGE);
        let bytes = canonical::to_vec(&event);
        let back: serde_json::Value =
            serde_json::from_slice(&bytes).expect("canonical bytes are JSON");
        assert!(back.is_object());
    }
});
