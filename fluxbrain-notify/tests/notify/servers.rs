//! Local servers wiremock cannot play: one that streams a body of any length and counts what it
//! managed to write before the client hung up, one that speaks TLS with a certificate nobody
//! trusts, and one that answers a TLS handshake with plain HTTP.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// One MiB.
pub const MIB: u64 = 1 << 20;

/// What the [`StreamServer`] answers to one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A complete answer with its `Content-Length`.
    Full { status: u16, body: Vec<u8> },
    /// `bytes` of body written 64 KiB at a time (never held whole): chunked, or with the
    /// length declared up front when `declared`.
    Stream {
        status: u16,
        bytes: u64,
        declared: bool,
    },
}

/// An HTTP/1.1 server on 127.0.0.1 answering each request by its method and path (without
/// the query); a request no route takes is a 404. One request per connection.
pub struct StreamServer {
    /// `http://127.0.0.1:<port>`.
    pub uri: String,
    requests: Arc<Mutex<Vec<String>>>,
    streamed: watch::Receiver<Vec<u64>>,
}

type Route = dyn Fn(&str, &str) -> Option<Reply> + Send + Sync;

impl StreamServer {
    /// Starts serving; `route(method, path)` picks the answer.
    pub async fn start(
        route: impl Fn(&str, &str) -> Option<Reply> + Send + Sync + 'static,
    ) -> StreamServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (done, streamed) = watch::channel(Vec::new());
        let route: Arc<Route> = Arc::new(route);
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, route.clone(), seen.clone(), done.clone()));
            }
        });
        StreamServer {
            uri,
            requests,
            streamed,
        }
    }

    /// `host:port`, as errors name it.
    pub fn host(&self) -> String {
        self.uri.trim_start_matches("http://").to_owned()
    }

    /// Every request so far, `METHOD /path`, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` streamed answers have ended (the client hung up, or everything was
    /// written) and returns the body bytes each managed to write.
    pub async fn streamed(&self, n: usize) -> Vec<u64> {
        self.streamed
            .clone()
            .wait_for(|ended| ended.len() >= n)
            .await
            .unwrap()
            .clone()
    }
}

async fn serve(
    mut socket: TcpStream,
    route: Arc<Route>,
    requests: Arc<Mutex<Vec<String>>>,
    done: watch::Sender<Vec<u64>>,
) {
    let Some((method, path)) = read_request(&mut socket).await else {
        return;
    };
    requests.lock().unwrap().push(format!("{method} {path}"));
    match route(&method, &path) {
        None => full(&mut socket, 404, b"").await,
        Some(Reply::Full { status, body }) => full(&mut socket, status, &body).await,
        Some(Reply::Stream {
            status,
            bytes,
            declared,
        }) => {
            let written = stream(&mut socket, status, bytes, declared).await;
            done.send_modify(|ended| ended.push(written));
        }
    }
}

/// Reads one request (head and `Content-Length` body); its method and path.
async fn read_request(socket: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = socket.read(&mut piece).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&piece[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?;
    let path = target.split('?').next().unwrap_or(target).to_owned();
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = buf.len() - head_end;
    while body < length {
        let n = socket.read(&mut piece).await.ok()?;
        if n == 0 {
            return None;
        }
        body += n;
    }
    Some((method, path))
}

async fn full(socket: &mut TcpStream, status: u16, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} Answer\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(body).await;
    let _ = socket.shutdown().await;
}

/// Writes `bytes` of body; how many the client took before hanging up.
async fn stream(socket: &mut TcpStream, status: u16, bytes: u64, declared: bool) -> u64 {
    static CHUNK: [u8; 64 * 1024] = [b' '; 64 * 1024];
    let framing = if declared {
        format!("content-length: {bytes}")
    } else {
        "transfer-encoding: chunked".to_owned()
    };
    let head = format!(
        "HTTP/1.1 {status} Answer\r\ncontent-type: application/json\r\n{framing}\r\nconnection: close\r\n\r\n"
    );
    if socket.write_all(head.as_bytes()).await.is_err() {
        return 0;
    }
    let mut written = 0u64;
    while written < bytes {
        let n = usize::try_from(bytes - written).map_or(CHUNK.len(), |left| left.min(CHUNK.len()));
        let sent = if declared {
            socket.write_all(&CHUNK[..n]).await
        } else {
            let mut frame = format!("{n:x}\r\n").into_bytes();
            frame.extend_from_slice(&CHUNK[..n]);
            frame.extend_from_slice(b"\r\n");
            socket.write_all(&frame).await
        };
        if sent.is_err() {
            return written;
        }
        written += n as u64;
    }
    if !declared {
        let _ = socket.write_all(b"0\r\n\r\n").await;
    }
    written
}

/// An HTTPS server on 127.0.0.1 whose certificate is self-signed, made now: a client with the
/// platform's roots must refuse it. Returns `https://127.0.0.1:<port>` and, per connection,
/// whether its handshake completed.
pub fn untrusted_tls_server() -> (String, std::sync::mpsc::Receiver<bool>) {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("https://{}", listener.local_addr().unwrap());
    let (handshakes, completed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(mut socket) = socket else { continue };
            let mut tls = rustls::ServerConnection::new(config.clone()).unwrap();
            while tls.is_handshaking() {
                if tls.complete_io(&mut socket).is_err() {
                    break;
                }
            }
            if handshakes.send(!tls.is_handshaking()).is_err() {
                return;
            }
        }
    });
    (uri, completed)
}

/// A plain HTTP server behind an `https://` URL: to the client's TLS hello it answers `400 Bad
/// Request` in clear text, as any HTTP server would. Returns the URL and, per connection, the
/// first byte it received (`0x16`: a TLS handshake record).
pub async fn plain_http_server() -> (String, tokio::sync::mpsc::UnboundedReceiver<u8>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("https://{}", listener.local_addr().unwrap());
    let (first_bytes, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut hello = [0u8; 4096];
            if let Ok(n) = socket.read(&mut hello).await
                && n > 0
            {
                let _ = first_bytes.send(hello[0]);
            }
            let _ = socket
                .write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            let _ = socket.shutdown().await;
        }
    });
    (uri, received)
}
