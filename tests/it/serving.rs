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
