//! The example API as a model of bounded handling: its limits answer
//! INVALID_ARGUMENT and the server keeps serving, stream answers are made
//! as the client reads them, and a client going away drops the handler's
//! stream.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use prost::Message as _;
use tonic::Code;

use crate::common::echo::v1::EchoRequest;
use crate::common::{self, MAX_METADATA_BYTES, MAX_METADATA_ENTRIES, MAX_REPEAT};
use crate::support::*;

const ECHO: &str = "/echo.v1.EchoService/Echo";

/// `common::LIVE_STREAMS` counts the streams of the whole test binary, so
/// every test here and in `websocket.rs` that opens an `EchoStream` or
/// `EchoChat` stream holds this lock.
pub(crate) static STREAMS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits up to 5 s for `common::live_streams()` to be `expected`.
pub(crate) async fn live_streams_become(expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = common::live_streams();
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{now} handler streams still live after 5 s, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Asserts that a plain call still works.
async fn still_serves(addr: SocketAddr) {
    let answer = echo(addr)
        .await
        .echo(EchoRequest {
            message: "still here".into(),
            ..Default::default()
        })
        .await
        .expect("the server still serves");
    assert_eq!(answer.get_ref().message, "still here");
}

/// Asserts INVALID_ARGUMENT with a `google.rpc.BadRequest` detail naming
/// `field`, and a message containing `needle`.
fn assert_bad_field(status: &tonic::Status, field: &str, needle: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains(needle), "{needle:?}: {status:?}");
    let details = dual_protocol::rpc::Status::decode(status.details()).expect("status details");
    let [detail] = &details.details[..] else {
        panic!("one detail expected: {details:?}");
    };
    assert_eq!(detail.type_url, "type.googleapis.com/google.rpc.BadRequest");
    let bad = dual_protocol::rpc::BadRequest::decode(&detail.value[..]).unwrap();
    assert_eq!(bad.field_violations[0].field, field, "{bad:?}");
}

fn millis(ms: i32) -> dual_protocol::types::Duration {
    dual_protocol::types::Duration {
        seconds: 0,
        nanos: ms * 1_000_000,
    }
}

#[tokio::test]
async fn a_repeat_over_the_limit_is_invalid_argument_and_the_server_keeps_serving() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let before = common::live_streams();
    let mut client = echo(addr).await;
    for repeat in [i32::MAX, MAX_REPEAT + 1] {
        let status = match client
            .echo_stream(EchoRequest {
                message: "too many".into(),
                repeat,
                ..Default::default()
            })
            .await
        {
            Ok(_) => panic!("repeat = {repeat} was accepted"),
            Err(status) => status,
        };
        assert_bad_field(&status, "repeat", &MAX_REPEAT.to_string());
    }
    assert_eq!(common::live_streams(), before);
    // The server is still up, by both kinds of call.
    still_serves(addr).await;
    let mut stream = client
        .echo_stream(EchoRequest {
            message: "again".into(),
            repeat: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut count = 0;
    while let Some(answer) = stream.message().await.unwrap() {
        assert_eq!(answer.message, "again");
        count += 1;
    }
    assert_eq!(count, 2);
}

#[tokio::test]
async fn a_stream_sends_exactly_repeat_answers_in_order() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut client = echo(addr).await;
    // `repeat` 0 (or less) means one answer, as it always did.
    for (repeat, expected) in [(3, 3), (1, 1), (0, 1), (-5, 1)] {
        let mut stream = client
            .echo_stream(EchoRequest {
                message: "hi".into(),
                payload: vec![1, 2, 3],
                repeat,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        let mut indexes = Vec::new();
        while let Some(answer) = stream.message().await.unwrap() {
            assert_eq!(
                (&*answer.message, &answer.payload[..]),
                ("hi", &[1, 2, 3][..])
            );
            indexes.push(answer.index);
        }
        assert_eq!(
            indexes,
            (0..expected).collect::<Vec<_>>(),
            "repeat = {repeat}"
        );
    }
}

#[tokio::test]
async fn a_stream_waits_delay_before_each_answer() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut client = echo(addr).await;
    let started = Instant::now();
    let mut stream = client
        .echo_stream(EchoRequest {
            repeat: 3,
            delay: Some(millis(200)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // The answers are made one at a time: the first arrives after one
    // delay, not after all three.
    stream.message().await.unwrap().expect("a first answer");
    let first = started.elapsed();
    assert!(first >= Duration::from_millis(200), "{first:?}");
    assert!(first < Duration::from_millis(500), "{first:?}");
    let mut count = 1;
    while stream.message().await.unwrap().is_some() {
        count += 1;
    }
    let all = started.elapsed();
    assert_eq!(count, 3);
    assert!(all >= Duration::from_millis(600), "{all:?}");
}

#[tokio::test]
async fn a_failing_stream_fails_at_its_first_answer_with_its_trailers() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let before = common::live_streams();
    let response = echo(addr)
        .await
        .echo_stream(EchoRequest {
            message: "no such echo".into(),
            fail_code: Code::NotFound as i32,
            repeat: 3,
            response_headers: [("x-head".to_owned(), "h".to_owned())].into(),
            response_trailers: [("x-tail".to_owned(), "t".to_owned())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(response.metadata().get("x-head").unwrap(), "h");
    let mut stream = response.into_inner();
    let status = stream.message().await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::NotFound, "no such echo")
    );
    assert_eq!(status.metadata().get("x-tail").unwrap(), "t");
    drop(stream);
    live_streams_become(before).await;
}

#[tokio::test]
async fn a_client_that_leaves_a_stream_early_drops_the_handler_stream() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let before = common::live_streams();
    // Left alone, this stream would run for MAX_REPEAT * 10 ms = 100 s.
    let mut stream = echo(addr)
        .await
        .echo_stream(EchoRequest {
            message: "tick".into(),
            repeat: MAX_REPEAT,
            delay: Some(millis(10)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    for index in 0..2 {
        let answer = stream.message().await.unwrap().expect("an answer");
        assert_eq!(answer.index, index);
    }
    assert_eq!(common::live_streams(), before + 1);
    drop(stream);
    live_streams_become(before).await;
    still_serves(addr).await;
}

#[tokio::test]
async fn a_chat_client_that_leaves_drops_the_handler_stream() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let before = common::live_streams();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut answers = echo(addr)
        .await
        .echo_chat(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(EchoRequest {
        message: "one".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let answer = answers.message().await.unwrap().expect("an answer");
    assert_eq!((&*answer.message, answer.index), ("one", 0));
    assert_eq!(common::live_streams(), before + 1);
    // The next answer would take a minute; the client leaves instead.
    tx.send(EchoRequest {
        message: "slow".into(),
        delay: Some(dual_protocol::types::Duration {
            seconds: 60,
            nanos: 0,
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    drop(answers);
    drop(tx);
    live_streams_become(before).await;
    still_serves(addr).await;
}

fn headers(count: usize) -> HashMap<String, String> {
    (0..count)
        .map(|i| (format!("x-h-{i}"), i.to_string()))
        .collect()
}

#[tokio::test]
async fn too_much_response_metadata_is_invalid_argument_and_the_server_keeps_serving() {
    let addr = start_default().await;
    let mut client = echo(addr).await;
    let limit = MAX_METADATA_ENTRIES.to_string();
    let status = client
        .echo(EchoRequest {
            response_headers: headers(25_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "response_headers", &limit);
    still_serves(addr).await;

    // One over the limit, as headers or trailers, by every method that
    // sends them; checked before any other work (the fail code here).
    let status = client
        .echo(EchoRequest {
            response_headers: headers(MAX_METADATA_ENTRIES + 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "response_headers", &limit);
    let status = client
        .echo(EchoRequest {
            fail_code: Code::NotFound as i32,
            response_trailers: headers(MAX_METADATA_ENTRIES + 1),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "response_trailers", &limit);
    for request in [
        EchoRequest {
            response_headers: headers(25_000),
            ..Default::default()
        },
        EchoRequest {
            response_trailers: headers(MAX_METADATA_ENTRIES + 1),
            ..Default::default()
        },
    ] {
        match client.echo_stream(request).await {
            Ok(_) => panic!("too much response metadata was accepted"),
            Err(status) => assert_eq!(status.code(), Code::InvalidArgument, "{status:?}"),
        }
    }
    // Too many bytes in few entries.
    let status = client
        .echo(EchoRequest {
            response_headers: [("x-big".to_owned(), "v".repeat(MAX_METADATA_BYTES))].into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "response_headers", &MAX_METADATA_BYTES.to_string());

    // Exactly the limit is served, every entry.
    let answer = client
        .echo(EchoRequest {
            response_headers: headers(MAX_METADATA_ENTRIES),
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..MAX_METADATA_ENTRIES {
        let value = answer.metadata().get(format!("x-h-{i}"));
        assert_eq!(value.unwrap(), &i.to_string());
    }
    // As JSON too.
    let body = serde_json::json!({ "responseHeaders": headers(25_000) }).to_string();
    let json = post_json(Version::Http1, addr, ECHO, &body)
        .await
        .error(400, 3);
    assert!(json["message"].as_str().unwrap().contains(&limit), "{json}");
    still_serves(addr).await;
}

#[tokio::test]
async fn bad_response_metadata_is_invalid_argument_not_dropped() {
    let addr = start_default().await;
    let mut client = echo(addr).await;
    for (name, value, needle) in [
        ("bad name", "v", "bad name"),
        ("", "v", "not a valid"),
        ("x-data-bin", "AAEC", "x-data-bin"),
        ("x-ok", "line\nbreak", "has a value"),
        ("x-ok", "caf\u{e9}", "has a value"),
        ("content-length", "0", "reserved"),
        ("transfer-encoding", "chunked", "reserved"),
        ("connection", "close", "reserved"),
        ("grpc-status", "0", "reserved"),
        ("content-type", "text/plain", "reserved"),
    ] {
        let entries: HashMap<String, String> = [(name.to_owned(), value.to_owned())].into();
        let status = client
            .echo(EchoRequest {
                response_headers: entries.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_bad_field(&status, "response_headers", needle);
        let status = client
            .echo(EchoRequest {
                fail_code: Code::NotFound as i32,
                response_trailers: entries,
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_bad_field(&status, "response_trailers", needle);
    }
    // A long bad name is quoted shortened.
    let long = format!("bad {}", "x".repeat(1000));
    let status = client
        .echo(EchoRequest {
            response_headers: [(long, "v".to_owned())].into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_bad_field(&status, "response_headers", "...");
    assert!(status.message().len() < 200, "{status:?}");
    // Upper case names are accepted as their lower case form, as before.
    let answer = client
        .echo(EchoRequest {
            response_headers: [("X-Answer".to_owned(), "42".to_owned())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(answer.metadata().get("x-answer").unwrap(), "42");
    still_serves(addr).await;
}
