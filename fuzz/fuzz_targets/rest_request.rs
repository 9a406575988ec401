//! A request (method, path, query, headers, body) through DualProtocolLayer
//! around a scripted inner service that answers the gRPC request it got:
//! classification, REST route matching, the `body`/path/query overlay, the
//! JSON codec both ways and the error answers. In-process, no network.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use dual_protocol_fuzz::{Script, call};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;

const PREFIXES: &[&str] = &[
    "/v1/shelves",
    "/v1/shelves/1/books",
    "/v1/shelves/1/books/2",
    "/v1/shelves/1:watch",
    "/v1/books:import",
    "/v1/shelves/1/books/2/cover",
    "/echo.v1.EchoService/Echo",
    "/library.v1.LibraryService/CreateBook",
    "",
];
const METHODS: &[&str] = &["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"];
const TYPES: &[&str] = &[
    "application/json",
    "application/x-ndjson",
    "application/json; charset=utf-8",
    "text/plain",
    "",
];

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    prefix: u8,
    path: String,
    query: Option<String>,
    content_type: u8,
    accept_sse: bool,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let mut uri = format!(
        "{}{}",
        PREFIXES[input.prefix as usize % PREFIXES.len()],
        input.path
    );
    if let Some(query) = &input.query {
        uri.push('?');
        uri.push_str(query);
    }
    let mut builder = http::Request::builder()
        .method(METHODS[input.method as usize % METHODS.len()])
        .uri(uri);
    let content_type = TYPES[input.content_type as usize % TYPES.len()];
    if !content_type.is_empty() {
        builder = builder.header("content-type", content_type);
    }
    if input.accept_sse {
        builder = builder.header("accept", "text/event-stream");
    }
    let Ok(request) = builder.body(Full::new(Bytes::from(input.body))) else {
        return;
    };
    let script = Script {
        echo: true,
        trailers: Some(grpc_ok()),
        ..Script::default()
    };
    let answer = call(script, request);
    assert!(answer.status.as_u16() < 600);
    // Every JSON answer (the result or a google.rpc.Status) is JSON.
    if answer.headers.get("content-type").map(|v| v.as_bytes()) == Some(b"application/json")
        && !answer.body.is_empty()
    {
        serde_json::from_slice::<serde_json::Value>(&answer.body)
            .unwrap_or_else(|e| panic!("answer is not JSON: {e}: {:?}", answer.body));
    }
});

fn grpc_ok() -> http::HeaderMap {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    trailers
}
