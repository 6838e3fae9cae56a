//! Fuzzes render's file reader: the same bytes read as a YAML file, a JSON file (one document
//! or several one after another) and a controller log, then built into events as `fluxbrain
//! render` does. Every input is read or reported as a problem; never a panic.

#![no_main]

use std::path::Path;

use fluxbrain_cli::files::load_bytes;
use fluxbrain_core::{BuildOptions, build_all, canonical};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for name in ["fuzz.yaml", "fuzz.json", "fuzz.log"] {
        let loaded = load_bytes(Path::new(name), data, "fuzz");
        // Every object read says where it came from.
        assert_eq!(loaded.origins.len(), loaded.snapshot.objects.len());
        for problem in &loaded.problems {
            assert!(problem.to_string().starts_with(name));
        }
        let events = build_all(&loaded.snapshot, &BuildOptions::default());
        let out = canonical::to_ndjson(&events, false);
        assert_eq!(out.is_empty(), events.is_empty());
    }
});
