//! Shared inputs for fluxbrain's benchmarks: realistic Flux objects, events and controller log
//! lines, generated so that sizes are known and nothing depends on files.

use serde_json::{Value, json};

/// A failing Kustomization as `kubectl get -o json` prints it (Flux v2.8).
pub fn failing_kustomization(name: &str) -> Value {
    json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
        "kind": "Kustomization",
        "metadata": {
            "creationTimestamp": "2026-02-03T10:17:55Z",
            "finalizers": ["finalizers.fluxcd.io"],
            "generation": 4,
            "labels": {
                "kustomize.toolkit.fluxcd.io/name": "flux-system",
                "kustomize.toolkit.fluxcd.io/namespace": "flux-system"
            },
            "name": name,
            "namespace": "shop",
            "resourceVersion": "1212804",
            "uid": "f078e403-c522-4db8-a4ee-7f4ddd3b0097"
        },
        "spec": {
            "dependsOn": [{"name": "shop-infra"}],
            "interval": "10m0s",
            "path": "./apps/shop/config",
            "prune": true,
            "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"},
            "timeout": "5m0s"
        },
        "status": {
            "conditions": [
                {
                    "lastTransitionTime": "2026-04-21T09:22:52Z",
                    "message": "kustomize build failed: accumulating resources: accumulation err='accumulating resources from './payments-overlay': '/tmp/kustomization-2281734915/apps/shop/config/payments-overlay' must resolve to a file'",
                    "observedGeneration": 4,
                    "reason": "BuildFailed",
                    "status": "False",
                    "type": "Ready"
                },
                {
                    "lastTransitionTime": "2026-04-21T09:22:52Z",
                    "message": "Detecting drift for revision main@sha1:312cbb1905592a6a3686eeda5324738a17049e51 with a timeout of 5m0s",
                    "observedGeneration": 4,
                    "reason": "ProgressingWithRetry",
                    "status": "True",
                    "type": "Reconciling"
                }
            ],
            "inventory": {"entries": [
                {"id": "shop_payments_apps_Deployment", "v": "v1"},
                {"id": "shop_payments__Service", "v": "v1"},
                {"id": "_shop__Namespace", "v": "v1"}
            ]},
            "lastAppliedRevision": "main@sha1:db136b426300101fd02c6c3650217a52ee635113",
            "lastAttemptedRevision": "main@sha1:312cbb1905592a6a3686eeda5324738a17049e51",
            "observedGeneration": 3
        }
    })
}

/// The GitRepository the Kustomization reads from (healthy).
pub fn git_repository() -> Value {
    json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "GitRepository",
        "metadata": {"name": "flux-system", "namespace": "flux-system", "generation": 1,
                     "uid": "87884fdc-08e4-408a-bbe4-d4afa1d65fb1"},
        "spec": {"url": "ssh://git@github.com/acme-corp/fleet-infra", "interval": "1m0s"},
        "status": {
            "artifact": {"revision": "main@sha1:312cbb1905592a6a3686eeda5324738a17049e51"},
            "conditions": [{"lastTransitionTime": "2026-04-21T08:41:09Z", "message": "stored artifact for revision 'main@sha1:312cbb1905592a6a3686eeda5324738a17049e51'",
                            "observedGeneration": 1, "reason": "Succeeded", "status": "True", "type": "Ready"}]
        }
    })
}

/// `n` core/v1 Warning events about Kustomization `shop/<name>`, each with its own message.
pub fn events(name: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "count": 1 + i,
                "eventTime": null,
                "firstTimestamp": format!("2026-04-21T09:{:02}:52Z", 10 + i),
                "lastTimestamp": format!("2026-04-21T09:{:02}:52Z", 12 + i),
                "involvedObject": {
                    "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                    "kind": "Kustomization",
                    "name": name,
                    "namespace": "shop",
                    "resourceVersion": "1212804",
                    "uid": "f078e403-c522-4db8-a4ee-7f4ddd3b0097"
                },
                "message": format!("kustomize build failed: accumulating resources: accumulation err='accumulating resources from './payments-overlay': open /tmp/kustomization-{}/apps/shop/config/payments-overlay/secret.enc.yaml: no such file or directory'", 1_409_926_513 + i),
                "metadata": {
                    "annotations": {"kustomize.toolkit.fluxcd.io/revision": "main@sha1:312cbb1905592a6a3686eeda5324738a17049e51"},
                    "creationTimestamp": "2026-04-21T09:10:52Z",
                    "name": format!("{name}.18a85{i:03}0e77a1a1"),
                    "namespace": "shop",
                    "resourceVersion": "1214801",
                    "uid": "5bdc8679-eb71-4328-9cd3-cc6bbf2ead3f"
                },
                "reason": "BuildFailed",
                "reportingComponent": "kustomize-controller",
                "reportingInstance": "",
                "source": {"component": "kustomize-controller"},
                "type": "Warning"
            })
        })
        .collect()
}

/// `n` kustomize-controller log lines about `shop/<name>`, as JSON text.
pub fn log_lines(name: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                r#"{{"level":"error","ts":"2026-04-21T09:{:02}:52.980Z","msg":"Reconciliation failed after 312.457093ms, next try in 10m0s","controller":"kustomization","controllerGroup":"kustomize.toolkit.fluxcd.io","controllerKind":"Kustomization","Kustomization":{{"name":"{name}","namespace":"shop"}},"namespace":"shop","name":"{name}","reconcileID":"fd85ee8b-ad2a-438c-bba0-86824e04{i:04}","revision":"main@sha1:312cbb1905592a6a3686eeda5324738a17049e51","error":"kustomize build failed: accumulating resources: accumulation err='accumulating resources from './payments-overlay': '/tmp/kustomization-2281734915/apps/shop/config/payments-overlay' must resolve to a file'"}}"#,
                23 + (i % 30)
            )
        })
        .collect()
}

/// The kustomize-controller pod.
pub fn controller_pod() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "kustomize-controller-7b5d9c6f48-m2kzt", "namespace": "flux-system",
                     "creationTimestamp": "2026-04-20T22:04:18Z",
                     "labels": {"app": "kustomize-controller"}},
        "spec": {"containers": [{"name": "manager", "image": "ghcr.io/fluxcd/kustomize-controller:v1.8.2"}]},
        "status": {"phase": "Running"}
    })
}

/// A cluster of `n` Flux objects (Kustomizations reading from one GitRepository), of which
/// every `1 / failing_every` fails, as a collector would observe it.
pub fn cluster(n: usize, failing_every: usize) -> fluxbrain_core::Snapshot {
    let mut snapshot = fluxbrain_core::Snapshot::new("bench");
    let mut warnings = Vec::new();
    let mut push = |value: &Value| {
        for doc in fluxbrain_core::parse_document(value, &mut warnings) {
            if let Ok(fluxbrain_core::Document::Object(o)) = doc {
                snapshot.objects.push(o.into());
            }
        }
    };
    push(&git_repository());
    for i in 0..n {
        let mut object = failing_kustomization(&format!("app-{i:05}"));
        object["metadata"]["namespace"] = json!(format!("team-{:03}", i % 200));
        if failing_every == 0 || i % failing_every != 0 {
            object["status"]["conditions"][0]["status"] = json!("True");
            object["status"]["conditions"][0]["reason"] = json!("ReconciliationSucceeded");
        }
        push(&object);
    }
    snapshot
}

/// (plural, apiVersion, kind) of the ten Flux kinds.
pub const FLUX_KINDS: [(&str, &str, &str); 10] = [
    (
        "kustomizations",
        "kustomize.toolkit.fluxcd.io/v1",
        "Kustomization",
    ),
    ("helmreleases", "helm.toolkit.fluxcd.io/v2", "HelmRelease"),
    (
        "gitrepositories",
        "source.toolkit.fluxcd.io/v1",
        "GitRepository",
    ),
    (
        "ocirepositories",
        "source.toolkit.fluxcd.io/v1",
        "OCIRepository",
    ),
    (
        "helmrepositories",
        "source.toolkit.fluxcd.io/v1",
        "HelmRepository",
    ),
    ("helmcharts", "source.toolkit.fluxcd.io/v1", "HelmChart"),
    ("buckets", "source.toolkit.fluxcd.io/v1", "Bucket"),
    (
        "imagerepositories",
        "image.toolkit.fluxcd.io/v1",
        "ImageRepository",
    ),
    ("imagepolicies", "image.toolkit.fluxcd.io/v1", "ImagePolicy"),
    (
        "imageupdateautomations",
        "image.toolkit.fluxcd.io/v1",
        "ImageUpdateAutomation",
    ),
];

/// Namespaces the scale harnesses spread objects over.
pub const NAMESPACES: usize = 50;

/// A `kB` field of this process's `/proc/self/status` (`VmRSS:`, `VmHWM:`), 0 when unreadable.
pub fn proc_status(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A generated cluster: `objects` Flux objects over the ten kinds and 50 namespaces (a quarter
/// failing), `events` Events about them, five controller pods.
pub fn generated_cluster(objects: usize, events: usize) -> Result<fluxbrain_sim::State, String> {
    let mut state = fluxbrain_sim::State::new();
    let per_kind = objects / FLUX_KINDS.len();
    let mut targets = Vec::with_capacity(objects);
    for (k, (_, api_version, kind)) in FLUX_KINDS.iter().enumerate() {
        for i in 0..per_kind {
            let ns = format!("team-{:02}", i % NAMESPACES);
            let name = format!("{}-{i:06}", kind.to_ascii_lowercase());
            let (status, reason) = if i % 4 == 0 {
                ("False", "ReconciliationFailed")
            } else {
                ("True", "ReconciliationSucceeded")
            };
            let uid = format!("{k:08x}-0000-4000-8000-{i:012x}");
            state
                .insert(json!({
                    "apiVersion": api_version, "kind": kind,
                    "metadata": {"name": name, "namespace": ns, "uid": uid, "generation": 2,
                        "creationTimestamp": "2026-01-12T14:03:27Z",
                        "labels": {"kustomize.toolkit.fluxcd.io/name": "flux-system"}},
                    "spec": {"interval": "10m0s", "path": format!("./apps/{name}"), "prune": true,
                        "sourceRef": {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}},
                    "status": {"observedGeneration": 2,
                        "lastAttemptedRevision": format!("main@sha1:{:040x}", i * 7919 + k),
                        "conditions": [{"type": "Ready", "status": status, "reason": reason,
                            "message": format!("{kind} {ns}/{name}: {reason}"),
                            "lastTransitionTime": "2026-04-21T09:14:07Z", "observedGeneration": 2}]}
                }))
                .map_err(|e| e.to_string())?;
            targets.push((*api_version, *kind, ns, name, uid));
        }
    }
    for e in 0..events {
        let Some((api_version, kind, ns, name, uid)) = targets.get(e % targets.len().max(1)) else {
            break;
        };
        let ts = format!("2026-04-21T09:{:02}:{:02}Z", (e / 60) % 60, e % 60);
        state
            .insert(json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{name}.{e:016x}"), "namespace": ns},
                "involvedObject": {"apiVersion": api_version, "kind": kind, "name": name, "namespace": ns, "uid": uid},
                "reason": if e % 3 == 0 { "ReconciliationFailed" } else { "Progressing" },
                "message": format!("event {e} about {kind} {ns}/{name}"),
                "type": if e % 3 == 0 { "Warning" } else { "Normal" },
                "count": 1 + e % 5, "firstTimestamp": ts, "lastTimestamp": ts,
                "source": {"component": "kustomize-controller"}, "reportingComponent": "kustomize-controller"
            }))
            .map_err(|e| e.to_string())?;
    }
    for controller in [
        "kustomize-controller",
        "helm-controller",
        "source-controller",
        "image-reflector-controller",
        "image-automation-controller",
    ] {
        state
            .insert(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("{controller}-6d8f7b9c5d-q4x7m"), "namespace": "flux-system",
                    "labels": {"app": controller}, "creationTimestamp": "2026-04-20T22:04:30Z"},
                "spec": {"containers": [{"name": "manager", "image": format!("ghcr.io/fluxcd/{controller}:v1.8.2")}]},
                "status": {"phase": "Running"}}))
            .map_err(|e| e.to_string())?;
    }
    Ok(state)
}

/// (utime + stime, cutime + cstime) of this process, in clock ticks (100 per second).
pub fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    // After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let get = |n: usize| fields.get(n - 3).copied().unwrap_or(0);
    (get(14) + get(15), get(16) + get(17))
}

/// Milliseconds of `ticks` clock ticks (100 per second).
pub fn ms_of_ticks(ticks: u64) -> u64 {
    ticks * 10
}

/// The `p` quantile (0 to 1) of `sorted`; zero when it is empty.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}
