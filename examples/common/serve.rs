//! Serving with safe defaults: what `axum::serve` and
//! `tonic::transport::Server` leave open, closed here, on hyper-util's
//! auto builder (HTTP/1.1 and h2c on one port, with upgrades).
//!
//! | threat | setting here | `tonic::transport::Server` | `axum::serve` |
//! | --- | --- | --- | --- |
//! | a connection that never sends a request (or half an h2 preface) | [`Limits::first_request`] closes it | none | none |
//! | an HTTP/1.1 head sent slowly, or an idle keep-alive connection | `header_read_timeout` | none | none |
//! | a body that stops sending | [`Limits::body_read`]: [`ReadTimeout`] around each request body | a layer of your own (below) | the same |
//! | 10,000 concurrent h2 streams | `max_concurrent_streams` | `max_concurrent_streams` | none |
//! | server-side resets (CVE-2025-8671) | `max_local_error_reset_streams` | `http2_max_local_error_reset_streams` | hyper's default |
//! | client rapid reset (CVE-2023-44487) | `max_pending_accept_reset_streams` | `http2_max_pending_accept_reset_streams` | hyper's default |
//! | dead peers holding h2 connections | keep-alive pings | `http2_keepalive_interval` | none |
//! | file descriptors run out | [`Limits::max_connections`], and a pause after an accept error | a pause | a pause |
//! | shutdown | graceful: in-flight calls finish, for up to [`Limits::grace`] | `serve_with_shutdown` | `with_graceful_shutdown` |

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What one client may hold and for how long.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// A new connection must send its first request head within this.
    pub first_request: Duration,
    /// An HTTP/1.1 request head must arrive within this once the
    /// connection waits for one (idle keep-alive connections included).
    pub header_read: Duration,
    /// A request body may go this long without sending anything. Idle
    /// client streams (NDJSON uploads, gRPC client streams) end too.
    pub body_read: Duration,
    /// HTTP/2 streams open at once on one connection.
    pub max_concurrent_streams: u32,
    /// HTTP/2 streams the server may reset for a client's errors before
    /// it sends GOAWAY.
    pub max_local_error_resets: usize,
    /// HTTP/2 ping interval; the connection ends when a ping is not
    /// answered within the same time.
    pub keep_alive: Duration,
    /// How long in-flight calls may run on after shutdown is asked.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            first_request: Duration::from_secs(10),
            header_read: Duration::from_secs(30),
            body_read: Duration::from_secs(60),
            max_concurrent_streams: 256,
            max_local_error_resets: 1024,
            keep_alive: Duration::from_secs(30),
            grace: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// calls in flight finish (up to `limits.grace`) and returns.
pub async fn serve<S, B>(
    listener: TcpListener,
    app: S,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    S: Service<
            http::Request<ReadTimeout<Incoming>>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_local_error_reset_streams(limits.max_local_error_resets)
        .max_pending_accept_reset_streams(20)
        .keep_alive_interval(limits.keep_alive)
        .keep_alive_timeout(limits.keep_alive);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free slot first: at the cap, clients wait in the backlog
        // rather than take descriptors.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors (EMFILE) and the like: pause
                    // rather than spin on an error that will repeat.
                    eprintln!("accept failed: {e}; pausing 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let asked = Arc::new(AtomicBool::new(false));
        let service = {
            let asked = asked.clone();
            let app = app.clone();
            let body_read = limits.body_read;
            tower::service_fn(move |request: http::Request<Incoming>| {
                asked.store(true, Ordering::Relaxed);
                let request = request.map(|body| ReadTimeout::new(body, body_read));
                let mut app = app.clone();
                async move { app.call(request).await }
            })
        };
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        let first_request = limits.first_request;
        tokio::spawn(async move {
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = &mut connection => return,
                () = tokio::time::sleep(first_request) => {}
            }
            // No request yet: a client that connects and says nothing.
            if asked.load(Ordering::Relaxed) {
                let _ = connection.await;
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.grace) => {
            eprintln!("calls still running {:?} after shutdown was asked; ending them", limits.grace);
        }
    }
    Ok(())
}

/// A request body that fails when it sends nothing for a while: the call
/// reading it ends with an error naming the timeout (for a transcoded
/// call, a 400 JSON error; for gRPC, tonic's status), and its memory and
/// task are freed.
///
/// tower-http's `RequestBodyTimeoutLayer` does the same, but its body does
/// not forward `size_hint` and `is_end_stream`, which dual-protocol reads
/// to tell a request with no body (a REST `GET`) from one with a body:
/// under it, a bodiless JSON call would be refused as a body without a
/// content type. Compose it only above layers that do not read those.
#[derive(Debug)]
pub struct ReadTimeout<B> {
    body: B,
    limit: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> ReadTimeout<B> {
    pub fn new(body: B, limit: Duration) -> Self {
        Self {
            body,
            limit,
            sleep: None,
        }
    }
}

impl<B> http_body::Body for ReadTimeout<B>
where
    B: http_body::Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.sleep = None;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let limit = this.limit;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                "the request body sent nothing for {limit:?}: read timed out"
            )
            .into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
