//! [`ResponseFuture`]: one arm per way a request is answered.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use crate::body::DualBody;
use crate::error::json_response;
use crate::registry::split_path;
use crate::status::{GrpcStatus, code, http_status};

type JsonCall<ResBody, E> =
    Pin<Box<dyn Future<Output = Result<Response<DualBody<ResBody>>, E>> + Send>>;

pin_project! {
    /// The response future of [`DualProtocolService`](crate::DualProtocolService).
    pub struct ResponseFuture<F, ResBody, E> {
        #[pin]
        kind: Kind<F, ResBody, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, ResBody, E> {
        // The inner service's answer, unchanged.
        Passthrough { #[pin] future: F },
        // The inner service's answer to a request that is not gRPC: a gRPC
        // error status in it becomes a JSON error.
        Watch { #[pin] future: F, method: http::Method, uri: http::Uri },
        // A transcoded call (boxed: it reads the body, calls, reads the answer).
        Json { future: JsonCall<ResBody, E> },
        // Answered by the layer without calling the inner service.
        Ready { response: Option<Response<DualBody<ResBody>>> },
    }
}

impl<F, ResBody, E> ResponseFuture<F, ResBody, E> {
    pub(crate) fn passthrough(future: F) -> Self {
        Self {
            kind: Kind::Passthrough { future },
        }
    }

    pub(crate) fn watch(future: F, method: http::Method, uri: http::Uri) -> Self {
        Self {
            kind: Kind::Watch {
                future,
                method,
                uri,
            },
        }
    }

    pub(crate) fn json(future: JsonCall<ResBody, E>) -> Self {
        Self {
            kind: Kind::Json { future },
        }
    }

    pub(crate) fn ready(response: Response<DualBody<ResBody>>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F, ResBody, E>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<DualBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Passthrough { future } => {
                Poll::Ready(ready!(future.poll(cx)).map(|r| r.map(DualBody::new)))
            }
            KindProj::Watch {
                future,
                method,
                uri,
            } => {
                let response = ready!(future.poll(cx))?;
                Poll::Ready(Ok(match GrpcStatus::from_headers(response.headers()) {
                    Some(mut status) if status.code != 0 => {
                        // tonic's router answers every path it does not know
                        // with a bare UNIMPLEMENTED: for a path that is not an
                        // RPC path, that is an HTTP 404.
                        if status.message.is_empty() && status.code == code::UNIMPLEMENTED {
                            if split_path(uri.path()).is_some_and(|(s, _)| s.contains('.')) {
                                status.message = format!("no service or method at {}", uri.path());
                            } else {
                                status.code = code::NOT_FOUND;
                                status.message = format!("no route for {} {}", method, uri.path());
                            }
                        }
                        json_response(http_status(status.code), status.to_json())
                    }
                    _ => response.map(DualBody::new),
                }))
            }
            KindProj::Json { future } => future.as_mut().poll(cx),
            KindProj::Ready { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
        }
    }
}

impl<F, ResBody, E> fmt::Debug for ResponseFuture<F, ResBody, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
