//! Destinations that misbehave: an answer of 100 MiB, a 2xx whose body is not what the API
//! documents, a redirect to another host, a failed TLS handshake. Each is one bounded attempt
//! and a clear error; where a notifier is concerned the error is retryable, so the engine keeps
//! the notification in its outbox (checked through a real delivery round).

use std::sync::Arc;

use fluxbrain_core::{
    Analyzer, DeliverReport, NotificationKind, Notifier, Retry, State, engine::Delivery,
};
use fluxbrain_notify::{
    ErrorbrainAnalyzer, ErrorbrainConfig, GithubConfig, GithubNotifier, Secret, SecretUrl,
    SlackConfig, SlackNotifier, WebhookConfig, WebhookNotifier,
};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::servers::{MIB, Reply, StreamServer, plain_http_server, untrusted_tls_server};
use crate::support::{event, json, note, one_round};

/// The body every streaming server offers: far more than anyone should read.
const HUNDRED_MIB: u64 = 100 * MIB;

/// What a server may have written before the client hung up: the 1 MiB read plus what the two
/// sockets' buffers hold, far below the 100 MiB offered.
const WRITTEN_AT_MOST: u64 = 25 * MIB;

fn webhook(url: &str) -> Arc<WebhookNotifier> {
    Arc::new(WebhookNotifier::new(WebhookConfig::new(SecretUrl::parse(url).unwrap())).unwrap())
}

fn github(base: &str) -> Arc<GithubNotifier> {
    let mut config = GithubConfig::new("acme", "fleet", Secret::new("ghp_x")).unwrap();
    config.api_url = SecretUrl::parse(&format!("{base}/api/v3")).unwrap();
    Arc::new(GithubNotifier::new(config).unwrap())
}

fn errorbrain(base: &str) -> ErrorbrainAnalyzer {
    ErrorbrainAnalyzer::new(ErrorbrainConfig::new(SecretUrl::parse(base).unwrap())).unwrap()
}

fn endless(status: u16) -> Option<Reply> {
    Some(Reply::Stream {
        status,
        bytes: HUNDRED_MIB,
        declared: false,
    })
}

/// The notification is still queued for `notifier` after one failed attempt with `message`:
/// nothing delivered, nothing dead-lettered.
fn kept(report: &DeliverReport, state: &State, notifier: &str, message: &str) {
    assert_eq!(
        (report.delivered, report.retrying, report.refused),
        (0, 1, 0),
        "{report:?}"
    );
    assert!(state.dead_letters.is_empty(), "{:?}", state.dead_letters);
    assert_eq!(state.outbox.len(), 1);
    let delivery: &Delivery = &state.outbox[0].pending[notifier];
    assert_eq!(delivery.attempts, 1);
    assert_eq!(delivery.last_error.as_deref(), Some(message));
}

#[tokio::test]
async fn webhook_answer_of_100_mib_is_cut_at_1_mib_and_kept() {
    let server = StreamServer::start(|m, p| match (m, p) {
        ("POST", "/hook") => endless(200),
        _ => None,
    })
    .await;
    let notifier = webhook(&format!("{}/hook", server.uri));
    let expected = format!(
        "response body larger than 1 MiB from {} (answer to POST, status 200)",
        server.host()
    );

    let err = notifier
        .deliver(&note(NotificationKind::Firing, 1), None)
        .await
        .unwrap_err();
    assert_eq!(err.message, expected);
    assert_eq!(err.retry, Retry::After(None));

    let (report, state) = one_round(notifier, None, note(NotificationKind::Firing, 1)).await;
    kept(&report, &state, "webhook", &expected);

    assert_eq!(server.requests(), ["POST /hook", "POST /hook"]);
    for written in server.streamed(2).await {
        assert!(
            written < WRITTEN_AT_MOST,
            "the server wrote {written} bytes"
        );
    }
}

#[tokio::test]
async fn github_reply_of_100_mib_to_opening_an_issue_is_kept() {
    let server = StreamServer::start(|m, p| match (m, p) {
        ("GET", "/api/v3/repos/acme/fleet/issues") => Some(Reply::Full {
            status: 200,
            body: b"[]".to_vec(),
        }),
        ("POST", "/api/v3/repos/acme/fleet/issues") => endless(201),
        _ => None,
    })
    .await;
    let notifier = github(&server.uri);
    let expected = format!(
        "response body larger than 1 MiB from {} (answer to POST, status 201)",
        server.host()
    );

    let err = notifier
        .deliver(&note(NotificationKind::Firing, 1), None)
        .await
        .unwrap_err();
    assert_eq!(err.message, expected);
    assert_eq!(err.retry, Retry::After(None));

    let (report, state) = one_round(notifier, None, note(NotificationKind::Firing, 1)).await;
    kept(&report, &state, "github", &expected);

    // Each attempt looks for the incident's issue before opening one.
    let attempt = [
        "GET /api/v3/repos/acme/fleet/issues",
        "POST /api/v3/repos/acme/fleet/issues",
    ];
    assert_eq!(server.requests(), [attempt, attempt].concat());
    for written in server.streamed(2).await {
        assert!(
            written < WRITTEN_AT_MOST,
            "the server wrote {written} bytes"
        );
    }
}

#[tokio::test]
async fn slack_answer_of_100_mib_is_kept() {
    let server = StreamServer::start(|m, p| match (m, p) {
        ("POST", "/api/chat.postMessage") => endless(200),
        _ => None,
    })
    .await;
    let config = SlackConfig::bot(
        Secret::new("xoxb-1-2-x"),
        "C1",
        SecretUrl::parse(&format!("{}/api", server.uri)).unwrap(),
    );
    let notifier = Arc::new(SlackNotifier::new(config).unwrap());
    let expected = format!(
        "response body larger than 1 MiB from {} (answer to POST, status 200)",
        server.host()
    );

    let (report, state) = one_round(notifier, None, note(NotificationKind::Firing, 1)).await;
    kept(&report, &state, "slack", &expected);
    assert_eq!(server.requests(), ["POST /api/chat.postMessage"]);
    assert!(server.streamed(1).await[0] < WRITTEN_AT_MOST);
}

#[tokio::test]
async fn errorbrain_answer_of_100_mib_is_refused_and_the_notification_goes_out_without_it() {
    // A declared length over the bound is refused before any of the body is read.
    let server = StreamServer::start(|m, p| match (m, p) {
        ("POST", "/v1/errors") => Some(Reply::Stream {
            status: 200,
            bytes: HUNDRED_MIB,
            declared: true,
        }),
        _ => None,
    })
    .await;
    let err = errorbrain(&server.uri).analyze(&event()).await.unwrap_err();
    assert_eq!(err.analyzer, "errorbrain");
    assert_eq!(
        err.message,
        format!(
            "response body larger than 1 MiB from {} (answer to POST, status 200)",
            server.host()
        )
    );

    // The analyzer never holds a notification back: it is delivered without analysis.
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&receiver)
        .await;
    let analyzer: Arc<dyn Analyzer> = Arc::new(errorbrain(&server.uri));
    let (report, state) = one_round(
        webhook(&format!("{}/hook", receiver.uri())),
        Some(analyzer),
        note(NotificationKind::Firing, 1),
    )
    .await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert!(state.outbox.is_empty() && state.dead_letters.is_empty());
    let sent = json(&receiver.received_requests().await.unwrap()[0]);
    assert_eq!(sent["analysis"], serde_json::Value::Null);

    assert_eq!(server.requests(), ["POST /v1/errors", "POST /v1/errors"]);
    for written in server.streamed(2).await {
        assert!(
            written < WRITTEN_AT_MOST,
            "the server wrote {written} bytes"
        );
    }
}

#[tokio::test]
async fn github_unreadable_reply_to_opening_an_issue_is_retried_without_a_duplicate() {
    let server = MockServer::start().await;
    let label = format!(
        "fluxbrain:{}",
        note(NotificationKind::Firing, 1).event.metadata.fingerprint
    );
    let issues = || {
        Mock::given(method("GET"))
            .and(path("/api/v3/repos/acme/fleet/issues"))
            .and(query_param("labels", label.as_str()))
    };
    // First attempt: no open issue yet; the create goes through but its reply has no number.
    issues()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v3/repos/acme/fleet/issues"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1, "title": "x"})))
        .expect(1)
        .mount(&server)
        .await;
    // From then on the issue it opened is listed under the incident's label.
    issues()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"number": 42, "labels": [{"name": label}]}])),
        )
        .mount(&server)
        .await;
    let host = server.uri().trim_start_matches("http://").to_owned();
    let notifier = github(&server.uri());

    let err = notifier
        .deliver(&note(NotificationKind::Firing, 1), None)
        .await
        .unwrap_err();
    assert_eq!(err.notifier, "github");
    assert!(
        err.message.starts_with(&format!(
            "unexpected answer from {host}: the reply to opening an issue (status 201) is not \
             the expected JSON (missing field `number`"
        )),
        "{}",
        err.message
    );
    assert_eq!(err.retry, Retry::After(None));

    // The retry finds the issue the first attempt opened: no second one (`expect(1)` above).
    let receipt = notifier
        .deliver(&note(NotificationKind::Firing, 1), None)
        .await
        .unwrap();
    assert_eq!(receipt.reference.as_deref(), Some("42"));
}

#[tokio::test]
async fn errorbrain_answer_that_is_not_json_is_a_clear_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/errors"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>gateway</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let err = errorbrain(&server.uri())
        .analyze(&event())
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "unexpected answer from {}: the analysis (status 200) is not the expected JSON \
             (expected value at line 1 column 1)",
            server.uri().trim_start_matches("http://")
        )
    );
}

#[tokio::test]
async fn webhooks_take_any_2xx_body_within_the_bound() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>thanks {</html>"))
        .expect(2)
        .mount(&server)
        .await;
    let n = note(NotificationKind::Firing, 1);
    webhook(&format!("{}/hook", server.uri()))
        .deliver(&n, None)
        .await
        .unwrap();
    let slack_hook = SlackConfig::webhook(
        SecretUrl::parse(&format!("{}/services/T/B/x", server.uri())).unwrap(),
    );
    SlackNotifier::new(slack_hook)
        .unwrap()
        .deliver(&n, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn webhook_redirect_to_another_host_is_not_followed_and_kept() {
    let elsewhere = MockServer::start().await;
    let elsewhere_host = elsewhere.uri().trim_start_matches("http://").to_owned();
    for status in [301, 302, 303, 307, 308] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/hook"))
            .respond_with(ResponseTemplate::new(status).insert_header(
                "location",
                format!("{}/collect?token=t0k3n", elsewhere.uri()).as_str(),
            ))
            .mount(&server)
            .await;
        let host = server.uri().trim_start_matches("http://").to_owned();
        let expected = format!(
            "POST to {host} was redirected with status {status} to {elsewhere_host}; \
             redirects are not followed"
        );
        let notifier = webhook(&format!("{}/hook", server.uri()));

        let err = notifier
            .deliver(&note(NotificationKind::Firing, 1), None)
            .await
            .unwrap_err();
        assert_eq!(err.message, expected);
        assert_eq!(err.retry, Retry::After(None));

        let (report, state) = one_round(notifier, None, note(NotificationKind::Firing, 1)).await;
        kept(&report, &state, "webhook", &expected);
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "nothing reached the other host"
    );
}

#[tokio::test]
async fn webhook_certificate_nobody_trusts_is_a_tls_error_and_kept() {
    let (uri, handshakes) = untrusted_tls_server();
    let host = uri.trim_start_matches("https://").to_owned();
    let notifier = webhook(&format!("{uri}/hook"));

    let err = notifier
        .deliver(&note(NotificationKind::Firing, 1), None)
        .await
        .unwrap_err();
    assert!(
        err.message
            .starts_with(&format!("TLS handshake with {host} failed (POST): ")),
        "{}",
        err.message
    );
    // rustls' own reason ends the chain.
    assert!(
        err.message.contains("invalid peer certificate"),
        "{}",
        err.message
    );
    assert_eq!(err.retry, Retry::After(None));

    let message = err.message.clone();
    let (report, state) = one_round(notifier, None, note(NotificationKind::Firing, 1)).await;
    kept(&report, &state, "webhook", &message);

    // Neither attempt got past the handshake, so no request was ever sent.
    let completed: Vec<bool> = (0..2).map(|_| handshakes.recv().unwrap()).collect();
    assert_eq!(completed, [false, false]);
}

#[tokio::test]
async fn webhook_plain_http_behind_an_https_url_is_a_tls_error_and_kept() {
    let (uri, mut first_bytes) = plain_http_server().await;
    let host = uri.trim_start_matches("https://").to_owned();
    let notifier = webhook(&format!("{uri}/hook"));

    let err = notifier
        .deliver(&note(NotificationKind::Firing, 1), None)
        .await
        .unwrap_err();
    assert!(
        err.message
            .starts_with(&format!("TLS handshake with {host} failed (POST): ")),
        "{}",
        err.message
    );
    assert_eq!(err.retry, Retry::After(None));

    let message = err.message.clone();
    let (report, state) = one_round(notifier, None, note(NotificationKind::Firing, 1)).await;
    kept(&report, &state, "webhook", &message);

    // The client opened with a TLS handshake record; the server answered in clear text.
    assert_eq!(first_bytes.recv().await, Some(0x16));
}
