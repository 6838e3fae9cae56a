//! Building notifiers from `FLUXBRAIN_*` settings: what is read, defaults, errors.

use fluxbrain_notify::{
    GithubConfig, SlackConfig, SlackTarget, WebhookConfig, WebhookFormat, notifiers_from_env,
};
use std::time::Duration;

use crate::support::lookup;

#[test]
fn nothing_configured_means_no_notifiers() {
    assert!(notifiers_from_env(lookup(&[])).unwrap().is_empty());
    assert!(
        notifiers_from_env(lookup(&[("FLUXBRAIN_WEBHOOK_URL", "  ")]))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn everything_configured_in_a_fixed_order() {
    let env = lookup(&[
        ("FLUXBRAIN_SLACK_TOKEN", "xoxb-1"),
        ("FLUXBRAIN_SLACK_CHANNEL", "C1"),
        (
            "FLUXBRAIN_WEBHOOK_URL",
            "https://receiver.example.com/fluxbrain",
        ),
        ("FLUXBRAIN_GITHUB_OWNER", "acme"),
        ("FLUXBRAIN_GITHUB_REPO", "fleet"),
        ("FLUXBRAIN_GITHUB_TOKEN", "ghp_1"),
    ]);
    let names: Vec<String> = notifiers_from_env(env)
        .unwrap()
        .iter()
        .map(|n| n.name().to_owned())
        .collect();
    assert_eq!(names, ["slack", "webhook", "github"]);
}

#[test]
fn defaults() {
    let slack = SlackConfig::from_env(lookup(&[
        ("FLUXBRAIN_SLACK_TOKEN", "xoxb-1"),
        ("FLUXBRAIN_SLACK_CHANNEL", "C1"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(slack.timeout, Duration::from_secs(10));
    assert_eq!(slack.summary_threshold, 10);
    match slack.target {
        SlackTarget::Bot {
            api_url, channel, ..
        } => {
            assert_eq!(api_url.expose().as_str(), "https://slack.com/api");
            assert_eq!(channel, "C1");
        }
        other => panic!("{other:?}"),
    }
    let webhook = WebhookConfig::from_env(lookup(&[
        ("FLUXBRAIN_WEBHOOK_URL", "https://r.example.com/x"),
        ("FLUXBRAIN_WEBHOOK_FORMAT", "errorbrain"),
        ("FLUXBRAIN_NOTIFY_TIMEOUT", "2500ms"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(webhook.format, WebhookFormat::Errorbrain);
    assert_eq!(webhook.timeout, Duration::from_millis(2500));
    assert!(webhook.secret.is_none());
    let github = GithubConfig::from_env(lookup(&[
        ("FLUXBRAIN_GITHUB_OWNER", "acme"),
        ("FLUXBRAIN_GITHUB_REPO", "fleet"),
        ("FLUXBRAIN_GITHUB_TOKEN", "ghp_1"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(github.api_url.expose().as_str(), "https://api.github.com/");
}

#[test]
fn github_token_from_a_mounted_file() {
    let dir = std::env::temp_dir().join(format!("fluxbrain-notify-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "ghp_fromsecret\n").unwrap();
    let github = GithubConfig::from_env(lookup(&[
        ("FLUXBRAIN_GITHUB_OWNER", "acme"),
        ("FLUXBRAIN_GITHUB_REPO", "fleet"),
        ("FLUXBRAIN_GITHUB_TOKEN_FILE", file.to_str().unwrap()),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(github.token.expose(), "ghp_fromsecret");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_settings_name_their_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("FLUXBRAIN_SLACK_TOKEN", "xoxb-1")],
            "FLUXBRAIN_SLACK_CHANNEL: required when FLUXBRAIN_SLACK_TOKEN is set",
        ),
        (
            &[("FLUXBRAIN_SLACK_CHANNEL", "C1")],
            "FLUXBRAIN_SLACK_TOKEN: required when FLUXBRAIN_SLACK_CHANNEL is set",
        ),
        (
            &[
                ("FLUXBRAIN_SLACK_TOKEN", "xoxb-1"),
                ("FLUXBRAIN_SLACK_CHANNEL", "C1"),
                (
                    "FLUXBRAIN_SLACK_WEBHOOK",
                    "https://hooks.slack.com/services/a",
                ),
            ],
            "FLUXBRAIN_SLACK_TOKEN: set either FLUXBRAIN_SLACK_WEBHOOK or FLUXBRAIN_SLACK_TOKEN, not both",
        ),
        (
            &[
                ("FLUXBRAIN_SLACK_TOKEN", "xoxb-1"),
                ("FLUXBRAIN_SLACK_CHANNEL", "C1"),
                ("FLUXBRAIN_SLACK_API_URL", "slack"),
            ],
            "FLUXBRAIN_SLACK_API_URL: not a URL",
        ),
        (
            &[
                ("FLUXBRAIN_WEBHOOK_URL", "https://example.com/hook"),
                ("FLUXBRAIN_WEBHOOK_RATE", "fast"),
            ],
            "FLUXBRAIN_WEBHOOK_RATE: \"fast\" is not N/s, N/m or N/h",
        ),
        (
            &[("FLUXBRAIN_WEBHOOK_RATE", "10/s")],
            "FLUXBRAIN_WEBHOOK_URL: required when FLUXBRAIN_WEBHOOK_RATE is set",
        ),
        (
            &[("FLUXBRAIN_WEBHOOK_SECRET", "s")],
            "FLUXBRAIN_WEBHOOK_URL: required when FLUXBRAIN_WEBHOOK_SECRET is set",
        ),
        (
            &[
                ("FLUXBRAIN_WEBHOOK_URL", "https://r.example.com"),
                ("FLUXBRAIN_WEBHOOK_FORMAT", "xml"),
            ],
            "FLUXBRAIN_WEBHOOK_FORMAT: \"xml\" is not envelope or errorbrain",
        ),
        (
            &[
                ("FLUXBRAIN_WEBHOOK_URL", "https://r.example.com"),
                ("FLUXBRAIN_NOTIFY_TIMEOUT", "10"),
            ],
            "FLUXBRAIN_NOTIFY_TIMEOUT: \"10\" is not a duration (",
        ),
        (
            &[
                ("FLUXBRAIN_GITHUB_OWNER", "acme"),
                ("FLUXBRAIN_GITHUB_TOKEN", "t"),
            ],
            "FLUXBRAIN_GITHUB_REPO: required when FLUXBRAIN_GITHUB_OWNER and FLUXBRAIN_GITHUB_TOKEN is set",
        ),
        (
            &[
                ("FLUXBRAIN_GITHUB_OWNER", "acme/x"),
                ("FLUXBRAIN_GITHUB_REPO", "r"),
                ("FLUXBRAIN_GITHUB_TOKEN", "t"),
            ],
            "FLUXBRAIN_GITHUB_OWNER: \"acme/x\" is not a GitHub owner or repository name",
        ),
        (
            &[
                ("FLUXBRAIN_GITHUB_OWNER", "a"),
                ("FLUXBRAIN_GITHUB_REPO", "r"),
                ("FLUXBRAIN_GITHUB_TOKEN", "t"),
                ("FLUXBRAIN_GITHUB_TOKEN_FILE", "/x"),
            ],
            "FLUXBRAIN_GITHUB_TOKEN: set either FLUXBRAIN_GITHUB_TOKEN or FLUXBRAIN_GITHUB_TOKEN_FILE, not both",
        ),
    ];
    for (pairs, expected) in cases {
        let err = notifiers_from_env(lookup(pairs)).unwrap_err();
        assert!(err.to_string().starts_with(expected), "{err} vs {expected}");
        assert_eq!(err.retry(), fluxbrain_core::Retry::Never);
    }
}
