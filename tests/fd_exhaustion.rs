//! The example server when the process runs out of file descriptors: its
//! accept loop pauses on EMFILE instead of spinning on it, and serves
//! again once descriptors are freed. Its own test binary (own process):
//! it lowers the process's RLIMIT_NOFILE.
#![allow(unreachable_pub, missing_docs, non_snake_case)]

#[path = "../examples/common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::echo::v1::EchoRequest;
use common::echo::v1::echo_service_client::EchoServiceClient;

const ECHO: &str = "/echo.v1.EchoService/Echo";

/// The soft limit the test runs under: the client's and the server's
/// sockets count against it alike (one process).
const NOFILE: u64 = 128;

fn set_nofile(soft: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the call to fill and read.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = soft.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

/// CPU time of the whole process (every thread), user and system.
fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is valid; getrusage fills it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn is_emfile(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMFILE)
}

/// Sends a keep-alive HTTP/1.1 JSON Echo call on `stream`.
async fn send_echo(stream: &mut TcpStream, message: &str) {
    let body = format!(r#"{{"message":"{message}"}}"#);
    let head = format!(
        "POST {ECHO} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
}

/// Reads a 200 answer whose body holds `message`.
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

async fn start() -> SocketAddr {
    let config = dual_protocol::Config::from_toml("").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = common::serve::Limits {
        first_request: Duration::from_secs(30),
        ..Default::default()
    };
    tokio::spawn(async move {
        common::serve_with(listener, &config, None, limits, std::future::pending())
            .await
            .unwrap()
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_server_pauses_then_serves_again() {
    set_nofile(NOFILE);
    let addr = start().await;
    // Connections the server holds (each served a call).
    let mut held = Vec::new();
    for i in 0..16 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        send_echo(&mut stream, &format!("held{i}")).await;
        read_echo(&mut stream, &format!("held{i}")).await;
        held.push(stream);
    }
    // Every other descriptor taken.
    let mut ballast = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => ballast.push(file),
            Err(e) if is_emfile(&e) => break,
            Err(e) => panic!("{e}"),
        }
    }
    // One freed for a client: its connection completes in the kernel
    // (the listen backlog) and its request is sent, but the server's
    // accept has no descriptor left: EMFILE, again and again.
    ballast.pop();
    let mut waiting = TcpStream::connect(addr).await.unwrap();
    send_echo(&mut waiting, "waiting").await;
    let full = std::fs::File::open("/dev/null").unwrap_err();
    assert!(is_emfile(&full), "{full}");
    eprintln!(
        "{} connections held, {} descriptors of ballast, limit {NOFILE}",
        held.len(),
        ballast.len()
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = cpu_time();
    let unanswered =
        tokio::time::timeout(Duration::from_secs(1), read_echo(&mut waiting, "waiting")).await;
    let spent = cpu_time() - before;
    eprintln!("CPU time over 1 s without descriptors: {spent:?}");
    assert!(
        unanswered.is_err(),
        "answered without a descriptor to accept with?"
    );
    // A spinning accept loop takes a whole core.
    assert!(spent < Duration::from_millis(300), "{spent:?}");

    // Descriptors back: the waiting client is served, and new ones.
    drop(ballast);
    drop(held);
    tokio::time::timeout(Duration::from_secs(5), read_echo(&mut waiting, "waiting"))
        .await
        .expect("the waiting connection is served once descriptors are free");
    let mut fresh = TcpStream::connect(addr).await.unwrap();
    send_echo(&mut fresh, "fresh").await;
    tokio::time::timeout(Duration::from_secs(5), read_echo(&mut fresh, "fresh"))
        .await
        .expect("a new JSON call is answered");
    let mut grpc = EchoServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        grpc.echo(EchoRequest {
            message: "grpc".into(),
            ..Default::default()
        }),
    )
    .await
    .expect("a new gRPC call is answered")
    .unwrap();
    assert_eq!(answer.into_inner().message, "grpc");
}
