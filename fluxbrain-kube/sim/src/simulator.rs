//! The simulated cluster: its state, clock, scripts and faults behind one lock.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::error::Error;
use crate::faults::Faults;
use crate::script::Script;
use crate::server::{self, Server};
use crate::state::State;
use crate::{clock, logs, patch, resources, script, status, store};

use logs::Logs;
use resources::{
    EVENTS, FLUX_KINDS, FluxKind, NAMESPACES, PODS, ResId, Resources, flux_kind, split_api_version,
};
use script::{Action, Step, Target, revision_fields};
use store::{SplitMix, Store, WriteOpts, rfc3339};

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// What the simulated clock reads at start (default: the wall clock when the config is made).
    pub start: Timestamp,
    /// Changes kept for watches and continue tokens; older resourceVersions get `410 Gone`.
    pub history_limit: usize,
    /// How often a watch that allows bookmarks gets one (tokio time).
    pub bookmark_interval: Duration,
    /// Longest watch when the client sets no `timeoutSeconds` (the API server picks 30 to 60 min).
    pub max_watch: Duration,
    /// Seed of UIDs, `generateName` suffixes and fault draws.
    pub seed: u64,
    /// Capacity of the change channel; a watch that falls further behind gets `410 Gone`.
    pub watch_buffer: usize,
    /// Which Flux custom resource definitions the cluster has installed.
    pub crds: Crds,
}

/// Which Flux custom resource definitions a simulated cluster has installed. Discovery,
/// `kubectl api-resources` and OpenAPI list every installed kind, with or without objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Crds {
    /// Every Flux kind of DESIGN section 4, at every version listed there (the default).
    #[default]
    AllFlux,
    /// Only the Flux kinds named here (e.g. `HelmRelease`), plus those the state has objects
    /// of: a cluster with only some controllers installed.
    Only(Vec<String>),
}

impl Crds {
    /// Whether the kind named `kind` is installed (before the state's own kinds are added).
    fn installs(&self, kind: &str) -> bool {
        match self {
            Crds::AllFlux => true,
            Crds::Only(kinds) => kinds.iter().any(|k| k == kind),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            start: Timestamp::now(),
            history_limit: 10_000,
            bookmark_interval: Duration::from_secs(60),
            max_watch: Duration::from_secs(1800),
            seed: 0x5eed,
            watch_buffer: 16_384,
            crds: Crds::AllFlux,
        }
    }
}

/// A running-or-not simulated cluster; cheap to clone (all clones share the cluster).
#[derive(Debug, Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    core: Mutex<Core>,
    /// Bumped to end every open watch and log stream abruptly.
    kill: tokio::sync::watch::Sender<u64>,
    /// Bumped to make every open watch stream go silent.
    stall: tokio::sync::watch::Sender<u64>,
    config: Config,
    /// The last requests served, oldest first.
    requests: Mutex<std::collections::VecDeque<String>>,
    /// Woken on every request served.
    requested: tokio::sync::Notify,
}

/// How many requests [`Simulator::requests`] remembers.
const REQUEST_LOG: usize = 1024;

/// Everything behind the one lock.
#[derive(Debug)]
pub(crate) struct Core {
    pub store: Store,
    pub logs: Logs,
    pub clock: clock::Clock,
    pub faults: Faults,
    pub rng: SplitMix,
    scripts: Vec<ScriptRun>,
    /// Whom token-carrying requests are authorized as, when RBAC is on.
    pub rbac: Option<Arc<crate::Rbac>>,
    /// Requests RBAC denied, as `"GET /path: message"`.
    pub denied: Vec<String>,
}

#[derive(Debug)]
struct ScriptRun {
    script: Arc<Script>,
    origin: Duration,
    next: usize,
    cycle: u32,
}

impl ScriptRun {
    /// Clock offset (elapsed) at which the next step is due.
    fn next_due(&self) -> Option<Duration> {
        let step = self.script.steps.get(self.next)?;
        let cycle = self
            .script
            .repeat
            .map_or(Duration::ZERO, |r| r.saturating_mul(self.cycle));
        Some(self.origin + cycle + step.at)
    }

    fn take(&mut self) -> Option<Step> {
        let step = self.script.steps.get(self.next).cloned()?;
        self.next += 1;
        if self.next == self.script.steps.len() && self.script.repeat.is_some() {
            self.next = 0;
            self.cycle = self.cycle.saturating_add(1);
        }
        Some(step)
    }
}

impl Simulator {
    /// Builds a simulator from a state.
    ///
    /// # Errors
    /// [`Error::Invalid`] when a log file names a pod the state does not have.
    pub fn new(state: State, config: Config) -> Result<Self, Error> {
        let mut versions: BTreeMap<(&str, &str), (&'static FluxKind, BTreeSet<String>)> =
            BTreeMap::new();
        for fk in FLUX_KINDS.iter().filter(|fk| config.crds.installs(fk.kind)) {
            let served = fk.versions.iter().map(|v| (*v).to_string()).collect();
            versions.insert((fk.group, fk.kind), (fk, served));
        }
        let mut max_rv = 0u64;
        for (obj, _) in &state.objects {
            let api_version = obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
            let (group, version) = split_api_version(api_version);
            if let Some(fk) = flux_kind(group, kind) {
                versions
                    .entry((fk.group, fk.kind))
                    .or_insert((fk, BTreeSet::new()))
                    .1
                    .insert(version.to_string());
            }
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .and_then(|v| v.parse().ok());
            max_rv = max_rv.max(rv.unwrap_or(0));
        }
        // In the order of DESIGN section 4, as a cluster's discovery lists them.
        let mut flux: Vec<_> = versions.into_values().collect();
        flux.sort_by_key(|(fk, _)| FLUX_KINDS.iter().position(|k| k.kind == fk.kind));
        let resources = Resources::new(&flux);
        let mut store = Store::new(
            resources,
            config.history_limit,
            config.watch_buffer,
            config.seed,
        );
        store.start_at(max_rv);
        let start = rfc3339(config.start);
        let mut namespaces: BTreeSet<String> =
            ["default", "kube-system", "kube-public", "kube-node-lease"]
                .map(String::from)
                .into();
        for (obj, _) in &state.objects {
            if obj.get("kind").and_then(Value::as_str) == Some("Namespace") {
                namespaces.remove(
                    obj.pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                );
            }
        }
        let mut extra = BTreeSet::new();
        for (obj, _) in &state.objects {
            if let Some(ns) = obj.pointer("/metadata/namespace").and_then(Value::as_str) {
                extra.insert(ns.to_string());
            }
        }
        for ns in extra {
            let explicit = state.objects.iter().any(|(o, _)| {
                o.get("kind").and_then(Value::as_str) == Some("Namespace")
                    && o.pointer("/metadata/name").and_then(Value::as_str) == Some(ns.as_str())
            });
            if !explicit {
                namespaces.insert(ns);
            }
        }
        for ns in &namespaces {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "creationTimestamp": start, "labels": {"kubernetes.io/metadata.name": ns}},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            store.load(NAMESPACES, obj);
        }
        for (obj, origin) in state.objects {
            let api_version = obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let kind = obj
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let Some(res) = store.resources.by_kind(&api_version, &kind) else {
                return Err(Error::Invalid {
                    path: origin.path,
                    document: origin.document,
                    message: format!("{kind} ({api_version}) is not served"),
                });
            };
            let mut obj = obj;
            if store.resources.get(res).namespaced && obj.pointer("/metadata/namespace").is_none() {
                store::meta_mut(&mut obj).insert("namespace".to_string(), json!("default"));
            }
            store.load(res, obj);
        }
        let mut logs = Logs::new();
        for pod_logs in &state.logs {
            let pod = store
                .range(PODS, None, None)
                .find(|(k, _)| k.1 == pod_logs.pod)
                .map(|(k, v)| (k.0.clone(), Arc::clone(v)));
            let Some((ns, pod)) = pod else {
                return Err(Error::Invalid {
                    path: pod_logs.origin.clone(),
                    document: 1,
                    message: format!("log of pod {} which the state does not have", pod_logs.pod),
                });
            };
            let started = pod
                .pointer("/status/startTime")
                .or_else(|| pod.pointer("/metadata/creationTimestamp"))
                .and_then(Value::as_str)
                .and_then(|t| t.parse().ok())
                .unwrap_or(config.start);
            logs.load(&ns, &pod_logs.pod, &pod_logs.lines, started);
        }
        let core = Core {
            store,
            logs,
            clock: clock::Clock::new(config.start),
            faults: Faults::default(),
            rng: SplitMix(config.seed ^ 0xfa17),
            scripts: Vec::new(),
            rbac: None,
            denied: Vec::new(),
        };
        let (kill, _) = tokio::sync::watch::channel(0);
        let (stall, _) = tokio::sync::watch::channel(0);
        Ok(Self {
            inner: Arc::new(Inner {
                core: Mutex::new(core),
                kill,
                stall,
                config,
                requests: Mutex::new(std::collections::VecDeque::new()),
                requested: tokio::sync::Notify::new(),
            }),
        })
    }

    /// Loads a state folder with the given config.
    ///
    /// # Errors
    /// As [`State::load_dir`] and [`Simulator::new`].
    pub fn from_dir(dir: impl AsRef<std::path::Path>, config: Config) -> Result<Self, Error> {
        Self::new(State::load_dir(dir)?, config)
    }

    /// Starts serving on `addr` (port 0 picks a free one); see [`Server`].
    ///
    /// # Errors
    /// [`Error::Serve`] if the address cannot be bound.
    pub async fn serve(&self, addr: SocketAddr) -> Result<Server, Error> {
        server::start(self.clone(), addr).await
    }

    /// The API as an in-process service, without a socket: `kube::Client::new(sim.service(),
    /// "default")` speaks the same HTTP requests and responses to it. For tests on paused tokio
    /// time, where a real socket would let the paused clock jump ahead while a request is on
    /// the wire.
    pub fn service(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// The simulated time.
    pub fn now(&self) -> Timestamp {
        self.core().clock.now()
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.core().store.rv()
    }

    /// Starts a script: its step times count from now.
    pub fn run_script(&self, script: Script) {
        let mut core = self.core();
        let origin = core.clock.elapsed();
        core.scripts.push(ScriptRun {
            script: Arc::new(script),
            origin,
            next: 0,
            cycle: 0,
        });
    }

    /// Moves the clock forward by `by`, applying every scripted step that falls due, each at its
    /// own time. Returns how many steps ran.
    ///
    /// # Errors
    /// [`Error::Step`] for the first step that could not be applied (for example, its object
    /// does not exist); the other due steps are still applied.
    pub fn advance(&self, by: Duration) -> Result<usize, Error> {
        let mut core = self.core();
        let target = core.clock.elapsed().saturating_add(by);
        let mut ran = 0;
        let mut first_error = None;
        loop {
            let due = core
                .scripts
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.next_due().map(|t| (t, i)))
                .min();
            let Some((at, idx)) = due.filter(|(t, _)| *t <= target) else {
                break;
            };
            let now = core.clock.elapsed();
            core.clock.advance(at.saturating_sub(now));
            let Some(step) = core.scripts.get_mut(idx).and_then(ScriptRun::take) else {
                break;
            };
            ran += 1;
            match core.apply(&step.action) {
                Ok(Effect::None) => {}
                Ok(Effect::DropWatches) => {
                    self.inner.kill.send_modify(|g| *g += 1);
                }
                Err(message) => {
                    if first_error.is_none() {
                        first_error = Some(Error::Step {
                            step: step.index,
                            action: step.action.name(),
                            at: step.at_text.clone(),
                            message,
                        });
                    }
                }
            }
        }
        let now = core.clock.elapsed();
        core.clock.advance(target.saturating_sub(now));
        match first_error {
            Some(err) => Err(err),
            None => Ok(ran),
        }
    }

    /// Replaces the injected faults ([`Faults::default`] clears them).
    pub fn set_faults(&self, faults: Faults) {
        self.core().faults = faults;
    }

    /// The injected faults in force.
    pub fn faults(&self) -> Faults {
        self.core().faults.clone()
    }

    /// Ends every open watch (and followed log) stream abruptly, as a dropped connection would.
    pub fn drop_watches(&self) {
        self.inner.kill.send_modify(|g| *g += 1);
    }

    /// Makes every open watch stream go silent, as one behind a hung API server or a middlebox
    /// that stopped forwarding does: the connection stays open and carries nothing more, no
    /// events and no bookmarks, until the client closes it (or [`Simulator::drop_watches`] cuts
    /// it). Watches opened afterwards are served as usual, so a client that gives up on the
    /// silence and resumes from its last version gets the changes it was not sent.
    pub fn stall_watches(&self) {
        self.inner.stall.send_modify(|g| *g += 1);
    }

    /// Compacts the history: every resourceVersion older than the current one is expired, so
    /// a watch or continue token from it gets `410 Gone`.
    pub fn expire_resource_versions(&self) {
        self.core().store.compact();
    }

    /// Creates or replaces an object (its status too) as a controller would; returns it as stored.
    ///
    /// # Errors
    /// [`Error::Step`]-free: a plain message in [`Error::Invalid`] when the object cannot be written.
    pub fn apply(&self, object: Value) -> Result<Value, Error> {
        let mut core = self.core();
        core.apply_object(object).map_err(|message| Error::Invalid {
            path: "<apply>".into(),
            document: 1,
            message,
        })
    }

    /// An object by `apiVersion`, `kind`, namespace (`""` if cluster scoped) and name.
    pub fn object(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let core = self.core();
        let res = core.store.resources.by_kind(api_version, kind)?;
        let version = split_api_version(api_version).1;
        core.store
            .get(res, namespace, name)
            .map(|o| (*core.store.present(res, version, o)).clone())
    }

    /// Appends a line, written now, to a pod's log.
    pub fn append_log(&self, namespace: &str, pod: &str, line: impl Into<String>) {
        let mut core = self.core();
        let now = core.clock.now();
        core.logs.append(namespace, pod, line.into(), now);
    }

    /// Moves the simulated clock with the wall clock: every `tick`, it advances by the real time
    /// passed (for `fluxbrain sim serve`). Step errors are reported to `on_error`. Abort the
    /// returned task to stop.
    pub fn drive_realtime(
        &self,
        tick: Duration,
        on_error: impl Fn(Error) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let sim = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last = tokio::time::Instant::now();
            loop {
                interval.tick().await;
                let now = tokio::time::Instant::now();
                if let Err(err) = sim.advance(now - last) {
                    on_error(err);
                }
                last = now;
            }
        })
    }

    /// Authorizes every request that carries the ServiceAccount's token (the one the
    /// kubeconfig carries once RBAC is on) against `rbac`; requests without a token are the
    /// simulator's own administrator. `None` turns RBAC off.
    pub fn set_rbac(&self, rbac: Option<crate::Rbac>) {
        self.core().rbac = rbac.map(Arc::new);
    }

    /// The RBAC in force, if any.
    pub fn rbac(&self) -> Option<Arc<crate::Rbac>> {
        self.core().rbac.clone()
    }

    /// The requests RBAC denied so far, as `"GET /path: message"`.
    pub fn denied(&self) -> Vec<String> {
        self.core().denied.clone()
    }

    /// The last requests served (at most 1024), oldest first, as `"GET /path?query"`: lets a
    /// test see what a client did (relisted, re-watched from which version).
    pub fn requests(&self) -> Vec<String> {
        self.inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Waits until the requests served so far (as [`Simulator::requests`] lists them) satisfy
    /// `done`: a test waits for what a client does, without polling.
    pub async fn until_requests(&self, mut done: impl FnMut(&[String]) -> bool) {
        loop {
            let served = self.inner.requested.notified();
            if done(&self.requests()) {
                return;
            }
            served.await;
        }
    }

    pub(crate) fn record_request(&self, line: String) {
        let mut log = self
            .inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if log.len() == REQUEST_LOG {
            log.pop_front();
        }
        log.push_back(line);
        drop(log);
        self.inner.requested.notify_waiters();
    }

    pub(crate) fn core(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock leaves the data consistent enough for a test server.
        self.inner
            .core
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn kill_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.kill.subscribe()
    }

    pub(crate) fn stall_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.stall.subscribe()
    }
}

/// Side effects of a step outside the store.
enum Effect {
    None,
    DropWatches,
}

impl Core {
    fn resolve(&self, t: &Target) -> Result<(usize, String, Arc<Value>), String> {
        let res = self
            .store
            .resources
            .by_kind_name(t.group.as_deref(), &t.kind)
            .ok_or(format!("kind {} is not served", t.kind))?;
        let r = self.store.resources.get(res);
        let ns = if r.namespaced {
            t.namespace.as_str()
        } else {
            ""
        };
        let obj = self.store.get(res, ns, &t.name).cloned().ok_or(format!(
            "{} {}/{} does not exist",
            t.kind, t.namespace, t.name
        ))?;
        Ok((res, r.version.clone(), obj))
    }

    /// A merge patch of `target` (its status when `opts.status`), errors as messages.
    fn merge(
        &mut self,
        res: ResId,
        version: &str,
        target: &Target,
        doc: &Value,
        opts: WriteOpts,
    ) -> Result<(), String> {
        self.store
            .patch(
                res,
                version,
                &target.namespace,
                &target.name,
                patch::PatchType::Merge,
                doc,
                opts,
            )
            .map(|_| ())
            .map_err(|e| e.message)
    }

    fn apply(&mut self, action: &Action) -> Result<Effect, String> {
        let now = self.clock.now();
        let status_opts = WriteOpts {
            status: true,
            dry_run: false,
        };
        let err = |e: status::ApiError| e.message;
        match action {
            Action::SetConditions { target, conditions } => {
                let (res, version, obj) = self.resolve(target)?;
                let generation = obj
                    .pointer("/metadata/generation")
                    .cloned()
                    .unwrap_or(json!(1));
                let mut list: Vec<Value> = obj
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for cond in conditions {
                    let mut cond = cond.clone();
                    let ty = cond.get("type").cloned();
                    let existing = list.iter().position(|c| c.get("type") == ty.as_ref());
                    let changed = existing.is_none_or(|i| {
                        ["status", "reason", "message"]
                            .iter()
                            .any(|f| list[i].get(*f) != cond.get(*f))
                    });
                    if !cond.contains_key("lastTransitionTime") {
                        let previous =
                            existing.and_then(|i| list[i].get("lastTransitionTime").cloned());
                        let ltt = if changed { None } else { previous };
                        cond.insert(
                            "lastTransitionTime".to_string(),
                            ltt.unwrap_or_else(|| json!(rfc3339(now))),
                        );
                    }
                    cond.entry("observedGeneration")
                        .or_insert(generation.clone());
                    match existing {
                        Some(i) => list[i] = Value::Object(cond),
                        None => list.push(Value::Object(cond)),
                    }
                }
                let doc = json!({"status": {"conditions": list}});
                self.merge(res, &version, target, &doc, status_opts)?;
            }
            Action::SetRevision { target, revision } => {
                let (res, version, obj) = self.resolve(target)?;
                let mut new = (*obj).clone();
                for pointer in revision_fields(&target.kind) {
                    set_pointer(&mut new, pointer, json!(revision));
                }
                let doc = json!({"status": new.get("status").cloned().unwrap_or(json!({}))});
                self.merge(res, &version, target, &doc, status_opts)?;
            }
            Action::Patch { target, merge } => {
                let (res, version, _) = self.resolve(target)?;
                let opts = WriteOpts::default();
                self.merge(res, &version, target, merge, opts)?;
                if let Some(status) = merge.get("status") {
                    let doc = json!({"status": status});
                    self.merge(res, &version, target, &doc, status_opts)?;
                }
            }
            Action::AddEvent(spec) => {
                let (res, _, obj) = self.resolve(&spec.target())?;
                let r = self.store.resources.get(res);
                let controller = spec
                    .reporting_controller
                    .clone()
                    .or(r.controller.map(String::from))
                    .unwrap_or_default();
                let involved = json!({
                    "apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                    "name": spec.name, "namespace": obj.pointer("/metadata/namespace"),
                    "uid": obj.pointer("/metadata/uid"), "resourceVersion": obj.pointer("/metadata/resourceVersion"),
                });
                let ns = obj
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or("default")
                    .to_string();
                self.record_event(&ns, involved, spec, &controller, now)
                    .map_err(err)?;
            }
            Action::AppendLogs {
                pod,
                namespace,
                lines,
            } => {
                let ns = match namespace {
                    Some(ns) => ns.clone(),
                    None => self
                        .store
                        .range(PODS, None, None)
                        .find(|(k, _)| &k.1 == pod)
                        .map(|(k, _)| k.0.clone())
                        .ok_or(format!("pod {pod} does not exist"))?,
                };
                if self.store.get(PODS, &ns, pod).is_none() {
                    return Err(format!("pod {ns}/{pod} does not exist"));
                }
                let stamp = now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                for line in lines {
                    self.logs
                        .append(&ns, pod, line.replace("{{now}}", &stamp), now);
                }
            }
            Action::Apply(object) => {
                self.apply_object(object.clone())?;
            }
            Action::Delete(target) => {
                let (res, version, _) = self.resolve(target)?;
                self.store
                    .delete(
                        res,
                        &version,
                        &target.namespace,
                        &target.name,
                        &Value::Null,
                        now,
                        WriteOpts::default(),
                    )
                    .map_err(err)?;
            }
            Action::Faults(faults) => self.faults = faults.clone(),
            Action::DropWatches => return Ok(Effect::DropWatches),
            Action::ExpireResourceVersions => self.store.compact(),
        }
        Ok(Effect::None)
    }

    /// Records an event as client-go's recorder does: a repeat bumps count and lastTimestamp.
    fn record_event(
        &mut self,
        ns: &str,
        involved: Value,
        spec: &script::EventSpec,
        controller: &str,
        now: Timestamp,
    ) -> Result<(), status::ApiError> {
        let same = self.store.range(EVENTS, Some(ns), None).find(|(_, e)| {
            e.get("involvedObject").and_then(|o| o.get("uid")) == involved.get("uid")
                && e.get("reason").and_then(Value::as_str) == Some(spec.reason.as_str())
                && e.get("message").and_then(Value::as_str) == Some(spec.message.as_str())
                && e.get("type").and_then(Value::as_str) == Some(spec.event_type.as_str())
        });
        if let Some((key, existing)) = same {
            let name = key.1.clone();
            let mut updated = (**existing).clone();
            updated["count"] =
                json!(existing.get("count").and_then(Value::as_i64).unwrap_or(1) + 1);
            updated["lastTimestamp"] = json!(rfc3339(now));
            self.store
                .update(EVENTS, "v1", ns, &name, updated, WriteOpts::default())?;
            return Ok(());
        }
        let nanos = now.as_nanosecond();
        let mut name = format!("{}.{:x}", spec.name, nanos);
        let mut bump = 0;
        while self.store.get(EVENTS, ns, &name).is_some() {
            bump += 1;
            name = format!("{}.{:x}", spec.name, nanos + bump);
        }
        let event = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns, "annotations": spec.annotations},
            "involvedObject": involved,
            "reason": spec.reason, "message": spec.message, "type": spec.event_type,
            "source": {"component": controller}, "reportingComponent": controller, "reportingInstance": "",
            "count": 1, "firstTimestamp": rfc3339(now), "lastTimestamp": rfc3339(now), "eventTime": null,
        });
        self.store
            .create(EVENTS, "v1", Some(ns), event, now, WriteOpts::default())?;
        Ok(())
    }

    fn apply_object(&mut self, object: Value) -> Result<Value, String> {
        let now = self.clock.now();
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let res = self
            .store
            .resources
            .by_kind(&api_version, &kind)
            .ok_or(format!("{kind} ({api_version}) is not served"))?;
        let r = self.store.resources.get(res).clone();
        let version = split_api_version(&api_version).1.to_string();
        let ns = if r.namespaced {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        };
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let url_ns = r.namespaced.then_some(ns.as_str());
        let err = |e: status::ApiError| e.message;
        let stored = match self.store.get(res, &ns, &name).cloned() {
            None => {
                let mut body = object.clone();
                store::meta_mut(&mut body).remove("resourceVersion");
                self.store
                    .create(res, &version, url_ns, body, now, WriteOpts::default())
                    .map_err(err)?
            }
            Some(existing) => {
                let mut body = object.clone();
                let rv = existing
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or(Value::Null);
                store::meta_mut(&mut body).insert("resourceVersion".to_string(), rv);
                self.store
                    .update(res, &version, &ns, &name, body, WriteOpts::default())
                    .map_err(err)?
            }
        };
        if r.status_subresource && object.get("status") != stored.get("status") {
            let doc = json!({"status": object.get("status").cloned().unwrap_or(Value::Null)});
            let opts = WriteOpts {
                status: true,
                dry_run: false,
            };
            let stored = self
                .store
                .patch(
                    res,
                    &version,
                    &ns,
                    &name,
                    patch::PatchType::Merge,
                    &doc,
                    opts,
                )
                .map_err(err)?;
            return Ok((*stored).clone());
        }
        Ok((*stored).clone())
    }
}

/// Sets a JSON pointer, creating objects on the way.
fn set_pointer(obj: &mut Value, pointer: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        if i + 1 == parts.len() {
            cur[*part] = value;
            return;
        }
        cur = &mut cur[*part];
    }
}
