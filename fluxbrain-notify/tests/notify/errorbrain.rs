//! The errorbrain analyzer: the request both servers accept, verdicts, explanations, errors.

use std::time::Duration;

use fluxbrain_core::{Analysis, Analyzer};
use fluxbrain_notify::{ErrorbrainAnalyzer, ErrorbrainConfig, SecretUrl, analyzer_from_env};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{event, json, lookup, schema, verdict_example};

fn analyzer(server: &MockServer) -> ErrorbrainAnalyzer {
    ErrorbrainAnalyzer::new(ErrorbrainConfig::new(
        SecretUrl::parse(&server.uri()).unwrap(),
    ))
    .unwrap()
}

async fn answer(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/errors"))
        .and(header("content-type", "application/json"))
        .respond_with(response)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_request_serves_a_spec_server_and_the_published_one() {
    let server = MockServer::start().await;
    answer(
        &server,
        ResponseTemplate::new(200).set_body_json(verdict_example()),
    )
    .await;
    let e = event();
    analyzer(&server).analyze(&e).await.unwrap();

    let request = &server.received_requests().await.unwrap()[0];
    let text = String::from_utf8(request.body.clone()).unwrap();
    assert!(text.starts_with("{\"event\":{\"id\":"), "{text}");
    assert!(text.contains(
        "},\"store_in_vault\":false,\"language\":\"other\",\"project\":\"prod\",\"message\":"
    ));
    let body = json(request);
    // A spec-strict server reads `event`: a valid errorbrain v1 ErrorEvent.
    let validator = jsonschema::validator_for(&schema("error_event.schema.json")).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&body["event"])
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(body["event"], serde_json::to_value(&e).unwrap());
    // The published server reads its ErrorReport fields.
    assert_eq!(body["language"], "other");
    assert_eq!(body["message"], e.message);
    assert_eq!(body["tags"], json!(e.source.tags));
    assert_eq!(body["metadata"], serde_json::to_value(&e.metadata).unwrap());
    let traceback = body["traceback"].as_str().unwrap();
    let m = &e.metadata;
    assert!(traceback.starts_with(&format!(
        "{} {}/{} on cluster prod\ncondition ",
        m.kind, m.namespace, m.name
    )));
    assert_eq!(body.as_object().unwrap().len(), 8);
}

#[tokio::test]
async fn a_valid_verdict_is_a_verdict() {
    let server = MockServer::start().await;
    answer(
        &server,
        ResponseTemplate::new(200).set_body_json(verdict_example()),
    )
    .await;
    let got = analyzer(&server).analyze(&event()).await.unwrap();
    assert_eq!(
        got,
        Analysis::Verdict {
            verdict: verdict_example()
        }
    );
}

#[tokio::test]
async fn the_published_servers_explanation_is_text() {
    let server = MockServer::start().await;
    let response = json!({
        "id": "5d1f", "project": "prod", "language": "other", "tags": ["fluxcd"],
        "created_at": "2026-04-21T09:30:01", "explanation": "The OCI artifact is missing.", "saved_path": null
    });
    answer(&server, ResponseTemplate::new(200).set_body_json(response)).await;
    let got = analyzer(&server).analyze(&event()).await.unwrap();
    assert_eq!(
        got,
        Analysis::Text {
            explanation: "The OCI artifact is missing.".into()
        }
    );
}

#[tokio::test]
async fn anything_else_is_an_analyzer_error() {
    let mut broken_verdict = verdict_example();
    broken_verdict["hypothesis"]["confidence"] = json!(7);
    let cases: Vec<(ResponseTemplate, &str)> = vec![
        (
            ResponseTemplate::new(200).set_body_json(json!({"status": "queued"})),
            "neither a verdict",
        ),
        (
            ResponseTemplate::new(200).set_body_json(broken_verdict),
            "neither a verdict",
        ),
        (
            ResponseTemplate::new(200).set_body_json(json!({"explanation": 42})),
            "neither a verdict",
        ),
        (
            ResponseTemplate::new(200).set_body_string("{\"explanation\": \"cut"),
            "is not the expected JSON",
        ),
        (
            ResponseTemplate::new(200).set_body_string("<html>502</html>"),
            "is not the expected JSON",
        ),
        (ResponseTemplate::new(500), "status 500"),
        (
            ResponseTemplate::new(502)
                .set_body_json(json!({"detail": "LLM call failed: connection refused"})),
            "status 502 (LLM_call_failed__connection_refused)",
        ),
        (
            ResponseTemplate::new(422).set_body_json(json!({"detail": [{"loc": ["body"]}]})),
            "status 422",
        ),
    ];
    for (response, expected) in cases {
        let server = MockServer::start().await;
        answer(&server, response).await;
        let err = analyzer(&server).analyze(&event()).await.unwrap_err();
        assert_eq!(err.analyzer, "errorbrain");
        assert!(
            err.message.contains(expected),
            "{} vs {expected}",
            err.message
        );
    }
}

#[tokio::test]
async fn a_slow_server_is_cut_off_at_the_timeout() {
    let server = MockServer::start().await;
    answer(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(verdict_example())
            .set_delay(Duration::from_secs(2)),
    )
    .await;
    let mut config = ErrorbrainConfig::new(SecretUrl::parse(&server.uri()).unwrap());
    config.timeout = Duration::from_millis(200);
    // The server answers after 2 s: the error names the 200 ms timeout that ended it.
    let err = ErrorbrainAnalyzer::new(config)
        .unwrap()
        .analyze(&event())
        .await
        .unwrap_err();
    assert!(
        err.message.ends_with("timed out after 200ms"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn settings_from_env() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/errorbrain/v1/errors"))
        .and(header("authorization", "Bearer eb-token-77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"explanation": "ok"})))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/errorbrain/", server.uri());
    let env = lookup(&[
        ("FLUXBRAIN_ERRORBRAIN_URL", &base),
        ("FLUXBRAIN_ERRORBRAIN_STORE_IN_VAULT", "true"),
        ("FLUXBRAIN_ERRORBRAIN_PROJECT", "platform"),
        ("FLUXBRAIN_ERRORBRAIN_TOKEN", "eb-token-77"),
        ("FLUXBRAIN_ERRORBRAIN_TIMEOUT", "3s"),
    ]);
    let analyzer = analyzer_from_env(env).unwrap().unwrap();
    assert_eq!(analyzer.name(), "errorbrain");
    assert!(!format!("{analyzer:?}").contains("eb-token-77"));
    analyzer.analyze(&event()).await.unwrap();
    let body = json(&server.received_requests().await.unwrap()[0]);
    assert_eq!(body["store_in_vault"], true);
    assert_eq!(body["project"], "platform");

    assert!(analyzer_from_env(lookup(&[])).unwrap().is_none());
    let err = analyzer_from_env(lookup(&[("FLUXBRAIN_ERRORBRAIN_PROJECT", "x")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "FLUXBRAIN_ERRORBRAIN_URL: required when FLUXBRAIN_ERRORBRAIN_PROJECT is set"
    );
    let err = analyzer_from_env(lookup(&[
        ("FLUXBRAIN_ERRORBRAIN_URL", "http://eb:8000"),
        ("FLUXBRAIN_ERRORBRAIN_STORE_IN_VAULT", "sometimes"),
    ]))
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("FLUXBRAIN_ERRORBRAIN_STORE_IN_VAULT: "),
        "{err}"
    );
}

#[test]
fn the_embedded_verdict_schema_is_errorbrains() {
    let embedded: serde_json::Value =
        serde_json::from_str(fluxbrain_notify::errorbrain::VERDICT_SCHEMA).unwrap();
    assert_eq!(embedded, schema("verdict.schema.json"));
    if let Some(shared) = std::env::var_os("FLUXBRAIN_SHARED") {
        let path = std::path::Path::new(&shared).join("errorbrain-spec/v1/verdict.schema.json");
        let original: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(embedded, original);
    }
}

#[tokio::test]
async fn both_example_verdicts_are_accepted() {
    for name in ["verdict-crashloop.json", "verdict-deploy-timeout.json"] {
        let text = std::fs::read_to_string(
            crate::support::repo()
                .join("testdata/errorbrain-spec/examples")
                .join(name),
        )
        .unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let server = MockServer::start().await;
        answer(
            &server,
            ResponseTemplate::new(200).set_body_json(value.clone()),
        )
        .await;
        assert_eq!(
            analyzer(&server).analyze(&event()).await.unwrap(),
            Analysis::Verdict { verdict: value }
        );
    }
}
