//! Closed-loop load over loopback: bare tonic, tonic + `DualProtocolLayer`
//! (gRPC and JSON, HTTP/1.1 and h2c) and a hand-written axum JSON handler,
//! all in one process, interleaved round-robin.
//!
//! `cargo bench --bench load`
//!
//! Runtimes: the servers run on a tokio runtime with ONE worker thread and the
//! load generator on a second runtime with ONE worker thread. On a 2-core
//! machine that gives each side about one core; nothing is pinned, but the
//! two never share a scheduler, so a slow server does not steal polls from
//! the client (or the reverse) and every configuration sees the same split.
//! The numbers are then "one server core" throughput.
//!
//! Client: gRPC rows use tonic's generated `EchoServiceClient` (what real
//! users run), one `Channel` per connection, cloned per task. All HTTP/JSON
//! rows use the same raw `hyper::client::conn::{http1, http2}` code, one
//! `SendRequest` per connection: no pool, no per-request connection lookup
//! or `Uri` parsing of a legacy `Client`, so the load tool spends as little
//! of its core as possible and identically for every HTTP row.
//!
//! HTTP/1.1 has no multiplexing (hyper does not pipeline), so an HTTP/1.1
//! connection carries one request at a time: HTTP/1.1 rows open
//! `IN_FLIGHT` connections (one per in-flight request, as a keep-alive pool
//! would under this load); h2c and gRPC rows open `CONNECTIONS` connections
//! and multiplex `IN_FLIGHT / CONNECTIONS` streams on each. Every row thus
//! keeps `IN_FLIGHT` requests in flight.
//!
//! Row D is REST `POST /v1/echo` through the layer; set `LOAD_SKIP_REST=1`
//! to leave it out (the run then takes ~55 s instead of ~63 s).
//!
//! Streaming rows (`LOAD_SKIP_STREAM=1` leaves them out): messages/s of
//! `echo.v1.EchoService/EchoStream`, 1,000 answers of ~130-140 B per call,
//! 4 calls in flight back to back, counted as they arrive during the
//! measured window; 5 interleaved rounds (SA SB SC SF, SA ...), medians.
//! SA (bare tonic) and SB (tonic + layer: passthrough) are gRPC through
//! tonic's `EchoServiceClient::echo_stream` over 2 connections; SC (HTTP/1.1,
//! 4 connections) and SF (h2c, 2 connections) are NDJSON through the layer
//! with the raw hyper client of the HTTP rows: `POST` the JSON body
//! `{"message":...,"repeat":1000}`, read the answer frame by frame counting
//! lines and discarding them, check 200, `application/x-ndjson`, 1,000 lines
//! and a last line that is no `{"error":...}`. Ratios: SB/SA, and SC, SF
//! against SB (the tracked target: NDJSON >= 0.8 of gRPC messages/s). The
//! CPU columns are each runtime's busy share of one core in the window, so
//! they show which side was the limit; "msg/server-CPU-s" (messages/s over
//! the server's share) is the server's cost per message, steadier than
//! messages/s when something else runs on the machine.
//!
//! Long runs (`LOAD_SKIP_LONG=1` leaves them out): 1,000,000 NDJSON messages
//! over one HTTP/1.1 connection to a client that reads and discards them.
//! The server runs in a child process (this binary again, with
//! `LOAD_STREAM_CHILD` set), so its VmRSS is the server's alone. Two runs:
//! 100 calls of 10,000 against the example's `Echo` (it bounds `repeat` at
//! 10,000), then ONE call of 1,000,000 against `Unbounded`, a bench-local
//! `EchoService` without that bound (same generated server, same layer).
//! Printed: the server's VmRSS idle (started, no call yet), before the run
//! (after a 1,000-message warm-up call on the same connection), a tenth of
//! the way in and at the end; the peak as VmHWM (reset through
//! `/proc/<pid>/clear_refs` just before the run) and as VmRSS sampled every
//! 2 ms (VmHWM can miss a peak the allocator gave back), and RssAnon.
//!
//! `LOAD_SKIP_UNARY=1` leaves out the unary rows. Each section ends with the
//! CPU other processes took meanwhile: this bench wants the machine to
//! itself. The whole run takes ~100 s on this 2-core machine (unary rows
//! ~63 s, streaming rows ~30 s, long runs ~7 s).

#[path = "../examples/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::HeaderMap;
use axum::routing::post;
use bytes::Bytes;
use dual_protocol::DualProtocolLayer;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};

use common::Echo;
use common::echo::v1::EchoRequest;
use common::echo::v1::echo_service_client::EchoServiceClient;
use common::echo::v1::echo_service_server::EchoServiceServer;

/// Requests kept in flight by the load generator, for every configuration.
const IN_FLIGHT: usize = 32;
/// Connections for h2c and gRPC (multiplexed); HTTP/1.1 uses `IN_FLIGHT`.
const CONNECTIONS: usize = 8;
/// Discarded time at the start of each run (connections, caches, windows).
const WARMUP: Duration = Duration::from_millis(300);
/// Measured time of each run.
const MEASURE: Duration = Duration::from_millis(1200);
/// Rounds of A B C E E2 F (x 2 payloads); the table shows medians.
const ROUNDS: usize = 3;
/// Raw payload bytes of the large request (base64: 16 KiB of JSON text).
const LARGE_PAYLOAD: usize = 12 * 1024;

const RPC_PATH: &str = "/echo.v1.EchoService/Echo";
const REST_PATH: &str = "/v1/echo";
const AXUM_PATH: &str = "/echo";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Config {
    /// Bare tonic, gRPC.
    A,
    /// tonic + layer, gRPC.
    B,
    /// tonic + layer, JSON over HTTP/1.1.
    C,
    /// tonic + layer, REST `POST /v1/echo` over HTTP/1.1.
    D,
    /// Hand-written axum JSON handler, `axum::serve`, HTTP/1.1.
    E,
    /// The same axum handler over h2c (hyper-util auto builder, like tonic).
    E2,
    /// tonic + layer, JSON over h2c.
    F,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Grpc,
    Http1,
    H2c,
}

impl Config {
    fn name(self) -> &'static str {
        match self {
            Config::A => "A  tonic gRPC",
            Config::B => "B  layer gRPC",
            Config::C => "C  layer JSON h1",
            Config::D => "D  layer REST h1",
            Config::E => "E  axum JSON h1",
            Config::E2 => "E2 axum JSON h2c",
            Config::F => "F  layer JSON h2c",
        }
    }

    /// The configuration whose throughput is this one's ceiling.
    fn limit(self) -> Option<Config> {
        match self {
            Config::B => Some(Config::A),
            Config::C | Config::D => Some(Config::E),
            Config::F => Some(Config::E2),
            _ => None,
        }
    }

    fn wire(self) -> Wire {
        match self {
            Config::A | Config::B => Wire::Grpc,
            Config::C | Config::D | Config::E => Wire::Http1,
            Config::E2 | Config::F => Wire::H2c,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Config::D => REST_PATH,
            Config::E | Config::E2 => AXUM_PATH,
            _ => RPC_PATH,
        }
    }

    fn addr(self, servers: &Servers) -> SocketAddr {
        match self {
            Config::A => servers.bare,
            Config::B | Config::C | Config::D | Config::F => servers.layered,
            Config::E => servers.axum_h1,
            Config::E2 => servers.axum_auto,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    Small,
    Large,
}

impl Size {
    fn name(self) -> &'static str {
        match self {
            Size::Small => "~200 B",
            Size::Large => "16 KiB",
        }
    }
}

/// One request, as protobuf for gRPC rows and as JSON for the others.
struct Payload {
    grpc: EchoRequest,
    json: Bytes,
}

fn payload(size: Size) -> Payload {
    let message = "Order 42 for shelf 7: please echo this back with the same payload; \
                   this sentence stands in for a realistic free-text field in a request."
        .to_owned();
    let raw: Vec<u8> = match size {
        Size::Small => b"0123456789abcdefghijklmn".to_vec(),
        Size::Large => {
            // Deterministic noise (no compression shortcuts anywhere).
            let mut x: u32 = 0x9e37_79b9;
            (0..LARGE_PAYLOAD)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect()
        }
    };
    let grpc = EchoRequest {
        message,
        payload: raw,
        fail_code: 0,
        repeat: 1,
        ..Default::default()
    };
    // The JSON is the proto3 JSON of the same message (defaults included
    // explicitly, as clients often send them), so every row sends the same.
    let mut json: serde_json::Value = serde_json::to_value(&grpc).unwrap();
    json["failCode"] = 0.into();
    let json = Bytes::from(serde_json::to_vec(&json).unwrap());
    Payload { grpc, json }
}

// ---------------------------------------------------------------- servers --

struct Servers {
    bare: SocketAddr,
    layered: SocketAddr,
    axum_h1: SocketAddr,
    axum_auto: SocketAddr,
}

/// Starts every server; call inside the server runtime.
async fn start_servers() -> Servers {
    Servers {
        bare: serve_tonic(false).await,
        layered: serve_tonic(true).await,
        axum_h1: serve_axum_h1().await,
        axum_auto: serve_axum_auto().await,
    }
}

/// tonic with `accept_http1(true)` in both cases, so that B/A differs by the
/// layer only (that setting makes tonic sniff the protocol per connection).
async fn serve_tonic(layered: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let mut builder = tonic::transport::Server::builder().accept_http1(true);
    if layered {
        let server = builder
            .layer(DualProtocolLayer::new())
            .add_service(EchoServiceServer::new(Echo))
            .serve_with_incoming(incoming);
        tokio::spawn(async move { server.await.unwrap() });
    } else {
        let server = builder
            .add_service(EchoServiceServer::new(Echo))
            .serve_with_incoming(incoming);
        tokio::spawn(async move { server.await.unwrap() });
    }
    addr
}

/// The hand-written JSON limit: plain serde structs of the proto3 JSON shape
/// of `EchoRequest` / `EchoResponse`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PlainEchoRequest {
    message: String,
    #[serde(with = "b64")]
    payload: Vec<u8>,
    delay: Option<String>,
    fail_code: i32,
    response_headers: HashMap<String, String>,
    response_trailers: HashMap<String, String>,
    repeat: i32,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PlainEchoResponse {
    #[serde(skip_serializing_if = "String::is_empty")]
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty", with = "b64")]
    payload: Vec<u8>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    request_metadata: HashMap<String, String>,
    #[serde(skip_serializing_if = "is_zero")]
    index: i32,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

#[path = "support/b64.rs"]
mod b64;

/// What `Echo::echo` does for these requests: copy message and payload, and
/// the ASCII request headers as `requestMetadata` (tonic's handler sees its
/// request headers as metadata and echoes them too, so both answers carry a
/// comparable map; the table shows the answer sizes).
async fn axum_echo(
    headers: HeaderMap,
    Json(request): Json<PlainEchoRequest>,
) -> Json<PlainEchoResponse> {
    let request_metadata = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    Json(PlainEchoResponse {
        message: request.message.clone(),
        payload: request.payload.clone(),
        request_metadata,
        index: 0,
    })
}

fn axum_router() -> axum::Router {
    axum::Router::new().route(AXUM_PATH, post(axum_echo))
}

async fn serve_axum_h1() -> SocketAddr {
    use axum::serve::ListenerExt as _;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, axum_router()).await.unwrap() });
    addr
}

/// axum's default features have no HTTP/2, so the h2c limit serves the same
/// `Router` with hyper-util's auto builder, which is what tonic's server
/// uses with `accept_http1(true)`.
async fn serve_axum_auto() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum_router();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

// ----------------------------------------------------------------- client --

/// One run's result.
#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    p50_us: u64,
    p99_us: u64,
    /// Peak process VmRSS during the run minus VmRSS just before it, KiB.
    rss_delta_kib: u64,
    response_bytes: usize,
}

/// Sends requests back to back until `end`, recording the latency of those
/// that complete inside `[measure_start, end]`.
async fn closed_loop<F, Fut>(mut send: F, measure_start: Instant, end: Instant) -> Vec<u32>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut latencies = Vec::with_capacity(1 << 14);
    loop {
        let t0 = Instant::now();
        if t0 >= end {
            return latencies;
        }
        send().await;
        let t1 = Instant::now();
        if t1 >= measure_start && t1 <= end {
            latencies.push((t1 - t0).as_micros().min(u32::MAX as u128) as u32);
        }
    }
}

async fn tcp(addr: SocketAddr) -> TokioIo<TcpStream> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    TokioIo::new(stream)
}

fn json_request(uri: &str, host: &str, body: &Bytes) -> http::Request<Full<Bytes>> {
    http::Request::post(uri)
        .header(http::header::HOST, host)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(body.clone()))
        .unwrap()
}

async fn read_ok(response: http::Response<hyper::body::Incoming>, seen: &AtomicUsize) {
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        status == http::StatusCode::OK,
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    seen.store(body.len(), Ordering::Relaxed);
}

/// One run of `config` with `payload`: connect, warm up, measure.
async fn run(config: Config, addr: SocketAddr, payload: &Payload, rss: &RssProbe) -> Run {
    let host = addr.to_string();
    let response_bytes = Arc::new(AtomicUsize::new(0));
    let mut tasks: JoinSet<Vec<u32>> = JoinSet::new();
    let rss_before = rss.start();

    // Connect everything first; the clock starts afterwards.
    enum Senders {
        Grpc(Vec<Channel>),
        Http1(Vec<hyper::client::conn::http1::SendRequest<Full<Bytes>>>),
        H2c(Vec<hyper::client::conn::http2::SendRequest<Full<Bytes>>>),
    }
    let senders = match config.wire() {
        Wire::Grpc => {
            let mut channels = Vec::new();
            for _ in 0..CONNECTIONS {
                let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
                channels.push(endpoint.connect().await.unwrap());
            }
            Senders::Grpc(channels)
        }
        Wire::Http1 => {
            let mut senders = Vec::new();
            for _ in 0..IN_FLIGHT {
                let (sender, conn) = hyper::client::conn::http1::handshake(tcp(addr).await)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                senders.push(sender);
            }
            Senders::Http1(senders)
        }
        Wire::H2c => {
            let mut senders = Vec::new();
            for _ in 0..CONNECTIONS {
                let (sender, conn) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), tcp(addr).await)
                        .await
                        .unwrap();
                tokio::spawn(conn);
                senders.push(sender);
            }
            Senders::H2c(senders)
        }
    };

    let measure_start = Instant::now() + WARMUP;
    let end = measure_start + MEASURE;
    match senders {
        Senders::Grpc(channels) => {
            for i in 0..IN_FLIGHT {
                let client = EchoServiceClient::new(channels[i % CONNECTIONS].clone());
                let request = payload.grpc.clone();
                let seen = response_bytes.clone();
                tasks.spawn(async move {
                    closed_loop(
                        || {
                            let mut client = client.clone();
                            let request = request.clone();
                            let seen = seen.clone();
                            async move {
                                let response = client.echo(request).await.unwrap();
                                seen.store(response.get_ref().encoded_len(), Ordering::Relaxed);
                            }
                        },
                        measure_start,
                        end,
                    )
                    .await
                });
            }
        }
        Senders::Http1(senders) => {
            for mut sender in senders {
                let body = payload.json.clone();
                let host = host.clone();
                let seen = response_bytes.clone();
                let path = config.path();
                tasks.spawn(async move {
                    let mut latencies = Vec::with_capacity(1 << 14);
                    // The same loop as `closed_loop`, inlined: the sender is
                    // borrowed mutably across the await.
                    loop {
                        let t0 = Instant::now();
                        if t0 >= end {
                            return latencies;
                        }
                        sender.ready().await.unwrap();
                        let response = sender
                            .send_request(json_request(path, &host, &body))
                            .await
                            .unwrap();
                        read_ok(response, &seen).await;
                        let t1 = Instant::now();
                        if t1 >= measure_start && t1 <= end {
                            latencies.push((t1 - t0).as_micros().min(u32::MAX as u128) as u32);
                        }
                    }
                });
            }
        }
        Senders::H2c(senders) => {
            let uri = format!("http://{addr}{}", config.path());
            for i in 0..IN_FLIGHT {
                let sender = senders[i % CONNECTIONS].clone();
                let body = payload.json.clone();
                let (uri, host) = (uri.clone(), host.clone());
                let seen = response_bytes.clone();
                tasks.spawn(async move {
                    closed_loop(
                        || {
                            let mut sender = sender.clone();
                            let request = json_request(&uri, &host, &body);
                            let seen = seen.clone();
                            async move {
                                sender.ready().await.unwrap();
                                let response = sender.send_request(request).await.unwrap();
                                read_ok(response, &seen).await;
                            }
                        },
                        measure_start,
                        end,
                    )
                    .await
                });
            }
        }
    }

    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.unwrap());
    }
    let rss_delta_kib = rss.stop(rss_before);
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as u64
    };
    Run {
        rps: latencies.len() as f64 / MEASURE.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        rss_delta_kib,
        response_bytes: response_bytes.load(Ordering::Relaxed),
    }
}

// -------------------------------------------------------------- streaming --

/// Answers per `EchoStream` call in the streaming rows.
const STREAM_REPEAT: i32 = 1_000;
/// Calls the streaming rows keep in flight, each a stream of `STREAM_REPEAT`
/// answers.
const STREAMS: usize = 4;
/// Connections of the multiplexed streaming rows (gRPC, h2c), each carrying
/// `STREAMS / STREAM_CONNECTIONS` calls; NDJSON over HTTP/1.1 opens `STREAMS`.
const STREAM_CONNECTIONS: usize = 2;
/// Discarded time at the start of each streaming run.
const STREAM_WARMUP: Duration = Duration::from_millis(300);
/// Measured time of each streaming run.
const STREAM_MEASURE: Duration = Duration::from_millis(1200);
/// Rounds of SA SB SC SF; the table shows medians. More than the unary
/// rows' `ROUNDS`: a round is short, and stream rates swing more.
const STREAM_ROUNDS: usize = 5;
/// The text of every answer. With the echoed request metadata and the
/// index an answer is ~130 B as protobuf and ~140 B as an NDJSON line (the
/// table prints the size per row).
const STREAM_MESSAGE: &str = "tick 42 of shelf 7: a line of a long answer";
/// Messages of each long NDJSON run.
const LONG_MESSAGES: i32 = 1_000_000;
/// The example's bound on `repeat`: the long run on the example service is
/// `LONG_MESSAGES / LONG_CALL` calls of this many answers.
const LONG_CALL: i32 = common::MAX_REPEAT;
/// Set (to anything) in the child process that serves the long runs.
const CHILD_ENV: &str = "LOAD_STREAM_CHILD";

const STREAM_PATH: &str = "/echo.v1.EchoService/EchoStream";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamConfig {
    /// Bare tonic, gRPC, `EchoServiceClient::echo_stream`.
    Sa,
    /// tonic + layer, gRPC (passthrough), the same client.
    Sb,
    /// tonic + layer, NDJSON over HTTP/1.1.
    Sc,
    /// tonic + layer, NDJSON over h2c.
    Sf,
}

impl StreamConfig {
    fn name(self) -> &'static str {
        match self {
            StreamConfig::Sa => "SA tonic gRPC",
            StreamConfig::Sb => "SB layer gRPC",
            StreamConfig::Sc => "SC layer NDJSON h1",
            StreamConfig::Sf => "SF layer NDJSON h2c",
        }
    }

    /// The row this one is compared with: SB with SA (what the layer costs
    /// a passed-through stream), the NDJSON rows with SB (the tracked
    /// target: NDJSON >= 0.8 of gRPC messages/s, both through the layer).
    fn base(self) -> Option<StreamConfig> {
        match self {
            StreamConfig::Sa => None,
            StreamConfig::Sb => Some(StreamConfig::Sa),
            StreamConfig::Sc | StreamConfig::Sf => Some(StreamConfig::Sb),
        }
    }

    fn wire(self) -> Wire {
        match self {
            StreamConfig::Sa | StreamConfig::Sb => Wire::Grpc,
            StreamConfig::Sc => Wire::Http1,
            StreamConfig::Sf => Wire::H2c,
        }
    }

    fn addr(self, servers: &Servers) -> SocketAddr {
        match self {
            StreamConfig::Sa => servers.bare,
            _ => servers.layered,
        }
    }
}

fn stream_request(repeat: i32) -> EchoRequest {
    EchoRequest {
        message: STREAM_MESSAGE.to_owned(),
        repeat,
        ..Default::default()
    }
}

/// The JSON body of an `EchoStream` call: `{"message":"...","repeat":N}`.
fn stream_json(repeat: i32) -> Bytes {
    let message = serde_json::to_string(STREAM_MESSAGE).unwrap();
    Bytes::from(format!(r#"{{"message":{message},"repeat":{repeat}}}"#))
}

/// Messages, bytes and HTTP body frames (NDJSON only) received so far,
/// added to as they arrive.
#[derive(Debug, Default)]
struct Tally {
    messages: AtomicU64,
    bytes: AtomicU64,
    frames: AtomicU64,
}

impl Tally {
    fn add(&self, messages: u64, bytes: u64) {
        self.messages.fetch_add(messages, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn get(&self) -> (u64, u64, u64) {
        (
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
            self.frames.load(Ordering::Relaxed),
        )
    }
}

/// How many trailing bytes of an NDJSON answer are kept to look at its
/// last line (an error line is well under this).
const TAIL: usize = 4096;

/// Reads one NDJSON answer to its end, discarding it as it arrives: counts
/// its lines and bytes into `tally` and checks that it is a 200
/// `application/x-ndjson` of `repeat` lines whose last line is not an error
/// line (`{"error":...}`). Only the last `TAIL` bytes are ever kept.
async fn read_ndjson(response: http::Response<hyper::body::Incoming>, repeat: u64, tally: &Tally) {
    let status = response.status();
    let content_type = response.headers().get(http::header::CONTENT_TYPE).cloned();
    let mut body = response.into_body();
    if status != http::StatusCode::OK {
        let body = body.collect().await.unwrap().to_bytes();
        panic!("{status}: {}", String::from_utf8_lossy(&body));
    }
    assert!(
        content_type
            .as_ref()
            .is_some_and(|v| v.as_bytes().starts_with(b"application/x-ndjson")),
        "content-type {content_type:?}"
    );
    let mut lines = 0;
    let mut tail: Vec<u8> = Vec::with_capacity(2 * TAIL);
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else {
            continue; // trailers (h2c)
        };
        let n = data.iter().filter(|&&b| b == b'\n').count() as u64;
        lines += n;
        tally.add(n, data.len() as u64);
        tally.frames.fetch_add(1, Ordering::Relaxed);
        if data.len() >= TAIL {
            tail.clear();
            tail.extend_from_slice(&data[data.len() - TAIL..]);
        } else {
            if tail.len() + data.len() > 2 * TAIL {
                tail.drain(..tail.len() + data.len() - TAIL);
            }
            tail.extend_from_slice(&data);
        }
    }
    let text = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let last = text.rsplit(|&b| b == b'\n').next().unwrap_or_default();
    assert!(
        !last.starts_with(b"{\"error\""),
        "the stream failed after {lines} lines: {}",
        String::from_utf8_lossy(last)
    );
    assert_eq!(lines, repeat, "lines of an answer of {repeat}");
}

/// One gRPC `EchoStream` call read to its end. The bytes are the first
/// answer's size (protobuf + the 5-byte frame header) times the answers:
/// they differ by their `index` only, and sizing every one would cost the
/// client core more than it measures.
async fn grpc_stream(client: &mut EchoServiceClient<Channel>, repeat: i32, tally: &Tally) {
    let mut stream = client
        .echo_stream(stream_request(repeat))
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    let mut size = 0;
    while let Some(message) = stream.message().await.unwrap() {
        if n == 0 {
            size = message.encoded_len() as u64 + 5;
        }
        n += 1;
        tally.add(1, size);
    }
    assert_eq!(n, repeat as u64, "answers of a gRPC stream of {repeat}");
}

/// CPU time (user + system) of this process's threads named `name`, in
/// clock ticks (USER_HZ, 100 per second on Linux). The runtimes name their
/// threads "server" and "load", so this splits the two sides.
fn thread_cpu_ticks(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("stat")).ok())
        .filter_map(|stat| {
            // `pid (comm) state ...`: comm may hold spaces, so split at ')'.
            let (head, rest) = stat.rsplit_once(')')?;
            let comm = &head[head.find('(')? + 1..];
            if comm != name {
                return None;
            }
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // After comm: state is field 3, utime 14, stime 15.
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// The first NDJSON line of a 2-answer `EchoStream` call over HTTP/1.1.
async fn first_line(addr: SocketAddr) -> String {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(tcp(addr).await)
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = json_request(STREAM_PATH, &addr.to_string(), &stream_json(2));
    let response = sender.send_request(request).await.unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    body.lines().next().unwrap_or_default().to_owned()
}

/// CPU time (user + system) of process `pid` so far, in clock ticks.
fn process_cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// One run's result.
#[derive(Debug, Clone, Copy)]
struct StreamRun {
    messages_per_s: f64,
    bytes_per_message: f64,
    /// HTTP body frames the client read per message (NDJSON rows; 0 for
    /// gRPC, whose client does not show them): 1.0 means one frame, one
    /// HTTP/1.1 chunk or h2 DATA frame, per message.
    frames_per_message: f64,
    /// Busy share of one core, server runtime and load runtime, in the
    /// measured window.
    server_cpu: f64,
    client_cpu: f64,
    rss_delta_kib: u64,
}

impl StreamRun {
    /// Messages per second of server CPU time: the server's cost per
    /// message, whichever side was the limit and whatever else ran on the
    /// machine.
    fn per_server_cpu(&self) -> f64 {
        self.messages_per_s / self.server_cpu.max(0.01)
    }
}

/// One streaming run of `config`: connect, `STREAMS` calls in flight back to
/// back, count the messages that arrive in the measured window.
async fn stream_run(config: StreamConfig, addr: SocketAddr, rss: &RssProbe) -> StreamRun {
    let host = addr.to_string();
    let tally = Arc::new(Tally::default());
    let mut tasks: JoinSet<()> = JoinSet::new();
    let rss_before = rss.start();
    let repeat = STREAM_REPEAT;

    let measure_start;
    let end;
    match config.wire() {
        Wire::Grpc => {
            let mut channels = Vec::new();
            for _ in 0..STREAM_CONNECTIONS {
                let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
                channels.push(endpoint.connect().await.unwrap());
            }
            measure_start = Instant::now() + STREAM_WARMUP;
            end = measure_start + STREAM_MEASURE;
            for i in 0..STREAMS {
                let mut client = EchoServiceClient::new(channels[i % STREAM_CONNECTIONS].clone());
                let tally = tally.clone();
                tasks.spawn(async move {
                    while Instant::now() < end {
                        grpc_stream(&mut client, repeat, &tally).await;
                    }
                });
            }
        }
        Wire::Http1 => {
            let mut senders = Vec::new();
            for _ in 0..STREAMS {
                let (sender, conn) = hyper::client::conn::http1::handshake(tcp(addr).await)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                senders.push(sender);
            }
            measure_start = Instant::now() + STREAM_WARMUP;
            end = measure_start + STREAM_MEASURE;
            let body = stream_json(repeat);
            for mut sender in senders {
                let (tally, body, host) = (tally.clone(), body.clone(), host.clone());
                tasks.spawn(async move {
                    while Instant::now() < end {
                        sender.ready().await.unwrap();
                        let response = sender
                            .send_request(json_request(STREAM_PATH, &host, &body))
                            .await
                            .unwrap();
                        read_ndjson(response, repeat as u64, &tally).await;
                    }
                });
            }
        }
        Wire::H2c => {
            let mut senders = Vec::new();
            for _ in 0..STREAM_CONNECTIONS {
                let (sender, conn) =
                    hyper::client::conn::http2::handshake(TokioExecutor::new(), tcp(addr).await)
                        .await
                        .unwrap();
                tokio::spawn(conn);
                senders.push(sender);
            }
            measure_start = Instant::now() + STREAM_WARMUP;
            end = measure_start + STREAM_MEASURE;
            let uri = format!("http://{addr}{STREAM_PATH}");
            let body = stream_json(repeat);
            for i in 0..STREAMS {
                let mut sender = senders[i % STREAM_CONNECTIONS].clone();
                let (tally, body, host, uri) =
                    (tally.clone(), body.clone(), host.clone(), uri.clone());
                tasks.spawn(async move {
                    while Instant::now() < end {
                        sender.ready().await.unwrap();
                        let response = sender
                            .send_request(json_request(&uri, &host, &body))
                            .await
                            .unwrap();
                        read_ndjson(response, repeat as u64, &tally).await;
                    }
                });
            }
        }
    }

    // The window: the counts and CPU times at its start and at its end (the
    // calls in progress at `end` are read to their end but not counted).
    let snapshot = || {
        (
            Instant::now(),
            tally.get(),
            thread_cpu_ticks("server"),
            thread_cpu_ticks("load"),
        )
    };
    tokio::time::sleep_until(measure_start.into()).await;
    let (t0, (m0, b0, f0), s0, c0) = snapshot();
    tokio::time::sleep_until(end.into()).await;
    let (t1, (m1, b1, f1), s1, c1) = snapshot();
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let rss_delta_kib = rss.stop(rss_before);
    let seconds = (t1 - t0).as_secs_f64();
    let messages = (m1 - m0) as f64;
    StreamRun {
        messages_per_s: messages / seconds,
        bytes_per_message: (b1 - b0) as f64 / messages.max(1.0),
        frames_per_message: (f1 - f0) as f64 / messages.max(1.0),
        server_cpu: (s1 - s0) as f64 / 100.0 / seconds,
        client_cpu: (c1 - c0) as f64 / 100.0 / seconds,
        rss_delta_kib,
    }
}

/// Runs the streaming rows, `STREAM_ROUNDS` interleaved rounds, and prints their
/// table (medians).
async fn stream_section(servers: &Servers, rss: &RssProbe) {
    let configs = [
        StreamConfig::Sa,
        StreamConfig::Sb,
        StreamConfig::Sc,
        StreamConfig::Sf,
    ];
    println!();
    println!(
        "streams: EchoStream, {STREAM_REPEAT} answers per call, {STREAMS} calls in flight; \
         gRPC/h2c over {STREAM_CONNECTIONS} connections, HTTP/1.1 over {STREAMS}; warm-up \
         {STREAM_WARMUP:?}, measured {STREAM_MEASURE:?}, {STREAM_ROUNDS} rounds"
    );
    println!(
        "request {}; an answer line: {}",
        String::from_utf8_lossy(&stream_json(STREAM_REPEAT)),
        first_line(servers.layered).await
    );
    let mut results: Vec<Vec<StreamRun>> = vec![Vec::new(); configs.len()];
    let machine = Machine::now();
    for round in 0..STREAM_ROUNDS {
        for (ci, &config) in configs.iter().enumerate() {
            let r = stream_run(config, config.addr(servers), rss).await;
            let frames = match config.wire() {
                Wire::Grpc => "-".to_owned(),
                _ => format!("{:.2}", r.frames_per_message),
            };
            eprintln!(
                "round {} {:<19} {:>9.0} msg/s  {:>4.0} B/msg  {:>4} frames/msg  server {:>3.0}% \
                 client {:>3.0}%  {:>9.0} msg/server-CPU-s",
                round + 1,
                config.name(),
                r.messages_per_s,
                r.bytes_per_message,
                frames,
                r.server_cpu * 100.0,
                r.client_cpu * 100.0,
                r.per_server_cpu()
            );
            results[ci].push(r);
        }
    }
    let others = machine.others();
    let rate = |ci: usize| median(results[ci].iter().map(|r| r.messages_per_s).collect());
    let cost = |ci: usize| median(results[ci].iter().map(StreamRun::per_server_cpu).collect());
    let spread = |ci: usize| {
        let rates = results[ci].iter().map(|r| r.messages_per_s);
        let (lo, hi) = rates.fold((f64::MAX, 0.0_f64), |(lo, hi), r| (lo.min(r), hi.max(r)));
        format!("{lo:.0}-{hi:.0}")
    };
    println!();
    println!(
        "| stream config       | msg/s (median) | rounds' range   | vs base      | msg/server-CPU-s | vs base | B/msg | frames/msg | server CPU | client CPU | RSS delta KiB (round 1) |"
    );
    println!(
        "|---------------------|---------------:|-----------------|--------------|-----------------:|--------:|------:|-----------:|-----------:|-----------:|------------------------:|"
    );
    for (ci, &config) in configs.iter().enumerate() {
        let runs = &results[ci];
        let base = config
            .base()
            .map(|base| configs.iter().position(|&c| c == base).unwrap());
        let (ratio, cost_ratio) = match base {
            Some(bi) => (
                format!(
                    "{:.2} ({}/{})",
                    rate(ci) / rate(bi),
                    &config.name()[..2],
                    &configs[bi].name()[..2]
                ),
                format!("{:.2}", cost(ci) / cost(bi)),
            ),
            None => ("base".to_owned(), "base".to_owned()),
        };
        let med = |f: fn(&StreamRun) -> f64| median(runs.iter().map(f).collect());
        let frames = match config.wire() {
            Wire::Grpc => "-".to_owned(),
            _ => format!("{:.2}", med(|r| r.frames_per_message)),
        };
        println!(
            "| {:<19} | {:>14.0} | {:<15} | {:<12} | {:>16.0} | {:>7} | {:>5.0} | {:>10} | {:>9.0}% | {:>9.0}% | {:>23} |",
            config.name(),
            rate(ci),
            spread(ci),
            ratio,
            cost(ci),
            cost_ratio,
            med(|r| r.bytes_per_message),
            frames,
            med(|r| r.server_cpu) * 100.0,
            med(|r| r.client_cpu) * 100.0,
            runs[0].rss_delta_kib
        );
    }
    // Each round's own NDJSON/gRPC ratio (the rows of one round ran within
    // a few seconds of each other, under the same conditions).
    let per_round = |ci: usize| {
        let ratios: Vec<String> = (0..STREAM_ROUNDS)
            .map(|r| {
                format!(
                    "{:.2}",
                    results[ci][r].messages_per_s / results[1][r].messages_per_s
                )
            })
            .collect();
        ratios.join(" ")
    };
    println!();
    println!(
        "NDJSON / gRPC messages/s, both through the layer (target >= 0.80): h1 {:.2} \
         (rounds: {}), h2c {:.2} (rounds: {})",
        rate(2) / rate(1),
        per_round(2),
        rate(3) / rate(1),
        per_round(3)
    );
    println!("{others}");
}

/// CPU time of the whole machine and of this process, to tell how much
/// other processes took while a section ran (this bench is meant to have
/// the machine to itself; its numbers mean little when it had not).
struct Machine {
    at: Instant,
    busy: u64,
    ours: u64,
}

impl Machine {
    fn now() -> Self {
        // `cpu  user nice system idle iowait irq softirq steal ...`
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or(0);
        Self {
            at: Instant::now(),
            busy: field(0) + field(1) + field(2) + field(5) + field(6) + field(7),
            ours: process_cpu_ticks(std::process::id()),
        }
    }

    /// What other processes (and steal) took since `self`, in a sentence.
    /// `ours_extra`: ticks of our own child processes.
    fn others_with(&self, ours_extra: u64) -> String {
        let now = Machine::now();
        let seconds = (now.at - self.at).as_secs_f64();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let busy = (now.busy - self.busy) as f64 / 100.0;
        let ours = (now.ours - self.ours + ours_extra) as f64 / 100.0;
        format!(
            "CPU while this section ran ({seconds:.0} s, {cpus} CPUs): this bench {:.0}%, \
             other processes and steal {:.0}% of the machine",
            ours / seconds / cpus * 100.0,
            (busy - ours).max(0.0) / seconds / cpus * 100.0
        )
    }

    fn others(&self) -> String {
        self.others_with(0)
    }
}

// ------------------------------------------------------ long NDJSON runs --

/// `EchoService` whose `EchoStream` has no bound on `repeat`, for the long
/// run as ONE call: the answers are the example's (`message`, the request's
/// ASCII metadata, `index`), made one at a time as the server's body is
/// polled, never ahead of the reader. `Echo` and `EchoChat` are the
/// example's.
#[derive(Debug, Clone, Copy)]
struct Unbounded;

#[tonic::async_trait]
impl common::echo::v1::echo_service_server::EchoService for Unbounded {
    async fn echo(
        &self,
        request: tonic::Request<EchoRequest>,
    ) -> Result<tonic::Response<common::echo::v1::EchoResponse>, tonic::Status> {
        Echo.echo(request).await
    }

    type EchoStreamStream = std::pin::Pin<
        Box<
            dyn tokio_stream::Stream<Item = Result<common::echo::v1::EchoResponse, tonic::Status>>
                + Send,
        >,
    >;

    async fn echo_stream(
        &self,
        request: tonic::Request<EchoRequest>,
    ) -> Result<tonic::Response<Self::EchoStreamStream>, tonic::Status> {
        let (metadata, _, request) = request.into_parts();
        let request_metadata: HashMap<String, String> = metadata
            .iter()
            .filter_map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(key, value) => {
                    Some((key.to_string(), value.to_str().ok()?.to_owned()))
                }
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            })
            .collect();
        // `iter` over a lazy iterator: each answer is built when polled.
        let answers = (0..request.repeat.max(1)).map(move |index| {
            Ok(common::echo::v1::EchoResponse {
                message: request.message.clone(),
                payload: request.payload.clone(),
                request_metadata: request_metadata.clone(),
                index,
            })
        });
        Ok(tonic::Response::new(Box::pin(tokio_stream::iter(answers))))
    }

    type EchoChatStream =
        <Echo as common::echo::v1::echo_service_server::EchoService>::EchoChatStream;

    async fn echo_chat(
        &self,
        request: tonic::Request<tonic::Streaming<EchoRequest>>,
    ) -> Result<tonic::Response<Self::EchoChatStream>, tonic::Status> {
        Echo.echo_chat(request).await
    }
}

/// tonic + layer serving `service`, as `serve_tonic(true)` does.
async fn serve_layered<T>(service: T) -> SocketAddr
where
    T: common::echo::v1::echo_service_server::EchoService,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(DualProtocolLayer::new())
        .add_service(EchoServiceServer::new(service))
        .serve_with_incoming(incoming);
    tokio::spawn(async move { server.await.unwrap() });
    addr
}

/// The child process of the long runs: the example's `Echo` and `Unbounded`,
/// each behind the layer on its own port, on a 1-worker runtime; prints
/// both addresses on one line and serves until its stdin closes.
fn child_server() {
    let server_rt = runtime("server");
    let (example, unbounded) =
        server_rt.block_on(async { (serve_layered(Echo).await, serve_layered(Unbounded).await) });
    println!("{example} {unbounded}");
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    server_rt.shutdown_background();
}

/// One long run's result; memory is the child's, in KiB.
#[derive(Debug)]
struct LongRun {
    label: String,
    messages: u64,
    bytes: u64,
    seconds: f64,
    /// VmRSS just before the run (after a warm-up call on the connection).
    before_kib: u64,
    /// The highest VmRSS sampled every 2 ms during the run.
    sampled_peak_kib: u64,
    /// VmHWM after the run, reset just before it (`None` when the kernel
    /// refused the reset: then VmHWM is the process's lifetime peak).
    hwm_kib: Option<u64>,
    /// VmRSS after the first tenth of the run and at its end.
    tenth_kib: u64,
    end_kib: u64,
    /// RssAnon (heap, stacks: not the binary's pages) before and at the end.
    anon_before_kib: u64,
    anon_end_kib: u64,
    /// Busy share of one core during the run: the server process, this
    /// process's load runtime.
    server_cpu: f64,
    client_cpu: f64,
}

/// Streams `calls` x `repeat` NDJSON messages over one HTTP/1.1 connection
/// to `addr`, discarding them as they arrive, and watches the memory of
/// process `pid` (the server) meanwhile.
async fn long_run(label: String, pid: u32, addr: SocketAddr, calls: u32, repeat: i32) -> LongRun {
    let status = format!("/proc/{pid}/status");
    let host = addr.to_string();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(tcp(addr).await)
        .await
        .unwrap();
    tokio::spawn(conn);
    let tally = Tally::default();
    // One warm-up call on this connection (its buffers, the codec's first
    // allocations), then the baseline.
    let warm = stream_json(STREAM_REPEAT);
    sender.ready().await.unwrap();
    let response = sender
        .send_request(json_request(STREAM_PATH, &host, &warm))
        .await
        .unwrap();
    read_ndjson(response, STREAM_REPEAT as u64, &tally).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before_kib = status_kib_in(&status, "VmRSS:");
    let anon_before_kib = status_kib_in(&status, "RssAnon:");
    // "5" resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
    let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let probe = RssProbe::of(status.clone(), Duration::from_millis(2));
    probe.start();

    let tally = Tally::default();
    let body = stream_json(repeat);
    let t0 = Instant::now();
    let (server0, client0) = (process_cpu_ticks(pid), thread_cpu_ticks("load"));
    let mut tenth_kib = 0;
    for call in 0..calls {
        sender.ready().await.unwrap();
        let response = sender
            .send_request(json_request(STREAM_PATH, &host, &body))
            .await
            .unwrap();
        if calls == 1 {
            // One call: look at the memory a tenth of the way in.
            let tenth = repeat as u64 / 10;
            let mut reading = std::pin::pin!(read_ndjson(response, repeat as u64, &tally));
            loop {
                tokio::select! {
                    () = &mut reading => break,
                    () = tokio::time::sleep(Duration::from_millis(5)), if tenth_kib == 0 => {
                        if tally.messages.load(Ordering::Relaxed) >= tenth {
                            tenth_kib = status_kib_in(&status, "VmRSS:");
                        }
                    }
                }
            }
        } else {
            read_ndjson(response, repeat as u64, &tally).await;
            if call + 1 == calls.div_ceil(10) {
                tenth_kib = status_kib_in(&status, "VmRSS:");
            }
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let (server1, client1) = (process_cpu_ticks(pid), thread_cpu_ticks("load"));
    let sampled_peak_kib = probe.stop(0);
    let end_kib = status_kib_in(&status, "VmRSS:");
    let hwm_kib = hwm_reset.then(|| status_kib_in(&status, "VmHWM:"));
    let (messages, bytes, _) = tally.get();
    LongRun {
        label,
        messages,
        bytes,
        seconds,
        before_kib,
        sampled_peak_kib,
        hwm_kib,
        tenth_kib,
        end_kib,
        anon_before_kib,
        anon_end_kib: status_kib_in(&status, "RssAnon:"),
        server_cpu: (server1 - server0) as f64 / 100.0 / seconds,
        client_cpu: (client1 - client0) as f64 / 100.0 / seconds,
    }
}

/// The long runs: `LONG_MESSAGES` NDJSON messages over HTTP/1.1 from a
/// server in a child process (this bench's binary again, `CHILD_ENV` set),
/// so that its memory is the server's alone. Two ways: the example's `Echo`
/// (`repeat` is bounded at 10,000, so 100 calls of 10,000 on one keep-alive
/// connection) and `Unbounded` (one call of 1,000,000).
async fn long_section() {
    let machine = Machine::now();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addrs: Vec<SocketAddr> = line
        .split_whitespace()
        .map(|a| a.parse().unwrap())
        .collect();
    let idle_kib = status_kib_in(&format!("/proc/{pid}/status"), "VmRSS:");

    // Each run is a task on the load runtime's worker, with its connection
    // (awaited here, on the `block_on` thread, every body frame would cross
    // threads: a futex wake-up per frame, and the client would be the limit).
    let calls = (LONG_MESSAGES / LONG_CALL) as u32;
    let example = format!("{calls} x {LONG_CALL} (example)");
    let unbounded = format!("1 x {LONG_MESSAGES} (Unbounded)");
    let runs = [
        tokio::spawn(long_run(example, pid, addrs[0], calls, LONG_CALL))
            .await
            .unwrap(),
        tokio::spawn(long_run(unbounded, pid, addrs[1], 1, LONG_MESSAGES))
            .await
            .unwrap(),
    ];

    let child_ticks = process_cpu_ticks(pid);
    // Closing its stdin ends the child; kill it if it lingers.
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    println!();
    println!(
        "long NDJSON runs over HTTP/1.1, {LONG_MESSAGES} messages each; the server in a child \
         process (pid {pid}, 1-worker runtime), the client reads and discards; server VmRSS \
         idle (started, no call yet): {idle_kib} KiB"
    );
    println!();
    println!(
        "| run                        | msg/s  | B/msg | s    | server CPU | client CPU | before KiB | after 1/10 KiB | peak KiB (VmHWM / sampled) | end KiB | peak - idle KiB | RssAnon before / end KiB |"
    );
    println!(
        "|----------------------------|-------:|------:|-----:|-----------:|-----------:|-----------:|---------------:|---------------------------:|--------:|----------------:|-------------------------:|"
    );
    for run in &runs {
        assert_eq!(run.messages, LONG_MESSAGES as u64, "{}", run.label);
        let peak = run.hwm_kib.unwrap_or(0).max(run.sampled_peak_kib);
        println!(
            "| {:<26} | {:>6.0} | {:>5.0} | {:>4.1} | {:>9.0}% | {:>9.0}% | {:>10} | {:>14} | {:>26} | {:>7} | {:>15} | {:>24} |",
            run.label,
            run.messages as f64 / run.seconds,
            run.bytes as f64 / run.messages as f64,
            run.seconds,
            run.server_cpu * 100.0,
            run.client_cpu * 100.0,
            run.before_kib,
            run.tenth_kib,
            format!(
                "{} / {}",
                run.hwm_kib.map_or("-".to_owned(), |k| k.to_string()),
                run.sampled_peak_kib
            ),
            run.end_kib,
            peak.saturating_sub(idle_kib),
            format!("{} / {}", run.anon_before_kib, run.anon_end_kib)
        );
    }
    println!();
    println!("{}", machine.others_with(child_ticks));
}

// -------------------------------------------------------------------- RSS --

/// Samples the process's VmRSS every 5 ms while a run is going on. Server and
/// client share the process, so a delta is the growth of both sides during
/// that run (connections, buffers, allocator arenas); memory the allocator
/// kept from an earlier run is reused without showing up, so the first
/// round's numbers are the telling ones and later ones are near zero.
struct RssProbe {
    /// 0: idle, 1: sampling, 2: the probe is gone (the thread ends).
    state: Arc<AtomicU8>,
    peak: Arc<AtomicU64>,
    status: String,
}

fn status_kib(field: &str) -> u64 {
    status_kib_in("/proc/self/status", field)
}

/// A `kB` field of a `/proc/<pid>/status` file, 0 if unreadable.
fn status_kib_in(status: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(status).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

impl RssProbe {
    /// Samples this process every 5 ms.
    fn new() -> Self {
        Self::of("/proc/self/status".to_owned(), Duration::from_millis(5))
    }

    /// Samples the process of `status` (a `/proc/<pid>/status`) every `every`.
    fn of(status: String, every: Duration) -> Self {
        let state = Arc::new(AtomicU8::new(0));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p, path) = (state.clone(), peak.clone(), status.clone());
        std::thread::Builder::new()
            .name("rss".into())
            .spawn(move || {
                loop {
                    match s.load(Ordering::Relaxed) {
                        1 => {
                            p.fetch_max(status_kib_in(&path, "VmRSS:"), Ordering::Relaxed);
                        }
                        2 => return,
                        _ => {}
                    }
                    std::thread::sleep(every);
                }
            })
            .unwrap();
        Self {
            state,
            peak,
            status,
        }
    }

    fn start(&self) -> u64 {
        let now = status_kib_in(&self.status, "VmRSS:");
        self.peak.store(now, Ordering::Relaxed);
        self.state.store(1, Ordering::Relaxed);
        now
    }

    fn stop(&self, before: u64) -> u64 {
        self.state.store(0, Ordering::Relaxed);
        let peak = self
            .peak
            .load(Ordering::Relaxed)
            .max(status_kib_in(&self.status, "VmRSS:"));
        peak.saturating_sub(before)
    }
}

impl Drop for RssProbe {
    fn drop(&mut self) {
        self.state.store(2, Ordering::Relaxed);
    }
}

// ------------------------------------------------------------------- main --

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn runtime(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(name)
        .enable_all()
        .build()
        .unwrap()
}

/// The unary rows: `ROUNDS` interleaved rounds, then their table (medians).
fn unary_section(servers: &Servers, rss: &RssProbe, client_rt: &tokio::runtime::Runtime) {
    let mut configs = vec![
        Config::A,
        Config::B,
        Config::C,
        Config::E,
        Config::E2,
        Config::F,
    ];
    if std::env::var_os("LOAD_SKIP_REST").is_none() {
        configs.insert(3, Config::D);
    }
    let sizes = [Size::Small, Size::Large];
    let payloads: Vec<Payload> = sizes.iter().map(|&s| payload(s)).collect();

    println!(
        "load: {IN_FLIGHT} in flight; gRPC/h2c over {CONNECTIONS} connections, HTTP/1.1 over \
         {IN_FLIGHT}; warm-up {WARMUP:?}, measured {MEASURE:?}, {ROUNDS} rounds; \
         server runtime 1 worker, client runtime 1 worker; {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (size, p) in sizes.iter().zip(&payloads) {
        println!(
            "payload {}: JSON request {} B, protobuf request {} B",
            size.name(),
            p.json.len(),
            p.grpc.encoded_len()
        );
    }

    let machine = Machine::now();
    let mut results: HashMap<(usize, usize), Vec<Run>> = HashMap::new();
    client_rt.block_on(async {
        for round in 0..ROUNDS {
            for (si, p) in payloads.iter().enumerate() {
                for (ci, &config) in configs.iter().enumerate() {
                    let r = run(config, config.addr(servers), p, rss).await;
                    eprintln!(
                        "round {} {:<18} {:<7} {:>9.0} req/s  p50 {:>6} us  p99 {:>6} us",
                        round + 1,
                        config.name(),
                        sizes[si].name(),
                        r.rps,
                        r.p50_us,
                        r.p99_us
                    );
                    results.entry((ci, si)).or_default().push(r);
                }
            }
        }
    });

    let rps = |ci: usize, si: usize| median(results[&(ci, si)].iter().map(|r| r.rps).collect());
    println!();
    println!(
        "| config            | payload | req/s (median) | p50 us | p99 us | vs limit      | answer B | RSS delta KiB (round 1) |"
    );
    println!(
        "|-------------------|---------|---------------:|-------:|-------:|---------------|---------:|------------------------:|"
    );
    for (si, size) in sizes.iter().enumerate() {
        for (ci, &config) in configs.iter().enumerate() {
            let runs = &results[&(ci, si)];
            let p50 = median(runs.iter().map(|r| r.p50_us as f64).collect());
            let p99 = median(runs.iter().map(|r| r.p99_us as f64).collect());
            let ratio = match config.limit() {
                Some(limit) => match configs.iter().position(|&c| c == limit) {
                    Some(li) => format!(
                        "{:.2} ({}/{})",
                        rps(ci, si) / rps(li, si),
                        config.name()[..2].trim(),
                        limit.name()[..2].trim()
                    ),
                    None => "-".to_owned(),
                },
                None => "limit".to_owned(),
            };
            println!(
                "| {:<17} | {:<7} | {:>14.0} | {:>6.0} | {:>6.0} | {:<13} | {:>8} | {:>23} |",
                config.name(),
                size.name(),
                rps(ci, si),
                p50,
                p99,
                ratio,
                runs[0].response_bytes,
                runs[0].rss_delta_kib
            );
        }
    }
    println!();
    println!(
        "process VmHWM (peak RSS, servers + client, start-up and unary rows): {} KiB",
        status_kib("VmHWM:")
    );
    println!("{}", machine.others());
}

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child_server();
    }
    let server_rt = runtime("server");
    let client_rt = runtime("load");
    let servers = server_rt.block_on(start_servers());
    let rss = RssProbe::new();

    if std::env::var_os("LOAD_SKIP_UNARY").is_none() {
        unary_section(&servers, &rss, &client_rt);
    }
    if std::env::var_os("LOAD_SKIP_STREAM").is_none() {
        client_rt.block_on(stream_section(&servers, &rss));
    }
    if std::env::var_os("LOAD_SKIP_LONG").is_none() {
        client_rt.block_on(long_section());
    }
    // Servers are detached tasks; dropping the runtimes ends them.
    client_rt.shutdown_background();
    server_rt.shutdown_background();
}
