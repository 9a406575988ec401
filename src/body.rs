//! The body type the layer hands down (requests) and up (responses): the
//! original body untouched, bytes the layer produced, or one of the
//! transcoding adapters.

use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::status::{Code, Status};
use crate::transcode::request::RequestStream;
use crate::transcode::response::{PANICKED_STREAMING, ResponseStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project! {
    /// The wrapped body, passed through as it is; a complete body produced
    /// by the layer (a JSON answer); or a transcoding adapter (the gRPC
    /// frames of a JSON request, the NDJSON or SSE of a gRPC answer).
    #[derive(Debug)]
    pub struct DualBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Inner { #[pin] body: B },
        // A gRPC answer passed through: as `Inner`, but a panic while it is
        // made ends it with INTERNAL trailers.
        Grpc { #[pin] body: B },
        Full { data: Option<Bytes> },
        Request { #[pin] stream: RequestStream<B> },
        Response { stream: ResponseStream<B> },
    }
}

impl<B> DualBody<B> {
    /// Wraps `body` unchanged.
    pub fn new(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    /// A body of exactly `data`.
    pub fn full(data: Bytes) -> Self {
        Self {
            kind: Kind::Full {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self {
            kind: Kind::Full { data: None },
        }
    }
}

impl<B> DualBody<B> {
    /// The length of a body the layer made whole, `None` for the others.
    pub(crate) fn full_len(&self) -> Option<usize> {
        match &self.kind {
            Kind::Full { data } => Some(data.as_ref().map_or(0, Bytes::len)),
            _ => None,
        }
    }

    /// A gRPC answer passed through unchanged.
    pub(crate) fn grpc(body: B) -> Self {
        Self {
            kind: Kind::Grpc { body },
        }
    }

    pub(crate) fn request(stream: RequestStream<B>) -> Self {
        Self {
            kind: Kind::Request { stream },
        }
    }

    pub(crate) fn response(stream: ResponseStream<B>) -> Self {
        Self {
            kind: Kind::Response { stream },
        }
    }
}

/// An empty body (what a CORS preflight is answered with).
impl<B> Default for DualBody<B> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<B> From<Bytes> for DualBody<B> {
    fn from(data: Bytes) -> Self {
        Self::full(data)
    }
}

impl<B> Body for DualBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut kind = self.project().kind;
        // A panic while making the body (a handler's stream) ends this body
        // with an error (hyper resets this one stream, or closes an
        // HTTP/1.1 connection), not the connection's task with every other
        // call multiplexed on it. The body is not polled again.
        let polled = panic::catch_unwind(AssertUnwindSafe(|| match kind.as_mut().project() {
            KindProj::Inner { body } | KindProj::Grpc { body } => {
                body.poll_frame(cx).map_err(Into::into)
            }
            KindProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            KindProj::Request { stream } => stream.poll_frame(cx),
            KindProj::Response { stream } => stream.poll_body(cx),
        }));
        polled.unwrap_or_else(|_| {
            let grpc = matches!(*kind, Kind::Grpc { .. });
            kind.set(Kind::Full { data: None });
            if grpc {
                let status = Status::new(Code::Internal, PANICKED_STREAMING);
                return Poll::Ready(Some(Ok(Frame::trailers(status.to_trailers()))));
            }
            Poll::Ready(Some(Err(PANICKED_STREAMING.into())))
        })
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } | Kind::Grpc { body } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
            Kind::Request { .. } => false,
            Kind::Response { stream } => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } | Kind::Grpc { body } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Request { .. } | Kind::Response { .. } => SizeHint::default(),
        }
    }
}
