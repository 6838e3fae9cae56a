//! The real kubectl against the simulator.
//!
//! kubectl must be installed; without it these tests skip locally and fail under `CI=true`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fluxbrain_sim::{Config, Crds, Server, Simulator, State};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::support::{TempDir, config, fixture_docs, start};

/// The kubectl binary, or `None` (skip) outside CI.
fn kubectl_binary() -> Option<PathBuf> {
    let explicit = std::env::var_os("KUBECTL").map(PathBuf::from);
    let found = explicit.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("kubectl"))
                .find(|p| p.is_file())
        })
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "kubectl is not installed: the simulator's kubectl tests need it (install kubectl or the Debian package kubernetes-client)"
            );
        }
        eprintln!("skipping: kubectl is not installed");
    }
    found
}

/// kubectl with a kubeconfig and cache of its own.
struct Kubectl {
    bin: PathBuf,
    dir: TempDir,
}

impl Kubectl {
    fn new(server: &Server) -> Option<Self> {
        let bin = kubectl_binary()?;
        let dir = TempDir::new("kubectl");
        server
            .write_kubeconfig(dir.path().join("kubeconfig"))
            .unwrap();
        Some(Self { bin, dir })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"));
        cmd.arg("--cache-dir").arg(self.dir.path().join("cache"));
        cmd.args(args)
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs to completion: (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = tokio::time::timeout(Duration::from_secs(60), self.command(args).output())
            .await
            .unwrap()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed: {stderr}");
        stdout
    }

    async fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args).await).unwrap()
    }
}

fn names(list: &Value) -> BTreeSet<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["metadata"]["namespace"].as_str().unwrap_or_default(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// `namespace/name` of the fixture documents of one kind (`v1` and `events.k8s.io` Events alike).
fn fixture_names(file: &str, kind: &str) -> BTreeSet<String> {
    fixture_docs(file)
        .iter()
        .filter(|d| d["kind"] == kind)
        .map(|d| {
            format!(
                "{}/{}",
                d["metadata"]["namespace"].as_str().unwrap_or_default(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_resources_lists_core_and_every_installed_flux_kind() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let out = k.ok(&["api-resources", "--no-headers"]).await;
    let rows: BTreeSet<(String, String)> = out
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            (
                cols[cols.len() - 3].to_string(),
                cols[cols.len() - 1].to_string(),
            )
        })
        .collect();
    for (api_version, kind) in [
        ("v1", "Pod"),
        ("v1", "Event"),
        ("v1", "ConfigMap"),
        ("v1", "Namespace"),
        ("coordination.k8s.io/v1", "Lease"),
        ("events.k8s.io/v1", "Event"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
        ("source.toolkit.fluxcd.io/v1", "GitRepository"),
        ("source.toolkit.fluxcd.io/v1", "OCIRepository"),
        ("source.toolkit.fluxcd.io/v1", "HelmRepository"),
        ("source.toolkit.fluxcd.io/v1", "HelmChart"),
        ("source.toolkit.fluxcd.io/v1", "Bucket"),
        ("image.toolkit.fluxcd.io/v1", "ImageRepository"),
        ("image.toolkit.fluxcd.io/v1", "ImagePolicy"),
        ("image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation"),
        ("notification.toolkit.fluxcd.io/v1", "Receiver"),
        ("source.toolkit.fluxcd.io/v1", "ExternalArtifact"),
        ("source.extensions.fluxcd.io/v1beta1", "ArtifactGenerator"),
        ("fluxcd.controlplane.io/v1", "FluxInstance"),
        ("fluxcd.controlplane.io/v1", "ResourceSet"),
        ("fluxcd.controlplane.io/v1", "ResourceSetInputProvider"),
    ] {
        assert!(
            rows.contains(&(api_version.to_string(), kind.to_string())),
            "{api_version} {kind} missing from:\n{out}"
        );
    }
    assert_eq!(
        rows.len(),
        22,
        "core kinds and every Flux kind, with or without objects:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_flux_crds_lists_only_core_kinds() {
    let config = Config {
        crds: Crds::Only(Vec::new()),
        ..config()
    };
    let sim = Simulator::new(State::new(), config).unwrap();
    let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let out = k.ok(&["api-resources", "--no-headers"]).await;
    assert_eq!(out.lines().count(), 6, "{out}");
    assert!(!out.contains("fluxcd"), "{out}");
    let (ok, _, missing) = k.run(&["get", "kustomizations", "-A"]).await;
    assert!(!ok);
    assert!(
        missing.contains("the server doesn't have a resource type \"kustomizations\""),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_stored_at_one_version_reads_back_at_every_served_version() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    for (resource, version) in [
        (
            "kustomizations.v1beta2.kustomize.toolkit.fluxcd.io",
            "kustomize.toolkit.fluxcd.io/v1beta2",
        ),
        (
            "kustomizations.v1.kustomize.toolkit.fluxcd.io",
            "kustomize.toolkit.fluxcd.io/v1",
        ),
        (
            "helmreleases.v2beta1.helm.toolkit.fluxcd.io",
            "helm.toolkit.fluxcd.io/v2beta1",
        ),
        (
            "helmreleases.v2beta2.helm.toolkit.fluxcd.io",
            "helm.toolkit.fluxcd.io/v2beta2",
        ),
        (
            "gitrepositories.v1beta2.source.toolkit.fluxcd.io",
            "source.toolkit.fluxcd.io/v1beta2",
        ),
    ] {
        let out = k.ok(&["get", resource, "-A", "-o", "json"]).await;
        let list: Value = serde_json::from_str(&out).unwrap();
        let items = list["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{resource}: {out}");
        for item in items {
            assert_eq!(item["apiVersion"], version, "{resource}: {item}");
        }
    }
    // The fixture's Kustomization stored at v1 keeps its facts when read at v1beta2.
    let out = k
        .ok(&[
            "get",
            "kustomizations.v1beta2.kustomize.toolkit.fluxcd.io",
            "-n",
            "shop",
            "shop-config",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
        ])
        .await;
    assert_eq!(out.trim(), "BuildFailed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_all_namespaces_as_json_for_every_kind() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let flux = [
        ("kustomizations", "Kustomization"),
        ("helmreleases", "HelmRelease"),
        ("gitrepositories", "GitRepository"),
        ("ocirepositories", "OCIRepository"),
        ("helmrepositories", "HelmRepository"),
        ("helmcharts", "HelmChart"),
        ("buckets", "Bucket"),
        ("imagerepositories", "ImageRepository"),
        ("imagepolicies", "ImagePolicy"),
        ("imageupdateautomations", "ImageUpdateAutomation"),
    ];
    for (resource, kind) in flux {
        let list = k.json(&["get", resource, "-A", "-o", "json"]).await;
        assert_eq!(
            names(&list),
            fixture_names("objects.yaml", kind),
            "{resource}"
        );
        assert!(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["kind"] == kind && o["status"].is_object())
        );
    }
    let pods = k.json(&["get", "pods", "-A", "-o", "json"]).await;
    assert_eq!(names(&pods), fixture_names("pods.yaml", "Pod"));
    // Both event APIs serve the same 28 events (one storage, converted field by field).
    let all_events = fixture_names("events.yaml", "Event");
    assert_eq!(all_events.len(), 28);
    let core = k.json(&["get", "events", "-A", "-o", "json"]).await;
    assert_eq!(names(&core), all_events);
    let v1 = k
        .json(&["get", "events.v1.events.k8s.io", "-A", "-o", "json"])
        .await;
    assert_eq!(names(&v1), all_events);
    assert!(
        v1["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["regarding"]["kind"].is_string() && e.get("involvedObject").is_none())
    );
    let namespaces = k.json(&["get", "namespaces", "-o", "json"]).await;
    let ns: BTreeSet<String> = names(&namespaces)
        .into_iter()
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    assert!(
        ["default", "flux-system", "shop", "observability"]
            .iter()
            .all(|n| ns.contains(*n)),
        "{ns:?}"
    );
    let empty = k
        .json(&["get", "configmaps,leases", "-A", "-o", "json"])
        .await;
    assert_eq!(empty["items"].as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_size_pages_with_continue_and_sees_the_same_items() {
    let (sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let whole = k.json(&["get", "kustomizations", "-A", "-o", "json"]).await;
    let before = sim.requests().len();
    let chunked = k
        .json(&[
            "get",
            "kustomizations",
            "-A",
            "-o",
            "json",
            "--chunk-size=2",
        ])
        .await;
    assert_eq!(names(&chunked), names(&whole));
    assert_eq!(names(&chunked).len(), 9);
    let lists: Vec<String> = sim.requests()[before..]
        .iter()
        .filter(|r| r.contains("/kustomizations?"))
        .cloned()
        .collect();
    assert_eq!(lists.len(), 5, "9 items in pages of 2: {lists:#?}");
    assert!(lists[0].contains("limit=2") && !lists[0].contains("continue="));
    assert!(
        lists[1..]
            .iter()
            .all(|r| r.contains("continue=") && r.contains("limit=2"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_selector_on_involved_object() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let selected = k
        .json(&[
            "get",
            "events",
            "-A",
            "-o",
            "json",
            "--field-selector",
            "involvedObject.kind=HelmRelease,involvedObject.name=storefront",
        ])
        .await;
    let want: BTreeSet<String> = fixture_docs("events.yaml")
        .iter()
        .filter(|e| {
            let about = if e["involvedObject"].is_object() {
                &e["involvedObject"]
            } else {
                &e["regarding"]
            };
            about["kind"] == "HelmRelease" && about["name"] == "storefront"
        })
        .map(|d| {
            format!(
                "{}/{}",
                d["metadata"]["namespace"].as_str().unwrap(),
                d["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(names(&selected), want);
    let by_ns = k
        .json(&[
            "get",
            "kustomizations",
            "-A",
            "-o",
            "json",
            "--field-selector",
            "metadata.namespace=shop",
        ])
        .await;
    assert_eq!(names(&by_ns).len(), 4);
    let (ok, _, stderr) = k
        .run(&["get", "events", "-A", "--field-selector", "spec.nope=1"])
        .await;
    assert!(!ok);
    assert!(
        stderr.contains("field label not supported: spec.nope"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_tail_prints_the_last_lines() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let pod = "kustomize-controller-7b5d9c6f48-m2kzt";
    let file =
        std::fs::read_to_string(crate::support::fixture_dir().join(format!("logs/{pod}.log")))
            .unwrap();
    let want: Vec<&str> = file
        .lines()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let out = k
        .ok(&["logs", "-n", "flux-system", pod, "--tail", "3"])
        .await;
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    let all = k.ok(&["logs", "-n", "flux-system", pod]).await;
    assert_eq!(all.lines().count(), file.lines().count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_sees_modified_after_status_patch() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let mut watch = k
        .command(&[
            "get",
            "kustomizations",
            "-n",
            "shop",
            "-w",
            "--output-watch-events",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };
    let header = next().await;
    assert!(
        header.starts_with("EVENT") && header.contains("READY"),
        "{header}"
    );
    let mut added = Vec::new();
    while added.len() < 4 {
        let line = next().await;
        assert!(line.starts_with("ADDED"), "{line}");
        added.push(line);
    }
    assert!(
        added[0].contains("shop-apps") && added[0].contains("False"),
        "{added:?}"
    );
    let patch = r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"ReconciliationSucceeded","message":"Applied revision: main@sha1:abc","lastTransitionTime":"2026-04-21T09:31:00Z","observedGeneration":2}]}}"#;
    let out = k
        .ok(&[
            "patch",
            "kustomization",
            "-n",
            "shop",
            "shop-apps",
            "--subresource=status",
            "--type=merge",
            "-p",
            patch,
        ])
        .await;
    assert!(out.contains("patched"), "{out}");
    let modified = next().await;
    let cols: Vec<&str> = modified.split_whitespace().collect();
    assert_eq!(&cols[..2], ["MODIFIED", "shop-apps"], "{modified}");
    assert_eq!(cols[3], "True", "{modified}");
    watch.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_with_stale_resource_version_is_a_conflict() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let stale = k.dir.path().join("stale.json");
    std::fs::write(
        &stale,
        k.ok(&[
            "get",
            "kustomization",
            "-n",
            "shop",
            "shop-apps",
            "-o",
            "json",
        ])
        .await,
    )
    .unwrap();
    k.ok(&[
        "patch",
        "kustomization",
        "-n",
        "shop",
        "shop-apps",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ])
    .await;
    let (ok, _, stderr) = k.run(&["replace", "-f", stale.to_str().unwrap()]).await;
    assert!(!ok);
    assert!(stderr.contains("Error from server (Conflict)"), "{stderr}");
    assert!(stderr.contains("the object has been modified; please apply your changes to the latest version and try again"), "{stderr}");
    let now = k
        .json(&[
            "get",
            "kustomization",
            "-n",
            "shop",
            "shop-apps",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(
        now["spec"]["suspend"], true,
        "the refused replace changed nothing"
    );
    assert_eq!(
        now["metadata"]["generation"], 3,
        "the spec patch bumped generation 2 -> 3"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_lifecycle_create_apply_delete() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let file = k.dir.path().join("cm.yaml");
    std::fs::write(&file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: state\n  namespace: flux-system\ndata:\n  a: \"1\"\n").unwrap();
    let path = file.to_str().unwrap();
    assert!(
        k.ok(&["create", "-f", path])
            .await
            .contains("configmap/state created")
    );
    let (ok, _, stderr) = k.run(&["create", "-f", path]).await;
    assert!(!ok && stderr.contains("AlreadyExists"), "{stderr}");
    std::fs::write(&file, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: state\n  namespace: flux-system\ndata:\n  a: \"2\"\n").unwrap();
    assert!(k.ok(&["apply", "-f", path]).await.contains("configured"));
    let cm = k
        .json(&["get", "cm", "-n", "flux-system", "state", "-o", "json"])
        .await;
    assert_eq!(cm["data"]["a"], "2");
    assert!(
        k.ok(&["delete", "cm", "-n", "flux-system", "state"])
            .await
            .contains("deleted")
    );
    let (ok, _, stderr) = k.run(&["get", "cm", "-n", "flux-system", "state"]).await;
    assert!(!ok && stderr.contains("NotFound"), "{stderr}");
}

/// `kubectl create configmap` sends the ConfigMap as Kubernetes protobuf (its typed client);
/// `kubectl delete` sends JSON DeleteOptions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_configmap_from_literals_round_trips_its_data() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let out = k
        .ok(&[
            "create",
            "configmap",
            "foo",
            "-n",
            "flux-system",
            "--from-literal=a=b",
            "--from-literal=empty=",
        ])
        .await;
    assert!(out.contains("configmap/foo created"), "{out}");
    let binary = k.dir.path().join("blob.bin");
    std::fs::write(&binary, [0u8, 159, 146, 150, 255]).unwrap();
    let from_file = format!("--from-file=blob={}", binary.display());
    k.ok(&[
        "create",
        "configmap",
        "bin",
        "-n",
        "flux-system",
        &from_file,
    ])
    .await;
    let cm = k
        .json(&["get", "configmap", "-n", "flux-system", "foo", "-o", "json"])
        .await;
    assert_eq!(cm["data"], serde_json::json!({"a": "b", "empty": ""}));
    assert_eq!(cm["metadata"]["namespace"], "flux-system");
    assert!(cm["metadata"]["uid"].is_string(), "{cm}");
    let bin = k
        .json(&["get", "configmap", "-n", "flux-system", "bin", "-o", "json"])
        .await;
    assert_eq!(bin["binaryData"], serde_json::json!({"blob": "AJ+Slv8="}));
    let (ok, _, stderr) = k
        .run(&["create", "configmap", "foo", "-n", "flux-system"])
        .await;
    assert!(
        !ok && stderr.contains("configmaps \"foo\" already exists"),
        "{stderr}"
    );
    let out = k
        .ok(&["delete", "configmap", "foo", "-n", "flux-system"])
        .await;
    assert!(out.contains("configmap \"foo\" deleted"), "{out}");
    let (ok, _, stderr) = k
        .run(&["get", "configmap", "foo", "-n", "flux-system"])
        .await;
    assert!(!ok && stderr.contains("NotFound"), "{stderr}");
}

/// `kubectl create namespace` sends a protobuf Namespace too. The simulator serves namespaces
/// read-only, so the answer is MethodNotAllowed; what must not happen is a refusal of the format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_namespace_is_refused_for_the_verb_not_the_format() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let (ok, _, stderr) = k.run(&["create", "namespace", "made-by-kubectl"]).await;
    assert!(!ok);
    assert!(stderr.contains("MethodNotAllowed"), "{stderr}");
    assert!(!stderr.contains("unknown format"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_prints_a_flux_kind_from_openapi_v3() {
    let (_sim, server) = start().await;
    let Some(k) = Kubectl::new(&server) else {
        return;
    };
    let out = k.ok(&["explain", "kustomization"]).await;
    for want in [
        "GROUP:      kustomize.toolkit.fluxcd.io",
        "KIND:       Kustomization",
        "VERSION:    v1",
        "spec\t<Object>",
        "status\t<Object>",
    ] {
        assert!(out.contains(want), "{want:?} missing from:\n{out}");
    }
    let out = k.ok(&["explain", "helmrelease.spec"]).await;
    assert!(out.contains("FIELD: spec <Object>"), "{out}");
    let out = k.ok(&["explain", "configmaps"]).await;
    assert!(out.contains("KIND:       ConfigMap"), "{out}");
}
