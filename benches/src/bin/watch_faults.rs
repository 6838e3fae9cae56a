//! Watches alone under faults: the continuous collector with a requeue interval of an hour (so
//! no resync, no relist safety net) against the simulator serving `examples/clusters/basic`,
//! in real time, with the collector's default settings otherwise (bookmarks expected every
//! 60 s, so a watch silent for 150 s is dead; retries from 1 s doubling to 60 s, jittered).
//!
//! For each fault, `--trials` Ready transitions (default 20), one per trial, rotating over 7
//! Flux kinds (status and reason change every time):
//! - `drop`: every watch stream is cut, the transition is made, the server is healthy at once;
//! - `410`: every stream is cut, the transition is made and the history compacted, so every
//!   watcher's resume gets `410 Gone` and relists;
//! - `5xx`: every watch request is answered 503 for `--burst` (default 20 s) after the streams
//!   are cut; the transition is made at the start of the burst;
//! - `stall`: every stream goes silent (open, no bytes, no bookmarks; the simulator sends
//!   bookmarks every bookmark period until then) and the transition is made at once. Each stall
//!   trial runs on a simulator and collector of its own, all at the same time; in trial `n` of
//!   `N` the streams are cut, and the stall comes `n/N` of a bookmark period after the
//!   transition's kind's stream reopened, so the trials cover the period: from a stall right
//!   after the stream's last byte (trial 0: the worst case, the read timeout runs in full) to
//!   one just before its first bookmark.
//!
//! Measured per trial: from the fault's end (`clear`: the cut for drop and 410, the end of the
//! burst for 5xx, the start of the stall) to the transition visible in `collect()` (`seen`);
//! from the first watch request of the transition's kind after `clear` (`back`, the stream
//! coming back) to `seen`; for the stall, `clear` to that request (the restart). A transition
//! not seen within `--deadline` (300 s) is missed. After the sequential faults the collector's
//! view is compared with a fresh one-shot list of the same server.
//!
//! Run: `cargo run --release -p fluxbrain-benches --bin watch_faults [-- --trials 20 --burst 20
//! --fault drop|410|5xx|stall --bookmark-period 60 --gap 2 --deadline 300]` (seconds). The four
//! faults run at the same time, each on its own simulator and collector; the whole run takes
//! about as long as the slower of the 5xx trials and the stall (about 4 minutes at the
//! defaults). Exits non-zero when a transition is missed or a final view differs.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use fluxbrain_core::{Collector, FluxObject};
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_sim::{Config, Faults, Server, Simulator, State};

type Result<T> = std::result::Result<T, String>;

/// One object of the basic cluster, and its watch path.
#[derive(Debug, Clone, Copy)]
struct Target {
    api_version: &'static str,
    kind: &'static str,
    namespace: &'static str,
    name: &'static str,
    /// The list/watch path of its kind, with the `?` that starts the query.
    path: &'static str,
}

const TARGETS: [Target; 7] = [
    Target {
        api_version: "kustomize.toolkit.fluxcd.io/v1",
        kind: "Kustomization",
        namespace: "shop",
        name: "shop-apps",
        path: "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations?",
    },
    Target {
        api_version: "helm.toolkit.fluxcd.io/v2",
        kind: "HelmRelease",
        namespace: "shop",
        name: "storefront",
        path: "/apis/helm.toolkit.fluxcd.io/v2/helmreleases?",
    },
    Target {
        api_version: "source.toolkit.fluxcd.io/v1",
        kind: "GitRepository",
        namespace: "flux-system",
        name: "flux-system",
        path: "/apis/source.toolkit.fluxcd.io/v1/gitrepositories?",
    },
    Target {
        api_version: "source.toolkit.fluxcd.io/v1",
        kind: "HelmRepository",
        namespace: "flux-system",
        name: "stable-charts",
        path: "/apis/source.toolkit.fluxcd.io/v1/helmrepositories?",
    },
    Target {
        api_version: "source.toolkit.fluxcd.io/v1",
        kind: "OCIRepository",
        namespace: "flux-system",
        name: "platform-manifests",
        path: "/apis/source.toolkit.fluxcd.io/v1/ocirepositories?",
    },
    Target {
        api_version: "source.toolkit.fluxcd.io/v1",
        kind: "Bucket",
        namespace: "flux-system",
        name: "cluster-config",
        path: "/apis/source.toolkit.fluxcd.io/v1/buckets?",
    },
    Target {
        api_version: "image.toolkit.fluxcd.io/v1",
        kind: "ImageRepository",
        namespace: "shop",
        name: "storefront",
        path: "/apis/image.toolkit.fluxcd.io/v1/imagerepositories?",
    },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Drop,
    Gone,
    Burst,
    Stall,
}

impl Fault {
    const ALL: [Fault; 4] = [Fault::Drop, Fault::Gone, Fault::Burst, Fault::Stall];

    fn name(self) -> &'static str {
        match self {
            Fault::Drop => "drop",
            Fault::Gone => "410",
            Fault::Burst => "5xx",
            Fault::Stall => "stall",
        }
    }
}

#[derive(Debug, Clone)]
struct Options {
    trials: usize,
    burst: Duration,
    bookmark: Duration,
    gap: Duration,
    deadline: Duration,
    faults: Vec<Fault>,
}

fn options(args: &[String]) -> Result<Options> {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let number = |name: &str, default: u64| -> Result<u64> {
        value(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{name}: {v:?} is not a number"))
        })
    };
    let faults = match value("--fault").map(String::as_str) {
        None => Fault::ALL.to_vec(),
        Some(name) => vec![
            Fault::ALL
                .into_iter()
                .find(|f| f.name() == name)
                .ok_or_else(|| format!("--fault: {name:?} is not drop, 410, 5xx or stall"))?,
        ],
    };
    Ok(Options {
        trials: usize::try_from(number("--trials", 20)?).map_err(|e| e.to_string())?,
        burst: Duration::from_secs(number("--burst", 20)?),
        bookmark: Duration::from_secs(number("--bookmark-period", 60)?),
        gap: Duration::from_secs(number("--gap", 2)?),
        deadline: Duration::from_secs(number("--deadline", 300)?),
        faults,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = options(&args).and_then(|opts| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(run(opts))
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What one fault's trials measured.
#[derive(Debug, Default)]
struct Report {
    fault: &'static str,
    trials: usize,
    missed: usize,
    /// clear → seen, per trial seen.
    clear_seen: Vec<Duration>,
    /// back → seen, per trial whose stream was seen coming back.
    back_seen: Vec<Duration>,
    /// clear → back (the stall's restart).
    clear_back: Vec<Duration>,
    /// Whether the collector's view equals a fresh list at the end.
    exact: Option<bool>,
    /// Relists the collector made (410 makes them; nothing else should).
    relists: u64,
    /// Scheduled resyncs (must be 0 with a requeue interval of an hour).
    resyncs: u64,
}

async fn run(opts: Options) -> Result<bool> {
    println!(
        "watch_faults: requeue interval 1h, bookmark period {} s (read timeout {} s), {} trials, \
         5xx burst {} s",
        opts.bookmark.as_secs(),
        opts.bookmark.mul_f64(2.5).as_secs_f64(),
        opts.trials,
        opts.burst.as_secs()
    );
    let started = Instant::now();
    let runs = opts.faults.iter().map(|&fault| {
        let opts = opts.clone();
        async move {
            match fault {
                Fault::Stall => stall(&opts).await,
                _ => sequential(fault, &opts).await,
            }
        }
    });
    let reports: Vec<Report> = futures::future::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<_>>()?;
    println!();
    println!(
        "| fault | trials | missed | clear → seen min / median / max | back → seen min / median / max | clear → back (restart) max | relists | resyncs | final view = fresh list |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut ok = true;
    for r in &reports {
        ok &= r.missed == 0 && r.exact != Some(false) && r.resyncs == 0;
        println!(
            "| {} | {} | **{}** | {} | {} | {} | {} | {} | {} |",
            r.fault,
            r.trials,
            r.missed,
            spread(&r.clear_seen),
            spread(&r.back_seen),
            r.clear_back
                .iter()
                .max()
                .map_or_else(|| "-".to_owned(), |d| seconds(*d)),
            r.relists,
            r.resyncs,
            match r.exact {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "-",
            }
        );
    }
    if let Some(r) = reports.iter().find(|r| r.fault == "stall") {
        println!();
        println!(
            "stall → restart (first watch request of the kind after the stall): {}",
            spread(&r.clear_back)
        );
    }
    println!();
    println!("{:.0} s in all", started.elapsed().as_secs_f64());
    Ok(ok)
}

/// `min / median / max`.
fn spread(values: &[Duration]) -> String {
    if values.is_empty() {
        return "-".to_owned();
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    format!(
        "{} / {} / {}",
        seconds(sorted[0]),
        seconds(median),
        seconds(sorted[sorted.len() - 1])
    )
}

fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// A simulator on the basic cluster and a synced continuous collector on it, every source
/// watched.
struct Lane {
    sim: Simulator,
    server: Server,
    collector: KubeCollector,
    /// For marker requests: a unique path in the request log marks a moment.
    marker: kube::Client,
    marks: usize,
}

impl Lane {
    async fn start(opts: &Options) -> Result<Lane> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/clusters/basic");
        let state = State::load_dir(&dir).map_err(|e| e.to_string())?;
        let config = Config {
            bookmark_interval: opts.bookmark,
            ..Config::default()
        };
        let sim = Simulator::new(state, config).map_err(|e| e.to_string())?;
        let addr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
        let server = sim.serve(addr).await.map_err(|e| e.to_string())?;
        let url: http::Uri = server.url().parse().map_err(|e| format!("{e}"))?;
        let mut config = CollectorConfig::new(vec![ClusterConfig::new(
            "basic",
            kube::Config::new(url.clone()),
        )]);
        config.requeue_interval = Duration::from_secs(3600);
        config.bookmark_period = opts.bookmark;
        let collector = KubeCollector::new(config).map_err(|e| e.to_string())?;
        collector.start();
        let marker = kube::Client::try_from(kube::Config::new(url)).map_err(|e| e.to_string())?;
        let lane = Lane {
            sim,
            server,
            collector,
            marker,
            marks: 0,
        };
        lane.synced().await?;
        Ok(lane)
    }

    /// Every source listed and then watched.
    async fn synced(&self) -> Result<()> {
        let wait = async {
            self.collector.synced().await;
            self.sim
                .until_requests(|served| {
                    let watched: Vec<String> = served
                        .iter()
                        .filter(|r| r.contains("watch=true"))
                        .filter_map(|r| source_of(r))
                        .collect();
                    served
                        .iter()
                        .filter(|r| r.contains('?') && !r.contains("watch=true"))
                        .filter_map(|r| source_of(r))
                        .all(|s| watched.contains(&s))
                })
                .await;
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .map_err(|_| "the collector did not sync within 60 s".to_owned())
    }

    /// Marks this moment in the request log; returns the marker's request line.
    async fn mark(&mut self) -> String {
        self.marks += 1;
        let path = format!("/api/v1/namespaces/watch-faults-mark-{}", self.marks);
        let request = http::Request::get(&path).body(Vec::new());
        if let Ok(request) = request {
            // A 404, recorded like any request: the answer does not matter.
            let _ = self.marker.request_text(request).await;
        }
        format!("GET {path}")
    }

    /// When the first request on `path` after `mark` is served: a watch, or a list when
    /// `watch` is false.
    async fn back(&self, mark: &str, path: &str, watch: bool) -> Instant {
        self.sim
            .until_requests(|served| {
                served.iter().rposition(|r| r == mark).is_some_and(|at| {
                    served[at..]
                        .iter()
                        .any(|r| r.contains(path) && r.contains("watch=true") == watch)
                })
            })
            .await;
        Instant::now()
    }

    /// When the stream came back (the first request on `path` after `mark`, a watch or a list)
    /// and when `want` was seen; neither waits for the other.
    async fn measure(
        &self,
        mark: &str,
        t: &Target,
        watch: bool,
        want: &(String, String),
        deadline: Duration,
    ) -> (Option<Instant>, Option<Instant>) {
        let back = self.back(mark, t.path, watch);
        let seen = self.seen(t, want, deadline);
        tokio::pin!(back, seen);
        let mut came_back = None;
        let seen = loop {
            tokio::select! {
                at = &mut back, if came_back.is_none() => came_back = Some(at),
                at = &mut seen => break at,
            }
        };
        if came_back.is_none() {
            came_back = futures::FutureExt::now_or_never(back);
        }
        (came_back, seen)
    }

    /// Sets `t`'s Ready condition for trial `n`; returns the (status, reason) to see.
    fn transition(&self, t: &Target, n: usize) -> Result<(String, String)> {
        let (status, reason) = if n.is_multiple_of(2) {
            ("False", format!("Trial{n}Failed"))
        } else {
            ("True", format!("Trial{n}Succeeded"))
        };
        let mut object = self
            .sim
            .object(t.api_version, t.kind, t.namespace, t.name)
            .ok_or_else(|| format!("{} {}/{} is missing", t.kind, t.namespace, t.name))?;
        object["status"]["conditions"] = serde_json::json!([{"type": "Ready", "status": status,
            "reason": reason, "message": format!("trial {n}"),
            "lastTransitionTime": "2026-04-21T09:31:00Z"}]);
        self.sim.apply(object).map_err(|e| e.to_string())?;
        Ok((status.to_owned(), reason))
    }

    /// When the collector shows `t` with `want`, or `None` after `deadline`.
    async fn seen(
        &self,
        t: &Target,
        want: &(String, String),
        deadline: Duration,
    ) -> Option<Instant> {
        let wait = async {
            loop {
                let shown = self.collector.collect().await.into_iter().next();
                let ready = shown.and_then(|r| r.ok()).and_then(|o| {
                    o.snapshot
                        .objects
                        .iter()
                        .find(|o| is(o, t))
                        .and_then(|o| ready_of(o))
                });
                if ready.as_ref() == Some(want) {
                    return Instant::now();
                }
                self.collector.changed().await;
            }
        };
        tokio::time::timeout(deadline, wait).await.ok()
    }

    /// Whether the collector's objects equal a fresh one-shot list of the same server.
    async fn exact(&self) -> Result<bool> {
        let url: http::Uri = self.server.url().parse().map_err(|e| format!("{e}"))?;
        let fresh = KubeCollector::new(CollectorConfig::new(vec![ClusterConfig::new(
            "basic",
            kube::Config::new(url),
        )]))
        .map_err(|e| e.to_string())?;
        let truth = objects(&fresh).await?;
        // The last changes may still be on their way: wait for them, a bounded time.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if objects(&self.collector).await.ok().as_ref() == Some(&truth) {
                return Ok(true);
            }
            if Instant::now() > deadline {
                return Ok(false);
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), self.collector.changed()).await;
        }
    }
}

/// The objects of the only cluster, sorted by key.
async fn objects(collector: &KubeCollector) -> Result<Vec<std::sync::Arc<FluxObject>>> {
    let mut observation = collector
        .collect()
        .await
        .into_iter()
        .next()
        .ok_or("no cluster")?
        .map_err(|e| e.to_string())?;
    observation
        .snapshot
        .objects
        .sort_by(|a, b| a.key.cmp(&b.key));
    Ok(observation.snapshot.objects)
}

fn is(o: &FluxObject, t: &Target) -> bool {
    o.key.kind.as_str() == t.kind && o.key.namespace == t.namespace && o.key.name == t.name
}

fn ready_of(o: &FluxObject) -> Option<(String, String)> {
    o.condition("Ready")
        .map(|c| (c.status.as_str().to_owned(), c.reason.clone()))
}

/// The source a list or watch request reads: its path and field selector.
fn source_of(request: &str) -> Option<String> {
    let (path, query) = request.split_once('?')?;
    let fields = query
        .split('&')
        .find(|p| p.starts_with("fieldSelector="))
        .unwrap_or_default();
    Some(format!("{path}?{fields}"))
}

/// Drop, 410 and 5xx: trials one after the other on one long-lived collector.
async fn sequential(fault: Fault, opts: &Options) -> Result<Report> {
    let mut lane = Lane::start(opts).await?;
    let before = lane.collector.metrics();
    let mut report = Report {
        fault: fault.name(),
        ..Report::default()
    };
    let burst = Faults {
        error_rate: 1.0,
        error_status: 503,
        request_contains: Some("watch=".to_owned()),
        ..Faults::default()
    };
    for n in 0..opts.trials {
        let t = &TARGETS[n % TARGETS.len()];
        // The mark goes before the fault, except for 5xx: there the stream is back with the
        // first watch request after the burst.
        let (clear, mark, want) = match fault {
            Fault::Drop => {
                let mark = lane.mark().await;
                lane.sim.drop_watches();
                let want = lane.transition(t, n)?;
                (Instant::now(), mark, want)
            }
            Fault::Gone => {
                let mark = lane.mark().await;
                lane.sim.drop_watches();
                let want = lane.transition(t, n)?;
                lane.sim.expire_resource_versions();
                (Instant::now(), mark, want)
            }
            Fault::Burst => {
                lane.sim.set_faults(burst.clone());
                lane.sim.drop_watches();
                let want = lane.transition(t, n)?;
                tokio::time::sleep(opts.burst).await;
                lane.sim.set_faults(Faults::default());
                let clear = Instant::now();
                (clear, lane.mark().await, want)
            }
            Fault::Stall => unreachable!("stall trials run in lanes of their own"),
        };
        // After a 410 the stream is back with the relist.
        let watch = fault != Fault::Gone;
        let (back, seen) = lane.measure(&mark, t, watch, &want, opts.deadline).await;
        record(&mut report, clear, back, seen);
        tokio::time::sleep(opts.gap).await;
    }
    report.exact = Some(lane.exact().await?);
    let after = lane.collector.metrics();
    report.relists = after.relists - before.relists;
    report.resyncs = after.watch_resyncs;
    eprintln!(
        "{}: done in {} trials, {} missed",
        fault.name(),
        report.trials,
        report.missed
    );
    Ok(report)
}

fn record(report: &mut Report, clear: Instant, back: Option<Instant>, seen: Option<Instant>) {
    report.trials += 1;
    let Some(seen) = seen else {
        report.missed += 1;
        return;
    };
    report
        .clear_seen
        .push(seen.saturating_duration_since(clear));
    if let Some(back) = back {
        // A request answered just before the mark can bring the change first: 0 then.
        report.back_seen.push(seen.saturating_duration_since(back));
        report
            .clear_back
            .push(back.saturating_duration_since(clear));
    }
}

/// The stall: one lane per trial, all at once, trial `n` stalling `n/N` of a bookmark period
/// after its watches opened.
async fn stall(opts: &Options) -> Result<Report> {
    let trials = (0..opts.trials).map(|n| {
        let offset = opts.bookmark.mul_f64(n as f64 / opts.trials.max(1) as f64);
        let opts = opts.clone();
        async move {
            let mut lane = Lane::start(&opts).await?;
            let before = lane.collector.metrics();
            let t = &TARGETS[n % TARGETS.len()];
            // The phase: the kind's watch is cut and resumed, and the stall comes `offset`
            // after the resumed stream opened (its last byte until its first bookmark).
            let mark = lane.mark().await;
            lane.sim.drop_watches();
            let opened = lane.back(&mark, t.path, true).await;
            tokio::time::sleep_until((opened + offset).into()).await;
            let mark = lane.mark().await;
            let clear = Instant::now();
            lane.sim.stall_watches();
            let want = lane.transition(t, n)?;
            let (back, seen) = lane.measure(&mark, t, true, &want, opts.deadline).await;
            let exact = lane.exact().await?;
            let after = lane.collector.metrics();
            Ok::<_, String>((
                clear,
                back,
                seen,
                exact,
                after.relists - before.relists,
                after.watch_resyncs,
            ))
        }
    });
    let mut report = Report {
        fault: "stall",
        ..Report::default()
    };
    let mut exact = true;
    for outcome in futures::future::join_all(trials).await {
        let (clear, back, seen, same, relists, resyncs) = outcome?;
        record(&mut report, clear, back, seen);
        exact &= same;
        report.relists += relists;
        report.resyncs += resyncs;
    }
    report.exact = Some(exact);
    eprintln!(
        "stall: done in {} trials, {} missed",
        report.trials, report.missed
    );
    Ok(report)
}
