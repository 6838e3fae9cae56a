//! The HTTP endpoints of continuous mode (DESIGN.md section 15).
//!
//! - `/healthz`: the process answers;
//! - `/readyz`: every cluster synced and the last state write succeeded (503 and the reasons
//!   otherwise);
//! - `/metrics`: Prometheus text: objects by cluster, kind and health; open incidents;
//!   notifications sent, failed and pending by notifier; per cluster, whether it is synced and
//!   which kinds it serves but cannot read; the collector's counters (API requests and errors
//!   by class, forbidden kinds, watch restarts, relists, skipped documents, log reads); the
//!   duration of policy steps;
//! - `/v1/incidents` and `/v1/summary`: JSON, what `fluxbrain status` shows; behind a bearer
//!   token when `FLUXBRAIN_API_TOKEN` is set.
//!
//! A replica that does not hold the lease has no engine: its `/v1` routes read the shared
//! state store instead (what the leader last saved), so a Service in front of all replicas
//! answers the same from each. Without a token, `/v1` is open to whoever reaches the port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::Router;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fluxbrain_core::{Engine, Health, State, StateStore};
use fluxbrain_kube::collector::KubeCollector;
use fluxbrain_kube::runtime::{Observer, Step};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::summary::{ClusterSummary, Incidents, Summary};

/// Every health, for the zeros.
const HEALTHS: [Health; 5] = [
    Health::Healthy,
    Health::Failing,
    Health::Progressing,
    Health::Suspended,
    Health::Unknown,
];

/// Labels of a metric.
type Labels = Vec<(String, String)>;

/// What the endpoints read: the collector, the engine, and what the last policy steps saw.
pub struct Live {
    collector: Arc<KubeCollector>,
    /// The engine of the lease holder, `None` on a standby replica.
    engine: RwLock<Option<Arc<Engine>>>,
    /// Where a standby reads the state the leader saved.
    store: Option<Arc<dyn StateStore>>,
    token: Option<String>,
    last: Mutex<LastStep>,
    steps: Histogram,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").finish_non_exhaustive()
    }
}

/// What the last policy step saw.
#[derive(Debug, Default)]
struct LastStep {
    leading: bool,
    /// The last state write failed (and why), or the engine could not start.
    state_error: Option<String>,
    /// Objects by cluster, kind and health.
    objects: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
}

impl Live {
    /// Endpoints over `collector` and the engine the runtime reports (on a standby, `store`);
    /// `token` guards the `/v1` routes.
    pub fn new(
        collector: Arc<KubeCollector>,
        store: Option<Arc<dyn StateStore>>,
        token: Option<String>,
    ) -> Self {
        Live {
            collector,
            engine: RwLock::new(None),
            store,
            token,
            last: Mutex::new(LastStep::default()),
            // 1 ms to about 33 s.
            steps: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
        }
    }

    fn current(&self) -> Option<Arc<Engine>> {
        self.engine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn last(&self) -> std::sync::MutexGuard<'_, LastStep> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `f` over the state: the engine's (not copied), or on a standby what the leader last
    /// saved.
    async fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> Result<R, String> {
        if let Some(engine) = self.current() {
            return Ok(engine.inspect(f).await);
        }
        let Some(store) = &self.store else {
            return Err("no state loaded yet".to_owned());
        };
        match store.load().await {
            Ok(state) => Ok(f(&state.unwrap_or_default())),
            Err(e) => Err(format!("{}: {e}", store.name())),
        }
    }

    async fn summary(&self) -> Result<Summary, String> {
        let mut summary = self.with_state(Summary::of_state).await?;
        let last = self.last();
        summary.leading = Some(last.leading);
        summary.objects = last.objects.clone();
        summary.clusters = self
            .collector
            .status()
            .iter()
            .map(ClusterSummary::from)
            .collect();
        Ok(summary)
    }

    async fn metrics(&self) -> String {
        let mut registry = Registry::with_prefix("fluxbrain");
        let objects = Family::<Labels, Gauge>::default();
        for (cluster, kinds) in &self.last().objects {
            for (kind, healths) in kinds {
                for (health, n) in healths {
                    let labels = vec![
                        ("cluster".to_owned(), cluster.clone()),
                        ("kind".to_owned(), kind.clone()),
                        ("health".to_owned(), health.clone()),
                    ];
                    objects.get_or_create(&labels).set(gauge(*n));
                }
            }
        }
        registry.register("objects", "Objects by health", objects);

        if let Some(engine) = self.current() {
            let summary = engine.inspect(Summary::of_state).await;
            let open = Gauge::<i64>::default();
            open.set(gauge(summary.incidents.open));
            registry.register("incidents_open", "Open incidents", open);
            let sent = Family::<Labels, Counter>::default();
            let failed = Family::<Labels, Counter>::default();
            let pending = Family::<Labels, Gauge>::default();
            for (name, n) in &summary.notifiers {
                let labels = vec![("notifier".to_owned(), name.clone())];
                sent.get_or_create(&labels).inc_by(n.sent);
                failed.get_or_create(&labels).inc_by(n.failed);
                pending.get_or_create(&labels).set(gauge(n.pending));
            }
            registry.register("notifications_sent", "Notifications delivered", sent);
            registry.register("notifications_failed", "Failed delivery attempts", failed);
            registry.register(
                "notifications_pending",
                "Notifications waiting for a notifier",
                pending,
            );
        }

        let synced = Family::<Labels, Gauge>::default();
        let unobserved = Family::<Labels, Gauge>::default();
        for cluster in self.collector.status() {
            let name = ("cluster".to_owned(), cluster.name.clone());
            synced
                .get_or_create(&vec![name.clone()])
                .set(i64::from(cluster.synced && cluster.error.is_none()));
            for kind in &cluster.unobserved {
                let labels = vec![name.clone(), ("kind".to_owned(), kind.to_string())];
                unobserved.get_or_create(&labels).set(1);
            }
        }
        registry.register(
            "cluster_synced",
            "1 when every served kind of the cluster is listed and it is reachable",
            synced,
        );
        registry.register(
            "kind_unobserved",
            "Kinds a cluster serves that cannot be read now (RBAC, not listed yet)",
            unobserved,
        );

        let m = self.collector.metrics();
        let counter = |n: u64| {
            let c = Counter::<u64>::default();
            c.inc_by(n);
            c
        };
        registry.register(
            "kube_requests",
            "Plain Kubernetes API requests",
            counter(m.requests),
        );
        let errors = Family::<Labels, Counter>::default();
        for (class, n) in &m.api_errors {
            errors
                .get_or_create(&vec![("class".to_owned(), class.to_string())])
                .inc_by(*n);
        }
        registry.register("kube_api_errors", "Failed API calls by class", errors);
        registry.register(
            "kube_forbidden",
            "Kinds or events that RBAC forbids reading",
            counter(m.forbidden_kinds),
        );
        registry.register(
            "watch_restarts",
            "Watch streams restarted",
            counter(m.watch_restarts),
        );
        registry.register("kube_relists", "Complete relists", counter(m.relists));
        registry.register(
            "objects_skipped",
            "Documents that could not be parsed",
            counter(m.objects_skipped),
        );
        registry.register(
            "kube_log_requests",
            "Controller log reads",
            counter(m.log_requests),
        );
        registry.register(
            "step_duration_seconds",
            "Duration of a policy step (collect, observe, save)",
            self.steps.clone(),
        );
        let mut text = String::new();
        if encode(&mut text, &registry).is_err() {
            text.clear();
        }
        text
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .is_some_and(|(_, given)| constant_time_eq(given.trim().as_bytes(), token.as_bytes()))
    }
}

impl Observer for Live {
    /// A standby writes no state and observes nothing, so a past write failure no longer
    /// makes it unready, and it reports no object counts (the leader does).
    fn leading(&self, leading: bool) {
        let mut last = self.last();
        last.leading = leading;
        if !leading {
            last.state_error = None;
            last.objects.clear();
        }
    }

    fn engine(&self, engine: Option<Arc<Engine>>) {
        *self.engine.write().unwrap_or_else(PoisonError::into_inner) = engine;
    }

    fn step(&self, step: &Step<'_>) {
        self.steps.observe(step.took.as_secs_f64());
        let mut last = self.last();
        last.state_error = step.state_error.clone();
        // Only what this step saw: a cluster that could not be read has no counts.
        last.objects.clear();
        for observation in step.observations.iter().flatten() {
            let snapshot = &observation.snapshot;
            let mut kinds: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
            for object in &snapshot.objects {
                // Every health of a kind present, zeros included, so a count that drops to
                // zero is a zero and not a vanished series.
                let healths = kinds.entry(object.key.kind.to_string()).or_insert_with(|| {
                    HEALTHS.iter().map(|h| (h.as_str().to_owned(), 0)).collect()
                });
                *healths
                    .entry(object.health().as_str().to_owned())
                    .or_default() += 1;
            }
            last.objects.insert(snapshot.cluster.clone(), kinds);
        }
    }

    /// Not ready until the engine starts.
    fn engine_failed(&self, error: &str) {
        self.last().state_error = Some(error.to_owned());
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The router.
pub fn router(live: Arc<Live>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/incidents", get(incidents))
        .route("/v1/summary", get(summary))
        .with_state(live)
}

/// Listens on `addr`; the address actually bound (port 0 picks one) and the serving task.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    live: Arc<Live>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(live)).await {
            tracing::error!(error = %e, "the HTTP endpoints stopped");
        }
    });
    Ok((bound, task))
}

async fn readyz(Extract(live): Extract<Arc<Live>>) -> Response {
    let mut reasons = Vec::new();
    for cluster in live.collector.status() {
        match (&cluster.error, cluster.synced) {
            (Some(e), _) => reasons.push(format!("cluster {}: {e}", cluster.name)),
            (None, false) => reasons.push(format!("cluster {}: not synced yet", cluster.name)),
            (None, true) => {}
        }
    }
    if let Some(e) = &live.last().state_error {
        reasons.push(format!("state: {e}"));
    }
    if reasons.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        let body = reasons.join("\n") + "\n";
        (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
    }
}

async fn metrics(Extract(live): Extract<Arc<Live>>) -> Response {
    let body = live.metrics().await;
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn incidents(Extract(live): Extract<Arc<Live>>, headers: HeaderMap) -> Response {
    if !live.authorized(&headers) {
        return unauthorized();
    }
    match live.with_state(Incidents::of).await {
        Ok(incidents) => json(&incidents),
        Err(e) => unavailable(&e),
    }
}

async fn summary(Extract(live): Extract<Arc<Live>>, headers: HeaderMap) -> Response {
    if !live.authorized(&headers) {
        return unauthorized();
    }
    match live.summary().await {
        Ok(summary) => json(&summary),
        Err(e) => unavailable(&e),
    }
}

fn json(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "a bearer token is required (FLUXBRAIN_API_TOKEN)\n",
    )
        .into_response()
}

fn unavailable(why: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("the state cannot be read: {why}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
