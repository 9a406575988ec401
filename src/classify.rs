//! What the layer does with a request, decided once from its head (method,
//! path, headers), before the body is touched: pass it through, answer it
//! now, or transcode it following a [`Plan`].

use http::{HeaderMap, HeaderValue, Method, Request, Version, header};

use crate::config::ServerType;
use crate::error::Rejection;
use crate::registry::{HttpRule, MethodDescriptor, MethodKind, split_path};
use crate::rest::router::RouteMatch;
use crate::shared::Shared;

/// The layer's decision for one request.
#[derive(Debug)]
pub(crate) enum Decision<'a> {
    /// Not the layer's to transcode: to the inner service unchanged. With
    /// `watch`, a gRPC error answered to it (tonic's UNIMPLEMENTED for a
    /// path it does not know) becomes a JSON error.
    Passthrough { watch: bool },
    /// Answered by the layer, without calling the inner service.
    Reject(Rejection),
    /// A call of a method the layer serves, transcoded.
    Transcode(Plan<'a>),
}

/// How one transcoded call goes: which method (and REST binding), how the
/// client sends its messages, how it wants the answer.
#[derive(Debug)]
pub(crate) struct Plan<'a> {
    pub(crate) method: &'a MethodDescriptor,
    /// The REST binding and its decoded path variables, for REST routes.
    pub(crate) rest: Option<RestTarget<'a>>,
    pub(crate) wire: Wire,
    pub(crate) respond: Respond,
}

/// A REST route's binding and the decoded values of its path variables
/// (field path, value), in template order.
#[derive(Debug)]
pub(crate) struct RestTarget<'a> {
    pub(crate) rule: HttpRule,
    pub(crate) bindings: Vec<(&'a [String], String)>,
}

/// How the client sends its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// One JSON body (`application/json`): one message (for streaming
    /// methods, a stream of one; a blank body is no message at all).
    Json,
    /// `application/x-ndjson`: one message per line, read as they arrive.
    Ndjson,
    /// A WebSocket (HTTP/1.1 upgrade): one message per text frame.
    WebSocket,
    /// Raw bytes for a `google.api.HttpBody`, with the request's
    /// content type (for client streams: one message per chunk read).
    Raw(RawInto),
}

/// Where raw request bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawInto {
    /// The request message is the `google.api.HttpBody`.
    Message,
    /// The `google.api.HttpBody` field with this number.
    Field(u32),
}

/// How the client gets its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Respond {
    /// One JSON body; an error is the mapped HTTP status and a JSON status.
    Json,
    /// `application/x-ndjson`: one message per line, then an error line if
    /// the call failed.
    Ndjson,
    /// `text/event-stream`: a `data:` event per message, then an `error`
    /// event if the call failed.
    Sse,
    /// Text frames on the WebSocket, then a close frame with the status.
    WebSocket,
    /// The one `google.api.HttpBody`'s bytes, with its content type.
    Raw,
    /// Each `google.api.HttpBody`'s bytes as they come (a download), with
    /// the first one's content type; a failure after the first aborts the
    /// body (and is in the HTTP/2 trailers).
    RawStream,
}

pub(crate) const NDJSON: &str = "application/x-ndjson";
pub(crate) const EVENT_STREAM: &str = "text/event-stream";

pub(crate) fn classify<'a, B: http_body::Body>(
    request: &Request<B>,
    shared: &'a Shared,
) -> Decision<'a> {
    let headers = request.headers();
    if is_grpc(headers) {
        return match shared.server_type {
            ServerType::Http => Decision::Reject(Rejection::GrpcDisabled),
            ServerType::Dual | ServerType::Grpc => Decision::Passthrough { watch: false },
        };
    }
    let registry = &shared.registry;
    let path = request.uri().path();
    let verb = request.method();
    let target = if let Some(method) = registry.method(path) {
        if is_websocket(request) {
            Ok((method, None))
        } else if verb != Method::POST {
            Err(Rejection::MethodNotAllowed(
                verb.clone(),
                vec![Method::POST],
            ))
        } else {
            Ok((method, None))
        }
    } else {
        match registry.route(verb, path) {
            RouteMatch::Found { value, bindings } => {
                let rest = RestTarget {
                    rule: value.rule,
                    bindings,
                };
                Ok((&value.method, Some(rest)))
            }
            RouteMatch::BadBinding {
                field_path, error, ..
            } => Err(Rejection::BadPath(field_path.join("."), error)),
            RouteMatch::MethodNotAllowed { allow } => {
                Err(Rejection::MethodNotAllowed(verb.clone(), allow))
            }
            RouteMatch::NotFound => {
                return match split_path(path) {
                    Some((service, _)) if registry.has_service(service) => {
                        json_only(shared, Rejection::UnknownMethod(path.to_owned()))
                    }
                    // An RPC path of a service with no table, called with JSON:
                    // tonic would fail to decode it (500); say why now.
                    Some((service, _)) if service.contains('.') && is_json_like(headers) => {
                        json_only(shared, Rejection::NotServedAsJson(path.to_owned()))
                    }
                    _ => Decision::Passthrough { watch: true },
                };
            }
        }
    };
    if shared.server_type == ServerType::Grpc {
        return Decision::Reject(Rejection::JsonDisabled);
    }
    let (method, rest) = match target {
        Ok(target) => target,
        Err(rejection) => return Decision::Reject(rejection),
    };
    match plan(request, method, rest.as_ref(), shared) {
        Ok((wire, respond)) => Decision::Transcode(Plan {
            method,
            rest,
            wire,
            respond,
        }),
        Err(rejection) => Decision::Reject(rejection),
    }
}

/// A rejection of a JSON request, or [`Rejection::JsonDisabled`] on a
/// gRPC-only server.
fn json_only(shared: &Shared, rejection: Rejection) -> Decision<'static> {
    Decision::Reject(match shared.server_type {
        ServerType::Grpc => Rejection::JsonDisabled,
        ServerType::Dual | ServerType::Http => rejection,
    })
}

/// The wire formats both ways, or why the request cannot be served.
fn plan<B: http_body::Body>(
    request: &Request<B>,
    method: &MethodDescriptor,
    rest: Option<&RestTarget<'_>>,
    shared: &Shared,
) -> Result<(Wire, Respond), Rejection> {
    if is_websocket(request) {
        return Ok((Wire::WebSocket, Respond::WebSocket));
    }
    let headers = request.headers();
    let streams_in = matches!(
        method.kind,
        MethodKind::ClientStreaming | MethodKind::BidiStreaming
    );
    let streams_out = matches!(
        method.kind,
        MethodKind::ServerStreaming | MethodKind::BidiStreaming
    );
    // `google.api.HttpBody` out: the raw bytes with their content type.
    let respond_raw =
        method.output == HTTP_BODY && rest.is_none_or(|r| r.rule.response_body.is_empty());
    let raw_respond = if streams_out {
        Respond::RawStream
    } else {
        Respond::Raw
    };
    // `google.api.HttpBody` in: any content type, taken as it is.
    if let Some(raw) = raw_input(method, rest, shared) {
        if let Some(encoding) = headers.get(header::CONTENT_ENCODING)
            && encoding != "identity"
        {
            return Err(Rejection::UnsupportedEncoding(encoding.clone()));
        }
        let respond = if respond_raw {
            raw_respond
        } else if streams_out && accepts_sse(headers) {
            Respond::Sse
        } else if streams_out {
            Respond::Ndjson
        } else {
            Respond::Json
        };
        if !streams_in
            && declared_length(headers).is_some_and(|len| len > shared.max_request_bytes as u64)
        {
            return Err(Rejection::BodyTooLarge(shared.max_request_bytes));
        }
        return Ok((Wire::Raw(raw), respond));
    }
    let max_request_bytes = shared.max_request_bytes;
    let expected = if streams_in {
        "application/x-ndjson or application/json"
    } else {
        "application/json"
    };
    let wire = match headers.get(header::CONTENT_TYPE) {
        Some(value) if is_json(value) => Wire::Json,
        Some(value) if streams_in && is_media_type(value, NDJSON) => Wire::Ndjson,
        Some(value) => {
            return Err(Rejection::UnsupportedMediaType(
                Some(value.clone()),
                expected,
            ));
        }
        // No content-type and no body is a call with the empty message.
        None if request.body().is_end_stream() || request.body().size_hint().exact() == Some(0) => {
            Wire::Json
        }
        None => return Err(Rejection::UnsupportedMediaType(None, expected)),
    };
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING)
        && encoding != "identity"
    {
        return Err(Rejection::UnsupportedEncoding(encoding.clone()));
    }
    if wire == Wire::Json
        && declared_length(headers).is_some_and(|len| len > max_request_bytes as u64)
    {
        return Err(Rejection::BodyTooLarge(max_request_bytes));
    }
    let respond = match method.kind {
        _ if respond_raw => raw_respond,
        MethodKind::ServerStreaming | MethodKind::BidiStreaming if accepts_sse(headers) => {
            Respond::Sse
        }
        MethodKind::ServerStreaming | MethodKind::BidiStreaming => Respond::Ndjson,
        _ => Respond::Json,
    };
    Ok((wire, respond))
}

/// The full name of `google.api.HttpBody`, the raw-body message.
pub(crate) const HTTP_BODY: &str = "google.api.HttpBody";

/// Where raw request bytes go, when the method takes a `google.api.HttpBody`
/// (as its input, or as the field its REST `body` names).
fn raw_input(
    method: &MethodDescriptor,
    rest: Option<&RestTarget<'_>>,
    shared: &Shared,
) -> Option<RawInto> {
    match rest.map_or("*", |r| r.rule.body) {
        "*" => (method.input == HTTP_BODY).then_some(RawInto::Message),
        "" => None,
        field => shared
            .registry
            .fields(method.input)
            .iter()
            .find(|f| f.json_name == field && f.message == HTTP_BODY && !f.repeated)
            .map(|f| RawInto::Field(f.number)),
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Whether a content-type says gRPC (`application/grpc`, `+proto`, `-web`, ...).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// Whether a content-type is `application/json`, parameters allowed.
pub(crate) fn is_json(value: &HeaderValue) -> bool {
    is_media_type(value, "application/json")
}

fn is_json_like(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| is_json(v) || is_media_type(v, NDJSON))
}

/// Whether `value` is the media type `expected` (case-insensitive,
/// parameters allowed).
fn is_media_type(value: &HeaderValue, expected: &str) -> bool {
    is_media_type_bytes(value.as_bytes(), expected)
}

/// Whether `Accept` names `text/event-stream`.
fn accepts_sse(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| is_media_type_bytes(item, EVENT_STREAM))
    })
}

fn is_media_type_bytes(item: &[u8], expected: &str) -> bool {
    let media_type = item.split(|&b| b == b';').next().unwrap_or_default();
    media_type
        .trim_ascii()
        .eq_ignore_ascii_case(expected.as_bytes())
}

/// An HTTP/1.1 WebSocket handshake: `GET`, `Upgrade: websocket`.
pub(crate) fn is_websocket<B>(request: &Request<B>) -> bool {
    request.method() == Method::GET
        && request.version() == Version::HTTP_11
        && request
            .headers()
            .get_all(header::UPGRADE)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for json in [
            "application/json",
            "Application/JSON; charset=utf-8",
            " application/json ",
        ] {
            assert!(is_json(&HeaderValue::from_static(json)), "{json}");
        }
        for other in ["application/jsonx", "text/json", "application/grpc"] {
            assert!(!is_json(&HeaderValue::from_static(other)), "{other}");
        }
        let mut headers = HeaderMap::new();
        assert!(!is_grpc(&headers));
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc-web+proto"),
        );
        assert!(is_grpc(&headers));
    }

    #[test]
    fn accept_negotiates_sse() {
        let mut headers = HeaderMap::new();
        assert!(!accepts_sse(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, Text/Event-Stream;q=0.9"),
        );
        assert!(accepts_sse(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!accepts_sse(&headers));
    }
}
