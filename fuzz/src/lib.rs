//! What the fuzz targets share: the generated code of the example API and
//! the kitchen-sink message, and a scripted inner gRPC service to put
//! behind `DualProtocolLayer`, called in-process (no network).
#![allow(missing_docs, unreachable_pub, clippy::all)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceExt};

pub mod google {
    pub mod api {
        dual_protocol::include_proto!("google.api");
    }
}
pub mod library {
    pub mod v1 {
        dual_protocol::include_proto!("library.v1");
    }
}
pub mod echo {
    pub mod v1 {
        dual_protocol::include_proto!("echo.v1");
    }
}
pub mod kitchen {
    pub mod v1 {
        dual_protocol::include_proto!("kitchen.v1");
    }
}

/// How the scripted inner service answers.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// Answer the request's own bytes (the gRPC body the layer built), as
    /// they are, before `chunks`.
    pub echo: bool,
    /// Data frames of the gRPC response body, in order.
    pub chunks: Vec<Bytes>,
    /// The trailers (none when `None`).
    pub trailers: Option<HeaderMap>,
    /// Extra response headers (the gRPC content-type is always set).
    pub headers: HeaderMap,
}

/// A gRPC "service" answering what its [`Script`] says.
#[derive(Clone, Debug)]
pub struct Scripted(pub Script);

impl<B> Service<Request<B>> for Scripted
where
    B: Body<Data = Bytes> + Send + 'static,
{
    type Response = Response<ScriptBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let script = self.0.clone();
        Box::pin(async move {
            let mut frames = VecDeque::new();
            if script.echo {
                // Bounded: the layer limits what it builds.
                if let Ok(body) = request.into_body().collect().await {
                    frames.push_back(Frame::data(body.to_bytes()));
                }
            }
            frames.extend(script.chunks.into_iter().map(Frame::data));
            if let Some(trailers) = script.trailers {
                frames.push_back(Frame::trailers(trailers));
            }
            let mut response = Response::new(ScriptBody(frames));
            *response.headers_mut() = script.headers;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/grpc"),
            );
            Ok(response)
        })
    }
}

/// The body of a [`Scripted`] answer: its frames, one per poll.
#[derive(Debug)]
pub struct ScriptBody(VecDeque<Frame<Bytes>>);

impl Body for ScriptBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a call through the layer answered.
#[derive(Debug)]
pub struct Answer {
    pub status: http::StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

/// Sends `request` through `DualProtocolLayer` around [`Scripted`] on a
/// current-thread runtime and reads the whole answer.
pub fn call(script: Script, request: Request<Full<Bytes>>) -> Answer {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
    }
    RT.with(|rt| {
        rt.block_on(async move {
            let mut service = dual_protocol::DualProtocolLayer::new().layer(Scripted(script));
            let response = ServiceExt::<Request<Full<Bytes>>>::ready(&mut service)
                .await
                .unwrap()
                .call(request)
                .await
                .unwrap();
            let (parts, body) = response.into_parts();
            let mut body = std::pin::pin!(body);
            let mut data = BytesMut::new();
            let mut trailers = None;
            while let Some(frame) = body.frame().await {
                let frame = match frame {
                    Ok(frame) => frame,
                    // An error in the middle of the answer (a stream cut).
                    Err(_) => break,
                };
                match frame.into_data() {
                    Ok(d) => data.extend_from_slice(&d),
                    Err(frame) => {
                        if let Ok(t) = frame.into_trailers() {
                            trailers = Some(t);
                        }
                    }
                }
            }
            Answer {
                status: parts.status,
                headers: parts.headers,
                body: data.freeze(),
                trailers,
            }
        })
    })
}

/// A header map from fuzzed (name, value) pairs, skipping invalid ones.
pub fn header_map(pairs: &[(String, Vec<u8>)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(name.as_str()),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}
