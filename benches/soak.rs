//! A mixed soak: every kind of call at once against ONE example server,
//! for a bounded time, checking every answer.
//!
//! `cargo bench --bench soak` runs 10 minutes; `SOAK_SECS=N` changes that
//! (CI runs `SOAK_SECS=20`). Loopback only.
//!
//! The server is the example's (`examples/common`: `serve_with`, the
//! default `serve::Limits`, `max_request_bytes` lowered to 16 KiB so that
//! over-limit bodies stay cheap) in a child process: this binary again, with
//! `SOAK_SERVER_CHILD` set, on a tokio runtime with one worker thread. Its
//! VmRSS is thus its own. It prints its address on stdout, then answers each
//! `tasks` line on its stdin with its runtime's alive task count
//! (`RuntimeMetrics::num_alive_tasks`) and the example's live `EchoStream` /
//! `EchoChat` streams (`common::live_streams`); closing its stdin shuts it
//! down gracefully.
//!
//! The load: for each kind below a fixed number of workers, each a closed
//! loop (one call, its answer checked, the next call), on a client runtime
//! with one worker thread; no other spawning. Clients: tonic's generated
//! clients over one `Channel` for gRPC, hyper-util's legacy `Client` (one
//! HTTP/1.1 pool, one h2c client) for everything else, as the tests use.
//! Each call is checked against what it must get (status, content type,
//! gRPC or JSON code, body shape and content); anything else, or no answer
//! within 10 s, is an unexpected error, counted per kind, the first few
//! printed with the request and the answer. Cancelled calls count as ok when
//! what was read before dropping them was right (and a unary call dropped
//! after 30 ms must not have been answered by then).
//!
//! Printed: the server's VmRSS, task count and live streams every 30 s (5 s
//! in runs under 2 minutes); then per kind: workers, requests, ok, expected
//! errors, unexpected errors, requests/s; the task count at the end of the
//! load and 2 s after it stopped (its connections closed), which must be
//! back to the baseline measured before the load within `TASK_TOLERANCE`.
//! The bench exits non-zero on any unexpected error, on tasks or streams
//! not back to baseline, or if the server does not exit cleanly.
//!
//! `SOAK_ONLY="JSON bad input,REST routes"` runs only the kinds named.
//! Requests the server answers before reading their whole body (bad
//! inputs, a deadline ending a chat) go on connections of their own, as a
//! misbehaving client's would; `SOAK_SHARED_BAD=1` sends them on the shared
//! connections instead, which shows two findings of this soak (README
//! "Soak").

#[path = "../examples/common/mod.rs"]
mod common;

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

use common::echo::v1::echo_service_client::EchoServiceClient;
use common::echo::v1::{EchoRequest, EchoResponse};
use common::library::v1::library_service_client::LibraryServiceClient;
use common::library::v1::{GetBookRequest, ListShelvesRequest};

const CHILD_ENV: &str = "SOAK_SERVER_CHILD";
/// The server's `max_request_bytes`.
const MAX_BODY: usize = 16 * 1024;
/// A call with no answer within this is an unexpected error.
const CALL_LIMIT: Duration = Duration::from_secs(10);
/// Alive server tasks allowed above the baseline 2 s after the load.
const TASK_TOLERANCE: usize = 2;
/// Unexpected errors printed in full (the rest are counted).
const SHOWN_ERRORS: usize = 10;

const ECHO: &str = "/echo.v1.EchoService/Echo";
const ECHO_STREAM: &str = "/echo.v1.EchoService/EchoStream";
const CHAT: &str = "/echo.v1.EchoService/EchoChat";
const GET_BOOK: &str = "/library.v1.LibraryService/GetBook";
const LIST_BOOKS: &str = "/library.v1.LibraryService/ListBooks";
const CREATE_BOOK: &str = "/library.v1.LibraryService/CreateBook";
const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";
const SSE: &str = "text/event-stream";

// ------------------------------------------------------------------ kinds --

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    GrpcUnary,
    GrpcServerStream,
    GrpcClientBidi,
    GrpcCancel,
    GrpcDeadline,
    GrpcBad,
    JsonH1,
    JsonH2c,
    Rest,
    NdjsonStream,
    SseStream,
    NdjsonClientBidi,
    JsonCancel,
    JsonDeadline,
    BadInput,
}

const KINDS: [Kind; 15] = [
    Kind::GrpcUnary,
    Kind::GrpcServerStream,
    Kind::GrpcClientBidi,
    Kind::GrpcCancel,
    Kind::GrpcDeadline,
    Kind::GrpcBad,
    Kind::JsonH1,
    Kind::JsonH2c,
    Kind::Rest,
    Kind::NdjsonStream,
    Kind::SseStream,
    Kind::NdjsonClientBidi,
    Kind::JsonCancel,
    Kind::JsonDeadline,
    Kind::BadInput,
];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::GrpcUnary => "gRPC unary",
            Kind::GrpcServerStream => "gRPC server stream",
            Kind::GrpcClientBidi => "gRPC client/bidi stream",
            Kind::GrpcCancel => "gRPC cancel",
            Kind::GrpcDeadline => "gRPC deadline",
            Kind::GrpcBad => "gRPC bad input",
            Kind::JsonH1 => "JSON RPC path h1",
            Kind::JsonH2c => "JSON RPC path h2c",
            Kind::Rest => "REST routes",
            Kind::NdjsonStream => "NDJSON server stream",
            Kind::SseStream => "SSE server stream",
            Kind::NdjsonClientBidi => "NDJSON client/bidi",
            Kind::JsonCancel => "JSON cancel",
            Kind::JsonDeadline => "JSON deadline",
            Kind::BadInput => "JSON bad input",
        }
    }

    /// Closed-loop workers of this kind (none when `SOAK_ONLY`, a
    /// comma-separated list of kind names, leaves it out).
    fn workers(self) -> usize {
        if let Ok(only) = std::env::var("SOAK_ONLY")
            && !only.split(',').any(|name| name.trim() == self.name())
        {
            return 0;
        }
        match self {
            Kind::GrpcUnary | Kind::JsonH1 | Kind::JsonH2c | Kind::Rest | Kind::BadInput => 3,
            _ => 2,
        }
    }
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    ok: AtomicU64,
    expected: AtomicU64,
    unexpected: AtomicU64,
}

static TALLIES: [Tally; KINDS.len()] = [const {
    Tally {
        requests: AtomicU64::new(0),
        ok: AtomicU64::new(0),
        expected: AtomicU64::new(0),
        unexpected: AtomicU64::new(0),
    }
}; KINDS.len()];

static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// What a checked call got, when it got what it must.
enum Outcome {
    /// A normal answer (or, for a cancellation, a correct start).
    Ok,
    /// The error this request must get.
    Expected,
}

type Checked = Result<Outcome, String>;

fn record(kind: Kind, result: Checked) {
    let tally = &TALLIES[kind as usize];
    tally.requests.fetch_add(1, Ordering::Relaxed);
    match result {
        Ok(Outcome::Ok) => tally.ok.fetch_add(1, Ordering::Relaxed),
        Ok(Outcome::Expected) => tally.expected.fetch_add(1, Ordering::Relaxed),
        Err(error) => {
            let mut errors = ERRORS.lock().unwrap();
            if errors.len() < SHOWN_ERRORS {
                eprintln!("UNEXPECTED [{}] {error}", kind.name());
                errors.push(format!("[{}] {error}", kind.name()));
            }
            tally.unexpected.fetch_add(1, Ordering::Relaxed)
        }
    };
}

// ----------------------------------------------------------------- client --

type Body = BoxBody<Bytes, Infallible>;
type HttpClient = Client<HttpConnector, Body>;

/// Everything the workers share; dropped after the load, which closes
/// every connection.
struct Ctx {
    addr: SocketAddr,
    h1: HttpClient,
    h2c: HttpClient,
    channel: Channel,
}

fn http_client(h2c: bool) -> HttpClient {
    let mut builder = Client::builder(TokioExecutor::new());
    // Below the server's 30 s header-read timeout, so that the pool never
    // picks a connection the server is about to close.
    builder.pool_idle_timeout(Duration::from_secs(10));
    if h2c {
        builder.http2_only(true);
    }
    builder.build_http()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    H1,
    H2c,
}

impl Version {
    /// Alternates with each round of `variants` variants.
    fn of(i: u64, variants: u64) -> Self {
        if (i / variants).is_multiple_of(2) {
            Version::H1
        } else {
            Version::H2c
        }
    }

    fn name(self) -> &'static str {
        match self {
            Version::H1 => "h1",
            Version::H2c => "h2c",
        }
    }
}

impl Ctx {
    fn client(&self, version: Version) -> &HttpClient {
        match version {
            Version::H1 => &self.h1,
            Version::H2c => &self.h2c,
        }
    }

    fn echo(&self) -> EchoServiceClient<Channel> {
        EchoServiceClient::new(self.channel.clone())
    }

    fn library(&self) -> LibraryServiceClient<Channel> {
        LibraryServiceClient::new(self.channel.clone())
    }

    fn request(&self, method: &str, path: &str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
    }
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

fn empty() -> Body {
    Empty::new().boxed()
}

/// A request body fed line by line through the returned sender.
fn channel_body() -> (mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let frames = ReceiverStream::new(rx).map(|b| Ok(http_body::Frame::data(b)));
    (tx, StreamBody::new(frames).boxed())
}

/// A whole HTTP answer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn show(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(300).collect();
        format!(
            "{} content-type {:?} body {body:?}",
            self.status,
            self.headers.get(CONTENT_TYPE)
        )
    }
}

/// `METHOD uri (version)` of a request, for error messages.
fn describe(request: &Request<Body>, version: Version) -> String {
    format!(
        "{} {} ({}{})",
        request.method(),
        request.uri(),
        version.name(),
        request
            .headers()
            .iter()
            .map(|(k, v)| format!(", {k}: {}", String::from_utf8_lossy(v.as_bytes())))
            .collect::<String>()
    )
}

async fn send(ctx: &Ctx, version: Version, request: Request<Body>) -> Result<Answer, String> {
    let described = describe(&request, version);
    let response = ctx
        .client(version)
        .request(request)
        .await
        .map_err(|e| format!("{described}: request failed: {e:?}"))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("{described}: {} then the body failed: {e:?}", parts.status))?
        .to_bytes();
    Ok(Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// `POST path` with a JSON body and extra headers, whole.
async fn post(
    ctx: &Ctx,
    version: Version,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    let mut request = ctx.request("POST", path).header(CONTENT_TYPE, JSON);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(ctx, version, request.body(full(body.to_owned())).unwrap()).await
}

fn content_type_is(headers: &HeaderMap, expected: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next() == Some(expected))
}

/// A 200 JSON answer, parsed.
fn ok_json(what: &str, answer: &Answer) -> Result<Value, String> {
    if answer.status != StatusCode::OK || !content_type_is(&answer.headers, JSON) {
        return Err(format!("{what}: want 200 JSON, got {}", answer.show()));
    }
    serde_json::from_slice(&answer.body)
        .map_err(|e| format!("{what}: body is not JSON ({e}): {}", answer.show()))
}

/// A JSON error with this HTTP status and gRPC code.
fn json_error(what: &str, answer: &Answer, status: u16, code: i64) -> Checked {
    let json: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let fine = answer.status.as_u16() == status
        && content_type_is(&answer.headers, JSON)
        && json
            .as_ref()
            .is_some_and(|j| j["code"].as_i64() == Some(code) && j["message"].is_string());
    if fine {
        Ok(Outcome::Expected)
    } else {
        Err(format!(
            "{what}: want {status} with code {code}, got {}",
            answer.show()
        ))
    }
}

fn want(what: &str, fine: bool, got: impl std::fmt::Display) -> Result<(), String> {
    if fine {
        Ok(())
    } else {
        Err(format!("{what}: got {got}"))
    }
}

/// A response read as it arrives.
struct Reader {
    status: StatusCode,
    headers: HeaderMap,
    body: hyper::body::Incoming,
    buf: Vec<u8>,
    trailers: Option<HeaderMap>,
}

async fn open(ctx: &Ctx, version: Version, request: Request<Body>) -> Result<Reader, String> {
    let described = describe(&request, version);
    let response = ctx
        .client(version)
        .request(request)
        .await
        .map_err(|e| format!("{described}: request failed: {e:?}"))?;
    let (parts, body) = response.into_parts();
    Ok(Reader {
        status: parts.status,
        headers: parts.headers,
        body,
        buf: Vec::new(),
        trailers: None,
    })
}

impl Reader {
    /// The text up to the next `separator`; `None` at the end of the body.
    async fn next_chunk(&mut self, separator: &str) -> Result<Option<String>, String> {
        let sep = separator.as_bytes();
        loop {
            if let Some(at) = self.buf.windows(sep.len()).position(|w| w == sep) {
                let chunk: Vec<u8> = self.buf.drain(..at + sep.len()).collect();
                return String::from_utf8(chunk[..at].to_vec())
                    .map(Some)
                    .map_err(|e| format!("not UTF-8: {e}"));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buf.extend_from_slice(&data),
                    Err(frame) => self.trailers = frame.into_trailers().ok(),
                },
                Some(Err(e)) => return Err(format!("body failed: {e:?}")),
                None if self.buf.is_empty() => return Ok(None),
                None => {
                    return Err(format!(
                        "body ends in an unterminated chunk {:?}",
                        String::from_utf8_lossy(&self.buf)
                    ));
                }
            }
        }
    }

    /// The next NDJSON line, parsed.
    async fn next_line(&mut self) -> Result<Option<Value>, String> {
        match self.next_chunk("\n").await? {
            None => Ok(None),
            Some(line) => serde_json::from_str(&line)
                .map(Some)
                .map_err(|e| format!("line {line:?} is not JSON: {e}")),
        }
    }

    /// The next SSE event's `(event name, data)`.
    async fn next_event(&mut self) -> Result<Option<(String, Value)>, String> {
        let Some(event) = self.next_chunk("\n\n").await? else {
            return Ok(None);
        };
        let (name, data) = match event.strip_prefix("event: ") {
            Some(rest) => match rest.split_once('\n') {
                Some((name, data)) => (name.to_owned(), data),
                None => return Err(format!("event {event:?} has no data")),
            },
            None => ("message".to_owned(), event.as_str()),
        };
        let data = data
            .strip_prefix("data: ")
            .ok_or_else(|| format!("event {event:?} has no data line"))?;
        serde_json::from_str(data)
            .map(|data| Some((name, data)))
            .map_err(|e| format!("event data {data:?} is not JSON: {e}"))
    }

    fn head(&self) -> String {
        format!(
            "{} content-type {:?}",
            self.status,
            self.headers.get(CONTENT_TYPE)
        )
    }

    fn check_head(&self, what: &str, content_type: &str) -> Result<(), String> {
        want(
            what,
            self.status == StatusCode::OK && content_type_is(&self.headers, content_type),
            format!("{} (want 200 {content_type})", self.head()),
        )
    }

    /// The rest of the body, as text, for error messages.
    async fn rest(mut self) -> String {
        let mut out = std::mem::take(&mut self.buf);
        while let Some(Ok(frame)) = self.body.frame().await {
            if let Ok(data) = frame.into_data() {
                out.extend_from_slice(&data);
            }
        }
        String::from_utf8_lossy(&out).chars().take(300).collect()
    }
}

fn duration_json(millis: u64) -> String {
    format!("{}.{:03}s", millis / 1000, millis % 1000)
}

fn duration(millis: u64) -> dual_protocol::types::Duration {
    dual_protocol::types::Duration {
        seconds: (millis / 1000) as i64,
        nanos: (millis % 1000) as i32 * 1_000_000,
    }
}

fn status_text(status: &tonic::Status) -> String {
    format!("{:?} {:?}", status.code(), status.message())
}

/// A small deterministic payload, different per call.
fn payload(i: u64) -> Vec<u8> {
    (0..48)
        .map(|k| (i as u8).wrapping_mul(31).wrapping_add(k))
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// ------------------------------------------------------------------- gRPC --

fn check_echo(what: &str, answer: &EchoResponse, message: &str, index: i32) -> Result<(), String> {
    want(
        what,
        answer.message == message && answer.index == index,
        format!(
            "message {:?} index {} (want {message:?} index {index})",
            answer.message, answer.index
        ),
    )
}

async fn grpc_unary(ctx: &Ctx, i: u64) -> Checked {
    match i % 4 {
        0 => {
            let message = format!("grpc {i}");
            let answer = ctx
                .echo()
                .echo(EchoRequest {
                    message: message.clone(),
                    payload: payload(i),
                    ..Default::default()
                })
                .await
                .map_err(|s| format!("Echo: {}", status_text(&s)))?
                .into_inner();
            check_echo("Echo", &answer, &message, 0)?;
            want(
                "Echo payload",
                answer.payload == payload(i),
                "another payload",
            )?;
        }
        1 => {
            let book = ctx
                .library()
                .get_book(GetBookRequest {
                    name: "shelves/1/books/2".into(),
                })
                .await
                .map_err(|s| format!("GetBook: {}", status_text(&s)))?
                .into_inner();
            want("GetBook", book.title == "Kindred", format!("{book:?}"))?;
        }
        2 => {
            let shelves = ctx
                .library()
                .list_shelves(ListShelvesRequest::default())
                .await
                .map_err(|s| format!("ListShelves: {}", status_text(&s)))?
                .into_inner();
            want(
                "ListShelves",
                shelves.shelves.len() == 2,
                format!("{shelves:?}"),
            )?;
        }
        _ => {
            // An error the handler returns: FAILED_PRECONDITION with the message.
            let status = ctx
                .echo()
                .echo(EchoRequest {
                    message: "failed on purpose".into(),
                    fail_code: Code::FailedPrecondition as i32,
                    ..Default::default()
                })
                .await
                .err()
                .ok_or("Echo failCode 9: answered OK")?;
            want(
                "Echo failCode 9",
                status.code() == Code::FailedPrecondition
                    && status.message() == "failed on purpose",
                status_text(&status),
            )?;
            return Ok(Outcome::Expected);
        }
    }
    Ok(Outcome::Ok)
}

async fn grpc_server_stream(ctx: &Ctx, i: u64) -> Checked {
    let message = format!("stream {i}");
    let mut stream = ctx
        .echo()
        .echo_stream(EchoRequest {
            message: message.clone(),
            repeat: 20,
            ..Default::default()
        })
        .await
        .map_err(|s| format!("EchoStream: {}", status_text(&s)))?
        .into_inner();
    let mut index = 0;
    while let Some(answer) = stream
        .message()
        .await
        .map_err(|s| format!("EchoStream after {index}: {}", status_text(&s)))?
    {
        check_echo("EchoStream", &answer, &message, index)?;
        index += 1;
    }
    want("EchoStream answers", index == 20, index)?;
    Ok(Outcome::Ok)
}

/// Bidi (one answer read before the next request is sent) or client
/// stream (every request sent at once).
async fn grpc_client_bidi(ctx: &Ctx, i: u64) -> Checked {
    let interactive = i.is_multiple_of(2);
    let request = |k: i32| EchoRequest {
        message: format!("chat {i} {k}"),
        ..Default::default()
    };
    let (tx, rx) = mpsc::channel(8);
    tx.send(request(0)).await.unwrap();
    if !interactive {
        for k in 1..5 {
            tx.send(request(k)).await.unwrap();
        }
    }
    let mut answers = ctx
        .echo()
        .echo_chat(ReceiverStream::new(rx))
        .await
        .map_err(|s| format!("EchoChat: {}", status_text(&s)))?
        .into_inner();
    let mut tx = Some(tx);
    for k in 0..5 {
        if interactive && k > 0 {
            tx.as_ref().unwrap().send(request(k)).await.unwrap();
        }
        if k == 4 {
            tx = None;
        }
        let answer = answers
            .message()
            .await
            .map_err(|s| format!("EchoChat answer {k}: {}", status_text(&s)))?
            .ok_or_else(|| format!("EchoChat: ended after {k} answers"))?;
        check_echo("EchoChat", &answer, &format!("chat {i} {k}"), k)?;
    }
    drop(tx);
    let end = answers
        .message()
        .await
        .map_err(|s| format!("EchoChat end: {}", status_text(&s)))?;
    want("EchoChat end", end.is_none(), "a sixth answer")?;
    Ok(Outcome::Ok)
}

/// Calls dropped mid-stream and mid-unary.
async fn grpc_cancel(ctx: &Ctx, i: u64) -> Checked {
    match i % 3 {
        0 => {
            let mut stream = ctx
                .echo()
                .echo_stream(EchoRequest {
                    message: "cancel".into(),
                    repeat: 1000,
                    delay: Some(duration(5)),
                    ..Default::default()
                })
                .await
                .map_err(|s| format!("EchoStream: {}", status_text(&s)))?
                .into_inner();
            for index in 0..3 {
                let answer = stream
                    .message()
                    .await
                    .map_err(|s| format!("EchoStream: {}", status_text(&s)))?
                    .ok_or("EchoStream ended early")?;
                check_echo("EchoStream", &answer, "cancel", index)?;
            }
            // Dropped with 997 answers to go.
        }
        1 => {
            let mut echo = ctx.echo();
            let call = echo.echo(EchoRequest {
                message: "never answered".into(),
                delay: Some(duration(2000)),
                ..Default::default()
            });
            if let Ok(answer) = tokio::time::timeout(Duration::from_millis(30), call).await {
                return Err(format!(
                    "Echo with a 2 s delay answered within 30 ms: {answer:?}"
                ));
            }
        }
        _ => {
            let (tx, rx) = mpsc::channel(2);
            tx.send(EchoRequest {
                message: "half".into(),
                ..Default::default()
            })
            .await
            .unwrap();
            let mut answers = ctx
                .echo()
                .echo_chat(ReceiverStream::new(rx))
                .await
                .map_err(|s| format!("EchoChat: {}", status_text(&s)))?
                .into_inner();
            let answer = answers
                .message()
                .await
                .map_err(|s| format!("EchoChat: {}", status_text(&s)))?
                .ok_or("EchoChat ended early")?;
            check_echo("EchoChat", &answer, "half", 0)?;
            // Dropped with the request stream still open.
        }
    }
    Ok(Outcome::Ok)
}

/// `grpc-timeout` shorter than `delay` on a unary call. The example server
/// (hyper, not tonic's `Server`) leaves a native gRPC call's deadline to the
/// client; tonic's client ends the call as CANCELLED "Timeout expired" (its
/// own timer), a server that enforced it would say DEADLINE_EXCEEDED: either
/// is right. (tonic's client timer covers the response head only, so a
/// native server stream's deadline is enforced by no one here: not soaked.)
async fn grpc_deadline(ctx: &Ctx, i: u64) -> Checked {
    let mut request = tonic::Request::new(EchoRequest {
        message: format!("late {i}"),
        delay: Some(duration(300)),
        ..Default::default()
    });
    request.set_timeout(Duration::from_millis(50));
    let status = match ctx.echo().echo(request).await {
        Ok(answer) => return Err(format!("Echo with a 50 ms deadline answered {answer:?}")),
        Err(status) => status,
    };
    let fine = status.code() == Code::DeadlineExceeded
        || (status.code() == Code::Cancelled && status.message() == "Timeout expired");
    want(
        "Echo delay 300 ms, grpc-timeout 50 ms",
        fine,
        status_text(&status),
    )?;
    Ok(Outcome::Expected)
}

async fn grpc_bad(ctx: &Ctx, i: u64) -> Checked {
    let (what, want_code, status) = match i % 4 {
        0 => {
            let mut grpc = tonic::client::Grpc::new(ctx.channel.clone());
            grpc.ready()
                .await
                .map_err(|e| format!("channel not ready: {e:?}"))?;
            let answer: Result<tonic::Response<EchoResponse>, tonic::Status> = grpc
                .unary(
                    tonic::Request::new(EchoRequest::default()),
                    http::uri::PathAndQuery::from_static("/echo.v1.EchoService/Nope"),
                    tonic_prost::ProstCodec::default(),
                )
                .await;
            ("unknown method", Code::Unimplemented, answer.err())
        }
        1 => {
            // The 11-byte request that once killed the server.
            let answer = ctx
                .echo()
                .echo_stream(EchoRequest {
                    repeat: i32::MAX,
                    ..Default::default()
                })
                .await;
            (
                "EchoStream repeat i32::MAX",
                Code::InvalidArgument,
                answer.err(),
            )
        }
        2 => {
            let answer = ctx
                .echo()
                .echo(EchoRequest {
                    response_headers: [("grpc-status".to_owned(), "0".to_owned())].into(),
                    ..Default::default()
                })
                .await;
            (
                "Echo reserved response header",
                Code::InvalidArgument,
                answer.err(),
            )
        }
        _ => {
            let answer = ctx
                .library()
                .get_book(GetBookRequest {
                    name: "shelves/1/books/404".into(),
                })
                .await;
            ("GetBook missing", Code::NotFound, answer.err())
        }
    };
    let status = status.ok_or_else(|| format!("{what}: answered OK"))?;
    want(what, status.code() == want_code, status_text(&status))?;
    Ok(Outcome::Expected)
}

// ------------------------------------------------------------------- JSON --

async fn json_unary(ctx: &Ctx, i: u64, version: Version) -> Checked {
    let v = version.name();
    match i % 4 {
        0 => {
            let message = format!("json {i}");
            let body = json!({
                "message": message,
                "payload": b64(&payload(i)),
                "responseHeaders": {"x-soak": "yes"},
            })
            .to_string();
            let answer = post(ctx, version, ECHO, &body, &[]).await?;
            let what = format!("POST {v} {ECHO} {body}");
            let json = ok_json(&what, &answer)?;
            want(
                &what,
                json["message"] == message.as_str()
                    && json["payload"] == b64(&payload(i)).as_str()
                    && answer.headers.get("x-soak").is_some_and(|h| h == "yes"),
                answer.show(),
            )?;
        }
        1 => {
            let body = r#"{"name":"shelves/1/books/1"}"#;
            let answer = post(ctx, version, GET_BOOK, body, &[]).await?;
            let what = format!("POST {v} {GET_BOOK} {body}");
            let json = ok_json(&what, &answer)?;
            want(
                &what,
                json["title"] == "The Left Hand of Darkness" && json["pageCount"] == "304",
                answer.show(),
            )?;
        }
        2 => {
            let body = r#"{"parent":"shelves/1","pageSize":1}"#;
            let answer = post(ctx, version, LIST_BOOKS, body, &[]).await?;
            let what = format!("POST {v} {LIST_BOOKS} {body}");
            let json = ok_json(&what, &answer)?;
            want(
                &what,
                json["books"].as_array().is_some_and(|b| b.len() == 1)
                    && json["nextPageToken"] == "1",
                answer.show(),
            )?;
        }
        _ => {
            let body = r#"{"message":"failed on purpose","failCode":5}"#;
            let answer = post(ctx, version, ECHO, body, &[]).await?;
            return json_error(&format!("POST {v} {ECHO} {body}"), &answer, 404, 5);
        }
    }
    Ok(Outcome::Ok)
}

/// Per worker: the book a REST create made, for the next step to delete.
#[derive(Default)]
struct WorkerState {
    created: Option<String>,
}

async fn rest(ctx: &Ctx, i: u64, state: &mut WorkerState) -> Checked {
    let version = Version::of(i, 7);
    let v = version.name();
    let get = |path: &str| ctx.request("GET", path).body(empty()).unwrap();
    match i % 7 {
        0 => {
            let path = "/v1/shelves/1/books/1";
            let answer = send(ctx, version, get(path)).await?;
            let json = ok_json(&format!("GET {v} {path}"), &answer)?;
            want(
                &format!("GET {v} {path}"),
                json["name"] == "shelves/1/books/1" && json["tags"] == json!(["classic", "hugo"]),
                answer.show(),
            )?;
        }
        1 => {
            let path = "/v1/shelves";
            let answer = send(ctx, version, get(path)).await?;
            let json = ok_json(&format!("GET {v} {path}"), &answer)?;
            want(
                &format!("GET {v} {path}"),
                json["shelves"].as_array().is_some_and(|s| s.len() == 2),
                answer.show(),
            )?;
        }
        2 => {
            let path = "/v1/shelves/1/books?pageSize=1&pageToken=1";
            let answer = send(ctx, version, get(path)).await?;
            let json = ok_json(&format!("GET {v} {path}"), &answer)?;
            want(
                &format!("GET {v} {path}"),
                json["books"][0]["name"] == "shelves/1/books/2"
                    && json.get("nextPageToken").is_none(),
                answer.show(),
            )?;
        }
        3 => {
            let body = format!(r#"{{"message":"rest {i}"}}"#);
            let answer = post(ctx, version, "/v1/echo", &body, &[]).await?;
            let what = format!("POST {v} /v1/echo {body}");
            let json = ok_json(&what, &answer)?;
            want(&what, json["message"] == format!("rest {i}"), answer.show())?;
        }
        4 => {
            let body = r#"{"title":"Soak","author":"Bench","pageCount":"12"}"#;
            let answer = post(ctx, version, "/v1/shelves/2/books", body, &[]).await?;
            let what = format!("POST {v} /v1/shelves/2/books {body}");
            let json = ok_json(&what, &answer)?;
            let name = json["name"].as_str().unwrap_or_default().to_owned();
            want(
                &what,
                name.starts_with("shelves/2/books/") && json["pageCount"] == "12",
                answer.show(),
            )?;
            state.created = Some(name);
        }
        5 => {
            let Some(name) = state.created.take() else {
                return Ok(Outcome::Ok);
            };
            let path = format!("/v1/{name}");
            let request = ctx.request("DELETE", &path).body(empty()).unwrap();
            let answer = send(ctx, version, request).await?;
            let json = ok_json(&format!("DELETE {v} {path}"), &answer)?;
            want(
                &format!("DELETE {v} {path}"),
                json == json!({}),
                answer.show(),
            )?;
        }
        _ => {
            let path = "/v1/shelves/1/books/404";
            let answer = send(ctx, version, get(path)).await?;
            return json_error(&format!("GET {v} {path}"), &answer, 404, 5);
        }
    }
    Ok(Outcome::Ok)
}

/// Checks NDJSON answers of `EchoStream`/`EchoChat` to `message`.
fn check_line(what: &str, line: &Value, message: &str, index: i64) -> Result<(), String> {
    let got_index = line["index"].as_i64().unwrap_or(0);
    want(
        what,
        line["message"] == message && got_index == index && line.get("error").is_none(),
        format!("line {line} (want message {message:?} index {index})"),
    )
}

async fn ndjson_stream(ctx: &Ctx, i: u64) -> Checked {
    let version = Version::of(i, 3);
    let v = version.name();
    match i % 3 {
        0 | 1 => {
            let path = if i.is_multiple_of(3) {
                ECHO_STREAM
            } else {
                "/v1/echo:stream"
            };
            let message = format!("ndjson {i}");
            let body = format!(r#"{{"message":"{message}","repeat":20}}"#);
            let what = format!("POST {v} {path} {body}");
            let request = ctx
                .request("POST", path)
                .header(CONTENT_TYPE, JSON)
                .body(full(body))
                .unwrap();
            let mut reader = open(ctx, version, request).await?;
            reader.check_head(&what, NDJSON)?;
            for index in 0..20 {
                let line = reader
                    .next_line()
                    .await
                    .map_err(|e| format!("{what}: {e}"))?
                    .ok_or_else(|| format!("{what}: ended after {index} lines"))?;
                check_line(&what, &line, &message, index)?;
            }
            let end = reader
                .next_line()
                .await
                .map_err(|e| format!("{what}: {e}"))?;
            want(&what, end.is_none(), format!("a 21st line {end:?}"))?;
        }
        _ => {
            let path = "/v1/shelves/1:watch";
            let what = format!("GET {v} {path} accept {NDJSON}");
            let request = ctx
                .request("GET", path)
                .header(ACCEPT, NDJSON)
                .body(empty())
                .unwrap();
            let mut reader = open(ctx, version, request).await?;
            reader.check_head(&what, NDJSON)?;
            let mut names = Vec::new();
            while let Some(line) = reader
                .next_line()
                .await
                .map_err(|e| format!("{what}: {e}"))?
            {
                want(&what, line["kind"] == "KIND_CREATED", &line)?;
                names.push(line["book"]["name"].as_str().unwrap_or_default().to_owned());
            }
            want(
                &what,
                names == ["shelves/1/books/1", "shelves/1/books/2"],
                format!("{names:?}"),
            )?;
        }
    }
    Ok(Outcome::Ok)
}

async fn sse_stream(ctx: &Ctx, i: u64) -> Checked {
    let version = Version::of(i, 2);
    let v = version.name();
    if i.is_multiple_of(2) {
        let path = "/v1/shelves/1:watch";
        let what = format!("GET {v} {path} accept {SSE}");
        let request = ctx
            .request("GET", path)
            .header(ACCEPT, SSE)
            .body(empty())
            .unwrap();
        let mut reader = open(ctx, version, request).await?;
        reader.check_head(&what, SSE)?;
        let mut names = Vec::new();
        while let Some((event, data)) = reader
            .next_event()
            .await
            .map_err(|e| format!("{what}: {e}"))?
        {
            want(
                &what,
                event == "message" && data["kind"] == "KIND_CREATED",
                &data,
            )?;
            names.push(data["book"]["name"].as_str().unwrap_or_default().to_owned());
        }
        want(
            &what,
            names == ["shelves/1/books/1", "shelves/1/books/2"],
            format!("{names:?}"),
        )?;
    } else {
        let message = format!("sse {i}");
        let body = format!(r#"{{"message":"{message}","repeat":10}}"#);
        let what = format!("POST {v} {ECHO_STREAM} accept {SSE} {body}");
        let request = ctx
            .request("POST", ECHO_STREAM)
            .header(CONTENT_TYPE, JSON)
            .header(ACCEPT, SSE)
            .body(full(body))
            .unwrap();
        let mut reader = open(ctx, version, request).await?;
        reader.check_head(&what, SSE)?;
        let mut index = 0;
        while let Some((event, data)) = reader
            .next_event()
            .await
            .map_err(|e| format!("{what}: {e}"))?
        {
            want(&what, event == "message", &data)?;
            check_line(&what, &data, &message, index)?;
            index += 1;
        }
        want(&what, index == 10, format!("{index} events"))?;
    }
    Ok(Outcome::Ok)
}

/// Full-duplex chat over h2c (each answer read before the next line is
/// sent), or a client stream (every line sent, the body closed, then the
/// answers read) over HTTP/1.1 or h2c.
async fn ndjson_client_bidi(ctx: &Ctx, i: u64) -> Checked {
    let line = |k: i64| Bytes::from(format!("{{\"message\":\"chat {i} {k}\"}}\n"));
    if i.is_multiple_of(2) {
        let what = format!("POST h2c {CHAT} {NDJSON} full duplex");
        let (tx, body) = channel_body();
        tx.send(line(0)).await.unwrap();
        let request = ctx
            .request("POST", CHAT)
            .header(CONTENT_TYPE, NDJSON)
            .body(body)
            .unwrap();
        let mut reader = open(ctx, Version::H2c, request).await?;
        reader.check_head(&what, NDJSON)?;
        let mut tx = Some(tx);
        for k in 0..5 {
            if k > 0 {
                let sent = tx.as_ref().unwrap().send(line(k)).await;
                want(&what, sent.is_ok(), "the request body closed")?;
            }
            if k == 4 {
                tx = None;
            }
            let got = reader
                .next_line()
                .await
                .map_err(|e| format!("{what}: {e}"))?
                .ok_or_else(|| format!("{what}: ended after {k} lines"))?;
            check_line(&what, &got, &format!("chat {i} {k}"), k)?;
        }
        drop(tx);
        let end = reader
            .next_line()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        want(&what, end.is_none(), format!("a sixth line {end:?}"))?;
        let status = reader
            .trailers
            .as_ref()
            .and_then(|t| t.get("grpc-status"))
            .and_then(|s| s.to_str().ok());
        want(
            &what,
            status == Some("0"),
            format!("trailers {:?}", reader.trailers),
        )?;
    } else {
        let version = Version::of(i, 2);
        let what = format!("POST {} {CHAT} {NDJSON} client stream", version.name());
        let body: Vec<u8> = (0..5).flat_map(|k| line(k).to_vec()).collect();
        let request = ctx
            .request("POST", CHAT)
            .header(CONTENT_TYPE, NDJSON)
            .body(full(body))
            .unwrap();
        let mut reader = open(ctx, version, request).await?;
        reader.check_head(&what, NDJSON)?;
        for k in 0..5 {
            let got = reader
                .next_line()
                .await
                .map_err(|e| format!("{what}: {e}"))?
                .ok_or_else(|| format!("{what}: ended after {k} lines"))?;
            check_line(&what, &got, &format!("chat {i} {k}"), k)?;
        }
        let end = reader
            .next_line()
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        want(&what, end.is_none(), format!("a sixth line {end:?}"))?;
    }
    Ok(Outcome::Ok)
}

/// HTTP calls dropped mid-stream and mid-unary.
async fn json_cancel(ctx: &Ctx, i: u64) -> Checked {
    let version = Version::of(i, 3);
    let v = version.name();
    match i % 3 {
        0 => {
            let body = r#"{"message":"cancel","repeat":1000,"delay":"0.005s"}"#;
            let what = format!("POST {v} {ECHO_STREAM} {body}");
            let request = ctx
                .request("POST", ECHO_STREAM)
                .header(CONTENT_TYPE, JSON)
                .body(full(body))
                .unwrap();
            let mut reader = open(ctx, version, request).await?;
            reader.check_head(&what, NDJSON)?;
            for index in 0..2 {
                let line = reader
                    .next_line()
                    .await
                    .map_err(|e| format!("{what}: {e}"))?
                    .ok_or_else(|| format!("{what}: ended early"))?;
                check_line(&what, &line, "cancel", index)?;
            }
            // Dropped with 998 lines to go.
        }
        1 => {
            let body = r#"{"message":"never answered","delay":"2s"}"#;
            let call = post(ctx, version, ECHO, body, &[]);
            if let Ok(answer) = tokio::time::timeout(Duration::from_millis(30), call).await {
                return Err(match answer {
                    Ok(answer) => format!(
                        "POST {v} {ECHO} {body}: answered within 30 ms: {}",
                        answer.show()
                    ),
                    Err(e) => format!("ended within 30 ms: {e}"),
                });
            }
        }
        _ => {
            let what = format!("POST h2c {CHAT} {NDJSON} dropped mid-stream");
            let (tx, body) = channel_body();
            tx.send(Bytes::from_static(b"{\"message\":\"half\"}\n"))
                .await
                .unwrap();
            let request = ctx
                .request("POST", CHAT)
                .header(CONTENT_TYPE, NDJSON)
                .body(body)
                .unwrap();
            let mut reader = open(ctx, Version::H2c, request).await?;
            reader.check_head(&what, NDJSON)?;
            let line = reader
                .next_line()
                .await
                .map_err(|e| format!("{what}: {e}"))?
                .ok_or_else(|| format!("{what}: ended early"))?;
            check_line(&what, &line, "half", 0)?;
            // Dropped with the request body still open.
        }
    }
    Ok(Outcome::Ok)
}

/// Deadlines shorter than the work: 504 with code 4, or, once a stream
/// has started, its last line or event an error with code 4.
async fn json_deadline(ctx: &Ctx, i: u64) -> Checked {
    let version = Version::of(i, 4);
    let v = version.name();
    let slow = format!(r#"{{"message":"late","delay":"{}"}}"#, duration_json(300));
    match i % 4 {
        0 => {
            let answer = post(ctx, version, ECHO, &slow, &[("grpc-timeout", "50m")]).await?;
            json_error(
                &format!("POST {v} {ECHO} grpc-timeout 50m {slow}"),
                &answer,
                504,
                4,
            )
        }
        1 => {
            let answer = post(
                ctx,
                version,
                "/v1/echo",
                &slow,
                &[("connect-timeout-ms", "50")],
            )
            .await?;
            json_error(
                &format!("POST {v} /v1/echo connect-timeout-ms 50 {slow}"),
                &answer,
                504,
                4,
            )
        }
        2 => {
            // The first answer after 100 ms, the deadline at 250 ms.
            let body = r#"{"message":"tick","repeat":5,"delay":"0.100s"}"#;
            let what = format!("POST {v} {ECHO_STREAM} grpc-timeout 250m {body}");
            let request = ctx
                .request("POST", ECHO_STREAM)
                .header(CONTENT_TYPE, JSON)
                .header("grpc-timeout", "250m")
                .body(full(body))
                .unwrap();
            let mut reader = open(ctx, version, request).await?;
            if reader.status == StatusCode::GATEWAY_TIMEOUT {
                // Late before the first answer (a busy machine).
                let head = reader.head();
                let rest = reader.rest().await;
                let code = serde_json::from_str::<Value>(&rest)
                    .ok()
                    .map(|j| j["code"].clone());
                want(&what, code == Some(json!(4)), format!("{head} {rest:?}"))?;
                return Ok(Outcome::Expected);
            }
            reader.check_head(&what, NDJSON)?;
            let mut index = 0;
            loop {
                let line = reader
                    .next_line()
                    .await
                    .map_err(|e| format!("{what}: {e}"))?
                    .ok_or_else(|| format!("{what}: ended after {index} lines, no error"))?;
                if line.get("error").is_some() {
                    want(&what, line["error"]["code"] == 4, &line)?;
                    break;
                }
                check_line(&what, &line, "tick", index)?;
                index += 1;
            }
            want(&what, index < 5, "every line before the deadline")?;
            let end = reader
                .next_line()
                .await
                .map_err(|e| format!("{what}: {e}"))?;
            want(
                &what,
                end.is_none(),
                format!("a line after the error {end:?}"),
            )?;
            Ok(Outcome::Expected)
        }
        _ => {
            // A chat that says one thing and then nothing: the deadline
            // ends it mid-stream (SSE) while its request body is still
            // open. On a connection of its own (unless `SOAK_SHARED_BAD`
            // is set): the server cannot read the rest of that body, so it
            // closes an HTTP/1.1 connection after the call (the head, sent
            // long before, could not say so), and over h2c the body's end
            // arriving afterwards counts as a client error (see
            // `bad_input`); a keep-alive client reusing the connection
            // would fail its next call.
            let own = std::env::var_os("SOAK_SHARED_BAD")
                .is_none()
                .then(|| own_connections(ctx));
            let ctx = own.as_ref().unwrap_or(ctx);
            let what = format!("POST {v} {CHAT} {NDJSON} accept {SSE} grpc-timeout 300m");
            let (tx, body) = channel_body();
            tx.send(Bytes::from_static(b"{\"message\":\"one\"}\n"))
                .await
                .unwrap();
            let request = ctx
                .request("POST", CHAT)
                .header(CONTENT_TYPE, NDJSON)
                .header(ACCEPT, SSE)
                .header("grpc-timeout", "300m")
                .body(body)
                .unwrap();
            let mut reader = open(ctx, version, request).await?;
            reader.check_head(&what, SSE)?;
            let (event, data) = reader
                .next_event()
                .await
                .map_err(|e| format!("{what}: {e}"))?
                .ok_or_else(|| format!("{what}: no event"))?;
            want(&what, event == "message" && data["message"] == "one", &data)?;
            let (event, data) = reader
                .next_event()
                .await
                .map_err(|e| format!("{what}: {e}"))?
                .ok_or_else(|| format!("{what}: ended without an error event"))?;
            want(
                &what,
                event == "error" && data["code"] == 4,
                format!("{event} {data}"),
            )?;
            let end = reader
                .next_event()
                .await
                .map_err(|e| format!("{what}: {e}"))?;
            want(
                &what,
                end.is_none(),
                format!("an event after the error {end:?}"),
            )?;
            drop(tx);
            Ok(Outcome::Expected)
        }
    }
}

/// `ctx` with HTTP clients of its own (new connections).
fn own_connections(ctx: &Ctx) -> Ctx {
    Ctx {
        addr: ctx.addr,
        h1: http_client(false),
        h2c: http_client(true),
        channel: ctx.channel.clone(),
    }
}

/// Inputs the server must refuse, each with its status and code.
async fn bad_input(ctx: &Ctx, i: u64) -> Checked {
    const VARIANTS: u64 = 13;
    let version = Version::of(i, VARIANTS);
    let v = version.name();
    // Each bad request goes on a connection of its own, unless
    // `SOAK_SHARED_BAD` is set: the server answers most of them before it
    // has read their body, and then (both found by this soak, README
    // "Soak"): over HTTP/1.1, when the body has not all arrived, it closes
    // the connection after the answer, which says nothing of it (no
    // `connection: close`), so a keep-alive client that reuses the
    // connection gets `IncompleteMessage`; over h2c, the body's DATA frames
    // that arrive after the answer each count as a client error in h2, and
    // after `max_local_error_reset_streams` (1024: the example's `Limits`,
    // and hyper's default) over a connection's life the server sends
    // GOAWAY ENHANCE_YOUR_CALM "too_many_internal_resets", failing every
    // other call on that connection.
    let shared = std::env::var_os("SOAK_SHARED_BAD").is_some();
    let own = (!shared).then(|| own_connections(ctx));
    let ctx = own.as_ref().unwrap_or(ctx);
    let simple = |path: &'static str,
                  body: &'static str,
                  headers: &'static [(&'static str, &'static str)],
                  status: u16,
                  code: i64| {
        async move {
            let answer = post(ctx, version, path, body, headers).await?;
            let shown: Vec<String> = headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            json_error(
                &format!("POST {v} {path} {shown:?} {body:?}"),
                &answer,
                status,
                code,
            )
        }
    };
    match i % VARIANTS {
        0 => simple(GET_BOOK, r#"{"name": "#, &[], 400, 3).await,
        1 => simple(GET_BOOK, r#"{"nmae":"x"}"#, &[], 400, 3).await,
        2 => simple(ECHO, r#"{"payload":"%%%"}"#, &[], 400, 3).await,
        3 => simple(ECHO, "{}", &[("x-id-bin", "%%%")], 400, 3).await,
        4 => {
            simple(
                ECHO,
                r#"{"message":"x"}"#,
                &[("grpc-timeout", "soon")],
                400,
                3,
            )
            .await
        }
        5 => simple("/library.v1.LibraryService/BurnBook", "{}", &[], 404, 5).await,
        6 => simple("/nowhere.v1.Nothing/Call", "{}", &[], 415, 12).await,
        7 => {
            let request = ctx
                .request("POST", GET_BOOK)
                .header(CONTENT_TYPE, "text/plain")
                .body(full("name=shelves/1/books/1"))
                .unwrap();
            let answer = send(ctx, version, request).await?;
            json_error(&format!("POST {v} {GET_BOOK} text/plain"), &answer, 415, 3)
        }
        8 => {
            let request = ctx
                .request("POST", ECHO)
                .header(CONTENT_TYPE, NDJSON)
                .body(full("{}\n"))
                .unwrap();
            let answer = send(ctx, version, request).await?;
            json_error(&format!("POST {v} {ECHO} {NDJSON}"), &answer, 415, 3)
        }
        9 => {
            // Declared over the limit: refused before it is read.
            let body = format!(r#"{{"message":"{}"}}"#, "x".repeat(MAX_BODY + 1024));
            let answer = post(ctx, version, ECHO, &body, &[]).await?;
            json_error(
                &format!("POST {v} {ECHO} {} B body (limit {MAX_BODY})", body.len()),
                &answer,
                413,
                8,
            )
        }
        10 => {
            // Over the limit with no length given (h2c: no content-length,
            // frames of 4 KiB).
            let (tx, body) = channel_body();
            let request = ctx
                .request("POST", ECHO)
                .header(CONTENT_TYPE, JSON)
                .body(body)
                .unwrap();
            let feed = async move {
                for _ in 0..(MAX_BODY / 4096 + 2) {
                    if tx.send(Bytes::from(vec![b' '; 4096])).await.is_err() {
                        break;
                    }
                }
            };
            let (answer, ()) = tokio::join!(send(ctx, Version::H2c, request), feed);
            json_error(
                &format!("POST h2c {ECHO} streamed body over {MAX_BODY} B"),
                &answer?,
                413,
                8,
            )
        }
        11 => {
            let path = "/v1/nothing/here";
            let request = ctx.request("GET", path).body(empty()).unwrap();
            let answer = send(ctx, version, request).await?;
            json_error(&format!("GET {v} {path}"), &answer, 404, 5)
        }
        _ => {
            let request = ctx.request("GET", CREATE_BOOK).body(empty()).unwrap();
            let answer = send(ctx, version, request).await?;
            json_error(&format!("GET {v} {CREATE_BOOK}"), &answer, 405, 12)
        }
    }
}

async fn step(kind: Kind, ctx: &Ctx, i: u64, state: &mut WorkerState) -> Checked {
    match kind {
        Kind::GrpcUnary => grpc_unary(ctx, i).await,
        Kind::GrpcServerStream => grpc_server_stream(ctx, i).await,
        Kind::GrpcClientBidi => grpc_client_bidi(ctx, i).await,
        Kind::GrpcCancel => grpc_cancel(ctx, i).await,
        Kind::GrpcDeadline => grpc_deadline(ctx, i).await,
        Kind::GrpcBad => grpc_bad(ctx, i).await,
        Kind::JsonH1 => json_unary(ctx, i, Version::H1).await,
        Kind::JsonH2c => json_unary(ctx, i, Version::H2c).await,
        Kind::Rest => rest(ctx, i, state).await,
        Kind::NdjsonStream => ndjson_stream(ctx, i).await,
        Kind::SseStream => sse_stream(ctx, i).await,
        Kind::NdjsonClientBidi => ndjson_client_bidi(ctx, i).await,
        Kind::JsonCancel => json_cancel(ctx, i).await,
        Kind::JsonDeadline => json_deadline(ctx, i).await,
        Kind::BadInput => bad_input(ctx, i).await,
    }
}

/// One closed loop: calls of `kind` back to back until `end`.
async fn worker(kind: Kind, ctx: std::sync::Arc<Ctx>, seed: u64, end: Instant) {
    let mut state = WorkerState::default();
    // Workers of a kind start at different variants.
    let mut i = seed;
    while Instant::now() < end {
        let result = match tokio::time::timeout(CALL_LIMIT, step(kind, &ctx, i, &mut state)).await {
            Ok(result) => result,
            Err(_) => Err(format!("call {i}: no answer within {CALL_LIMIT:?}")),
        };
        record(kind, result);
        i += 1;
    }
}

// ----------------------------------------------------------------- server --

/// The example server, in this process (the child).
fn child_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("server")
        .enable_all()
        .build()
        .unwrap();
    let config =
        dual_protocol::Config::from_toml(&format!("[server]\nmax_request_bytes = {MAX_BODY}\n"))
            .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = runtime.handle().clone();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{addr}").unwrap();
        out.flush().unwrap();
    }
    // The control line: `tasks` is answered with the alive task count and
    // the live Echo streams; the end of stdin shuts the server down.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line.trim() == "tasks" {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "{} {}",
                    handle.metrics().num_alive_tasks(),
                    common::live_streams()
                );
                let _ = out.flush();
            }
        }
        let _ = stop.send(());
    });
    runtime
        .block_on(common::serve_with(
            listener,
            &config,
            None,
            common::serve::Limits::default(),
            async {
                let _ = stopped.await;
            },
        ))
        .unwrap();
}

/// The server child, seen from the bench.
struct Server {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Self {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line.trim().parse().expect("the child's address");
        Self {
            child,
            stdin,
            stdout,
            addr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (alive tasks, live Echo streams); `None` once the child is gone.
    fn tasks(&mut self) -> Option<(usize, usize)> {
        let stdin = self.stdin.as_mut()?;
        writeln!(stdin, "tasks").ok()?;
        stdin.flush().ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        let mut parts = line.split_whitespace().map(|p| p.parse().ok());
        Some((parts.next()??, parts.next()??))
    }

    fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The child's CPU time so far, in seconds.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return 0.0;
        };
        let fields: Vec<u64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        (fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0)) as f64 / 100.0
    }

    /// Closes its stdin (graceful shutdown) and waits up to 10 s; whether
    /// it exited with success.
    fn stop(mut self) -> bool {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return false;
                }
            }
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

// ------------------------------------------------------------------- main --

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child_server();
    }
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .map(|s| s.parse().expect("SOAK_SECS: a number of seconds"))
        .unwrap_or(600);
    let every = Duration::from_secs(if secs < 120 { 5 } else { 30 });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("load")
        .enable_all()
        .build()
        .unwrap();
    let mut server = Server::start();
    let pid = server.pid();
    let addr = server.addr;
    std::thread::sleep(Duration::from_millis(200));
    let (base_tasks, base_streams) = server.tasks().expect("the server answers `tasks`");
    let base_rss = server.rss_kib();
    let workers: usize = KINDS.iter().map(|k| k.workers()).sum();
    println!(
        "soak: {secs} s against the example server (pid {pid}, {addr}, 1-worker runtime, \
         max_request_bytes {MAX_BODY}); {} kinds, {workers} closed-loop workers on a 1-worker \
         client runtime; {} CPUs, load average {}",
        KINDS.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    println!(
        "before the load: server VmRSS {base_rss} KiB, alive tasks {base_tasks}, live streams \
         {base_streams}"
    );

    let cpu0 = server.cpu_seconds();
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    let ctx = runtime.block_on(async {
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("gRPC connection");
        std::sync::Arc::new(Ctx {
            addr,
            h1: http_client(false),
            h2c: http_client(true),
            channel,
        })
    });
    let mut handles = Vec::new();
    for kind in KINDS {
        for w in 0..kind.workers() {
            handles.push(runtime.spawn(worker(kind, ctx.clone(), w as u64 * 5, end)));
        }
    }
    drop(ctx);

    let mut samples = Vec::new();
    let mut next = started + every;
    while next <= end {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let rss = server.rss_kib();
        let (tasks, streams) = server.tasks().unwrap_or((0, 0));
        let requests: u64 = TALLIES
            .iter()
            .map(|t| t.requests.load(Ordering::Relaxed))
            .sum();
        let unexpected: u64 = TALLIES
            .iter()
            .map(|t| t.unexpected.load(Ordering::Relaxed))
            .sum();
        println!(
            "[{:>4} s] server VmRSS {rss:>7} KiB  alive tasks {tasks:>4}  live streams {streams:>3}  \
             requests {requests:>9}  unexpected {unexpected}",
            (next - started).as_secs()
        );
        samples.push(rss);
        next += every;
    }
    // The workers stop at `end` (each finishes its call in flight).
    runtime.block_on(async {
        for handle in handles {
            handle.await.unwrap();
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = server.cpu_seconds() - cpu0;
    let (end_tasks, end_streams) = server.tasks().unwrap_or((usize::MAX, usize::MAX));
    let end_rss = server.rss_kib();
    // Every client is gone with the workers: their connections close.
    std::thread::sleep(Duration::from_secs(2));
    let (after_tasks, after_streams) = server.tasks().unwrap_or((usize::MAX, usize::MAX));
    let after_rss = server.rss_kib();

    println!();
    println!(
        "| kind                      | workers |  requests |        ok | expected errors | unexpected | req/s  |"
    );
    println!(
        "|---------------------------|--------:|----------:|----------:|----------------:|-----------:|-------:|"
    );
    let mut totals = [0u64; 4];
    for kind in KINDS {
        let t = &TALLIES[kind as usize];
        let row = [
            t.requests.load(Ordering::Relaxed),
            t.ok.load(Ordering::Relaxed),
            t.expected.load(Ordering::Relaxed),
            t.unexpected.load(Ordering::Relaxed),
        ];
        for (total, n) in totals.iter_mut().zip(row) {
            *total += n;
        }
        println!(
            "| {:<25} | {:>7} | {:>9} | {:>9} | {:>15} | {:>10} | {:>6.0} |",
            kind.name(),
            kind.workers(),
            row[0],
            row[1],
            row[2],
            row[3],
            row[0] as f64 / elapsed
        );
    }
    println!(
        "| {:<25} | {:>7} | {:>9} | {:>9} | {:>15} | {:>10} | {:>6.0} |",
        "total",
        workers,
        totals[0],
        totals[1],
        totals[2],
        totals[3],
        totals[0] as f64 / elapsed
    );
    println!();
    let (min, max) = (
        samples.iter().min().copied().unwrap_or(0),
        samples.iter().max().copied().unwrap_or(0),
    );
    println!(
        "load {elapsed:.1} s; server CPU {cpu:.1} s ({:.0}% of one core); load average now {}",
        cpu / elapsed * 100.0,
        loadavg()
    );
    println!(
        "server VmRSS: {base_rss} KiB before, {min}..{max} KiB during (samples), {end_rss} KiB at \
         the end, {after_rss} KiB 2 s later"
    );
    println!(
        "server alive tasks: {base_tasks} before, {end_tasks} at the end of the load, \
         {after_tasks} 2 s after (must be <= {} : baseline + {TASK_TOLERANCE}); live streams: \
         {base_streams} before, {end_streams} at the end, {after_streams} 2 s after (must be \
         {base_streams})",
        base_tasks + TASK_TOLERANCE
    );
    println!("unexpected errors: {}", totals[3]);
    for error in ERRORS.lock().unwrap().iter() {
        println!("  {error}");
    }
    let tasks_back = after_tasks <= base_tasks + TASK_TOLERANCE && after_streams == base_streams;
    let clean_exit = server.stop();
    println!(
        "server shut down {}",
        if clean_exit { "cleanly" } else { "NOT cleanly" }
    );
    runtime.shutdown_background();
    if totals[3] != 0 || !tasks_back || !clean_exit {
        println!("soak FAILED");
        std::process::exit(1);
    }
    println!("soak passed");
}
