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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_damaged_or_newer_state_refuses_and_says_how_to_start_over() {
    use fluxbrain_core::engine::STATE_VERSION;
    let (_sim, _server, kubeconfig) = serve_basic("bad-state").await;
    let dir = std::env::temp_dir().join(format!("fluxbrain-cli-bad-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let env = vec![
        ("KUBECONFIG", kubeconfig.display().to_string()),
        ("FLUXBRAIN_CLUSTER", "basic".into()),
        ("FLUXBRAIN_STATE", format!("file:{}", state.display())),
        ("FLUXBRAIN_LOG_LEVEL", "warn".into()),
    ];
    let copies = || {
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("state.json.bad-")
            })
            .count()
    };
    let loses = "starting over with empty state loses what that state holds: the open incidents";
    let first = run(&["run", "--once"], env.clone()).await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));

    // Cut in half, as a full disk or an interrupted copy leaves it.
    let whole = std::fs::read(&state).unwrap();
    let cut = &whole[..whole.len() / 2];
    std::fs::write(&state, cut).unwrap();
    let out = run(&["run", "--once"], env.clone()).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "nothing is sent");
    for said in [
        format!("file:{}: the file ends early (", state.display()),
        "): truncated?; a copy is kept as ".to_owned(),
        format!("{}.bad-", state.display()),
        format!(
            "to start over, move {} away (or delete it)",
            state.display()
        ),
        loses.to_owned(),
    ] {
        assert!(err.contains(&said), "{said:?} in {err}");
    }
    assert_eq!(std::fs::read(&state).unwrap(), cut, "left in place");
    assert_eq!(copies(), 1);

    // Written by a newer fluxbrain (a rollback): refused, both versions named, no copy.
    let newer = STATE_VERSION + 1;
    std::fs::write(&state, format!(r#"{{"version": {newer}}}"#)).unwrap();
    let out = run(&["run", "--once"], env.clone()).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for said in [
        format!(
            "written by a newer fluxbrain (state version {newer}; this one reads {STATE_VERSION})"
        ),
        format!("to start over with this one, move {} away", state.display()),
        loses.to_owned(),
    ] {
        assert!(err.contains(&said), "{said:?} in {err}");
    }
    assert_eq!(copies(), 1);

    // Moved away, as the message says: the run starts over and announces the failures again.
    std::fs::rename(&state, dir.join("moved.json")).unwrap();
    let out = run(&["run", "--once"], env).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(out.stdout.iter().filter(|&&b| b == b'\n').count(), 9);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every `run` setting that takes a value: its flag, its variable, a bad value and a word
/// of the problem.
const BAD_VALUES: &[(&str, &str, &str, &str)] = &[
    (
        "--mode",
        "FLUXBRAIN_RUN_MODE",
        "sometimes",
        "is not once or continuous",
    ),
    (
        "--state",
        "FLUXBRAIN_STATE",
        "redis://x",
        "expected memory, file:PATH",
    ),
    (
        "--requeue-interval",
        "FLUXBRAIN_REQUEUE_INTERVAL",
        "banana",
        "is not a duration",
    ),
    (
        "--requeue-interval",
        "FLUXBRAIN_REQUEUE_INTERVAL",
        "0",
        "longer than zero",
    ),
    (
        "--remind-interval",
        "FLUXBRAIN_REMIND_INTERVAL",
        "-5m",
        "cannot be negative",
    ),
    (
        "--group-wait",
        "FLUXBRAIN_GROUP_WAIT",
        "soon",
        "is not a duration",
    ),
    (
        "--group-wait",
        "FLUXBRAIN_GROUP_WAIT",
        "-30s",
        "cannot be negative",
    ),
    (
        "--group-interval",
        "FLUXBRAIN_GROUP_INTERVAL",
        "5 apples",
        "is not a duration",
    ),
    (
        "--group-interval",
        "FLUXBRAIN_GROUP_INTERVAL",
        "-1m",
        "cannot be negative",
    ),
    ("--environment", "FLUXBRAIN_ENVIRONMENT", "prod", "prod"),
    (
        "--log-level",
        "FLUXBRAIN_LOG_LEVEL",
        "loud",
        "is not error, warn",
    ),
    (
        "--log-format",
        "FLUXBRAIN_LOG_FORMAT",
        "yaml",
        "is not json or text",
    ),
    (
        "--collect-logs",
        "FLUXBRAIN_COLLECT_LOGS",
        "maybe",
        "is not true or false",
    ),
    (
        "--listen",
        "FLUXBRAIN_LISTEN",
        "everywhere",
        "is not HOST:PORT",
    ),
    (
        "--api-token-file",
        "FLUXBRAIN_API_TOKEN_FILE",
        "/nonexistent/token",
        "/nonexistent/token",
    ),
    (
        "--notify-concurrency",
        "FLUXBRAIN_NOTIFY_CONCURRENCY",
        "0",
        "is not a number from 1 to 64",
    ),
    (
        "--context",
        "FLUXBRAIN_CONTEXTS",
        "=nameless",
        "is not name=context",
    ),
];

#[test]
fn every_bad_value_names_the_flag_or_the_variable_that_was_set() {
    for (flag, variable, value, problem) in BAD_VALUES {
        // From the environment: the message names the variable.
        let out = fluxbrain(&["run"], &[(variable, value), ("FLUXBRAIN_CLUSTER", "c")]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{variable}: {err}");
        assert!(err.contains(&format!("{variable}: ")), "{variable}: {err}");
        assert!(err.contains(problem), "{variable}: {err}");
        // From the command line: the message names the flag.
        let out = fluxbrain(
            &["run", &format!("{flag}={value}")],
            &[("FLUXBRAIN_CLUSTER", "c")],
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains(&format!("{flag}: ")), "{flag}: {err}");
        assert!(err.contains(problem), "{flag}: {err}");
        assert!(!err.contains("invalid value"), "clap's own message: {err}");
    }
}

#[test]
fn all_problems_are_reported_together_before_any_cluster_is_read() {
    // Three bad settings, a broken notifier and no kubeconfig: one run lists them all.
    let out = fluxbrain(
        &["run", "--once", "--log-level", "loud"],
        &[
            ("FLUXBRAIN_CLUSTER", "c"),
            ("FLUXBRAIN_REQUEUE_INTERVAL", "often"),
            ("FLUXBRAIN_STATE", "redis://x"),
            ("FLUXBRAIN_WEBHOOK_URL", "not a url"),
            ("KUBECONFIG", "/nonexistent/kubeconfig"),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("fluxbrain run: 5 problems:\n"), "{err}");
    for needle in [
        "--log-level: ",
        "FLUXBRAIN_REQUEUE_INTERVAL: ",
        "FLUXBRAIN_STATE: ",
        "FLUXBRAIN_WEBHOOK_URL: ",
        "kubeconfig /nonexistent/kubeconfig (from KUBECONFIG): ",
    ] {
        assert!(err.contains(needle), "no {needle:?} in {err}");
    }
}

#[test]
fn a_missing_kubeconfig_is_named_once_with_how_to_point_at_a_cluster() {
    let out = fluxbrain(
        &["run", "--once"],
        &[
            ("FLUXBRAIN_CLUSTER", "c"),
            ("KUBECONFIG", "/nonexistent/kubeconfig"),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.matches("/nonexistent/kubeconfig").count(), 1, "{err}");
    assert!(!err.contains("\"/nonexistent"), "quoted twice: {err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    for needle in ["KUBECONFIG", "--context", "in a pod"] {
        assert!(err.contains(needle), "no {needle:?} in {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_wait_longer_than_the_requeue_interval_is_allowed_but_warned_about() {
    let (_sim, server, kubeconfig) = crate::serve_basic("group-wait").await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fluxbrain"))
        .arg("run")
        .env("KUBECONFIG", &kubeconfig)
        .env("FLUXBRAIN_CLUSTER", "basic")
        .env("FLUXBRAIN_STATE", "memory")
        .env("FLUXBRAIN_LISTEN", "off")
        .env("FLUXBRAIN_LOG_FORMAT", "json")
        .env("FLUXBRAIN_GROUP_WAIT", "10m")
        .env("FLUXBRAIN_REQUEUE_INTERVAL", "1m")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let logs = crate::Logs::of(child.stderr.take().unwrap());
    let mut warning = None;
    tokio::task::block_in_place(|| {
        logs.until("the warning", |line| {
            if line["level"] == "WARN" {
                warning = line["message"].as_str().map(str::to_owned);
            }
            warning.is_some()
        });
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let warning = warning.unwrap();
    assert!(
        warning.starts_with(
            "FLUXBRAIN_GROUP_WAIT (10m) is longer than FLUXBRAIN_REQUEUE_INTERVAL (1m)"
        ),
        "{warning}"
    );
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_file(kubeconfig);
}
