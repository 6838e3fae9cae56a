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
//! - `/v1/incidents`, `/v1/summary`, `/v1/history`, `/v1/incidents/{id}` (one incident and its
//!   timeline) and `/v1/silences`: JSON, what `fluxbrain status` and `silence list` show;
//!   behind a bearer token when `FLUXBRAIN_API_TOKEN` is set;
//! - `POST /v1/silences`, `DELETE /v1/silences/{id}`, `POST /v1/incidents/{id}/ack`: the
//!   operators' writes, always behind the token (403 when none is configured). They write the
//!   shared store's control document (compare-and-swap), so a write through a standby reaches
//!   the leader, and wake this replica's next policy step.
//!
//! A replica that does not hold the lease has no engine: its `/v1` routes read the shared
//! state store instead (what the leader last saved), so a Service in front of all replicas
//! answers the same from each. Without a token, `/v1` is open to whoever reaches the port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::State as Extract;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use fluxbrain_core::{Control, Engine, Health, SilenceRequest, State, StateStore};
use fluxbrain_kube::collector::KubeCollector;
use fluxbrain_kube::runtime::{Observer, Step};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod metrics;

use crate::cmd::ack::OperatorNote;
use crate::error::CliError;
use crate::summary::{ClusterSummary, History, Incidents, NotFound, OneIncident, Summary};

/// Every health, for the zeros.
const HEALTHS: [Health; 5] = [
    Health::Healthy,
    Health::Failing,
    Health::Progressing,
    Health::Suspended,
    Health::Unknown,
];

/// What the endpoints read: the collector, the engine, and what the last policy steps saw.
pub struct Live {
    view: Arc<View>,
    token: Option<String>,
    /// Built once: `/metrics` encodes it, its [`metrics::LiveMetrics`] reading the view.
    registry: Registry,
    steps: Histogram,
    /// From the moment a notification falls due to its acknowledgement, per notifier.
    delivery: Family<Vec<(String, String)>, Histogram>,
}

/// The clusters this replica watches.
#[derive(Debug)]
pub(crate) enum Watched {
    /// One collector watches every cluster (no sharding).
    All(Arc<KubeCollector>),
    /// Sharded by cluster: only the clusters this replica owns.
    Owned(Fleet),
}

/// What a sharded replica knows of the fleet.
pub(crate) struct Fleet {
    pub ownership: Arc<fluxbrain_kube::fleet::Ownership>,
    /// Every configured cluster, in configuration order.
    pub clusters: Vec<String>,
    /// Where the cluster Leases are.
    pub home: kube::Client,
    pub namespace: String,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("clusters", &self.clusters)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Watched {
    /// The watched clusters' state.
    pub(crate) fn status(&self) -> Vec<fluxbrain_kube::collector::ClusterStatus> {
        match self {
            Watched::All(collector) => collector.status(),
            Watched::Owned(fleet) => fleet
                .ownership
                .collectors()
                .values()
                .flat_map(|c| c.status())
                .collect(),
        }
    }

    /// The watched clusters' collector counters, added up.
    pub(crate) fn metrics(&self) -> fluxbrain_kube::collector::Metrics {
        match self {
            Watched::All(collector) => collector.metrics(),
            Watched::Owned(fleet) => {
                let mut all = fluxbrain_kube::collector::Metrics::default();
                for collector in fleet.ownership.collectors().values() {
                    all.add(&collector.metrics());
                }
                all
            }
        }
    }

    /// Whether object counts of `cluster` are this replica's to report.
    fn reports(&self, cluster: &str) -> bool {
        match self {
            Watched::All(_) => true,
            Watched::Owned(fleet) => fleet.ownership.owned().contains_key(cluster),
        }
    }
}

/// The live state the endpoints and the metrics read.
#[derive(Debug)]
pub(crate) struct View {
    watched: Watched,
    /// The engine of the lease holder, `None` on a standby replica.
    engine: RwLock<Option<Arc<Engine>>>,
    /// Where a standby reads the state the leader saved.
    store: Option<Arc<dyn StateStore>>,
    /// Where operators' writes go: the store the engine uses.
    control_store: Arc<dyn StateStore>,
    /// Wakes the runtime for a step after a write.
    wake: Arc<tokio::sync::Notify>,
    last: Mutex<LastStep>,
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
        control_store: Arc<dyn StateStore>,
        wake: Arc<tokio::sync::Notify>,
        token: Option<String>,
    ) -> Self {
        Self::watching(Watched::All(collector), store, control_store, wake, token)
    }

    /// Endpoints of a sharded replica: the clusters it owns, and (for `/v1`) the state every
    /// owner saved, read from `store`.
    pub(crate) fn fleet(
        fleet: Fleet,
        store: Arc<dyn StateStore>,
        control_store: Arc<dyn StateStore>,
        wake: Arc<tokio::sync::Notify>,
        token: Option<String>,
    ) -> Self {
        Self::watching(
            Watched::Owned(fleet),
            Some(store),
            control_store,
            wake,
            token,
        )
    }

    fn watching(
        watched: Watched,
        store: Option<Arc<dyn StateStore>>,
        control_store: Arc<dyn StateStore>,
        wake: Arc<tokio::sync::Notify>,
        token: Option<String>,
    ) -> Self {
        let view = Arc::new(View {
            watched,
            engine: RwLock::new(None),
            store,
            control_store,
            wake,
            last: Mutex::new(LastStep::default()),
        });
        // 1 ms to about 33 s.
        let steps = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let mut registry = Registry::with_prefix("fluxbrain");
        registry.register_collector(Box::new(metrics::LiveMetrics(view.clone())));
        registry.register(
            "step_duration_seconds",
            "Duration of a policy step (collect, observe, save)",
            steps.clone(),
        );
        // 100 ms to about 2 days.
        let delivery = Family::<Vec<(String, String)>, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.1, 2.0, 21))
        });
        registry.register(
            "notification_delivery_seconds",
            "From the moment a notification falls due to its delivery, per notifier",
            delivery.clone(),
        );
        Live {
            view,
            token,
            registry,
            steps,
            delivery,
        }
    }

    fn current(&self) -> Option<Arc<Engine>> {
        self.view.current()
    }

    fn last(&self) -> std::sync::MutexGuard<'_, LastStep> {
        self.view.last()
    }

    /// `f` over the state: the engine's (not copied), or on a standby what the leader last
    /// saved.
    async fn with_state<R>(&self, f: impl FnOnce(&State) -> R) -> Result<R, String> {
        if let Some(engine) = self.current() {
            return Ok(engine.inspect(f));
        }
        let Some(store) = &self.view.store else {
            return Err("no state loaded yet".to_owned());
        };
        match store.load().await {
            Ok(state) => Ok(f(&state.unwrap_or_default())),
            Err(e) => Err(format!("{}: {e}", store.name())),
        }
    }

    async fn summary(&self) -> Result<Summary, String> {
        let control = self.control().await?;
        let mut summary = self
            .with_state(Summary::of_state)
            .await?
            .with_control(&control, crate::operate::now());
        {
            let last = self.last();
            summary.leading = Some(last.leading);
            summary.objects = self.view.objects(&last);
        }
        summary.clusters = self
            .view
            .watched
            .status()
            .iter()
            .map(ClusterSummary::from)
            .collect();
        if let Watched::Owned(fleet) = &self.view.watched {
            summary.leading = None;
            let holders = fluxbrain_kube::fleet::holders(
                &fleet.home,
                &fleet.namespace,
                &fleet.clusters,
                std::time::Duration::from_secs(10),
            )
            .await?;
            for (name, holder) in holders {
                match summary.clusters.iter_mut().find(|c| c.name == name) {
                    Some(c) => {
                        c.owner = holder.replica;
                        c.owner_since = holder.since;
                    }
                    None => summary
                        .clusters
                        .push(ClusterSummary::elsewhere(name, holder)),
                }
            }
        }
        Ok(summary)
    }

    /// The control document: the engine's (as of its last step) or the store's.
    async fn control(&self) -> Result<Control, String> {
        match self.view.control_store.load_control().await {
            Ok(control) => Ok(control.map(|(c, _)| c).unwrap_or_default()),
            Err(e) => match self.current() {
                Some(engine) => Ok(engine.control()),
                None => Err(format!("{}: {e}", self.view.control_store.name())),
            },
        }
    }

    /// Whether a write may go ahead: only with a token configured and given.
    fn may_write(&self, headers: &HeaderMap) -> Result<(), Box<Response>> {
        if self.token.is_none() {
            return Err(Box::new(
                (
                StatusCode::FORBIDDEN,
                "writes need a bearer token: set FLUXBRAIN_API_TOKEN (or FLUXBRAIN_API_TOKEN_FILE) on fluxbrain run, and give it with --api-token\n",
            )
                .into_response(),
            ));
        }
        if !self.authorized(headers) {
            return Err(Box::new(unauthorized()));
        }
        Ok(())
    }

    fn metrics(&self) -> String {
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
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
        *self
            .view
            .engine
            .write()
            .unwrap_or_else(PoisonError::into_inner) = engine;
    }

    fn step(&self, step: &Step<'_>) {
        self.steps.observe(step.took.as_secs_f64());
        let mut last = self.last();
        last.state_error = step.state_error.clone();
        // What this step saw: a cluster that could not be read has no counts (a sharded
        // replica's steps are per cluster: the others' counts stay).
        for failed in step.observations.iter().filter_map(|o| o.as_ref().err()) {
            last.objects.remove(&failed.cluster);
        }
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

    fn delivered(&self, notifier: &str, waited: &[std::time::Duration]) {
        let histogram = self
            .delivery
            .get_or_create(&vec![("notifier".to_owned(), notifier.to_owned())]);
        for wait in waited {
            histogram.observe(wait.as_secs_f64());
        }
    }
}

impl View {
    /// Object counts by cluster, kind and health, of the clusters this replica reports.
    fn objects(
        &self,
        last: &LastStep,
    ) -> BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>> {
        last.objects
            .iter()
            .filter(|(cluster, _)| self.watched.reports(cluster))
            .map(|(c, k)| (c.clone(), k.clone()))
            .collect()
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
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The router.
pub fn router(live: Arc<Live>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/incidents", get(incidents))
        .route("/v1/incidents/{id}", get(incident))
        .route("/v1/incidents/{id}/ack", post(ack))
        .route("/v1/summary", get(summary))
        .route("/v1/history", get(history))
        .route("/v1/silences", get(silences).post(add_silence))
        .route("/v1/silences/{id}", delete(expire_silence))
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
    for cluster in live.view.watched.status() {
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
    let body = live.metrics();
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

async fn history(Extract(live): Extract<Arc<Live>>, headers: HeaderMap) -> Response {
    if !live.authorized(&headers) {
        return unauthorized();
    }
    match live.with_state(History::of).await {
        Ok(history) => json(&history),
        Err(e) => unavailable(&e),
    }
}

async fn incident(
    Extract(live): Extract<Arc<Live>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !live.authorized(&headers) {
        return unauthorized();
    }
    match live.with_state(|state| OneIncident::find(state, &id)).await {
        Ok(Ok(one)) => json(&one),
        Ok(Err(NotFound::None)) => error(
            StatusCode::NOT_FOUND,
            &format!("no incident {id:?}, open or in the history"),
        ),
        Ok(Err(NotFound::Ambiguous)) => error(
            StatusCode::NOT_FOUND,
            &format!("{id:?} names more than one incident: give more of the id"),
        ),
        Err(e) => unavailable(&e),
    }
}

async fn silences(Extract(live): Extract<Arc<Live>>, headers: HeaderMap) -> Response {
    if !live.authorized(&headers) {
        return unauthorized();
    }
    match live.control().await {
        Ok(control) => json(&control.silences),
        Err(e) => unavailable(&e),
    }
}

/// The body of a write, or a 400 naming what is wrong with it.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(bytes).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            &format!("the body is not what this route takes: {e}"),
        ))
    })
}

/// The answer to a write: the written item, or the refusal with its status.
fn written<T: serde::Serialize>(live: &Live, result: Result<T, CliError>) -> Response {
    match result {
        Ok(value) => {
            live.view.wake.notify_one();
            json(&value)
        }
        Err(CliError::Refused { problem, usage }) => {
            let status = if usage {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::NOT_FOUND
            };
            error(status, &problem)
        }
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

async fn add_silence(
    Extract(live): Extract<Arc<Live>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    if let Err(refused) = live.may_write(&headers) {
        return *refused;
    }
    let request: SilenceRequest = match body(&bytes) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    let store = live.view.control_store.clone();
    let result = crate::operate::add_silence(store.as_ref(), &request, crate::operate::now()).await;
    if let Ok(silence) = &result {
        tracing::info!(silence = %silence.id, matchers = %silence.matchers_text(), until = %silence.ends, author = %silence.author, "silence added");
    }
    written(&live, result)
}

async fn expire_silence(
    Extract(live): Extract<Arc<Live>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    if let Err(refused) = live.may_write(&headers) {
        return *refused;
    }
    let by: OperatorNote = if bytes.is_empty() {
        OperatorNote::default()
    } else {
        match body(&bytes) {
            Ok(by) => by,
            Err(refused) => return *refused,
        }
    };
    let author = if by.author.trim().is_empty() {
        "unknown"
    } else {
        by.author.trim()
    };
    let store = live.view.control_store.clone();
    let result =
        crate::operate::expire_silence(store.as_ref(), &id, author, crate::operate::now()).await;
    if let Ok(silence) = &result {
        tracing::info!(silence = %silence.id, author, "silence ended");
    }
    written(&live, result)
}

async fn ack(
    Extract(live): Extract<Arc<Live>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    if let Err(refused) = live.may_write(&headers) {
        return *refused;
    }
    let request: OperatorNote = match body(&bytes) {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    // The open incidents as this replica knows them: the leader's memory, or the shared store.
    let open = match live
        .with_state(|state| {
            state
                .incidents
                .values()
                .map(|r| r.id.clone())
                .collect::<Vec<String>>()
        })
        .await
    {
        Ok(open) => open,
        Err(e) => return unavailable(&e),
    };
    let open: Vec<&str> = open.iter().map(String::as_str).collect();
    let store = live.view.control_store.clone();
    let result = crate::operate::acknowledge_among(
        store.as_ref(),
        &id,
        &request.author,
        request.comment.as_deref(),
        crate::operate::now(),
        &open,
    )
    .await;
    if let Ok(ack) = &result {
        tracing::info!(incident = %ack.incident_id, by = %ack.by, "incident acknowledged");
    }
    written(&live, result)
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
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
