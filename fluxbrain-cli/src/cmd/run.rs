//! `fluxbrain run`: the main job against real clusters, once (a CronJob) or continuously
//! (a Deployment, watch-driven, with leader election when the state is shared).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::{
    Analyzer, ClusterObservation, CollectError, Collector, Engine, EngineConfig, Notifier, Time,
    build_all, canonical,
};
use fluxbrain_kube::collector::{CollectorConfig, KubeCollector};
use fluxbrain_kube::{LeaderElector, LeaseConfig};
use tokio::sync::{Notify, RwLock};

use crate::http::{Live, serve};
use crate::print::{JsonLines, Sink};
use crate::settings::{EngineArgs, Lookup, StateSpec, api_token, init_logging, parse_positive};

/// What `run --once` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// Deliver notifications (to stdout as JSON lines when no notifier is configured).
    Notifications,
    /// Print the ErrorEvent of every failing object as NDJSON, exactly as `render` does.
    Ndjson,
}

/// Arguments of `fluxbrain run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Notifiers are configured by their variables: FLUXBRAIN_SLACK_WEBHOOK or FLUXBRAIN_SLACK_TOKEN + \
FLUXBRAIN_SLACK_CHANNEL; FLUXBRAIN_WEBHOOK_URL (FLUXBRAIN_WEBHOOK_SECRET, FLUXBRAIN_WEBHOOK_FORMAT); \
FLUXBRAIN_GITHUB_OWNER + FLUXBRAIN_GITHUB_REPO + FLUXBRAIN_GITHUB_TOKEN(_FILE); the analyzer by \
FLUXBRAIN_ERRORBRAIN_URL. With none, notifications are printed to stdout as JSON lines.

Exit codes: 0 success; 1 a cluster could not be read or state could not be saved; 2 usage or \
configuration error.")]
pub struct Args {
    /// `once` or `continuous`.
    #[arg(long, env = "FLUXBRAIN_RUN_MODE", default_value = "continuous", value_parser = ["once", "continuous"])]
    mode: String,
    /// Shorthand for `--mode once`.
    #[arg(long)]
    once: bool,
    /// With `--once`: what to print.
    #[arg(long, value_enum, default_value_t = Emit::Notifications)]
    emit: Emit,
    /// A cluster as `name=context` of the kubeconfig (repeatable); FLUXBRAIN_CONTEXTS.
    #[arg(long = "context", value_name = "NAME=CONTEXT")]
    contexts: Vec<String>,
    /// The cluster's name when watching one cluster.
    #[arg(long, env = "FLUXBRAIN_CLUSTER")]
    cluster: Option<String>,
    /// Where the Flux controllers run.
    #[arg(long, env = "FLUXBRAIN_FLUX_NAMESPACE", default_value = "flux-system")]
    flux_namespace: String,
    /// memory, file:PATH or configmap:NAMESPACE/NAME (default: a ConfigMap in a pod, a file
    /// under ~/.local/state otherwise).
    #[arg(long, env = "FLUXBRAIN_STATE")]
    state: Option<StateSpec>,
    /// Full resync interval in continuous mode.
    #[arg(long, env = "FLUXBRAIN_REQUEUE_INTERVAL", default_value = "5m", value_parser = parse_positive)]
    requeue_interval: Duration,
    /// Read controller logs of failing objects (true/false).
    #[arg(long, env = "FLUXBRAIN_COLLECT_LOGS")]
    collect_logs: Option<String>,
    /// Continuous mode: where to serve /healthz, /readyz, /metrics, /v1/incidents and
    /// /v1/summary, as HOST:PORT (or :PORT), or `off`. Default: 0.0.0.0:8080 in a pod, off
    /// elsewhere.
    #[arg(long, env = "FLUXBRAIN_LISTEN")]
    listen: Option<String>,
    /// A bearer token the /v1 routes require.
    #[arg(long, env = "FLUXBRAIN_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// A file holding that token (a mounted Secret).
    #[arg(long, env = "FLUXBRAIN_API_TOKEN_FILE")]
    api_token_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
}

/// How long a Lease lasts without renewal.
const LEASE_DURATION: Duration = Duration::from_secs(15);
/// Deliveries stop this long before the lease could run out.
const LEASE_MARGIN: Duration = Duration::from_secs(3);

/// How long continuous mode waits for the first lists before its first step.
const FIRST_SYNC: Duration = Duration::from_secs(30);

/// Bound of state-store API calls.
const STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the command.
pub fn run(args: Args) -> ExitCode {
    init_logging(args.engine.log_level);
    let runtime = match super::runtime("run") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(run_async(args))
}

fn lookup(args: &Args) -> Lookup {
    let mut lookup = Lookup::default();
    if let Some(cluster) = &args.cluster {
        lookup.set("FLUXBRAIN_CLUSTER", cluster.clone());
    }
    lookup.set("FLUXBRAIN_FLUX_NAMESPACE", args.flux_namespace.clone());
    lookup.set(
        "FLUXBRAIN_REQUEUE_INTERVAL",
        fluxbrain_core::duration::format(args.requeue_interval),
    );
    if let Some(logs) = &args.collect_logs {
        lookup.set("FLUXBRAIN_COLLECT_LOGS", logs.clone());
    }
    lookup
}

fn usage(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("fluxbrain: {message}");
    ExitCode::from(2)
}

/// Everything `run` wires together.
struct Wiring {
    collector: Arc<KubeCollector>,
    notifiers: Vec<Arc<dyn Notifier>>,
    analyzer: Option<Arc<dyn Analyzer>>,
    state: StateSpec,
    store_client: Option<kube::Client>,
    config: EngineConfig,
}

async fn run_async(args: Args) -> ExitCode {
    let once = args.once || args.mode == "once";
    if args.emit == Emit::Ndjson && !once {
        return usage("--emit ndjson goes with --once");
    }
    let lookup = lookup(&args);
    let get = |k: &str| lookup.get(k);
    let endpoints = if once {
        None
    } else {
        match endpoints(&args, &get) {
            Ok(e) => e,
            Err(e) => return usage(e),
        }
    };
    let collector_config = match CollectorConfig::from_env(get, &args.contexts).await {
        Ok(c) => c,
        Err(e) => return usage(error_chain(&e)),
    };
    let store_client = collector_config
        .clusters
        .first()
        .and_then(|c| kube::Client::try_from(c.kube.clone()).ok());
    let collector = match KubeCollector::new(collector_config) {
        Ok(c) => Arc::new(c),
        Err(e) => return usage(error_chain(&e)),
    };
    if args.emit == Emit::Ndjson {
        return emit_ndjson(&collector.collect().await, &args.engine);
    }
    let mut notifiers = match fluxbrain_notify::notifiers_from_env(get) {
        Ok(n) => n,
        Err(e) => return usage(error_chain(&e)),
    };
    if notifiers.is_empty() {
        notifiers.push(Arc::new(JsonLines(Sink::Stdout)));
    }
    let analyzer = match fluxbrain_notify::analyzer_from_env(get) {
        Ok(a) => a,
        Err(e) => return usage(error_chain(&e)),
    };
    let state = args
        .state
        .clone()
        .unwrap_or_else(|| StateSpec::default_for(&get, &args.flux_namespace));
    let wiring = Wiring {
        collector,
        notifiers,
        analyzer,
        state,
        store_client,
        config: EngineConfig {
            policy: args.engine.policy(),
            build: args.engine.build_options(),
            ..EngineConfig::default()
        },
    };
    if once {
        run_once(&wiring).await
    } else {
        run_continuous(wiring, &args, &get, endpoints).await
    }
}

fn emit_ndjson(
    observations: &[Result<ClusterObservation, CollectError>],
    engine: &EngineArgs,
) -> ExitCode {
    let mut events = Vec::new();
    let mut failed = false;
    for observation in observations {
        match observation {
            Ok(o) => events.extend(build_all(&o.snapshot, &engine.build_options())),
            Err(e) => {
                eprintln!("fluxbrain: {e}");
                failed = true;
            }
        }
    }
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if out
        .write_all(&canonical::to_ndjson(&events, false))
        .and_then(|()| out.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn start_engine(wiring: &Wiring) -> Result<Arc<Engine>, String> {
    let store = wiring
        .state
        .open(wiring.store_client.clone(), STORE_TIMEOUT)?;
    Engine::start(
        store,
        wiring.notifiers.clone(),
        wiring.analyzer.clone(),
        wiring.config.clone(),
    )
    .await
    .map(Arc::new)
    .map_err(|e| e.to_string())
}

fn now() -> Time {
    Time::new(jiff::Timestamp::now())
}

/// One collection, one policy step, one delivery round per notifier, state saved.
async fn run_once(wiring: &Wiring) -> ExitCode {
    let engine = match start_engine(wiring).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("fluxbrain: {e}");
            return ExitCode::FAILURE;
        }
    };
    let observations = wiring.collector.collect().await;
    let report = match engine.observe(&observations, now()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fluxbrain: {e}");
            return ExitCode::FAILURE;
        }
    };
    for e in &report.failed_clusters {
        eprintln!("fluxbrain: {e}");
    }
    let rounds = (0..wiring.notifiers.len()).map(|i| {
        let engine = engine.clone();
        async move { engine.deliver(i, now(), fastrand::f64()).await }
    });
    let mut save_failed = false;
    for (result, notifier) in futures::future::join_all(rounds)
        .await
        .into_iter()
        .zip(&wiring.notifiers)
    {
        match result {
            Ok(r) if !r.errors.is_empty() => {
                for e in &r.errors {
                    tracing::warn!(notifier = notifier.name(), error = %e, "delivery failed; kept in the outbox for the next run");
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("fluxbrain: {e}");
                save_failed = true;
            }
        }
    }
    tracing::info!(
        notifications = report.notifications.len(),
        open_incidents = report.open_incidents,
        "run complete"
    );
    if save_failed || !report.failed_clusters.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Where the HTTP endpoints listen, and their token.
#[derive(Debug)]
struct Endpoints {
    addr: std::net::SocketAddr,
    token: Option<String>,
}

/// The endpoint settings: `FLUXBRAIN_LISTEN` and the token.
fn endpoints(
    args: &Args,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Endpoints>, String> {
    let in_pod = get("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty());
    let listen = match args.listen.as_deref().map(str::trim) {
        Some("off") => return Ok(None),
        Some(listen) => listen.to_owned(),
        None if in_pod => "0.0.0.0:8080".to_owned(),
        None => return Ok(None),
    };
    let full = match listen.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => listen.clone(),
    };
    let bad = || format!("FLUXBRAIN_LISTEN (--listen): {listen:?} is not HOST:PORT, :PORT or off");
    let addr = match full.parse() {
        Ok(addr) => addr,
        // A host name, e.g. localhost:8080.
        Err(_) if full.contains(':') => std::net::ToSocketAddrs::to_socket_addrs(&full)
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(bad)?,
        Err(_) => return Err(bad()),
    };
    let token = api_token(args.api_token.as_deref(), args.api_token_file.as_deref())?;
    Ok(Some(Endpoints { addr, token }))
}

/// Watches, observes on every change and every requeue interval, delivers from one task per
/// notifier; with a shared (ConfigMap) state, only the Lease holder observes and delivers.
async fn run_continuous(
    wiring: Wiring,
    args: &Args,
    get: &dyn Fn(&str) -> Option<String>,
    endpoints: Option<Endpoints>,
) -> ExitCode {
    wiring.collector.start();
    let mut elector = match (&wiring.state, wiring.store_client.clone()) {
        (StateSpec::ConfigMap { namespace, .. }, Some(client)) => Some(LeaderElector::new(
            client,
            LeaseConfig {
                namespace: namespace.clone(),
                name: "fluxbrain".into(),
                identity: get("POD_NAME")
                    .or_else(|| get("HOSTNAME"))
                    .unwrap_or_else(|| format!("fluxbrain-{}", fastrand::u64(..))),
                duration: LEASE_DURATION,
                timeout: Duration::from_secs(5),
            },
        )),
        _ => None,
    };
    let current: Arc<RwLock<Option<Arc<Engine>>>> = Arc::new(RwLock::new(None));
    // A standby answers /v1 from the shared store the leader writes.
    let shared_store = match (&elector, &wiring.state) {
        (Some(_), StateSpec::ConfigMap { .. }) => wiring
            .state
            .open(wiring.store_client.clone(), STORE_TIMEOUT)
            .ok(),
        _ => None,
    };
    let live = Arc::new(Live::new(
        wiring.collector.clone(),
        current.clone(),
        shared_store,
        endpoints.as_ref().and_then(|e| e.token.clone()),
    ));
    let server = match endpoints {
        Some(e) => match serve(e.addr, live.clone()).await {
            Ok((bound, task)) => {
                tracing::info!(address = %bound, "serving /healthz, /readyz, /metrics, /v1/incidents, /v1/summary");
                Some(task)
            }
            Err(err) => {
                eprintln!(
                    "fluxbrain: cannot listen on {} (FLUXBRAIN_LISTEN): {err}",
                    e.addr
                );
                return ExitCode::FAILURE;
            }
        },
        None => None,
    };
    // Deliveries stop when the lease may have passed to another replica, even before the next
    // lease round notices (a paused process must not send with a stale view).
    let leading_until: Arc<std::sync::Mutex<Option<tokio::time::Instant>>> = Arc::default();
    let wake = Arc::new(Notify::new());
    let mut deliverers = Vec::new();
    for i in 0..wiring.notifiers.len() {
        deliverers.push(tokio::spawn(deliver_loop(
            i,
            current.clone(),
            wake.clone(),
            leading_until.clone(),
        )));
    }
    // Let the first lists arrive before the first policy step (bounded: an unreachable
    // cluster is reported by that step).
    let _ = tokio::time::timeout(FIRST_SYNC, wiring.collector.changed()).await;
    let mut lease_tick = tokio::time::interval(Duration::from_secs(5));
    let mut requeue = tokio::time::interval(args.requeue_interval);
    let mut exit = ExitCode::SUCCESS;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            // Lease rounds only with a shared state; alone, a step follows a change or the
            // requeue interval, not a timer.
            _ = lease_tick.tick(), if elector.is_some() => {}
            _ = requeue.tick() => {}
            () = wiring.collector.changed() => {
                // Let a burst of changes settle into one step.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        let round = tokio::time::Instant::now();
        let leading = match elector.as_mut() {
            Some(elector) => elector.tick_at(round).await,
            None => true,
        };
        if let Ok(mut until) = leading_until.lock() {
            *until = match &elector {
                Some(_) if leading => Some(round + LEASE_DURATION - LEASE_MARGIN),
                Some(_) => None,
                None => Some(round + Duration::from_secs(365 * 24 * 3600)),
            };
        }
        live.set_leading(leading);
        if !leading {
            if current.write().await.take().is_some() {
                tracing::warn!("lost the lease: stopped delivering");
            }
            continue;
        }
        // The read guard must be gone before the write below.
        let existing = current.read().await.clone();
        let engine = match existing {
            Some(engine) => engine,
            None => match start_engine(&wiring).await {
                Ok(engine) => {
                    // Fence: the first write of a new leader makes a deposed one's writes fail.
                    if elector.is_some()
                        && let Err(e) = engine.save().await
                    {
                        tracing::warn!(error = %e, "state not saved on taking over; stepping down");
                        continue;
                    }
                    if elector.is_some() {
                        tracing::info!(state = %engine_state_name(&wiring.state), "holding the lease: state loaded, delivering");
                    } else {
                        tracing::info!(state = %engine_state_name(&wiring.state), "state loaded, watching");
                    }
                    *current.write().await = Some(engine.clone());
                    engine
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the engine");
                    live.state_failed(e);
                    exit = ExitCode::FAILURE;
                    break;
                }
            },
        };
        let observations = wiring.collector.collect().await;
        let observed = engine.observe(&observations, now()).await;
        let state_error = observed.as_ref().err().map(ToString::to_string);
        live.step(&observations, round.elapsed(), state_error);
        match observed {
            Ok(report) => {
                tracing::debug!(
                    objects = ?report.objects,
                    notifications = report.notifications.len(),
                    open_incidents = report.open_incidents,
                    "observed"
                );
                for e in &report.failed_clusters {
                    tracing::warn!(error = %e, "cluster not read; its incidents are kept as they were");
                }
                if !report.notifications.is_empty() {
                    wake.notify_waiters();
                }
            }
            Err(e) => {
                // A conflict means another replica wrote: it leads now.
                tracing::warn!(error = %e, "state not saved; stepping down until the next lease round");
                current.write().await.take();
            }
        }
    }
    for task in deliverers {
        task.abort();
    }
    if let Some(server) = server {
        server.abort();
    }
    if let Some(elector) = elector.as_mut() {
        elector.release().await;
    }
    exit
}

async fn deliver_loop(
    index: usize,
    current: Arc<RwLock<Option<Arc<Engine>>>>,
    wake: Arc<Notify>,
    leading_until: Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
) {
    loop {
        let leading = leading_until
            .lock()
            .ok()
            .and_then(|until| *until)
            .is_some_and(|until| tokio::time::Instant::now() < until);
        let engine = if leading {
            current.read().await.clone()
        } else {
            None
        };
        let next = match &engine {
            Some(engine) => {
                if let Err(e) = engine.deliver(index, now(), fastrand::f64()).await {
                    tracing::warn!(error = %e, "acknowledgement not saved");
                }
                engine.next_due(index).await
            }
            None => None,
        };
        let wait = next
            .map(|t| {
                let secs = t.timestamp().as_second() - now().timestamp().as_second();
                Duration::from_secs(u64::try_from(secs).unwrap_or(0).max(1))
            })
            .unwrap_or(Duration::from_secs(30));
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// An error and its causes, `: `-separated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn engine_state_name(state: &StateSpec) -> String {
    match state {
        StateSpec::Memory => "memory".to_owned(),
        StateSpec::File(path) => format!("file:{}", path.display()),
        StateSpec::ConfigMap { namespace, name } => format!("configmap:{namespace}/{name}"),
    }
}
