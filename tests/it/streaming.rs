//! Streaming over HTTP: server streams as NDJSON and SSE, client streams as
//! NDJSON, bidi full duplex over h2c and half duplex over HTTP/1.1, all
//! checked against the same calls made by gRPC.

use std::time::Duration;

use http::Request;
use serde_json::{Value, json};
use tokio_stream::StreamExt;

use crate::common::echo::v1::EchoRequest;
use crate::common::library::v1::{GetBookRequest, WatchShelfRequest};
use crate::support::{self, BOTH, Version, exchange, post_json};

const CHAT: &str = "/echo.v1.EchoService/EchoChat";

fn get(addr: std::net::SocketAddr, path: &str) -> http::request::Builder {
    Request::get(format!("http://{addr}{path}"))
}

fn post(addr: std::net::SocketAddr, path: &str, content_type: &str) -> http::request::Builder {
    Request::post(format!("http://{addr}{path}")).header("content-type", content_type)
}

/// The JSON of what a gRPC client gets from WatchShelf, for comparison.
async fn watch_by_grpc(addr: std::net::SocketAddr, shelf: &str) -> Vec<Value> {
    let mut client = support::library(addr).await;
    let mut stream = client
        .watch_shelf(WatchShelfRequest {
            shelf: shelf.into(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.unwrap();
        let book = event.book.unwrap();
        out.push(json!({
            "kind": "KIND_CREATED",
            "book": { "name": book.name, "title": book.title, "author": book.author },
        }));
        assert_eq!(event.kind, 1);
    }
    out
}

/// The fields of a BookEvent the comparison looks at.
fn event_summary(event: &Value) -> Value {
    json!({
        "kind": event["kind"],
        "book": {
            "name": event["book"]["name"],
            "title": event["book"]["title"],
            "author": event["book"]["author"],
        },
    })
}

#[tokio::test]
async fn server_stream_as_ndjson_matches_grpc() {
    let addr = support::start_default().await;
    let expected = watch_by_grpc(addr, "shelves/1").await;
    assert_eq!(expected.len(), 2);
    for version in BOTH {
        // The REST route and the RPC path give the same lines.
        let rest = exchange(version, get(addr, "/v1/shelves/1:watch"), Some("")).await;
        let rpc = exchange(
            version,
            post(
                addr,
                "/library.v1.LibraryService/WatchShelf",
                "application/json",
            ),
            Some(r#"{"shelf":"shelves/1"}"#),
        )
        .await;
        for mut answer in [rest, rpc] {
            assert_eq!(answer.status, 200, "{version:?}");
            assert_eq!(answer.headers["content-type"], "application/x-ndjson");
            let lines = answer.lines().await;
            let got: Vec<Value> = lines.iter().map(event_summary).collect();
            assert_eq!(got, expected, "{version:?}");
            if version == Version::H2c {
                let trailers = answer.trailers.expect("h2 trailers");
                assert_eq!(trailers["grpc-status"], "0");
            }
        }
    }
}

#[tokio::test]
async fn server_stream_as_sse() {
    let addr = support::start_default().await;
    let expected = watch_by_grpc(addr, "shelves/1").await;
    for version in BOTH {
        let mut answer = exchange(
            version,
            get(addr, "/v1/shelves/1:watch").header("accept", "text/event-stream"),
            Some(""),
        )
        .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.headers["content-type"], "text/event-stream");
        assert_eq!(answer.headers["cache-control"], "no-cache");
        let mut got = Vec::new();
        while let Some(event) = answer.next_chunk("\n\n").await {
            let data = event.strip_prefix("data: ").expect("a data event");
            got.push(event_summary(&serde_json::from_str(data).unwrap()));
        }
        assert_eq!(got, expected, "{version:?}");
    }
}

#[tokio::test]
async fn an_empty_server_stream_is_an_empty_body() {
    let addr = support::start_default().await;
    assert!(watch_by_grpc(addr, "shelves/2").await.is_empty());
    for version in BOTH {
        let answer = exchange(version, get(addr, "/v1/shelves/2:watch"), Some("")).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.text().await, "");
    }
}

#[tokio::test]
async fn server_stream_error_before_the_first_message_is_an_http_error() {
    let addr = support::start_default().await;
    for version in BOTH {
        for accept in ["application/x-ndjson", "text/event-stream"] {
            let answer = exchange(
                version,
                get(addr, "/v1/shelves/404:watch").header("accept", accept),
                Some(""),
            )
            .await;
            assert_eq!(answer.status, 404, "{version:?} {accept}");
            assert_eq!(answer.headers["content-type"], "application/json");
            let body: Value = serde_json::from_str(&answer.text().await).unwrap();
            assert_eq!(body["code"], 5);
        }
    }
}

#[tokio::test]
async fn client_stream_as_ndjson_imports_books() {
    let addr = support::start_default().await;
    for (i, version) in BOTH.into_iter().enumerate() {
        let body = format!(
            "{{\"parent\":\"shelves/2\",\"bookId\":\"n{i}a\",\"book\":{{\"title\":\"A\"}}}}\n\n\
             {{\"parent\":\"shelves/2\",\"bookId\":\"n{i}b\",\"book\":{{\"title\":\"B\"}}}}"
        );
        let answer = exchange(
            version,
            post(addr, "/v1/books:import", "application/x-ndjson"),
            Some(&body),
        )
        .await;
        assert_eq!(answer.status, 200, "{version:?}");
        assert_eq!(answer.headers["content-type"], "application/json");
        let text = answer.text().await;
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"imported": 2})
        );
        // The books exist, seen by gRPC.
        let mut client = support::library(addr).await;
        let book = client
            .get_book(GetBookRequest {
                name: format!("shelves/2/books/n{i}b"),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(book.title, "B");
    }
}

#[tokio::test]
async fn a_bad_ndjson_line_is_invalid_argument_naming_the_line_and_field() {
    let addr = support::start_default().await;
    for version in BOTH {
        let body = "{\"parent\":\"shelves/2\",\"book\":{\"title\":\"ok\"}}\n\
                    {\"parent\":\"shelves/2\",\"book\":{\"title\":7}}\n";
        let answer = exchange(
            version,
            post(addr, "/v1/books:import", "application/x-ndjson"),
            Some(body),
        )
        .await;
        assert_eq!(answer.status, 400, "{version:?}");
        let error: Value = serde_json::from_str(&answer.text().await).unwrap();
        assert_eq!(error["code"], 3);
        let message = error["message"].as_str().unwrap();
        assert!(message.starts_with("line 2: "), "{message}");
        assert_eq!(
            error["details"][0]["fieldViolations"][0]["field"], "book.title",
            "{error}"
        );
    }
}

#[tokio::test]
async fn an_over_limit_ndjson_line_is_resource_exhausted() {
    let addr = support::start("[server]\nmax_message_bytes = 256\n", None).await;
    let big = "x".repeat(300);
    let body = format!(
        "{{\"parent\":\"shelves/2\",\"book\":{{\"title\":\"ok\"}}}}\n\
         {{\"parent\":\"shelves/2\",\"book\":{{\"title\":\"{big}\"}}}}\n"
    );
    for version in BOTH {
        let answer = exchange(
            version,
            post(addr, "/v1/books:import", "application/x-ndjson"),
            Some(&body),
        )
        .await;
        assert_eq!(answer.status, 413, "{version:?}");
        let error: Value = serde_json::from_str(&answer.text().await).unwrap();
        assert_eq!(error["code"], 8);
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("line 2") && message.contains("256 bytes"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn bidi_over_h2c_is_full_duplex() {
    // Opens Echo streams: not while example.rs counts them.
    let _streams = crate::example::STREAMS.lock().await;
    let addr = support::start_default().await;
    let mut chat = exchange(Version::H2c, post(addr, CHAT, "application/x-ndjson"), None).await;
    chat.send("{\"message\":\"one\"}\n").await;
    // The answer to the first message arrives before the second is sent.
    let first = tokio::time::timeout(Duration::from_secs(5), chat.next_line())
        .await
        .expect("the first answer before the second message")
        .unwrap();
    assert_eq!(chat.status, 200);
    assert_eq!(chat.headers["content-type"], "application/x-ndjson");
    assert_eq!(
        (first["message"].as_str(), first["index"].as_i64()),
        (Some("one"), None)
    );
    chat.send("{\"message\":\"two\"}\n").await;
    let second = chat.next_line().await.unwrap();
    assert_eq!(
        (second["message"].as_str(), second["index"].as_i64()),
        (Some("two"), Some(1))
    );
    chat.close();
    assert_eq!(chat.next_line().await, None);
    assert_eq!(chat.trailers.as_ref().unwrap()["grpc-status"], "0");
}

#[tokio::test]
async fn bidi_over_http1_is_half_duplex_and_an_error_after_a_message_is_the_last_line() {
    // Opens Echo streams: not while example.rs counts them.
    let _streams = crate::example::STREAMS.lock().await;
    let addr = support::start_default().await;
    for version in BOTH {
        let body = "{\"message\":\"one\"}\n{\"message\":\"no\",\"failCode\":9}\n";
        let mut chat = exchange(
            version,
            post(addr, CHAT, "application/x-ndjson"),
            Some(body),
        )
        .await;
        assert_eq!(chat.status, 200);
        let lines = chat.lines().await;
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["message"], "one");
        assert_eq!(lines[1]["error"]["code"], 9, "{lines:?}");
        assert_eq!(lines[1]["error"]["message"], "no");
        if version == Version::H2c {
            let trailers = chat.trailers.as_ref().expect("h2 trailers");
            assert_eq!(trailers["grpc-status"], "9");
            assert_eq!(trailers["grpc-message"], "no");
        }
    }
}

#[tokio::test]
async fn a_deadline_mid_stream_ends_it_with_deadline_exceeded() {
    // Opens Echo streams: not while example.rs counts them.
    let _streams = crate::example::STREAMS.lock().await;
    let addr = support::start_default().await;
    for version in BOTH {
        let mut chat = exchange(
            version,
            post(addr, CHAT, "application/x-ndjson")
                .header("grpc-timeout", "400m")
                .header("accept", "text/event-stream"),
            None,
        )
        .await;
        chat.send("{\"message\":\"one\"}\n").await;
        assert_eq!(chat.status, 200, "{version:?}");
        let first = chat.next_chunk("\n\n").await.unwrap();
        assert!(first.starts_with("data: "), "{first}");
        // No more messages: the deadline passes mid-stream.
        let last = tokio::time::timeout(Duration::from_secs(5), chat.next_chunk("\n\n"))
            .await
            .expect("the deadline ends the stream")
            .unwrap();
        let data = last.strip_prefix("event: error\ndata: ").expect(&last);
        let status: Value = serde_json::from_str(data).unwrap();
        assert_eq!(status["code"], 4, "{version:?}");
        assert_eq!(chat.next_chunk("\n\n").await, None);
    }
}

#[tokio::test]
async fn a_json_body_is_a_stream_of_one_and_ndjson_is_refused_for_unary() {
    // Opens Echo streams: not while example.rs counts them.
    let _streams = crate::example::STREAMS.lock().await;
    let addr = support::start_default().await;
    for version in BOTH {
        let answer = post_json(version, addr, CHAT, r#"{"message":"solo"}"#).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.headers["content-type"], "application/x-ndjson");
        let line: Value = serde_json::from_slice(answer.body.strip_suffix(b"\n").unwrap()).unwrap();
        assert_eq!(line["message"], "solo");
        let answer = exchange(
            version,
            post(addr, "/echo.v1.EchoService/Echo", "application/x-ndjson"),
            Some("{}\n"),
        )
        .await;
        assert_eq!(answer.status, 415);
        assert!(answer.text().await.contains("expected application/json"));
    }
}

#[tokio::test]
async fn ndjson_differs_from_grpc_in_nothing_but_the_framing() {
    // Opens Echo streams: not while example.rs counts them.
    let _streams = crate::example::STREAMS.lock().await;
    let addr = support::start_default().await;
    let requests = ["alpha", "beta", "gamma"];
    let mut client = support::echo(addr).await;
    let outbound = tokio_stream::iter(requests.map(|m| EchoRequest {
        message: m.into(),
        ..Default::default()
    }));
    let mut by_grpc = Vec::new();
    let mut stream = client.echo_chat(outbound).await.unwrap().into_inner();
    while let Some(answer) = stream.next().await {
        let answer = answer.unwrap();
        by_grpc.push((answer.message, answer.index));
    }
    let body: String = requests
        .iter()
        .map(|m| format!("{{\"message\":\"{m}\"}}\n"))
        .collect();
    let mut chat = exchange(
        Version::H2c,
        post(addr, CHAT, "application/x-ndjson"),
        Some(&body),
    )
    .await;
    let by_json: Vec<(String, i32)> = chat
        .lines()
        .await
        .iter()
        .map(|l| {
            (
                l["message"].as_str().unwrap().to_owned(),
                l["index"].as_i64().unwrap_or(0) as i32,
            )
        })
        .collect();
    assert_eq!(by_json, by_grpc);
}

/// `google.api.HttpBody`: a cover uploaded as raw bytes (a client stream of
/// chunks), then downloaded whole and as a stream, with its content type.
#[tokio::test]
async fn raw_bodies_upload_and_download() {
    let addr = support::start_default().await;
    let cover: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    for (book, version) in [(1, Version::Http1), (2, Version::H2c)] {
        let path = &format!("/v1/shelves/1/books/{book}/cover");
        // Not there yet.
        let answer = exchange(version, get(addr, path), Some("")).await;
        assert_eq!(answer.status, 404, "{version:?}");

        let upload = support::upload(
            version,
            Request::put(format!("http://{addr}{path}")).header("content-type", "image/x-test"),
            cover.chunks(7_000).map(<[u8]>::to_vec).collect(),
        )
        .await;
        assert_eq!(upload.status, 200, "{version:?}");
        let stored: Value = serde_json::from_str(&upload.text().await).unwrap();
        assert_eq!(
            stored,
            json!({"name": format!("shelves/1/books/{book}"), "contentType": "image/x-test", "size": "40000"})
        );

        let whole = exchange(version, get(addr, path), Some("")).await;
        assert_eq!(whole.status, 200);
        assert_eq!(whole.status, 200);
        assert_eq!(whole.headers["content-type"], "image/x-test");
        assert_eq!(whole.bytes().await, cover);

        let mut download =
            exchange(version, get(addr, &format!("{path}:download")), Some("")).await;
        assert_eq!(download.status, 200);
        assert_eq!(download.headers["content-type"], "image/x-test");
        let mut got = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = download.next_data().await {
            got.extend_from_slice(&chunk);
            chunks += 1;
        }
        assert_eq!(got, cover);
        assert!(chunks >= 3, "{chunks} chunks: streamed per message");
        if version == Version::H2c {
            assert_eq!(download.trailers.as_ref().unwrap()["grpc-status"], "0");
        }
    }
    // The same bytes by gRPC.
    let by_grpc = support::library(addr)
        .await
        .get_cover(crate::common::library::v1::GetCoverRequest {
            name: "shelves/1/books/2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (by_grpc.content_type.as_str(), by_grpc.data),
        ("image/x-test", cover)
    );
}

#[tokio::test]
async fn an_over_limit_raw_upload_is_refused_and_the_server_keeps_serving() {
    let addr = support::start_default().await;
    let big = vec![b'x'; crate::common::MAX_COVER_BYTES + 1];
    for version in BOTH {
        let upload = support::upload(
            version,
            Request::put(format!("http://{addr}/v1/shelves/1/books/1/cover"))
                .header("content-type", "text/plain"),
            big.chunks(64 * 1024).map(<[u8]>::to_vec).collect(),
        )
        .await;
        assert_eq!(upload.status, 429, "{version:?}");
        let error: Value = serde_json::from_str(&upload.text().await).unwrap();
        assert_eq!(error["code"], 8);
        let answer = post_json(version, addr, "/echo.v1.EchoService/Echo", "{}").await;
        assert_eq!(answer.status, 200);
    }
}

/// Each message reaches the client when the handler yields it, and a client
/// that goes away cancels the call: the handler's stream is dropped.
#[tokio::test]
async fn messages_flow_one_by_one_and_a_departed_client_cancels_the_call() {
    let _streams = crate::example::STREAMS.lock().await;
    let addr = support::start_default().await;
    for version in BOTH {
        let before = crate::common::live_streams();
        let mut stream = exchange(
            version,
            post(addr, "/echo.v1.EchoService/EchoStream", "application/json"),
            Some(r#"{"message":"tick","repeat":1000,"delay":"0.2s"}"#),
        )
        .await;
        let first = stream.next_line().await.unwrap();
        assert_eq!(first["message"], "tick");
        // The handler still holds its stream: 999 messages to go.
        assert_eq!(crate::common::live_streams(), before + 1, "{version:?}");
        let second = stream.next_line().await.unwrap();
        assert_eq!(second["index"], 1);
        drop(stream);
        crate::example::live_streams_become(before).await;
    }
}
