//! One-shot collection: discovery of what is served, forbidden kinds, logs, faults.

use fluxbrain_core::{Health, Kind};
use fluxbrain_kube::collector::{ErrorClass, KubeCollector};
use fluxbrain_sim::{Crds, Faults, State};

use super::support::{
    basic_dir, cluster, collect_one, config, ndjson, offline, serve, serve_basic, sim_config,
};

const TWO_KINDS: &str = r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: flux-system, uid: u1, generation: 1}
spec: {url: "https://example.com/repo", interval: 1m}
status:
  conditions:
  - {type: Ready, status: "False", reason: GitOperationFailed, message: "auth failed", lastTransitionTime: "2026-04-21T09:00:00Z"}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system, uid: u2, generation: 1}
spec: {sourceRef: {kind: GitRepository, name: repo}, path: ./apps, interval: 5m, prune: true}
status:
  conditions:
  - {type: Ready, status: "True", reason: ReconciliationSucceeded, message: "Applied", lastTransitionTime: "2026-04-21T09:00:00Z"}
"#;

const CONTROLLER_POD: &str = r#"
apiVersion: v1
kind: Pod
metadata: {name: kustomize-controller-1, namespace: flux-system, labels: {app: kustomize-controller}}
spec: {containers: [{name: manager, image: "ghcr.io/fluxcd/kustomize-controller:v1.8.2"}]}
status: {phase: Running}
"#;

#[tokio::test]
async fn kinds_the_cluster_does_not_serve_are_skipped_silently() {
    let mut state = State::new();
    state.load_str(TWO_KINDS, "two-kinds.yaml").unwrap();
    // A cluster with only source-controller's and kustomize-controller's CRDs for these two.
    let installed = fluxbrain_sim::Config {
        crds: Crds::Only(Vec::new()),
        ..sim_config()
    };
    let (sim, server) = serve(state, installed).await;
    let collector = KubeCollector::new(config(vec![cluster("small", &server)])).unwrap();
    let seen = collect_one(&collector).await;
    assert!(seen.unobserved.is_empty());
    let mut kinds: Vec<Kind> = seen
        .snapshot
        .objects
        .iter()
        .map(|o| o.key.kind.clone())
        .collect();
    kinds.sort();
    assert_eq!(kinds, [Kind::Kustomization, Kind::GitRepository]);
    let metrics = collector.metrics();
    assert_eq!(metrics.api_errors.values().sum::<u64>(), 0, "{metrics:?}");
    let requests = sim.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("helmreleases") || r.contains("/apis/image.toolkit")),
        "nothing is asked of kinds that are not served: {requests:#?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/kustomizations?") && r.contains("limit=500"))
    );
}

/// A Flux 2.2 source group: GitRepository at v1 (the group's preferred version), the other
/// sources only at v1beta2.
const MIXED_VERSIONS: &str = r#"
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: repo, namespace: flux-system, uid: u1, generation: 1}
spec: {url: "https://example.com/repo", interval: 1m}
status:
  conditions:
  - {type: Ready, status: "True", reason: Succeeded, message: "stored artifact", lastTransitionTime: "2026-04-21T09:00:00Z"}
---
apiVersion: source.toolkit.fluxcd.io/v1beta2
kind: OCIRepository
metadata: {name: manifests, namespace: flux-system, uid: u2, generation: 1}
spec: {url: "oci://ghcr.io/example/manifests", interval: 5m}
status:
  conditions:
  - {type: Ready, status: "False", reason: OCIPullFailed, message: "failed to pull artifact", lastTransitionTime: "2026-04-21T09:00:00Z"}
"#;

#[tokio::test]
async fn a_kind_missing_from_its_groups_preferred_version_is_read_at_the_version_serving_it() {
    let mut state = State::new();
    state.load_str(MIXED_VERSIONS, "mixed.yaml").unwrap();
    let installed = fluxbrain_sim::Config {
        crds: Crds::Only(Vec::new()),
        ..sim_config()
    };
    let (_sim, server) = serve(state, installed).await;
    let collector = KubeCollector::new(config(vec![cluster("old", &server)])).unwrap();
    let seen = collect_one(&collector).await;
    let oci = seen
        .snapshot
        .objects
        .iter()
        .find(|o| o.key.kind == Kind::OciRepository)
        .expect("OCIRepository read at v1beta2");
    assert_eq!(oci.api_version, "source.toolkit.fluxcd.io/v1beta2");
    assert_eq!(oci.health(), Health::Failing);
    assert_eq!(seen.snapshot.objects.len(), 2);
}

#[tokio::test]
async fn the_operator_watcher_and_receiver_kinds_are_discovered_and_read_like_the_others() {
    let kinds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/kinds");
    let mut state = State::new();
    for file in [
        "receiver-failing.yaml",
        "externalartifact-healthy.yaml",
        "artifactgenerator-failing.yaml",
        "fluxinstance-failing.yaml",
        "resourceset-failing.yaml",
        "resourcesetinputprovider-failing.yaml",
    ] {
        state.load_file(kinds.join(file)).unwrap();
    }
    let (sim, server) = serve(state, sim_config()).await;
    let collector = KubeCollector::new(config(vec![cluster("ops", &server)])).unwrap();
    let seen = collect_one(&collector).await;
    assert!(seen.unobserved.is_empty(), "{:?}", seen.unobserved);
    let mut read: Vec<(Kind, Health)> = seen
        .snapshot
        .objects
        .iter()
        .map(|o| (o.key.kind.clone(), o.health()))
        .collect();
    read.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        read,
        [
            (Kind::Receiver, Health::Failing),
            (Kind::ExternalArtifact, Health::Healthy),
            (Kind::ArtifactGenerator, Health::Failing),
            (Kind::FluxInstance, Health::Failing),
            (Kind::ResourceSet, Health::Failing),
            (Kind::ResourceSetInputProvider, Health::Failing),
        ]
    );
    let requests = sim.requests();
    for path in [
        "/apis/notification.toolkit.fluxcd.io/v1/receivers?",
        "/apis/source.toolkit.fluxcd.io/v1/externalartifacts?",
        "/apis/source.extensions.fluxcd.io/v1beta1/artifactgenerators?",
        "/apis/fluxcd.controlplane.io/v1/fluxinstances?",
    ] {
        assert!(
            requests.iter().any(|r| r.contains(path)),
            "{path} was never listed: {requests:#?}"
        );
    }
}

#[tokio::test]
async fn a_forbidden_kind_is_unobserved_and_the_others_are_read() {
    let (sim, server) = serve_basic().await;
    sim.set_faults(Faults {
        error_rate: 1.0,
        error_status: 403,
        request_contains: Some("/gitrepositories".to_owned()),
        ..Faults::default()
    });
    let collector = KubeCollector::new(config(vec![cluster("basic", &server)])).unwrap();
    let seen = collect_one(&collector).await;
    assert_eq!(seen.unobserved, [Kind::GitRepository]);
    assert!(
        !seen
            .snapshot
            .objects
            .iter()
            .any(|o| o.key.kind == Kind::GitRepository)
    );
    assert!(
        seen.snapshot
            .objects
            .iter()
            .any(|o| o.key.kind == Kind::Kustomization)
    );
    let metrics = collector.metrics();
    assert_eq!(metrics.forbidden_kinds, 1);
    assert_eq!(
        metrics.api_errors[&ErrorClass::Forbidden],
        1,
        "forbidden is not retried"
    );
}

#[tokio::test]
async fn server_errors_are_retried_to_the_exact_state() {
    let (sim, server) = serve_basic().await;
    // A fifth of the list pages fail; the collector asks for each again.
    sim.set_faults(Faults {
        error_rate: 0.2,
        error_status: 500,
        request_contains: Some("limit=".to_owned()),
        ..Faults::default()
    });
    let mut config = config(vec![cluster("basic", &server)]);
    config.page_size = 5;
    let collector = KubeCollector::new(config).unwrap();
    let seen = collect_one(&collector).await;
    assert!(seen.unobserved.is_empty(), "{:?}", seen.unobserved);
    let metrics = collector.metrics();
    assert!(
        metrics.api_errors[&ErrorClass::Retryable] > 0,
        "{metrics:?}"
    );
    let mut expected = offline(&basic_dir(), "basic");
    expected.logs.clear();
    assert_eq!(ndjson(&seen.snapshot), ndjson(&expected));
    assert_eq!(seen.snapshot.objects.len(), expected.objects.len());
}

#[tokio::test]
async fn logs_are_read_once_per_controller_pod_from_the_failure_start() {
    let (sim, server) = serve_basic().await;
    let mut config = config(vec![cluster("basic", &server)]);
    config.collect_logs = true;
    config.log_tail_lines = 100;
    let collector = KubeCollector::new(config).unwrap();
    let seen = collect_one(&collector).await;

    let index = seen.snapshot.index();
    let failing: Vec<_> = index
        .objects()
        .into_iter()
        .filter(|o| o.health() == Health::Failing)
        .collect();
    let requests: Vec<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.contains("/log?"))
        .collect();
    let mut pods: Vec<&str> = requests
        .iter()
        .map(|r| r.split("/pods/").nth(1).unwrap().split('/').next().unwrap())
        .collect();
    pods.sort();
    let mut all_pods: Vec<&str> = seen.snapshot.pods.iter().map(|p| p.name.as_str()).collect();
    all_pods.sort();
    assert_eq!(
        pods, all_pods,
        "one request per controller pod, never one per object"
    );
    for r in &requests {
        assert!(
            r.contains("sinceTime=") && r.contains("tailLines=100"),
            "{r}"
        );
        assert!(!r.contains("follow"), "{r}");
    }
    // kustomize-controller's log is read from the earliest failure of a Kustomization.
    let earliest = failing
        .iter()
        .filter(|o| o.key.kind == Kind::Kustomization)
        .filter_map(|o| o.failing_condition().and_then(|c| c.last_transition_time))
        .min()
        .unwrap();
    let since = format!("sinceTime={}", earliest.to_string().replace(':', "%3A"));
    let kustomize = requests
        .iter()
        .find(|r| r.contains("/kustomize-controller-"))
        .unwrap();
    assert!(
        kustomize.contains(&since),
        "{kustomize} does not start at {since}"
    );

    assert!(!seen.snapshot.logs.is_empty());
    for line in &seen.snapshot.logs {
        let object = index.object(&line.object).unwrap();
        assert_eq!(object.health(), Health::Failing, "{line:?}");
    }
    assert_eq!(collector.metrics().log_requests, all_pods.len() as u64);
}

#[tokio::test]
async fn no_log_is_read_when_nothing_fails() {
    let mut state = State::new();
    let healthy = TWO_KINDS.replace(
        "\"False\", reason: GitOperationFailed",
        "\"True\", reason: Succeeded",
    );
    state.load_str(&healthy, "ok.yaml").unwrap();
    state.load_str(CONTROLLER_POD, "pods.yaml").unwrap();
    let (sim, server) = serve(state, sim_config()).await;
    let mut config = config(vec![cluster("healthy", &server)]);
    config.collect_logs = true;
    let collector = KubeCollector::new(config).unwrap();
    let seen = collect_one(&collector).await;
    assert!(
        seen.snapshot
            .objects
            .iter()
            .all(|o| o.health() != Health::Failing)
    );
    assert_eq!(seen.snapshot.pods.len(), 1);
    assert!(!sim.requests().iter().any(|r| r.contains("/log")));
}

#[tokio::test]
async fn without_collect_logs_no_log_is_read() {
    let (sim, server) = serve_basic().await;
    let collector = KubeCollector::new(config(vec![cluster("basic", &server)])).unwrap();
    let seen = collect_one(&collector).await;
    assert!(seen.snapshot.logs.is_empty());
    assert!(!sim.requests().iter().any(|r| r.contains("/log")));
}

#[tokio::test]
async fn an_object_that_cannot_be_parsed_is_reported_by_name_not_as_gone() {
    let mut state = State::new();
    // A Ready condition without its status: the Kustomization cannot be read.
    let broken = TWO_KINDS.replace(
        "{type: Ready, status: \"True\", reason: ReconciliationSucceeded,",
        "{type: Ready, reason: ReconciliationSucceeded,",
    );
    state.load_str(&broken, "broken.yaml").unwrap();
    let (_sim, server) = serve(state, sim_config()).await;
    let collector = KubeCollector::new(config(vec![cluster("small", &server)])).unwrap();
    let seen = collect_one(&collector).await;
    let names: Vec<&str> = seen
        .snapshot
        .objects
        .iter()
        .map(|o| o.key.name.as_str())
        .collect();
    assert_eq!(names, ["repo"]);
    assert_eq!(seen.unreadable.len(), 1, "{:?}", seen.unreadable);
    let unreadable = &seen.unreadable[0];
    assert_eq!(
        unreadable.key,
        fluxbrain_core::ObjectRef::new(Kind::Kustomization, "flux-system", "apps")
    );
    assert!(
        unreadable.error.contains("status.conditions[0]"),
        "{}",
        unreadable.error
    );
    assert_eq!(collector.metrics().objects_skipped, 1);
}
