//! The Connect protocol and gRPC-Web, served by the layer on the example
//! server, read by a hyper client over HTTP/1.1 and h2c: unary JSON and
//! binary, GET, streams with envelopes and end-of-stream messages, errors
//! in each protocol's shape, gzip both ways, limits, and the protocol set.
//! (Clients nobody here wrote, connect-node and buf curl, are in
//! `tests/interop`.)

use std::io::{Read as _, Write as _};

use base64::Engine as _;
use http::Request;
use http_body_util::Full;
use prost::Message as _;
use serde_json::{Value, json};

use crate::common::echo::v1::{EchoRequest, EchoResponse};
use crate::support::*;

const ECHO: &str = "/echo.v1.EchoService/Echo";
const ECHO_STREAM: &str = "/echo.v1.EchoService/EchoStream";
const LIST_BOOKS: &str = "/library.v1.LibraryService/ListBooks";
const CREATE_SHELF: &str = "/library.v1.LibraryService/CreateShelf";

pub(crate) fn connect_post(
    addr: std::net::SocketAddr,
    path: &str,
    content_type: &str,
) -> http::request::Builder {
    Request::post(format!("http://{addr}{path}"))
        .header("content-type", content_type)
        .header("connect-protocol-version", "1")
}

pub(crate) fn envelope(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Splits a body into envelopes: (flags, payload).
pub(crate) fn envelopes(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !body.is_empty() {
        assert!(body.len() >= 5, "a truncated envelope: {body:?}");
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        out.push((body[0], body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub(crate) fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn connect_unary_json_and_proto() {
    let addr = start_default().await;
    for version in BOTH {
        // JSON, with the protocol header: Connect semantics.
        let request = connect_post(addr, ECHO, "application/json")
            .header("x-note", "n1")
            .body(Full::from(
                r#"{"message":"hi","responseHeaders":{"x-h":"hv"}}"#,
            ))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["content-type"], "application/json");
        assert_eq!(answer.headers["x-h"], "hv");
        let json = answer.json();
        assert_eq!(json["message"], "hi");
        assert_eq!(json["requestMetadata"]["x-note"], "n1", "{json}");
        // Protocol headers are not metadata.
        assert!(
            json["requestMetadata"]
                .get("connect-protocol-version")
                .is_none(),
            "{json}"
        );

        // Binary.
        let message = EchoRequest {
            message: "bin".into(),
            payload: vec![0, 1, 2, 255],
            ..Default::default()
        };
        let request = connect_post(addr, ECHO, "application/proto")
            .body(Full::from(message.encode_to_vec()))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["content-type"], "application/proto");
        let response = EchoResponse::decode(answer.body).unwrap();
        assert_eq!(
            (response.message.as_str(), &response.payload[..]),
            ("bin", &[0, 1, 2, 255][..])
        );
    }
}

#[tokio::test]
async fn connect_errors_have_string_codes_and_details() {
    let addr = start_default().await;
    for version in BOTH {
        let request = connect_post(addr, ECHO, "application/json")
            .body(Full::from(
                r#"{"message":"gone","failCode":5,"responseTrailers":{"x-t":"tv"}}"#,
            ))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 404, "{answer:?}");
        assert_eq!(answer.headers["content-type"], "application/json");
        // A trailers-only answer: its metadata are headers.
        assert_eq!(answer.headers["x-t"], "tv");
        assert_eq!(
            answer.json(),
            json!({"code": "not_found", "message": "gone"})
        );

        // Details: type, unpadded base64 value, and the JSON as debug.
        let request = connect_post(addr, LIST_BOOKS, "application/json")
            .body(Full::from(r#"{"parent":"shelves/1","pageSize":-1}"#))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        let json = answer.json();
        assert_eq!(json["code"], "invalid_argument", "{json}");
        let detail = &json["details"][0];
        assert_eq!(detail["type"], "google.rpc.BadRequest", "{json}");
        let value = detail["value"].as_str().unwrap();
        assert!(!value.ends_with('='), "{value}");
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(value)
            .unwrap();
        let bad = dual_protocol::rpc::BadRequest::decode(&bytes[..]).unwrap();
        assert_eq!(bad.field_violations[0].field, "page_size");
        assert_eq!(
            detail["debug"]["fieldViolations"][0]["field"], "page_size",
            "{json}"
        );

        // The layer's own errors, in Connect's shape too.
        let request = connect_post(addr, ECHO, "application/json")
            .body(Full::from(r#"{"mesage":"typo"}"#))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        let json = answer.json();
        assert_eq!(json["code"], "invalid_argument", "{json}");
        assert!(
            json["message"].as_str().unwrap().contains("mesage"),
            "{json}"
        );
        let request = connect_post(addr, "/echo.v1.EchoService/Nope", "application/proto")
            .body(Full::default())
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 404, "{answer:?}");
        assert_eq!(answer.json()["code"], "unimplemented");
        let request = Request::post(format!("http://{addr}{ECHO}"))
            .header("content-type", "application/json")
            .header("connect-protocol-version", "2")
            .body(Full::from("{}"))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.json()["code"], "invalid_argument", "{answer:?}");
        // A unary content type on a streaming method.
        let request = connect_post(addr, ECHO_STREAM, "application/proto")
            .body(Full::default())
            .unwrap();
        assert_eq!(send(version, request).await.status, 415);
        // A deadline.
        let request = connect_post(addr, ECHO, "application/json")
            .header("connect-timeout-ms", "50")
            .body(Full::from(r#"{"delay":"2s"}"#))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 504, "{answer:?}");
        assert_eq!(answer.json()["code"], "deadline_exceeded");
    }
    // Without the protocol header, JSON keeps the plain-JSON error shape.
    let answer = post_json(Version::Http1, addr, ECHO, r#"{"failCode":5}"#).await;
    answer.error(404, 5);
}

#[tokio::test]
async fn connect_get_for_methods_without_side_effects() {
    let addr = start_default().await;
    let message = percent_encoding::utf8_percent_encode(
        r#"{"message":"got it"}"#,
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    for version in BOTH {
        let uri = format!("http://{addr}{ECHO}?connect=v1&encoding=json&message={message}");
        let answer = send(version, Request::get(uri).body(Full::default()).unwrap()).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json()["message"], "got it");

        // Binary, base64url, gzip.
        let proto = EchoRequest {
            message: "zipped".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(gzip(&proto));
        let uri = format!(
            "http://{addr}{ECHO}?connect=v1&encoding=proto&base64=1&compression=gzip&message={encoded}"
        );
        let answer = send(version, Request::get(uri).body(Full::default()).unwrap()).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["content-type"], "application/proto");
        assert_eq!(EchoResponse::decode(answer.body).unwrap().message, "zipped");

        // A method with side effects: 405, POST only.
        let uri = format!("http://{addr}{CREATE_SHELF}?connect=v1&encoding=json&message=%7B%7D");
        let answer = send(version, Request::get(uri).body(Full::default()).unwrap()).await;
        assert_eq!(answer.status, 405, "{answer:?}");
        assert_eq!(answer.headers["allow"], "POST");
        assert_eq!(answer.json()["code"], "unimplemented");

        // A plain GET of a method that takes GET: what the query lacks.
        let answer = send(
            version,
            Request::get(format!("http://{addr}{ECHO}"))
                .body(Full::default())
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, 400, "{answer:?}");
        let text = answer.json()["message"].as_str().unwrap().to_owned();
        assert!(
            text.contains("Connect GET") && text.contains("encoding=json"),
            "{text}"
        );

        // A query that is not a request.
        let uri = format!("http://{addr}{ECHO}?connect=v1&encoding=xml&message=x");
        let answer = send(version, Request::get(uri).body(Full::default()).unwrap()).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert!(
            answer.json()["message"]
                .as_str()
                .unwrap()
                .contains("encoding=xml")
        );
    }
}

#[tokio::test]
async fn connect_streams_end_with_the_end_of_stream_message() {
    let _streams = crate::example::STREAMS.lock().await;
    let addr = start_default().await;
    for version in BOTH {
        let body = envelope(0, br#"{"message":"s","repeat":3}"#);
        let request = Request::post(format!("http://{addr}{ECHO_STREAM}"))
            .header("content-type", "application/connect+json")
            .body(Full::from(body))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["content-type"], "application/connect+json");
        let frames = envelopes(&answer.body);
        assert_eq!(frames.len(), 4, "{frames:?}");
        for (i, (flags, payload)) in frames[..3].iter().enumerate() {
            assert_eq!(*flags, 0);
            let json: Value = serde_json::from_slice(payload).unwrap();
            assert_eq!(
                (
                    json["message"].as_str(),
                    json["index"].as_i64().unwrap_or(0)
                ),
                (Some("s"), i as i64)
            );
        }
        let (flags, end) = &frames[3];
        assert_eq!(*flags, 2);
        let end: Value = serde_json::from_slice(end).unwrap();
        assert_eq!(end, json!({}));

        // An error: in the end-of-stream message, status 200.
        let message = EchoRequest {
            message: "denied".into(),
            fail_code: 7,
            response_trailers: [("x-t".to_owned(), "tv".to_owned())].into(),
            ..Default::default()
        };
        let request = Request::post(format!("http://{addr}{ECHO_STREAM}"))
            .header("content-type", "application/connect+proto")
            .body(Full::from(envelope(0, &message.encode_to_vec())))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let frames = envelopes(&answer.body);
        let (flags, end) = frames.last().unwrap();
        assert_eq!(*flags, 2);
        let end: Value = serde_json::from_slice(end).unwrap();
        assert_eq!(
            end["error"],
            json!({"code": "permission_denied", "message": "denied"})
        );

        // A broken request: the error names the message.
        let request = Request::post(format!("http://{addr}{ECHO_STREAM}"))
            .header("content-type", "application/connect+json")
            .body(Full::from(envelope(0, b"{not json")))
            .unwrap();
        let answer = send(version, request).await;
        let frames = envelopes(&answer.body);
        let end: Value = serde_json::from_slice(&frames.last().unwrap().1).unwrap();
        assert_eq!(end["error"]["code"], "invalid_argument", "{end}");
        assert!(
            end["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("message 1:"),
            "{end}"
        );
    }
}

#[tokio::test]
async fn gzip_both_ways_and_zip_bombs_are_resource_exhausted() {
    let _streams = crate::example::STREAMS.lock().await;
    let addr = start(
        "[server]\nmax_request_bytes = 65536\nmax_message_bytes = 65536\n",
        None,
    )
    .await;
    let big = "z".repeat(20_000);
    for version in BOTH {
        // Unary: content-encoding in, accept-encoding out.
        let json = format!(r#"{{"message":"{big}"}}"#);
        let request = connect_post(addr, ECHO, "application/json")
            .header("content-encoding", "gzip")
            .header("accept-encoding", "gzip")
            .body(Full::from(gzip(json.as_bytes())))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["content-encoding"], "gzip");
        let body: Value = serde_json::from_slice(&gunzip(&answer.body)).unwrap();
        assert_eq!(body["message"], big.as_str());

        // A bomb: 10 MB of zeros in 10 kB.
        let bomb = gzip(&vec![b' '; 10_000_000]);
        assert!(bomb.len() < 20_000);
        let request = connect_post(addr, ECHO, "application/json")
            .header("content-encoding", "gzip")
            .body(Full::from(bomb.clone()))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 429, "{answer:?}");
        assert_eq!(answer.json()["code"], "resource_exhausted");
        // An unknown compression.
        let request = connect_post(addr, ECHO, "application/json")
            .header("content-encoding", "br")
            .body(Full::from("{}"))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.json()["code"], "unimplemented", "{answer:?}");

        // Streams: per-envelope flag, connect-content-encoding.
        let message = format!(r#"{{"message":"{big}","repeat":2}}"#);
        let request = Request::post(format!("http://{addr}{ECHO_STREAM}"))
            .header("content-type", "application/connect+json")
            .header("connect-content-encoding", "gzip")
            .header("connect-accept-encoding", "gzip")
            .body(Full::from(envelope(1, &gzip(message.as_bytes()))))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["connect-content-encoding"], "gzip");
        let frames = envelopes(&answer.body);
        assert_eq!(frames.len(), 3);
        for (flags, payload) in &frames[..2] {
            assert_eq!(*flags, 1);
            let json: Value = serde_json::from_slice(&gunzip(payload)).unwrap();
            assert_eq!(json["message"], big.as_str());
        }
        let request = Request::post(format!("http://{addr}{ECHO_STREAM}"))
            .header("content-type", "application/connect+json")
            .header("connect-content-encoding", "gzip")
            .body(Full::from(envelope(1, &bomb)))
            .unwrap();
        let answer = send(version, request).await;
        let frames = envelopes(&answer.body);
        let end: Value = serde_json::from_slice(&frames.last().unwrap().1).unwrap();
        assert_eq!(end["error"]["code"], "resource_exhausted", "{end}");
    }
    still_echoes(addr).await;
}

async fn still_echoes(addr: std::net::SocketAddr) {
    let answer = post_json(Version::Http1, addr, ECHO, r#"{"message":"ok"}"#).await;
    assert_eq!(answer.json()["message"], "ok");
}

/// The trailers of a gRPC-Web body's last frame, as (name, value) lines.
pub(crate) fn grpc_web_trailers(frame: &(u8, Vec<u8>)) -> Vec<(String, String)> {
    assert_eq!(frame.0, 0x80, "{frame:?}");
    String::from_utf8(frame.1.clone())
        .unwrap()
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.to_owned(), v.trim().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn grpc_web_binary_and_text() {
    let _streams = crate::example::STREAMS.lock().await;
    let addr = start_default().await;
    let message = EchoRequest {
        message: "web".into(),
        repeat: 2,
        ..Default::default()
    };
    for version in BOTH {
        // Unary, binary.
        let request = Request::post(format!("http://{addr}{ECHO}"))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .body(Full::from(envelope(0, &message.encode_to_vec())))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["content-type"], "application/grpc-web+proto");
        let frames = envelopes(&answer.body);
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(
            EchoResponse::decode(&frames[0].1[..]).unwrap().message,
            "web"
        );
        let trailers = grpc_web_trailers(&frames[1]);
        assert!(
            trailers.contains(&("grpc-status".into(), "0".into())),
            "{trailers:?}"
        );

        // A server stream, text.
        let body =
            base64::engine::general_purpose::STANDARD.encode(envelope(0, &message.encode_to_vec()));
        let request = Request::post(format!("http://{addr}{ECHO_STREAM}"))
            .header("content-type", "application/grpc-web-text")
            .body(Full::from(body))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(
            answer.headers["content-type"],
            "application/grpc-web-text+proto"
        );
        let text = String::from_utf8(answer.body.to_vec()).unwrap();
        // Each chunk is padded base64 on its own.
        let decoded = decode_pieces(&text);
        let frames = envelopes(&decoded);
        assert_eq!(frames.len(), 3, "{frames:?}");
        assert_eq!(EchoResponse::decode(&frames[1].1[..]).unwrap().index, 1);
        assert!(grpc_web_trailers(&frames[2]).contains(&("grpc-status".into(), "0".into())));

        // JSON messages (connect-es's grpc-web transport, useBinaryFormat false).
        let request = Request::post(format!("http://{addr}{ECHO}"))
            .header("content-type", "application/grpc-web+json")
            .body(Full::from(envelope(0, br#"{"message":"j"}"#)))
            .unwrap();
        let answer = send(version, request).await;
        let frames = envelopes(&answer.body);
        let json: Value = serde_json::from_slice(&frames[0].1).unwrap();
        assert_eq!(json["message"], "j");

        // An error: 200 and the trailers frame.
        let failing = EchoRequest {
            message: "nope".into(),
            fail_code: 5,
            response_trailers: [("x-t".to_owned(), "tv".to_owned())].into(),
            ..Default::default()
        };
        let request = Request::post(format!("http://{addr}{ECHO_STREAM}"))
            .header("content-type", "application/grpc-web")
            .body(Full::from(envelope(0, &failing.encode_to_vec())))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let frames = envelopes(&answer.body);
        assert_eq!(frames.len(), 1, "{frames:?}");
        let trailers = grpc_web_trailers(&frames[0]);
        assert!(
            trailers.contains(&("grpc-status".into(), "5".into())),
            "{trailers:?}"
        );
        assert!(
            trailers.contains(&("grpc-message".into(), "nope".into())),
            "{trailers:?}"
        );
    }
}

/// Decodes a gRPC-Web text body made of padded base64 pieces.
fn decode_pieces(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, group) in bytes.chunks(4).enumerate() {
        let end = (i + 1) * 4;
        if group.contains(&b'=') || end == bytes.len() {
            let piece = &bytes[start..end];
            out.extend(
                base64::engine::general_purpose::STANDARD
                    .decode(piece)
                    .unwrap(),
            );
            start = end;
        }
    }
    out
}

#[tokio::test]
async fn head_and_options() {
    let addr = start_default().await;
    for version in BOTH {
        let request = Request::options(format!("http://{addr}{ECHO}"))
            .body(Full::default())
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 204, "{answer:?}");
        assert_eq!(answer.headers["allow"], "POST, GET, OPTIONS");
        let request = Request::options(format!("http://{addr}/v1/shelves"))
            .body(Full::default())
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 204, "{answer:?}");
        let allow = answer.headers["allow"].to_str().unwrap();
        for verb in ["GET", "POST", "HEAD", "OPTIONS"] {
            assert!(allow.contains(verb), "{allow}");
        }
        let get = send(
            version,
            Request::get(format!("http://{addr}/v1/shelves"))
                .body(Full::default())
                .unwrap(),
        )
        .await;
        let head = send(
            version,
            Request::head(format!("http://{addr}/v1/shelves"))
                .body(Full::default())
                .unwrap(),
        )
        .await;
        assert_eq!(
            (get.status, head.status),
            (http::StatusCode::OK, http::StatusCode::OK)
        );
        assert_eq!(head.headers["content-type"], "application/json");
        assert!(head.body.is_empty());
        assert!(!get.body.is_empty());
    }
}

#[tokio::test]
async fn the_protocol_set_switches_each_off() {
    // Connect off: application/proto is 415, a JSON POST with the header is plain JSON.
    let addr = start(
        "[server]\nprotocols = [\"grpc\", \"json\", \"grpc-web\"]\n",
        None,
    )
    .await;
    let request = connect_post(addr, ECHO, "application/proto")
        .body(Full::default())
        .unwrap();
    assert_eq!(send(Version::Http1, request).await.status, 415);
    let request = connect_post(addr, ECHO, "application/json")
        .body(Full::from(r#"{"failCode":5}"#))
        .unwrap();
    send(Version::Http1, request).await.error(404, 5);
    // gRPC-Web off: passed to the inner service (tonic, without tonic-web).
    let addr = start(
        "[server]\nprotocols = [\"grpc\", \"json\", \"connect\"]\n",
        None,
    )
    .await;
    let request = Request::post(format!("http://{addr}{ECHO}"))
        .header("content-type", "application/grpc-web+proto")
        .body(Full::from(envelope(
            0,
            &EchoRequest::default().encode_to_vec(),
        )))
        .unwrap();
    let answer = send(Version::H2c, request).await;
    assert_ne!(
        answer.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/grpc-web+proto"[..]),
        "{answer:?}"
    );
    // Only Connect and gRPC-Web: JSON is 415, gRPC UNIMPLEMENTED, Connect works.
    let addr = start("[server]\nprotocols = [\"connect\", \"grpc-web\"]\n", None).await;
    let answer = post_json(Version::Http1, addr, ECHO, "{}").await;
    answer.error(415, 3);
    let status = echo(addr)
        .await
        .echo(EchoRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    let request = connect_post(addr, ECHO, "application/json")
        .body(Full::from(r#"{"message":"c"}"#))
        .unwrap();
    assert_eq!(send(Version::Http1, request).await.json()["message"], "c");
}

/// A service without a generated table (tonic-health) is still served in
/// protobuf by Connect and gRPC-Web: nothing needs transcoding.
#[tokio::test]
async fn services_without_a_table_are_served_in_protobuf() {
    use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
    const CHECK: &str = "/grpc.health.v1.Health/Check";
    let addr = start_default().await;
    let request = HealthCheckRequest::default().encode_to_vec();
    for version in BOTH {
        let connect = connect_post(addr, CHECK, "application/proto")
            .body(Full::from(request.clone()))
            .unwrap();
        let answer = send(version, connect).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let health = HealthCheckResponse::decode(answer.body).unwrap();
        assert_eq!(health.status, 1, "SERVING");

        let web = Request::post(format!("http://{addr}{CHECK}"))
            .header("content-type", "application/grpc-web+proto")
            .body(Full::from(envelope(0, &request)))
            .unwrap();
        let answer = send(version, web).await;
        let frames = envelopes(&answer.body);
        assert_eq!(frames.len(), 2, "{answer:?}");
        assert_eq!(
            HealthCheckResponse::decode(&frames[0].1[..])
                .unwrap()
                .status,
            1
        );
        assert!(grpc_web_trailers(&frames[1]).contains(&("grpc-status".into(), "0".into())));

        // An unknown method of such a service: tonic's UNIMPLEMENTED, in
        // the client's protocol.
        let web = Request::post(format!("http://{addr}/grpc.health.v1.Health/Nope"))
            .header("content-type", "application/grpc-web+proto")
            .body(Full::from(envelope(0, &request)))
            .unwrap();
        let answer = send(version, web).await;
        let frames = envelopes(&answer.body);
        let trailers = grpc_web_trailers(frames.last().unwrap());
        assert!(
            trailers.contains(&("grpc-status".into(), "12".into())),
            "{trailers:?}"
        );
        // In JSON it would need a table: Connect says so.
        let connect = connect_post(addr, CHECK, "application/json")
            .body(Full::from("{}"))
            .unwrap();
        let answer = send(version, connect).await;
        assert_eq!(answer.status, 404, "{answer:?}");
        assert_eq!(answer.json()["code"], "unimplemented");
    }
}
