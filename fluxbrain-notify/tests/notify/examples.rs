//! docs/notifications/: one real request body per notifier, as the notifier sends it for a
//! firing with two downstream objects (and an update), so the documentation cannot drift:
//! this test fails when a body changes. `BLESS=1 cargo test -p fluxbrain-notify examples`
//! rewrites the files after an intended change.

use fluxbrain_core::{NotificationKind, Notifier};
use fluxbrain_notify::{
    GithubConfig, GithubNotifier, Secret, SecretUrl, SlackConfig, SlackNotifier, WebhookConfig,
    WebhookFormat, WebhookNotifier,
};
use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{affected, json, note, repo, updated};

/// Compares `body` (pretty-printed) with docs/notifications/`name`, or writes it with BLESS=1.
fn check(name: &str, body: &serde_json::Value) {
    let path = repo().join("docs/notifications").join(name);
    let text = format!("{}\n", serde_json::to_string_pretty(body).unwrap());
    if std::env::var("BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (BLESS=1 writes it)", path.display()));
    assert!(
        want == text,
        "{} differs from what the notifier sends now (BLESS=1 rewrites it):\n{text}",
        path.display()
    );
}

/// A receiver that answers everything as the destination would, and the bodies it got.
async fn receiver(answer: serde_json::Value, status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(status).set_body_json(answer))
        .mount(&server)
        .await;
    server
}

fn firing() -> fluxbrain_core::Notification {
    let mut n = note(NotificationKind::Firing, 1);
    n.affected = affected();
    n
}

#[tokio::test]
async fn the_documented_bodies_are_the_ones_sent() {
    // Slack, bot token: chat.postMessage for the firing, then chat.update and a reply for an
    // update.
    let server = receiver(
        json!({"ok": true, "channel": "C0FLUX", "ts": "1714000000.000100"}),
        200,
    )
    .await;
    let api = SecretUrl::parse(&format!("{}/api", server.uri())).unwrap();
    let slack =
        SlackNotifier::new(SlackConfig::bot(Secret::new("xoxb-example"), "C0FLUX", api)).unwrap();
    let receipt = slack.deliver(&firing(), None).await.unwrap();
    slack.deliver(&updated(), Some(&receipt)).await.unwrap();
    let sent = server.received_requests().await.unwrap();
    check("slack-bot-firing.json", &json(&sent[0]));
    check("slack-bot-updated-root.json", &json(&sent[1]));
    check("slack-bot-updated-reply.json", &json(&sent[2]));

    // The generic webhook: the envelope.
    let server = receiver(json!({}), 200).await;
    let mut config =
        WebhookConfig::new(SecretUrl::parse(&format!("{}/hook", server.uri())).unwrap());
    config.format = WebhookFormat::Envelope;
    let webhook = WebhookNotifier::new(config).unwrap();
    webhook.deliver(&firing(), None).await.unwrap();
    webhook.deliver(&updated(), None).await.unwrap();
    let sent = server.received_requests().await.unwrap();
    check("webhook-firing.json", &json(&sent[0]));
    check("webhook-updated.json", &json(&sent[1]));

    // GitHub: the search for an open issue finds none, so the firing opens one.
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"number": 7})))
        .mount(&server)
        .await;
    let mut config = GithubConfig::new("acme", "fleet", Secret::new("ghp_example")).unwrap();
    config.api_url = SecretUrl::parse(&format!("{}/api/v3", server.uri())).unwrap();
    GithubNotifier::new(config)
        .unwrap()
        .deliver(&firing(), None)
        .await
        .unwrap();
    let sent = server.received_requests().await.unwrap();
    let created = sent.iter().find(|r| r.method.as_str() == "POST").unwrap();
    check("github-issue.json", &json(created));
}
