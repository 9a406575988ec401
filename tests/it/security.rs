//! Header handling, reviewed as an attacker would use it: no request header
//! can set a `grpc-*` value the inner service trusts, in any protocol;
//! `authorization` and cookies reach the inner service as the metadata its
//! interceptors read; and no response header repeats what a request sent.
//! (Auth applied alike to gRPC, JSON, REST, NDJSON streams and Connect is
//! `unary::auth_applies_to_every_protocol`.)

use std::collections::HashMap;

use http::Request;
use http_body_util::Full;
use prost::Message as _;

use crate::common::echo::v1::{EchoRequest, EchoResponse};
use crate::connect::{envelope, envelopes};
use crate::support::*;

const ECHO: &str = "/echo.v1.EchoService/Echo";

/// Reserved names a client might forge, with values that would matter.
const FORGED: &[(&str, &str)] = &[
    ("grpc-status", "0"),
    ("grpc-message", "forged"),
    ("grpc-status-details-bin", "AAAA"),
    ("grpc-encoding", "gzip"),
    ("grpc-accept-encoding", "identity"),
    ("grpc-previous-rpc-attempts", "3"),
    ("grpc-retry-pushback-ms", "0"),
    ("grpc-internal-encoding-request", "gzip"),
];

/// What the Echo handler saw, by each protocol the layer transcodes, sent
/// with `headers` and a `cookie`.
async fn seen_by_handler(
    version: Version,
    addr: std::net::SocketAddr,
    headers: &[(&str, &str)],
) -> Vec<(&'static str, HashMap<String, String>)> {
    let message = EchoRequest {
        message: "m".into(),
        ..Default::default()
    };
    let with = |mut request: http::request::Builder| {
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.header("cookie", "session=abc; theme=dark")
    };
    let mut out = Vec::new();
    // JSON on the RPC path, and the same method's REST route.
    for (protocol, path) in [("json", ECHO), ("rest", "/v1/echo")] {
        let request = with(Request::post(format!("http://{addr}{path}")))
            .header("content-type", "application/json")
            .body(Full::from(r#"{"message":"m"}"#))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{protocol}: {answer:?}");
        let json = answer.json();
        let seen = serde_json::from_value(json["requestMetadata"].clone()).unwrap();
        out.push((protocol, seen));
    }
    // Connect, binary.
    let request = with(crate::connect::connect_post(
        addr,
        ECHO,
        "application/proto",
    ))
    .body(Full::from(message.encode_to_vec()))
    .unwrap();
    let answer = send(version, request).await;
    assert_eq!(answer.status, 200, "connect: {answer:?}");
    let seen = EchoResponse::decode(&answer.body[..])
        .unwrap()
        .request_metadata;
    out.push(("connect", seen.into_iter().collect()));
    // gRPC-Web, binary.
    let request = with(Request::post(format!("http://{addr}{ECHO}")))
        .header("content-type", "application/grpc-web+proto")
        .body(Full::from(envelope(0, &message.encode_to_vec())))
        .unwrap();
    let answer = send(version, request).await;
    assert_eq!(answer.status, 200, "grpc-web: {answer:?}");
    let frames = envelopes(&answer.body);
    let seen = EchoResponse::decode(&frames[0].1[..])
        .unwrap()
        .request_metadata;
    out.push(("grpc-web", seen.into_iter().collect()));
    out
}

#[tokio::test]
async fn no_request_header_sets_a_grpc_value_and_cookies_are_metadata() {
    let addr = start_default().await;
    for version in BOTH {
        for (protocol, seen) in seen_by_handler(version, addr, FORGED).await {
            for (name, _) in FORGED {
                assert!(
                    !seen.contains_key(*name),
                    "{protocol}: a forged {name} reached the handler: {seen:?}"
                );
            }
            // The handler sees what gRPC would have sent, and the cookie
            // as metadata its interceptors read.
            assert_eq!(seen["content-type"], "application/grpc", "{protocol}");
            assert_eq!(seen["cookie"], "session=abc; theme=dark", "{protocol}");
        }
    }
    // By gRPC, the same cookie arrives the same way.
    let mut request = tonic::Request::new(EchoRequest::default());
    request
        .metadata_mut()
        .insert("cookie", "session=abc; theme=dark".parse().unwrap());
    let answer = echo(addr).await.echo(request).await.unwrap().into_inner();
    assert_eq!(answer.request_metadata["cookie"], "session=abc; theme=dark");
}

/// Every refusal and answer of the layer, provoked with a marker in the
/// path, the query, the headers and the body: the marker may be named in a
/// JSON body (escaped), never in a response header, whose values are the
/// layer's own or the inner service's.
#[tokio::test]
async fn response_headers_never_repeat_the_request() {
    const MARK: &str = "zz-evil-zz";
    let addr = start_default().await;
    let mark_bin = "enotZXZpbC16eg"; // base64 of the marker, unpadded
    // (case, request, body, the HTTP status over HTTP/1.1 and h2c)
    let requests: Vec<(&str, http::request::Builder, String, [u16; 2])> = vec![
        (
            "unknown method",
            Request::post(format!("http://{addr}/echo.v1.EchoService/{MARK}"))
                .header("content-type", "application/json"),
            "{}".into(),
            [404, 404],
        ),
        (
            "unsupported content type",
            Request::post(format!("http://{addr}{ECHO}")).header("content-type", MARK),
            "{}".into(),
            [415, 415],
        ),
        (
            "bad grpc-timeout",
            Request::post(format!("http://{addr}{ECHO}"))
                .header("content-type", "application/json")
                .header("grpc-timeout", MARK),
            "{}".into(),
            [400, 400],
        ),
        (
            "bad -bin header",
            Request::post(format!("http://{addr}{ECHO}"))
                .header("content-type", "application/json")
                .header("x-mark-bin", format!("{MARK}!")),
            "{}".into(),
            [400, 400],
        ),
        (
            "bad connect version",
            Request::post(format!("http://{addr}{ECHO}"))
                .header("content-type", "application/json")
                .header("connect-protocol-version", MARK),
            "{}".into(),
            [400, 400],
        ),
        (
            "unknown content-encoding",
            Request::post(format!("http://{addr}{ECHO}"))
                .header("content-type", "application/json")
                .header("content-encoding", MARK),
            "{}".into(),
            [415, 415],
        ),
        (
            "bad Connect GET",
            Request::get(format!(
                "http://{addr}{ECHO}?encoding={MARK}&message=%7B%7D&connect=v1"
            )),
            String::new(),
            [400, 400],
        ),
        (
            "unknown JSON field",
            Request::post(format!("http://{addr}{ECHO}"))
                .header("content-type", "application/json"),
            format!(r#"{{"{MARK}":1}}"#),
            [400, 400],
        ),
        (
            "a handler error echoing input",
            Request::post(format!("http://{addr}{ECHO}"))
                .header("content-type", "application/json"),
            format!(r#"{{"message":"{MARK}\r\nx-injected: 1","failCode":3}}"#),
            [400, 400],
        ),
        (
            "Connect error echoing input",
            crate::connect::connect_post(addr, ECHO, "application/json"),
            format!(r#"{{"message":"{MARK}\r\nx-injected: 1","failCode":3}}"#),
            [400, 400],
        ),
        (
            "gRPC-Web error echoing input",
            Request::post(format!("http://{addr}{ECHO}"))
                .header("content-type", "application/grpc-web+proto"),
            String::from_utf8_lossy(&envelope(
                0,
                &EchoRequest {
                    message: format!("{MARK}\r\nx-injected: 1"),
                    fail_code: 3,
                    ..Default::default()
                }
                .encode_to_vec(),
            ))
            .into_owned(),
            [200, 200],
        ),
        (
            "WebSocket handshake with a marked protocol",
            Request::get(format!("http://{addr}/echo.v1.EchoService/EchoChat"))
                .header("connection", "upgrade")
                .header("upgrade", "websocket")
                .header("sec-websocket-version", "13")
                .header("sec-websocket-key", MARK)
                .header("sec-websocket-protocol", MARK),
            String::new(),
            [400, 405],
        ),
        (
            "preflight with CORS off",
            Request::options(format!("http://{addr}{ECHO}"))
                .header("origin", format!("https://{MARK}.example"))
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", MARK),
            String::new(),
            [204, 204],
        ),
        (
            "a -bin header passed on",
            Request::post(format!("http://{addr}{ECHO}"))
                .header("content-type", "application/json")
                .header("x-mark-bin", mark_bin)
                .header("x-mark", MARK),
            "{}".into(),
            [200, 200],
        ),
    ];
    for version in BOTH {
        for (case, request, body, expect) in &requests {
            let request = clone_builder(request)
                .body(Full::from(body.clone()))
                .unwrap();
            let answer = send(version, request).await;
            let expect = expect[usize::from(version == Version::H2c)];
            assert_eq!(answer.status, expect, "{case}: {answer:?}");
            for (name, value) in &answer.headers {
                let value = String::from_utf8_lossy(value.as_bytes()).to_lowercase();
                assert!(
                    !value.contains(MARK) && !value.contains(mark_bin),
                    "{case}: response header {name}: {value:?} repeats the request"
                );
                assert_ne!(name, "x-injected", "{case}: a header was injected");
            }
        }
    }
}

/// A request builder cannot be cloned: this one copies what the cases set.
fn clone_builder(builder: &http::request::Builder) -> http::request::Builder {
    let mut out = Request::builder()
        .method(builder.method_ref().unwrap().clone())
        .uri(builder.uri_ref().unwrap().clone());
    for (name, value) in builder.headers_ref().unwrap() {
        out = out.header(name, value);
    }
    out
}
