//! Engine benchmarks: one policy step over 10k objects, and saving/loading 10k open incidents.
//!
//! `cargo bench -p fluxbrain-benches --bench engine`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fluxbrain_benches::cluster;
use fluxbrain_cli::state_file::FileStore;
use fluxbrain_core::engine::{MemoryStore, StateStore, encode};
use fluxbrain_core::{ClusterObservation, Engine, EngineConfig, Time};
use futures::executor::block_on;

const OBJECTS: usize = 10_000;

fn policy_step(c: &mut Criterion) {
    // 1 in 20 objects failing, incidents already open: the steady state of a cycle.
    let observation = vec![Ok(ClusterObservation {
        snapshot: cluster(OBJECTS, 20),
        unobserved: vec![],
        unreadable: vec![],
    })];
    let engine = block_on(Engine::start(
        Arc::new(MemoryStore::new()),
        vec![],
        None,
        EngineConfig::default(),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let now = Time::parse("2026-04-21T10:00:00Z").unwrap_or(Time::UNIX_EPOCH);
    let first = block_on(engine.observe(&observation, now)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.notifications.len(), OBJECTS / 20);

    let mut group = c.benchmark_group("policy");
    group.sample_size(20);
    group.throughput(Throughput::Elements(OBJECTS as u64));
    group.bench_function("observe 10k objects (5% failing, steady)", |b| {
        b.iter(|| block_on(engine.observe(black_box(&observation), now)));
    });
    group.bench_function("part: clone the 10k objects of a snapshot", |b| {
        b.iter(|| {
            observation[0]
                .as_ref()
                .map(|o| o.snapshot.objects.clone())
                .ok()
        });
    });
    group.bench_function("baseline: index 10k objects + health of each", |b| {
        b.iter(|| {
            let snapshot = &observation[0].as_ref().map(|o| &o.snapshot);
            let index = snapshot.map(|s| s.index()).ok();
            index.map(|i| {
                i.objects()
                    .iter()
                    .filter(|o| o.health() == fluxbrain_core::Health::Failing)
                    .count()
            })
        });
    });
    group.finish();
}

fn state_stores(c: &mut Criterion) {
    let state = fluxbrain_core::engine::conformance::sample_state(10_000);
    let bytes = encode(&state).len();
    let resolved = state.history.len();
    eprintln!(
        "state of 10k open incidents and {resolved} resolved ones (history, with timelines): {bytes} bytes encoded"
    );
    let dir = std::env::temp_dir().join(format!("fluxbrain-bench-{}", std::process::id()));
    let file = FileStore::new(dir.join("state.json"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));

    let mut group = c.benchmark_group("state 10k incidents");
    group.sample_size(10);
    group.bench_function("file store: save", |b| {
        b.iter(|| runtime.block_on(file.save(black_box(&state))));
    });
    group.bench_function("file store: load", |b| {
        b.iter(|| runtime.block_on(file.load()));
    });
    group.bench_function("baseline: serde_json::to_vec(state)", |b| {
        b.iter(|| serde_json::to_vec(black_box(&state)));
    });

    // The ConfigMap store against the simulator's API server (same process, loopback HTTP).
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (server, store) = multi.block_on(async {
        let sim = fluxbrain_sim::Simulator::new(
            fluxbrain_sim::State::new(),
            fluxbrain_sim::Config::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let server = sim
            .serve(([127, 0, 0, 1], 0).into())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let url = server.url().parse().unwrap_or_else(|e| panic!("{e}"));
        let client =
            kube::Client::try_from(kube::Config::new(url)).unwrap_or_else(|e| panic!("{e}"));
        let store = fluxbrain_kube::ConfigMapStore::new(
            client,
            "default",
            "fluxbrain-state",
            std::time::Duration::from_secs(60),
        );
        let _ = store.load().await;
        (server, store)
    });
    group.bench_function("configmap store: save", |b| {
        b.iter(|| multi.block_on(store.save(black_box(&state))));
    });
    group.bench_function("configmap store: load", |b| {
        b.iter(|| multi.block_on(store.load()));
    });
    group.finish();
    let _ = multi.block_on(server.shutdown());
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, policy_step, state_stores);
criterion_main!(benches);
