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
use fluxbrain_kube::runtime::{Runtime, RuntimeConfig, Stopped};
use fluxbrain_kube::{LeaderElector, LeaseConfig};

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

/// Bound of state-store API calls.
const STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the command.
pub fn run(args: Args) -> ExitCode {
    init_logging(args.engine.log_level, args.engine.log_format);
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
/// notifier (the runtime of `fluxbrain-kube`); with a shared (ConfigMap) state, only the Lease
/// holder observes and delivers. SIGTERM or SIGINT shut it down gracefully.
async fn run_continuous(
    wiring: Wiring,
    args: &Args,
    get: &dyn Fn(&str) -> Option<String>,
    endpoints: Option<Endpoints>,
) -> ExitCode {
    wiring.collector.start();
    let elector = match (&wiring.state, wiring.store_client.clone()) {
        (StateSpec::ConfigMap { namespace, .. }, Some(client)) => {
            let identity = get("POD_NAME")
                .or_else(|| get("HOSTNAME"))
                .unwrap_or_else(|| format!("fluxbrain-{}", fastrand::u64(..)));
            Some(LeaderElector::new(
                client,
                LeaseConfig::new(namespace.clone(), "fluxbrain", identity),
            ))
        }
        _ => None,
    };
    let store = match wiring
        .state
        .open(wiring.store_client.clone(), STORE_TIMEOUT)
    {
        Ok(store) => store,
        Err(e) => {
            eprintln!("fluxbrain: {e}");
            return ExitCode::FAILURE;
        }
    };
    // A standby answers /v1 from the shared store the leader writes.
    let shared_store = elector.as_ref().map(|_| store.clone());
    let live = Arc::new(Live::new(
        wiring.collector.clone(),
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
    let mut runtime = Runtime::new(wiring.collector.clone(), store, wiring.notifiers)
        .analyzer(wiring.analyzer)
        .engine_config(wiring.config)
        .observer(live)
        .config(RuntimeConfig {
            requeue_interval: args.requeue_interval,
            ..RuntimeConfig::default()
        });
    if let Some(elector) = elector {
        runtime = runtime.elector(elector);
    }
    let stopped = runtime.run(shutdown_signal()).await;
    if let Some(server) = server {
        server.abort();
    }
    match stopped {
        Stopped::EngineFailed(_) => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    }
}

/// Resolves on SIGTERM (a pod being stopped) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops fluxbrain")
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
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
