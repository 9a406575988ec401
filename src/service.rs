//! [`DualProtocolService`]: classify each request once, then one `match`.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body::Body;
use tower_service::Service;

use crate::body::DualBody;
use crate::classify::{RequestKind, classify};
use crate::config::ServerType;
use crate::error::Rejection;
use crate::future::ResponseFuture;
use crate::layer::Shared;
use crate::transcode::unary;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The service made by [`DualProtocolLayer`](crate::DualProtocolLayer).
#[derive(Debug, Clone)]
pub struct DualProtocolService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> DualProtocolService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for DualProtocolService<S>
where
    S: Service<Request<DualBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<DualBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = &self.shared;
        match classify(&request, &shared.registry) {
            // gRPC on a server that serves HTTP/JSON only: a trailers-only answer.
            RequestKind::Grpc if shared.server_type == ServerType::Http => {
                ResponseFuture::ready(grpc_unimplemented())
            }
            // gRPC and gRPC-Web are tonic's: not buffered, copied or re-encoded.
            RequestKind::Grpc => {
                ResponseFuture::passthrough(self.inner.call(request.map(DualBody::new)))
            }
            // JSON on a gRPC-only server.
            RequestKind::Json(_)
            | RequestKind::Rest(..)
            | RequestKind::RestBadPath(..)
            | RequestKind::RestNotAllowed(_)
            | RequestKind::UnknownMethod
                if shared.server_type == ServerType::Grpc =>
            {
                ResponseFuture::ready(Rejection::JsonDisabled.into_response())
            }
            // A method of ours: check what needs no body now, then read the
            // body and call.
            RequestKind::Json(method) => {
                let prepared = unary::prepare(request, method, shared);
                self.json_call(prepared)
            }
            // A REST route: the same, with path variables and query
            // parameters turned into fields first.
            RequestKind::Rest(route, bindings) => {
                let prepared = unary::prepare_rest(request, route, bindings, shared);
                self.json_call(prepared)
            }
            // A REST path whose variable does not percent-decode: 400 naming it.
            RequestKind::RestBadPath(field, error) => {
                let rejection = Rejection::Json(crate::transcode::json::JsonError {
                    field: field.join("."),
                    message: format!("bad path segment: {error}"),
                });
                ResponseFuture::ready(rejection.into_response())
            }
            // A REST path bound for other verbs only: 405 with `Allow`.
            RequestKind::RestNotAllowed(allow) => {
                let rejection = Rejection::MethodNotAllowed(request.method().clone(), allow);
                ResponseFuture::ready(rejection.into_response())
            }
            // A known service but no such method: say so here rather than let
            // the inner router answer gRPC's UNIMPLEMENTED to a JSON client.
            RequestKind::UnknownMethod => {
                let path = request.uri().path().to_owned();
                ResponseFuture::ready(Rejection::UnknownMethod(path).into_response())
            }
            // Not ours: passed on unchanged; a gRPC error answered to it
            // (tonic's UNIMPLEMENTED for unknown paths) becomes a JSON error.
            RequestKind::Other => {
                let (method, uri) = (request.method().clone(), request.uri().clone());
                ResponseFuture::watch(self.inner.call(request.map(DualBody::new)), method, uri)
            }
        }
    }
}

impl<S> DualProtocolService<S> {
    /// Starts a prepared JSON call, or answers its rejection. The ready
    /// service goes with the call; a clone stays, to be made ready for the
    /// next request.
    fn json_call<B, ResBody>(
        &mut self,
        prepared: Result<unary::Prepared<B>, Rejection>,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<DualBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
        ResBody: Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<BoxError>,
    {
        match prepared {
            Ok(prepared) => {
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::json(Box::pin(unary::call(ready, prepared)))
            }
            Err(rejection) => ResponseFuture::ready(rejection.into_response()),
        }
    }
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for DualProtocolService<S> {
    const NAME: &'static str = S::NAME;
}

/// The answer to gRPC on an HTTP-only server.
fn grpc_unimplemented<B>() -> Response<DualBody<B>> {
    let mut response = Response::new(DualBody::empty());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", HeaderValue::from_static("12"));
    headers.insert(
        "grpc-message",
        HeaderValue::from_static(
            "gRPC%20is%20disabled%20on%20this%20server%20(server%20type%20http)",
        ),
    );
    response
}
