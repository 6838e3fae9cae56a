//! Several clusters at once: each on its own, one dying never stops the others.

use fluxbrain_core::{Collector, Kind};
use fluxbrain_kube::collector::KubeCollector;
use serde_json::json;

use super::support::{Proxy, cluster, cluster_at, config, serve_basic, synced, until};

#[tokio::test]
async fn once_reports_the_dead_cluster_and_reads_the_other() {
    let (_a, server_a) = serve_basic().await;
    let (_b, server_b) = serve_basic().await;
    let clusters = vec![cluster("alpha", &server_a), cluster("beta", &server_b)];
    let collector = KubeCollector::new(config(clusters)).unwrap();
    server_b.shutdown().await.unwrap();
    let results = collector.collect().await;
    assert_eq!(results.len(), 2);
    let alpha = results[0].as_ref().unwrap();
    assert_eq!(alpha.snapshot.cluster, "alpha");
    assert!(!alpha.snapshot.objects.is_empty());
    let beta = results[1].as_ref().unwrap_err();
    assert_eq!(beta.cluster, "beta");
}

#[tokio::test]
async fn continuous_goes_on_when_one_cluster_is_killed() {
    let (sim_a, server_a) = serve_basic().await;
    let (_sim_b, server_b) = serve_basic().await;
    let proxy_b = Proxy::start(server_b.addr()).await;
    let clusters = vec![
        cluster("alpha", &server_a),
        cluster_at("beta", proxy_b.url()),
    ];
    let collector = KubeCollector::new(config(clusters)).unwrap();
    collector.start();
    synced(&collector).await;
    let results = collector.collect().await;
    assert!(results.iter().all(Result::is_ok));

    proxy_b.kill();
    let mut object = sim_a
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "shop",
            "shop-apps",
        )
        .unwrap();
    object["status"]["conditions"] = json!([{"type": "Ready", "status": "False",
        "reason": "HealthCheckFailed", "message": "timeout waiting for: [Deployment/shop/web status: 'InProgress']",
        "lastTransitionTime": "2026-04-21T09:40:00Z"}]);
    sim_a.apply(object).unwrap();

    until(
        &collector,
        "alpha shows the change while beta is reported down",
        || async {
            let results = collector.collect().await;
            let alpha_changed = results[0].as_ref().is_ok_and(|seen| {
                seen.snapshot.objects.iter().any(|o| {
                    o.key.kind == Kind::Kustomization
                        && o.key.name == "shop-apps"
                        && o.failing_condition()
                            .is_some_and(|c| c.reason == "HealthCheckFailed")
                })
            });
            let beta_down = results[1].as_ref().is_err_and(|e| e.cluster == "beta");
            alpha_changed && beta_down
        },
    )
    .await;
    let status = collector.status();
    assert!(status[0].synced);
    assert!(!status[1].synced && status[1].error.is_some());
}
