//! Fuzzes how the ConfigMap store reads its ConfigMaps: the head's annotations (part count,
//! generation, sha256) with its gzip-compressed state, and the control ConfigMap's data. Any
//! content is read or refused with a reason; never a panic.
//!
//! Input (see `fluxbrain_fuzz::Message`): a first line `gzip` (the body is compressed by
//! the target, so that mutations reach the state decoder) or anything else (the body is the
//! compressed data as stored); then annotations as `name: value` lines, where
//! `fluxbrain.io/sha256: auto` stands for the digest of the compressed data; then an empty
//! line and the body, which is also read as the control ConfigMap's `control.json`.

#![no_main]

use std::collections::BTreeMap;
use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use fluxbrain_core::engine::encode;
use fluxbrain_fuzz::Message;
use fluxbrain_kube::configmap_store::{read_control, read_state};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const DIGEST: &str = "fluxbrain.io/sha256";

fuzz_target!(|data: &[u8]| {
    let input = Message::parse(data);
    let compressed = if input.first == b"gzip" {
        gzip(input.body)
    } else {
        input.body.to_vec()
    };
    let mut annotations = BTreeMap::new();
    for (name, value) in &input.fields {
        let (Ok(name), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(value)) else {
            continue;
        };
        let value = match (name, value) {
            (DIGEST, "auto") => hex(&compressed),
            _ => value.to_owned(),
        };
        annotations.entry(name.to_owned()).or_insert(value);
    }
    match read_state(&annotations, &compressed) {
        Ok(state) => {
            // Written back as the store saves it, it reads the same.
            let saved = gzip(&encode(&state));
            let annotations = BTreeMap::from([(DIGEST.to_owned(), hex(&saved))]);
            assert_eq!(read_state(&annotations, &saved), Ok(state));
        }
        Err(e) => assert!(!e.is_empty()),
    }
    let text = String::from_utf8_lossy(input.body).into_owned();
    let data = BTreeMap::from([("control.json".to_owned(), text)]);
    if let Err(e) = read_control(&data) {
        assert!(!e.is_empty());
    }
});

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    // Writing to a Vec cannot fail.
    encoder.write_all(bytes).expect("write to a Vec");
    encoder.finish().expect("finish into a Vec")
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
