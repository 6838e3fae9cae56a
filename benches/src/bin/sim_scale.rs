//! Simulator scale harness: a generated cluster of 10k Flux objects (all ten kinds) and 30k
//! events, served by the in-process simulator; reports the simulator's memory and the wall time
//! of `kubectl get <kind> -A -o json` for every kind (the baseline the collector is measured
//! against).
//!
//! Run: `cargo run --release -p fluxbrain-benches --bin sim_scale [-- --objects N --events N --runs N --hold]`
//! (needs `kubectl` on PATH, or `KUBECTL=/path/to/kubectl`).

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use fluxbrain_sim::{Config, Simulator, State};
use serde_json::{Value, json};

use fluxbrain_benches::{FLUX_KINDS as KINDS, NAMESPACES, proc_status};

fn main() -> ExitCode {
    let mut objects = 10_000usize;
    let mut events = 30_000usize;
    let mut runs = 3usize;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--hold`: keep serving after the report (for probing the server with other clients).
    let hold = args.iter().any(|a| a == "--hold");
    args.retain(|a| a != "--hold");
    for pair in args.chunks(2) {
        let value = pair.get(1).and_then(|v| v.parse().ok());
        match (pair[0].as_str(), value) {
            ("--objects", Some(v)) => objects = v,
            ("--events", Some(v)) => events = v,
            ("--runs", Some(v)) => runs = v,
            _ => {
                eprintln!("usage: sim_scale [--objects N] [--events N] [--runs N] [--hold]");
                return ExitCode::from(2);
            }
        }
    }
    let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_string());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let rss_start = rss_kib();
    let started = Instant::now();
    let state = match generate(objects, events) {
        Ok(state) => state,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let generated = started.elapsed();
    let config = Config {
        start: "2026-04-21T09:30:00Z"
            .parse()
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        ..Config::default()
    };
    let loading = Instant::now();
    let sim = match Simulator::new(state, config) {
        Ok(sim) => sim,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let loaded = loading.elapsed();
    let rss_loaded = rss_kib();
    runtime.block_on(async move {
        let server = match sim.serve("127.0.0.1:0".parse().unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 0)))).await {
            Ok(server) => server,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        };
        let dir = std::env::temp_dir().join(format!("fluxbrain-sim-scale-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let kubeconfig = dir.join("kubeconfig");
        if let Err(err) = server.write_kubeconfig(&kubeconfig) {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
        println!("simulator: {objects} Flux objects ({} per kind), {events} events, {NAMESPACES} namespaces", objects / KINDS.len());
        println!("generate state: {:.2}s, load into simulator: {:.2}s", generated.as_secs_f64(), loaded.as_secs_f64());
        let mut resources: Vec<(&str, usize)> = KINDS.iter().map(|(plural, _, _)| (*plural, objects / KINDS.len())).collect();
        resources.push(("events", events));
        println!();
        println!("| `kubectl get <kind> -A -o json` | items | JSON bytes | wall time (median of {runs}) |");
        println!("|---|---:|---:|---:|");
        let mut total = Duration::ZERO;
        for (plural, want) in resources {
            let mut times = Vec::new();
            let mut bytes = 0;
            for _ in 0..runs.max(1) {
                let start = Instant::now();
                let out = tokio::task::spawn_blocking({
                    let (kubectl, kubeconfig, cache) = (kubectl.clone(), kubeconfig.clone(), dir.join("cache"));
                    move || Command::new(kubectl).arg("--kubeconfig").arg(kubeconfig).arg("--cache-dir").arg(cache).args(["get", plural, "-A", "-o", "json"]).output()
                })
                .await;
                let elapsed = start.elapsed();
                let out = match out {
                    Ok(Ok(out)) if out.status.success() => out,
                    Ok(Ok(out)) => {
                        eprintln!("error: kubectl get {plural}: {}", String::from_utf8_lossy(&out.stderr));
                        return ExitCode::FAILURE;
                    }
                    Ok(Err(err)) => {
                        eprintln!("error: cannot run {kubectl}: {err}");
                        return ExitCode::FAILURE;
                    }
                    Err(err) => {
                        eprintln!("error: {err}");
                        return ExitCode::FAILURE;
                    }
                };
                let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
                let got = list["items"].as_array().map_or(0, Vec::len);
                if got != want {
                    eprintln!("error: kubectl get {plural} returned {got} items, expected {want}");
                    return ExitCode::FAILURE;
                }
                bytes = out.stdout.len();
                times.push(elapsed);
            }
            times.sort();
            let median = times[times.len() / 2];
            total += median;
            println!("| {plural} | {want} | {bytes} | {} ms |", median.as_millis());
        }
        println!("| **all kinds** | {} | | **{} ms** |", objects / KINDS.len() * KINDS.len() + events, total.as_millis());
        println!();
        let rss_served = rss_kib();
        let peak = peak_kib();
        println!(
            "simulator process RSS: {} MiB before generating, {} MiB with the state loaded, {} MiB after serving every list; peak {} MiB",
            rss_start / 1024,
            rss_loaded / 1024,
            rss_served / 1024,
            peak / 1024
        );
        if hold {
            println!("serving {} until killed (kubeconfig {})", server.url(), kubeconfig.display());
            std::future::pending::<()>().await;
        }
        let _ = server.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
        ExitCode::SUCCESS
    })
}

/// A generated cluster: `objects` Flux objects spread over the ten kinds and 50 namespaces
/// (a quarter failing), and `events` core Events about them.
fn generate(objects: usize, events: usize) -> Result<State, fluxbrain_sim::Error> {
    let mut state = State::new();
    let per_kind = objects / KINDS.len();
    let mut targets = Vec::with_capacity(objects);
    for (k, (_, api_version, kind)) in KINDS.iter().enumerate() {
        for i in 0..per_kind {
            let ns = format!("team-{:02}", i % NAMESPACES);
            let name = format!("{}-{i:05}", kind.to_ascii_lowercase());
            let failing = i % 4 == 0;
            let (status, reason, message) = if failing {
                (
                    "False",
                    "ReconciliationFailed",
                    format!(
                        "{kind} {ns}/{name}: reconciliation failed: timeout waiting for: [Deployment/{ns}/app-{i} status: 'InProgress']"
                    ),
                )
            } else {
                (
                    "True",
                    "ReconciliationSucceeded",
                    format!("Applied revision: main@sha1:{:040x}", i * 7919 + k),
                )
            };
            let uid = format!("{:08x}-0000-4000-8000-{:012x}", k, i);
            state.insert(json!({
                "apiVersion": api_version,
                "kind": kind,
                "metadata": {
                    "name": name, "namespace": ns, "uid": uid, "generation": 2,
                    "creationTimestamp": "2026-01-12T14:03:27Z",
                    "finalizers": ["finalizers.fluxcd.io"],
                    "labels": {"kustomize.toolkit.fluxcd.io/name": "flux-system", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
                },
                "spec": {"interval": "10m0s", "path": format!("./apps/{name}"), "prune": true,
                         "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}},
                "status": {
                    "observedGeneration": 2,
                    "lastAttemptedRevision": format!("main@sha1:{:040x}", i * 7919 + k),
                    "conditions": [
                        {"type": "Ready", "status": status, "reason": reason, "message": message,
                         "lastTransitionTime": "2026-04-21T09:14:07Z", "observedGeneration": 2}
                    ]
                }
            }))?;
            targets.push((*api_version, *kind, ns, name, uid));
        }
    }
    for e in 0..events {
        let Some((api_version, kind, ns, name, uid)) = targets.get(e % targets.len().max(1)) else {
            break;
        };
        let ts = format!("2026-04-21T09:{:02}:{:02}Z", (e / 60) % 60, e % 60);
        state.insert(json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{name}.{e:016x}"), "namespace": ns, "creationTimestamp": ts},
            "involvedObject": {"apiVersion": api_version, "kind": kind, "name": name, "namespace": ns, "uid": uid},
            "reason": if e % 3 == 0 { "ReconciliationFailed" } else { "Progressing" },
            "message": format!("event {e} about {kind} {ns}/{name}"),
            "type": if e % 3 == 0 { "Warning" } else { "Normal" },
            "count": 1 + e % 5, "firstTimestamp": ts, "lastTimestamp": ts, "eventTime": null,
            "source": {"component": "kustomize-controller"}, "reportingComponent": "kustomize-controller", "reportingInstance": ""
        }))?;
    }
    Ok(state)
}

/// Resident set size of this process, KiB (0 where /proc is not there).
fn rss_kib() -> u64 {
    proc_status("VmRSS:")
}

/// Peak resident set size of this process, KiB.
fn peak_kib() -> u64 {
    proc_status("VmHWM:")
}
