//! Secrets never reach the logs: every credential fluxbrain is given (the Kubernetes bearer
//! token, the Slack webhook URL, the webhook URL and signing key, the GitHub, errorbrain and
//! API tokens) is absent from everything it prints, at the most verbose log level, while its
//! receivers fail (so that every error path logs) and when a setting holding one is malformed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;

use fluxbrain_sim::{Config, Rbac, Simulator, State};

use crate::{fluxbrain, repo, stderr};

/// A ServiceAccount that may do anything: the point here is its token, not its rules.
const ADMIN: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything}
rules:
  - {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everything}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: everything}
subjects:
  - {kind: ServiceAccount, name: fluxbrain, namespace: flux-system}
"#;

/// A receiver that answers every request with a 500 whose body names the request line (so
/// that an error that quotes the answer would quote the path too), in a thread of its own.
fn failing_receiver() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 65536];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let line = head.lines().next().unwrap_or_default().to_owned();
            let body = format!("{{\"error\":\"cannot serve {line}\"}}");
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// Everything `output` printed.
fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(output)
    )
}

fn assert_no_secret(output: &Output, secrets: &[&str], what: &str) {
    let text = printed(output);
    for secret in secrets {
        assert!(
            !text.contains(secret),
            "{what}: {secret:?} was printed:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_is_ever_printed() {
    let state = State::load_dir(repo().join("examples/clusters/basic")).unwrap();
    let config = Config {
        start: "2026-04-21T09:30:00Z".parse().unwrap(),
        ..Config::default()
    };
    let sim = Simulator::new(state, config).unwrap();
    let rbac = Rbac::from_yaml(
        ADMIN,
        std::path::Path::new("inline"),
        "flux-system/fluxbrain",
    )
    .unwrap();
    let kube_token = rbac.token();
    sim.set_rbac(Some(rbac));
    let server = sim.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let kubeconfig = std::env::temp_dir().join(format!(
        "fluxbrain-cli-secrets-{}.kubeconfig",
        std::process::id()
    ));
    server.write_kubeconfig(&kubeconfig).unwrap();
    assert!(
        std::fs::read_to_string(&kubeconfig)
            .unwrap()
            .contains(&kube_token)
    );

    let port = failing_receiver();
    let base = format!("http://127.0.0.1:{port}");
    let slack_path = "T0SECRET/B0SECRET/slackwebhooksecretpart";
    let webhook_query = "webhookquerysecret";
    let signing = "signing-key-secret-0123";
    let github = "ghp_githubtokensecret0123";
    let errorbrain = "errorbrain-token-secret-0123";
    let api = "api-token-secret-0123";
    let slack_url = format!("{base}/services/{slack_path}");
    let webhook_url = format!("{base}/hook?key={webhook_query}");
    let kubeconfig_path = kubeconfig.display().to_string();
    let env = [
        ("KUBECONFIG", kubeconfig_path.as_str()),
        ("FLUXBRAIN_CLUSTER", "basic"),
        ("FLUXBRAIN_STATE", "memory"),
        ("FLUXBRAIN_COLLECT_LOGS", "true"),
        ("FLUXBRAIN_LOG_LEVEL", "trace"),
        ("FLUXBRAIN_LOG_FORMAT", "json"),
        ("FLUXBRAIN_SLACK_WEBHOOK", slack_url.as_str()),
        ("FLUXBRAIN_WEBHOOK_URL", webhook_url.as_str()),
        ("FLUXBRAIN_WEBHOOK_SECRET", signing),
        ("FLUXBRAIN_GITHUB_TOKEN", github),
        ("FLUXBRAIN_GITHUB_OWNER", "acme"),
        ("FLUXBRAIN_GITHUB_REPO", "fleet"),
        ("FLUXBRAIN_GITHUB_API_URL", base.as_str()),
        ("FLUXBRAIN_ERRORBRAIN_URL", base.as_str()),
        ("FLUXBRAIN_ERRORBRAIN_TOKEN", errorbrain),
        ("FLUXBRAIN_API_TOKEN", api),
        ("FLUXBRAIN_NOTIFY_TIMEOUT", "2s"),
    ];
    let secrets = [
        kube_token.as_str(),
        slack_path,
        "slackwebhooksecretpart",
        webhook_query,
        signing,
        github,
        errorbrain,
        api,
    ];

    // The simulator is served by the runtime's other worker meanwhile.
    let run = tokio::task::block_in_place(|| fluxbrain(&["run", "--once"], &env));
    let err = stderr(&run);
    // The run did reach every receiver and logged its failures, at trace level.
    assert!(err.contains("\"level\":\"TRACE\""), "{err}");
    for notifier in ["slack", "webhook", "github"] {
        assert!(
            err.contains(&format!("\"notifier\":\"{notifier}\"")),
            "no log line names {notifier}: {err}"
        );
    }
    assert!(err.contains("500"), "the receivers' 500s are logged: {err}");
    assert!(sim.denied().is_empty(), "{:?}", sim.denied());
    assert_no_secret(&run, &secrets, "run --once at trace level");

    // A malformed setting holding a secret is named, its value is not repeated.
    let bad = [
        ("KUBECONFIG", kubeconfig_path.as_str()),
        (
            "FLUXBRAIN_SLACK_WEBHOOK",
            "hooks.slack.com/services/T0/B0/slackwebhooksecretpart",
        ),
        (
            "FLUXBRAIN_WEBHOOK_URL",
            "ftp://user:webhookquerysecret@example.com/hook",
        ),
    ];
    let refused = fluxbrain(&["run", "--once"], &bad);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(err.contains("FLUXBRAIN_SLACK_WEBHOOK"), "{err}");
    assert!(err.contains("FLUXBRAIN_WEBHOOK_URL"), "{err}");
    assert_no_secret(&refused, &secrets, "a malformed secret setting");

    server.shutdown().await.unwrap();
    let _ = std::fs::remove_file(kubeconfig);
}
