//! The HTTP server: routing of Kubernetes API paths to discovery, reads, watches, writes and logs.
//!
//! One fallback handler parses every path itself, so any malformed request (bad query, unknown
//! path, bad body) is answered with a Kubernetes `Status`, never a framework's plain-text error.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::Simulator;
use super::body;
use super::discovery;
use super::kubeconfig::kubeconfig_with_token;
use super::logs::LogRequest;
use super::media::{self, Want, negotiate};
use super::openapi;
use super::patch::PatchType;
use super::query::{Query, decode_segment};
use super::rbac::Attributes;
use super::resources::{PODS, ResId, api_version};
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{ObjKey, WriteOpts};
use super::table::{self, Include};
use super::watch::{self, Chunk, WatchSpec};
use crate::Error;

/// A simulator serving HTTP. Dropping it stops the server; [`Server::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    sim: Simulator,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl Server {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig for this server (see [`crate::kubeconfig`]).
    /// With RBAC on, its user carries the ServiceAccount's token.
    pub fn kubeconfig(&self) -> String {
        let token = self.sim.rbac().map(|r| r.token());
        kubeconfig_with_token(&self.url(), token.as_deref())
    }

    /// Writes [`Server::kubeconfig`] to a file.
    ///
    /// # Errors
    /// [`Error::Write`] if the file cannot be written.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        std::fs::write(path, self.kubeconfig()).map_err(|source| Error::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The simulator behind the server.
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// Stops accepting requests, ends open watches, and waits for the server to finish.
    ///
    /// # Errors
    /// [`Error::Serve`] if the server had failed.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.stop_now();
        self.wait().await
    }

    /// Waits until the server ends (it runs until [`Server::shutdown`] or a failure).
    ///
    /// # Errors
    /// [`Error::Serve`] if the server failed.
    pub async fn wait(mut self) -> Result<(), Error> {
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        let addr = self.addr.to_string();
        match task.await {
            Ok(result) => result.map_err(|source| Error::Serve { addr, source }),
            Err(join) => Err(Error::Serve {
                addr,
                source: io::Error::other(join.to_string()),
            }),
        }
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            self.sim.drop_watches();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Binds and spawns the server.
pub(crate) async fn start(sim: Simulator, addr: SocketAddr) -> Result<Server, Error> {
    let serve_err = |source| Error::Serve {
        addr: addr.to_string(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(serve_err)?;
    let addr = listener.local_addr().map_err(serve_err)?;
    let app = router(sim.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Server {
        addr,
        sim,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Every route of the API.
pub(crate) fn router(sim: Simulator) -> Router {
    Router::new().fallback(handle).with_state(sim)
}

async fn handle(State(sim): State<Simulator>, req: Request) -> Response {
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), ToString::to_string);
    sim.record_request(format!("{} {target}", req.method()));
    if let Err(err) = authorize(&sim, &req, &target) {
        // Read what the client is still sending before answering, as the API server's HTTP
        // stack does: a refusal mid-upload would reach the client as a broken connection,
        // not as the 403 it is.
        let _ = axum::body::to_bytes(req.into_body(), usize::MAX).await;
        return error(&err);
    }
    let (latency, injected) = {
        let mut core = sim.core();
        let faults = core.faults.clone();
        if faults.applies_to(&target) {
            let fail = faults.error_rate > 0.0 && core.rng.unit() < faults.error_rate;
            (
                faults.latency,
                fail.then(|| ApiError::injected(faults.status(), faults.retry_after)),
            )
        } else {
            (None, None)
        }
    };
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    if let Some(err) = injected {
        return error(&err);
    }
    match dispatch(&sim, req).await {
        Ok(response) => response,
        Err(err) => error(&err),
    }
}

async fn dispatch(sim: &Simulator, req: Request) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let query = Query::parse(parts.uri.query())?;
    let headers = parts.headers;
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let accept = accept.as_deref();
    let segments = parts
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_segment)
        .collect::<Result<Vec<_>, _>>()?;
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = parts.method;
    let read_only = |m: &Method| {
        if *m == Method::GET {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    let resources = sim.core().store.resources.clone();
    match segs.as_slice() {
        ["version"] => {
            read_only(&method)?;
            Ok(json_response(
                StatusCode::OK,
                &discovery::version(),
                media::JSON,
            ))
        }
        ["healthz" | "livez" | "readyz"] => Ok(text_response(StatusCode::OK, "ok".to_string())),
        ["api"] | ["apis"] => {
            read_only(&method)?;
            let core = segs == ["api"];
            match negotiate(accept, &[Want::Json, Want::Discovery])? {
                Want::Discovery => Ok(json_response(
                    StatusCode::OK,
                    &discovery::aggregated(&resources, core),
                    media::DISCOVERY,
                )),
                _ if core => {
                    let host = headers
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or_default();
                    Ok(json_response(
                        StatusCode::OK,
                        &discovery::api_versions(host),
                        media::JSON,
                    ))
                }
                _ => Ok(json_response(
                    StatusCode::OK,
                    &discovery::api_group_list(&resources),
                    media::JSON,
                )),
            }
        }
        ["apis", group] => {
            read_only(&method)?;
            let doc = discovery::api_group(&resources, group).ok_or_else(ApiError::no_route)?;
            Ok(json_response(StatusCode::OK, &doc, media::JSON))
        }
        ["api", "v1"] => {
            read_only(&method)?;
            let doc = discovery::api_resource_list(&resources, "", "v1")
                .ok_or_else(ApiError::no_route)?;
            Ok(json_response(StatusCode::OK, &doc, media::JSON))
        }
        ["apis", group, version] => {
            read_only(&method)?;
            let doc = discovery::api_resource_list(&resources, group, version)
                .ok_or_else(ApiError::no_route)?;
            Ok(json_response(StatusCode::OK, &doc, media::JSON))
        }
        ["openapi", "v2"] => {
            read_only(&method)?;
            // kubectl asks only for protobuf here and, refused, falls back on what it has
            // built in; JSON is for other readers (see `openapi::swagger`).
            negotiate(accept, &[Want::Json])?;
            Ok(json_response(
                StatusCode::OK,
                &openapi::swagger(&resources),
                media::JSON,
            ))
        }
        ["openapi", "v3"] => {
            read_only(&method)?;
            Ok(json_response(
                StatusCode::OK,
                &openapi::root(&resources),
                media::JSON,
            ))
        }
        ["openapi", "v3", "api", "v1"] => {
            read_only(&method)?;
            let doc =
                openapi::group_version(&resources, "", "v1").ok_or_else(ApiError::no_route)?;
            Ok(json_response(StatusCode::OK, &doc, media::JSON))
        }
        ["openapi", "v3", "apis", group, version] => {
            read_only(&method)?;
            let doc = openapi::group_version(&resources, group, version)
                .ok_or_else(ApiError::no_route)?;
            Ok(json_response(StatusCode::OK, &doc, media::JSON))
        }
        ["api", "v1", rest @ ..] => {
            let target = Target::parse(sim, "", "v1", rest)?;
            resource(sim, target, method, &query, &headers, accept, body).await
        }
        ["apis", group, version, rest @ ..] => {
            let target = Target::parse(sim, group, version, rest)?;
            resource(sim, target, method, &query, &headers, accept, body).await
        }
        _ => Err(ApiError::no_route()),
    }
}

/// What a resource path names.
#[derive(Debug)]
struct Target {
    res: ResId,
    storage: ResId,
    version: String,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
    watch_path: bool,
}

impl Target {
    fn parse(sim: &Simulator, group: &str, version: &str, rest: &[&str]) -> Result<Self, ApiError> {
        let (watch_path, rest) = match rest {
            ["watch", tail @ ..] => (true, tail),
            _ => (false, rest),
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some((*ns).to_string()), tail),
            _ => (None, rest),
        };
        let (plural, name, sub) = match rest {
            [plural] => (*plural, None, None),
            [plural, name] => (*plural, Some((*name).to_string()), None),
            [plural, name, sub] => (*plural, Some((*name).to_string()), Some((*sub).to_string())),
            _ => return Err(ApiError::no_route()),
        };
        let core = sim.core();
        let res = core
            .store
            .resources
            .by_path(group, version, plural)
            .ok_or_else(ApiError::no_route)?;
        let r = core.store.resources.get(res);
        let sub_ok = match sub.as_deref() {
            None => true,
            Some("status") => r.status_subresource,
            Some("log") => res == PODS,
            Some(_) => false,
        };
        if !sub_ok
            || (!r.namespaced && namespace.is_some())
            || (r.namespaced && name.is_some() && namespace.is_none())
        {
            return Err(ApiError::no_route());
        }
        Ok(Self {
            res,
            storage: core.store.storage_of(res),
            version: version.to_string(),
            namespace,
            name,
            sub,
            watch_path,
        })
    }

    fn ns(&self) -> &str {
        self.namespace.as_deref().unwrap_or_default()
    }
}

async fn resource(
    sim: &Simulator,
    t: Target,
    method: Method,
    query: &Query,
    headers: &HeaderMap,
    accept: Option<&str>,
    body: Body,
) -> Result<Response, ApiError> {
    let (writable, group, plural) = {
        let core = sim.core();
        let r = core.store.resources.get(t.res);
        (r.writable, r.group.clone(), r.plural.clone())
    };
    let dry_run = match query.get("dryRun") {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "dryRun: Unsupported value: {other:?}: supported values: \"All\""
            )));
        }
    };
    let opts = WriteOpts {
        dry_run,
        status: t.sub.as_deref() == Some("status"),
    };
    if method != Method::GET && !writable {
        return Err(ApiError::method_not_allowed());
    }
    match (&method, &t.name, t.sub.as_deref()) {
        (&Method::GET, None, _) if t.watch_path || query.bool("watch")? => {
            watch(sim, &t, query, accept)
        }
        (&Method::GET, None, _) => list(sim, &t, query, accept),
        (&Method::GET, Some(name), Some("log")) => logs(sim, &t, name, query),
        (&Method::GET, Some(name), _) => get(sim, &t, name, query, accept),
        (&Method::POST, None, None) => {
            let body = body::object(headers, body).await?;
            let mut core = sim.core();
            let now = core.clock.now();
            let obj =
                core.store
                    .create(t.res, &t.version, t.namespace.as_deref(), body, now, opts)?;
            let obj = core.store.present(t.res, &t.version, &obj);
            Ok(json_response(StatusCode::CREATED, &obj, media::JSON))
        }
        (&Method::PUT, Some(name), _) => {
            let body = body::object(headers, body).await?;
            let mut core = sim.core();
            let obj = core
                .store
                .update(t.res, &t.version, t.ns(), name, body, opts)?;
            let obj = core.store.present(t.res, &t.version, &obj);
            Ok(json_response(StatusCode::OK, &obj, media::JSON))
        }
        (&Method::PATCH, Some(name), _) => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let Some(kind) = PatchType::from_content_type(content_type) else {
                return Err(ApiError::unsupported_media_type(format!(
                    "the body of the request was in an unknown format - accepted media types include: \
                     application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json \
                     (got {content_type:?}; server-side apply is not simulated)"
                )));
            };
            let bytes = body::bytes(body).await?;
            let doc: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            let mut core = sim.core();
            let obj = core
                .store
                .patch(t.res, &t.version, t.ns(), name, kind, &doc, opts)?;
            let obj = core.store.present(t.res, &t.version, &obj);
            Ok(json_response(StatusCode::OK, &obj, media::JSON))
        }
        (&Method::DELETE, Some(name), None) => {
            let options = body::delete_options(headers, body).await?;
            let mut core = sim.core();
            let now = core.clock.now();
            let answer = core
                .store
                .delete(t.res, &t.version, t.ns(), name, &options, now, opts)?;
            Ok(json_response(StatusCode::OK, &answer, media::JSON))
        }
        (&Method::DELETE, None, None) => {
            let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or_default())
                .map_err(ApiError::bad_request)?;
            let fields =
                FieldSelector::parse(query.get("fieldSelector").unwrap_or_default(), t.storage)
                    .map_err(ApiError::bad_request)?;
            let mut core = sim.core();
            let now = core.clock.now();
            let keys: Vec<ObjKey> = core
                .store
                .range(t.storage, t.namespace.as_deref(), None)
                .filter(|(_, o)| labels.matches(o) && fields.matches(o))
                .map(|(k, _)| k.clone())
                .collect();
            let mut items = Vec::new();
            for (ns, name) in keys {
                let answer =
                    core.store
                        .delete(t.res, &t.version, &ns, &name, &Value::Null, now, opts)?;
                if answer.get("kind").and_then(Value::as_str) != Some("Status") {
                    items.push(answer);
                }
            }
            let r = core.store.resources.get(t.res);
            let list = json!({"apiVersion": api_version(&group, &t.version), "kind": format!("{}List", r.kind),
                              "metadata": {"resourceVersion": core.store.rv().to_string()}, "items": items});
            let _ = plural;
            Ok(json_response(StatusCode::OK, &list, media::JSON))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn get(
    sim: &Simulator,
    t: &Target,
    name: &str,
    query: &Query,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    let want = negotiate(accept, &[Want::Json, Want::Table, Want::Metadata])?;
    let include = Include::parse(query.get("includeObject")).map_err(ApiError::bad_request)?;
    let core = sim.core();
    let r = core.store.resources.get(t.res);
    let stored = core
        .store
        .get(t.storage, t.ns(), name)
        .ok_or_else(|| ApiError::not_found(&r.group, &r.plural, name))?;
    let obj = core.store.present(t.res, &t.version, stored);
    match want {
        Want::Table => {
            let rv = core.store.rv().to_string();
            let row = table::row(t.storage, r, &obj, core.clock.now(), include);
            Ok(json_response(
                StatusCode::OK,
                &table::table(t.storage, r, vec![row], json!({"resourceVersion": rv})),
                media::TABLE,
            ))
        }
        Want::Metadata => Ok(json_response(
            StatusCode::OK,
            &table::partial(&obj),
            media::METADATA,
        )),
        _ => Ok(json_response(StatusCode::OK, &obj, media::JSON)),
    }
}

/// A continue token: the list's resourceVersion and the last key returned.
fn encode_continue(rv: u64, key: &ObjKey) -> String {
    let raw = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": [key.0, key.1]}).to_string();
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Option<(u64, ObjKey)> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let value: Value = serde_json::from_slice(&bytes?).ok()?;
    let rv = value.get("rv")?.as_u64()?;
    let start = value.get("start")?.as_array()?;
    let key = (
        start.first()?.as_str()?.to_string(),
        start.get(1)?.as_str()?.to_string(),
    );
    Some((rv, key))
}

fn list(
    sim: &Simulator,
    t: &Target,
    query: &Query,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    let want = negotiate(accept, &[Want::Json, Want::Table, Want::Metadata])?;
    let include = Include::parse(query.get("includeObject")).map_err(ApiError::bad_request)?;
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or_default(), t.storage)
        .map_err(ApiError::bad_request)?;
    let limit = query.non_negative("limit")?.filter(|l| *l > 0);
    let core = sim.core();
    let store = &core.store;
    let (list_rv, after) = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, key) = decode_continue(token).ok_or_else(|| ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
            if rv < store.floor() {
                return Err(ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ));
            }
            (rv, Some(key))
        }
        None => (store.rv(), None),
    };
    // An equality field selector on the namespace narrows the scan, as the API server's index does.
    let ns = t
        .namespace
        .as_deref()
        .or_else(|| fields.required("metadata.namespace"));
    let mut matching = store
        .range(t.storage, ns, after)
        .filter(|(_, o)| labels.matches(o) && fields.matches(o));
    let mut items: Vec<Arc<Value>> = Vec::new();
    let mut last_key = None;
    for (key, obj) in matching.by_ref() {
        items.push(store.present(t.res, &t.version, obj));
        last_key = Some(key.clone());
        if limit.is_some_and(|l| items.len() >= l) {
            break;
        }
    }
    let more = limit.is_some() && matching.next().is_some();
    let mut meta = json!({"resourceVersion": list_rv.to_string()});
    if more && let Some(key) = &last_key {
        meta["continue"] = json!(encode_continue(list_rv, key));
        // Like the API server, the count is only given for an unfiltered list.
        if labels.is_empty() && fields.is_empty() {
            meta["remainingItemCount"] = json!(1 + matching.count());
        }
    }
    let r = store.resources.get(t.res);
    match want {
        Want::Table => {
            let now = core.clock.now();
            let rows = items
                .iter()
                .map(|o| table::row(t.storage, r, o, now, include))
                .collect();
            Ok(json_response(
                StatusCode::OK,
                &table::table(t.storage, r, rows, meta),
                media::TABLE,
            ))
        }
        Want::Metadata => {
            let items: Vec<Value> = items.iter().map(|o| table::partial(o)).collect();
            let list = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items});
            Ok(json_response(StatusCode::OK, &list, media::METADATA))
        }
        _ => {
            // Written by hand so a 10k-item list is not cloned into one more Value.
            let head = json!({"apiVersion": api_version(&r.group, &t.version), "kind": format!("{}List", r.kind), "metadata": meta});
            let mut out = serde_json::to_vec(&head).unwrap_or_default();
            out.pop();
            out.extend_from_slice(b",\"items\":[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut out, &**item)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
            }
            out.extend_from_slice(b"]}");
            Ok(bytes_response(
                StatusCode::OK,
                Bytes::from(out),
                media::JSON,
            ))
        }
    }
}

fn watch(
    sim: &Simulator,
    t: &Target,
    query: &Query,
    accept: Option<&str>,
) -> Result<Response, ApiError> {
    let want = negotiate(accept, &[Want::Json, Want::Table, Want::Metadata])?;
    let timeout = query
        .non_negative("timeoutSeconds")?
        .map(|s| std::time::Duration::from_secs(s as u64));
    let spec = WatchSpec {
        res: t.res,
        version: t.version.clone(),
        namespace: t.namespace.clone(),
        labels: LabelSelector::parse(query.get("labelSelector").unwrap_or_default())
            .map_err(ApiError::bad_request)?,
        fields: FieldSelector::parse(query.get("fieldSelector").unwrap_or_default(), t.storage)
            .map_err(ApiError::bad_request)?,
        resource_version: query.get("resourceVersion").map(str::to_string),
        bookmarks: query.bool("allowWatchBookmarks")?,
        send_initial: query.bool("sendInitialEvents")?,
        timeout,
        want,
        include: Include::parse(query.get("includeObject")).map_err(ApiError::bad_request)?,
    };
    let rx = watch::start(sim, spec)?;
    let content_type = match want {
        Want::Table => media::TABLE,
        _ => media::JSON,
    };
    Ok(stream_response(rx, content_type))
}

fn logs(sim: &Simulator, t: &Target, name: &str, query: &Query) -> Result<Response, ApiError> {
    let core = sim.core();
    let pod = core
        .store
        .get(PODS, t.ns(), name)
        .cloned()
        .ok_or_else(|| ApiError::not_found("", "pods", name))?;
    let request = LogRequest::parse(query, &pod, core.clock.now())?;
    let text = request.select(core.logs.lines(t.ns(), name));
    if !request.follow {
        return Ok(text_response(StatusCode::OK, text));
    }
    let mut appended = core.logs.subscribe();
    drop(core);
    let (tx, rx) = mpsc::channel::<Chunk>(256);
    let mut kill = sim.kill_signal();
    kill.mark_unchanged();
    let (ns, pod_name) = (t.ns().to_string(), name.to_string());
    tokio::spawn(async move {
        if tx.send(Ok(Bytes::from(text))).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                _ = kill.changed() => {
                    let _ = tx.send(Err(io::Error::new(io::ErrorKind::ConnectionAborted, "stream dropped"))).await;
                    return;
                }
                () = tx.closed() => return,
                got = appended.recv() => match got {
                    Ok(line) if line.namespace == ns && line.pod == pod_name => {
                        if tx.send(Ok(Bytes::from(request.render(&line.line)))).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    Ok(stream_response(rx, "text/plain"))
}

fn json_response(code: StatusCode, value: &Value, content_type: &'static str) -> Response {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes_response(code, Bytes::from(bytes), content_type)
}

fn bytes_response(code: StatusCode, bytes: Bytes, content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text_response(code: StatusCode, text: String) -> Response {
    bytes_response(code, Bytes::from(text), "text/plain")
}

fn stream_response(rx: mpsc::Receiver<Chunk>, content_type: &'static str) -> Response {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    response
}

/// Authentication and RBAC: a request with the ServiceAccount's token is checked against
/// the rules, one without a token is the administrator, one with another token is refused.
fn authorize(sim: &Simulator, req: &Request, target: &str) -> Result<(), ApiError> {
    let Some(rbac) = sim.rbac() else {
        return Ok(());
    };
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        None => return Ok(()),
        Some(token) if token == rbac.token() => {}
        Some(_) => return Err(ApiError::unauthorized()),
    }
    let query = Query::parse(req.uri().query())?;
    let watching = query.bool("watch")?;
    let field_name = query.get("fieldSelector").and_then(|f| {
        f.split(',')
            .find_map(|t| t.trim().strip_prefix("metadata.name="))
    });
    let segments: Vec<String> = req
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_segment)
        .collect::<Result<_, _>>()?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let attributes = Attributes::of(req.method(), &segments, watching, field_name);
    if rbac.allows(&attributes) {
        return Ok(());
    }
    let message = attributes.forbidden_message(&rbac.user());
    sim.core()
        .denied
        .push(format!("{} {target}: {message}", req.method()));
    Err(ApiError::forbidden(&attributes, message))
}

fn error(err: &ApiError) -> Response {
    let code = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(code, &err.to_status(), media::JSON);
    if let Some(secs) = err.retry_after
        && let Ok(value) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let key = ("flux-system".to_string(), "apps".to_string());
        let token = encode_continue(42, &key);
        assert_eq!(decode_continue(&token), Some((42, key)));
        assert_eq!(decode_continue("zz"), None);
        assert_eq!(decode_continue("abc"), None);
    }
}
