//! Fleet scale harness: many clusters watched from one process, and replicas sharing them.
//!
//! Measures (numbers in `benches/README.md`, section "Fleet"):
//! - one process watching `--clusters` clusters of `--objects` Flux objects (3 events each):
//!   time until every cluster is synced, steady resident memory, CPU per minute while nothing
//!   changes, and status write → observation p50/p99 with 100 writes per second spread over
//!   the clusters; beside the same measures for one cluster of `--objects`, in the same run;
//! - `--replicas` fleet replicas (`fluxbrain_kube::fleet`, separate processes) sharing those
//!   clusters: time until every cluster's Lease is held with shares differing by at most one,
//!   and each replica's resident memory then.
//!
//! Run: `cargo run --release -p fluxbrain-benches --bin fleet_scale [-- --clusters 100
//! --objects 1000 --replicas 3 --seconds 10 --idle 30]`. The simulators run in a child process
//! (`fleet_scale serve ...`) and every measured side in a fresh child of its own, so that no
//! measure counts another's CPU or memory.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fluxbrain_core::Collector;
use fluxbrain_kube::ConfigMapStore;
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_kube::fleet::names::state_name;
use fluxbrain_kube::fleet::{Fleet, FleetConfig, StoreFor, holders};
use fluxbrain_sim::{Config, Simulator};
use serde_json::json;

use fluxbrain_benches::{
    NAMESPACES, cpu_ticks, generated_cluster, ms_of_ticks, percentile, proc_status,
};

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("watch") => watch(&args[1..]),
        Some("replica") => replica(&args[1..]),
        _ => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn cluster_name(i: usize) -> String {
    format!("cluster-{i:03}")
}

/// Child: `--clusters` simulators of `--objects` objects (3 events each), one URL per line,
/// then `READY`; ends when stdin closes.
fn serve(args: &[String]) -> Result<()> {
    let clusters = flag(args, "--clusters", 100);
    let objects = flag(args, "--objects", 1000);
    let config = Config {
        start: "2026-04-21T09:30:00Z".parse().map_err(|e| format!("{e}"))?,
        history_limit: 100_000,
        ..Config::default()
    };
    runtime()?.block_on(async move {
        let mut servers = Vec::new();
        for _ in 0..clusters {
            let state = generated_cluster(objects, objects * 3)?;
            let sim = Simulator::new(state, config.clone()).map_err(|e| e.to_string())?;
            let addr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
            let server = sim.serve(addr).await.map_err(|e| e.to_string())?;
            println!("URL {}", server.url());
            servers.push(server);
        }
        println!("READY");
        let _ = std::io::stdout().flush();
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
            }
        })
        .await
        .map_err(|e| e.to_string())?;
        drop(servers);
        Ok(())
    })
}

/// A child process of this harness; closing its stdin (drop) ends it.
struct Spawned {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Spawned {
    fn start(args: &[&str]) -> Result<Spawned> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::result::Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Spawned { child, lines })
    }

    /// Lines until one equal to `end` (excluded).
    fn until(&self, end: &str, within: Duration) -> Result<Vec<String>> {
        let mut out = Vec::new();
        loop {
            let line = self
                .lines
                .recv_timeout(within)
                .map_err(|_| format!("no {end:?} within {within:?}"))?;
            if line == end {
                return Ok(out);
            }
            out.push(line);
        }
    }

    /// Resident memory of the child, MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn collector_config(urls: &[String]) -> Result<CollectorConfig> {
    let clusters = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let uri = url.parse().map_err(|e| format!("{e}"))?;
            Ok(ClusterConfig::new(cluster_name(i), kube::Config::new(uri)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CollectorConfig::new(clusters))
}

/// Child: watches every cluster of `URL...` (one process): synced time, steady RSS, idle CPU
/// per minute over `--idle` seconds, then `--seconds` of 100 status writes per second spread
/// over the clusters and the write → observation latency.
fn watch(args: &[String]) -> Result<()> {
    let urls: Vec<String> = args
        .iter()
        .take_while(|a| !a.starts_with("--"))
        .cloned()
        .collect();
    let idle = flag(args, "--idle", 30);
    let seconds = flag(args, "--seconds", 10);
    runtime()?.block_on(async move {
        let collector =
            Arc::new(KubeCollector::new(collector_config(&urls)?).map_err(|e| e.to_string())?);
        let started = Instant::now();
        collector.start();
        while !collector.status().iter().all(|s| s.synced) {
            if started.elapsed() > Duration::from_secs(600) {
                return Err("not synced within 600 s".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let synced = started.elapsed();
        let objects: usize = collector.status().iter().map(|s| s.objects).sum();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let steady = proc_status("VmRSS:") as f64 / 1024.0;
        let cpu0 = ms_of_ticks(cpu_ticks().0);
        tokio::time::sleep(Duration::from_secs(idle as u64)).await;
        let idle_cpu = (ms_of_ticks(cpu_ticks().0) - cpu0) as f64 * 60.0 / idle as f64;
        let (p50, p99, seen, sent) = latency(&collector, &urls, seconds).await?;
        println!(
            "{} cluster(s), {objects} objects: synced in {:.2} s; steady RSS {steady:.1} MiB; idle CPU {idle_cpu:.0} ms per minute; write -> observation p50 {:.1} ms, p99 {:.1} ms ({seen} of {sent} writes seen)",
            urls.len(),
            synced.as_secs_f64(),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
        );
        println!("DONE");
        Ok(())
    })
}

/// 100 status writes per second for `seconds`, round robin over the clusters; the time from
/// each write being sent to `collect()` after `changed()` showing it.
async fn latency(
    collector: &KubeCollector,
    urls: &[String],
    seconds: usize,
) -> Result<(Duration, Duration, usize, usize)> {
    let sent: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let total = seconds * 100;
    let clients = urls
        .iter()
        .map(|u| {
            kube::Client::try_from(kube::Config::new(u.parse().map_err(|e| format!("{e}"))?))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let writer = {
        let sent = Arc::clone(&sent);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            for i in 0..total {
                tick.tick().await;
                let client = clients[i % clients.len()].clone();
                let n = (i / clients.len()) % 100;
                let ns = format!("team-{:02}", n % NAMESPACES);
                let name = format!("kustomization-{n:06}");
                let path = format!(
                    "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/{ns}/kustomizations/{name}/status"
                );
                let body = json!({"status": {"conditions": [{"type": "Ready", "status": "False",
                    "reason": "BenchChange", "message": format!("change {i}"),
                    "lastTransitionTime": "2026-04-21T09:20:00Z", "observedGeneration": 2}]}});
                let Ok(request) = http::Request::patch(path)
                    .header("Content-Type", "application/merge-patch+json")
                    .body(body.to_string().into_bytes())
                else {
                    continue;
                };
                if let Ok(mut sent) = sent.lock() {
                    sent.insert(i, Instant::now());
                }
                tokio::spawn(async move { client.request_text(request).await });
            }
        })
    };
    let mut latencies = Vec::new();
    let mut seen: HashMap<usize, ()> = HashMap::new();
    let end = Instant::now() + Duration::from_secs(seconds as u64 + 10);
    while Instant::now() < end && seen.len() < total {
        let _ = tokio::time::timeout(Duration::from_millis(200), collector.changed()).await;
        let observed = Instant::now();
        let observations = collector.collect().await;
        let sent_times = sent.lock().map(|s| s.clone()).unwrap_or_default();
        for obs in observations.iter().flatten() {
            for object in &obs.snapshot.objects {
                let Some(c) = object.failing_condition() else {
                    continue;
                };
                if c.reason != "BenchChange" {
                    continue;
                }
                let Some(i) = c
                    .message
                    .strip_prefix("change ")
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    continue;
                };
                if seen.insert(i, ()).is_none()
                    && let Some(t0) = sent_times.get(&i)
                {
                    latencies.push(observed.duration_since(*t0));
                }
            }
        }
    }
    let _ = writer.await;
    latencies.sort();
    Ok((
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.len(),
        total,
    ))
}

/// Child: fleet replica `IDENTITY` over `URL...` (the first is home), until stdin closes.
fn replica(args: &[String]) -> Result<()> {
    let identity = args.first().ok_or("replica IDENTITY URL...")?.clone();
    let urls: Vec<String> = args[1..].to_vec();
    runtime()?.block_on(async move {
        let home_uri = urls
            .first()
            .ok_or("no cluster")?
            .parse()
            .map_err(|e| format!("{e}"))?;
        let home =
            kube::Client::try_from(kube::Config::new(home_uri)).map_err(|e| e.to_string())?;
        let stores: StoreFor = {
            let home = home.clone();
            Arc::new(move |cluster: &str| {
                Arc::new(ConfigMapStore::new(
                    home.clone(),
                    "flux-system",
                    &state_name("fluxbrain-state", cluster),
                    Duration::from_secs(30),
                )) as Arc<dyn fluxbrain_core::StateStore>
            })
        };
        let fleet = Fleet::new(
            home,
            FleetConfig::new("flux-system", identity),
            collector_config(&urls)?,
            stores,
            Vec::new(),
        )
        .map_err(|e| e.to_string())?;
        println!("UP");
        let _ = std::io::stdout().flush();
        let stdin_closed = async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                    line.clear();
                }
            })
            .await;
        };
        fleet.run(stdin_closed).await;
        Ok(())
    })
}

fn run(args: &[String]) -> Result<()> {
    let clusters = flag(args, "--clusters", 100);
    let objects = flag(args, "--objects", 1000);
    let replicas = flag(args, "--replicas", 3);
    let seconds = flag(args, "--seconds", 10).to_string();
    let idle = flag(args, "--idle", 30).to_string();
    let minutes = Duration::from_secs(1800);

    let one = Spawned::start(&[
        "serve",
        "--clusters",
        "1",
        "--objects",
        &objects.to_string(),
    ])?;
    let one_urls: Vec<String> = urls(&one.until("READY", minutes)?);
    let mut watch_args = vec!["watch"];
    watch_args.extend(one_urls.iter().map(String::as_str));
    watch_args.extend(["--seconds", &seconds, "--idle", &idle]);
    let w = Spawned::start(&watch_args)?;
    for line in w.until("DONE", minutes)? {
        println!("baseline: {line}");
    }
    drop(w);
    drop(one);

    let started = Instant::now();
    let many = Spawned::start(&[
        "serve",
        "--clusters",
        &clusters.to_string(),
        "--objects",
        &objects.to_string(),
    ])?;
    let many_urls = urls(&many.until("READY", minutes)?);
    println!(
        "{clusters} simulators of {objects} objects serving after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut watch_args = vec!["watch"];
    watch_args.extend(many_urls.iter().map(String::as_str));
    watch_args.extend(["--seconds", &seconds, "--idle", &idle]);
    let w = Spawned::start(&watch_args)?;
    for line in w.until("DONE", minutes)? {
        println!("one process: {line}");
    }
    drop(w);

    // The replicas, all started at once.
    let started = Instant::now();
    let mut children = Vec::new();
    for r in 0..replicas {
        let identity = format!("replica-{r}");
        let mut replica_args = vec!["replica", identity.as_str()];
        replica_args.extend(many_urls.iter().map(String::as_str));
        let child = Spawned::start(&replica_args)?;
        child.until("UP", minutes)?;
        children.push(child);
    }
    let names: Vec<String> = (0..clusters).map(cluster_name).collect();
    let converged = runtime()?.block_on(async {
        let home_uri = many_urls
            .first()
            .ok_or("no cluster")?
            .parse()
            .map_err(|e| format!("{e}"))?;
        let home =
            kube::Client::try_from(kube::Config::new(home_uri)).map_err(|e| e.to_string())?;
        loop {
            if started.elapsed() > Duration::from_secs(600) {
                return Err("not converged within 600 s".to_owned());
            }
            if let Ok(held) = holders(&home, "flux-system", &names, Duration::from_secs(10)).await {
                let mut shares: BTreeMap<String, usize> = BTreeMap::new();
                for h in held.values().filter_map(|h| h.replica.clone()) {
                    *shares.entry(h).or_default() += 1;
                }
                let total: usize = shares.values().sum();
                let (min, max) = (shares.values().min(), shares.values().max());
                if total == clusters
                    && shares.len() == replicas
                    && max.zip(min).is_some_and(|(a, b)| a - b <= 1)
                {
                    return Ok((started.elapsed(), shares));
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })?;
    let (took, shares) = converged;
    println!(
        "{replicas} replicas x {clusters} clusters: every Lease held, shares {:?}, {:.1} s after they started",
        shares.values().collect::<Vec<_>>(),
        took.as_secs_f64()
    );
    // Let every owner sync its clusters before reading memory.
    std::thread::sleep(Duration::from_secs(30));
    for (r, child) in children.iter().enumerate() {
        println!("replica-{r}: RSS {:.1} MiB", child.rss_mib());
    }
    drop(children);
    drop(many);
    Ok(())
}

fn urls(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("URL ").map(str::to_owned))
        .collect()
}
