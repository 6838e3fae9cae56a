//! The expected reading of cluster-basic (fixtures README, "Expected reading").

use fluxbrain_core::{BuildOptions, Evidence, build_all, canonical, text::MAX_MESSAGE};

use crate::support::{basic_events, fixtures, load};

/// kind, namespace/name, reason, fingerprint, timestamp, upstream key.
type Expected = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

const EXPECTED: &[Expected] = &[
    (
        "GitRepository",
        "shop/shop-manifests",
        "GitOperationFailed",
        "62a7d77a261642fdeb7887f3f1cf0e73",
        "2026-04-20T22:04:41Z",
        None,
    ),
    (
        "HelmRepository",
        "observability/internal-charts",
        "Failed",
        "0d0e39dbfe9652b6efa119a8507e93ea",
        "2026-04-20T22:04:40Z",
        None,
    ),
    (
        "HelmChart",
        "observability/observability-metrics-gateway",
        "NoSourceArtifact",
        "d39fa8ef1a3188702b0b7ee4b3fe9b35",
        "2026-04-20T22:04:52Z",
        Some("HelmRepository/observability/internal-charts"),
    ),
    (
        "Kustomization",
        "flux-system/infra-configs",
        "ReconciliationFailed",
        "b6b60a6588ce85292d1937857a469e77",
        "2026-04-21T09:29:14Z",
        None,
    ),
    (
        "Kustomization",
        "flux-system/infra-monitoring",
        "HealthCheckFailed",
        "ecd50e4073ea49c754a20574577fb426",
        "2026-04-21T09:26:40Z",
        None,
    ),
    (
        "Kustomization",
        "shop/shop-config",
        "BuildFailed",
        "62fa480ede02c98bd4894c400dd06739",
        "2026-04-21T09:22:52Z",
        None,
    ),
    (
        "Kustomization",
        "shop/shop-ingress",
        "DependencyNotReady",
        "c92d57791718c2b1a43381b2bc872bab",
        "2026-04-21T08:42:20Z",
        Some("Kustomization/shop/shop-config"),
    ),
    (
        "Kustomization",
        "shop/shop-apps",
        "ArtifactFailed",
        "ccba3dc11677c4deeb8ef46b9b4cf2f3",
        "2026-04-20T22:05:03Z",
        Some("GitRepository/shop/shop-manifests"),
    ),
    (
        "HelmRelease",
        "shop/storefront",
        "UpgradeFailed",
        "9ff0d9eaadc78463b36946b0e2c8d9ff",
        "2026-04-21T08:52:12Z",
        None,
    ),
    (
        "HelmRelease",
        "observability/metrics-gateway",
        "SourceNotReady",
        "29e53f13500bf1d1e3c504530e77ea51",
        "2026-04-20T22:05:10Z",
        Some("HelmChart/observability/observability-metrics-gateway"),
    ),
    (
        "ImageRepository",
        "shop/payments-api",
        "ReadOperationFailed",
        "f6f3b476eb8b595590a21d192cc54dd7",
        "2026-04-21T03:10:14Z",
        None,
    ),
    (
        "ImagePolicy",
        "shop/storefront",
        "InvalidPolicy",
        "6832721094b912200a746afd5874a2b5",
        "2026-04-21T09:12:03Z",
        None,
    ),
    (
        "ImageUpdateAutomation",
        "flux-system/fleet-image-updates",
        "GitOperationFailed",
        "f170c1cfbf5d2f8939d752e3bcabc13d",
        "2026-04-21T09:12:31Z",
        None,
    ),
];

#[test]
fn expected_reading() {
    let events = basic_events();
    assert_eq!(events.len(), EXPECTED.len());
    for &(kind, object, reason, fingerprint, timestamp, upstream) in EXPECTED {
        let (namespace, name) = object.split_once('/').unwrap();
        let event = events
            .iter()
            .find(|e| {
                e.metadata.kind == kind
                    && e.metadata.namespace == namespace
                    && e.metadata.name == name
            })
            .unwrap_or_else(|| panic!("no event for {kind} {object}"));
        assert_eq!(event.error_type.as_deref(), Some(reason), "{kind} {object}");
        assert_eq!(
            event.metadata.fingerprint.to_string(),
            fingerprint,
            "{kind} {object}"
        );
        assert_eq!(event.timestamp.to_string(), timestamp, "{kind} {object}");
        assert_eq!(event.metadata.incident.started, event.timestamp);
        assert_eq!(
            event.metadata.upstream.as_ref().map(|u| u.key.as_str()),
            upstream,
            "{kind} {object}"
        );
    }
}

#[test]
fn controller_pods_give_version_and_hostname() {
    let events = basic_events();
    let storefront = events
        .iter()
        .find(|e| e.metadata.kind == "HelmRelease" && e.metadata.name == "storefront")
        .unwrap();
    assert_eq!(storefront.source.name, "helm-controller");
    assert_eq!(storefront.source.version.as_deref(), Some("v1.5.3"));
    assert_eq!(
        storefront.source.hostname.as_deref(),
        Some("helm-controller-5f9c8d7b6d-hx8vn")
    );
    assert_eq!(
        storefront.source.tags,
        [
            "fluxcd",
            "kind:HelmRelease",
            "cluster:basic",
            "namespace:shop"
        ]
    );
}

#[test]
fn evidence_is_bounded_sorted_and_in_the_window() {
    for event in basic_events() {
        let mut event_times = Vec::new();
        let mut log_times = Vec::new();
        for item in &event.evidence {
            match item {
                Evidence::Event(e) => event_times.push(e.last_time),
                Evidence::LogLine(l) => {
                    assert!(l.time >= event.metadata.incident.started, "{}", l.message);
                    log_times.push(l.time);
                }
                Evidence::Custom(_) => {}
            }
        }
        assert!(event_times.len() <= 20 && log_times.len() <= 50);
        assert!(event_times.is_sorted(), "{}", event.metadata.name);
        assert!(log_times.is_sorted(), "{}", event.metadata.name);
    }
}

#[test]
fn shop_config_events_and_logs() {
    let events = basic_events();
    let e = events
        .iter()
        .find(|e| e.metadata.name == "shop-config")
        .unwrap();
    let (mut n_events, mut n_logs) = (0, 0);
    for item in &e.evidence {
        match item {
            Evidence::Event(_) => n_events += 1,
            Evidence::LogLine(_) => n_logs += 1,
            Evidence::Custom(_) => {}
        }
    }
    // Five documents with five different messages (one from events.k8s.io/v1).
    assert_eq!(n_events, 5);
    // Log lines from the failure start (09:22:52) on: the failed attempt and its
    // notification-controller line.
    assert_eq!(n_logs, 2);
}

#[test]
fn secrets_never_leave() {
    for event in basic_events() {
        let bytes = String::from_utf8(canonical::to_vec(&event)).unwrap();
        assert!(
            !bytes.contains("ghp_R8mZq2VtLx5Nw7Kc3Yh9Pd1Fs6Jb4Gu0AeTo"),
            "{}",
            event.metadata.name
        );
        assert!(!bytes.contains("deploy-bot:"), "{}", event.metadata.name);
    }
    let events = basic_events();
    let apps = events
        .iter()
        .find(|e| e.metadata.name == "shop-apps")
        .unwrap();
    let source = apps.metadata.source.as_ref().unwrap();
    assert_eq!(
        source.url.as_deref(),
        Some("https://[REDACTED]@github.com/acme-corp/shop-manifests.git")
    );
}

#[test]
fn two_mebibyte_message_is_capped() {
    let loaded = load(
        &[fixtures().join("malformed/condition-message-2mb.yaml")],
        "m",
    );
    assert_eq!(loaded.warnings.len(), 1);
    let events = build_all(&loaded.snapshot, &BuildOptions::default());
    let message = &events[0].message;
    assert!(message.len() <= MAX_MESSAGE, "{}", message.len());
    assert!(
        message.ends_with("[truncated by fluxbrain, 32768 bytes in all]"),
        "{}",
        &message[message.len() - 80..]
    );
}

#[test]
fn canonical_snapshot() {
    let events = basic_events();
    let text = String::from_utf8(canonical::to_ndjson(&events, true)).unwrap();
    insta::assert_snapshot!("cluster_basic", text);
}
