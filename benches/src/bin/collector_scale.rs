//! Collector scale harness: the kube collector against a simulator in another process, beside
//! `kubectl` on the same server in the same run.
//!
//! Measures (numbers and targets in `benches/README.md`, section "Collector"):
//! - once: `KubeCollector::collect` over 10k Flux objects and 30k events, wall and CPU time of
//!   this process, against `kubectl get <the ten kinds>,events -A -o json` (wall and CPU);
//! - watch: status write → observation (`changed()` then `collect()`) p50/p99 at 10k objects
//!   with 100 status writes per second;
//! - memory: resident set of a fresh process watching 10k and 100k objects once synced, and the
//!   peak during a full relist.
//!
//! Run: `cargo run --release -p fluxbrain-benches --bin collector_scale [-- --runs 5 --seconds 10]`
//! (needs `kubectl` on PATH, or `KUBECTL=/path/to/kubectl`). The simulator runs in a child
//! process (`collector_scale serve ...`) so that its CPU and memory are not counted.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fluxbrain_core::Collector;
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_sim::{Config, Simulator};
use serde_json::json;

use fluxbrain_benches::{
    FLUX_KINDS as KINDS, NAMESPACES, cpu_ticks, generated_cluster, ms_of_ticks, percentile,
    proc_status,
};

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]),
        Some("memory") => memory(&args[1..]),
        Some("once") => once_only(&args[1..]),
        Some("watch") => watch_only(&args[1..]),
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

/// Child: serves a generated cluster, prints `URL <url>`, exits when stdin closes.
fn serve(args: &[String]) -> Result<()> {
    let objects = flag(args, "--objects", 10_000);
    let events = flag(args, "--events", 30_000);
    let state = generated_cluster(objects, events)?;
    let config = Config {
        start: "2026-04-21T09:30:00Z".parse().map_err(|e| format!("{e}"))?,
        history_limit: 100_000,
        ..Config::default()
    };
    let sim = Simulator::new(state, config).map_err(|e| e.to_string())?;
    runtime()?.block_on(async move {
        let addr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
        let server = sim.serve(addr).await.map_err(|e| e.to_string())?;
        println!("URL {}", server.url());
        let _ = std::io::stdout().flush();
        // Ends when the parent closes our stdin (or dies).
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
                line.clear();
            }
        })
        .await
        .map_err(|e| e.to_string())?;
        drop(server);
        Ok(())
    })
}

/// A simulator child process; closing its stdin (drop) ends it.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(objects: usize, events: usize) -> Result<Server> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--objects",
                &objects.to_string(),
                "--events",
                &events.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let url = line
            .trim()
            .strip_prefix("URL ")
            .ok_or(format!("child said {line:?}"))?
            .to_owned();
        Ok(Server { child, url })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn collector_config(url: &str) -> Result<CollectorConfig> {
    let uri = url.parse().map_err(|e| format!("{e}"))?;
    Ok(CollectorConfig::new(vec![ClusterConfig::new(
        "bench",
        kube::Config::new(uri),
    )]))
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn run(args: &[String]) -> Result<()> {
    let runs = flag(args, "--runs", 5);
    let seconds = flag(args, "--seconds", 10);
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
    let server = Server::start(10_000, 30_000)?;
    println!(
        "simulator (child process): 10000 Flux objects, 30000 events at {}",
        server.url
    );

    // Once, against kubectl on the same server.
    let dir =
        std::env::temp_dir().join(format!("fluxbrain-collector-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, fluxbrain_sim::kubeconfig(&server.url))
        .map_err(|e| e.to_string())?;
    let kinds: Vec<&str> = KINDS.iter().map(|k| k.0).chain(["events"]).collect();
    let resources = kinds.join(",");
    let mut kubectl_wall = Vec::new();
    let mut kubectl_cpu = Vec::new();
    for _ in 0..runs + 1 {
        let (_, children_before) = cpu_ticks();
        let start = Instant::now();
        let out = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--cache-dir")
            .arg(dir.join("cache"))
            .args(["get", &resources, "-A", "-o", "json"])
            .output()
            .map_err(|e| format!("{kubectl}: {e}"))?;
        let wall = start.elapsed();
        let (_, children_after) = cpu_ticks();
        if !out.status.success() {
            return Err(format!("kubectl: {}", String::from_utf8_lossy(&out.stderr)));
        }
        kubectl_wall.push(wall.as_millis() as u64);
        kubectl_cpu.push(ms_of_ticks(children_after - children_before));
    }
    // The first kubectl run fills its discovery cache; compare warm runs.
    kubectl_wall.remove(0);
    kubectl_cpu.remove(0);

    let rt = runtime()?;
    let (once_wall, once_cpu, objects, events) = rt.block_on(once(&server.url, runs))?;
    println!();
    println!(
        "## once: {objects} objects, {events} events (median of {runs}, after one warm-up each)"
    );
    println!("| | wall | CPU |");
    println!("|---|---:|---:|");
    println!("| fluxbrain `collect()` once | {once_wall} ms | {once_cpu} ms |");
    println!(
        "| `kubectl get {resources} -A -o json` | {} ms | {} ms |",
        median(kubectl_wall.clone()),
        median(kubectl_cpu.clone())
    );
    println!(
        "ratio fluxbrain / kubectl wall: {:.2}",
        once_wall as f64 / median(kubectl_wall).max(1) as f64
    );

    // Watch latency.
    let (p50, p99, seen, sent) = rt.block_on(watch_latency(&server.url, seconds))?;
    println!();
    println!("## watch: status write -> observation, 100 writes/s for {seconds} s at 10k objects");
    println!(
        "observed {seen} of {sent} writes; p50 {:.1} ms, p99 {:.1} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    drop(rt);

    // Memory, each in a fresh process.
    println!();
    println!("## memory of a process watching (fresh process each)");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let measure = |url: &str, label: &str| -> Result<()> {
        let out = Command::new(&exe)
            .args(["memory", url])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        println!("{label}: {}", String::from_utf8_lossy(&out.stdout).trim());
        Ok(())
    };
    measure(&server.url, "10k objects + 30k events")?;
    drop(server);
    let big = Server::start(100_000, 30_000)?;
    measure(&big.url, "100k objects + 30k events")?;
    drop(big);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `collect()` once `runs + 1` times; the median wall and CPU time of the last `runs`, and the
/// objects and events of the last.
async fn once(url: &str, runs: usize) -> Result<(u64, u64, usize, usize)> {
    let collector = KubeCollector::new(collector_config(url)?).map_err(|e| e.to_string())?;
    let mut walls = Vec::new();
    let mut cpus = Vec::new();
    let mut counts = (0, 0);
    for _ in 0..runs + 1 {
        let (cpu_before, _) = cpu_ticks();
        let start = Instant::now();
        let seen = collector
            .collect()
            .await
            .remove(0)
            .map_err(|e| e.to_string())?;
        let wall = start.elapsed();
        let (cpu_after, _) = cpu_ticks();
        walls.push(wall.as_millis() as u64);
        cpus.push(ms_of_ticks(cpu_after - cpu_before));
        counts = (seen.snapshot.objects.len(), seen.snapshot.events.len());
    }
    walls.remove(0);
    cpus.remove(0);
    Ok((median(walls), median(cpus), counts.0, counts.1))
}

/// Child for profiling: `once URL [--runs N]` prints the once numbers against a running
/// `serve` child.
fn once_only(args: &[String]) -> Result<()> {
    let url = args.first().ok_or("once URL")?.clone();
    let runs = flag(args, "--runs", 5);
    let (wall, cpu, objects, events) = runtime()?.block_on(once(&url, runs))?;
    println!("{objects} objects, {events} events: wall {wall} ms, CPU {cpu} ms (median of {runs})");
    Ok(())
}

/// Child for profiling: `watch URL [--seconds N]` prints the watch numbers against a running
/// `serve` child.
fn watch_only(args: &[String]) -> Result<()> {
    let url = args.first().ok_or("watch URL")?.clone();
    let seconds = flag(args, "--seconds", 10);
    let (p50, p99, seen, sent) = runtime()?.block_on(watch_latency(&url, seconds))?;
    println!(
        "observed {seen} of {sent} writes; p50 {:.1} ms, p99 {:.1} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    Ok(())
}

/// 100 status writes per second for `seconds`; the time from each write being sent to the
/// collector showing it after `changed()`.
async fn watch_latency(url: &str, seconds: usize) -> Result<(Duration, Duration, usize, usize)> {
    let collector =
        Arc::new(KubeCollector::new(collector_config(url)?).map_err(|e| e.to_string())?);
    collector.start();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !collector.status().iter().all(|s| s.synced) {
        if Instant::now() > deadline {
            return Err(format!("not synced: {:?}", collector.status()));
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), collector.changed()).await;
        let _ = collector.collect().await;
    }
    let sent: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let total = seconds * 100;
    let writer = {
        let sent = Arc::clone(&sent);
        let client =
            kube::Client::try_from(kube::Config::new(url.parse().map_err(|e| format!("{e}"))?))
                .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            for i in 0..total {
                tick.tick().await;
                let n = i % 1000;
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
                let client = client.clone();
                tokio::spawn(async move { client.request_text(request).await });
            }
        })
    };
    let mut latencies = Vec::new();
    let mut seen: HashMap<usize, ()> = HashMap::new();
    let end = Instant::now() + Duration::from_secs(seconds as u64 + 5);
    while Instant::now() < end && seen.len() < total {
        let _ = tokio::time::timeout(Duration::from_millis(200), collector.changed()).await;
        let observed = Instant::now();
        let Some(Ok(obs)) = collector.collect().await.into_iter().next() else {
            continue;
        };
        let sent_times = sent.lock().map(|s| s.clone()).unwrap_or_default();
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
    let _ = writer.await;
    latencies.sort();
    Ok((
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.len(),
        total,
    ))
}

/// Child: watches `url` until synced, reports RSS, then the peak during a full relist.
fn memory(args: &[String]) -> Result<()> {
    let url = args.first().ok_or("memory URL")?.clone();
    runtime()?.block_on(async move {
        let mut config = collector_config(&url)?;
        config.requeue_interval = Duration::from_secs(30);
        let collector = KubeCollector::new(config).map_err(|e| e.to_string())?;
        let started = Instant::now();
        collector.start();
        while !collector.status().iter().all(|s| s.synced) {
            if started.elapsed() > Duration::from_secs(300) {
                return Err("not synced".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let synced_after = started.elapsed();
        let objects = collector.status().first().map_or(0, |s| s.objects);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let steady = proc_status("VmRSS:");
        // Reset the peak to now (Linux: "5" > /proc/self/clear_refs), then wait for the
        // scheduled resync, which relists every source.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let relists = collector.metrics().relists;
        while collector.metrics().relists < relists * 2 {
            if started.elapsed() > Duration::from_secs(600) {
                return Err("no relist".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let peak = proc_status("VmHWM:");
        println!(
            "{objects} objects held, synced in {:.1} s; steady RSS {:.1} MiB; peak during relist {:.1} MiB ({:.2}x)",
            synced_after.as_secs_f64(),
            steady as f64 / 1024.0,
            peak as f64 / 1024.0,
            peak as f64 / steady.max(1) as f64
        );
        Ok(())
    })
}
