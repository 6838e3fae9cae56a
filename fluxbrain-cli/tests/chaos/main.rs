//! The chaos suite: seeded runs of real processes (`fluxbrain run` against the simulator's
//! HTTP API, with Slack, webhook and GitHub receivers that flap) through failure cycles,
//! stops and a crash at one of fluxbrain's named crash points per run
//! (`fluxbrain_core::crash`). The plan of a seed is the oracle (see `oracle`).
//!
//! `FLUXBRAIN_CHAOS_RUNS` (default 20) seeds from `FLUXBRAIN_CHAOS_SEED` (default 1), run
//! `FLUXBRAIN_CHAOS_PARALLEL` (default 4) at a time. A failing seed is printed with the
//! command that replays it alone; its folder (fluxbrain's log, the state) is kept.

mod cluster;
mod fluxbrain;
mod oracle;
mod receivers;
mod schedule;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;

use cluster::Cluster;
use fluxbrain::Fluxbrain;
use oracle::Repeats;
use receivers::Receivers;
use schedule::{Plan, Step, Store};

/// How long one step may take to show in fluxbrain's saved state, and the final drain.
const PATIENCE: Duration = Duration::from_secs(180);

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
        .unwrap_or(default)
}

/// What a run that passed did.
struct Passed {
    crashes: Vec<String>,
    repeats: Repeats,
    took: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seeded_runs_lose_nothing_and_repeat_only_after_crashes() {
    let runs = setting("FLUXBRAIN_CHAOS_RUNS", 20);
    let first = setting("FLUXBRAIN_CHAOS_SEED", 1);
    let parallel = usize::try_from(setting("FLUXBRAIN_CHAOS_PARALLEL", 4))
        .unwrap()
        .max(1);
    let root = std::env::temp_dir().join(format!("fluxbrain-chaos-{}", std::process::id()));
    let started = Instant::now();
    let outcomes: Vec<(u64, Result<Passed, String>)> = futures::stream::iter(first..first + runs)
        .map(|seed| {
            let dir = root.join(seed.to_string());
            async move {
                let outcome = tokio::spawn(run(seed, dir))
                    .await
                    .unwrap_or_else(|e| Err(format!("the run panicked: {e}")));
                match &outcome {
                    Ok(p) => println!(
                        "seed {seed}: ok in {:.1?}, crashed at {:?}, repeats {:?}",
                        p.took, p.crashes, p.repeats
                    ),
                    Err(e) => println!("seed {seed}: FAILED: {e}"),
                }
                (seed, outcome)
            }
        })
        .buffer_unordered(parallel)
        .collect()
        .await;

    let mut by_point: BTreeMap<String, (u32, u32, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut longest = Duration::ZERO;
    for (seed, outcome) in &outcomes {
        match outcome {
            Ok(passed) => {
                longest = longest.max(passed.took);
                let armed = Plan::of(*seed).crash.0.to_owned();
                let entry = by_point.entry(armed).or_default();
                entry.0 += 1;
                entry.1 += u32::try_from(passed.crashes.len()).unwrap();
                entry.2 += passed.repeats.webhook + passed.repeats.slack + passed.repeats.github;
            }
            Err(e) => failures.push((*seed, e.clone())),
        }
    }
    println!(
        "chaos: {runs} runs (seeds {first}..{}) in {:.0?}, {} failed; longest run {longest:.1?}",
        first + runs - 1,
        started.elapsed(),
        failures.len()
    );
    println!(
        "{:<28} {:>5} {:>8} {:>8}",
        "crash point", "runs", "crashed", "repeats"
    );
    for (point, (n, crashed, repeats)) in &by_point {
        println!("{point:<28} {n:>5} {crashed:>8} {repeats:>8}");
    }
    for (seed, problem) in &failures {
        println!(
            "seed {seed} failed: {problem}\n  replay: FLUXBRAIN_CHAOS_SEED={seed} FLUXBRAIN_CHAOS_RUNS=1 \
             cargo test -p fluxbrain-cli --features failpoints --test chaos -- --nocapture\n  \
             its folder: {}",
            root.join(seed.to_string()).display()
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} chaos runs failed",
        failures.len()
    );
    let _ = std::fs::remove_dir_all(&root);
}

/// One seed: the plan driven through the API, then a calm drain, a stop, and the oracle.
async fn run(seed: u64, dir: PathBuf) -> Result<Passed, String> {
    let started = Instant::now();
    let plan = Plan::of(seed);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let cluster = Cluster::start(&dir).await;
    let receivers = Receivers::start(seed).await;
    let state_file = dir.join("state.json");
    let mut fluxbrain = Fluxbrain::new(
        environment(&plan, &cluster, &receivers, &state_file),
        dir.join("fluxbrain.log"),
        format!("{}:{}", plan.crash.0, plan.crash.1),
    );
    fluxbrain.start();
    let result = drive(&plan, &cluster, &receivers, &mut fluxbrain, &state_file).await;
    let result = match result {
        Ok(()) => oracle::check(
            &plan,
            &receivers.received,
            fluxbrain.crashes.len(),
            &fluxbrain.timed_out(),
        )
        .map_err(|problems| problems.join("; ")),
        Err(e) => Err(e),
    };
    cluster.stop().await;
    let crashes = std::mem::take(&mut fluxbrain.crashes);
    drop(fluxbrain);
    match result {
        Ok(repeats) => {
            let _ = std::fs::remove_dir_all(&dir);
            Ok(Passed {
                crashes,
                repeats,
                took: started.elapsed(),
            })
        }
        Err(e) => Err(format!(
            "{e} (plan: {:?} store, crash {}:{}, concurrency {}, crashed at {crashes:?}; steps {:?})",
            plan.store, plan.crash.0, plan.crash.1, plan.concurrency, plan.steps
        )),
    }
}

fn environment(
    plan: &Plan,
    cluster: &Cluster,
    receivers: &Receivers,
    state_file: &Path,
) -> Vec<(String, String)> {
    let state = match plan.store {
        Store::File => format!("file:{}", state_file.display()),
        Store::ConfigMap => format!("configmap:flux-system/{}", cluster::STATE_CONFIGMAP),
    };
    [
        ("KUBECONFIG", cluster.kubeconfig.display().to_string()),
        ("FLUXBRAIN_CLUSTER", "chaos".into()),
        ("FLUXBRAIN_STATE", state),
        ("FLUXBRAIN_LISTEN", "off".into()),
        ("FLUXBRAIN_COLLECT_LOGS", "false".into()),
        (
            "FLUXBRAIN_LOG_LEVEL",
            std::env::var("FLUXBRAIN_CHAOS_LOG").unwrap_or_else(|_| "warn".into()),
        ),
        ("FLUXBRAIN_REQUEUE_INTERVAL", "1s".into()),
        ("FLUXBRAIN_REMIND_INTERVAL", "5s".into()),
        ("FLUXBRAIN_GROUP_WAIT", "0".into()),
        ("FLUXBRAIN_NOTIFY_TIMEOUT", "2s".into()),
        ("FLUXBRAIN_RETRY_BACKOFF", "200ms".into()),
        ("FLUXBRAIN_NOTIFY_CONCURRENCY", plan.concurrency.to_string()),
        // One identity across restarts: a restarted replica renews its own Lease at once.
        ("POD_NAME", format!("chaos-{}", plan.seed)),
        ("FLUXBRAIN_WEBHOOK_URL", receivers.webhook.clone()),
        (
            "FLUXBRAIN_SLACK_TOKEN",
            "xoxb-chaos-token-0000000000".into(),
        ),
        ("FLUXBRAIN_SLACK_CHANNEL", "C0CHAOS".into()),
        ("FLUXBRAIN_SLACK_API_URL", receivers.slack.clone()),
        ("FLUXBRAIN_GITHUB_OWNER", "acme".into()),
        ("FLUXBRAIN_GITHUB_REPO", "fleet".into()),
        (
            "FLUXBRAIN_GITHUB_TOKEN",
            "ghp_chaostoken00000000000000000000000000".into(),
        ),
        ("FLUXBRAIN_GITHUB_API_URL", receivers.github.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Drives the plan's steps, each once fluxbrain's saved state shows the one before, then
/// calms the receivers and waits for every expected notification; stops fluxbrain.
async fn drive(
    plan: &Plan,
    cluster: &Cluster,
    receivers: &Receivers,
    fluxbrain: &mut Fluxbrain,
    state_file: &Path,
) -> Result<(), String> {
    for (index, step) in plan.steps.iter().enumerate() {
        let what = format!("step {index} ({step:?})");
        match step {
            Step::Fail(objects) | Step::Recover(objects) => {
                let fail = matches!(step, Step::Fail(_));
                for &o in objects {
                    cluster.set_ready(o, !fail).await?;
                }
                until(fluxbrain, &what, || {
                    cluster
                        .open_in_saved_state(plan.store, state_file)
                        .is_some_and(|open| {
                            objects
                                .iter()
                                .all(|&o| open.contains(&schedule::name(o)) == fail)
                        })
                })
                .await?;
            }
            Step::Hold(ms) => {
                let end = Instant::now() + Duration::from_millis(*ms);
                while Instant::now() < end {
                    fluxbrain.check()?;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            Step::Restart => {
                fluxbrain.stop().await?;
                fluxbrain.start();
            }
        }
    }
    receivers.calm();
    until(fluxbrain, "the final drain", || {
        oracle::complete(plan, &receivers.received)
            && cluster.saved_outbox(plan.store, state_file) == Some((0, 0))
    })
    .await
    .map_err(|e| {
        let problems = oracle::check(
            plan,
            &receivers.received,
            fluxbrain.crashes.len(),
            &fluxbrain.timed_out(),
        )
        .err()
        .unwrap_or_default();
        format!(
            "{e}: saved (outbox, dead letters): {:?}; {}",
            cluster.saved_outbox(plan.store, state_file),
            problems.join("; ")
        )
    })?;
    // Everything arrived and is saved: the stop must exit 0, or die at the armed shutdown
    // point (recorded as the run's crash); any other end is an error.
    fluxbrain.stop().await.map(|_| ())
}

/// Waits for `done`, restarting fluxbrain whenever it dies at its crash point.
async fn until(
    fluxbrain: &mut Fluxbrain,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Result<(), String> {
    let start = Instant::now();
    loop {
        fluxbrain.check()?;
        if done() {
            return Ok(());
        }
        if start.elapsed() > PATIENCE {
            return Err(format!("{what}: not seen after {PATIENCE:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
