//! The simulated cluster: a GitRepository and [`OBJECTS`] Kustomizations built from it, all
//! Ready, served over HTTP; the plan's failures and recoveries are status patches sent
//! through the Kubernetes API (kube-rs), and fluxbrain's saved state is read back from where
//! the store keeps it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use fluxbrain_core::engine::State;
use fluxbrain_sim::{Config, Server, Simulator};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::schedule::{OBJECTS, Store, name};

/// Where the Kustomizations live.
pub const NAMESPACE: &str = "apps";
/// The state ConfigMap, for [`Store::ConfigMap`].
pub const STATE_CONFIGMAP: &str = "fluxbrain-state";

pub struct Cluster {
    /// Each object's last transition time: the next one is at least a second later, as a
    /// controller's would be (one transition per reconciliation; the API keeps seconds).
    transitions: std::sync::Mutex<[Option<jiff::Timestamp>; OBJECTS]>,
    sim: Simulator,
    server: Server,
    api: Api<DynamicObject>,
    pub kubeconfig: PathBuf,
}

fn ready(status: bool, at: &str) -> Value {
    let (value, reason, message) = if status {
        (
            "True",
            "ReconciliationSucceeded",
            "Applied revision: main@sha1:4f8a9c1",
        )
    } else {
        (
            "False",
            "BuildFailed",
            "kustomize build failed: accumulating resources: missing kustomization.yaml",
        )
    };
    json!([{"type": "Ready", "status": value, "reason": reason, "message": message,
        "lastTransitionTime": at, "observedGeneration": 1}])
}

impl Cluster {
    pub async fn start(dir: &Path) -> Cluster {
        let mut state = fluxbrain_sim::State::new();
        let at = "2026-04-21T09:00:00Z";
        state
            .insert(json!({
                "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
                "metadata": {"name": "apps", "namespace": "flux-system", "generation": 1},
                "spec": {"url": "https://git.example.com/apps", "interval": "1m"},
                "status": {"conditions": ready(true, at),
                    "artifact": {"revision": "main@sha1:4f8a9c1", "path": "x", "url": "http://x",
                        "digest": "sha256:00", "lastUpdateTime": at}}}))
            .unwrap();
        for i in 0..OBJECTS {
            state
                .insert(json!({
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                    "metadata": {"name": name(i), "namespace": NAMESPACE, "generation": 1},
                    "spec": {"sourceRef": {"kind": "GitRepository", "name": "apps",
                        "namespace": "flux-system"}, "path": format!("./{}", name(i)),
                        "interval": "5m", "prune": true},
                    "status": {"conditions": ready(true, at),
                        "lastAppliedRevision": "main@sha1:4f8a9c1"}}))
                .unwrap();
        }
        let sim = Simulator::new(state, Config::default()).unwrap();
        let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let kubeconfig = dir.join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
            "kustomize.toolkit.fluxcd.io",
            "v1",
            "Kustomization",
        ));
        let api = Api::namespaced_with(client, NAMESPACE, &resource);
        Cluster {
            transitions: std::sync::Mutex::new([None; OBJECTS]),
            sim,
            server,
            api,
            kubeconfig,
        }
    }

    /// Sets object `i` Ready (`true`) or failing, through the API's status subresource.
    pub async fn set_ready(&self, i: usize, status: bool) -> Result<(), String> {
        let at = {
            let mut transitions = self.transitions.lock().unwrap();
            let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap();
            let at = transitions[i]
                .map(|last| last + jiff::SignedDuration::from_secs(1))
                .map_or(now, |next| next.max(now));
            transitions[i] = Some(at);
            at
        };
        let patch = json!({"status": {"conditions": ready(status, &at.to_string())}});
        self.api
            .patch_status(&name(i), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| format!("patching the status of {}: {e}", name(i)))
    }

    /// fluxbrain's saved state (`None`: none saved yet).
    fn saved(&self, store: Store, file: &Path) -> Option<State> {
        match store {
            Store::File => fluxbrain_core::engine::decode(&std::fs::read(file).ok()?).ok(),
            Store::ConfigMap => self.configmap_state(),
        }
    }

    /// How many notifications the saved state has left to send, and how many it gave up.
    pub fn saved_outbox(&self, store: Store, file: &Path) -> Option<(usize, usize)> {
        self.saved(store, file)
            .map(|s| (s.outbox.len(), s.dead_letters.len()))
    }

    /// The objects with an open incident in fluxbrain's saved state (`None`: none saved yet).
    pub fn open_in_saved_state(&self, store: Store, file: &Path) -> Option<BTreeSet<String>> {
        let state = self.saved(store, file)?;
        Some(
            state
                .incidents
                .keys()
                .filter(|k| k.namespace == NAMESPACE)
                .map(|k| k.name.clone())
                .collect(),
        )
    }

    fn configmap_state(&self) -> Option<State> {
        let cm = self
            .sim
            .object("v1", "ConfigMap", "flux-system", STATE_CONFIGMAP)?;
        let annotations = serde_json::from_value(cm["metadata"]["annotations"].clone()).ok()?;
        let data = cm["binaryData"]["state.json.gz"].as_str()?;
        let compressed = base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?;
        fluxbrain_kube::configmap_store::read_state(&annotations, &compressed).ok()
    }

    pub async fn stop(self) {
        let _ = self.server.shutdown().await;
    }
}
