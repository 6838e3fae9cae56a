//! `ci-render` on the example cluster: the failing objects are printed and the step fails; a
//! folder without failures passes.

use std::process::Command;

fn ci_render(dir: &str) -> std::process::Output {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    Command::new(env!("CARGO_BIN_EXE_fluxbrain-example-ci-render"))
        .args(["basic", &format!("{root}/{dir}")])
        .output()
        .unwrap()
}

#[test]
fn the_example_cluster_fails_the_pipeline_with_its_events() {
    let out = ci_render("examples/clusters/basic");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 13, "{text}");
    assert!(events.iter().all(|e| e["metadata"]["cluster"] == "basic"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("13 failing Flux object(s)"));
}

#[test]
fn a_folder_without_failures_passes_and_a_missing_one_is_a_usage_error() {
    // The demo's pods: no Flux object at all.
    let empty = std::env::temp_dir().join(format!("ci-render-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fluxbrain-example-ci-render"))
        .args(["c", empty.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let missing = ci_render("examples/clusters/does-not-exist");
    assert_eq!(missing.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(empty);
}
