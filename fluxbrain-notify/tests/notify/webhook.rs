//! The webhook notifier: envelope, headers, signature, determinism, errorbrain format.

use fluxbrain_core::{NotificationKind, Notifier, Resolution, canonical};
use fluxbrain_notify::webhook::{self, signature};
use fluxbrain_notify::{Secret, SecretUrl, WebhookConfig, WebhookFormat, WebhookNotifier};
use hmac::{KeyInit, Mac};
use wiremock::matchers::{body_bytes, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, affected, json, note, with_verdict};

fn notifier(server: &MockServer, secret: Option<&str>, format: WebhookFormat) -> WebhookNotifier {
    let mut config =
        WebhookConfig::new(SecretUrl::parse(&format!("{}/hooks/fluxbrain", server.uri())).unwrap());
    config.secret = secret.map(Secret::new);
    config.format = format;
    WebhookNotifier::new(config).unwrap()
}

#[tokio::test]
async fn envelope_post_has_exact_method_path_headers_and_body() {
    let server = MockServer::start().await;
    let mut n = note(NotificationKind::Firing, 1);
    n.affected = affected();
    let expected = webhook::body(&n, WebhookFormat::Envelope);
    Mock::given(method("POST"))
        .and(path("/hooks/fluxbrain"))
        .and(header("content-type", "application/json"))
        .and(header("idempotency-key", n.id.as_str()))
        .and(body_bytes(expected.clone()))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let receipt = notifier(&server, None, WebhookFormat::Envelope)
        .deliver(&n, None)
        .await
        .unwrap();
    assert_eq!(receipt.reference, None);

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0]
            .headers
            .get("x-fluxbrain-signature-256")
            .is_none()
    );
    assert!(
        requests[0]
            .headers
            .get("user-agent")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("fluxbrain/")
    );

    // The envelope of DESIGN.md section 11, in that key order, with the canonical event.
    let body = String::from_utf8(requests[0].body.clone()).unwrap();
    let header_json = format!(
        r#"{{"notification":{{"id":"{}","kind":"firing","incident_id":"{}","occurrence":1,"at":"2026-04-21T09:30:00Z"}},"event":"#,
        n.id, n.incident_id
    );
    assert!(body.starts_with(&header_json), "{body}");
    let event = String::from_utf8(canonical::to_vec(&n.event)).unwrap();
    assert!(
        body.contains(&format!(r#","event":{event},"affected":["#)),
        "{body}"
    );
    assert!(body.ends_with(r#","analysis":null}"#), "{body}");
    let v = json(&requests[0]);
    assert_eq!(v["affected"][0]["key"], "HelmRelease/shop/cart");
    assert_eq!(v["affected"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn signature_verifies_over_the_exact_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/fluxbrain"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let key = "whsec-test-3f9a1c";
    let n = with_verdict(note(NotificationKind::Reminder, 3));
    notifier(&server, Some(key), WebhookFormat::Envelope)
        .deliver(&n, None)
        .await
        .unwrap();

    let request = &server.received_requests().await.unwrap()[0];
    let sent = request
        .headers
        .get("x-fluxbrain-signature-256")
        .unwrap()
        .to_str()
        .unwrap();
    // An independent computation, as a receiver would do it.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(&request.body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(sent, format!("sha256={hex}"));
    assert!(signature::verify(key.as_bytes(), &request.body, sent));
    assert!(!signature::verify(b"wrong", &request.body, sent));
    let mut tampered = request.body.clone();
    tampered[10] ^= 1;
    assert!(!signature::verify(key.as_bytes(), &tampered, sent));

    let v = json(request);
    assert_eq!(v["notification"]["kind"], "reminder");
    assert_eq!(v["notification"]["occurrence"], 3);
    assert_eq!(v["analysis"]["kind"], "verdict");
    assert_eq!(v["analysis"]["verdict"], support::verdict_example());
}

#[tokio::test]
async fn resolved_envelope_names_the_resolution() {
    let server = MockServer::start().await;
    let n = note(NotificationKind::Resolved(Resolution::Superseded), 2);
    Mock::given(method("POST"))
        .and(path("/hooks/fluxbrain"))
        .and(header("idempotency-key", n.id.as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    notifier(&server, None, WebhookFormat::Envelope)
        .deliver(&n, None)
        .await
        .unwrap();
    let v = json(&server.received_requests().await.unwrap()[0]);
    assert_eq!(v["notification"]["kind"], "resolved");
    assert_eq!(v["notification"]["resolution"], "superseded");
    assert!(n.id.ends_with(":resolved:2"), "{}", n.id);
}

#[tokio::test]
async fn a_retry_sends_the_same_bytes_and_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let n = with_verdict(note(NotificationKind::Firing, 1));
    let hook = notifier(&server, Some("k"), WebhookFormat::Envelope);
    let first = hook.deliver(&n, None).await.unwrap_err();
    assert_eq!(first.retry, fluxbrain_core::Retry::After(None));
    hook.deliver(&n, None).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    for name in ["idempotency-key", "x-fluxbrain-signature-256"] {
        assert_eq!(
            requests[0].headers.get(name),
            requests[1].headers.get(name),
            "{name}"
        );
    }
}

#[tokio::test]
async fn errorbrain_format_posts_the_bare_event() {
    let server = MockServer::start().await;
    let n = note(NotificationKind::Firing, 1);
    Mock::given(method("POST"))
        .and(path("/hooks/fluxbrain"))
        .and(header("idempotency-key", n.id.as_str()))
        .and(body_bytes(canonical::to_vec(&n.event)))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    notifier(&server, Some("k"), WebhookFormat::Errorbrain)
        .deliver(&n, None)
        .await
        .unwrap();
    let v = json(&server.received_requests().await.unwrap()[0]);
    let validator = jsonschema::validator_for(&support::schema("error_event.schema.json")).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[tokio::test]
async fn analysis_in_the_envelope_is_redacted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let mut n = note(NotificationKind::Firing, 1);
    n.analysis = Some(fluxbrain_core::Analysis::Text {
        explanation: "rotate ghp_R8mZq2VtLx5Nw7Kc3Yh9Pd1Fs6Jb4Gu0AeTo now".into(),
    });
    notifier(&server, None, WebhookFormat::Envelope)
        .deliver(&n, None)
        .await
        .unwrap();
    let v = json(&server.received_requests().await.unwrap()[0]);
    assert_eq!(v["analysis"]["kind"], "text");
    assert_eq!(v["analysis"]["explanation"], "rotate [REDACTED] now");
}

#[tokio::test]
async fn an_update_is_an_updated_envelope_with_its_change_and_its_own_key() {
    let server = MockServer::start().await;
    let n = support::updated();
    assert_eq!(n.id, format!("{}:updated:1", n.incident_id));
    Mock::given(method("POST"))
        .and(path("/hooks/fluxbrain"))
        .and(header("idempotency-key", n.id.as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    notifier(&server, None, WebhookFormat::Envelope)
        .deliver(&n, None)
        .await
        .unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    let body = String::from_utf8(request.body.clone()).unwrap();
    assert!(
        body.contains(r#""change":{"joined":["HelmRelease/shop/cart"],"left":["HelmRelease/shop/checkout"]},"analysis":null}"#),
        "{body}"
    );
    let v = json(request);
    assert_eq!(v["notification"]["kind"], "updated");
    assert!(v["notification"].get("resolution").is_none());
    assert_eq!(v["affected"].as_array().unwrap().len(), 2);
}
