//! Every event fluxbrain builds from the fixtures validates against the errorbrain schema.

use fluxbrain_core::{BuildOptions, Environment, build_all, canonical};

use crate::support::{self, basic_events, fixtures, load};

fn validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&support::schema("error_event.schema.json"))
        .unwrap()
}

fn assert_valid(validator: &jsonschema::Validator, bytes: &[u8]) {
    let instance: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{errors:#?}\n{}",
        String::from_utf8_lossy(bytes)
    );
}

#[test]
fn cluster_basic_events_validate() {
    let validator = validator();
    let events = basic_events();
    assert_eq!(events.len(), 13);
    for event in &events {
        assert_valid(&validator, &canonical::to_vec(event));
    }
}

#[test]
fn older_api_versions_validate() {
    let validator = validator();
    for file in ["v1beta2-kustomization.yaml", "v2beta1-helmrelease.yaml"] {
        let loaded = load(&[fixtures().join(file)], "legacy");
        assert!(loaded.errors.is_empty(), "{file}: {:?}", loaded.errors);
        let events = build_all(
            &loaded.snapshot,
            &BuildOptions {
                environment: Some(Environment::Production),
                tags: vec!["team:platform".into()],
                now: None,
                report_drift: false,
            },
        );
        assert_eq!(events.len(), 1, "{file}");
        assert_eq!(events[0].source.environment, Some(Environment::Production));
        assert_valid(&validator, &canonical::to_vec(&events[0]));
    }
}

#[test]
fn every_fixture_that_parses_validates() {
    let validator = validator();
    let dir = fixtures().join("malformed");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut validated = 0;
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let loaded = load(std::slice::from_ref(file), "malformed");
        for event in build_all(&loaded.snapshot, &BuildOptions::default()) {
            assert_valid(&validator, &canonical::to_vec(&event));
            validated += 1;
        }
    }
    // truncated-document.yaml keeps its first document; condition-message-2mb.yaml its object.
    assert_eq!(validated, 2);
}

#[test]
fn the_spec_examples_validate_against_their_schemas() {
    let dir = support::spec_examples();
    let verdicts = jsonschema::options()
        .should_validate_formats(true)
        .build(&support::schema("verdict.schema.json"))
        .unwrap();
    let events = validator();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("event-") {
            assert_valid(&events, &bytes);
        } else if name.starts_with("verdict-") {
            assert_valid(&verdicts, &bytes);
        } else {
            panic!("{name}: neither an event nor a verdict example");
        }
        seen += 1;
    }
    assert_eq!(seen, 3, "{}", dir.display());
}
