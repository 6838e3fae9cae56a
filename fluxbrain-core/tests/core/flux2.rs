//! Conformance on Flux's own test data: every Flux object in fluxcd/flux2's
//! `cmd/flux/testdata/` is read, and what fluxbrain calls failing is exactly what the golden
//! outputs of `flux get` call `READY False` (for objects that have a Ready condition: `flux get`
//! prints `False` for an object without one, which DESIGN.md section 5 calls Unknown).
//!
//! The data is Flux's (Apache-2.0) and is not kept in this repository: point
//! `FLUXBRAIN_FLUX2_TESTDATA` at a checkout's `cmd/flux/testdata` to run this (see
//! `docs/conformance.md`). Without it the test says so and checks nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fluxbrain_core::{Document, FluxObject, Health, parse_document};
use serde::Deserialize;

/// The `flux get` tests of `cmd/flux/get_test.go`: input objects and the goldens printed for
/// them (each golden a subset of the input, filtered by label or status).
const GET_PAIRS: &[(&str, &[&str])] = &[
    (
        "get/objects.yaml",
        &[
            "get/get.golden",
            "get/get_label_one.golden",
            "get/get_label_two.golden",
        ],
    ),
    (
        "get/status_objects.yaml",
        &[
            "get/get_status_ready_false.golden",
            "get/get_status_ready_not_true.golden",
            "get/get_status_ready_true.golden",
        ],
    ),
];

fn testdata() -> Option<PathBuf> {
    std::env::var_os("FLUXBRAIN_FLUX2_TESTDATA").map(PathBuf::from)
}

/// The test's placeholders, filled as `flux get`'s tests do (any namespace will do).
fn substitute(text: &str) -> String {
    text.replace("{{ .fluxns }}", "flux-system")
        .replace("{{ .ns }}", "flux-system")
}

/// What the documents of one file read as.
#[derive(Debug, Default)]
struct Read {
    objects: Vec<FluxObject>,
    errors: Vec<String>,
    warnings: Vec<String>,
}

fn read(path: &Path) -> Read {
    let mut read = Read::default();
    let Ok(text) = std::fs::read_to_string(path) else {
        return read;
    };
    for document in serde_yaml_ng::Deserializer::from_str(&substitute(&text)) {
        let value = match serde_json::Value::deserialize(document) {
            // An empty document (`---` with nothing after it) is not an object.
            Ok(serde_json::Value::Null) => continue,
            Ok(value) => value,
            Err(_) => break,
        };
        let mut warnings = Vec::new();
        for result in parse_document(&value, &mut warnings) {
            match result {
                Ok(Document::Object(object)) => read.objects.push(object),
                Ok(_) => {}
                Err(e) => read.errors.push(e.to_string()),
            }
        }
        read.warnings
            .extend(warnings.iter().map(|w| format!("{w:?}")));
    }
    read
}

/// `NAME -> READY` of a golden table (`NAME ... READY ...` header, whitespace- or
/// tab-separated columns).
fn golden_ready(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let name = header.iter().position(|c| *c == "NAME").unwrap();
    let ready = header.iter().position(|c| *c == "READY").unwrap();
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
            (cells[name].to_owned(), cells[ready].to_owned())
        })
        .collect()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn failing_is_what_flux_get_calls_ready_false() {
    let Some(dir) = testdata() else {
        eprintln!("skipping: FLUXBRAIN_FLUX2_TESTDATA is not set (see docs/conformance.md)");
        return;
    };
    let mut compared = 0;
    for (input, goldens) in GET_PAIRS {
        let read = read(&dir.join(input));
        assert!(read.errors.is_empty(), "{input}: {:?}", read.errors);
        assert!(read.warnings.is_empty(), "{input}: {:?}", read.warnings);
        for golden in *goldens {
            for (name, ready) in golden_ready(&dir.join(golden)) {
                let object = read
                    .objects
                    .iter()
                    .find(|o| o.key.name == name)
                    .unwrap_or_else(|| panic!("{golden}: {name} is not in {input}"));
                if object.condition("Ready").is_none() {
                    continue;
                }
                let failing = object.health() == Health::Failing;
                assert_eq!(
                    failing,
                    ready == "False" && !object.suspended,
                    "{golden}: {name} is READY {ready}, fluxbrain reads {:?}",
                    object.health()
                );
                compared += 1;
            }
        }
    }
    eprintln!("flux get conformance: {compared} golden rows compared");
    assert!(compared > 0);
}

#[test]
fn every_flux_object_in_the_test_data_reads_without_warning() {
    let Some(dir) = testdata() else {
        eprintln!("skipping: FLUXBRAIN_FLUX2_TESTDATA is not set (see docs/conformance.md)");
        return;
    };
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let (mut objects, mut refused) = (0, Vec::new());
    for file in &files {
        let read = read(file);
        assert!(
            read.warnings.is_empty(),
            "{}: {:?}",
            file.display(),
            read.warnings
        );
        objects += read.objects.len();
        refused.extend(
            read.errors
                .iter()
                .map(|e| format!("{}: {e}", file.display())),
        );
    }
    eprintln!(
        "flux2 testdata: {} files, {objects} objects read, {} documents refused:",
        files.len(),
        refused.len()
    );
    for line in &refused {
        eprintln!("  {line}");
    }
    assert!(objects > 0);
}
