//! Closed-loop load over loopback, each server in its own process pinned to
//! one core and the load generator pinned to the other: bare tonic, tonic +
//! `DualProtocolLayer` (gRPC, JSON over HTTP/1.1 and h2c, REST), the layer
//! on `axum::serve`, and a hand-written axum `Json<T>` handler (the JSON
//! limit) over HTTP/1.1 and h2c; then server-streaming rows (gRPC and
//! NDJSON) and two long NDJSON runs that watch the server's memory.
//!
//! `cargo bench --bench load` (prints its expected duration first; ~8.5 min
//! with the defaults). Knobs: `LOAD_SECS` (measured window per run, default
//! 5), `LOAD_ROUNDS` (default 5), `LOAD_QUICK=1` (a smoke run: 1 s windows,
//! 2 rounds, 0.3 s warm-up), `LOAD_SKIP_UNARY=1`, `LOAD_SKIP_STREAM=1`,
//! `LOAD_SKIP_LONG=1`.
//!
//! Processes: every server is this binary again, started with `LOAD_SERVER`
//! naming which server, serving on 127.0.0.1:0 from a tokio runtime with ONE
//! worker thread until its stdin closes. With two or more CPUs allowed, the
//! bench pins itself (the load generator) to the first and every server to
//! the second (`sched_setaffinity`, before any thread starts, so every
//! thread of each process inherits it); with one CPU it runs unpinned and
//! says so. All servers start at once and idle between their runs; each
//! run loads one server while the others sleep. The numbers are "one server
//! core against one client core" and the CPU columns show which side was
//! the limit: the server process's and this process's busy share of one
//! core in the window, and what other processes took of the machine.
//!
//! Client: one current-thread tokio runtime. gRPC rows use tonic's
//! generated `EchoServiceClient` (what real users run), one `Channel` per
//! connection, cloned per task. Every HTTP/JSON row uses the same raw
//! `hyper::client::conn::{http1, http2}` code, one `SendRequest` per
//! connection: no pool, no per-request connection lookup or `Uri` parsing
//! of a legacy `Client`, so the load tool spends as little of its core as
//! possible and identically for every HTTP row. HTTP/1.1 has no
//! multiplexing (hyper does not pipeline): HTTP/1.1 rows open `IN_FLIGHT`
//! connections (one per in-flight request, as a keep-alive pool would under
//! this load); h2c and gRPC rows open `CONNECTIONS` and multiplex
//! `IN_FLIGHT / CONNECTIONS` streams on each. Every row keeps `IN_FLIGHT`
//! requests in flight.
//!
//! Rounds: one round runs every row once, in the order of the tables (A B C
//! D E E2 F G at ~200 B, the same at 16 KiB without D and G, then SA SB SC
//! SF); `LOAD_ROUNDS` rounds, so slow drift of the machine spreads over
//! every row alike. Each run connects, warms up (`WARMUP`, not counted),
//! then counts the requests (or stream messages) that complete in its
//! window. Tables print per row the median over rounds and the spread as
//! min-max over rounds; ratios are ratios of medians, with the min-max of
//! the same ratio taken within each round (rows of one round ran within a
//! minute of each other).
//!
//! Streaming rows: messages/s of `echo.v1.EchoService/EchoStream`, 1,000
//! answers of ~130-140 B per call, 4 calls in flight back to back, counted
//! as they arrive during the window. SA (bare tonic) and SB (tonic + layer:
//! passthrough) are gRPC through tonic's `EchoServiceClient::echo_stream`
//! over 2 connections; SC (HTTP/1.1, 4 connections) and SF (h2c, 2
//! connections) are NDJSON through the layer with the raw hyper client of
//! the HTTP rows: `POST` `{"message":...,"repeat":1000}`, read the answer
//! frame by frame counting lines and discarding them, check 200,
//! `application/x-ndjson`, 1,000 lines and a last line that is no
//! `{"error":...}`. "msg/server-CPU-s" (messages/s over the server's busy
//! share) is the server's cost per message whichever side was the limit.
//!
//! Long runs: 1,000,000 NDJSON messages over one HTTP/1.1 connection to a
//! client that reads and discards them, from a server process of its own
//! (pinned like the others), so that its VmRSS is the server's alone. Two
//! runs: 100 calls of 10,000 against the example's `Echo` (it bounds
//! `repeat` at 10,000), then ONE call of 1,000,000 against `Unbounded`, a
//! bench-local `EchoService` without that bound (same generated server,
//! same layer). Printed: the server's VmRSS idle (started, no call yet),
//! before the run (after a 1,000-message warm-up call on the same
//! connection), a tenth of the way in and at the end; the peak as VmHWM
//! (reset through `/proc/<pid>/clear_refs` just before the run) and as
//! VmRSS sampled every 2 ms (VmHWM can miss a peak the allocator gave
//! back), and RssAnon.

#[path = "../examples/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead as _, BufReader, Write as _};
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

/// Requests kept in flight by the load generator, for every unary row.
const IN_FLIGHT: usize = 32;
/// Connections for h2c and gRPC (multiplexed); HTTP/1.1 uses `IN_FLIGHT`.
const CONNECTIONS: usize = 8;
/// Raw payload bytes of the large request (base64: 16 KiB of JSON text).
const LARGE_PAYLOAD: usize = 12 * 1024;

const RPC_PATH: &str = "/echo.v1.EchoService/Echo";
const REST_PATH: &str = "/v1/echo";
const AXUM_PATH: &str = "/echo";

/// Set in a server process: which server it runs (`Server::key`).
const SERVER_ENV: &str = "LOAD_SERVER";
/// Set in a server process: the CPU it pins itself to.
const SERVER_CPU_ENV: &str = "LOAD_SERVER_CPU";

// --------------------------------------------------------------- settings --

/// The run's length, from the environment.
#[derive(Debug, Clone, Copy)]
struct Settings {
    /// Discarded time at the start of each run (connections, caches, h2
    /// windows, the allocator's first growth).
    warmup: Duration,
    /// Measured time of each run.
    window: Duration,
    rounds: usize,
    quick: bool,
    unary: bool,
    stream: bool,
    long: bool,
}

impl Settings {
    fn from_env() -> Self {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| v != "0" && !v.is_empty());
        let quick = set("LOAD_QUICK");
        let (window, rounds, warmup) = if quick {
            (1.0, 2, Duration::from_millis(300))
        } else {
            (5.0, 5, Duration::from_millis(500))
        };
        let window = std::env::var("LOAD_SECS")
            .ok()
            .map(|v| v.parse::<f64>().expect("LOAD_SECS: seconds"))
            .unwrap_or(window);
        let rounds = std::env::var("LOAD_ROUNDS")
            .ok()
            .map(|v| v.parse::<usize>().expect("LOAD_ROUNDS: a count"))
            .unwrap_or(rounds)
            .max(1);
        Self {
            warmup,
            window: Duration::from_secs_f64(window),
            rounds,
            quick,
            unary: !set("LOAD_SKIP_UNARY"),
            stream: !set("LOAD_SKIP_STREAM"),
            long: !set("LOAD_SKIP_LONG"),
        }
    }
}

// ---------------------------------------------------------------- pinning --

/// The CPUs this process may run on, in order (empty when unknown).
#[cfg(target_os = "linux")]
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is plain data (all-zero is the empty set), and
    // `sched_getaffinity` writes at most `size_of::<cpu_set_t>()` bytes.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

#[cfg(not(target_os = "linux"))]
fn allowed_cpus() -> Vec<usize> {
    Vec::new()
}

/// Pins the calling thread, and so every thread it starts afterwards, to
/// `cpu`. Called first thing in `main`, it pins the whole process.
#[cfg(target_os = "linux")]
fn pin(cpu: usize) -> bool {
    // SAFETY: as in `allowed_cpus`; `CPU_SET` bounds-checks `cpu`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn pin(_cpu: usize) -> bool {
    false
}

/// `Cpus_allowed_list` of a process, as the kernel sees it.
fn cpus_of(pid: u32) -> String {
    status_field(&format!("/proc/{pid}/status"), "Cpus_allowed_list:")
        .unwrap_or_else(|| "?".to_owned())
}

/// CPUs of the machine (the `cpuN` lines of `/proc/stat`); not
/// `available_parallelism`, which counts this process's affinity.
fn machine_cpus() -> usize {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let n = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    n.max(1)
}

// ---------------------------------------------------------------- servers --

/// The servers, each in a process of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    /// `tonic::transport::Server`, `accept_http1(true)`, no layer.
    Tonic,
    /// The same with `.layer(DualProtocolLayer::new())`.
    TonicLayer,
    /// `axum::serve` of tonic's routes as an axum `Router` with the layer
    /// around it, as the README shows.
    AxumLayer,
    /// The hand-written `Json<T>` handler on `axum::serve` (HTTP/1.1).
    AxumJson,
    /// The same handler on hyper-util's auto builder (h2c).
    AxumJsonH2c,
    /// The long runs: the example's `Echo` and `Unbounded`, each behind the
    /// layer on tonic's `Server`, on two ports.
    Long,
}

impl Server {
    const ALL: [Server; 6] = [
        Server::Tonic,
        Server::TonicLayer,
        Server::AxumLayer,
        Server::AxumJson,
        Server::AxumJsonH2c,
        Server::Long,
    ];

    fn key(self) -> &'static str {
        match self {
            Server::Tonic => "tonic",
            Server::TonicLayer => "tonic+layer",
            Server::AxumLayer => "axum::serve+layer",
            Server::AxumJson => "axum Json<T>",
            Server::AxumJsonH2c => "axum Json<T> h2c",
            Server::Long => "long runs",
        }
    }

    async fn start(self) -> Vec<SocketAddr> {
        match self {
            Server::Tonic => vec![serve_tonic(false).await],
            Server::TonicLayer => vec![serve_tonic(true).await],
            Server::AxumLayer => vec![serve_axum_layer().await],
            Server::AxumJson => vec![serve_axum_h1().await],
            Server::AxumJsonH2c => vec![serve_axum_auto().await],
            Server::Long => vec![serve_layered(Echo).await, serve_layered(Unbounded).await],
        }
    }
}

/// A server process (this binary with `SERVER_ENV` set): it prints its
/// addresses on one line and serves until its stdin closes, so it ends with
/// the bench even when the bench panics.
struct Child {
    server: Server,
    child: std::process::Child,
    addrs: Vec<SocketAddr>,
    /// VmRSS once started, before any call.
    idle_kib: u64,
}

impl Child {
    fn start(server: Server, cpu: Option<usize>) -> Self {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .env(SERVER_ENV, server.key())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        if let Some(cpu) = cpu {
            command.env(SERVER_CPU_ENV, cpu.to_string());
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addrs = line
            .split_whitespace()
            .map(|a| a.parse().expect("a server's address"))
            .collect();
        let idle_kib = status_kib_in(&format!("/proc/{}/status", child.id()), "VmRSS:");
        Self {
            server,
            child,
            addrs,
            idle_kib,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    fn status_kib(&self, field: &str) -> u64 {
        status_kib_in(&format!("/proc/{}/status", self.pid()), field)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // Closing its stdin ends the child; kill it if it lingers.
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok(None) = self.child.try_wait() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The server process's `main`.
fn child_main(key: &str) {
    let server = Server::ALL
        .into_iter()
        .find(|s| s.key() == key)
        .expect("a known LOAD_SERVER");
    if let Ok(cpu) = std::env::var(SERVER_CPU_ENV) {
        assert!(pin(cpu.parse().unwrap()), "pinning the server to CPU {cpu}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("server")
        .enable_all()
        .build()
        .unwrap();
    let addrs = runtime.block_on(server.start());
    let line: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
    println!("{}", line.join(" "));
    std::io::stdout().flush().unwrap();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    runtime.shutdown_background();
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

/// The layer on `axum::serve` (HTTP/1.1; axum's default features have no
/// HTTP/2): the same `EchoServiceServer` as tonic's routes turned into an
/// axum `Router`, the layer around the whole router.
async fn serve_axum_layer() -> SocketAddr {
    use axum::serve::ListenerExt as _;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let router = tonic::service::Routes::new(EchoServiceServer::new(Echo)).into_axum_router();
    let app = tower::ServiceBuilder::new()
        .map_response(|r: http::Response<_>| r.map(axum::body::Body::new))
        .layer(DualProtocolLayer::new())
        .service(router);
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
        )
        .await
        .unwrap()
    });
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

// -------------------------------------------------------------------- CPU --

/// CPU time (user + system) of process `pid` so far, in clock ticks
/// (USER_HZ, 100 per second on Linux).
fn process_cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // `pid (comm) state ...`: comm may hold spaces, so split at ')'.
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
    // After comm: state is field 3, utime 14, stime 15.
    field(11) + field(12)
}

/// Busy ticks of the whole machine so far (`cpu  user nice system idle
/// iowait irq softirq steal ...`: all but idle and iowait).
fn machine_busy_ticks() -> u64 {
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
    field(0) + field(1) + field(2) + field(5) + field(6) + field(7)
}

/// CPU clocks at one instant: the machine's, this process's (the load
/// generator) and one server process's.
#[derive(Debug, Clone, Copy)]
struct Clocks {
    at: Instant,
    machine: u64,
    load: u64,
    server: u64,
    server_pid: u32,
}

impl Clocks {
    fn now(server_pid: u32) -> Self {
        Self {
            at: Instant::now(),
            machine: machine_busy_ticks(),
            load: process_cpu_ticks(std::process::id()),
            server: process_cpu_ticks(server_pid),
            server_pid,
        }
    }

    /// The shares of CPU since `self`.
    fn elapsed(&self) -> Cpu {
        let now = Clocks::now(self.server_pid);
        let seconds = (now.at - self.at).as_secs_f64();
        let ticks = |a: u64, b: u64| b.saturating_sub(a) as f64 / 100.0;
        let server = ticks(self.server, now.server);
        let load = ticks(self.load, now.load);
        let machine = ticks(self.machine, now.machine);
        Cpu {
            seconds,
            server: server / seconds,
            load: load / seconds,
            others: (machine - server - load).max(0.0) / seconds / machine_cpus() as f64,
        }
    }
}

/// Busy shares over a window: `server` and `load` of one core each,
/// `others` (every other process, and steal) of the whole machine.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    seconds: f64,
    server: f64,
    load: f64,
    others: f64,
}

// ------------------------------------------------------------------ unary --

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    /// Bare tonic, gRPC.
    A,
    /// tonic + layer, gRPC (passthrough).
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
    /// The layer on `axum::serve`, JSON over HTTP/1.1.
    G,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Grpc,
    Http1,
    H2c,
}

impl Row {
    fn name(self) -> &'static str {
        match self {
            Row::A => "A  tonic gRPC",
            Row::B => "B  tonic+layer gRPC",
            Row::C => "C  tonic+layer JSON h1",
            Row::D => "D  tonic+layer REST h1",
            Row::E => "E  axum Json<T> h1",
            Row::E2 => "E2 axum Json<T> h2c",
            Row::F => "F  tonic+layer JSON h2c",
            Row::G => "G  axum::serve+layer JSON h1",
        }
    }

    fn letter(self) -> &'static str {
        self.name()[..2].trim()
    }

    fn server(self) -> Server {
        match self {
            Row::A => Server::Tonic,
            Row::B | Row::C | Row::D | Row::F => Server::TonicLayer,
            Row::E => Server::AxumJson,
            Row::E2 => Server::AxumJsonH2c,
            Row::G => Server::AxumLayer,
        }
    }

    fn wire(self) -> Wire {
        match self {
            Row::A | Row::B => Wire::Grpc,
            Row::C | Row::D | Row::E | Row::G => Wire::Http1,
            Row::E2 | Row::F => Wire::H2c,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Row::D => REST_PATH,
            Row::E | Row::E2 => AXUM_PATH,
            _ => RPC_PATH,
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

/// The unary rows of one round, in order. D (REST) and G (the layer on
/// `axum::serve`) run at ~200 B only: what they add to C is per request,
/// not per byte, and each row costs `rounds x (warm-up + window)`.
const CASES: [(Row, Size); 14] = [
    (Row::A, Size::Small),
    (Row::B, Size::Small),
    (Row::C, Size::Small),
    (Row::D, Size::Small),
    (Row::E, Size::Small),
    (Row::E2, Size::Small),
    (Row::F, Size::Small),
    (Row::G, Size::Small),
    (Row::A, Size::Large),
    (Row::B, Size::Large),
    (Row::C, Size::Large),
    (Row::E, Size::Large),
    (Row::E2, Size::Large),
    (Row::F, Size::Large),
];

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

/// One unary run's result.
#[derive(Debug, Clone, Copy)]
struct Run {
    rps: f64,
    p50_us: u64,
    p99_us: u64,
    cpu: Cpu,
    response_bytes: usize,
}

/// Sends requests back to back until `end`, recording the latency of those
/// that complete inside `[measure_start, end]`.
async fn closed_loop<F, Fut>(mut send: F, measure_start: Instant, end: Instant) -> Vec<u32>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut latencies = Vec::with_capacity(1 << 16);
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

/// Waits for the window and measures the CPU in it.
async fn window(server_pid: u32, measure_start: Instant, end: Instant) -> Cpu {
    tokio::time::sleep_until(measure_start.into()).await;
    let clocks = Clocks::now(server_pid);
    tokio::time::sleep_until(end.into()).await;
    clocks.elapsed()
}

/// One run of `row` with `payload` against `server`: connect, warm up,
/// measure.
async fn run(row: Row, server: &Child, payload: &Payload, s: &Settings) -> Run {
    let addr = server.addr();
    let host = addr.to_string();
    let response_bytes = Arc::new(AtomicUsize::new(0));
    let mut tasks: JoinSet<Vec<u32>> = JoinSet::new();

    // Connect everything first; the clock starts afterwards.
    enum Senders {
        Grpc(Vec<Channel>),
        Http1(Vec<hyper::client::conn::http1::SendRequest<Full<Bytes>>>),
        H2c(Vec<hyper::client::conn::http2::SendRequest<Full<Bytes>>>),
    }
    let senders = match row.wire() {
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

    let measure_start = Instant::now() + s.warmup;
    let end = measure_start + s.window;
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
                let path = row.path();
                tasks.spawn(async move {
                    let mut latencies = Vec::with_capacity(1 << 16);
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
            let uri = format!("http://{addr}{}", row.path());
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

    let cpu = window(server.pid(), measure_start, end).await;
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.unwrap());
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as u64
    };
    Run {
        rps: latencies.len() as f64 / s.window.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        cpu,
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
/// The text of every answer. With the echoed request metadata and the
/// index an answer is ~130 B as protobuf and ~140 B as an NDJSON line (the
/// table prints the size per row).
const STREAM_MESSAGE: &str = "tick 42 of shelf 7: a line of a long answer";
/// Messages of each long NDJSON run.
const LONG_MESSAGES: i32 = 1_000_000;
/// The example's bound on `repeat`: the long run on the example service is
/// `LONG_MESSAGES / LONG_CALL` calls of this many answers.
const LONG_CALL: i32 = common::MAX_REPEAT;

const STREAM_PATH: &str = "/echo.v1.EchoService/EchoStream";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamRow {
    /// Bare tonic, gRPC, `EchoServiceClient::echo_stream`.
    Sa,
    /// tonic + layer, gRPC (passthrough), the same client.
    Sb,
    /// tonic + layer, NDJSON over HTTP/1.1.
    Sc,
    /// tonic + layer, NDJSON over h2c.
    Sf,
}

const STREAM_ROWS: [StreamRow; 4] = [StreamRow::Sa, StreamRow::Sb, StreamRow::Sc, StreamRow::Sf];

impl StreamRow {
    fn name(self) -> &'static str {
        match self {
            StreamRow::Sa => "SA tonic gRPC",
            StreamRow::Sb => "SB tonic+layer gRPC",
            StreamRow::Sc => "SC tonic+layer NDJSON h1",
            StreamRow::Sf => "SF tonic+layer NDJSON h2c",
        }
    }

    fn letter(self) -> &'static str {
        &self.name()[..2]
    }

    fn server(self) -> Server {
        match self {
            StreamRow::Sa => Server::Tonic,
            _ => Server::TonicLayer,
        }
    }

    fn wire(self) -> Wire {
        match self {
            StreamRow::Sa | StreamRow::Sb => Wire::Grpc,
            StreamRow::Sc => Wire::Http1,
            StreamRow::Sf => Wire::H2c,
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

/// One streaming run's result.
#[derive(Debug, Clone, Copy)]
struct StreamRun {
    messages_per_s: f64,
    bytes_per_message: f64,
    /// HTTP body frames the client read per message (NDJSON rows; 0 for
    /// gRPC, whose client does not show them): 1.0 means one frame, one
    /// HTTP/1.1 chunk or h2 DATA frame, per message.
    frames_per_message: f64,
    cpu: Cpu,
}

impl StreamRun {
    /// Messages per second of server CPU time: the server's cost per
    /// message, whichever side was the limit.
    fn per_server_cpu(&self) -> f64 {
        self.messages_per_s / self.cpu.server.max(0.01)
    }
}

/// One streaming run of `row`: connect, `STREAMS` calls in flight back to
/// back, count the messages that arrive in the measured window.
async fn stream_run(row: StreamRow, server: &Child, s: &Settings) -> StreamRun {
    let addr = server.addr();
    let host = addr.to_string();
    let tally = Arc::new(Tally::default());
    let mut tasks: JoinSet<()> = JoinSet::new();
    let repeat = STREAM_REPEAT;

    let measure_start;
    let end;
    match row.wire() {
        Wire::Grpc => {
            let mut channels = Vec::new();
            for _ in 0..STREAM_CONNECTIONS {
                let endpoint = Endpoint::from_shared(format!("http://{addr}")).unwrap();
                channels.push(endpoint.connect().await.unwrap());
            }
            measure_start = Instant::now() + s.warmup;
            end = measure_start + s.window;
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
            measure_start = Instant::now() + s.warmup;
            end = measure_start + s.window;
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
            measure_start = Instant::now() + s.warmup;
            end = measure_start + s.window;
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

    // The window: the counts and CPU clocks at its start and at its end
    // (the calls in progress at `end` are read to their end but not
    // counted).
    tokio::time::sleep_until(measure_start.into()).await;
    let clocks = Clocks::now(server.pid());
    let (m0, b0, f0) = tally.get();
    tokio::time::sleep_until(end.into()).await;
    let (m1, b1, f1) = tally.get();
    let cpu = clocks.elapsed();
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let messages = (m1 - m0) as f64;
    StreamRun {
        messages_per_s: messages / cpu.seconds,
        bytes_per_message: (b1 - b0) as f64 / messages.max(1.0),
        frames_per_message: (f1 - f0) as f64 / messages.max(1.0),
        cpu,
    }
}

// ------------------------------------------------------ long NDJSON runs --

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
    /// process (the load generator).
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
    let (server0, client0) = (
        process_cpu_ticks(pid),
        process_cpu_ticks(std::process::id()),
    );
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
    let (server1, client1) = (
        process_cpu_ticks(pid),
        process_cpu_ticks(std::process::id()),
    );
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
/// server process of their own, so that its memory is the server's alone.
/// Two ways: the example's `Echo` (`repeat` is bounded at 10,000, so 100
/// calls of 10,000 on one keep-alive connection) and `Unbounded` (one call
/// of 1,000,000).
async fn long_section(server_cpu: Option<usize>) {
    let child = Child::start(Server::Long, server_cpu);
    let pid = child.pid();
    let clocks = Clocks::now(pid);
    let calls = (LONG_MESSAGES / LONG_CALL) as u32;
    let example = format!("{calls} x {LONG_CALL} (example)");
    let unbounded = format!("1 x {LONG_MESSAGES} (Unbounded)");
    let runs = [
        long_run(example, pid, child.addrs[0], calls, LONG_CALL).await,
        long_run(unbounded, pid, child.addrs[1], 1, LONG_MESSAGES).await,
    ];
    let cpu = clocks.elapsed();

    println!();
    println!(
        "Long NDJSON runs over HTTP/1.1, {LONG_MESSAGES} messages each; the server in a process \
         of its own (pid {pid}, CPUs {}, 1-worker runtime), the client reads and discards; \
         server VmRSS idle (started, no call yet): {} KiB",
        cpus_of(pid),
        child.idle_kib
    );
    println!();
    println!(
        "| run | msg/s | B/msg | s | server CPU | load CPU | before KiB | after 1/10 KiB | peak KiB (VmHWM / sampled) | end KiB | peak - idle KiB | RssAnon before / end KiB |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for run in &runs {
        assert_eq!(run.messages, LONG_MESSAGES as u64, "{}", run.label);
        let peak = run.hwm_kib.unwrap_or(0).max(run.sampled_peak_kib);
        println!(
            "| {} | {:.0} | {:.0} | {:.1} | {:.0}% | {:.0}% | {} | {} | {} / {} | {} | {} | {} / {} |",
            run.label,
            run.messages as f64 / run.seconds,
            run.bytes as f64 / run.messages as f64,
            run.seconds,
            run.server_cpu * 100.0,
            run.client_cpu * 100.0,
            run.before_kib,
            run.tenth_kib,
            run.hwm_kib.map_or("-".to_owned(), |k| k.to_string()),
            run.sampled_peak_kib,
            run.end_kib,
            peak.saturating_sub(child.idle_kib),
            run.anon_before_kib,
            run.anon_end_kib
        );
    }
    println!();
    println!(
        "Other processes and steal took {:.0}% of the machine during the long runs.",
        cpu.others * 100.0
    );
}

// -------------------------------------------------------------------- RSS --

/// Samples a process's VmRSS every so often while a run is going on.
struct RssProbe {
    /// 0: idle, 1: sampling, 2: the probe is gone (the thread ends).
    state: Arc<AtomicU8>,
    peak: Arc<AtomicU64>,
    status: String,
}

/// A field of a `/proc/<pid>/status` file, trimmed.
fn status_field(status: &str, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(status).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .map(|rest| rest.trim().to_owned())
}

/// A `kB` field of a `/proc/<pid>/status` file, 0 if unreadable.
fn status_kib_in(status: &str, field: &str) -> u64 {
    status_field(status, field)
        .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

impl RssProbe {
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

// ----------------------------------------------------------------- report --

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// `lo-hi` of `values`, with `digits` decimals.
fn min_max(values: &[f64], digits: usize) -> String {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{lo:.digits$}-{hi:.digits$}")
}

/// A target of the performance issue for a ratio.
#[derive(Debug, Clone, Copy)]
enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

/// A tracked ratio: `num / den` of the medians over rounds, and the same
/// ratio within each round (min-max).
struct Ratio {
    name: String,
    what: &'static str,
    num: Vec<f64>,
    den: Vec<f64>,
    /// The same ratio per second of server CPU (`None` for latencies).
    per_cpu: Option<(Vec<f64>, Vec<f64>)>,
    goal: Option<Goal>,
}

impl Ratio {
    fn print(&self) {
        let of_medians = median(self.num.clone()) / median(self.den.clone());
        let per_round: Vec<f64> = self.num.iter().zip(&self.den).map(|(n, d)| n / d).collect();
        let per_cpu = self.per_cpu.as_ref().map_or("-".to_owned(), |(n, d)| {
            format!("{:.2}", median(n.clone()) / median(d.clone()))
        });
        let (goal, met) = match self.goal {
            Some(Goal::AtLeast(goal)) => (format!(">= {goal:.2}"), of_medians >= goal),
            Some(Goal::AtMost(goal)) => (format!("<= {goal:.2}"), of_medians <= goal),
            None => ("-".to_owned(), true),
        };
        let met = match self.goal {
            None => "",
            Some(_) if met => "met",
            Some(_) => "not met",
        };
        println!(
            "| {} | {} | {:.2} | {} | {} | {} | {} |",
            self.name,
            self.what,
            of_medians,
            min_max(&per_round, 2),
            per_cpu,
            goal,
            met
        );
    }
}

/// The unary table, then the streaming table, then the ratios.
fn report(s: &Settings, unary: &[Vec<Run>], streams: &[Vec<StreamRun>]) {
    let mut others: Vec<f64> = Vec::new();
    if s.unary {
        println!();
        println!(
            "Unary: median over {} rounds, spread = min-max over rounds; p99 = the median over \
             rounds of each run's p99 (min-max); CPU = busy share of one core in the window (median); \
             req/server-CPU-s = req/s over the server's share.",
            s.rounds
        );
        println!();
        println!(
            "| row | payload | req/s | min-max | p50 us | p99 us (min-max) | server CPU | load CPU | req/server-CPU-s | answer B |"
        );
        println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (&(row, size), runs) in CASES.iter().zip(unary) {
            let rps: Vec<f64> = runs.iter().map(|r| r.rps).collect();
            let p99: Vec<f64> = runs.iter().map(|r| r.p99_us as f64).collect();
            let med = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
            others.extend(runs.iter().map(|r| r.cpu.others));
            println!(
                "| {} | {} | {:.0} | {} | {:.0} | {:.0} ({}) | {:.0}% | {:.0}% | {:.0} | {} |",
                row.name(),
                size.name(),
                median(rps.clone()),
                min_max(&rps, 0),
                med(|r| r.p50_us as f64),
                median(p99.clone()),
                min_max(&p99, 0),
                med(|r| r.cpu.server) * 100.0,
                med(|r| r.cpu.load) * 100.0,
                med(|r| r.rps / r.cpu.server.max(0.01)),
                runs[0].response_bytes
            );
        }
    }
    if s.stream {
        println!();
        println!(
            "Streams: EchoStream, {STREAM_REPEAT} answers per call, {STREAMS} calls in flight; \
             messages/s, median over {} rounds, spread = min-max over rounds.",
            s.rounds
        );
        println!();
        println!(
            "| row | msg/s | min-max | B/msg | frames/msg | server CPU | load CPU | msg/server-CPU-s |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (&row, runs) in STREAM_ROWS.iter().zip(streams) {
            let rates: Vec<f64> = runs.iter().map(|r| r.messages_per_s).collect();
            let med = |f: fn(&StreamRun) -> f64| median(runs.iter().map(f).collect());
            others.extend(runs.iter().map(|r| r.cpu.others));
            let frames = match row.wire() {
                Wire::Grpc => "-".to_owned(),
                _ => format!("{:.2}", med(|r| r.frames_per_message)),
            };
            println!(
                "| {} | {:.0} | {} | {:.0} | {} | {:.0}% | {:.0}% | {:.0} |",
                row.name(),
                median(rates.clone()),
                min_max(&rates, 0),
                med(|r| r.bytes_per_message),
                frames,
                med(|r| r.cpu.server) * 100.0,
                med(|r| r.cpu.load) * 100.0,
                med(StreamRun::per_server_cpu)
            );
        }
    }

    let mut ratios = Vec::new();
    if s.unary {
        let case = |row: Row, size: Size| {
            let i = CASES.iter().position(|&c| c == (row, size)).unwrap();
            &unary[i]
        };
        let rps = |runs: &[Run]| runs.iter().map(|r| r.rps).collect::<Vec<_>>();
        let per_cpu = |runs: &[Run]| {
            runs.iter()
                .map(|r| r.rps / r.cpu.server.max(0.01))
                .collect::<Vec<_>>()
        };
        let p99 = |runs: &[Run]| runs.iter().map(|r| r.p99_us as f64).collect::<Vec<_>>();
        // (numerator, denominator, payload, p99 instead of req/s, what, target)
        let tracked = [
            (
                Row::C,
                Row::E,
                Size::Small,
                false,
                "JSON h1: layer on tonic / axum Json<T>",
                Some(Goal::AtLeast(0.95)),
            ),
            (
                Row::C,
                Row::E,
                Size::Large,
                false,
                "JSON h1: layer on tonic / axum Json<T>",
                Some(Goal::AtLeast(0.95)),
            ),
            (
                Row::G,
                Row::E,
                Size::Small,
                false,
                "JSON h1: layer on axum::serve / axum Json<T>",
                None,
            ),
            (
                Row::D,
                Row::E,
                Size::Small,
                false,
                "REST h1: layer on tonic / axum Json<T>",
                None,
            ),
            (
                Row::C,
                Row::G,
                Size::Small,
                false,
                "JSON h1 through the layer: tonic's Server / axum::serve",
                None,
            ),
            (
                Row::F,
                Row::E2,
                Size::Small,
                false,
                "JSON h2c: layer on tonic / axum Json<T>",
                Some(Goal::AtLeast(0.95)),
            ),
            (
                Row::F,
                Row::E2,
                Size::Large,
                false,
                "JSON h2c: layer on tonic / axum Json<T>",
                Some(Goal::AtLeast(0.95)),
            ),
            (
                Row::B,
                Row::A,
                Size::Small,
                false,
                "gRPC: tonic + layer / bare tonic",
                Some(Goal::AtLeast(0.99)),
            ),
            (
                Row::B,
                Row::A,
                Size::Large,
                false,
                "gRPC: tonic + layer / bare tonic",
                Some(Goal::AtLeast(0.99)),
            ),
            (
                Row::B,
                Row::A,
                Size::Small,
                true,
                "gRPC p99 latency: tonic + layer / bare tonic",
                Some(Goal::AtMost(1.02)),
            ),
            (
                Row::B,
                Row::A,
                Size::Large,
                true,
                "gRPC p99 latency: tonic + layer / bare tonic",
                Some(Goal::AtMost(1.02)),
            ),
        ];
        for (num, den, size, latency, what, goal) in tracked {
            let (n, d) = (case(num, size), case(den, size));
            ratios.push(Ratio {
                name: format!(
                    "{}{}/{} {}",
                    if latency { "p99 " } else { "" },
                    num.letter(),
                    den.letter(),
                    size.name()
                ),
                what,
                num: if latency { p99(n) } else { rps(n) },
                den: if latency { p99(d) } else { rps(d) },
                per_cpu: (!latency).then(|| (per_cpu(n), per_cpu(d))),
                goal,
            });
        }
    }
    if s.stream {
        let rates = |i: usize| {
            streams[i]
                .iter()
                .map(|r| r.messages_per_s)
                .collect::<Vec<_>>()
        };
        let per_cpu = |i: usize| {
            streams[i]
                .iter()
                .map(StreamRun::per_server_cpu)
                .collect::<Vec<_>>()
        };
        let tracked = [
            (1, 0, "gRPC stream: tonic + layer / bare tonic", None),
            (
                2,
                1,
                "NDJSON h1 / gRPC msg/s, both through the layer",
                Some(Goal::AtLeast(0.8)),
            ),
            (
                3,
                1,
                "NDJSON h2c / gRPC msg/s, both through the layer",
                Some(Goal::AtLeast(0.8)),
            ),
        ];
        for (num, den, what, goal) in tracked {
            ratios.push(Ratio {
                name: format!(
                    "{}/{}",
                    STREAM_ROWS[num].letter(),
                    STREAM_ROWS[den].letter()
                ),
                what,
                num: rates(num),
                den: rates(den),
                per_cpu: Some((per_cpu(num), per_cpu(den))),
                goal,
            });
        }
    }
    if !ratios.is_empty() {
        println!();
        println!(
            "Ratios: of the medians; min-max of the same ratio within each round; \"per server \
             CPU\" compares rates per second of server CPU (what each server spends per request \
             whichever side was the limit)."
        );
        println!();
        println!("| ratio | what | of medians | rounds min-max | per server CPU | target | |");
        println!("| --- | --- | ---: | ---: | ---: | --- | --- |");
        for ratio in &ratios {
            ratio.print();
        }
    }
    if !others.is_empty() {
        println!();
        println!(
            "Other processes and steal during the windows: median {:.1}%, max {:.1}% of the \
             machine{}",
            median(others.clone()) * 100.0,
            others.iter().copied().fold(0.0, f64::max) * 100.0,
            if others.iter().any(|&o| o > 0.05) {
                " (over 5% in some window: this run shared the machine; its numbers are not worth quoting)"
            } else {
                ""
            }
        );
    }
}

// ------------------------------------------------------------------- main --

fn main() {
    if let Ok(key) = std::env::var(SERVER_ENV) {
        return child_main(&key);
    }
    let started = Instant::now();
    let s = Settings::from_env();
    // Pin before any thread starts (the runtime's, the children's
    // stdout readers): threads inherit their creator's affinity.
    let cpus = allowed_cpus();
    let (load_cpu, server_cpu) = match cpus[..] {
        [load, server, ..] if pin(load) => (Some(load), Some(server)),
        _ => (None, None),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let runs = s.rounds * (usize::from(s.unary) * CASES.len() + usize::from(s.stream) * 4);
    let per_run = s.warmup + s.window + Duration::from_millis(100);
    let expected = per_run.as_secs_f64() * runs as f64 + if s.long { 8.0 } else { 0.0 } + 2.0;
    println!(
        "load: {} rounds x {runs_per_round} runs, warm-up {:?} + window {:?} each{}: expected \
         ~{:.0} s (~{:.1} min){}",
        s.rounds,
        s.warmup,
        s.window,
        if s.long {
            ", then the long runs (~8 s)"
        } else {
            ""
        },
        expected,
        expected / 60.0,
        if s.quick {
            "; LOAD_QUICK: a smoke run, not figures to quote"
        } else {
            ""
        },
        runs_per_round = runs / s.rounds,
    );
    // The long runs start their own server later, after these have gone.
    let servers: Vec<Child> = Server::ALL
        .into_iter()
        .filter(|&server| server != Server::Long)
        .map(|server| Child::start(server, server_cpu))
        .collect();
    match (load_cpu, server_cpu) {
        (Some(load), Some(server)) => println!(
            "pinned: load generator (pid {}, 1 thread) to CPU {load}, every server (1 worker \
             thread each) to CPU {server}; the kernel reports load CPUs {}, server CPUs {}",
            std::process::id(),
            cpus_of(std::process::id()),
            servers
                .iter()
                .map(|c| cpus_of(c.pid()))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => println!(
            "NOT pinned ({} CPU(s) allowed): servers and load generator share the CPU(s); \
             ratios still compare, absolute rates mean less",
            cpus.len()
        ),
    }
    println!(
        "{IN_FLIGHT} requests in flight; gRPC/h2c over {CONNECTIONS} connections, HTTP/1.1 over \
         {IN_FLIGHT}; {} machine CPUs",
        machine_cpus()
    );
    let payloads = [payload(Size::Small), payload(Size::Large)];
    for (size, p) in [Size::Small, Size::Large].iter().zip(&payloads) {
        println!(
            "payload {}: JSON request {} B, protobuf request {} B",
            size.name(),
            p.json.len(),
            p.grpc.encoded_len()
        );
    }
    let server = |kind: Server| servers.iter().find(|c| c.server == kind).unwrap();

    let mut unary: Vec<Vec<Run>> = vec![Vec::new(); CASES.len()];
    let mut streams: Vec<Vec<StreamRun>> = vec![Vec::new(); STREAM_ROWS.len()];
    runtime.block_on(async {
        if s.stream {
            println!(
                "stream request {}; an answer line: {}",
                String::from_utf8_lossy(&stream_json(STREAM_REPEAT)),
                first_line(server(Server::TonicLayer).addr()).await
            );
        }
        for round in 1..=s.rounds {
            if s.unary {
                for (&(row, size), results) in CASES.iter().zip(&mut unary) {
                    let p = &payloads[size as usize];
                    let r = run(row, server(row.server()), p, &s).await;
                    eprintln!(
                        "round {round} {:<28} {:<7} {:>7.0} req/s  p50 {:>5} us  p99 {:>6} us  \
                         server {:>3.0}%  load {:>3.0}%  others {:>2.0}%",
                        row.name(),
                        size.name(),
                        r.rps,
                        r.p50_us,
                        r.p99_us,
                        r.cpu.server * 100.0,
                        r.cpu.load * 100.0,
                        r.cpu.others * 100.0
                    );
                    results.push(r);
                }
            }
            if s.stream {
                for (&row, results) in STREAM_ROWS.iter().zip(&mut streams) {
                    let r = stream_run(row, server(row.server()), &s).await;
                    eprintln!(
                        "round {round} {:<28} {:>7.0} msg/s  {:>3.0} B/msg  server {:>3.0}%  \
                         load {:>3.0}%  others {:>2.0}%",
                        row.name(),
                        r.messages_per_s,
                        r.bytes_per_message,
                        r.cpu.server * 100.0,
                        r.cpu.load * 100.0,
                        r.cpu.others * 100.0
                    );
                    results.push(r);
                }
            }
        }
    });
    report(&s, &unary, &streams);

    println!();
    println!("| server process | VmRSS idle KiB | VmHWM (peak) after the rows KiB |");
    println!("| --- | ---: | ---: |");
    for child in &servers {
        println!(
            "| {} | {} | {} |",
            child.server.key(),
            child.idle_kib,
            child.status_kib("VmHWM:")
        );
    }
    drop(servers);

    if s.long {
        runtime.block_on(long_section(server_cpu));
    }
    println!();
    println!(
        "took {:.0} s (expected ~{expected:.0} s)",
        started.elapsed().as_secs_f64()
    );
}
