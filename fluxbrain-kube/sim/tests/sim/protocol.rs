//! Protocol details over raw HTTP: discovery negotiation, Tables, Status errors, watches from a
//! resourceVersion, 410 Gone, bookmarks and injected faults.

use std::time::Duration;

use fluxbrain_sim::{Config, Faults};
use serde_json::Value;

use crate::support::{config, kube_client, raw, raw_client, raw_json, start, start_with};

const KS: &str = "/apis/kustomize.toolkit.fluxcd.io/v1";

/// Method, URI, headers, body, expected code, expected reason.
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a str,
    u16,
    &'a str,
);

#[tokio::test]
async fn discovery_legacy_and_aggregated() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let (code, groups) = raw_json(&client, "GET", "/apis", &[], "").await;
    assert_eq!(code, 200);
    assert_eq!(groups["kind"], "APIGroupList");
    let aggregated =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let (code, content_type, body) =
        raw(&client, "GET", "/apis", &[("accept", aggregated)], "").await;
    assert_eq!(
        (code, content_type.as_str()),
        (
            200,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        )
    );
    let doc: Value = serde_json::from_str(&body).unwrap();
    let ks = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "kustomize.toolkit.fluxcd.io")
        .unwrap();
    assert_eq!(
        ks["versions"][0]["resources"][0]["responseKind"]["kind"],
        "Kustomization"
    );
    let (_, core) = raw_json(&client, "GET", "/api", &[("accept", aggregated)], "").await;
    assert_eq!(core["items"][0]["metadata"]["name"], "");
    let (code, version) = raw_json(&client, "GET", "/version", &[], "").await;
    assert_eq!((code, version["major"].as_str()), (200, Some("1")));
    let (code, missing) = raw_json(&client, "GET", "/apis/apps/v1", &[], "").await;
    assert_eq!(
        (code, missing["kind"].as_str(), missing["reason"].as_str()),
        (404, Some("Status"), Some("NotFound"))
    );
}

#[tokio::test]
async fn json_patch_applies_or_fails_whole() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let uri = format!("{KS}/namespaces/shop/kustomizations/shop-apps");
    let json = [("content-type", "application/json-patch+json")];
    let ops = r#"[{"op":"test","path":"/spec/path","value":"./deploy"},{"op":"replace","path":"/spec/path","value":"./v2"},{"op":"add","path":"/metadata/labels/tier","value":"web"}]"#;
    let (code, patched) = raw_json(&client, "PATCH", &uri, &json, ops).await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(
        (
            patched["spec"]["path"].as_str(),
            patched["metadata"]["labels"]["tier"].as_str()
        ),
        (Some("./v2"), Some("web"))
    );
    let failing = r#"[{"op":"replace","path":"/spec/path","value":"./v3"},{"op":"test","path":"/spec/path","value":"./v2"}]"#;
    let (code, status) = raw_json(&client, "PATCH", &uri, &json, failing).await;
    assert_eq!((code, status["reason"].as_str()), (400, Some("BadRequest")));
    let (_, now) = raw_json(&client, "GET", &uri, &[], "").await;
    assert_eq!(
        now["spec"]["path"], "./v2",
        "a failed patch changes nothing"
    );
    assert_eq!(
        now["metadata"]["resourceVersion"],
        patched["metadata"]["resourceVersion"]
    );
}

#[tokio::test]
async fn tables_for_lists_and_objects() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let accept = [(
        "accept",
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )];
    let (code, content_type, body) = raw(
        &client,
        "GET",
        &format!("{KS}/namespaces/shop/kustomizations"),
        &accept,
        "",
    )
    .await;
    assert_eq!(
        (code, content_type.as_str()),
        (200, "application/json;as=Table;v=v1;g=meta.k8s.io")
    );
    let table: Value = serde_json::from_str(&body).unwrap();
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Name", "Age", "Ready", "Status"]);
    assert_eq!(table["rows"].as_array().unwrap().len(), 4);
    assert_eq!(table["rows"][0]["cells"][0], "shop-apps");
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    let (_, pod) = raw_json(
        &client,
        "GET",
        "/api/v1/namespaces/flux-system/pods?limit=1",
        &accept,
        "",
    )
    .await;
    assert_eq!(pod["rows"][0]["cells"][1], "1/1");
    assert_eq!(pod["rows"][0]["cells"][2], "Running");
}

#[tokio::test]
async fn malformed_requests_get_status_objects() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    let cases: &[Case] = &[
        (
            "GET",
            "/api/v1/events?limit=many",
            &[],
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/events?labelSelector=a+in+b",
            &[],
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/events?fieldSelector=nope%3D1",
            &[],
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/events?continue=garbage",
            &[],
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/events?watch=1&resourceVersion=abc",
            &[],
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/api/v1/namespaces/flux-system/pods/nope/log",
            &[],
            "",
            404,
            "NotFound",
        ),
        (
            "GET",
            "/api/v1/namespaces/flux-system/pods/source-controller-6d8f7b9c5d-q4x7m/log?tailLines=-3",
            &[],
            "",
            400,
            "BadRequest",
        ),
        (
            "GET",
            "/apis/nothing.example.com/v1/things",
            &[],
            "",
            404,
            "NotFound",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            &[("content-type", "application/json")],
            "{not json",
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            &[("content-type", "application/json")],
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#,
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/configmaps",
            &[("content-type", "application/json")],
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}"#,
            422,
            "Invalid",
        ),
        (
            "POST",
            "/api/v1/namespaces/nowhere/configmaps",
            &[("content-type", "application/json")],
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
            404,
            "NotFound",
        ),
        (
            "POST",
            "/api/v1/namespaces/flux-system/pods",
            &[("content-type", "application/json")],
            "{}",
            405,
            "MethodNotAllowed",
        ),
        (
            "PATCH",
            &format!("{KS}/namespaces/shop/kustomizations/shop-apps"),
            &[("content-type", "text/plain")],
            "{}",
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            &format!("{KS}/namespaces/shop/kustomizations/shop-apps"),
            &[("content-type", "application/strategic-merge-patch+json")],
            "{}",
            415,
            "UnsupportedMediaType",
        ),
        (
            "PATCH",
            &format!("{KS}/namespaces/shop/kustomizations/shop-apps"),
            &[("content-type", "application/merge-patch+json")],
            "[",
            400,
            "BadRequest",
        ),
        (
            "PUT",
            &format!("{KS}/namespaces/shop/kustomizations/shop-apps"),
            &[("content-type", "application/json")],
            r#"{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"shop-apps"}}"#,
            422,
            "Invalid",
        ),
        (
            "GET",
            "/api/v1/pods",
            &[("accept", "application/vnd.kubernetes.protobuf")],
            "",
            406,
            "NotAcceptable",
        ),
    ];
    for (method, uri, headers, body, code, reason) in cases {
        let (got, status) = raw_json(&client, method, uri, headers, body).await;
        assert_eq!(
            (got, status["kind"].as_str(), status["reason"].as_str()),
            (*code, Some("Status"), Some(*reason)),
            "{method} {uri}: {status}"
        );
        assert_eq!(status["code"], *code);
    }
}

/// Reads a whole (ended) watch response as events.
async fn watch_events(client: &kube::Client, uri: &str) -> Vec<Value> {
    let (code, _, body) =
        tokio::time::timeout(Duration::from_secs(30), raw(client, "GET", uri, &[], ""))
            .await
            .unwrap();
    assert_eq!(code, 200, "{body}");
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn watch_from_version_replays_then_times_out() {
    let (sim, server) = start().await;
    let client = kube_client(&server).await;
    let (_, list) = raw_json(&client, "GET", &format!("{KS}/kustomizations"), &[], "").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let status = r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"R","message":"m"}]}}"#;
    let merge = [("content-type", "application/merge-patch+json")];
    let (code, patched) = raw_json(
        &client,
        "PATCH",
        &format!("{KS}/namespaces/shop/kustomizations/shop-apps/status"),
        &merge,
        status,
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = raw_json(
        &client,
        "PATCH",
        &format!("{KS}/namespaces/shop/kustomizations/shop-config"),
        &merge,
        r#"{"metadata":{"labels":{"x":"y"}}}"#,
    )
    .await;
    assert_eq!(code, 200);
    // Label selector: shop-config moves into the selection, so it is ADDED for this watch.
    let events = watch_events(
        &client,
        &format!("{KS}/kustomizations?watch=1&resourceVersion={rv}&timeoutSeconds=1"),
    )
    .await;
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["object"]["metadata"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [("MODIFIED", "shop-apps"), ("MODIFIED", "shop-config")]
    );
    assert_eq!(
        events[0]["object"]["metadata"]["resourceVersion"],
        patched["metadata"]["resourceVersion"]
    );
    let selected = watch_events(
        &client,
        &format!(
            "{KS}/kustomizations?watch=1&resourceVersion={rv}&timeoutSeconds=1&labelSelector=x%3Dy"
        ),
    )
    .await;
    assert_eq!(selected.len(), 1);
    assert_eq!(
        (
            selected[0]["type"].as_str(),
            selected[0]["object"]["metadata"]["name"].as_str()
        ),
        (Some("ADDED"), Some("shop-config"))
    );
    // No version: synthetic ADDED for what exists.
    let initial = watch_events(
        &client,
        &format!("{KS}/namespaces/shop/kustomizations?watch=true&timeoutSeconds=1"),
    )
    .await;
    assert_eq!(initial.len(), 4);
    assert!(initial.iter().all(|e| e["type"] == "ADDED"));
    // Compacted history: one ERROR event with a 410 Status.
    sim.expire_resource_versions();
    let gone = watch_events(
        &client,
        &format!("{KS}/kustomizations?watch=1&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["type"], "ERROR");
    assert_eq!(gone[0]["object"]["code"], 410);
    assert_eq!(gone[0]["object"]["reason"], "Expired");
    let token = {
        let (_, page) = raw_json(
            &client,
            "GET",
            &format!("{KS}/kustomizations?limit=2"),
            &[],
            "",
        )
        .await;
        page["metadata"]["continue"].as_str().unwrap().to_string()
    };
    raw_json(
        &client,
        "PATCH",
        &format!("{KS}/namespaces/shop/kustomizations/shop-config"),
        &merge,
        r#"{"metadata":{"labels":{"x":"z"}}}"#,
    )
    .await;
    sim.expire_resource_versions();
    let (code, expired) = raw_json(
        &client,
        "GET",
        &format!("{KS}/kustomizations?limit=2&continue={token}"),
        &[],
        "",
    )
    .await;
    assert_eq!((code, expired["reason"].as_str()), (410, Some("Expired")));
}

#[tokio::test]
async fn bookmarks_and_initial_events_end() {
    let (_sim, server) = start_with(Config {
        bookmark_interval: Duration::from_millis(200),
        ..config()
    })
    .await;
    let client = kube_client(&server).await;
    let events = watch_events(&client, &format!("{KS}/namespaces/shop/kustomizations?watch=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1")).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        &types[..5],
        ["ADDED", "ADDED", "ADDED", "ADDED", "BOOKMARK"]
    );
    assert_eq!(
        events[4]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(events[4]["object"]["kind"], "Kustomization");
    assert!(
        types[5..].iter().all(|t| *t == "BOOKMARK") && types.len() >= 6,
        "periodic bookmarks within the 1s timeout: {types:?}"
    );
}

#[tokio::test]
async fn a_stalled_watch_stays_open_and_silent_until_cut() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (sim, server) = start().await;
    let client = kube_client(&server).await;
    let rv = sim.resource_version();
    let mut object = sim
        .object(
            "kustomize.toolkit.fluxcd.io/v1",
            "Kustomization",
            "shop",
            "shop-apps",
        )
        .unwrap();
    object["metadata"]["labels"] = serde_json::json!({"step": "one"});
    sim.apply(object.clone()).unwrap();
    // A raw connection, to see every byte: the replay of the change after `rv` arrives.
    let mut tcp = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let request = format!(
        "GET {KS}/kustomizations?watch=1&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=1 HTTP/1.1\r\nHost: sim\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&received).contains("\"step\":\"one\"") {
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "the watch ended early");
        received.extend_from_slice(&buf[..n]);
    }
    // Stalled, then a change: past the server-side timeout (1 s), not one byte, and open.
    sim.stall_watches();
    object["metadata"]["labels"] = serde_json::json!({"step": "two"});
    sim.apply(object).unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut buf))
            .await
            .is_err(),
        "a stalled watch sends nothing and does not end"
    );
    // A watch opened now is served as usual: resumed from `rv`, it gets both changes.
    let events = watch_events(
        &client,
        &format!("{KS}/kustomizations?watch=1&resourceVersion={rv}&timeoutSeconds=1"),
    )
    .await;
    let steps: Vec<&str> = events
        .iter()
        .filter_map(|e| e["object"]["metadata"]["labels"]["step"].as_str())
        .collect();
    assert_eq!(steps, ["one", "two"]);
    // Cutting the watches ends the stalled one too.
    sim.drop_watches();
    let cut = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(cut.is_ok(), "the stalled connection was cut");
}

#[tokio::test]
async fn injected_errors() {
    let (sim, server) = start().await;
    let client = raw_client(&server).await;
    sim.set_faults(Faults {
        error_rate: 1.0,
        error_status: 429,
        retry_after: Some(7),
        ..Faults::default()
    });
    let req = http::Request::get("/api/v1/pods")
        .body(kube::client::Body::empty())
        .unwrap();
    let resp = client.send(req).await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "7");
    let status: Value =
        serde_json::from_slice(&resp.into_body().collect_bytes().await.unwrap()).unwrap();
    assert_eq!(
        (
            status["reason"].as_str(),
            status["details"]["retryAfterSeconds"].as_u64()
        ),
        (Some("TooManyRequests"), Some(7))
    );
    // Half the requests fail, reproducibly for a seed.
    sim.set_faults(Faults {
        error_rate: 0.5,
        error_status: 503,
        ..Faults::default()
    });
    let mut codes = Vec::new();
    for _ in 0..40 {
        codes.push(raw(&client, "GET", "/api/v1/pods", &[], "").await.0);
    }
    let failed = codes.iter().filter(|c| **c == 503).count();
    assert!((10..=30).contains(&failed), "{failed} of 40 failed");
    assert!(codes.iter().all(|c| *c == 503 || *c == 200));
}

#[tokio::test(start_paused = true)]
async fn injected_latency_slows_only_matching_requests() {
    // In process, on paused time: the latency is measured on tokio's clock, exactly.
    let sim = fluxbrain_sim::Simulator::new(
        fluxbrain_sim::State::load_dir(crate::support::fixture_dir()).unwrap(),
        config(),
    )
    .unwrap();
    let client = kube::Client::new(sim.service(), "default");
    sim.set_faults(Faults {
        latency: Some(Duration::from_millis(300)),
        request_contains: Some("/pods".into()),
        ..Faults::default()
    });
    let started = tokio::time::Instant::now();
    assert_eq!(raw(&client, "GET", "/api/v1/pods", &[], "").await.0, 200);
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    let started = tokio::time::Instant::now();
    assert_eq!(raw(&client, "GET", "/api/v1/events", &[], "").await.0, 200);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "only matching requests are slowed"
    );
}

#[tokio::test]
async fn openapi_v2_is_json_when_json_is_acceptable() {
    let (_sim, server) = start().await;
    let client = kube_client(&server).await;
    for accept in [
        "application/json",
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json",
    ] {
        let (code, content_type, body) =
            raw(&client, "GET", "/openapi/v2", &[("accept", accept)], "").await;
        assert_eq!((code, content_type.as_str()), (200, "application/json"));
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["swagger"], "2.0");
        let ks = &doc["definitions"]["io.fluxcd.toolkit.kustomize.v1.Kustomization"];
        assert_eq!(
            ks["x-kubernetes-group-version-kind"][0]["kind"],
            "Kustomization"
        );
        assert_eq!(ks["properties"]["spec"]["type"], "object");
        assert!(doc["definitions"]["io.k8s.api.core.v1.ConfigMap"].is_object());
    }
    // What kubectl sends: protobuf alone, which the simulator does not produce.
    let protobuf_only = [(
        "accept",
        "application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
    )];
    let (code, status) = raw_json(&client, "GET", "/openapi/v2", &protobuf_only, "").await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (406, Some("NotAcceptable"))
    );
}

#[tokio::test]
async fn protobuf_bodies_are_decoded_or_refused_by_name() {
    let (_sim, server) = start().await;
    let client = raw_client(&server).await;
    let protobuf = [("content-type", "application/vnd.kubernetes.protobuf")];
    let configmaps = "/api/v1/namespaces/default/configmaps";
    // typeMeta {v1, ConfigMap}; raw {metadata {name: "pb"}, data {"k": "v"}}
    let configmap = "k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x10\x0a\x06\x0a\x02pb\x12\x00\x12\x06\x0a\x01k\x12\x01v";
    let (code, created) = raw_json(&client, "POST", configmaps, &protobuf, configmap).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["data"], serde_json::json!({"k": "v"}));
    assert_eq!(created["metadata"]["namespace"], "default");

    let truncated = "k8s\0\x0a\x05\x0a\x02v1";
    let (code, status) = raw_json(&client, "POST", configmaps, &protobuf, truncated).await;
    assert_eq!((code, status["reason"].as_str()), (400, Some("BadRequest")));
    assert_eq!(
        status["message"],
        "error decoding protobuf body: runtime.Unknown.typeMeta: a length of 5 bytes runs past the end of the message (4 left)"
    );

    let secret = "k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x05\x0a\x03\x0a\x01s";
    let (code, status) = raw_json(&client, "POST", configmaps, &protobuf, secret).await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    let message = status["message"].as_str().unwrap();
    assert!(
        message.contains("kind Secret (v1)") && message.contains("send it as JSON"),
        "{message}"
    );

    // DeleteOptions {preconditions {resourceVersion: "1"}}: stale, so the delete is refused.
    let stale = "k8s\0\x0a\x13\x0a\x02v1\x12\x0dDeleteOptions\x12\x05\x12\x03\x12\x011";
    let uri = format!("{configmaps}/pb");
    let (code, status) = raw_json(&client, "DELETE", &uri, &protobuf, stale).await;
    assert_eq!((code, status["reason"].as_str()), (409, Some("Conflict")));
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("Precondition failed: ResourceVersion in precondition: 1"),
        "{status}"
    );
    let background = "k8s\0\x0a\x13\x0a\x02v1\x12\x0dDeleteOptions\x12\x0c\x22\x0aBackground";
    let (code, status) = raw_json(&client, "DELETE", &uri, &protobuf, background).await;
    assert_eq!((code, status["status"].as_str()), (200, Some("Success")));
}
