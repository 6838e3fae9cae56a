//! Transport-level failures for every notifier: timeouts, refused connections, 5xx, 429 with
//! Retry-After, redirects, oversized answers. Right classification, no panic, bounded time
//! (`misbehaving` goes further for redirects, oversized answers and TLS).

use std::time::Duration;

use fluxbrain_core::{NotificationKind, Notifier, Retry};
use fluxbrain_notify::{
    GithubConfig, GithubNotifier, Secret, SecretUrl, SlackConfig, SlackNotifier, WebhookConfig,
    WebhookNotifier,
};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::note;

const SHORT: Duration = Duration::from_millis(200);

/// One of each notifier pointed at `base`, with a 200 ms timeout.
fn all(base: &str) -> Vec<Box<dyn Notifier>> {
    let mut webhook = WebhookConfig::new(SecretUrl::parse(&format!("{base}/hook")).unwrap());
    webhook.timeout = SHORT;
    let mut slack_hook =
        SlackConfig::webhook(SecretUrl::parse(&format!("{base}/services/T/B/x")).unwrap());
    slack_hook.timeout = SHORT;
    let mut slack_bot = SlackConfig::bot(
        Secret::new("xoxb-1-2-x"),
        "C1",
        SecretUrl::parse(&format!("{base}/api")).unwrap(),
    );
    slack_bot.timeout = SHORT;
    let mut github = GithubConfig::new("acme", "fleet", Secret::new("ghp_x")).unwrap();
    github.api_url = SecretUrl::parse(base).unwrap();
    github.timeout = SHORT;
    vec![
        Box::new(WebhookNotifier::new(webhook).unwrap()),
        Box::new(SlackNotifier::new(slack_hook).unwrap()),
        Box::new(SlackNotifier::new(slack_bot).unwrap()),
        Box::new(GithubNotifier::new(github).unwrap()),
    ]
}

async fn server_answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn timeouts_are_retryable_and_bounded() {
    let server =
        server_answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(2))).await;
    let host = server.uri().trim_start_matches("http://").to_owned();
    for notifier in all(&server.uri()) {
        // The server answers after 2 s; the error saying the 200 ms timeout ended it is the
        // proof it was cut off (no clock is read).
        let err = notifier
            .deliver(&note(NotificationKind::Firing, 1), None)
            .await
            .unwrap_err();
        assert_eq!(err.retry, Retry::After(None), "{}", notifier.name());
        assert!(
            err.message.starts_with("POST to ") || err.message.starts_with("GET to "),
            "{}",
            err.message
        );
        assert!(
            err.message
                .ends_with(&format!("{host} timed out after 200ms")),
            "{}",
            err.message
        );
    }
}

#[tokio::test]
async fn refused_connections_are_retryable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for notifier in all(&format!("http://127.0.0.1:{port}")) {
        let err = notifier
            .deliver(&note(NotificationKind::Firing, 1), None)
            .await
            .unwrap_err();
        assert_eq!(err.retry, Retry::After(None), "{}", notifier.name());
        assert!(
            err.message.contains(&format!("to 127.0.0.1:{port} failed")),
            "{}",
            err.message
        );
    }
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let server =
        server_answering(ResponseTemplate::new(503).insert_header("retry-after", "17")).await;
    for notifier in all(&server.uri()) {
        let err = notifier
            .deliver(&note(NotificationKind::Firing, 1), None)
            .await
            .unwrap_err();
        assert_eq!(
            err.retry,
            Retry::After(Some(Duration::from_secs(17))),
            "{}",
            notifier.name()
        );
        assert!(
            err.message.contains("answered with status 503"),
            "{}",
            err.message
        );
    }
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let server =
        server_answering(ResponseTemplate::new(429).insert_header("retry-after", "90")).await;
    for notifier in all(&server.uri()) {
        let err = notifier
            .deliver(&note(NotificationKind::Firing, 1), None)
            .await
            .unwrap_err();
        assert_eq!(
            err.retry,
            Retry::Throttled(Duration::from_secs(90)),
            "{}",
            notifier.name()
        );
    }
}

#[tokio::test]
async fn client_errors_are_final() {
    let server = server_answering(ResponseTemplate::new(404)).await;
    for notifier in all(&server.uri()) {
        let err = notifier
            .deliver(&note(NotificationKind::Firing, 1), None)
            .await
            .unwrap_err();
        assert_eq!(err.retry, Retry::Never, "{}", notifier.name());
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = MockServer::start().await;
    let server = server_answering(
        ResponseTemplate::new(307)
            .insert_header("location", format!("{}/elsewhere", target.uri()).as_str()),
    )
    .await;
    let target_host = target.uri().trim_start_matches("http://").to_owned();
    for notifier in all(&server.uri()) {
        let err = notifier
            .deliver(&note(NotificationKind::Firing, 1), None)
            .await
            .unwrap_err();
        // The destination misbehaves: the notification is kept, the error names where to.
        assert_eq!(err.retry, Retry::After(None), "{}", notifier.name());
        assert!(
            err.message.ends_with(&format!(
                "was redirected with status 307 to {target_host}; redirects are not followed"
            )),
            "{}",
            err.message
        );
    }
    assert!(
        target.received_requests().await.unwrap().is_empty(),
        "nothing reached the redirect target"
    );
}

#[tokio::test]
async fn answers_over_the_bound_are_retryable_errors() {
    let server =
        server_answering(ResponseTemplate::new(200).set_body_bytes(vec![b'{'; 3 << 20])).await;
    for notifier in all(&server.uri()) {
        let err = notifier
            .deliver(&note(NotificationKind::Firing, 1), None)
            .await
            .unwrap_err();
        assert_eq!(err.retry, Retry::After(None), "{}", notifier.name());
        assert!(
            err.message
                .starts_with("response body larger than 1 MiB from "),
            "{}",
            err.message
        );
    }
}
