//! The layer's own work per request, no network, and the JSON codec alone.
//!
//! `cargo bench --bench transcode`
//!
//! First prints allocations per operation (a counting global allocator,
//! 10,000 calls per case, outside criterion's timing), then runs criterion:
//! - `layer/*`: one request through `DualProtocolLayer::new().layer(inner)`,
//!   or through `inner` alone, on a current-thread runtime: build the
//!   request, `ready().await`, `call().await`, drain the answer body
//!   (data and trailers). Two inners: tonic `Routes` around the example
//!   `Echo`, and `Fixed`, a hand-written service answering a fixed framed
//!   `EchoResponse` with `grpc-status: 0` trailers without reading the
//!   request, which isolates the layer's own cost. `direct grpc` vs
//!   `layer grpc` is the passthrough cost; `direct grpc` vs `layer json` is
//!   what JSON costs over the gRPC call it turns into.
//! - `codec/*`: what the layer runs per message (generated serde + prost),
//!   next to serde_json with a plain derive struct of the same JSON shape
//!   (the limit), as JSON bytes per second.

#[path = "support/b64.rs"]
mod b64;
#[path = "../examples/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput};
use dual_protocol::DualProtocolLayer;
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use prost::Message;
use serde::{Deserialize, Serialize};
use tower::{Layer, Service, ServiceExt};

use common::Echo;
use common::echo::v1::echo_service_server::EchoServiceServer;
use common::echo::v1::{EchoRequest, EchoResponse};
use common::library::v1::{Book, Genre, ListBooksResponse};

// ------------------------------------------------------------ allocations --

/// `System`, counting every allocation (realloc counts as one).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        ALLOC_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Calls per layer case for the allocation count.
const ALLOC_CALLS: u64 = 10_000;

/// (allocations, allocated bytes) per call of `op`, over `calls` calls after
/// a few warm-up calls.
fn allocs_per_op(calls: u64, mut op: impl FnMut()) -> (f64, f64) {
    for _ in 0..calls.min(100) {
        op();
    }
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        ALLOC_BYTES.load(Ordering::Relaxed),
    );
    for _ in 0..calls {
        op();
    }
    let (a1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        ALLOC_BYTES.load(Ordering::Relaxed),
    );
    (
        (a1 - a0) as f64 / calls as f64,
        (b1 - b0) as f64 / calls as f64,
    )
}

// ------------------------------------------------------------------ inner --

/// Answers every request with the same framed gRPC message and `grpc-status:
/// 0` trailers, without reading the request: the cheapest possible gRPC
/// service, so that what the layer adds around it stands out.
#[derive(Clone)]
struct Fixed {
    framed: Bytes,
}

impl<B> Service<Request<B>> for Fixed {
    type Response = Response<FixedBody>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        let mut response = Response::new(FixedBody {
            data: Some(self.framed.clone()),
            trailers: true,
        });
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        ready(Ok(response))
    }
}

struct FixedBody {
    data: Option<Bytes>,
    trailers: bool,
}

impl Body for FixedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if std::mem::take(&mut self.trailers) {
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from_static("0"));
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && !self.trailers
    }
}

// -------------------------------------------------------------- requests --

const RPC_PATH: &str = "/echo.v1.EchoService/Echo";

/// The load bench's requests: ~200 B and ~16 KiB of JSON.
fn echo_request(large: bool) -> EchoRequest {
    let payload: Vec<u8> = if large {
        (0..12 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    } else {
        b"0123456789abcdefghijklmn".to_vec()
    };
    EchoRequest {
        message: "Order 42 for shelf 7: please echo this back with the same payload; \
                  this sentence stands in for a realistic free-text field in a request."
            .into(),
        payload,
        repeat: 1,
        ..Default::default()
    }
}

fn framed(message: &impl Message) -> Bytes {
    let mut buf = BytesMut::with_capacity(5 + message.encoded_len());
    buf.put_u8(0);
    buf.put_u32(message.encoded_len() as u32);
    message.encode(&mut buf).unwrap();
    buf.freeze()
}

/// Request bodies of one payload size, built once.
struct Bodies {
    grpc: Bytes,
    json: Bytes,
    /// The framed answer `Fixed` gives: what `Echo` answers to `grpc`.
    answer: Bytes,
}

fn bodies(large: bool) -> Bodies {
    let request = echo_request(large);
    let mut json: serde_json::Value = serde_json::to_value(&request).unwrap();
    json["failCode"] = 0.into();
    let answer = EchoResponse {
        message: request.message.clone(),
        payload: request.payload.clone(),
        request_metadata: [
            ("te".to_owned(), "trailers".to_owned()),
            ("content-type".to_owned(), "application/grpc".to_owned()),
        ]
        .into(),
        index: 0,
    };
    Bodies {
        grpc: framed(&request),
        json: serde_json::to_vec(&json).unwrap().into(),
        answer: framed(&answer),
    }
}

fn grpc_request(body: &Bytes) -> Request<Full<Bytes>> {
    Request::post(RPC_PATH)
        .header(header::CONTENT_TYPE, "application/grpc")
        .header(header::TE, "trailers")
        .body(Full::new(body.clone()))
        .unwrap()
}

fn json_request(body: &Bytes) -> Request<Full<Bytes>> {
    Request::post(RPC_PATH)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body.clone()))
        .unwrap()
}

/// One call: ready, call, drain the answer; returns the answer's data bytes.
async fn call<S, B>(service: &mut S, request: Request<Full<Bytes>>) -> usize
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    debug_assert_eq!(response.status(), 200);
    let mut body = std::pin::pin!(response.into_body());
    let mut len = 0;
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame.unwrap().data_ref() {
            len += data.len();
        }
    }
    len
}

/// The answer as text, to check a case once before measuring it.
async fn answer_text<S, B>(service: &mut S, request: Request<Full<Bytes>>) -> (u16, String)
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let response = service.ready().await.unwrap().call(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn routes() -> tonic::service::Routes {
    tonic::service::Routes::new(EchoServiceServer::new(Echo))
}

/// Expands `$block` once per layer case of one payload size, with `$name`
/// (the case), `$svc` (the service, mutable), `$make` (the request builder)
/// and `$body` (the request body) bound: the services differ in type, so
/// this is a macro rather than a closure.
macro_rules! layer_cases {
    ($bodies:expr, ($name:ident, $svc:ident, $make:ident, $body:ident) => $block:block) => {{
        let b: &Bodies = $bodies;
        let fixed = Fixed {
            framed: b.answer.clone(),
        };
        layer_cases!(@one "routes: direct grpc", routes(), grpc_request, &b.grpc,
            ($name, $svc, $make, $body) => $block);
        layer_cases!(@one "routes: layer grpc (passthrough)",
            DualProtocolLayer::new().layer(routes()), grpc_request, &b.grpc,
            ($name, $svc, $make, $body) => $block);
        layer_cases!(@one "routes: layer json",
            DualProtocolLayer::new().layer(routes()), json_request, &b.json,
            ($name, $svc, $make, $body) => $block);
        layer_cases!(@one "fixed: direct grpc", fixed.clone(), grpc_request, &b.grpc,
            ($name, $svc, $make, $body) => $block);
        layer_cases!(@one "fixed: layer grpc (passthrough)",
            DualProtocolLayer::new().layer(fixed.clone()), grpc_request, &b.grpc,
            ($name, $svc, $make, $body) => $block);
        layer_cases!(@one "fixed: layer json",
            DualProtocolLayer::new().layer(fixed), json_request, &b.json,
            ($name, $svc, $make, $body) => $block);
    }};
    (@one $label:expr, $service:expr, $builder:expr, $request_body:expr,
        ($name:ident, $svc:ident, $make:ident, $body:ident) => $block:block) => {{
        let $name: &str = $label;
        #[allow(unused_mut)]
        let mut $svc = $service;
        let $make: fn(&Bytes) -> Request<Full<Bytes>> = $builder;
        let $body: &Bytes = $request_body;
        $block
    }};
}

// ------------------------------------------------------------ plain shape --

/// `library.v1.Book` as a hand-written serde struct producing and accepting
/// the same proto3 JSON as the generated serde: int64 as a string, RFC 3339 timestamp
/// (parsed, as the generated code does), enum by name, bytes as base64.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PlainBook {
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    author: String,
    #[serde(with = "int64_str")]
    page_count: i64,
    #[serde(skip_serializing_if = "Option::is_none", with = "rfc3339")]
    publish_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    genre: PlainGenre,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    labels: HashMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty", with = "b64")]
    cover_thumbnail: Vec<u8>,
    rating: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
enum PlainGenre {
    #[default]
    #[serde(rename = "GENRE_UNSPECIFIED")]
    Unspecified,
    #[serde(rename = "GENRE_FICTION")]
    Fiction,
    #[serde(rename = "GENRE_NON_FICTION")]
    NonFiction,
    #[serde(rename = "GENRE_POETRY")]
    Poetry,
    #[serde(rename = "GENRE_SCIENCE")]
    Science,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PlainListBooksResponse {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    books: Vec<PlainBook>,
    #[serde(skip_serializing_if = "String::is_empty")]
    next_page_token: String,
}

mod int64_str {
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(n: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(n)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = i64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an int64 as a number or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| {
                DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
    }
}

fn book(i: usize) -> Book {
    Book {
        name: format!("shelves/1/books/{i}"),
        title: "The Left Hand of Darkness".into(),
        author: "Ursula K. Le Guin".into(),
        page_count: 304,
        publish_time: Some(dual_protocol::types::Timestamp {
            seconds: -31_536_000 + i as i64,
            nanos: 0,
        }),
        tags: vec!["classic".into(), "sf".into(), "hugo".into()],
        genre: Genre::Fiction.into(),
        labels: [("language".to_owned(), "en".to_owned())].into(),
        cover_thumbnail: vec![0x89, 0x50, 0x4e, 0x47],
        rating: 4.5,
    }
}

/// What the layer runs for a request: `json_to_proto`.
fn json_to_pb<M: Message + Default + serde::de::DeserializeOwned>(json: &[u8]) -> BytesMut {
    let message: M = serde_json::from_slice(json).unwrap();
    let mut out = BytesMut::new();
    out.reserve(message.encoded_len());
    message.encode(&mut out).unwrap();
    out
}

/// What the layer runs for an answer: `proto_to_json`.
fn pb_to_json<M: Message + Default + Serialize>(pb: &[u8]) -> Vec<u8> {
    let message = M::decode(pb).unwrap();
    let mut out = Vec::with_capacity(16 + pb.len() * 2);
    serde_json::to_writer(&mut out, &message).unwrap();
    out
}

/// A named codec operation.
type Case = (&'static str, Box<dyn Fn()>);

/// One message's codec cases, with its JSON and protobuf encodings.
struct Codec {
    group: &'static str,
    json: Vec<u8>,
    pb: Vec<u8>,
    cases: Vec<Case>,
}

fn codec<M, P>(group: &'static str, message: M) -> Codec
where
    M: Message + Default + Serialize + serde::de::DeserializeOwned + 'static,
    M: dual_protocol::__private::json::Direct,
    P: Serialize + serde::de::DeserializeOwned + 'static,
{
    let json = serde_json::to_vec(&message).unwrap();
    let pb = message.encode_to_vec();
    let plain: P = serde_json::from_slice(&json).unwrap();
    let plain_json = serde_json::to_vec(&plain).unwrap();
    assert_eq!(
        plain_json.len(),
        json.len(),
        "the plain struct must write the same JSON:\n{}\n{}",
        String::from_utf8_lossy(&plain_json[..plain_json.len().min(400)]),
        String::from_utf8_lossy(&json[..json.len().min(400)])
    );
    let (j1, j2, j3, p1) = (json.clone(), json.clone(), json.clone(), pb.clone());
    let (j4, p2) = (json.clone(), pb.clone());
    let options = dual_protocol::JsonOptions::default();
    let cases: Vec<Case> = vec![
        (
            "json->pb (layer: direct)",
            Box::new(move || {
                black_box(
                    dual_protocol::json::json_to_protobuf::<M>(black_box(&j4), &options).unwrap(),
                );
            }),
        ),
        (
            "json->pb (before: serde + prost encode)",
            Box::new(move || {
                black_box(json_to_pb::<M>(black_box(&j1)));
            }),
        ),
        (
            "json->message (serde only)",
            Box::new(move || {
                black_box(serde_json::from_slice::<M>(black_box(&j2)).unwrap());
            }),
        ),
        (
            "json->struct (limit: serde derive)",
            Box::new(move || {
                black_box(serde_json::from_slice::<P>(black_box(&j3)).unwrap());
            }),
        ),
        (
            "pb->json (before: prost decode + serde)",
            Box::new(move || {
                black_box(pb_to_json::<M>(black_box(&p1)));
            }),
        ),
        (
            "pb->json (layer: direct)",
            Box::new(move || {
                black_box(
                    dual_protocol::json::protobuf_to_json::<M>(black_box(&p2), &options).unwrap(),
                );
            }),
        ),
        (
            "message->json (serde only)",
            Box::new(move || {
                let mut out = Vec::with_capacity(16 + black_box(&message).encoded_len() * 2);
                serde_json::to_writer(&mut out, &message).unwrap();
                black_box(out);
            }),
        ),
        (
            "struct->json (limit: serde derive)",
            Box::new(move || {
                let mut out = Vec::with_capacity(plain_json.len());
                serde_json::to_writer(&mut out, black_box(&plain)).unwrap();
                black_box(out);
            }),
        ),
    ];
    Codec {
        group,
        json,
        pb,
        cases,
    }
}

fn codecs() -> Vec<Codec> {
    vec![
        codec::<Book, PlainBook>("codec/book", book(1)),
        codec::<ListBooksResponse, PlainListBooksResponse>(
            "codec/list_books_1000",
            ListBooksResponse {
                books: (0..1000).map(book).collect(),
                next_page_token: "1000".into(),
            },
        ),
    ]
}

// ------------------------------------------------------------------- main --

fn print_allocations() {
    let rt = runtime();
    println!(
        "allocations per operation ({ALLOC_CALLS} calls per layer case, 100 warm-up calls; \
         codec: 10,000 calls for the book, 100 for the list)"
    );
    println!("| case | payload | allocs/op | bytes/op | answer bytes |");
    println!("|---|---|---:|---:|---:|");
    for (large, label) in [(false, "~200 B"), (true, "16 KiB")] {
        let b = bodies(large);
        layer_cases!(&b, (name, svc, make, body) => {
                let (status, text) = rt.block_on(answer_text(&mut svc, make(body)));
                assert_eq!(status, 200, "{name}: {text}");
                let answer_len = rt.block_on(call(&mut svc, make(body)));
                let (allocs, bytes) = allocs_per_op(ALLOC_CALLS, || {
                    rt.block_on(call(&mut svc, make(body)));
                });
                println!("| {name} | {label} | {allocs:.1} | {bytes:.0} | {answer_len} |");
        });
    }
    for c in codecs() {
        for (name, op) in &c.cases {
            // Deterministic per call: 10,000 for the book, 100 for the list.
            let calls = (ALLOC_CALLS * 300 / c.json.len() as u64).clamp(100, ALLOC_CALLS);
            let (allocs, bytes) = allocs_per_op(calls, op);
            println!(
                "| {} {name} | JSON {} B / pb {} B | {allocs:.1} | {bytes:.0} | |",
                c.group,
                c.json.len(),
                c.pb.len()
            );
        }
    }
    println!();
}

// ------------------------------------------------------------ interleaved --

/// A named operation to time.
type Timed = (String, Box<dyn FnMut()>);

/// Per-operation times of `cases`, measured side by side: every case is
/// calibrated to ~20 ms a batch, then `rounds` rounds each run every case's
/// batch in turn, so a slow patch of the machine hits all cases alike.
/// Returns each case's ns/op per round.
fn interleaved(cases: &mut [Timed], rounds: usize) -> Vec<Vec<f64>> {
    let batch = Duration::from_millis(20);
    let iters: Vec<u64> = cases
        .iter_mut()
        .map(|(_, op)| {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < batch {
                op();
                n += 1;
            }
            n
        })
        .collect();
    let mut times = vec![Vec::with_capacity(rounds); cases.len()];
    for _ in 0..rounds {
        for (i, (_, op)) in cases.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..iters[i] {
                op();
            }
            times[i].push(start.elapsed().as_nanos() as f64 / iters[i] as f64);
        }
    }
    times
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn spread(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

/// Per round, `f(round's times)`: median and min-max over rounds.
fn per_round(times: &[Vec<f64>], f: impl Fn(&dyn Fn(usize) -> f64) -> f64) -> (f64, f64, f64) {
    let rounds = times[0].len();
    let values: Vec<f64> = (0..rounds).map(|r| f(&|case| times[case][r])).collect();
    let (min, max) = spread(&values);
    (median(&values), min, max)
}

/// `TRANSCODE_ROUNDS` (default 11) interleaved rounds of the layer cases
/// (~200 B) and the codec cases: the tables README quotes.
fn print_interleaved() {
    let rounds: usize = std::env::var("TRANSCODE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11);
    let rt: &'static tokio::runtime::Runtime = Box::leak(Box::new(runtime()));
    let b: &'static Bodies = Box::leak(Box::new(bodies(false)));
    let mut cases: Vec<Timed> = Vec::new();
    layer_cases!(b, (name, svc, make, body) => {
        let mut svc = svc;
        cases.push((
            name.to_owned(),
            Box::new(move || {
                black_box(rt.block_on(call(&mut svc, make(body))));
            }),
        ));
    });

    for codec in codecs() {
        for (name, op) in codec.cases {
            cases.push((format!("{} {name}", codec.group), Box::new(op)));
        }
    }
    let times = interleaved(&mut cases, rounds);
    println!(
        "per operation, {rounds} interleaved rounds (~20 ms of each case per round): median ns/op (min-max over rounds)"
    );
    println!("| case | ns/op | min-max |");
    println!("|---|---:|---:|");
    for ((name, _), t) in cases.iter().zip(&times) {
        let (min, max) = spread(t);
        println!("| {name} | {:.0} | {min:.0}-{max:.0} |", median(t));
    }
    let find = |name: &str| {
        cases
            .iter()
            .position(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no case {name}"))
    };
    println!();
    println!("| what | of the same round | median | min-max |");
    println!("|---|---|---:|---:|");
    let row = |what: &str, how: &str, (m, lo, hi): (f64, f64, f64), unit: &str| {
        println!("| {what} | {how} | {m:.2}{unit} | {lo:.2}-{hi:.2}{unit} |");
    };
    for (what, layered, inner) in [
        (
            "JSON -> gRPC -> JSON overhead, fixed inner",
            "fixed: layer json",
            "fixed: direct grpc",
        ),
        (
            "passthrough overhead, fixed inner",
            "fixed: layer grpc (passthrough)",
            "fixed: direct grpc",
        ),
        (
            "JSON -> gRPC -> JSON overhead, tonic Routes + Echo",
            "routes: layer json",
            "routes: direct grpc",
        ),
    ] {
        let (l, i) = (find(layered), find(inner));
        row(
            what,
            "layer - inner",
            per_round(&times, |t| (t(l) - t(i)) / 1000.0),
            " us",
        );
    }
    for group in ["codec/book", "codec/list_books_1000"] {
        for (what, case, limit) in [
            (
                "json->pb direct",
                "json->pb (layer: direct)",
                "json->struct (limit: serde derive)",
            ),
            (
                "json->pb before",
                "json->pb (before: serde + prost encode)",
                "json->struct (limit: serde derive)",
            ),
            (
                "pb->json direct",
                "pb->json (layer: direct)",
                "struct->json (limit: serde derive)",
            ),
            (
                "pb->json before",
                "pb->json (before: prost decode + serde)",
                "struct->json (limit: serde derive)",
            ),
        ] {
            let (c, l) = (
                find(&format!("{group} {case}")),
                find(&format!("{group} {limit}")),
            );
            row(
                &format!("{group} {what}"),
                "time / serde-derive limit",
                per_round(&times, |t| t(c) / t(l)),
                "x",
            );
        }
    }
    println!();
}

fn bench_layer(c: &mut Criterion) {
    let rt = runtime();
    for (large, label) in [(false, "small"), (true, "16k")] {
        let b = bodies(large);
        let mut group = c.benchmark_group(format!("layer/{label}"));
        layer_cases!(&b, (name, svc, make, body) => {
                group.bench_function(name, |bench| {
                    bench.iter_custom(|iters| {
                        rt.block_on(async {
                            let start = Instant::now();
                            for _ in 0..iters {
                                black_box(call(&mut svc, make(body)).await);
                            }
                            start.elapsed()
                        })
                    })
                });
        });
        group.finish();
    }
}

fn bench_codec(c: &mut Criterion) {
    for codec in codecs() {
        let mut group = c.benchmark_group(codec.group);
        group.throughput(Throughput::Bytes(codec.json.len() as u64));
        for (name, op) in &codec.cases {
            group.bench_function(BenchmarkId::from_parameter(name), |b| b.iter(op));
        }
        group.finish();
    }
}

/// `TRANSCODE_PROFILE=<case name part>`: only that ~200 B layer case,
/// 2,000 calls, for a heap profiler (`valgrind --tool=dhat`).
fn profile(only: &str) {
    let rt = runtime();
    let b = bodies(false);
    layer_cases!(&b, (name, svc, make, body) => {
        if name.contains(only) {
            for _ in 0..2000 {
                rt.block_on(call(&mut svc, make(body)));
            }
            println!("profiled {name}: 2000 calls");
        }
    });
}

fn main() {
    if let Ok(only) = std::env::var("TRANSCODE_PROFILE") {
        return profile(&only);
    }
    // TRANSCODE_CODEC=<case name part>: that codec case 10,000 times (the
    // list's 10), for `perf stat -e instructions` or a profiler.
    if let Ok(only) = std::env::var("TRANSCODE_CODEC") {
        for codec in codecs() {
            for (name, op) in &codec.cases {
                let full = format!("{} {name}", codec.group);
                if full.contains(&only) {
                    let calls = std::env::var("TRANSCODE_CALLS")
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(if codec.json.len() > 10_000 {
                            10
                        } else {
                            10_000
                        });
                    for _ in 0..calls {
                        op();
                    }
                    println!("ran {full}: {calls} calls");
                }
            }
        }
        return;
    }
    // TRANSCODE_SKIP_ALLOCS=1 skips the allocation table (for profiling).
    if std::env::var_os("TRANSCODE_SKIP_ALLOCS").is_none() {
        print_allocations();
    }
    // TRANSCODE_SKIP_INTERLEAVED=1 skips the interleaved table (for profiling).
    if std::env::var_os("TRANSCODE_SKIP_INTERLEAVED").is_none() {
        print_interleaved();
    }
    // TRANSCODE_SKIP_CRITERION=1: the tables only.
    if std::env::var_os("TRANSCODE_SKIP_CRITERION").is_some() {
        return;
    }
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(20)
        .configure_from_args();
    bench_layer(&mut criterion);
    bench_codec(&mut criterion);
    criterion.final_summary();
}
