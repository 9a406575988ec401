//! WebSocket calls against the example server (`axum::serve`, with HTTP
//! upgrades), with tokio-tungstenite's client: every method kind, the close
//! codes, request-side errors, deadlines, departing clients, and the
//! handshakes that are refused.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::{self, echo::v1::echo_service_server::EchoServiceServer};
use crate::example::{STREAMS, live_streams_become};
use crate::support::{start, start_default};

const ECHO: &str = "/echo.v1.EchoService/Echo";
const STREAM: &str = "/echo.v1.EchoService/EchoStream";
const CHAT: &str = "/echo.v1.EchoService/EchoChat";
const IMPORT: &str = "/library.v1.LibraryService/ImportBooks";

/// Nothing here should take this long.
const PATIENCE: Duration = Duration::from_secs(10);

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The handshake request for `path`, with extra headers.
fn handshake(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> tungstenite::handshake::client::Request {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    request
}

/// Opens a WebSocket to `path`; panics unless the server switches protocols.
async fn open(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Ws {
    let (ws, response) = tokio_tungstenite::connect_async(handshake(addr, path, headers))
        .await
        .expect("WebSocket handshake");
    assert_eq!(response.status(), 101);
    ws
}

/// The answer to a handshake the server refuses: status and JSON body.
async fn refused(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, http::HeaderMap, Value) {
    match tokio_tungstenite::connect_async(handshake(addr, path, headers)).await {
        Err(tungstenite::Error::Http(response)) => {
            let body = response.body().clone().expect("an error body");
            let json = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&body)));
            (response.status().as_u16(), response.headers().clone(), json)
        }
        Err(e) => panic!("expected an HTTP error answer, got {e:?}"),
        Ok((_, response)) => panic!("expected a refusal, got {response:?}"),
    }
}

async fn send(ws: &mut Ws, json: &str) {
    ws.send(Message::text(json)).await.expect("send a message");
}

/// The client's end of its messages: an empty text frame.
async fn end(ws: &mut Ws) {
    send(ws, "").await;
}

/// The next frame, which must come within [`PATIENCE`].
async fn next(ws: &mut Ws) -> Option<Message> {
    tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("a frame in time")
        .map(|frame| frame.expect("a frame"))
}

/// The next frame, which must be a text frame of JSON.
async fn answer(ws: &mut Ws) -> Value {
    match next(ws).await {
        Some(Message::Text(text)) => {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
        }
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// The next frame, which must be the close frame: its code and reason.
async fn closed(ws: &mut Ws) -> (u16, String) {
    match next(ws).await {
        Some(Message::Close(Some(frame))) => (frame.code.into(), frame.reason.to_string()),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn chat_answers_each_message_as_it_is_sent() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut ws = open(addr, CHAT, &[("x-user", "alice")]).await;
    for (index, word) in ["one", "two", "three"].into_iter().enumerate() {
        send(&mut ws, &json!({ "message": word }).to_string()).await;
        let answer = answer(&mut ws).await;
        assert_eq!(answer["message"], word);
        assert_eq!(
            answer["index"].as_u64(),
            (index > 0).then_some(index as u64),
            "{answer}"
        );
        // The handshake's headers are the call's metadata; the handshake's
        // own and hop-by-hop headers are not.
        let metadata = answer["requestMetadata"].as_object().unwrap();
        assert_eq!(metadata["x-user"], "alice");
        for name in metadata.keys() {
            assert!(
                !name.starts_with("sec-websocket-")
                    && !["connection", "upgrade", "host"].contains(&name.as_str()),
                "{name} reached the handler"
            );
        }
    }
    end(&mut ws).await;
    assert_eq!(closed(&mut ws).await, (1000, String::new()));
}

#[tokio::test]
async fn a_server_stream_answers_after_its_one_message() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut ws = open(addr, STREAM, &[]).await;
    send(&mut ws, r#"{"message":"hi","repeat":3}"#).await;
    for index in 0..3 {
        let answer = answer(&mut ws).await;
        assert_eq!(answer["message"], "hi");
        assert_eq!(answer["index"].as_u64().unwrap_or(0), index);
    }
    assert_eq!(closed(&mut ws).await, (1000, String::new()));
}

#[tokio::test]
async fn a_client_stream_ends_with_an_empty_frame() {
    let addr = start_default().await;
    let mut ws = open(addr, IMPORT, &[]).await;
    for title in ["Solaris", "Roadside Picnic"] {
        let book = json!({ "parent": "shelves/2", "book": { "title": title } });
        send(&mut ws, &book.to_string()).await;
    }
    end(&mut ws).await;
    assert_eq!(answer(&mut ws).await, json!({ "imported": 2 }));
    assert_eq!(closed(&mut ws).await, (1000, String::new()));
    // The books are there.
    let answer = crate::support::post_json(
        crate::support::Version::Http1,
        addr,
        "/library.v1.LibraryService/ListBooks",
        r#"{"parent":"shelves/2"}"#,
    )
    .await;
    assert_eq!(
        answer.json()["books"].as_array().unwrap().len(),
        2,
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_unary_call_is_one_message_each_way() {
    let addr = start_default().await;
    let mut ws = open(addr, ECHO, &[]).await;
    send(&mut ws, r#"{"message":"once"}"#).await;
    assert_eq!(answer(&mut ws).await["message"], "once");
    assert_eq!(closed(&mut ws).await, (1000, String::new()));
}

#[tokio::test]
async fn an_error_status_is_the_close_code() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut ws = open(addr, CHAT, &[]).await;
    send(&mut ws, r#"{"message":"ok"}"#).await;
    assert_eq!(answer(&mut ws).await["message"], "ok");
    send(&mut ws, r#"{"message":"shelf is locked","failCode":9}"#).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4009, "{reason}");
    assert_eq!(reason, "FAILED_PRECONDITION: shelf is locked");
}

#[tokio::test]
async fn a_bad_message_closes_with_4003_naming_it() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut ws = open(addr, CHAT, &[]).await;
    send(&mut ws, r#"{"message":"fine"}"#).await;
    assert_eq!(answer(&mut ws).await["message"], "fine");
    send(&mut ws, r#"{"message": 5}"#).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4003, "{reason}");
    assert!(
        reason.starts_with("INVALID_ARGUMENT: message 2: "),
        "{reason}"
    );
}

#[tokio::test]
async fn a_binary_frame_closes_with_4003() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut ws = open(addr, CHAT, &[]).await;
    ws.send(Message::binary(b"{}".to_vec())).await.unwrap();
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4003, "{reason}");
    assert!(reason.contains("message 1: binary frames"), "{reason}");
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_4003() {
    use tungstenite::protocol::frame::Frame;
    use tungstenite::protocol::frame::coding::{Data, OpCode};
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut ws = open(addr, CHAT, &[]).await;
    let frame = Frame::message(vec![b'"', 0xff, b'"'], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(frame)).await.unwrap();
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4003, "{reason}");
    assert!(
        reason.contains("message 1: a text frame must be UTF-8"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_second_message_to_a_server_stream_closes_with_4003() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut ws = open(addr, STREAM, &[]).await;
    send(&mut ws, r#"{"message":"slow","repeat":3,"delay":"0.2s"}"#).await;
    // Blank frames are not messages; a second message is one too many.
    end(&mut ws).await;
    send(&mut ws, r#"{"message":"again"}"#).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4003, "{reason}");
    assert!(
        reason.contains("message 2: this method takes one request message"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_message_over_the_limit_closes_with_4008() {
    let _streams = STREAMS.lock().await;
    let addr = start("[server]\nmax_message_bytes = 64\n", None).await;
    let mut ws = open(addr, CHAT, &[]).await;
    send(&mut ws, &json!({ "message": "x".repeat(100) }).to_string()).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4008, "{reason}");
    assert!(
        reason.contains("message 1 is larger than the limit of 64 bytes"),
        "{reason}"
    );
}

#[tokio::test]
async fn the_deadline_closes_with_4004() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let mut ws = open(addr, CHAT, &[("grpc-timeout", "300m")]).await;
    send(&mut ws, r#"{"message":"slow","delay":"5s"}"#).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4004, "{reason}");
    assert!(reason.starts_with("DEADLINE_EXCEEDED: "), "{reason}");
}

#[tokio::test]
async fn interceptors_apply_and_answer_in_the_close_frame() {
    let addr = start("", Some("secret")).await;
    let mut ws = open(addr, ECHO, &[]).await;
    send(&mut ws, r#"{"message":"hi"}"#).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4016, "{reason}");
    let mut ws = open(addr, ECHO, &[("authorization", "Bearer secret")]).await;
    send(&mut ws, r#"{"message":"hi"}"#).await;
    assert_eq!(answer(&mut ws).await["message"], "hi");
    assert_eq!(closed(&mut ws).await.0, 1000);
}

#[tokio::test]
async fn a_client_that_leaves_drops_the_handler_stream() {
    let _streams = STREAMS.lock().await;
    let addr = start_default().await;
    let before = common::live_streams();
    // Gone without a word (the TCP connection dropped), then with a close
    // frame: either way the handler's stream goes.
    for polite in [false, true] {
        let mut ws = open(addr, STREAM, &[]).await;
        send(
            &mut ws,
            r#"{"message":"tick","repeat":10000,"delay":"0.01s"}"#,
        )
        .await;
        for index in 0..2 {
            assert_eq!(answer(&mut ws).await["index"].as_u64().unwrap_or(0), index);
        }
        assert_eq!(common::live_streams(), before + 1);
        if polite {
            ws.close(None).await.unwrap();
        }
        drop(ws);
        live_streams_become(before).await;
    }
}

#[tokio::test]
async fn a_bad_handshake_is_400() {
    let addr = start_default().await;
    let (status, headers, json) = refused(addr, CHAT, &[("sec-websocket-version", "8")]).await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(headers["sec-websocket-version"], "13");
    assert_eq!(json["code"], 3);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains("Sec-WebSocket-Version must be 13"),
        "{message}"
    );
    let (status, _, json) = refused(addr, CHAT, &[("sec-websocket-key", "short")]).await;
    assert_eq!(status, 400, "{json}");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("Sec-WebSocket-Key"),
        "{json}"
    );
    // A REST route: its request would come from the path, not from messages.
    let (status, _, json) = refused(addr, "/v1/shelves/1:watch", &[]).await;
    assert_eq!(status, 400, "{json}");
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains("GET /library.v1.LibraryService/WatchShelf"),
        "{message}"
    );
}

#[tokio::test]
async fn tonic_server_has_no_upgrades_and_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .accept_http1(true)
            .layer(dual_protocol::DualProtocolLayer::new())
            .add_service(EchoServiceServer::new(common::Echo))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
            .unwrap();
    });
    let (status, _, json) = refused(addr, ECHO, &[]).await;
    assert_eq!(status, 501, "{json}");
    assert_eq!(json["code"], 12);
    let message = json["message"].as_str().unwrap();
    assert!(
        message.contains("HTTP/1.1 upgrades") && message.contains("NDJSON"),
        "{message}"
    );
}

#[tokio::test]
async fn pages_of_other_origins_are_refused_unless_allowed() {
    let addr = start_default().await;
    // Another site's page: 403, before the upgrade.
    let (status, _, json) = refused(addr, ECHO, &[("origin", "http://evil.example")]).await;
    assert_eq!(status, 403, "{json}");
    assert_eq!(json["code"], 7);
    assert!(
        json["message"].as_str().unwrap().contains("evil.example"),
        "{json}"
    );
    // The server's own origin, and clients without one, are served.
    let own = format!("http://{addr}");
    let mut ws = open(addr, ECHO, &[("origin", &own)]).await;
    send(&mut ws, r#"{"message":"own"}"#).await;
    assert_eq!(answer(&mut ws).await["message"], "own");
    // An origin the configuration allows.
    let server = dual_protocol::DualProtocolLayer::builder()
        .websocket_origins(["http://app.example"])
        .build()
        .unwrap();
    let router = common::routes(None).into_axum_router();
    let app = tower::ServiceBuilder::new().layer(server).service(router);
    let addr = crate::support::serve_axum(axum::Router::new().fallback_service(app)).await;
    let mut ws = open(addr, ECHO, &[("origin", "http://APP.example")]).await;
    send(&mut ws, r#"{"message":"allowed"}"#).await;
    assert_eq!(answer(&mut ws).await["message"], "allowed");
    let (status, _, _) = refused(addr, ECHO, &[("origin", "http://other.example")]).await;
    assert_eq!(status, 403);
}
