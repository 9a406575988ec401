//! Starting servers and calling them.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::common;
use crate::common::echo::v1::echo_service_client::EchoServiceClient;
use crate::common::library::v1::library_service_client::LibraryServiceClient;

/// Which HTTP version a JSON client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http1,
    H2c,
}

pub const BOTH: [Version; 2] = [Version::Http1, Version::H2c];

/// The example server, started on 127.0.0.1:0.
pub async fn start(config: &str, token: Option<&str>) -> SocketAddr {
    let config = dual_protocol::Config::from_toml(config).expect("test config");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let token = token.map(str::to_owned);
    tokio::spawn(async move { common::serve(listener, &config, token).await.unwrap() });
    addr
}

/// The example server with the default configuration.
pub async fn start_default() -> SocketAddr {
    start("", None).await
}

/// Serves any `Service` the way `axum::serve` does.
pub async fn serve_axum(router: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

pub async fn library(addr: SocketAddr) -> LibraryServiceClient<tonic::transport::Channel> {
    LibraryServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

pub async fn echo(addr: SocketAddr) -> EchoServiceClient<tonic::transport::Channel> {
    EchoServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap()
}

/// An HTTP answer: status, headers, body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a JSON error body with this HTTP status and gRPC code; returns it.
    pub fn error(&self, status: u16, code: i64) -> Value {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.headers["content-type"], "application/json", "{self:?}");
        let json = self.json();
        assert_eq!(json["code"], code, "{json}");
        assert!(json["message"].is_string(), "{json}");
        json
    }
}

fn client(version: Version) -> Client<HttpConnector, Full<Bytes>> {
    let mut builder = Client::builder(TokioExecutor::new());
    if version == Version::H2c {
        builder.http2_only(true);
    }
    builder.build_http()
}

/// Sends `request` over `version`.
pub async fn send(version: Version, request: Request<Full<Bytes>>) -> Answer {
    let response = client(version).request(request).await.expect("HTTP call");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("response body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// POSTs `json` to `path` with `content-type: application/json`.
pub async fn post_json(version: Version, addr: SocketAddr, path: &str, json: &str) -> Answer {
    post_with(version, addr, path, json, &[]).await
}

/// POSTs `json` with extra headers.
pub async fn post_with(
    version: Version,
    addr: SocketAddr,
    path: &str,
    json: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request =
        Request::post(format!("http://{addr}{path}")).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(version, request.body(Full::from(json.to_owned())).unwrap()).await
}

/// A streaming HTTP exchange: the request body is fed line by line while
/// the response is read as it arrives.
pub struct Exchange {
    pub status: StatusCode,
    pub headers: HeaderMap,
    body: hyper::body::Incoming,
    buf: Vec<u8>,
    pub trailers: Option<HeaderMap>,
    sender: Option<tokio::sync::mpsc::Sender<Bytes>>,
}

type StreamingBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

/// Opens `request` (its body is fed with [`Exchange::send`]; with `body`
/// given, that is sent and the body closed; `Some("")` is no body at all).
pub async fn exchange(
    version: Version,
    request: http::request::Builder,
    body: Option<&str>,
) -> Exchange {
    let (tx, frames) = body_channel(16);
    // No body at all (a GET): an empty body, ended with the headers.
    let boxed = match body {
        Some("") => BodyExt::boxed(http_body_util::Empty::new()),
        _ => frames,
    };
    let sender = match body {
        Some("") => None,
        Some(body) => {
            tx.send(Bytes::from(body.to_owned())).await.unwrap();
            drop(tx);
            None
        }
        None => Some(tx),
    };
    open(version, request.body(boxed).unwrap(), sender).await
}

/// Sends `chunks` as the request body (fed by a task, so that a server
/// answering only at the end of the body gets it all), then reads the head.
pub async fn upload(
    version: Version,
    request: http::request::Builder,
    chunks: Vec<Vec<u8>>,
) -> Exchange {
    let (tx, frames) = body_channel(4);
    tokio::spawn(async move {
        for chunk in chunks {
            // The server may stop reading once it has answered.
            if tx.send(Bytes::from(chunk)).await.is_err() {
                break;
            }
        }
    });
    open(version, request.body(frames).unwrap(), None).await
}

/// A request body fed through a channel.
fn body_channel(capacity: usize) -> (tokio::sync::mpsc::Sender<Bytes>, StreamingBody) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(capacity);
    let frames =
        tokio_stream::StreamExt::map(tokio_stream::wrappers::ReceiverStream::new(rx), |b| {
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(b))
        });
    (tx, BodyExt::boxed(http_body_util::StreamBody::new(frames)))
}

/// Sends `request` over `version` and reads the head.
async fn open(
    version: Version,
    request: Request<StreamingBody>,
    sender: Option<tokio::sync::mpsc::Sender<Bytes>>,
) -> Exchange {
    let mut builder = Client::builder(TokioExecutor::new());
    if version == Version::H2c {
        builder.http2_only(true);
    }
    let client: Client<HttpConnector, StreamingBody> = builder.build_http();
    let response = client.request(request).await.expect("HTTP call");
    let (parts, body) = response.into_parts();
    Exchange {
        status: parts.status,
        headers: parts.headers,
        body,
        buf: Vec::new(),
        trailers: None,
        sender,
    }
}

impl Exchange {
    /// Sends more of the request body.
    pub async fn send(&mut self, data: &str) {
        let sender = self.sender.as_ref().expect("request body still open");
        sender.send(Bytes::from(data.to_owned())).await.unwrap();
    }

    /// The next data frame of the response; `None` at the end.
    pub async fn next_data(&mut self) -> Option<Bytes> {
        if !self.buf.is_empty() {
            return Some(Bytes::from(std::mem::take(&mut self.buf)));
        }
        while let Some(frame) = self.body.frame().await {
            match frame.expect("response body").into_data() {
                Ok(data) => return Some(data),
                Err(frame) => self.trailers = frame.into_trailers().ok(),
            }
        }
        None
    }

    /// The whole remaining body.
    pub async fn bytes(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(data) = self.next_data().await {
            out.extend_from_slice(&data);
        }
        out
    }

    /// Ends the request body.
    pub fn close(&mut self) {
        self.sender = None;
    }

    /// Reads until `separator` (`"\n"` for NDJSON, `"\n\n"` for SSE); `None`
    /// at the end of the body (any trailers are then in `trailers`).
    pub async fn next_chunk(&mut self, separator: &str) -> Option<String> {
        let sep = separator.as_bytes();
        loop {
            if let Some(at) = self.buf.windows(sep.len()).position(|w| w == sep) {
                let chunk: Vec<u8> = self.buf.drain(..at + sep.len()).collect();
                return Some(String::from_utf8(chunk[..at].to_vec()).unwrap());
            }
            match self.body.frame().await {
                Some(frame) => {
                    let frame = frame.expect("response body");
                    match frame.into_data() {
                        Ok(data) => self.buf.extend_from_slice(&data),
                        Err(frame) => self.trailers = frame.into_trailers().ok(),
                    }
                }
                None => {
                    assert!(
                        self.buf.is_empty(),
                        "unterminated chunk {:?}",
                        String::from_utf8_lossy(&self.buf)
                    );
                    return None;
                }
            }
        }
    }

    /// The next NDJSON line, parsed.
    pub async fn next_line(&mut self) -> Option<Value> {
        let line = self.next_chunk("\n").await?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("line {line:?}: {e}")))
    }

    /// Every remaining NDJSON line.
    pub async fn lines(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(line) = self.next_line().await {
            out.push(line);
        }
        out
    }

    /// The whole remaining body as text.
    pub async fn text(mut self) -> String {
        let mut out = std::mem::take(&mut self.buf);
        while let Some(frame) = self.body.frame().await {
            if let Ok(data) = frame.expect("response body").into_data() {
                out.extend_from_slice(&data);
            }
        }
        String::from_utf8(out).unwrap()
    }
}
