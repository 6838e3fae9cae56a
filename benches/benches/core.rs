//! fluxbrain-core micro benchmarks: the whole offline pipeline for one failing object, and the
//! fingerprint alone, each beside a serde_json baseline measured in the same run.
//!
//! `cargo bench -p fluxbrain-benches --bench core`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fluxbrain_benches::{controller_pod, events, failing_kustomization, git_repository, log_lines};
use fluxbrain_core::{
    BuildOptions, Document, Fingerprint, FingerprintInput, Snapshot, build_all, canonical,
    parse_document, parse_log_line,
};
use serde_json::Value;

struct Input {
    object: Value,
    source: Value,
    pod: Value,
    events: Vec<Value>,
    lines: Vec<String>,
}

fn input() -> Input {
    Input {
        object: failing_kustomization("shop-config"),
        source: git_repository(),
        pod: controller_pod(),
        events: events("shop-config", 5),
        lines: log_lines("shop-config", 10),
    }
}

/// Parse, classify, build and serialize: everything `render` does for one object but I/O.
fn pipeline(input: &Input, out: &mut Vec<u8>) {
    let snapshot = parse(input);
    build_and_write(&snapshot, out);
}

fn parse(input: &Input) -> Snapshot {
    let mut snapshot = Snapshot::new("prod-eu-west-1");
    let mut warnings = Vec::new();
    for value in [&input.object, &input.source, &input.pod]
        .into_iter()
        .chain(&input.events)
    {
        for doc in parse_document(value, &mut warnings) {
            match doc {
                Ok(Document::Object(o)) => snapshot.objects.push(o.into()),
                Ok(Document::Event(e)) => snapshot.events.push(e),
                Ok(Document::Pod(p)) => snapshot.pods.push(p),
                _ => {}
            }
        }
    }
    for line in &input.lines {
        if let Ok(Some(line)) =
            parse_log_line(line, "kustomize-controller-7b5d9c6f48-m2kzt", "manager")
        {
            snapshot.logs.push(line);
        }
    }
    snapshot
}

fn build_and_write(snapshot: &Snapshot, out: &mut Vec<u8>) {
    out.clear();
    for event in build_all(snapshot, &BuildOptions::default()) {
        canonical::write(out, &event, false);
    }
}

fn event_pipeline(c: &mut Criterion) {
    let input = input();
    let mut out = Vec::new();
    pipeline(&input, &mut out);
    assert!(!out.is_empty(), "the benchmark object must fail");
    eprintln!("event size: {} bytes", out.len());
    // Baseline: serde_json serializing the same event held as a generic Value.
    let as_value: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);

    let mut group = c.benchmark_group("event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("fluxbrain: parse+classify+build+serialize", |b| {
        b.iter(|| pipeline(black_box(&input), &mut out));
    });
    let snapshot = parse(&input);
    group.bench_function("part: parse only", |b| b.iter(|| parse(black_box(&input))));
    group.bench_function("part: build+serialize only", |b| {
        b.iter(|| build_and_write(black_box(&snapshot), &mut out));
    });
    group.bench_function("baseline: serde_json::to_vec(Value)", |b| {
        b.iter(|| serde_json::to_vec(black_box(&as_value)));
    });
    group.finish();
}

fn fingerprint(c: &mut Criterion) {
    let input = FingerprintInput {
        cluster: "prod-eu-west-1",
        namespace: "shop",
        kind: "Kustomization",
        name: "shop-config",
        reason: "BuildFailed",
        revision: "main@sha1:312cbb1905592a6a3686eeda5324738a17049e51",
    };
    let mut group = c.benchmark_group("fingerprint");
    group.throughput(Throughput::Elements(1));
    group.bench_function("fluxbrain: Fingerprint::of", |b| {
        b.iter(|| Fingerprint::of(black_box(&input)));
    });
    // Part: SHA-256 alone over bytes of the same length (what hashing costs on this CPU).
    let bytes = vec![b'x'; 170];
    group.bench_function("part: sha256 of 170 bytes", |b| {
        b.iter(|| <sha2::Sha256 as sha2::Digest>::digest(black_box(&bytes)));
    });
    // Baseline: serde_json writing the same six-key object (no hashing).
    let value = serde_json::json!({
        "cluster": input.cluster, "namespace": input.namespace, "kind": input.kind,
        "name": input.name, "reason": input.reason, "gitRev": input.revision,
    });
    group.bench_function("baseline: serde_json::to_vec(6-key Value)", |b| {
        b.iter(|| serde_json::to_vec(black_box(&value)));
    });
    group.finish();
}

criterion_group!(benches, event_pipeline, fingerprint);
criterion_main!(benches);
