//! The gRPC frame decoder alone (split points must not matter), then the
//! response transcoder: arbitrary bytes, split at arbitrary points, as the
//! inner service's gRPC answer body, with arbitrary trailers, transcoded to
//! JSON, NDJSON, SSE, Connect (unary and streaming) and gRPC-Web.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use dual_protocol_fuzz::{Script, call, header_map};
use http_body_util::Full;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    mode: u8,
    limit: u16,
    chunks: Vec<Vec<u8>>,
    trailers: Option<Vec<(String, Vec<u8>)>>,
    headers: Vec<(String, Vec<u8>)>,
}

/// (method, path, content-type, extra header, body)
const MODES: &[(&str, &str, &str, (&str, &str), &[u8])] = &[
    (
        "POST",
        "/echo.v1.EchoService/Echo",
        "application/json",
        ("x-a", "1"),
        b"{}",
    ),
    (
        "POST",
        "/echo.v1.EchoService/EchoStream",
        "application/json",
        ("x-a", "1"),
        b"{}",
    ),
    (
        "POST",
        "/echo.v1.EchoService/EchoStream",
        "application/json",
        ("accept", "text/event-stream"),
        b"{}",
    ),
    (
        "POST",
        "/echo.v1.EchoService/Echo",
        "application/json",
        ("connect-protocol-version", "1"),
        b"{}",
    ),
    (
        "POST",
        "/echo.v1.EchoService/Echo",
        "application/proto",
        ("connect-protocol-version", "1"),
        b"",
    ),
    (
        "POST",
        "/echo.v1.EchoService/EchoStream",
        "application/connect+json",
        ("x-a", "1"),
        b"\0\0\0\0\x02{}",
    ),
    (
        "POST",
        "/echo.v1.EchoService/EchoStream",
        "application/connect+proto",
        ("x-a", "1"),
        b"\0\0\0\0\0",
    ),
    (
        "POST",
        "/echo.v1.EchoService/Echo",
        "application/grpc-web+proto",
        ("x-a", "1"),
        b"\0\0\0\0\0",
    ),
    (
        "POST",
        "/echo.v1.EchoService/Echo",
        "application/grpc-web-text",
        ("x-a", "1"),
        b"AAAAAAA=",
    ),
    ("GET", "/v1/shelves", "", ("x-a", "1"), b""),
    (
        "GET",
        "/v1/shelves/1:watch",
        "",
        ("accept", "text/event-stream"),
        b"",
    ),
    (
        "GET",
        "/v1/shelves/1/books/2/cover:download",
        "",
        ("x-a", "1"),
        b"",
    ),
];

fuzz_target!(|input: Input| {
    let chunks: Vec<&[u8]> = input.chunks.iter().map(Vec::as_slice).collect();
    let limit = input.limit as usize;
    let _ = dual_protocol::__fuzz::frames(&chunks, limit, false);
    let _ = dual_protocol::__fuzz::frames(&chunks, limit, true);

    let (method, path, content_type, (name, value), body) =
        MODES[input.mode as usize % MODES.len()];
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(name, value);
    if !content_type.is_empty() {
        request = request.header("content-type", content_type);
    }
    let request = request.body(Full::new(Bytes::from_static(body))).unwrap();
    let script = Script {
        echo: false,
        chunks: input.chunks.into_iter().map(Bytes::from).collect(),
        trailers: input.trailers.as_deref().map(header_map),
        headers: header_map(&input.headers),
    };
    let answer = call(script, request);
    assert!(answer.status.as_u16() < 600);
    if answer.headers.get("content-type").map(|v| v.as_bytes()) == Some(b"application/json")
        && !answer.body.is_empty()
    {
        serde_json::from_slice::<serde_json::Value>(&answer.body)
            .unwrap_or_else(|e| panic!("answer is not JSON: {e}: {:?}", answer.body));
    }
    if answer.headers.get("content-type").map(|v| v.as_bytes()) == Some(b"application/x-ndjson") {
        for line in answer.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            serde_json::from_slice::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("NDJSON line is not JSON: {e}: {line:?}"));
        }
    }
});
