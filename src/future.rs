//! [`ResponseFuture`]: one arm per way a request is answered.

use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::body::DualBody;
use crate::classify::Dialect;
use crate::registry::JsonContext;
use crate::registry::split_path;
use crate::status::{Code, Status};
use crate::trace::CallSpan;
use crate::transcode::response::{Answer, Opening, Start};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project! {
    /// The response future of [`DualProtocolService`](crate::DualProtocolService).
    pub struct ResponseFuture<F, ResBody> {
        #[pin]
        kind: Kind<F, ResBody>,
        // How a panic of the inner service is answered.
        on_panic: OnPanic,
        // A transcoded call's span.
        span: Option<CallSpan>,
    }
}

/// The client's protocol, for the answer to a panic of the inner service:
/// INTERNAL as a gRPC status, or in the dialect of a transcoded call.
#[derive(Debug, Clone)]
enum OnPanic {
    Grpc,
    Rpc(Dialect, JsonContext),
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, ResBody> {
        // The inner service's answer, unchanged.
        Passthrough { #[pin] future: F },
        // The inner service's answer to a request that is not gRPC: a gRPC
        // error status in it becomes a JSON error.
        Watch {
            #[pin] future: F,
            method: http::Method,
            uri: http::Uri,
            cx: JsonContext,
        },
        // A transcoded call, waiting for the inner service's response head.
        Call { #[pin] future: F, answer: Option<Answer> },
        // A transcoded call, reading the gRPC answer until its head can be
        // sent (the whole message for JSON, the first for a stream).
        Open { opening: Opening<ResBody> },
        // Answered by the layer without calling the inner service.
        Ready { response: Option<Response<DualBody<ResBody>>> },
        // Answered by the layer, once the rest of a small request body is
        // read and dropped (see `service::early`): the answer then neither
        // closes an HTTP/1.1 connection nor resets an HTTP/2 stream.
        Drain {
            drain: Pin<Box<dyn Future<Output = bool> + Send>>,
            response: Option<Response<DualBody<ResBody>>>,
        },
    }
}

impl<F, ResBody> ResponseFuture<F, ResBody> {
    pub(crate) fn passthrough(future: F) -> Self {
        Self {
            kind: Kind::Passthrough { future },
            on_panic: OnPanic::Grpc,
            span: None,
        }
    }

    pub(crate) fn watch(future: F, method: http::Method, uri: http::Uri, cx: JsonContext) -> Self {
        Self {
            on_panic: OnPanic::Rpc(Dialect::Json, cx.clone()),
            kind: Kind::Watch {
                future,
                method,
                uri,
                cx,
            },
            span: None,
        }
    }

    pub(crate) fn call(future: F, answer: Answer) -> Self {
        let on_panic = OnPanic::Rpc(answer.respond.dialect(), answer.renderer.cx.clone());
        let span = Some(answer.span.clone());
        Self {
            kind: Kind::Call {
                future,
                answer: Some(answer),
            },
            on_panic,
            span,
        }
    }

    /// `response` once `drain` is done; `drain` says whether it read the
    /// body to its end (if not, an HTTP/1.1 connection is closed after the
    /// answer, and the answer says so).
    pub(crate) fn drain(
        drain: Pin<Box<dyn Future<Output = bool> + Send>>,
        response: Response<DualBody<ResBody>>,
    ) -> Self {
        Self {
            kind: Kind::Drain {
                drain,
                response: Some(response),
            },
            on_panic: OnPanic::Grpc,
            span: None,
        }
    }

    pub(crate) fn ready(response: Response<DualBody<ResBody>>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
            on_panic: OnPanic::Grpc,
            span: None,
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<DualBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut kind = this.kind;
        // A panic of the inner service (a handler, an interceptor) answers
        // this call with INTERNAL in the client's protocol; the connection
        // and the calls beside it go on. The panicked future is dropped.
        let span = this.span.as_ref();
        let mut polled = || panic::catch_unwind(AssertUnwindSafe(|| poll_kind(kind.as_mut(), cx)));
        let polled = match span {
            Some(span) => span.in_scope(polled),
            None => polled(),
        };
        let polled = match polled {
            Ok(polled) => polled,
            Err(_) => {
                kind.set(Kind::Ready { response: None });
                Poll::Ready(Ok(panicked(this.on_panic)))
            }
        };
        if let (Some(span), Poll::Ready(Ok(response))) = (span, &polled) {
            span.http_status(response.status());
        }
        polled
    }
}

/// The answer to a call whose inner service panicked.
fn panicked<B>(on_panic: &OnPanic) -> Response<DualBody<B>> {
    let status = Status::new(
        Code::Internal,
        "the service panicked while answering this call",
    );
    match on_panic {
        OnPanic::Grpc => {
            let mut response = Response::new(DualBody::empty());
            *response.headers_mut() = status.to_trailers();
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/grpc"),
            );
            response
        }
        OnPanic::Rpc(dialect, cx) => status.to_rpc_response(
            *dialect,
            Code::Internal.http_status(),
            http::HeaderMap::new(),
            &http::HeaderMap::new(),
            cx,
        ),
    }
}

fn poll_kind<F, ResBody, E>(
    mut kind: Pin<&mut Kind<F, ResBody>>,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<DualBody<ResBody>>, E>>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    {
        loop {
            let opening = match kind.as_mut().project() {
                KindProj::Passthrough { future } => {
                    return Poll::Ready(ready!(future.poll(cx)).map(|r| r.map(DualBody::grpc)));
                }
                KindProj::Watch {
                    future,
                    method,
                    uri,
                    cx: json,
                } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(watched(response, method, uri, json)));
                }
                KindProj::Call { future, answer } => {
                    let response = match future.poll(cx) {
                        Poll::Ready(response) => response?,
                        Poll::Pending => {
                            let answer = answer.as_mut().expect("polled after completion");
                            ready!(answer.poll_deadline(cx));
                            // The deadline passed first: the inner call is
                            // dropped (cancelled) with this arm.
                            let response = answer.deadline_exceeded();
                            kind.set(Kind::Ready { response: None });
                            return Poll::Ready(Ok(response));
                        }
                    };
                    let answer = answer.take().expect("polled after completion");
                    match answer.start(response) {
                        Start::Done(response) => return Poll::Ready(Ok(response)),
                        Start::Stream(opening) => opening,
                    }
                }
                KindProj::Open { opening } => {
                    return opening.poll_response(cx).map(Ok);
                }
                KindProj::Ready { response } => {
                    return Poll::Ready(Ok(response
                        .take()
                        .expect("ResponseFuture polled after completion")));
                }
                KindProj::Drain { drain, response } => {
                    let whole = ready!(drain.as_mut().poll(cx));
                    let mut response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    if !whole {
                        response.headers_mut().insert(
                            http::header::CONNECTION,
                            http::HeaderValue::from_static("close"),
                        );
                    }
                    return Poll::Ready(Ok(response));
                }
            };
            kind.set(Kind::Open { opening });
        }
    }
}

/// A gRPC error answered to a request that was not gRPC, as a JSON error.
fn watched<B>(
    response: Response<B>,
    method: &http::Method,
    uri: &http::Uri,
    cx: &JsonContext,
) -> Response<DualBody<B>> {
    match Status::from_headers(response.headers()) {
        Some(mut status) if status.code != Code::Ok => {
            // tonic's router answers every path it does not know with a
            // bare UNIMPLEMENTED: for a path that is not an RPC path, that
            // is an HTTP 404.
            if status.message.is_empty() && status.code == Code::Unimplemented {
                if split_path(uri.path()).is_some_and(|(s, _)| s.contains('.')) {
                    status.message = format!("no service or method at {}", uri.path());
                } else {
                    status.code = Code::NotFound;
                    status.message = format!("no route for {} {}", method, uri.path());
                }
            }
            status.to_response(cx)
        }
        _ => response.map(DualBody::new),
    }
}

impl<F, ResBody> fmt::Debug for ResponseFuture<F, ResBody> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
