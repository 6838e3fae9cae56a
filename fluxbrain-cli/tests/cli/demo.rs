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
    let recovered = NotificationKind::Resolved(Resolution::Recovered);
    let expected = [
        (firing, "GitRepository apps/shop"),
        (firing, "HelmRelease apps/redis"),
        (firing, "Kustomization flux-system/monitoring"),
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

    // The source's reminder lists the Kustomizations folded into it.
    let reminder = &played.notifications[4];
    let affected: Vec<&str> = reminder.affected.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(
        affected,
        [
            "Kustomization/apps/checkout",
            "Kustomization/apps/frontend",
            "Kustomization/apps/storefront-ingress"
        ]
    );

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
    assert!(text.contains("Summary: 11 notifications: 4 firing, 3 reminders, 4 resolved; 0 incident(s) still open."), "{text}");
}
