//! The adapter against local HTTP servers: a working, a slow, a failing and a confused backend,
//! each checked with core's expectations for analyzers.

use std::time::Duration;

use fluxbrain_core::Analysis;
use fluxbrain_core::engine::conformance;
use fluxbrain_example_analyzer_adapter::{HttpAnalyzer, NAME};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Guards against a hang only; the adapter's own timeout is what bounds each call.
const HANG: Duration = Duration::from_secs(30);

async fn backend(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/analyze"))
        .and(header("content-type", "application/json"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn ask(
    server: &MockServer,
    timeout: Duration,
) -> Result<Analysis, fluxbrain_core::AnalyzerError> {
    let analyzer = HttpAnalyzer::new(&server.uri(), timeout).unwrap();
    tokio::time::timeout(HANG, conformance::analyzer(&analyzer))
        .await
        .expect("the analyzer hung")
}

#[tokio::test]
async fn an_answer_becomes_the_analysis_and_the_event_is_sent_whole() {
    let server = backend(
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"summary": "The Git token expired."})),
    )
    .await;
    let analysis = ask(&server, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        analysis,
        Analysis::Text {
            explanation: "The Git token expired.".into()
        }
    );
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["metadata"]["kind"], "Kustomization");
    assert!(sent["metadata"]["fingerprint"].is_string());
}

#[tokio::test]
async fn a_slow_backend_is_cut_off_at_the_timeout() {
    let server = backend(
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"summary": "late"}))
            .set_delay(Duration::from_secs(20)),
    )
    .await;
    let error = ask(&server, Duration::from_millis(200)).await.unwrap_err();
    assert_eq!(error.analyzer, NAME);
    assert!(
        error.message.contains("no answer within 200ms"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn a_failing_or_confused_backend_is_an_error_value() {
    let failing = backend(ResponseTemplate::new(503)).await;
    let error = ask(&failing, Duration::from_secs(5)).await.unwrap_err();
    assert!(error.message.contains("503"), "{}", error.message);

    let confused =
        backend(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>")).await;
    let error = ask(&confused, Duration::from_secs(5)).await.unwrap_err();
    assert!(
        error.message.contains("is not {\"summary\": ...}"),
        "{}",
        error.message
    );

    // Nobody listens there: a port that was free a moment ago.
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let analyzer = HttpAnalyzer::new(&gone, Duration::from_secs(5)).unwrap();
    let error = tokio::time::timeout(HANG, conformance::analyzer(&analyzer))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        error.message.starts_with("request failed"),
        "{}",
        error.message
    );
}

#[test]
fn a_base_that_is_not_http_is_refused() {
    assert!(HttpAnalyzer::new("ftp://example.com", Duration::from_secs(1)).is_err());
    assert!(HttpAnalyzer::new("not a url", Duration::from_secs(1)).is_err());
}
