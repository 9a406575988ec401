//! [`DualProtocolService`]: classify each request once, then pass it
//! through, answer it now, or transcode it.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response, Uri, Version};
use http_body::Body;
use tower_service::Service;

use crate::body::DualBody;
use crate::classify::{Decision, Plan, RestTarget, Wire, classify};
use crate::error::Rejection;
use crate::future::ResponseFuture;
use crate::metadata;
use crate::registry::{HttpRule, MethodDescriptor, MethodKind};
use crate::rest;
use crate::shared::Shared;
use crate::trace::CallSpan;
use crate::transcode::Failure;
use crate::transcode::request::{BodyRule, Encoder, RequestStream, Source};
use crate::transcode::response::{Answer, Renderer};
#[cfg(feature = "websocket")]
use crate::websocket::Handshake;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The layer answers a deadline this much before the client's, so that its
/// answer, not the gRPC one of an outer timer on the same deadline (tonic's
/// server applies `grpc-timeout` outside every layer), reaches the client.
/// The layer's timer starts in `call`, when tonic's has just started, so a
/// lead of one timer tick (1 ms) is enough.
const DEADLINE_LEAD: Duration = Duration::from_millis(1);

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
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        match classify(&request, &shared) {
            // gRPC is tonic's: not buffered, copied or re-encoded.
            Decision::Passthrough { watch: false } => {
                ResponseFuture::passthrough(self.inner.call(request.map(DualBody::new)))
            }
            // Not ours: passed on unchanged; a gRPC error answered to it
            // (tonic's UNIMPLEMENTED for unknown paths) becomes a JSON error.
            Decision::Passthrough { watch: true } => {
                let (method, uri) = (request.method().clone(), request.uri().clone());
                let future = self.inner.call(request.map(DualBody::new));
                ResponseFuture::watch(future, method, uri, shared.context.clone())
            }
            Decision::Reject(rejection, dialect) => {
                early(request, rejection.into_response(dialect, &shared.context))
            }
            Decision::Options(allow) => early(request, options_response(&allow)),
            // The OpenAPI document or the docs page, fixed when the layer was built.
            Decision::Page { page, head } => ResponseFuture::ready(page.response(head)),
            Decision::Transcode(plan) => {
                let dialect = plan.respond.dialect();
                // A refusal after the body was taken cannot drain it: an
                // HTTP/1.1 connection with a body left unread is then closed,
                // and the answer says so.
                let unread =
                    request.version() <= Version::HTTP_11 && !request.body().is_end_stream();
                match self.transcode(request, plan, &shared) {
                    Ok(future) => future,
                    Err(rejection) => {
                        let mut response = rejection.into_response(dialect, &shared.context);
                        if unread {
                            response.headers_mut().insert(
                                http::header::CONNECTION,
                                http::HeaderValue::from_static("close"),
                            );
                        }
                        ResponseFuture::ready(response)
                    }
                }
            }
        }
    }
}

impl<S> DualProtocolService<S> {
    /// Starts a transcoded call: the request becomes a gRPC request whose
    /// body is the request adapter, sent down now (interceptors and auth
    /// run before the body is read); the response future reads the answer.
    fn transcode<B, ResBody>(
        &mut self,
        request: Request<B>,
        plan: Plan<'_>,
        shared: &Shared,
    ) -> Result<ResponseFuture<S::Future, ResBody>, Rejection>
    where
        S: Service<Request<DualBody<B>>, Response = Response<ResBody>>,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
        B: Body<Data = Bytes>,
        ResBody: Body<Data = Bytes> + Send + 'static,
        ResBody::Error: Into<BoxError>,
    {
        let method: MethodDescriptor = *plan.method;
        let span = CallSpan::new(
            plan.respond,
            plan.wire,
            if method.path.is_empty() {
                request.uri().path()
            } else {
                method.path
            },
            plan.rest.as_ref().map_or("", |rest| rest.rule.template),
        );
        let (mut parts, body) = request.into_parts();
        let content_type = match plan.wire {
            Wire::Raw(_) => parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        // A WebSocket handshake is checked before its headers become
        // metadata; the client's messages come from the socket.
        #[cfg(feature = "websocket")]
        let mut handshake = None;
        let source = match plan.wire {
            _ if plan.query_message.is_some() => Source::Ready {
                data: plan.query_message,
            },
            Wire::Json | Wire::Proto | Wire::Ndjson | Wire::Raw(_) | Wire::Envelopes { .. } => {
                Source::Body { body }
            }
            #[cfg(feature = "websocket")]
            Wire::WebSocket => {
                if plan.rest.is_some() {
                    return Err(Rejection::BadWebSocketHandshake(format!(
                        "WebSocket calls are served on RPC paths only: GET {}",
                        method.path
                    )));
                }
                if !shared.websocket_origins.allow(&parts.headers) {
                    let origin = parts.headers.get(http::header::ORIGIN).cloned();
                    return Err(Rejection::ForbiddenOrigin(
                        origin.unwrap_or_else(|| http::HeaderValue::from_static("")),
                    ));
                }
                let (checked, rx) = Handshake::check(&mut parts, shared.max_message_bytes)?;
                handshake = Some(checked);
                Source::Channel { rx }
            }
            #[cfg(not(feature = "websocket"))]
            Wire::WebSocket => return Err(Rejection::WebSocketUnsupported),
        };
        let deadline = metadata::request_to_grpc(&mut parts.headers)?;
        let (body_rule, suffix, select) = match plan.rest {
            None => (BodyRule::All, Bytes::new(), None),
            Some(RestTarget { rule, bindings }) => {
                rest_parts(&method, rule, bindings, parts.uri.query(), shared)?
            }
        };
        parts.method = Method::POST;
        parts.uri = if method.path.is_empty() {
            // A method without a table (`classify::OPAQUE`): its own path.
            Uri::try_from(parts.uri.path())
                .map_err(|_| Rejection::UnknownMethod(parts.uri.to_string()))?
        } else {
            match shared.registry.uri(method.path) {
                Some(uri) => uri.clone(),
                None => Uri::from_static(method.path),
            }
        };
        let http1 = parts.version <= Version::HTTP_11;
        parts.version = Version::HTTP_2;
        let failure = Failure::default();
        let streams_in = matches!(
            method.kind,
            MethodKind::ClientStreaming | MethodKind::BidiStreaming
        );
        let limit = match plan.wire {
            Wire::Json | Wire::Proto => shared.max_request_bytes,
            Wire::Raw(_) if !streams_in => shared.max_request_bytes,
            Wire::Raw(_) | Wire::Ndjson | Wire::WebSocket | Wire::Envelopes { .. } => {
                shared.max_message_bytes
            }
        };
        let encoder = Encoder {
            codec: method.input.json_to_proto,
            cx: shared.context.clone(),
            body: body_rule,
            suffix,
            content_type,
            span: span.clone(),
        };
        let stream = RequestStream::new(
            source,
            encoder,
            plan.wire,
            limit,
            streams_in,
            plan.compressed,
            failure.clone(),
        );
        let answer = Answer {
            respond: plan.respond,
            renderer: Renderer {
                codec: method.output.proto_to_json,
                cx: shared.context.clone(),
                select,
            },
            deadline: deadline.map(|timeout| {
                let sleep = tokio::time::sleep(timeout.saturating_sub(DEADLINE_LEAD));
                (timeout, Box::pin(sleep))
            }),
            keep_alive: shared.sse_keep_alive,
            failure,
            limit: shared.max_message_bytes,
            eager: method.kind == MethodKind::BidiStreaming,
            compress: plan.compress,
            head: plan.head,
            span,
            http1,
        };
        let request = Request::from_parts(parts, DualBody::request(stream));
        let future = self.inner.call(request);
        #[cfg(feature = "websocket")]
        if let Some(handshake) = handshake {
            let one_message = !streams_in;
            return Ok(ResponseFuture::ready(handshake.accept(
                future,
                answer,
                one_message,
            )));
        }
        Ok(ResponseFuture::call(future, answer))
    }
}

/// The most of a refused request's body the layer reads (and drops) before
/// answering, so that the answer does not cut the request short.
const DRAIN_MAX_BYTES: u64 = 64 * 1024;

/// How long the layer waits for the rest of a refused request's body.
const DRAIN_MAX_WAIT: Duration = Duration::from_secs(1);

/// An answer the layer makes without calling the inner service. A request
/// whose body has not all arrived would otherwise be cut short: hyper
/// closes an HTTP/1.1 connection after such an answer (and the client,
/// not told, may send its next request on it), and resets an HTTP/2
/// stream, whose DATA frames still in flight then count against the
/// connection's reset limit (hyper's `max_local_error_reset_streams`,
/// 1,024 by default: then GOAWAY, and every call on the connection fails).
/// So the rest of a small body (at most [`DRAIN_MAX_BYTES`], arriving
/// within [`DRAIN_MAX_WAIT`]) is read and dropped first; past either bound
/// an HTTP/1.1 answer says `connection: close`.
fn early<B, F, ResBody>(
    request: Request<B>,
    response: Response<DualBody<ResBody>>,
) -> ResponseFuture<F, ResBody>
where
    B: Body<Data = Bytes> + Send + 'static,
{
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return ResponseFuture::ready(response);
    }
    let http1 = parts.version <= Version::HTTP_11;
    if body.size_hint().lower() > DRAIN_MAX_BYTES {
        let mut response = response;
        if http1 {
            response.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        return ResponseFuture::ready(response);
    }
    let drain = async move {
        use http_body_util::BodyExt as _;
        let mut body = std::pin::pin!(body);
        let mut read = 0u64;
        let whole = tokio::time::timeout(DRAIN_MAX_WAIT, async {
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { return false };
                if let Some(data) = frame.data_ref() {
                    read += data.len() as u64;
                    if read > DRAIN_MAX_BYTES {
                        return false;
                    }
                }
            }
            true
        })
        .await;
        // HTTP/2 streams reset past a bound are few; only HTTP/1.1 needs
        // to say that the connection ends.
        whole.unwrap_or(false) || !http1
    };
    ResponseFuture::drain(Box::pin(drain), response)
}

/// The answer to `OPTIONS` on a path the layer serves: 204 and `Allow`.
fn options_response<B: From<Bytes>>(allow: &[Method]) -> Response<B> {
    let allow = allow
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let mut response = Response::new(B::from(Bytes::new()));
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    if let Ok(value) = http::HeaderValue::try_from(allow) {
        response.headers_mut().insert(http::header::ALLOW, value);
    }
    response
}

/// What a REST binding adds: where the body goes, the protobuf of the path
/// variables and query parameters, and the `response_body` field.
#[allow(clippy::type_complexity)]
fn rest_parts(
    method: &MethodDescriptor,
    rule: HttpRule,
    bindings: Vec<(&[String], String)>,
    query: Option<&str>,
    shared: &Shared,
) -> Result<(BodyRule, Bytes, Option<(&'static str, &'static str)>), Rejection> {
    let body = match rule.body {
        "*" => BodyRule::All,
        "" => BodyRule::None,
        field => BodyRule::Field(field),
    };
    let overlay = rest::request::overlay(
        &shared.registry,
        method.input.full_name,
        bindings,
        query,
        body == BodyRule::All,
        shared.json.ignore_unknown_fields,
    )
    .map_err(Rejection::Json)?;
    let suffix = if overlay.is_empty() {
        Bytes::new()
    } else {
        let json = serde_json::to_vec(&overlay).expect("a JSON object serializes");
        let mut buf = BytesMut::new();
        (method.input.json_to_proto)(&json, &mut buf, &shared.context).map_err(Rejection::Json)?;
        buf.freeze()
    };
    let select =
        (!rule.response_body.is_empty()).then_some((rule.response_body, rule.response_body_proto));
    Ok((body, suffix, select))
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for DualProtocolService<S> {
    const NAME: &'static str = S::NAME;
}
