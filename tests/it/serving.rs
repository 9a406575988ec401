//! The example's serving loop (`examples/common/serve.rs`): graceful
//! shutdown, and the limits that close connections which send nothing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::common::{self, serve::Limits};
use crate::support::*;

const ECHO: &str = "/echo.v1.EchoService/Echo";

/// The example server with `limits`; dropping or firing the sender shuts
/// it down. The join handle ends when the server has.
async fn start_with(
    limits: Limits,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let config = dual_protocol::Config::from_toml("").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        common::serve_with(listener, &config, None, limits, shutdown)
            .await
            .unwrap();
    });
    (addr, stop, served)
}

#[tokio::test]
async fn shutdown_lets_calls_in_flight_finish() {
    let (addr, stop, served) = start_with(Limits::default()).await;
    let slow = r#"{"message":"slow","delay":"0.4s"}"#;
    let mut calls = Vec::new();
    for version in BOTH {
        calls.push(tokio::spawn(async move {
            post_json(version, addr, ECHO, slow).await
        }));
    }
    let mut grpc = echo(addr).await;
    let grpc_call = tokio::spawn(async move {
        grpc.echo(crate::common::echo::v1::EchoRequest {
            message: "slow grpc".into(),
            delay: Some(prost_types_duration(400)),
            ..Default::default()
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    for call in calls {
        let answer = call.await.unwrap();
        assert_eq!(answer.json()["message"], "slow", "{answer:?}");
    }
    let answer = grpc_call.await.unwrap().unwrap();
    assert_eq!(answer.into_inner().message, "slow grpc");
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("the server ends once its calls have")
        .unwrap();
    // No longer listening.
    assert!(TcpStream::connect(addr).await.is_err());
}

fn prost_types_duration(millis: i64) -> dual_protocol::types::Duration {
    dual_protocol::types::Duration {
        seconds: millis / 1000,
        nanos: (millis % 1000) as i32 * 1_000_000,
    }
}

/// Reads until the server closes the connection; how long that took.
async fn closed_after(mut stream: TcpStream) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server closes the connection");
    started.elapsed()
}

#[tokio::test]
async fn connections_that_send_nothing_are_closed() {
    let limits = Limits {
        first_request: Duration::from_millis(300),
        header_read: Duration::from_millis(300),
        ..Limits::default()
    };
    let (addr, _stop, _served) = start_with(limits).await;
    // Silent.
    let silent = TcpStream::connect(addr).await.unwrap();
    // Half an HTTP/2 preface.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    // Half an HTTP/1.1 head.
    let mut head = TcpStream::connect(addr).await.unwrap();
    head.write_all(b"POST /echo.v1.EchoService/Echo HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    for stream in [silent, half, head] {
        assert!(closed_after(stream).await < Duration::from_secs(5));
    }
    // The server goes on.
    let answer = post_json(Version::Http1, addr, ECHO, r#"{"message":"ok"}"#).await;
    assert_eq!(answer.json()["message"], "ok");
}

#[tokio::test]
async fn a_body_that_stops_sending_ends_its_call() {
    let limits = Limits {
        body_read: Duration::from_millis(300),
        ..Limits::default()
    };
    let (addr, _stop, _served) = start_with(limits).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /echo.v1.EchoService/Echo HTTP/1.1\r\nhost: x\r\n\
              content-type: application/json\r\ncontent-length: 100\r\n\r\n{\"message\":",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("answered and closed")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(
        answer.contains("timed out") || answer.contains("timeout"),
        "{answer}"
    );
}

/// JSON for a slow Echo call.
fn slow_echo(millis: u64) -> String {
    format!(
        r#"{{"message":"m","delay":"{}.{:03}s"}}"#,
        millis / 1000,
        millis % 1000
    )
}

/// HTTP/2 frames written and read by hand, for what h2's client never
/// sends (more streams than the server allows, DATA past a
/// content-length).
mod raw_h2 {
    use std::net::SocketAddr;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    pub const DATA: u8 = 0;
    pub const HEADERS: u8 = 1;
    pub const RST_STREAM: u8 = 3;
    pub const SETTINGS: u8 = 4;
    pub const PING: u8 = 6;
    pub const GOAWAY: u8 = 7;
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PROTOCOL_ERROR: u32 = 0x1;
    pub const REFUSED_STREAM: u32 = 0x7;
    pub const ENHANCE_YOUR_CALM: u32 = 0xb;

    #[derive(Debug)]
    pub struct Frame {
        pub kind: u8,
        pub flags: u8,
        pub stream: u32,
        pub payload: Vec<u8>,
    }

    impl Frame {
        /// The error code of a RST_STREAM or GOAWAY.
        pub fn error_code(&self) -> u32 {
            let at = if self.kind == GOAWAY { 4 } else { 0 };
            u32::from_be_bytes(self.payload[at..at + 4].try_into().unwrap())
        }
    }

    pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        out.extend([kind, flags]);
        out.extend(stream.to_be_bytes());
        out.extend(payload);
        out
    }

    /// A JSON POST's HEADERS (without END_STREAM): HPACK with static
    /// indexes and literals only.
    pub fn post(stream: u32, path: &str, content_length: usize) -> Vec<u8> {
        let mut block = vec![0x83, 0x86]; // :method POST, :scheme http
        let mut literal = |index: u8, name: &str, value: &str| {
            block.push(index);
            if index == 0 {
                block.push(name.len() as u8);
                block.extend(name.as_bytes());
            }
            block.push(value.len() as u8);
            block.extend(value.as_bytes());
        };
        literal(4, "", path); // :path
        literal(1, "", "x"); // :authority
        literal(0, "content-type", "application/json");
        literal(0, "content-length", &content_length.to_string());
        frame(HEADERS, END_HEADERS, stream, &block)
    }

    /// A connection past the preface and an empty SETTINGS.
    pub async fn connect(addr: SocketAddr) -> TcpStream {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        stream.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
        stream
    }

    /// The next frame, or `None` once the connection is closed.
    pub async fn read(stream: &mut (impl AsyncRead + Unpin)) -> Option<Frame> {
        let mut head = [0u8; 9];
        stream.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0; len];
        stream.read_exact(&mut payload).await.ok()?;
        Some(Frame {
            kind: head[3],
            flags: head[4],
            stream: u32::from_be_bytes(head[5..9].try_into().unwrap()) & 0x7fff_ffff,
            payload,
        })
    }
}

/// h2's client sees SETTINGS_MAX_CONCURRENT_STREAMS = 256 and queues its
/// streams past that: 300 slow calls on one connection all succeed, and
/// the 257th to end ended a whole call later than the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_clients_see_256_concurrent_streams() {
    const DELAY: u64 = 1000;
    let (addr, _stop, _served) = start_with(Limits::default()).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    let (tx, mut max_streams) = tokio::sync::watch::channel(usize::MAX);
    tokio::spawn(async move {
        let mut connection = Box::pin(connection);
        std::future::poll_fn(|cx| {
            let polled = connection.as_mut().poll(cx);
            tx.send_replace(connection.max_concurrent_send_streams());
            polled
        })
        .await
    });
    let max = *tokio::time::timeout(
        Duration::from_secs(5),
        max_streams.wait_for(|&n| n != usize::MAX),
    )
    .await
    .expect("the server's SETTINGS")
    .unwrap();
    assert_eq!(max, 256);

    let started = Instant::now();
    let calls: Vec<_> = (0..300)
        .map(|_| {
            let send = send.clone();
            tokio::spawn(async move {
                let mut send = send.ready().await.unwrap();
                let request = http::Request::post(format!("http://{addr}{ECHO}"))
                    .header("content-type", "application/json")
                    .body(())
                    .unwrap();
                let (response, mut body) = send.send_request(request, false).unwrap();
                body.send_data(slow_echo(DELAY).into(), true).unwrap();
                let response = response.await.unwrap();
                let status = response.status();
                let mut body = response.into_body();
                let mut bytes = Vec::new();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.unwrap();
                    body.flow_control().release_capacity(chunk.len()).unwrap();
                    bytes.extend_from_slice(&chunk);
                }
                (status, bytes, started.elapsed())
            })
        })
        .collect();
    let mut ended = Vec::new();
    for call in calls {
        let (status, body, elapsed) = call.await.unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["message"], "m");
        ended.push(elapsed);
    }
    ended.sort();
    eprintln!(
        "first call ended after {:?}, the 256th after {:?}, the 257th after {:?}, the last after {:?}",
        ended[0], ended[255], ended[256], ended[299]
    );
    // The 257th stream opened only once a first one had ended (after
    // DELAY), and then ran for DELAY itself.
    assert!(
        ended[256] >= Duration::from_millis(2 * DELAY - 20),
        "{:?}",
        ended[256]
    );
}

/// A client that ignores SETTINGS_MAX_CONCURRENT_STREAMS and opens 300
/// slow calls at once gets 256 answered and 44 refused (RST_STREAM
/// REFUSED_STREAM, which a client may retry); the retries are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_past_256_are_refused() {
    use raw_h2::*;
    let (addr, _stop, _served) = start_with(Limits::default()).await;
    let mut conn = raw_h2::connect(addr).await;
    let body = slow_echo(1500);
    let calls = |ids: &[u32]| {
        let mut out = Vec::new();
        for &id in ids {
            out.extend(post(id, ECHO, body.len()));
            out.extend(frame(DATA, END_STREAM, id, body.as_bytes()));
        }
        out
    };
    // Waits for an outcome of each stream of `ids`: Ok(status byte) for
    // an answer, Err(code) for a reset.
    async fn outcomes(
        conn: &mut TcpStream,
        ids: &[u32],
    ) -> std::collections::BTreeMap<u32, Result<u8, u32>> {
        let mut status = std::collections::BTreeMap::new();
        let mut done = std::collections::BTreeMap::new();
        while done.len() < ids.len() {
            let frame = tokio::time::timeout(Duration::from_secs(8), raw_h2::read(conn))
                .await
                .expect("frames")
                .expect("the connection stays open");
            match frame.kind {
                SETTINGS if frame.flags & ACK == 0 => {
                    conn.write_all(&raw_h2::frame(SETTINGS, ACK, 0, &[]))
                        .await
                        .unwrap();
                }
                PING if frame.flags & ACK == 0 => {
                    conn.write_all(&raw_h2::frame(PING, ACK, 0, &frame.payload))
                        .await
                        .unwrap();
                }
                GOAWAY => panic!("GOAWAY {frame:?}"),
                RST_STREAM if ids.contains(&frame.stream) => {
                    done.entry(frame.stream).or_insert(Err(frame.error_code()));
                }
                HEADERS | DATA if ids.contains(&frame.stream) => {
                    if frame.kind == HEADERS {
                        // :status 200 is HPACK's static entry 8.
                        status.entry(frame.stream).or_insert(frame.payload[0]);
                    }
                    if frame.flags & END_STREAM != 0 {
                        done.entry(frame.stream)
                            .or_insert(Ok(status.get(&frame.stream).copied().unwrap_or(0)));
                    }
                }
                _ => {}
            }
        }
        done
    }
    let ids: Vec<u32> = (0..300).map(|i| 2 * i + 1).collect();
    conn.write_all(&calls(&ids)).await.unwrap();
    let first = outcomes(&mut conn, &ids).await;
    let answered = first.values().filter(|o| **o == Ok(0x88)).count();
    let refused: Vec<u32> = first
        .iter()
        .filter(|(_, o)| **o == Err(REFUSED_STREAM))
        .map(|(id, _)| *id)
        .collect();
    eprintln!("{answered} answered, {} refused", refused.len());
    assert_eq!((answered, refused.len()), (256, 44), "{first:?}");
    // Retried on new streams, now that the first have ended.
    let retries: Vec<u32> = (300..344).map(|i| 2 * i + 1).collect();
    conn.write_all(&calls(&retries)).await.unwrap();
    let second = outcomes(&mut conn, &retries).await;
    assert!(second.values().all(|o| *o == Ok(0x88)), "{second:?}");
}

/// Opens `streams` streams on a new connection, each declaring
/// `content-length: 0` and sending one byte of DATA, one at a time (each
/// after the server's answer to the previous one) when `paced`, else all
/// in one write. Returns the RST_STREAM frames seen, by error code, and
/// the GOAWAY that ended the connection (after which it was closed).
async fn make_the_server_reset(
    addr: SocketAddr,
    streams: u32,
    paced: bool,
) -> (std::collections::BTreeMap<u32, usize>, raw_h2::Frame) {
    use raw_h2::*;
    let conn = raw_h2::connect(addr).await;
    let (mut read, mut write) = conn.into_split();
    let bad = |id: u32| {
        let mut out = post(id, ECHO, 0);
        out.extend(frame(DATA, END_STREAM, id, b"x"));
        out
    };
    let mut resets = std::collections::BTreeMap::<u32, usize>::new();
    let mut next = 1;
    let mut write = if paced {
        write.write_all(&bad(1)).await.unwrap();
        Some(write)
    } else {
        let flood: Vec<u8> = (0..streams).flat_map(|i| bad(2 * i + 1)).collect();
        // The server closes the connection while this is being written.
        tokio::spawn(async move {
            let _ = write.write_all(&flood).await;
            write
        });
        next = streams;
        None
    };
    let goaway = tokio::time::timeout(Duration::from_secs(8), async {
        loop {
            let frame = raw_h2::read(&mut read).await.expect("a GOAWAY first");
            match frame.kind {
                RST_STREAM => {
                    *resets.entry(frame.error_code()).or_insert(0) += 1;
                    if let Some(write) = &mut write
                        && next < streams
                        && frame.stream == 2 * next - 1
                    {
                        // The connection may be closing already.
                        let _ = write.write_all(&bad(2 * next + 1)).await;
                        next += 1;
                    }
                }
                GOAWAY => break frame,
                HEADERS | DATA => panic!("an answer to a bad stream: {frame:?}"),
                _ => {}
            }
        }
    })
    .await
    .expect("GOAWAY");
    eprintln!(
        "{next} streams sent (paced: {paced}); RST_STREAM by code {resets:?}; GOAWAY {:?}",
        String::from_utf8_lossy(&goaway.payload[8..])
    );
    tokio::time::timeout(Duration::from_secs(5), async {
        while raw_h2::read(&mut read).await.is_some() {}
    })
    .await
    .expect("the server closes the connection after its GOAWAY");
    (resets, goaway)
}

/// CVE-2025-8671 ("MadeYouReset"): a client makes the server reset its
/// streams, so that they no longer count as open while their handlers
/// run. Here each stream declares `content-length: 0` and sends one byte
/// of DATA: h2 resets it (RST_STREAM PROTOCOL_ERROR), a local error
/// reset. The 1025th ends the connection with GOAWAY ENHANCE_YOUR_CALM
/// (`max_local_error_resets`), whether the streams come one by one or in
/// one burst; a call in flight on another connection, and a new one, are
/// answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_resets_end_the_connection_after_1024() {
    let (addr, _stop, _served) = start_with(Limits::default()).await;
    let other =
        tokio::spawn(async move { post_json(Version::H2c, addr, ECHO, &slow_echo(1500)).await });
    let (resets, goaway) = make_the_server_reset(addr, 1100, true).await;
    assert_eq!(goaway.error_code(), raw_h2::ENHANCE_YOUR_CALM);
    assert_eq!(
        resets.get(&raw_h2::PROTOCOL_ERROR),
        Some(&1024),
        "{resets:?}"
    );
    assert_eq!(resets.len(), 1, "{resets:?}");
    // In one burst, the streams past 256 are refused too (REFUSED_STREAM,
    // and STREAM_CLOSED for their DATA), which count as well; the resets
    // still queued when the GOAWAY goes are not sent.
    let (resets, goaway) = make_the_server_reset(addr, 1100, false).await;
    assert_eq!(goaway.error_code(), raw_h2::ENHANCE_YOUR_CALM);
    assert!(resets.values().sum::<usize>() <= 1024, "{resets:?}");
    let answer = other.await.unwrap();
    assert_eq!(answer.json()["message"], "m", "{answer:?}");
    let answer = post_json(Version::H2c, addr, ECHO, r#"{"message":"after"}"#).await;
    assert_eq!(answer.json()["message"], "after");
}

/// Sends a keep-alive HTTP/1.1 Echo call on `stream`.
async fn send_echo(stream: &mut TcpStream, message: &str) {
    let body = format!(r#"{{"message":"{message}"}}"#);
    let head = format!(
        "POST {ECHO} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
}

/// Reads an HTTP/1.1 answer whose body holds `message`.
async fn read_echo(stream: &mut TcpStream, message: &str) {
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains(message) {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
}

/// `max_connections`: at the cap a new connection waits in the listen
/// backlog, unanswered, and is served once a connection closes.
#[tokio::test]
async fn connections_past_max_connections_wait_for_one_to_close() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let (addr, _stop, _served) = start_with(limits).await;
    let mut held = Vec::new();
    for i in 0..2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        send_echo(&mut stream, &format!("held{i}")).await;
        read_echo(&mut stream, &format!("held{i}")).await;
        held.push(stream);
    }
    // The kernel completes the handshake; the server does not accept.
    let mut third = TcpStream::connect(addr).await.unwrap();
    send_echo(&mut third, "third").await;
    let waited =
        tokio::time::timeout(Duration::from_millis(700), read_echo(&mut third, "third")).await;
    assert!(waited.is_err(), "answered past max_connections");
    // The held connections are still served.
    send_echo(&mut held[0], "again").await;
    read_echo(&mut held[0], "again").await;
    held.pop();
    tokio::time::timeout(Duration::from_secs(5), read_echo(&mut third, "third"))
        .await
        .expect("served once a connection closed");
}
