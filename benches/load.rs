//! Closed-loop load over loopback: bare tonic, tonic + `DualProtocolLayer`
//! (gRPC and JSON, HTTP/1.1 and h2c) and a hand-written axum JSON handler,
//! all in one process, interleaved round-robin.
//!
//! `CARGO_TARGET_DIR=/work/target-bench cargo bench --bench load`
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

#[path = "../examples/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

// -------------------------------------------------------------------- RSS --

/// Samples the process's VmRSS every 5 ms while a run is going on. Server and
/// client share the process, so a delta is the growth of both sides during
/// that run (connections, buffers, allocator arenas); memory the allocator
/// kept from an earlier run is reused without showing up, so the first
/// round's numbers are the telling ones and later ones are near zero.
struct RssProbe {
    sampling: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
}

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

impl RssProbe {
    fn new() -> Self {
        let sampling = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (sampling.clone(), peak.clone());
        std::thread::Builder::new()
            .name("rss".into())
            .spawn(move || {
                loop {
                    if s.load(Ordering::Relaxed) {
                        p.fetch_max(status_kib("VmRSS:"), Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
            .unwrap();
        Self { sampling, peak }
    }

    fn start(&self) -> u64 {
        let now = status_kib("VmRSS:");
        self.peak.store(now, Ordering::Relaxed);
        self.sampling.store(true, Ordering::Relaxed);
        now
    }

    fn stop(&self, before: u64) -> u64 {
        self.sampling.store(false, Ordering::Relaxed);
        let peak = self.peak.load(Ordering::Relaxed).max(status_kib("VmRSS:"));
        peak.saturating_sub(before)
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

fn main() {
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

    let server_rt = runtime("server");
    let client_rt = runtime("load");
    let servers = server_rt.block_on(start_servers());
    let rss = RssProbe::new();

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

    let mut results: HashMap<(usize, usize), Vec<Run>> = HashMap::new();
    client_rt.block_on(async {
        for round in 0..ROUNDS {
            for (si, p) in payloads.iter().enumerate() {
                for (ci, &config) in configs.iter().enumerate() {
                    let r = run(config, config.addr(&servers), p, &rss).await;
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
        "process VmHWM (peak RSS, servers + client, whole run): {} KiB",
        status_kib("VmHWM:")
    );
    // Servers are detached tasks; dropping the runtimes ends them.
    client_rt.shutdown_background();
    server_rt.shutdown_background();
}
