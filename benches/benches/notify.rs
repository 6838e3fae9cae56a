//! Notifications per second through the webhook notifier to a local axum server, 64 in
//! flight, beside a baseline measured in the same run: raw reqwest POSTs of the same body bytes
//! and headers to the same server (what the notifier adds is the envelope, the signature, the
//! classification and the logging).
//!
//! `cargo bench -p fluxbrain-benches --bench notify`

use std::hint::black_box;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::post;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fluxbrain_benches::{controller_pod, events, failing_kustomization, git_repository, log_lines};
use fluxbrain_core::{
    BuildOptions, Document, Notification, NotificationKind, Notifier, Snapshot, Time, build_all,
    parse_document, parse_log_line,
};
use fluxbrain_notify::webhook::{self, signature};
use fluxbrain_notify::{Secret, SecretUrl, WebhookConfig, WebhookFormat, WebhookNotifier};
use futures::StreamExt;

const IN_FLIGHT: usize = 64;
const PER_ITERATION: usize = 512;
const KEY: &str = "bench-hmac-key";

/// `PER_ITERATION` distinct notifications about realistic failing Kustomizations.
fn notes() -> Vec<Notification> {
    let mut snapshot = Snapshot::new("prod");
    let mut warnings = Vec::new();
    let mut add = |value: &serde_json::Value, snapshot: &mut Snapshot| {
        for doc in parse_document(value, &mut warnings) {
            match doc {
                Ok(Document::Object(o)) => snapshot.objects.push(o.into()),
                Ok(Document::Event(e)) => snapshot.events.push(e),
                Ok(Document::Pod(p)) => snapshot.pods.push(p),
                _ => {}
            }
        }
    };
    add(&git_repository(), &mut snapshot);
    add(&controller_pod(), &mut snapshot);
    for i in 0..64 {
        let name = format!("shop-config-{i}");
        add(&failing_kustomization(&name), &mut snapshot);
        for e in events(&name, 5) {
            add(&e, &mut snapshot);
        }
        for line in log_lines(&name, 10) {
            if let Ok(Some(l)) =
                parse_log_line(&line, "kustomize-controller-7b5d9c6f48-m2kzt", "manager")
            {
                snapshot.logs.push(l);
            }
        }
    }
    let built = build_all(&snapshot, &BuildOptions::default());
    assert_eq!(built.len(), 64, "64 failing objects");
    let at = Time::parse("2026-04-21T09:30:00Z").unwrap_or(Time::UNIX_EPOCH);
    (0..PER_ITERATION)
        .map(|i| {
            let event = built[i % built.len()].clone();
            let occurrence = u32::try_from(i / built.len() + 1).unwrap_or(1);
            let kind = if occurrence == 1 {
                NotificationKind::Firing
            } else {
                NotificationKind::Reminder
            };
            Notification {
                id: Notification::id_for(&event.id, kind, occurrence),
                kind,
                incident_id: event.id.clone(),
                occurrence,
                at,
                event,
                affected: Vec::new(),
                change: None,
                acknowledged: None,
                analysis: None,
            }
        })
        .collect()
}

/// A receiver that reads the body and answers 204.
async fn serve() -> SocketAddr {
    let app = Router::new().route(
        "/hook",
        post(|body: Bytes| async move {
            black_box(body.len());
            StatusCode::NO_CONTENT
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let addr = rt.block_on(serve());
    let url = format!("http://{addr}/hook");
    let notes = notes();

    let notifier = |secret: Option<&str>| {
        let mut config = WebhookConfig::new(SecretUrl::parse(&url).expect("url"));
        config.secret = secret.map(Secret::new);
        rt.block_on(async { WebhookNotifier::new(config).expect("notifier") })
    };
    let signed = notifier(Some(KEY));
    let unsigned = notifier(None);

    // The baseline sends exactly what the signed notifier sends, prepared up front.
    let prepared: Vec<(String, Vec<u8>, String)> = notes
        .iter()
        .map(|n| {
            let body = webhook::body(n, WebhookFormat::Envelope);
            let sig = signature::sign(KEY.as_bytes(), &body);
            (n.id.clone(), body, sig)
        })
        .collect();
    let raw = rt.block_on(async {
        fluxbrain_notify::http::client_builder("baseline")
            .expect("tls")
            .build()
            .expect("client")
    });

    let mut group = c.benchmark_group("webhook_64_in_flight");
    group.throughput(Throughput::Elements(PER_ITERATION as u64));
    group.sample_size(20);

    for (name, notifier) in [
        ("notifier_signed", &signed),
        ("notifier_unsigned", &unsigned),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let failures = futures::stream::iter(&notes)
                        .map(|n| notifier.deliver(n, None))
                        .buffer_unordered(IN_FLIGHT)
                        .filter(|r| std::future::ready(r.is_err()))
                        .count()
                        .await;
                    assert_eq!(failures, 0);
                })
            })
        });
    }

    group.bench_function("baseline_raw_reqwest", |b| {
        b.iter(|| {
            rt.block_on(async {
                let failures = futures::stream::iter(&prepared)
                    .map(|(id, body, sig)| {
                        raw.post(&url)
                            .header("content-type", "application/json")
                            .header("idempotency-key", id.as_str())
                            .header("x-fluxbrain-signature-256", sig.as_str())
                            .body(body.clone())
                            .send()
                    })
                    .buffer_unordered(IN_FLIGHT)
                    .filter(|r| {
                        std::future::ready(!matches!(r, Ok(resp) if resp.status().is_success()))
                    })
                    .count()
                    .await;
                assert_eq!(failures, 0);
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
