//! Delivery under pressure: 300 incidents open in one cycle and go to the webhook notifier
//! through the engine, driven as the runtime drives it (a round, then wait until the next is
//! due), against a local receiver with 200 ms latency:
//!
//! - drain time and p99 latency with 1 request in flight (the baseline: one at a time) and
//!   with 4 (`FLUXBRAIN_NOTIFY_CONCURRENCY`'s default);
//! - the first request of one incident hanging 30 s (cut at the notifier's 10 s timeout, then
//!   retried after the 30 s backoff): the p99 of the other 299;
//! - half the requests answered 429 with `Retry-After: 1`.
//!
//! Run: `cargo run --release -p fluxbrain-benches --bin delivery [-- --incidents N]`

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fluxbrain_core::{ClusterObservation, Engine, EngineConfig, MemoryStore, Notifier, Time};
use fluxbrain_notify::{SecretUrl, WebhookConfig, WebhookNotifier};

/// How the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// 200 after 200 ms.
    Latency,
    /// Like `Latency`, but the first request for the first incident hangs 30 s (the retry
    /// goes through).
    OneHangs,
    /// Like `Latency`, but every second request is a 429 with `Retry-After: 1`.
    HalfThrottled,
}

struct Receiver {
    behaviour: Behaviour,
    started: Instant,
    requests: AtomicU64,
    hung: std::sync::atomic::AtomicBool,
    /// Per incident name: when its 2xx was sent.
    delivered: Mutex<HashMap<String, Duration>>,
}

async fn receive(State(r): State<Arc<Receiver>>, body: axum::body::Bytes) -> Response {
    let n = r.requests.fetch_add(1, Ordering::SeqCst);
    let envelope: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let name = envelope["event"]["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if r.behaviour == Behaviour::OneHangs
        && name == "app-00000"
        && !r.hung.swap(true, Ordering::SeqCst)
    {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    if r.behaviour == Behaviour::HalfThrottled && n % 2 == 1 {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response();
    }
    r.delivered
        .lock()
        .unwrap()
        .entry(name)
        .or_insert_with(|| r.started.elapsed());
    StatusCode::NO_CONTENT.into_response()
}

/// What one scenario measured.
struct Measured {
    drain: Duration,
    p50: Duration,
    p99: Duration,
    p99_others: Duration,
    requests: u64,
}

async fn scenario(incidents: usize, concurrency: usize, behaviour: Behaviour) -> Measured {
    let receiver = Arc::new(Receiver {
        behaviour,
        started: Instant::now(),
        requests: AtomicU64::new(0),
        hung: std::sync::atomic::AtomicBool::new(false),
        delivered: Mutex::new(HashMap::new()),
    });
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = SecretUrl::parse(&format!("http://{addr}/hook")).unwrap();
    let webhook: Arc<dyn Notifier> =
        Arc::new(WebhookNotifier::new(WebhookConfig::new(url)).unwrap());
    let config = EngineConfig {
        delivery_concurrency: concurrency,
        ..EngineConfig::default()
    };
    let engine = Engine::start(Arc::new(MemoryStore::new()), vec![webhook], None, config)
        .await
        .unwrap();
    let snapshot = fluxbrain_benches::cluster(incidents, 1);
    let now = || Time::new(jiff::Timestamp::now());
    let report = engine
        .observe(
            &[Ok(ClusterObservation {
                snapshot,
                unobserved: vec![],
                unreadable: vec![],
            })],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(report.notifications.len(), incidents);
    let started = Instant::now();
    // As the runtime's delivery task: a round, then wait until something is due again.
    loop {
        engine
            .deliver(0, now(), fastrand_like(started))
            .await
            .unwrap();
        match engine.next_due(0).await {
            None => break,
            Some(at) => {
                let wait =
                    at.timestamp().as_millisecond() - jiff::Timestamp::now().as_millisecond();
                tokio::time::sleep(Duration::from_millis(
                    u64::try_from(wait).unwrap_or(0).max(10),
                ))
                .await;
            }
        }
    }
    let drain = started.elapsed();
    let delivered = receiver.delivered.lock().unwrap().clone();
    assert_eq!(delivered.len(), incidents, "everything delivered");
    let mut all: Vec<Duration> = delivered.values().copied().collect();
    all.sort();
    let mut others: Vec<Duration> = delivered
        .iter()
        .filter(|(name, _)| name.as_str() != "app-00000")
        .map(|(_, d)| *d)
        .collect();
    others.sort();
    let pct =
        |v: &[Duration], p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
    Measured {
        drain,
        p50: pct(&all, 0.50),
        p99: pct(&all, 0.99),
        p99_others: pct(&others, 0.99),
        requests: receiver.requests.load(Ordering::SeqCst),
    }
}

/// A jitter draw without a random source: the engine only needs it in [0, 1].
fn fastrand_like(started: Instant) -> f64 {
    f64::from(started.elapsed().subsec_nanos() % 1000) / 1000.0
}

fn main() -> ExitCode {
    let mut incidents = 300usize;
    let mut only: Option<String> = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut rest = args.as_slice();
    while let [flag, value, tail @ ..] = rest {
        match flag.as_str() {
            "--incidents" => match value.parse() {
                Ok(n) if n > 1 => incidents = n,
                _ => {
                    eprintln!("--incidents: {value:?} is not a number above 1");
                    return ExitCode::from(2);
                }
            },
            "--scenario" => only = Some(value.clone()),
            _ => break,
        }
        rest = tail;
    }
    if !rest.is_empty() {
        eprintln!("usage: delivery [--incidents N] [--scenario latency|hang|half-429]");
        return ExitCode::from(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("{incidents} incidents, receiver latency 200 ms");
    println!("| scenario | in flight | drain | p50 | p99 | p99 of the others | requests |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let scenarios = [
        ("latency", "200 ms each", 1, Behaviour::Latency),
        ("latency", "200 ms each", 4, Behaviour::Latency),
        ("hang", "one hangs 30 s", 1, Behaviour::OneHangs),
        ("hang", "one hangs 30 s", 4, Behaviour::OneHangs),
        (
            "half-429",
            "half 429, Retry-After 1",
            4,
            Behaviour::HalfThrottled,
        ),
    ];
    if let Some(only) = &only
        && !scenarios.iter().any(|(id, ..)| id == only)
    {
        eprintln!("--scenario: {only:?} is not latency, hang or half-429");
        return ExitCode::from(2);
    }
    for (_, name, concurrency, behaviour) in scenarios
        .into_iter()
        .filter(|(id, ..)| only.as_deref().is_none_or(|o| o == *id))
    {
        let m = runtime.block_on(scenario(incidents, concurrency, behaviour));
        println!(
            "| {name} | {concurrency} | {:.1} s | {:.1} s | {:.1} s | {:.1} s | {} |",
            m.drain.as_secs_f64(),
            m.p50.as_secs_f64(),
            m.p99.as_secs_f64(),
            m.p99_others.as_secs_f64(),
            m.requests
        );
    }
    ExitCode::SUCCESS
}
