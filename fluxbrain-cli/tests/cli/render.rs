//! `fluxbrain render`: exit codes, error messages, determinism.

use crate::{fluxbrain, repo, stderr};

const BASIC: &str = "examples/clusters/basic";
const NOW: &str = "2026-04-21T09:30:00Z";

#[test]
fn renders_the_example_cluster() {
    let out = fluxbrain(&["render", "--cluster", "basic", "--now", NOW, BASIC], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 13);
    let keys: Vec<(String, String, String)> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let m = &v["metadata"];
            (
                m["namespace"].as_str().unwrap().to_owned(),
                m["kind"].as_str().unwrap().to_owned(),
                m["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "NDJSON is sorted by namespace, kind, name");
}

#[test]
fn cluster_from_environment_and_file_order_do_not_matter() {
    let folder = fluxbrain(
        &["render", "--now", NOW, BASIC],
        &[("FLUXBRAIN_CLUSTER", "basic")],
    );
    assert_eq!(folder.status.code(), Some(0), "{}", stderr(&folder));
    let logs = repo().join(BASIC).join("logs");
    let mut files: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    files.reverse();
    let mut args = vec!["render", "--cluster", "basic", "--now", NOW];
    let pods = format!("{BASIC}/pods.yaml");
    let events = format!("{BASIC}/events.yaml");
    let objects = format!("{BASIC}/objects.yaml");
    args.extend([pods.as_str(), events.as_str()]);
    args.extend(files.iter().map(String::as_str));
    args.push(objects.as_str());
    let reversed = fluxbrain(&args, &[]);
    assert_eq!(reversed.status.code(), Some(0), "{}", stderr(&reversed));
    assert_eq!(folder.stdout, reversed.stdout);
}

#[test]
fn pretty_is_the_same_events() {
    let compact = fluxbrain(&["render", "--cluster", "basic", BASIC], &[]);
    let pretty = fluxbrain(&["render", "--cluster", "basic", "--pretty", BASIC], &[]);
    let text = String::from_utf8(pretty.stdout).unwrap();
    let parsed: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let compact: Vec<serde_json::Value> = String::from_utf8(compact.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed, compact);
}

#[test]
fn usage_errors_exit_2() {
    let no_cluster = fluxbrain(&["render", BASIC], &[]);
    assert_eq!(no_cluster.status.code(), Some(2));
    assert!(
        stderr(&no_cluster).contains("--cluster"),
        "{}",
        stderr(&no_cluster)
    );

    let empty = fluxbrain(&["render", BASIC], &[("FLUXBRAIN_CLUSTER", " ")]);
    assert_eq!(empty.status.code(), Some(2));
    assert!(
        stderr(&empty).contains("FLUXBRAIN_CLUSTER"),
        "{}",
        stderr(&empty)
    );

    let bad_now = fluxbrain(
        &["render", "--cluster", "c", "--now", "yesterday", BASIC],
        &[],
    );
    assert_eq!(bad_now.status.code(), Some(2));
    assert!(
        stderr(&bad_now).contains("RFC 3339"),
        "{}",
        stderr(&bad_now)
    );

    let bad_env = fluxbrain(
        &["render", "--cluster", "c", BASIC],
        &[("FLUXBRAIN_ENVIRONMENT", "prod")],
    );
    assert_eq!(bad_env.status.code(), Some(2));
    assert!(
        stderr(&bad_env).contains("unknown environment \"prod\""),
        "{}",
        stderr(&bad_env)
    );

    let no_paths = fluxbrain(&["render", "--cluster", "c"], &[]);
    assert_eq!(no_paths.status.code(), Some(2));
}

#[test]
fn bad_files_are_named_and_the_rest_is_rendered() {
    let out = fluxbrain(
        &[
            "render",
            "--cluster",
            "c",
            "testdata/fixtures/malformed",
            "testdata/fixtures/v1beta2-kustomization.yaml",
            "no/such/file.yaml",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for needle in [
        "malformed/condition-status-boolean.yaml: document 1: Kustomization malformed/condition-status-boolean: status.conditions[0].status: expected the string",
        "malformed/condition-without-type.yaml: document 1: Kustomization malformed/condition-without-type: status.conditions[0].type: missing (skipped)",
        "malformed/conditions-not-a-list.yaml: document 1:",
        "malformed/event-missing-involved-object.yaml: document 1: Event malformed/broken.18a85500c3d2e1f0: involvedObject: missing",
        "malformed/last-transition-time-not-rfc3339.yaml: document 1:",
        "malformed/object-missing-metadata-name.yaml: document 1: Kustomization malformed/broken-<no name>: metadata.name: missing",
        "malformed/truncated-document.yaml: document 2: not valid YAML",
        "malformed/condition-message-2mb.yaml: document 1: Kustomization malformed/condition-message-2mb: status.conditions[0].message: 2097152 bytes",
        "malformed/log-line-not-json.log: lines 3, 4, 5, 7, 8 and 1 more: not a JSON log line (skipped)",
        "malformed/log-line-truncated-json.log: line 2: not a JSON log line (skipped)",
        "malformed/log-line-invalid-utf8.log: line 2: invalid UTF-8",
        "no/such/file.yaml: cannot read",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    // Still printed: the first document of the truncated file, the 2 MiB object (capped) and
    // the v1beta2 Kustomization.
    let stdout = String::from_utf8(out.stdout).unwrap();
    let names: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["message"].as_str().unwrap().len() <= 4096);
            v["metadata"]["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        names,
        ["billing-workers", "condition-message-2mb", "truncated-ok"]
    );
}

#[test]
fn log_file_header_names_the_pod() {
    let dir = std::env::temp_dir().join(format!("fluxbrain-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let objects = repo().join(BASIC).join("objects.yaml");
    std::fs::copy(&objects, dir.join("objects.yaml")).unwrap();
    let line = r#"{"level":"error","ts":"2026-04-21T09:29:14.771Z","msg":"Reconciliation failed","controllerKind":"Kustomization","controllerGroup":"kustomize.toolkit.fluxcd.io","namespace":"flux-system","name":"infra-configs","error":"boom"}"#;
    std::fs::write(
        dir.join("controller.log"),
        format!("# pod: flux-system/kc-abc/main\n{line}\n"),
    )
    .unwrap();
    let out = fluxbrain(&["render", "--cluster", "c", dir.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let infra = text
        .lines()
        .find(|l| l.contains("\"name\":\"infra-configs\""))
        .unwrap();
    assert!(
        infra.contains(r#""pod":"kc-abc","container":"main""#),
        "{infra}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn api_lists_concatenated_json_and_timestamped_logs() {
    let dir = std::env::temp_dir().join(format!("fluxbrain-render-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // What `curl .../kustomizations` returns (items without kind), then a second document.
    let list = r#"{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"KustomizationList","metadata":{},"items":[{"metadata":{"name":"apps","namespace":"shop"},"status":{"conditions":[{"type":"Ready","status":"False","reason":"BuildFailed","message":"boom","lastTransitionTime":"2026-04-21T09:00:00Z"}]}}]}"#;
    let pod = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"kc-1","namespace":"flux-system","labels":{"app":"kustomize-controller"}},"spec":{"containers":[{"name":"manager","image":"ghcr.io/fluxcd/kustomize-controller:v1.8.2"}]}}"#;
    std::fs::write(dir.join("cluster.json"), format!("{list}\n{pod}\n")).unwrap();
    let line = r#"2026-04-21T09:00:01.5Z {"level":"error","ts":"2026-04-21T09:00:01.400Z","msg":"Reconciliation failed","controllerKind":"Kustomization","namespace":"shop","name":"apps","error":"boom"}"#;
    std::fs::write(dir.join("kc-1.log"), format!("{line}\n")).unwrap();
    let out = fluxbrain(&["render", "--cluster", "c", dir.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(event["metadata"]["name"], "apps");
    assert_eq!(event["source"]["version"], "v1.8.2");
    assert_eq!(event["evidence"][0]["type"], "log_line");
    assert_eq!(event["evidence"][0]["data"]["error"], "boom");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_input_read_twice_counts_once() {
    let once = fluxbrain(&["render", "--cluster", "basic", "--now", NOW, BASIC], &[]);
    assert_eq!(once.status.code(), Some(0), "{}", stderr(&once));
    // The folder, and again two of its files by name.
    let events = format!("{BASIC}/events.yaml");
    let log = std::fs::read_dir(repo().join(BASIC).join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .unwrap();
    let log = log.display().to_string();
    let twice = fluxbrain(
        &[
            "render",
            "--cluster",
            "basic",
            "--now",
            NOW,
            BASIC,
            &events,
            &log,
        ],
        &[],
    );
    assert_eq!(twice.status.code(), Some(0), "{}", stderr(&twice));
    assert!(
        once.stdout == twice.stdout,
        "reading inputs twice changed the output:\n--- once\n{}\n--- twice\n{}",
        String::from_utf8_lossy(&once.stdout),
        String::from_utf8_lossy(&twice.stdout)
    );
}

/// Two copies of one Kustomization that nothing orders (same generation, observed generation
/// and condition time), one failing and one Ready: whatever the order, the failing copy is
/// rendered, the problem names both files, and render exits 1.
#[test]
fn disagreeing_copies_are_named_and_the_failing_one_is_kept() {
    let failing = r#"
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: payments, namespace: apps, generation: 3}
spec:
  interval: 10m
  path: ./payments
  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
status:
  observedGeneration: 3
  conditions:
  - {type: Ready, status: "False", reason: BuildFailed, message: "kustomize build failed", lastTransitionTime: "2026-04-21T09:00:00Z"}
"#;
    let healthy = failing
        .replace(r#"status: "False", reason: BuildFailed, message: "kustomize build failed""#,
                 r#"status: "True", reason: ReconciliationSucceeded, message: "Applied revision: main@sha1:1""#);
    let dir = std::env::temp_dir().join(format!("fluxbrain-render-dup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a-export.yaml"), dir.join("b-export.yaml"));
    for (first, second) in [(failing, healthy.as_str()), (healthy.as_str(), failing)] {
        std::fs::write(&a, first).unwrap();
        std::fs::write(&b, second).unwrap();
        let out = fluxbrain(
            &[
                "render",
                "--cluster",
                "c",
                "--now",
                NOW,
                a.to_str().unwrap(),
                b.to_str().unwrap(),
            ],
            &[],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains(r#""error_type":"BuildFailed""#), "{text}");
        assert!(
            err.contains("Kustomization apps/payments is given twice"),
            "{err}"
        );
        assert!(
            err.contains("a-export.yaml") && err.contains("b-export.yaml"),
            "{err}"
        );
        assert!(
            err.contains("(Ready=False (BuildFailed)), ignored"),
            "{err}"
        );
        assert!(err.contains("failing copy is kept"), "{err}");
    }
    // The very same copy twice is no conflict.
    std::fs::write(&a, failing).unwrap();
    std::fs::write(&b, failing).unwrap();
    let out = fluxbrain(
        &[
            "render",
            "--cluster",
            "c",
            "--now",
            NOW,
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let _ = std::fs::remove_dir_all(dir);
}
