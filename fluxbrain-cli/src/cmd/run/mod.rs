//! `fluxbrain run`: the main job against real clusters, once (a CronJob) or continuously
//! (a Deployment, watch-driven, with leader election when the state is shared).
//!
//! Flags and variables are read raw, then validated together (`settings`), before any
//! cluster is contacted; the work itself is `fluxbrain-kube`'s runtime.

mod fleet;
mod settings;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::{ClusterObservation, CollectError, Collector, build_all, canonical};
use fluxbrain_kube::collector::KubeCollector;
use fluxbrain_kube::runtime::{self, Runtime, RuntimeConfig, Stopped};
use fluxbrain_kube::{LeaderElector, LeaseConfig};

use crate::error::CliError;
use crate::given::Given;
use crate::http::{Live, serve};
use crate::settings::{StateSpec, init_logging};
use settings::{Endpoints, RunSettings};

/// What `run --once` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Emit {
    /// Deliver notifications (to stdout as JSON lines when no notifier is configured).
    Notifications,
    /// Print the ErrorEvent of every failing object as NDJSON, exactly as `render` does.
    Ndjson,
}

/// Arguments of `fluxbrain run`, as given (validated together before anything runs).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Notifiers are configured by their variables: FLUXBRAIN_SLACK_WEBHOOK or FLUXBRAIN_SLACK_TOKEN + \
FLUXBRAIN_SLACK_CHANNEL; FLUXBRAIN_WEBHOOK_URL (FLUXBRAIN_WEBHOOK_SECRET, FLUXBRAIN_WEBHOOK_FORMAT); \
FLUXBRAIN_GITHUB_OWNER + FLUXBRAIN_GITHUB_REPO + FLUXBRAIN_GITHUB_TOKEN(_FILE); the analyzer by \
FLUXBRAIN_ERRORBRAIN_URL. With none, notifications are printed to stdout as JSON lines.

Exit codes: 0 success; 1 a cluster could not be read or state could not be saved; 2 usage or \
configuration error (every problem is listed, named by the flag or variable that was set).")]
pub struct Args {
    /// `once` or `continuous`.
    #[arg(long, env = "FLUXBRAIN_RUN_MODE", default_value = "continuous")]
    pub(crate) mode: String,
    /// Shorthand for `--mode once`.
    #[arg(long)]
    pub(crate) once: bool,
    /// With `--once`: what to print.
    #[arg(long, value_enum, default_value_t = Emit::Notifications)]
    pub(crate) emit: Emit,
    /// A cluster as `name=context` of the kubeconfig (repeatable, or comma-separated in
    /// FLUXBRAIN_CONTEXTS).
    #[arg(
        long = "context",
        env = "FLUXBRAIN_CONTEXTS",
        value_name = "NAME=CONTEXT",
        value_delimiter = ','
    )]
    pub(crate) contexts: Vec<String>,
    /// The cluster's name when watching one cluster.
    #[arg(long, env = "FLUXBRAIN_CLUSTER")]
    pub(crate) cluster: Option<String>,
    /// Where the Flux controllers run.
    #[arg(long, env = "FLUXBRAIN_FLUX_NAMESPACE", default_value = "flux-system")]
    pub(crate) flux_namespace: String,
    /// memory, file:PATH or configmap:NAMESPACE/NAME (default: a ConfigMap in a pod, a file
    /// under ~/.local/state otherwise).
    #[arg(long, env = "FLUXBRAIN_STATE")]
    pub(crate) state: Option<String>,
    /// `off`: replicas share one Lease and one state document, the holder watches every
    /// cluster. `cluster`: the clusters are shared out among the replicas, a Lease and a state
    /// ConfigMap each (`<state name>-<cluster>`); needs continuous mode and configmap state.
    #[arg(long, env = "FLUXBRAIN_SHARDING", default_value = "off")]
    pub(crate) sharding: String,
    /// Full resync interval in continuous mode (`5m`; longer than zero).
    #[arg(long, env = "FLUXBRAIN_REQUEUE_INTERVAL", default_value = "5m")]
    pub(crate) requeue_interval: String,
    /// Read controller logs of failing objects (true/false).
    #[arg(long, env = "FLUXBRAIN_COLLECT_LOGS")]
    pub(crate) collect_logs: Option<String>,
    /// Report a HelmRelease whose `Drifted` condition is True (drift detection in `warn` or
    /// `enabled` mode, helm-controller 1.6+) as an incident of its own, although it is Ready
    /// (true/false; default false).
    #[arg(long, env = "FLUXBRAIN_REPORT_DRIFT")]
    pub(crate) report_drift: Option<String>,
    /// Continuous mode: where to serve /healthz, /readyz, /metrics, /v1/incidents and
    /// /v1/summary, as HOST:PORT (or :PORT), or `off`. Default: 0.0.0.0:8080 in a pod, off
    /// elsewhere.
    #[arg(long, env = "FLUXBRAIN_LISTEN")]
    pub(crate) listen: Option<String>,
    /// A bearer token the /v1 routes require.
    #[arg(long, env = "FLUXBRAIN_API_TOKEN", hide_env_values = true)]
    pub(crate) api_token: Option<String>,
    /// A file holding that token (a mounted Secret).
    #[arg(long, env = "FLUXBRAIN_API_TOKEN_FILE")]
    pub(crate) api_token_file: Option<std::path::PathBuf>,
    /// How often an open incident is reminded (`4h`, `30m`; `0` = never).
    #[arg(long, env = "FLUXBRAIN_REMIND_INTERVAL", default_value = "4h")]
    pub(crate) remind_interval: String,
    /// How long a new incident is held before its first notification, so that the objects
    /// failing with it meanwhile are listed in it (`30s`; `0` = at once). Once mode announces
    /// at once: a run sees one moment.
    #[arg(long, env = "FLUXBRAIN_GROUP_WAIT", default_value = "30s")]
    pub(crate) group_wait: String,
    /// At most one `updated` notification per incident per this interval, when the objects
    /// failing with it change (`5m`; `0` = never).
    #[arg(long, env = "FLUXBRAIN_GROUP_INTERVAL", default_value = "5m")]
    pub(crate) group_interval: String,
    /// How many requests each notifier may have in flight at once, each for another
    /// incident (a slow request holds one slot, not the notifier).
    #[arg(long, env = "FLUXBRAIN_NOTIFY_CONCURRENCY", default_value = "4")]
    pub(crate) notify_concurrency: String,
    /// The wait before retrying a delivery that failed (5xx, timeout, connection error),
    /// doubling on every further failure up to an hour (`30s`; longer than zero). A 429 waits
    /// as long as the destination asks instead.
    #[arg(long, env = "FLUXBRAIN_RETRY_BACKOFF", default_value = "30s")]
    pub(crate) retry_backoff: String,
    /// How many resolved incidents the history keeps, newest first (`0` keeps none).
    #[arg(long, env = "FLUXBRAIN_HISTORY_LIMIT", default_value = "1000")]
    pub(crate) history_limit: String,
    /// How long a resolved incident stays in the history.
    #[arg(long, env = "FLUXBRAIN_HISTORY_MAX_AGE", default_value = "30d")]
    pub(crate) history_max_age: String,
    /// `source.environment` of every event (local, development, staging, production).
    #[arg(long, env = "FLUXBRAIN_ENVIRONMENT")]
    pub(crate) environment: Option<String>,
    /// Extra `source.tags`, comma-separated.
    #[arg(long, env = "FLUXBRAIN_TAGS", value_delimiter = ',')]
    pub(crate) tags: Vec<String>,
    /// Log level on stderr: error, warn, info, debug, trace.
    #[arg(long, env = "FLUXBRAIN_LOG_LEVEL", default_value = "info")]
    pub(crate) log_level: String,
    /// Log format on stderr: `json` (one object per line) or `text`; default json when stderr
    /// is not a terminal (a pod), text when it is.
    #[arg(long, env = "FLUXBRAIN_LOG_FORMAT")]
    pub(crate) log_format: Option<String>,
}

/// Bound of state-store API calls.
pub(crate) const STORE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the command.
pub fn run(args: Args, given: Given<'_>) -> ExitCode {
    let runtime = match super::runtime("run") {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let settings = match runtime.block_on(RunSettings::check(args, given)) {
        Ok(settings) => settings,
        Err(e) => return e.report("run"),
    };
    init_logging(settings.log_level, settings.log_format);
    for warning in &settings.warnings {
        tracing::warn!("{warning}");
    }
    match runtime.block_on(run_async(settings)) {
        Ok(code) => code,
        Err(e) => e.report("run"),
    }
}

async fn run_async(settings: RunSettings) -> Result<ExitCode, CliError> {
    let collector_config = settings.collector.clone();
    let store_client = collector_config
        .clusters
        .first()
        .and_then(|c| kube::Client::try_from(c.kube.clone()).ok());
    let collector = Arc::new(KubeCollector::new(collector_config)?);
    if settings.emit == Emit::Ndjson {
        return Ok(emit_ndjson(&collector.collect().await, &settings));
    }
    if settings.sharding
        && let (StateSpec::ConfigMap { namespace, name }, Some(home)) =
            (settings.state.clone(), store_client.clone())
    {
        // Each owner watches its clusters with collectors of its own.
        drop(collector);
        return fleet::run(settings, home, namespace, name).await;
    }
    let store = settings
        .state
        .open(store_client.clone(), STORE_TIMEOUT)
        .map_err(|problem| CliError::State {
            store: settings.state.to_string(),
            problem,
        })?;
    let elector = match (&settings.state, store_client) {
        (StateSpec::ConfigMap { namespace, .. }, Some(client)) => Some(LeaderElector::new(
            client,
            LeaseConfig::new(namespace.clone(), "fluxbrain", settings.identity.clone()),
        )),
        _ => None,
    };
    if settings.once {
        let report = runtime::once(
            collector.as_ref(),
            store,
            settings.notifiers.clone(),
            settings.analyzer.clone(),
            settings.engine.clone(),
            &runtime::SystemClock,
            elector,
        )
        .await;
        return Ok(once_exit(report));
    }
    collector.start();
    continuous(settings, collector, store, elector).await
}

/// The exit code of `run --once`, after saying what went wrong.
fn once_exit(report: Result<runtime::OnceReport, runtime::OnceError>) -> ExitCode {
    match report {
        Ok(report) => {
            for e in &report.failed_clusters {
                eprintln!("fluxbrain run: {e}");
            }
            tracing::info!(
                notifications = report.notifications,
                open_incidents = report.open_incidents,
                "run complete"
            );
            if report.failed_clusters.is_empty() && report.save_error.is_none() {
                ExitCode::SUCCESS
            } else {
                if let Some(e) = &report.save_error {
                    eprintln!("fluxbrain run: state not saved: {e}");
                }
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("fluxbrain run: {}", crate::error::chain(&e));
            if let runtime::OnceError::Load(e) = &e {
                say_what_starting_over_loses(e);
            }
            ExitCode::FAILURE
        }
    }
}

/// After an error about state that cannot be read (whose message says what is wrong, where
/// it is kept and how to start over), says what starting over costs.
fn say_what_starting_over_loses(e: &fluxbrain_core::StoreError) {
    use fluxbrain_core::StoreError as E;
    if matches!(e, E::Corrupt { .. } | E::Newer { .. }) {
        eprintln!(
            "fluxbrain run: starting over with empty state loses what that state holds: the open incidents (objects still failing are \
             announced again as newly failing, and the recovery of one that no longer fails is \
             never announced), the notifications not delivered yet and the incident history. \
             Silences and acknowledgements live in the control document and are kept."
        );
    }
}

fn emit_ndjson(
    observations: &[Result<ClusterObservation, CollectError>],
    settings: &RunSettings,
) -> ExitCode {
    let mut events = Vec::new();
    let mut failed = false;
    for observation in observations {
        match observation {
            Ok(o) => events.extend(build_all(&o.snapshot, &settings.engine.build)),
            Err(e) => {
                eprintln!("fluxbrain run: {e}");
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

/// Watches, observes on every change and every requeue interval, delivers from one task per
/// notifier (the runtime of `fluxbrain-kube`); with a shared (ConfigMap) state, only the Lease
/// holder observes and delivers. SIGTERM or SIGINT shut it down gracefully.
async fn continuous(
    settings: RunSettings,
    collector: Arc<KubeCollector>,
    store: Arc<dyn fluxbrain_core::StateStore>,
    elector: Option<LeaderElector>,
) -> Result<ExitCode, CliError> {
    // A standby answers /v1 from the shared store the leader writes.
    let shared_store = elector.as_ref().map(|_| store.clone());
    // An operator's write through the endpoints wakes a step, so it takes effect at once.
    let wake = Arc::new(tokio::sync::Notify::new());
    let live = Arc::new(Live::new(
        collector.clone(),
        shared_store,
        store.clone(),
        wake.clone(),
        settings.api_token.clone(),
    ));
    let server = endpoints(settings.endpoints, &live).await?;
    let mut runtime = Runtime::new(collector, store, settings.notifiers)
        .analyzer(settings.analyzer)
        .engine_config(settings.engine)
        .observer(live)
        .wake_on(wake)
        .config(RuntimeConfig {
            requeue_interval: settings.requeue_interval,
            ..RuntimeConfig::default()
        });
    if let Some(elector) = elector {
        runtime = runtime.elector(elector);
    }
    let stopped = runtime.run(shutdown_signal()).await;
    if let Some(server) = server {
        server.abort();
    }
    Ok(match stopped {
        Stopped::EngineFailed(e) => {
            eprintln!("fluxbrain run: the state cannot be loaded: {e}");
            say_what_starting_over_loses(&e);
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    })
}

/// Serves the HTTP endpoints over `live` when they are on.
async fn endpoints(
    endpoints: Endpoints,
    live: &Arc<Live>,
) -> Result<Option<tokio::task::JoinHandle<()>>, CliError> {
    let Endpoints::On(addr) = endpoints else {
        return Ok(None);
    };
    let (bound, task) = serve(addr, live.clone())
        .await
        .map_err(|source| CliError::Listen { addr, source })?;
    tracing::info!(address = %bound, "serving /healthz, /readyz, /metrics, /v1/incidents, /v1/summary, /v1/history, /v1/silences");
    Ok(Some(task))
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
