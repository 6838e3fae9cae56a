//! Leader election on a Lease in the simulator, on an injected local clock.

use std::time::Duration;

use fluxbrain_kube::{LeaderElector, LeaseConfig};
use tokio::time::Instant;

use crate::support::{kube_client, start};

fn config(identity: &str) -> LeaseConfig {
    LeaseConfig {
        namespace: "flux-system".into(),
        name: "fluxbrain".into(),
        identity: identity.into(),
        duration: Duration::from_secs(15),
        timeout: Duration::from_secs(10),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_then_failover_after_the_lease_runs_out() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let mut a = LeaderElector::new(client.clone(), config("replica-a"));
    let mut b = LeaderElector::new(client, config("replica-b"));
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);

    assert!(
        a.tick_at(at(0)).await,
        "the first replica takes the free lease"
    );
    assert!(!b.tick_at(at(0)).await, "the second one waits");
    // a renews every 5 s: b never takes over.
    for s in [5, 10, 15, 20, 25] {
        assert!(a.tick_at(at(s)).await);
        assert!(
            !b.tick_at(at(s)).await,
            "b took over at {s}s while a renewed"
        );
    }
    // a dies after its renewal at 25 s. b sees no change from 25 s on and takes over once
    // 15 s have passed on its own clock.
    assert!(!b.tick_at(at(30)).await);
    assert!(!b.tick_at(at(35)).await);
    assert!(
        b.tick_at(at(40)).await,
        "failover within lease duration + one retry period"
    );
    // a comes back: it sees b's renewals and does not lead; its own view has expired.
    assert!(!a.is_leader(at(41)));
    assert!(!a.tick_at(at(41)).await);
    assert!(b.tick_at(at(45)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_hands_over_at_once() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let mut a = LeaderElector::new(client.clone(), config("replica-a"));
    let mut b = LeaderElector::new(client, config("replica-b"));
    let now = Instant::now();
    assert!(a.tick_at(now).await);
    a.release().await;
    assert!(b.tick_at(now + Duration::from_secs(1)).await);
}
