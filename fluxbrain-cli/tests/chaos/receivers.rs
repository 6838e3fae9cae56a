//! Local Slack, webhook and GitHub receivers that flap, drawn from the run's seed, between
//! accepting, 500, 429 with `Retry-After: 1`, hanging past the notifier's timeout, and closing
//! the connection without an answer. Every answer carries `Connection: close`, so each request
//! arrives on a new connection that the flap may drop. Only a 2xx is recorded as received:
//! every failure happens before the receiver acts on the request.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

/// How long a hanging answer takes: past the notifier's timeout (2 s in the runs).
const HANG: Duration = Duration::from_millis(3000);

/// A receiver's mood, seeded; calm answers every request with success.
#[derive(Debug)]
pub struct Flap {
    rng: Mutex<fastrand::Rng>,
    calm: AtomicBool,
}

enum Answer {
    Accept,
    ServerError,
    TooMany,
    Hang,
}

impl Flap {
    fn new(seed: u64) -> Arc<Flap> {
        Arc::new(Flap {
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            calm: AtomicBool::new(false),
        })
    }

    /// From now on, every request succeeds (the run's final drain).
    pub fn calm(&self) {
        self.calm.store(true, Ordering::SeqCst);
    }

    fn draw(&self) -> u8 {
        if self.calm.load(Ordering::SeqCst) {
            return 0;
        }
        self.rng.lock().unwrap().u8(..100)
    }

    /// Whether a new connection is closed without an answer (5 %).
    fn drops(&self) -> bool {
        self.draw() >= 95
    }

    fn answer(&self) -> Answer {
        match self.draw() {
            0..72 => Answer::Accept,
            72..84 => Answer::ServerError,
            84..95 => Answer::TooMany,
            _ => Answer::Hang,
        }
    }

    /// The failure to answer instead of acting, if any.
    async fn failure(&self) -> Option<Response> {
        match self.answer() {
            Answer::Accept => None,
            Answer::ServerError => Some(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
            Answer::TooMany => {
                Some((StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")]).into_response())
            }
            Answer::Hang => {
                tokio::time::sleep(HANG).await;
                Some(StatusCode::SERVICE_UNAVAILABLE.into_response())
            }
        }
    }
}

/// A listener that closes some new connections once their request arrived, unanswered.
struct Flaky {
    inner: TcpListener,
    flap: Arc<Flap>,
}

impl axum::serve::Listener for Flaky {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Ok((stream, addr)) = self.inner.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            if self.flap.drops() {
                tokio::spawn(async move {
                    // Let the request arrive, then close without a word.
                    let _ =
                        tokio::time::timeout(Duration::from_millis(200), stream.readable()).await;
                    drop(stream);
                });
                continue;
            }
            return (stream, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

async fn serve<S: Clone + Send + Sync + 'static>(
    flap: Arc<Flap>,
    router: axum::Router<S>,
    state: S,
) -> String {
    let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", inner.local_addr().unwrap());
    let app = router
        .with_state(state)
        .layer(axum::middleware::map_response(|mut r: Response| async {
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }));
    tokio::spawn(async move { axum::serve(Flaky { inner, flap }, app).await });
    url
}

/// A webhook request that was answered 2xx.
#[derive(Debug, Clone)]
pub struct Hook {
    pub key: String,
    pub kind: String,
    pub incident: String,
    pub occurrence: u64,
    pub object: String,
}

/// A Slack Web API call that was answered `ok`.
#[derive(Debug, Clone)]
pub struct SlackCall {
    /// `chat.postMessage` or `chat.update`.
    pub method: String,
    pub threaded: bool,
    pub text: String,
}

/// An issue of the GitHub receiver.
#[derive(Debug, Clone)]
pub struct Issue {
    pub label: String,
    pub title: String,
    pub open: bool,
    pub comments: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Received {
    pub hooks: Mutex<Vec<Hook>>,
    pub slack: Mutex<Vec<SlackCall>>,
    pub issues: Mutex<BTreeMap<u64, Issue>>,
}

/// The three receivers of one run.
pub struct Receivers {
    pub flaps: Vec<Arc<Flap>>,
    pub received: Arc<Received>,
    pub webhook: String,
    pub slack: String,
    pub github: String,
}

type Ctx = (Arc<Flap>, Arc<Received>);

impl Receivers {
    pub async fn start(seed: u64) -> Receivers {
        let received = Arc::new(Received::default());
        let flaps: Vec<Arc<Flap>> = (0..3)
            .map(|i| Flap::new(seed.wrapping_mul(31).wrapping_add(i)))
            .collect();
        let webhook = serve(
            flaps[0].clone(),
            axum::Router::new().route("/hook", axum::routing::post(hook)),
            (flaps[0].clone(), received.clone()),
        )
        .await;
        let slack = serve(
            flaps[1].clone(),
            axum::Router::new().route("/api/{method}", axum::routing::post(slack)),
            (flaps[1].clone(), received.clone()),
        )
        .await;
        let github = serve(
            flaps[2].clone(),
            axum::Router::new().fallback(github),
            (flaps[2].clone(), received.clone()),
        )
        .await;
        Receivers {
            flaps,
            received,
            webhook: format!("{webhook}/hook"),
            slack: format!("{slack}/api"),
            github,
        }
    }

    pub fn calm(&self) {
        self.flaps.iter().for_each(|f| f.calm());
    }
}

fn answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn hook(
    AxumState((flap, received)): AxumState<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(failure) = flap.failure().await {
        return failure;
    }
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    received.hooks.lock().unwrap().push(Hook {
        key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        kind: text(&envelope["notification"]["kind"]),
        incident: text(&envelope["notification"]["incident_id"]),
        occurrence: envelope["notification"]["occurrence"].as_u64().unwrap_or(0),
        object: text(&envelope["event"]["metadata"]["name"]),
    });
    StatusCode::NO_CONTENT.into_response()
}

async fn slack(
    AxumState((flap, received)): AxumState<Ctx>,
    axum::extract::Path(method): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    if let Some(failure) = flap.failure().await {
        return failure;
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut calls = received.slack.lock().unwrap();
    calls.push(SlackCall {
        method: method.clone(),
        threaded: message.get("thread_ts").is_some_and(|t| !t.is_null()),
        text: message["text"].as_str().unwrap_or_default().to_owned(),
    });
    let ts = match method.as_str() {
        "chat.update" => message["ts"].as_str().unwrap_or_default().to_owned(),
        _ => format!("1714000000.{:06}", calls.len()),
    };
    answer(
        StatusCode::OK,
        &json!({"ok": true, "channel": "C0CHAOS", "ts": ts}),
    )
}

async fn github(
    AxumState((flap, received)): AxumState<Ctx>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    if let Some(failure) = flap.failure().await {
        return failure;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    let mut issues = received.issues.lock().unwrap();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["repos", "acme", "fleet", "issues"]) => {
            let label = uri
                .query()
                .unwrap_or_default()
                .split('&')
                .find_map(|p| p.strip_prefix("labels="))
                .map(|l| l.replace("%3A", ":"))
                .unwrap_or_default();
            let open: Vec<Value> = issues
                .iter()
                .filter(|(_, i)| i.open && i.label == label)
                .map(|(n, i)| json!({"number": n, "labels": [{"name": "fluxbrain"}, {"name": i.label}]}))
                .collect();
            answer(StatusCode::OK, &Value::Array(open))
        }
        ("POST", ["repos", "acme", "fleet", "issues"]) => {
            let number = issues.len() as u64 + 1;
            issues.insert(
                number,
                Issue {
                    label: body["labels"][1].as_str().unwrap_or_default().to_owned(),
                    title: body["title"].as_str().unwrap_or_default().to_owned(),
                    open: true,
                    comments: Vec::new(),
                },
            );
            answer(StatusCode::CREATED, &json!({"number": number}))
        }
        ("POST", ["repos", "acme", "fleet", "issues", number, "comments"]) => {
            match number.parse().ok().and_then(|n: u64| issues.get_mut(&n)) {
                Some(issue) => {
                    issue
                        .comments
                        .push(body["body"].as_str().unwrap_or_default().to_owned());
                    answer(StatusCode::CREATED, &json!({"id": 1}))
                }
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        ("PATCH", ["repos", "acme", "fleet", "issues", number]) => {
            match number.parse().ok().and_then(|n: u64| issues.get_mut(&n)) {
                Some(issue) => {
                    issue.open = body["state"] != "closed";
                    answer(
                        StatusCode::OK,
                        &json!({"number": number.parse::<u64>().unwrap_or(0)}),
                    )
                }
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
