//! The embedded operator against the simulator: every notification becomes exactly one Event
//! on its Flux object, with the incident's reason and message.

use fluxbrain_core::{Collector, EngineConfig, Time};
use fluxbrain_example_embed_operator::{COMPONENT, engine, pass};
use fluxbrain_kube::collector::{ClusterConfig, CollectorConfig, KubeCollector};
use fluxbrain_sim::{Config, Simulator, State};
use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::api::ListParams;

#[tokio::test]
async fn each_notification_is_one_event_on_its_object() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../clusters/basic");
    let sim = Simulator::new(
        State::load_dir(dir).unwrap(),
        Config {
            start: "2026-04-21T09:30:00Z".parse().unwrap(),
            ..Config::default()
        },
    )
    .unwrap();
    let client = kube::Client::new(sim.service(), "default");
    let collector = KubeCollector::new(CollectorConfig::new(vec![ClusterConfig::with_client(
        "basic",
        client.clone(),
    )]))
    .unwrap();
    collector.start();
    collector.synced().await;
    let engine = engine(client.clone(), EngineConfig::default()).await;
    let now = Time::parse("2026-04-21T09:30:00Z").unwrap();

    let (due, errors) = pass(&collector, &engine, now).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(due, 9, "the fixture cluster's failing objects");
    // A second pass has nothing new to say, and records nothing new.
    let (again, errors) = pass(&collector, &engine, now.add_seconds(60)).await;
    assert_eq!((again, errors.len()), (0, 0));

    let events: Api<Event> = Api::all(client);
    let ours: Vec<Event> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reporting_component.as_deref() == Some(COMPONENT))
        .collect();
    assert_eq!(ours.len(), 9, "one Event per notification");
    let build_failed = ours
        .iter()
        .find(|e| e.involved_object.name.as_deref() == Some("infra-configs"))
        .expect("an Event on Kustomization flux-system/infra-configs");
    assert_eq!(build_failed.reason.as_deref(), Some("FluxbrainFiring"));
    assert_eq!(build_failed.type_.as_deref(), Some("Warning"));
    assert_eq!(
        build_failed.involved_object.kind.as_deref(),
        Some("Kustomization")
    );
    let message = build_failed.message.as_deref().unwrap();
    let state = engine.state().await;
    let record = state
        .incidents
        .values()
        .find(|r| r.key.name == "infra-configs")
        .unwrap();
    assert!(
        message.starts_with(&format!("{}: ", record.reason)),
        "{message}"
    );
    assert!(message.contains(&record.event.message), "{message}");
}
