//! Bugs a hostile probe found in the transcoding path, one test each.

use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response};
use prost::Message as _;
use tokio::net::TcpListener;
use tonic::transport::Server;

use crate::common::Echo;
use crate::common::echo::v1::EchoResponse;
use crate::common::echo::v1::echo_service_server::EchoServiceServer;
use crate::support::*;
use dual_protocol::DualProtocolLayer;

const ECHO: &str = "/echo.v1.EchoService/Echo";

/// Under h2c load, a JSON call past its deadline sometimes got tonic's own
/// gRPC-framed DEADLINE_EXCEEDED (tonic's Server starts its timer when the
/// stream is accepted, the layer started its own at first poll). The layer's
/// timer now starts in `call`, one tick ahead: a JSON client always gets a
/// JSON 504.
#[tokio::test]
async fn a_json_deadline_under_h2c_load_is_always_json() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .accept_http1(true)
        .layer(DualProtocolLayer::new())
        .add_service(EchoServiceServer::new(Echo))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    for round in 0..4 {
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..250 {
            calls.spawn(async move {
                post_with(
                    Version::H2c,
                    addr,
                    ECHO,
                    r#"{"message":"late","delay":"0.200s"}"#,
                    &[("grpc-timeout", "20m")],
                )
                .await
            });
        }
        while let Some(answer) = calls.join_next().await {
            let answer = answer.unwrap();
            assert_eq!(answer.status, 504, "round {round}: {answer:?}");
            assert_eq!(answer.headers["content-type"], "application/json");
            assert!(answer.headers.get("grpc-status").is_none(), "{answer:?}");
            assert_eq!(answer.json()["code"], 4);
        }
    }
}

/// Handler metadata named like a connection-level header reached the
/// HTTP/1.1 answer (`transfer-encoding: gzip` went out as `gzip, chunked`
/// over a plain body). Such names never go from metadata to HTTP.
#[tokio::test]
async fn connection_level_metadata_never_reaches_http() {
    fn answer() -> Response<axum::body::Body> {
        let message = EchoResponse {
            message: "plain".into(),
            ..Default::default()
        };
        let mut body = vec![0u8];
        body.extend_from_slice(&(message.encoded_len() as u32).to_be_bytes());
        message.encode(&mut body).unwrap();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        trailers.insert("transfer-encoding", HeaderValue::from_static("gzip"));
        trailers.insert("x-trailer", HeaderValue::from_static("kept"));
        let frames: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = vec![
            Ok(http_body::Frame::data(body.into())),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        Response::builder()
            .header("content-type", "application/grpc")
            .header("transfer-encoding", "gzip")
            .header("connection", "close")
            .header("keep-alive", "timeout=5")
            .header("upgrade", "h2c")
            .header("content-encoding", "br")
            .header("x-kept", "yes")
            .body(axum::body::Body::new(http_body_util::StreamBody::new(
                tokio_stream::iter(frames),
            )))
            .unwrap()
    }
    let router = axum::Router::new()
        .route(ECHO, post(|| async { answer() }))
        .layer(DualProtocolLayer::new());
    let addr = serve_axum(router).await;
    for version in BOTH {
        let answer = post_json(version, addr, ECHO, "{}").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json()["message"], "plain");
        assert_eq!(answer.headers["x-kept"], "yes");
        assert_eq!(answer.headers["trailer-x-trailer"], "kept");
        for name in [
            "connection",
            "keep-alive",
            "upgrade",
            "content-encoding",
            "trailer-transfer-encoding",
        ] {
            assert!(answer.headers.get(name).is_none(), "{name}: {answer:?}");
        }
        let encodings: Vec<_> = answer.headers.get_all("transfer-encoding").iter().collect();
        assert!(
            encodings.iter().all(|v| *v == "chunked"),
            "{version:?}: {answer:?}"
        );
    }
}

/// REST routes whose `body` is one field accepted duplicate JSON keys (last
/// wins) though the RPC path rejects them: the body went through a
/// `serde_json::Value`. It is now parsed by the message's own codec.
#[tokio::test]
async fn duplicate_keys_are_rejected_on_a_single_field_rest_body() {
    let addr = start_default().await;
    for version in BOTH {
        let answer = post_json(
            version,
            addr,
            "/v1/shelves/2/books",
            r#"{"title":"a","title":"b"}"#,
        )
        .await;
        let error = answer.error(400, 3);
        assert!(
            error["message"].as_str().unwrap().contains("duplicate"),
            "{error}"
        );
        let request = http::Request::patch(format!("http://{addr}/v1/shelves/1/books/1"))
            .header("content-type", "application/json")
            .body(http_body_util::Full::from(r#"{"title":"a","title":"b"}"#))
            .unwrap();
        send(version, request).await.error(400, 3);
        // A body that is not one JSON value cannot set other fields.
        let answer = post_json(
            version,
            addr,
            "/v1/shelves/2/books",
            r#"{"title":"a"}, "parent": "shelves/1""#,
        )
        .await;
        answer.error(400, 3);
    }
}

/// A zero timeout ran the call with no deadline; the grammar of both
/// headers is a positive integer, so 0 is now a malformed timeout.
#[tokio::test]
async fn a_zero_timeout_is_malformed() {
    let addr = start_default().await;
    for version in BOTH {
        for (name, value) in [("connect-timeout-ms", "0"), ("grpc-timeout", "0S")] {
            let answer =
                post_with(version, addr, ECHO, r#"{"message":"x"}"#, &[(name, value)]).await;
            let error = answer.error(400, 3);
            assert!(error["message"].as_str().unwrap().contains(name), "{error}");
        }
    }
}

/// With two `content-encoding` headers only the first was checked: a body
/// sent as `identity` then `gzip` was read as plain JSON (and a Connect
/// body as `identity`). Every header of the name now counts.
#[tokio::test]
async fn every_content_encoding_header_counts() {
    let addr = start_default().await;
    for version in BOTH {
        let request = |connect: bool| {
            let mut request = http::Request::post(format!("http://{addr}{ECHO}"))
                .header("content-type", "application/json")
                .header("content-encoding", "identity")
                .header("content-encoding", "gzip");
            if connect {
                request = request.header("connect-protocol-version", "1");
            }
            request
                .body(http_body_util::Full::from(r#"{"message":"x"}"#))
                .unwrap()
        };
        let answer = send(version, request(false)).await;
        let error = answer.error(415, 3);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("identity, gzip"),
            "{error}"
        );
        // Connect: an unsupported compression is `unimplemented` (501).
        let answer = send(version, request(true)).await;
        assert_eq!(answer.status, 501, "{answer:?}");
        assert_eq!(answer.json()["code"], "unimplemented");
        assert!(
            String::from_utf8_lossy(&answer.body).contains("identity, gzip"),
            "{answer:?}"
        );
    }
}

/// The soak found that an answer the layer made before reading a body
/// (415, 413, ...) cut the request short: hyper then closed the HTTP/1.1
/// connection without saying so (the client's next request on it failed),
/// and over HTTP/2 the body's DATA frames still in flight counted against
/// the connection's reset limit until hyper sent GOAWAY. The layer now
/// reads and drops the rest of a small body first, and says
/// `connection: close` when it cannot.
#[tokio::test]
async fn an_early_answer_keeps_the_connection_usable() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = start_default().await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = "x".repeat(20_000);
    // A refused body (a content type not served), sent in two parts.
    let head = format!(
        "POST {ECHO} HTTP/1.1\r\nhost: x\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10_000]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    stream.write_all(&body.as_bytes()[10_000..]).await.unwrap();
    // Then a good request on the same connection.
    let good = r#"{"message":"next"}"#;
    let next = format!(
        "POST {ECHO} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{good}",
        good.len()
    );
    stream.write_all(next.as_bytes()).await.unwrap();
    let mut answers = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answers).contains(r#""message":"next""#) {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed after: {}", String::from_utf8_lossy(&answers));
            answers.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("both answers");
    let text = String::from_utf8_lossy(&answers);
    assert!(text.starts_with("HTTP/1.1 415"), "{text}");
    assert!(!text.contains("connection: close"), "{text}");

    // A body too large to read: the answer says the connection ends.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {ECHO} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{{",
        64 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
}

/// A body the layer stops reading midway (over the limit, streamed without
/// a length) leaves an HTTP/1.1 connection that hyper closes: the answer
/// says `connection: close`.
#[tokio::test]
async fn a_body_refused_midway_says_the_connection_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = start("[server]\nmax_request_bytes = 1024\n", None).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {ECHO} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!(
        "{:x}\r\n{{\"message\":\"{}\r\n",
        4096 + 12,
        "x".repeat(4096)
    );
    stream.write_all(chunk.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
}
