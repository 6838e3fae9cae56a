//! `fluxbrain demo`: the main job on an embedded simulated cluster, no cluster or network
//! needed. A source fails and takes its dependents with it, a HelmRelease upgrade stalls, a
//! health check fails and recovers, reminders fall due; every notification is printed for a
//! person, on a compressed clock, and the demo ends by itself.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::engine::MemoryStore;
use fluxbrain_core::{
    Collector, Engine, EngineConfig, NotificationKind, Notifier, PolicyConfig, Time,
};
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_sim::{Config, Script, Simulator, State};

use crate::print::{Readable, Sink};
use crate::settings::parse_interval;

const OBJECTS: &str = include_str!("../../demo/objects.yaml");
const PODS: &str = include_str!("../../demo/pods.yaml");
const SCRIPT: &str = include_str!("../../demo/script.yaml");
/// The demo cluster's clock starts here (a fixed time, so every run prints the same story).
const START: &str = "2026-04-21T09:00:00Z";

/// Arguments of `fluxbrain demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How much cluster time to play (the story takes 3h10m).
    #[arg(long, default_value = "3h30m", value_parser = parse_interval)]
    duration: Duration,
    /// Wall time per simulated minute (0 plays as fast as possible).
    #[arg(long, default_value = "50ms", value_parser = parse_interval)]
    pace: Duration,
    /// Reminder interval on the demo clock.
    #[arg(long, default_value = "1h", value_parser = parse_interval)]
    remind_interval: Duration,
    /// Group wait on the demo clock: a new incident is held this long so that the objects
    /// failing with it are in its first notification (the demo steps a minute at a time).
    #[arg(long, default_value = "2m", value_parser = parse_interval)]
    group_wait: Duration,
    /// Group interval on the demo clock: at most one update per incident this often.
    #[arg(long, default_value = "10m", value_parser = parse_interval)]
    group_interval: Duration,
}

/// Runs the demo; 0 when it played to the end.
pub fn run(args: Args) -> ExitCode {
    let runtime = match super::runtime("demo") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(play(&args, Sink::Stdout)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fluxbrain demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the demo said, for tests.
#[derive(Debug, Default)]
pub struct Played {
    /// Every notification, in order.
    pub notifications: Vec<fluxbrain_core::Notification>,
}

/// Plays the demo, printing to `sink`.
pub async fn play(args: &Args, sink: Sink) -> Result<Played, String> {
    let mut state = State::new();
    state
        .load_str(OBJECTS, "demo/objects.yaml")
        .and_then(|()| state.load_str(PODS, "demo/pods.yaml"))
        .map_err(|e| e.to_string())?;
    let start: jiff::Timestamp = START.parse().map_err(|e| format!("{e}"))?;
    let sim = Simulator::new(
        state,
        Config {
            start,
            ..Config::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let server = sim
        .serve(([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| e.to_string())?;
    sim.run_script(Script::from_yaml(SCRIPT, "demo/script.yaml").map_err(|e| e.to_string())?);

    let url = server.url();
    let kube = kube::Config::new(url.parse().map_err(|e| format!("{url}: {e}"))?);
    let mut config = CollectorConfig::new(vec![ClusterConfig::new("demo", kube)]);
    config.collect_logs = true;
    let collector = KubeCollector::new(config).map_err(|e| e.to_string())?;

    let console: Arc<dyn Notifier> = Arc::new(Readable(sink.clone()));
    let engine = Engine::start(
        Arc::new(MemoryStore::new()),
        vec![console],
        None,
        EngineConfig {
            policy: PolicyConfig {
                remind_every: (!args.remind_interval.is_zero()).then_some(args.remind_interval),
                group_wait: args.group_wait,
                group_interval: (!args.group_interval.is_zero()).then_some(args.group_interval),
            },
            ..EngineConfig::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;

    let minutes = args.duration.as_secs() / 60;
    say(
        &sink,
        &format!(
            "fluxbrain demo: a simulated Flux cluster, named \"demo\" in every notification (its\n\
             Kubernetes API is served at {url}). Playing {} of cluster time, a minute every {:?}.\n\
             On this clock a new failure is announced after {} (so that the objects failing with it\n\
             are listed in the first message), changes to that list at most every {}, reminders\n\
             every {} (a real `fluxbrain run`: 30s, 5m and 4h). Notifications follow.\n\n",
            fluxbrain_core::duration::format(args.duration),
            args.pace,
            fluxbrain_core::duration::format(args.group_wait),
            fluxbrain_core::duration::format(args.group_interval),
            fluxbrain_core::duration::format(args.remind_interval),
        ),
    );
    let mut played = Played::default();
    for _ in 0..=minutes {
        let now = Time::new(sim.now());
        let observations = collector.collect().await;
        if let Some(failed) = observations.iter().find_map(|o| o.as_ref().err()) {
            return Err(failed.to_string());
        }
        let report = engine
            .observe(&observations, now)
            .await
            .map_err(|e| e.to_string())?;
        engine
            .deliver(0, now, 0.5)
            .await
            .map_err(|e| e.to_string())?;
        played.notifications.extend(report.notifications);
        if !args.pace.is_zero() {
            tokio::time::sleep(args.pace).await;
        }
        sim.advance(Duration::from_secs(60))
            .map_err(|e| e.to_string())?;
    }

    let count = |f: fn(&NotificationKind) -> bool| {
        played.notifications.iter().filter(|n| f(&n.kind)).count()
    };
    let open = engine.inspect(|s| s.incidents.len());
    say(
        &sink,
        &format!(
            "Summary: {} notifications: {} firing, {} update(s), {} reminder(s), {} resolved; {} incident(s) still open.\n\
             When a source fails, the objects that read from it fail too: they were listed in the\n\
             source's notification (and its updates) instead of each sending their own.\n\
             Next: `fluxbrain run --once` reads your cluster (KUBECONFIG, FLUXBRAIN_CLUSTER); \
             `fluxbrain render` reads files.\n",
            played.notifications.len(),
            count(|k| *k == NotificationKind::Firing),
            count(|k| *k == NotificationKind::Updated),
            count(|k| *k == NotificationKind::Reminder),
            count(|k| matches!(k, NotificationKind::Resolved(_))),
            open,
        ),
    );
    server.shutdown().await.map_err(|e| e.to_string())?;
    Ok(played)
}

fn say(sink: &Sink, text: &str) {
    let _ = sink.write_text(text);
}
