//! `fluxbrain status`: the incidents a run left in its state store, as a table or JSON; a
//! missing, corrupt or unreachable source is said plainly.

use serde_json::Value;

use crate::{fluxbrain, serve_basic, stderr};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reads_the_state_a_run_left() {
    let (_sim, _server, kubeconfig) = serve_basic("status").await;
    let state =
        std::env::temp_dir().join(format!("fluxbrain-cli-status-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&state);
    let spec = format!("file:{}", state.display());
    let kubeconfig = kubeconfig.display().to_string();
    let run = {
        let spec = spec.clone();
        tokio::task::spawn_blocking(move || {
            fluxbrain(
                &["run", "--once"],
                &[
                    ("KUBECONFIG", &kubeconfig),
                    ("FLUXBRAIN_CLUSTER", "basic"),
                    ("FLUXBRAIN_STATE", &spec),
                    ("FLUXBRAIN_LOG_LEVEL", "warn"),
                ],
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));

    let table = fluxbrain(&["status", "--state", &spec], &[]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(
        text.contains(
            "incidents: 13 open (4 folded into an upstream, 0 silenced, 0 acknowledged), 0 resolved kept\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("notifier stdout: 9 sent, 0 failed attempts, 0 pending, 0 refused\n"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.contains("flux-system/infra-configs"))
        .unwrap_or_else(|| panic!("no infra-configs row in\n{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[0].len(), 8, "the incident id's beginning: {row}");
    assert_eq!(
        cells[1..],
        [
            "basic",
            "Kustomization",
            "flux-system/infra-configs",
            "ReconciliationFailed",
            "2026-04-21T09:29:14Z",
            "1×",
            "-",
            "-"
        ]
    );
    let folded = text.lines().find(|l| l.contains("shop/shop-apps")).unwrap();
    let cells: Vec<&str> = folded.split_whitespace().collect();
    assert_eq!(
        cells[cells.len() - 3..],
        ["-", "GitRepository/shop/shop-manifests", "-"],
        "{folded}"
    );

    let json = fluxbrain(&["status", "--state", &spec, "--output", "json"], &[]);
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let status: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(status["incidents"].as_array().unwrap().len(), 13);
    assert_eq!(status["summary"]["incidents"]["open"], 13);
    assert_eq!(
        status["summary"]["incidents"]["by_kind"]["Kustomization"],
        5
    );
    assert_eq!(status["summary"]["notifiers"]["stdout"]["sent"], 9);
    std::fs::remove_file(&state).unwrap();
}

#[test]
fn missing_corrupt_and_unreachable_sources_are_said() {
    let dir = std::env::temp_dir().join(format!("fluxbrain-cli-status-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.json");
    let out = fluxbrain(
        &["status", "--state", &format!("file:{}", missing.display())],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("holds no state yet"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("no open incidents"));

    let corrupt = dir.join("corrupt.json");
    std::fs::write(&corrupt, "not json at all").unwrap();
    let out = fluxbrain(
        &["status", "--state", &format!("file:{}", corrupt.display())],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("corrupt.json"), "{}", stderr(&out));

    // Nothing listens on port 9 of localhost (discard).
    let out = fluxbrain(&["status", "--server", "http://127.0.0.1:9"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("http://127.0.0.1:9/v1/summary"),
        "{}",
        stderr(&out)
    );

    let out = fluxbrain(&["status", "--output", "yaml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
