//! `fluxbrain run`'s settings, validated together before any cluster is contacted: every
//! problem is reported at once, named by the flag or the variable the user set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fluxbrain_core::{Analyzer, BuildOptions, EngineConfig, Notifier, PolicyConfig};
use fluxbrain_kube::collector::CollectorConfig;

use super::{Args, Emit};
use crate::error::CliError;
use crate::given::{Given, Problems};
use crate::print::{JsonLines, Sink};
use crate::settings::{
    LogFormat, Lookup, StateSpec, api_token, build_options, parse_level, parse_log_format,
};

/// Where the HTTP endpoints listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endpoints {
    /// Not served (once mode, `off`, or not in a pod by default).
    Off,
    /// Served on this address.
    On(SocketAddr),
}

/// `fluxbrain run`'s settings, valid.
#[derive(Debug)]
pub(super) struct RunSettings {
    pub once: bool,
    pub emit: Emit,
    pub state: StateSpec,
    /// The clusters shared among replicas (`FLUXBRAIN_SHARDING=cluster`).
    pub sharding: bool,
    pub requeue_interval: Duration,
    pub endpoints: Endpoints,
    pub api_token: Option<String>,
    pub engine: EngineConfig,
    pub log_level: tracing::Level,
    pub log_format: Option<LogFormat>,
    pub notifiers: Vec<Arc<dyn Notifier>>,
    pub analyzer: Option<Arc<dyn Analyzer>>,
    /// This replica's name in Leases: `POD_NAME`, else `HOSTNAME`, else a random one.
    pub identity: String,
    /// The clusters' settings, read from the kubeconfig (no cluster contacted).
    pub collector: CollectorConfig,
    /// Settings that are valid but probably not what was meant, to log once logging is on.
    pub warnings: Vec<String>,
}

impl RunSettings {
    /// Validates every setting of `args`; all problems at once.
    pub async fn check(args: Args, given: Given<'_>) -> Result<Self, CliError> {
        let mut problems = Problems::new(given);
        let once = args.once
            || match args.mode.trim() {
                "once" => true,
                "continuous" => false,
                other => {
                    problems.add("mode", format!("{other:?} is not once or continuous"));
                    false
                }
            };
        if args.emit == Emit::Ndjson && !once {
            problems.add("emit", "--emit ndjson goes with --once");
        }
        let env = |k: &str| std::env::var(k).ok();
        let state = problems
            .parse("state", args.state.as_deref(), str::parse::<StateSpec>)
            .unwrap_or_else(|| StateSpec::default_for(&env, &args.flux_namespace));
        let sharding = match args.sharding.trim() {
            "off" => false,
            "cluster" => true,
            other => {
                problems.add("sharding", format!("{other:?} is not off or cluster"));
                false
            }
        };
        if sharding && once {
            problems.add(
                "sharding",
                "cluster sharding shares clusters among the replicas of a Deployment: it needs continuous mode, not once",
            );
        }
        if sharding && !matches!(state, StateSpec::ConfigMap { .. }) {
            problems.add(
                "sharding",
                format!(
                    "cluster sharding keeps each cluster's state where every replica reads it: it needs configmap:NAMESPACE/NAME state, not {state}"
                ),
            );
        }
        let requeue_interval = problems
            .parse(
                "requeue_interval",
                Some(&args.requeue_interval),
                fluxbrain_core::duration::parse_positive,
            )
            .unwrap_or(Duration::from_secs(300));
        let remind = problems.parse(
            "remind_interval",
            Some(&args.remind_interval),
            fluxbrain_core::duration::parse,
        );
        let group_wait = problems
            .parse(
                "group_wait",
                Some(&args.group_wait),
                fluxbrain_core::duration::parse,
            )
            .unwrap_or_default();
        let group_interval = problems.parse(
            "group_interval",
            Some(&args.group_interval),
            fluxbrain_core::duration::parse,
        );
        let delivery_concurrency = problems
            .parse(
                "notify_concurrency",
                Some(&args.notify_concurrency),
                |s| match s.trim().parse::<usize>() {
                    Ok(n) if (1..=64).contains(&n) => Ok(n),
                    _ => Err(format!("{s:?} is not a number from 1 to 64")),
                },
            )
            .unwrap_or(4);
        let retry_base = problems
            .parse(
                "retry_backoff",
                Some(&args.retry_backoff),
                fluxbrain_core::duration::parse_positive,
            )
            .unwrap_or(Duration::from_secs(30));
        let history_keep = problems
            .parse("history_limit", Some(&args.history_limit), |s| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("{s:?} is not a whole number (0 keeps no history)"))
            })
            .unwrap_or(1000);
        let history_max_age = problems
            .parse(
                "history_max_age",
                Some(&args.history_max_age),
                fluxbrain_core::duration::parse_positive,
            )
            .unwrap_or(fluxbrain_core::HistoryConfig::default().max_age);
        let mut warnings = Vec::new();
        if !once && group_wait > requeue_interval {
            warnings.push(format!(
                "{} ({}) is longer than {} ({}): a new incident waits longer than a full resync before its first notification",
                given.name("group_wait"),
                fluxbrain_core::duration::format(group_wait),
                given.name("requeue_interval"),
                fluxbrain_core::duration::format(requeue_interval),
            ));
        }
        let environment = problems.parse("environment", args.environment.as_deref(), |s| {
            s.parse::<fluxbrain_core::Environment>()
        });
        let log_level = problems
            .parse("log_level", Some(&args.log_level), parse_level)
            .unwrap_or(tracing::Level::INFO);
        let log_format = problems.parse("log_format", args.log_format.as_deref(), parse_log_format);
        problems.parse("collect_logs", args.collect_logs.as_deref(), |s| {
            parse_bool(s).ok_or_else(|| format!("{s:?} is not true or false"))
        });
        let report_drift = problems
            .parse("report_drift", args.report_drift.as_deref(), |s| {
                parse_bool(s).ok_or_else(|| format!("{s:?} is not true or false"))
            })
            .unwrap_or(false);
        let endpoints = if once {
            Endpoints::Off
        } else {
            listen(&mut problems, args.listen.as_deref(), &env)
        };
        let api_token = match api_token(args.api_token.as_deref(), args.api_token_file.as_deref()) {
            Ok(token) => token,
            Err(problem) => {
                let id = if args.api_token_file.is_some() && args.api_token.is_none() {
                    "api_token_file"
                } else {
                    "api_token"
                };
                problems.add(id, problem);
                None
            }
        };

        // What the library crates read themselves: the flags' values under their variables'
        // names, then the environment.
        let mut lookup = Lookup::default();
        if let Some(cluster) = &args.cluster {
            lookup.set("FLUXBRAIN_CLUSTER", cluster.clone());
        }
        lookup.set("FLUXBRAIN_FLUX_NAMESPACE", args.flux_namespace.clone());
        lookup.set("FLUXBRAIN_REQUEUE_INTERVAL", args.requeue_interval.clone());
        if let Some(logs) = &args.collect_logs {
            lookup.set("FLUXBRAIN_COLLECT_LOGS", logs.clone());
        }
        let get = |k: &str| lookup.get(k);
        let (mut notifiers, notify_problems) = fluxbrain_notify::configured_notifiers(get);
        for problem in notify_problems {
            problems.push(CliError::Notify(problem));
        }
        if notifiers.is_empty() {
            notifiers.push(Arc::new(JsonLines(Sink::Stdout)));
        }
        let analyzer = fluxbrain_notify::analyzer_from_env(get).unwrap_or_else(|e| {
            problems.push(CliError::Notify(e));
            None
        });
        // Contexts from the command line go as they are; from the environment, the collector
        // reads FLUXBRAIN_CONTEXTS itself (so its errors name what was set).
        let contexts: &[String] =
            if given.is_set("contexts") && given.name("contexts") == "--context" {
                &args.contexts
            } else {
                &[]
            };
        let collector = match CollectorConfig::from_env(get, contexts).await {
            Ok(config) => Some(config),
            Err(e) => {
                problems.push(CliError::Collector(e));
                None
            }
        };
        problems.finish()?;
        let identity = env("POD_NAME")
            .or_else(|| env("HOSTNAME"))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| format!("fluxbrain-{:016x}", fastrand::u64(..)));
        let engine = EngineConfig {
            policy: PolicyConfig {
                remind_every: remind.filter(|r| !r.is_zero()),
                group_wait,
                group_interval: group_interval.filter(|i| !i.is_zero()),
            },
            build: BuildOptions {
                report_drift,
                ..build_options(environment, &args.tags)
            },
            delivery_concurrency,
            backoff: fluxbrain_core::engine::Backoff {
                base: retry_base,
                cap: retry_base.max(fluxbrain_core::engine::Backoff::default().cap),
            },
            history: fluxbrain_core::HistoryConfig {
                keep: history_keep,
                max_age: history_max_age,
            },
        };
        Ok(RunSettings {
            once,
            emit: args.emit,
            state,
            sharding,
            requeue_interval,
            endpoints,
            api_token,
            engine,
            log_level,
            log_format,
            notifiers,
            analyzer,
            identity,
            // Set whenever `problems` was empty.
            collector: collector.unwrap_or_else(|| CollectorConfig::new(Vec::new())),
            warnings,
        })
    }
}

/// `FLUXBRAIN_LISTEN`: `HOST:PORT`, `:PORT` or `off`; default `0.0.0.0:8080` in a pod.
fn listen(
    problems: &mut Problems<'_>,
    value: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Endpoints {
    let in_pod = env("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty());
    let listen = match value.map(str::trim) {
        Some("off") => return Endpoints::Off,
        Some(listen) => listen.to_owned(),
        None if in_pod => "0.0.0.0:8080".to_owned(),
        None => return Endpoints::Off,
    };
    let full = match listen.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => listen.clone(),
    };
    let addr = full.parse().ok().or_else(|| {
        // A host name, e.g. localhost:8080.
        full.contains(':')
            .then(|| std::net::ToSocketAddrs::to_socket_addrs(&full).ok())
            .flatten()
            .and_then(|mut addrs| addrs.next())
    });
    match addr {
        Some(addr) => Endpoints::On(addr),
        None => {
            problems.add(
                "listen",
                format!("{listen:?} is not HOST:PORT, :PORT or off"),
            );
            Endpoints::Off
        }
    }
}

/// Go's `strconv.ParseBool` spellings, as the Go fluxbrain read `FLUXBRAIN_COLLECT_LOGS`.
fn parse_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}
