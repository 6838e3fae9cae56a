//! No secret in any log line, error or `Debug` output, whatever happens.

use std::time::Duration;

use fluxbrain_core::{DeliveryError, NotificationKind, Receipt, Resolution};
use fluxbrain_notify::{
    ErrorbrainConfig, GithubConfig, SlackConfig, WebhookConfig, analyzer_from_env,
    notifiers_from_env,
};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Logs, assert_no_secret, event, lookup, note};

const SLACK_TOKEN: &str = "xoxb-9999-8888-slackSecretToken";
const SLACK_HOOK_SECRET: &str = "XyZslackHookSecretPart";
const WEBHOOK_SECRET: &str = "whsec-hmac-Secret-Key";
const WEBHOOK_URL_TOKEN: &str = "hookUrlTokenSecret";
const GITHUB_TOKEN: &str = "ghp_GitHubSecretToken0123456789abcdefXY";
const ERRORBRAIN_TOKEN: &str = "eb-Secret-Token-1234";
const URL_PASSWORD: &str = "urlPassw0rdSecret";

const SECRETS: [&str; 7] = [
    SLACK_TOKEN,
    SLACK_HOOK_SECRET,
    WEBHOOK_SECRET,
    WEBHOOK_URL_TOKEN,
    GITHUB_TOKEN,
    ERRORBRAIN_TOKEN,
    URL_PASSWORD,
];

fn env(base: &str, slack_bot: bool) -> impl Fn(&str) -> Option<String> + use<> {
    let authority = base.trim_start_matches("http://");
    let mut pairs = vec![
        (
            "FLUXBRAIN_WEBHOOK_URL".to_owned(),
            format!("http://user:{URL_PASSWORD}@{authority}/hooks/{WEBHOOK_URL_TOKEN}"),
        ),
        (
            "FLUXBRAIN_WEBHOOK_SECRET".to_owned(),
            WEBHOOK_SECRET.to_owned(),
        ),
        ("FLUXBRAIN_GITHUB_OWNER".to_owned(), "acme".to_owned()),
        ("FLUXBRAIN_GITHUB_REPO".to_owned(), "fleet".to_owned()),
        ("FLUXBRAIN_GITHUB_TOKEN".to_owned(), GITHUB_TOKEN.to_owned()),
        ("FLUXBRAIN_GITHUB_API_URL".to_owned(), base.to_owned()),
        ("FLUXBRAIN_ERRORBRAIN_URL".to_owned(), base.to_owned()),
        (
            "FLUXBRAIN_ERRORBRAIN_TOKEN".to_owned(),
            ERRORBRAIN_TOKEN.to_owned(),
        ),
        ("FLUXBRAIN_NOTIFY_TIMEOUT".to_owned(), "300ms".to_owned()),
        (
            "FLUXBRAIN_ERRORBRAIN_TIMEOUT".to_owned(),
            "300ms".to_owned(),
        ),
    ];
    if slack_bot {
        pairs.push(("FLUXBRAIN_SLACK_TOKEN".to_owned(), SLACK_TOKEN.to_owned()));
        pairs.push(("FLUXBRAIN_SLACK_CHANNEL".to_owned(), "C1".to_owned()));
        pairs.push(("FLUXBRAIN_SLACK_API_URL".to_owned(), base.to_owned()));
    } else {
        pairs.push((
            "FLUXBRAIN_SLACK_WEBHOOK".to_owned(),
            format!("{base}/services/T0/B0/{SLACK_HOOK_SECRET}"),
        ));
    }
    move |k| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    }
}

/// Runs every notifier and the analyzer through success and every kind of failure, capturing
/// all logs at TRACE, every error's Display and Debug, and every Debug of the notifiers.
async fn exercise(response: ResponseTemplate, slack_bot: bool) -> String {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(response.clone())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(response.clone())
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(response)
        .mount(&server)
        .await;
    let mut seen = String::new();
    let notifiers = notifiers_from_env(env(&server.uri(), slack_bot)).unwrap();
    assert_eq!(notifiers.len(), 3);
    let analyzer = analyzer_from_env(env(&server.uri(), slack_bot))
        .unwrap()
        .unwrap();
    seen.push_str(&format!("{notifiers:?}{analyzer:?}"));
    let thread = Receipt {
        reference: Some("C1:1.2".into()),
    };
    for notifier in &notifiers {
        for kind in [
            NotificationKind::Firing,
            NotificationKind::Reminder,
            NotificationKind::Resolved(Resolution::Recovered),
        ] {
            let result: Result<Receipt, DeliveryError> =
                notifier.deliver(&note(kind, 2), Some(&thread)).await;
            seen.push_str(&format!("{result:?}"));
            if let Err(e) = result {
                seen.push_str(&e.to_string());
            }
        }
    }
    let result = analyzer.analyze(&event()).await;
    seen.push_str(&format!("{result:?}"));
    if let Err(e) = result {
        seen.push_str(&e.to_string());
    }
    // Secrets did reach the server where they belong (the test is not vacuous).
    let requests = server.received_requests().await.unwrap();
    assert!(!requests.is_empty());
    seen.push_str(&logs.text());
    assert!(!logs.text().is_empty(), "logs were captured");
    seen
}

#[tokio::test]
async fn nothing_secret_is_logged_or_shown_on_success() {
    let ok = ResponseTemplate::new(200).set_body_json(
        json!({"ok": true, "channel": "C1", "ts": "1.2", "number": 4, "explanation": "x"}),
    );
    for bot in [true, false] {
        let seen = exercise(ok.clone(), bot).await;
        assert_no_secret(&seen, &SECRETS);
    }
}

#[tokio::test]
async fn nothing_secret_is_logged_or_shown_on_failure() {
    let responses = [
        ResponseTemplate::new(500),
        ResponseTemplate::new(429).insert_header("retry-after", "5"),
        ResponseTemplate::new(403).set_body_string(format!("invalid_token {SLACK_TOKEN}")),
        ResponseTemplate::new(401)
            .set_body_json(json!({"message": format!("Bad credentials {GITHUB_TOKEN}")})),
        ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": SLACK_TOKEN})),
        ResponseTemplate::new(200).set_body_string("not json"),
        ResponseTemplate::new(200).set_delay(Duration::from_secs(2)),
        ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:1/x"),
    ];
    for response in responses {
        for bot in [true, false] {
            let seen = exercise(response.clone(), bot).await;
            assert_no_secret(&seen, &SECRETS);
        }
    }
}

#[tokio::test]
async fn refused_connections_do_not_leak_the_url() {
    let (logs, _guard) = Logs::capture();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut seen = String::new();
    for bot in [true, false] {
        for notifier in notifiers_from_env(env(&base, bot)).unwrap() {
            let err = notifier
                .deliver(&note(NotificationKind::Firing, 1), None)
                .await
                .unwrap_err();
            seen.push_str(&format!("{err:?}{err}"));
        }
    }
    seen.push_str(&logs.text());
    assert!(
        seen.contains(&format!("127.0.0.1:{port}")),
        "errors name the host"
    );
    assert_no_secret(&seen, &SECRETS);
}

#[test]
fn configs_and_config_errors_hide_secrets() {
    let base = "http://127.0.0.1:9";
    let shown = format!(
        "{:?}{:?}{:?}{:?}",
        SlackConfig::from_env(env(base, true)).unwrap(),
        WebhookConfig::from_env(env(base, true)).unwrap(),
        GithubConfig::from_env(env(base, true)).unwrap(),
        ErrorbrainConfig::from_env(env(base, true)).unwrap(),
    );
    assert!(shown.contains("127.0.0.1:9"));
    assert_no_secret(&shown, &SECRETS);

    // A malformed secret URL is reported without its value.
    let err = WebhookConfig::from_env(lookup(&[(
        "FLUXBRAIN_WEBHOOK_URL",
        "hooks.example.com/hookUrlTokenSecret",
    )]))
    .unwrap_err();
    assert!(
        err.to_string().starts_with("FLUXBRAIN_WEBHOOK_URL: "),
        "{err}"
    );
    assert_no_secret(&format!("{err}{err:?}"), &SECRETS);
    let err = SlackConfig::from_env(lookup(&[(
        "FLUXBRAIN_SLACK_WEBHOOK",
        "ftp://x/XyZslackHookSecretPart",
    )]))
    .unwrap_err();
    assert_no_secret(&format!("{err}{err:?}"), &SECRETS);
}
