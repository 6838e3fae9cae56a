//! `fluxbrain demo` tells its story: the right notifications, in order, readable, no secret.

use std::sync::{Arc, Mutex};

use clap::Parser;
use fluxbrain_cli::cmd::demo::{Args, play};
use fluxbrain_cli::print::Sink;
use fluxbrain_core::{NotificationKind, Resolution};

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: Args,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story() {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let args = Wrapper::parse_from(["demo", "--pace", "0"]).args;
    let played = play(&args, Sink::Buffer(buffer.clone())).await.unwrap();
    let story: Vec<(NotificationKind, String)> = played
        .notifications
        .iter()
        .map(|n| {
            (
                n.kind,
                format!(
                    "{} {}/{}",
                    n.event.metadata.kind, n.event.metadata.namespace, n.event.metadata.name
                ),
            )
        })
        .collect();
    let firing = NotificationKind::Firing;
    let reminder = NotificationKind::Reminder;
    let updated = NotificationKind::Updated;
    let recovered = NotificationKind::Resolved(Resolution::Recovered);
    let expected = [
        (firing, "GitRepository apps/shop"),
        (firing, "HelmRelease apps/redis"),
        (firing, "Kustomization flux-system/monitoring"),
        (updated, "GitRepository apps/shop"),
        (recovered, "Kustomization flux-system/monitoring"),
        (reminder, "GitRepository apps/shop"),
        (reminder, "HelmRelease apps/redis"),
        (recovered, "GitRepository apps/shop"),
        (firing, "Kustomization apps/checkout"),
        (recovered, "Kustomization apps/checkout"),
        (reminder, "HelmRelease apps/redis"),
        (recovered, "HelmRelease apps/redis"),
    ];
    let expected: Vec<(NotificationKind, String)> = expected
        .iter()
        .map(|(k, o)| (*k, (*o).to_owned()))
        .collect();
    assert_eq!(story, expected);

    // The source's first message, held for the group wait, lists the Kustomizations that
    // failed with it meanwhile; catalog, which notices later, arrives as an update.
    let keys = |n: &fluxbrain_core::Notification| -> Vec<String> {
        n.affected.iter().map(|a| a.key.clone()).collect()
    };
    let first = &played.notifications[0];
    assert_eq!(
        keys(first),
        [
            "Kustomization/apps/checkout",
            "Kustomization/apps/frontend",
            "Kustomization/apps/storefront-ingress"
        ]
    );
    let update = &played.notifications[3];
    let change = update.change.as_ref().unwrap();
    assert_eq!(change.joined, ["Kustomization/apps/catalog"]);
    assert!(change.left.is_empty());
    assert_eq!(keys(update).len(), 4);
    assert_eq!(update.incident_id, first.incident_id);
    // The reminder lists them all.
    assert_eq!(keys(&played.notifications[5]).len(), 4);

    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("FIRING  demo: GitRepository apps/shop"),
        "{text}"
    );
    assert!(
        text.contains("STILL FAILING (reminder 2)  demo: HelmRelease apps/redis"),
        "{text}"
    );
    assert!(
        text.contains("https://[REDACTED]@github.com/acme-corp/shop.git"),
        "{text}"
    );
    assert!(!text.contains("ghp_"), "a token leaked:\n{text}");
    assert!(
        text.contains("DOWNSTREAM CHANGED  demo: GitRepository apps/shop"),
        "{text}"
    );
    assert!(
        text.contains("1 started failing with it:\n              - Kustomization/apps/catalog"),
        "{text}"
    );
    // Evidence is shown, not counted: the source's event and the controller's log line.
    assert!(
        text.contains("evidence  event Warning GitOperationFailed: failed to checkout"),
        "{text}"
    );
    assert!(
        text.contains("log manager error: Reconciler error"),
        "{text}"
    );
    assert!(!text.contains("item(s)"), "{text}");
    // The header says what "demo" is; no internal words.
    assert!(
        text.contains("named \"demo\" in every notification"),
        "{text}"
    );
    assert!(!text.to_lowercase().contains("fold"), "{text}");
    assert!(text.contains("Summary: 12 notifications: 4 firing, 1 update(s), 3 reminder(s), 4 resolved; 0 incident(s) still open."), "{text}");
}
