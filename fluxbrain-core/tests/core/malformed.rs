//! Every malformed fixture gives an error (or a warning) that names the object and field, and
//! never a panic; good documents beside a bad one are kept.

use std::path::PathBuf;

use crate::support::{fixtures, load};

fn file(name: &str) -> Vec<PathBuf> {
    vec![fixtures().join("malformed").join(name)]
}

#[test]
fn every_file_is_reported() {
    let dir = fixtures().join("malformed");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let loaded = load(std::slice::from_ref(&path), "m");
        let reported =
            loaded.errors.len() + loaded.warnings.len() + loaded.yaml_errors + loaded.bad_lines;
        let invalid_utf8 = std::fs::read(&path)
            .map(|b| std::str::from_utf8(&b).is_err())
            .unwrap();
        assert!(
            reported > 0 || invalid_utf8,
            "{} was read without complaint",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 11, "only {seen} malformed fixtures");
}

#[test]
fn errors_name_object_and_field() {
    let cases = [
        (
            "conditions-not-a-list.yaml",
            "Kustomization malformed/conditions-not-a-list",
            "status.conditions",
        ),
        (
            "condition-without-type.yaml",
            "Kustomization malformed/condition-without-type",
            "status.conditions[0].type",
        ),
        (
            "condition-status-boolean.yaml",
            "Kustomization malformed/condition-status-boolean",
            "status.conditions[0].status",
        ),
        (
            "last-transition-time-not-rfc3339.yaml",
            "Kustomization malformed/last-transition-time-not-rfc3339",
            "status.conditions[0].lastTransitionTime",
        ),
        (
            "object-missing-metadata-name.yaml",
            "Kustomization malformed/broken-<no name>",
            "metadata.name",
        ),
        (
            "event-missing-involved-object.yaml",
            "Event malformed/broken.18a85500c3d2e1f0",
            "involvedObject",
        ),
    ];
    for (name, object, field) in cases {
        let loaded = load(&file(name), "m");
        assert_eq!(loaded.errors.len(), 1, "{name}");
        assert_eq!(loaded.errors[0].object, object, "{name}");
        assert_eq!(loaded.errors[0].field, field, "{name}");
        assert!(loaded.snapshot.objects.is_empty() && loaded.snapshot.events.is_empty());
    }
}

#[test]
fn truncated_document_keeps_the_first() {
    let loaded = load(&file("truncated-document.yaml"), "m");
    assert_eq!(loaded.yaml_errors, 1);
    assert_eq!(loaded.snapshot.objects.len(), 1);
    assert_eq!(loaded.snapshot.objects[0].key.name, "truncated-ok");
}

#[test]
fn log_files_keep_the_good_lines() {
    for (name, bad) in [
        ("log-line-not-json.log", 6),
        ("log-line-truncated-json.log", 1),
    ] {
        let loaded = load(&file(name), "m");
        assert_eq!(loaded.bad_lines, bad, "{name}");
        // The lines naming `malformed/broken` around the bad ones are kept.
        assert!(!loaded.snapshot.logs.is_empty(), "{name}");
    }
    // The invalid byte is replaced, the line kept.
    let loaded = load(&file("log-line-invalid-utf8.log"), "m");
    assert_eq!(loaded.bad_lines, 0);
    assert!(
        loaded
            .snapshot
            .logs
            .iter()
            .any(|l| l.message.contains('\u{fffd}'))
    );
}
