//! Two replicas on one cluster: a Lease elects the one that observes and delivers, the state
//! lives in a ConfigMap, and when the leader dies between queuing and sending, the other takes
//! over after the lease runs out and sends what was queued: no notification lost, none twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use fluxbrain_core::engine::StoreError;
use fluxbrain_core::{Collector, Engine, EngineConfig, Notifier, Time};
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_kube::{ConfigMapStore, LeaderElector, LeaseConfig};
use fluxbrain_notify::{SecretUrl, WebhookConfig, WebhookNotifier};
use fluxbrain_sim::Simulator;
use tokio::time::Instant;

type Received = Arc<Mutex<Vec<String>>>;

/// A webhook receiver recording each request's `Idempotency-Key`.
async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            post(
                |AxumState(r): AxumState<Received>, headers: HeaderMap| async move {
                    let key = headers
                        .get("idempotency-key")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    r.lock().unwrap().push(key);
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

struct Replica {
    elector: LeaderElector,
    collector: KubeCollector,
    client: kube::Client,
    notifier: Arc<dyn Notifier>,
    engine: Option<Engine>,
}

impl Replica {
    fn new(name: &str, kube: &kube::Config, hook: &str) -> Self {
        let client = kube::Client::try_from(kube.clone()).unwrap();
        let elector = LeaderElector::new(
            client.clone(),
            LeaseConfig {
                namespace: "flux-system".into(),
                name: "fluxbrain".into(),
                identity: name.into(),
                duration: Duration::from_secs(15),
                timeout: Duration::from_secs(10),
            },
        );
        let collector = KubeCollector::new(CollectorConfig::new(vec![ClusterConfig::new(
            "basic",
            kube.clone(),
        )]))
        .unwrap();
        let notifier: Arc<dyn Notifier> = Arc::new(
            WebhookNotifier::new(WebhookConfig::new(SecretUrl::parse(hook).unwrap())).unwrap(),
        );
        Replica {
            elector,
            collector,
            client,
            notifier,
            engine: None,
        }
    }

    /// One lease round at `at`; when leading, (re)load the state and observe.
    async fn observe(&mut self, at: Instant, now: Time) -> Result<bool, StoreError> {
        if !self.elector.tick_at(at).await {
            self.engine = None;
            return Ok(false);
        }
        if self.engine.is_none() {
            let store = Arc::new(ConfigMapStore::new(
                self.client.clone(),
                "flux-system",
                "fluxbrain-state",
                Duration::from_secs(10),
            ));
            let engine = Engine::start(
                store,
                vec![self.notifier.clone()],
                None,
                EngineConfig::default(),
            )
            .await?;
            // As `fluxbrain run` does on taking over: write first, fencing the old leader out.
            engine.save().await?;
            self.engine = Some(engine);
        }
        let engine = self.engine.as_ref().unwrap();
        engine.observe(&self.collector.collect().await, now).await?;
        Ok(true)
    }

    async fn deliver(&self, now: Time) -> Result<(), StoreError> {
        self.engine
            .as_ref()
            .unwrap()
            .deliver(0, now, 0.5)
            .await
            .map(|_| ())
    }
}

fn fail(sim: &Simulator, name: &str) {
    let mut object = sim
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "observability",
            name,
        )
        .unwrap();
    object["status"]["conditions"] = serde_json::json!([{
        "type": "Ready", "status": "False", "reason": "BuildFailed", "message": "kustomize build failed",
        "lastTransitionTime": "2026-04-21T09:31:00Z", "observedGeneration": 1
    }]);
    object["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    sim.apply(object).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_dies_between_queue_and_send() {
    let (sim, server, _kubeconfig) = crate::serve_basic("failover").await;
    let kube = kube::Config::new(server.url().parse().unwrap());
    let (hook, received) = receiver().await;
    let mut a = Replica::new("replica-a", &kube, &hook);
    let mut b = Replica::new("replica-b", &kube, &hook);
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let now = |s: i64| Time::parse("2026-04-21T09:30:00Z").unwrap().add_seconds(s);

    // a leads and delivers the cluster's 9 firings; b stands by.
    assert!(a.observe(at(0), now(0)).await.unwrap());
    assert!(!b.observe(at(0), now(0)).await.unwrap());
    a.deliver(now(0)).await.unwrap();
    assert_eq!(received.lock().unwrap().len(), 9);

    // A new failure: a queues its firing (saved in the ConfigMap), then dies before sending.
    fail(&sim, "logging-stack");
    assert!(a.observe(at(5), now(5)).await.unwrap());
    assert_eq!(received.lock().unwrap().len(), 9);
    let zombie = a.engine.take().unwrap();
    drop(a);

    // b checks every 5 s. It first sees a's last renewal (made at 5 s) at 10 s, and takes
    // over when that record has not changed for 15 s on its own clock: at 25 s, within the
    // lease duration plus one retry period of a's death. It loads the state and sends the
    // queued firing; nothing else.
    for s in [10, 15, 20] {
        assert!(
            !b.observe(at(s), now(s as i64)).await.unwrap(),
            "b took over at {s}s"
        );
    }
    assert!(
        b.observe(at(25), now(25)).await.unwrap(),
        "failover within lease + one retry"
    );
    b.deliver(now(25)).await.unwrap();
    let keys = received.lock().unwrap().clone();
    assert_eq!(keys.len(), 10, "{keys:#?}");
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10, "a notification was sent twice: {keys:#?}");
    assert!(keys[9].ends_with(":firing:1"));

    // The old leader, back from the dead with its stale view, cannot write: its next state
    // change is refused.
    fail(&sim, "tracing");
    let err = zombie
        .observe(&b.collector.collect().await, now(30))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert_eq!(received.lock().unwrap().len(), 10);
    server.shutdown().await.unwrap();
}
