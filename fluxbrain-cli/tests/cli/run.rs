//! `fluxbrain run` against the simulator: the live path gives exactly the offline path's
//! events, and state makes a second run quiet.

use std::process::Output;

use crate::{fluxbrain, serve_basic, stderr};

const BASIC: &str = "examples/clusters/basic";

async fn run(args: &'static [&'static str], env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fluxbrain(args, &env)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_emits_exactly_what_render_prints() {
    let (_sim, _server, kubeconfig) = serve_basic("parity").await;
    let live = run(
        &["run", "--once", "--emit", "ndjson"],
        vec![
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("FLUXBRAIN_CLUSTER", "basic".into()),
            ("FLUXBRAIN_COLLECT_LOGS", "true".into()),
        ],
    )
    .await;
    assert_eq!(live.status.code(), Some(0), "{}", stderr(&live));
    let offline = fluxbrain(&["render", "--cluster", "basic", BASIC], &[]);
    assert_eq!(offline.status.code(), Some(0), "{}", stderr(&offline));
    assert_eq!(live.stdout.iter().filter(|&&b| b == b'\n').count(), 13);
    assert!(
        live.stdout == offline.stdout,
        "run --once and render differ:\n--- run\n{}\n--- render\n{}",
        String::from_utf8_lossy(&live.stdout),
        String::from_utf8_lossy(&offline.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_with_the_same_state_says_nothing_new() {
    let (_sim, _server, kubeconfig) = serve_basic("state").await;
    let state =
        std::env::temp_dir().join(format!("fluxbrain-cli-state-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&state);
    let env = vec![
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("FLUXBRAIN_CLUSTER", "basic".into()),
        ("FLUXBRAIN_STATE", format!("file:{}", state.display())),
        ("FLUXBRAIN_LOG_LEVEL", "warn".into()),
    ];
    let first = run(&["run", "--once"], env.clone()).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let lines: Vec<serde_json::Value> = String::from_utf8(first.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // 13 failing objects; 4 are folded into their failing source or dependency.
    assert_eq!(lines.len(), 9);
    assert!(lines.iter().all(|l| l["notification"]["kind"] == "firing"));
    let shop = lines
        .iter()
        .find(|l| l["event"]["metadata"]["name"] == "shop-manifests")
        .unwrap();
    assert_eq!(shop["affected"][0]["key"], "Kustomization/shop/shop-apps");
    let second = run(&["run", "--once"], env).await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        second.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    std::fs::remove_file(&state).unwrap();
}

#[test]
fn bad_settings_are_usage_errors_naming_the_variable() {
    for (var, value, needle) in [
        (
            "FLUXBRAIN_STATE",
            "redis://x",
            "expected memory, file:PATH or configmap:NAMESPACE/NAME",
        ),
        ("FLUXBRAIN_REMIND_INTERVAL", "soon", "soon"),
        ("FLUXBRAIN_RUN_MODE", "sometimes", "sometimes"),
        ("FLUXBRAIN_LOG_LEVEL", "loud", "loud"),
    ] {
        let out = fluxbrain(
            &["run", "--once"],
            &[(var, value), ("FLUXBRAIN_CLUSTER", "c")],
        );
        assert_eq!(out.status.code(), Some(2), "{var}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{var}: {}", stderr(&out));
    }
    let out = fluxbrain(
        &["run", "--once"],
        &[
            ("FLUXBRAIN_CLUSTER", "c"),
            ("FLUXBRAIN_REQUEUE_INTERVAL", "often"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("often"), "{}", stderr(&out));
}
