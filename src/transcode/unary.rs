//! A unary JSON call: JSON body -> framed protobuf gRPC request -> the inner
//! service -> gRPC answer -> JSON answer.

use std::pin::pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, header};
use http_body::Body;
use http_body_util::BodyExt;
use tower_service::Service;

use crate::__private::json::{JsonOptions, with_options};
use crate::body::DualBody;
use crate::classify::{is_grpc, is_json};
use crate::error::{Rejection, json_response};
use crate::layer::Shared;
use crate::metadata;
use crate::registry::{HttpRule, MethodDescriptor, MethodKind, Route};
use crate::rest;
use crate::status::{GrpcStatus, code, http_status};
use crate::transcode::frame;
use serde_json::{Map, Value};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The layer answers a deadline this much before the client's, so that its
/// JSON answer, not the gRPC one of an outer timer on the same deadline
/// (tonic's server applies `grpc-timeout` outside every layer), reaches
/// the client.
const DEADLINE_LEAD: Duration = Duration::from_millis(1);

/// A JSON request checked and ready to be sent once its body is read.
pub(crate) struct Prepared<B> {
    parts: Parts,
    body: B,
    method: MethodDescriptor,
    deadline: Option<Duration>,
    limit: usize,
    json: JsonOptions,
    rest: Option<Rest>,
}

/// What a REST route adds to a call.
struct Rest {
    rule: HttpRule,
    /// Path variables and query parameters, as fields.
    overlay: Map<String, Value>,
}

/// The checks that need no body: verb, media type, declared size, headers.
pub(crate) fn prepare<B: Body>(
    request: Request<B>,
    method: &MethodDescriptor,
    shared: &Shared,
) -> Result<Prepared<B>, Rejection> {
    if request.method() != Method::POST {
        return Err(Rejection::MethodNotAllowed(
            request.method().clone(),
            vec![Method::POST],
        ));
    }
    check_body(&request, method, shared.max_request_bytes)?;
    let (mut parts, body) = request.into_parts();
    let deadline = metadata::request_to_grpc(&mut parts.headers)?;
    Ok(Prepared {
        parts,
        body,
        method: *method,
        deadline,
        limit: shared.max_request_bytes,
        json: shared.json,
        rest: None,
    })
}

/// [`prepare`] for a REST route: path variables and query parameters are
/// read into fields now, and the request goes to the method's RPC path.
pub(crate) fn prepare_rest<B: Body>(
    request: Request<B>,
    route: &Route,
    bindings: Vec<(&[String], String)>,
    shared: &Shared,
) -> Result<Prepared<B>, Rejection> {
    let method = &route.method;
    check_body(&request, method, shared.max_request_bytes)?;
    let overlay = rest::request::overlay(
        &shared.registry,
        method.input,
        bindings,
        request.uri().query(),
        route.rule.body == "*",
        shared.json.ignore_unknown_fields,
    )
    .map_err(Rejection::Json)?;
    let (mut parts, body) = request.into_parts();
    let deadline = metadata::request_to_grpc(&mut parts.headers)?;
    parts.method = Method::POST;
    parts.uri = Uri::from_static(method.path);
    Ok(Prepared {
        parts,
        body,
        method: *method,
        deadline,
        limit: shared.max_request_bytes,
        json: shared.json,
        rest: Some(Rest {
            rule: route.rule,
            overlay,
        }),
    })
}

/// Streaming kind, media type, encoding and declared size.
fn check_body<B: Body>(
    request: &Request<B>,
    method: &MethodDescriptor,
    max_request_bytes: usize,
) -> Result<(), Rejection> {
    if method.kind != MethodKind::Unary {
        return Err(Rejection::Streaming(method.path));
    }
    let headers = request.headers();
    match headers.get(header::CONTENT_TYPE) {
        Some(value) if is_json(value) => {}
        Some(value) => return Err(Rejection::UnsupportedMediaType(Some(value.clone()))),
        // No content-type and no body is a call with the empty message.
        None if request.body().is_end_stream() || request.body().size_hint().exact() == Some(0) => {
        }
        None => return Err(Rejection::UnsupportedMediaType(None)),
    }
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING)
        && encoding != "identity"
    {
        return Err(Rejection::UnsupportedEncoding(encoding.clone()));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_request_bytes as u64) {
        return Err(Rejection::BodyTooLarge(max_request_bytes));
    }
    Ok(())
}

/// Runs the call on `service` (already ready), within the deadline.
pub(crate) async fn call<S, B, ResBody>(
    service: S,
    prepared: Prepared<B>,
) -> Result<Response<DualBody<ResBody>>, S::Error>
where
    S: Service<Request<DualBody<B>>, Response = Response<ResBody>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    let Some(deadline) = prepared.deadline else {
        return exchange(service, prepared).await;
    };
    let work = exchange(service, prepared);
    match tokio::time::timeout(deadline.saturating_sub(DEADLINE_LEAD), work).await {
        Ok(result) => result,
        Err(_) => {
            let status = GrpcStatus::new(
                code::DEADLINE_EXCEEDED,
                format!("deadline of {deadline:?} exceeded"),
            );
            Ok(json_response(http_status(status.code), status.to_json()))
        }
    }
}

async fn exchange<S, B, ResBody>(
    mut service: S,
    prepared: Prepared<B>,
) -> Result<Response<DualBody<ResBody>>, S::Error>
where
    S: Service<Request<DualBody<B>>, Response = Response<ResBody>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    let Prepared {
        parts,
        body,
        method,
        rest,
        limit,
        json: options,
        ..
    } = prepared;
    let mut json = match read_limited(body, limit).await {
        Ok(json) => json,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let mut response_field = "";
    if let Some(Rest { rule, overlay }) = rest {
        json = match rest::request::merge(rule.body, json, overlay) {
            Ok(merged) => merged,
            Err(e) => return Ok(Rejection::Json(e).into_response()),
        };
        response_field = rule.response_body;
    }
    let mut buf = BytesMut::with_capacity(frame::HEADER_LEN + json.len());
    let at = frame::start(&mut buf);
    // The options live in a thread-local: set around the synchronous codec
    // call only, never across an await.
    if let Err(e) = with_options(options, || (method.request)(&json, &mut buf)) {
        return Ok(Rejection::Json(e).into_response());
    }
    frame::finish(&mut buf, at);
    let request = Request::from_parts(parts, DualBody::full(buf.freeze()));
    let response = service.call(request).await?;
    Ok(to_json(response, &method, response_field, options).await)
}

/// Reads a whole request body, failing as soon as it passes `limit`.
async fn read_limited<B>(body: B, limit: usize) -> Result<Bytes, Rejection>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    match collect(body, limit).await {
        Ok((data, _)) => Ok(data),
        Err(Collect::TooLarge) => Err(Rejection::BodyTooLarge(limit)),
        Err(Collect::Body(e)) => Err(Rejection::BodyRead(e.into().to_string())),
    }
}

/// The gRPC answer as a JSON answer; with a `response_field`, only that
/// field of the response message.
async fn to_json<ResBody>(
    response: Response<ResBody>,
    method: &MethodDescriptor,
    response_field: &str,
    options: JsonOptions,
) -> Response<DualBody<ResBody>>
where
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    let (mut parts, body) = response.into_parts();
    // Trailers-only: the status is in the headers and there is no message.
    if let Some(status) = GrpcStatus::from_headers(&parts.headers) {
        metadata::response_to_http(&mut parts.headers, None);
        let status = if status.code == code::OK {
            GrpcStatus::new(code::INTERNAL, "the gRPC response has no message")
        } else {
            status
        };
        return error(parts, status);
    }
    // Not a gRPC answer (a plain HTTP error from a layer below): as it is.
    if !is_grpc(&parts.headers) {
        return Response::from_parts(parts, DualBody::new(body));
    }
    let (data, trailers) = match collect(body, usize::MAX).await {
        Ok(collected) => collected,
        Err(e) => {
            let reason = match e {
                Collect::Body(e) => e.into().to_string(),
                Collect::TooLarge => "too large".to_owned(),
            };
            let message = format!("failed to read the gRPC response: {reason}");
            return error(parts, GrpcStatus::new(code::INTERNAL, message));
        }
    };
    metadata::response_to_http(&mut parts.headers, trailers.as_ref());
    let status = trailers
        .as_ref()
        .and_then(GrpcStatus::from_headers)
        .unwrap_or_else(|| GrpcStatus::new(code::INTERNAL, "the gRPC response has no grpc-status"));
    if status.code != code::OK {
        return error(parts, status);
    }
    let message = match frame::single(&data) {
        Ok(message) => message,
        Err(e) => {
            return error(parts, GrpcStatus::new(code::INTERNAL, e.to_string()));
        }
    };
    let mut json = Vec::with_capacity(16 + message.len() * 2);
    if let Err(e) = with_options(options, || (method.response)(message, &mut json)) {
        let message = format!("the gRPC response does not decode: {e}");
        return error(parts, GrpcStatus::new(code::INTERNAL, message));
    }
    if !response_field.is_empty() {
        json = rest::request::select(&json, response_field);
    }
    parts.status = StatusCode::OK;
    Response::from_parts(parts, DualBody::full(json.into()))
}

fn error<ResBody>(
    mut parts: http::response::Parts,
    status: GrpcStatus,
) -> Response<DualBody<ResBody>> {
    parts.status = http_status(status.code);
    parts.headers.insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, DualBody::full(status.to_json()))
}

/// Why [`collect`] stopped.
enum Collect<E> {
    TooLarge,
    Body(E),
}

/// All data (not copied when it came in one piece) and the trailers;
/// stops reading as soon as the data passes `limit`.
async fn collect<B: Body<Data = Bytes>>(
    body: B,
    limit: usize,
) -> Result<(Bytes, Option<HeaderMap>), Collect<B::Error>> {
    let mut body = pin!(body);
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut trailers: Option<HeaderMap> = None;
    let mut len = 0usize;
    while let Some(frame) = body.as_mut().frame().await {
        let frame = match frame.map_err(Collect::Body)?.into_data() {
            Ok(data) => {
                len = len.saturating_add(data.len());
                if len > limit {
                    return Err(Collect::TooLarge);
                }
                match (&mut joined, first.take()) {
                    (Some(buf), _) => buf.extend_from_slice(&data),
                    (None, Some(prev)) => {
                        let mut buf = BytesMut::with_capacity(prev.len() + data.len());
                        buf.extend_from_slice(&prev);
                        buf.extend_from_slice(&data);
                        joined = Some(buf);
                    }
                    (None, None) => first = Some(data),
                }
                continue;
            }
            Err(frame) => frame,
        };
        if let Ok(more) = frame.into_trailers() {
            match &mut trailers {
                Some(t) => t.extend(more),
                None => trailers = Some(more),
            }
        }
    }
    let data = joined.map(BytesMut::freeze).or(first).unwrap_or_default();
    Ok((data, trailers))
}
