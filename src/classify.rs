//! What the layer does with a request, decided once from its head (method,
//! path, headers), before the body is touched: pass it through, answer it
//! now, or transcode it following a [`Plan`].

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Version, header};

use crate::config::Protocol;
use crate::error::Rejection;
use crate::registry::{HttpRule, MessageDescriptor, MethodDescriptor, MethodKind, split_path};
use crate::rest::router::RouteMatch;
use crate::shared::Shared;
use crate::transcode::envelope::Compression;

/// The layer's decision for one request.
#[derive(Debug)]
pub(crate) enum Decision<'a> {
    /// Not the layer's to transcode: to the inner service unchanged. With
    /// `watch`, a gRPC error answered to it (tonic's UNIMPLEMENTED for a
    /// path it does not know) becomes a JSON error.
    Passthrough { watch: bool },
    /// Answered by the layer, without calling the inner service, in the
    /// protocol the client speaks.
    Reject(Rejection, Dialect),
    /// `OPTIONS` on a path the layer serves: 204 with `Allow`.
    Options(Vec<Method>),
    /// `GET` (or `HEAD`) of the OpenAPI document or the docs page.
    Page {
        page: &'a crate::openapi::Page,
        head: bool,
    },
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
    /// How the client compressed its messages (whole body or per envelope).
    pub(crate) compressed: Option<Compression>,
    /// How the answer may be compressed.
    pub(crate) compress: Option<Compression>,
    /// A `HEAD` request: answered like `GET`, without the body.
    pub(crate) head: bool,
    /// The message of a Connect GET, from its query (instead of the body).
    pub(crate) query_message: Option<Bytes>,
}

/// A REST route's binding and the decoded values of its path variables
/// (field path, value), in template order.
#[derive(Debug)]
pub(crate) struct RestTarget<'a> {
    pub(crate) rule: HttpRule,
    pub(crate) bindings: Vec<(&'a [String], String)>,
}

/// The message encoding of a Connect or gRPC-Web call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codec {
    /// Proto3 JSON, transcoded by the method's codec.
    Json,
    /// Protobuf, as it is.
    Proto,
}

/// How the client sends its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    /// One JSON body (`application/json`): one message (for streaming
    /// methods, a stream of one; a blank body is no message at all).
    Json,
    /// One protobuf body (Connect's `application/proto`): one message.
    Proto,
    /// `application/x-ndjson`: one message per line, read as they arrive.
    Ndjson,
    /// A WebSocket (HTTP/1.1 upgrade): one message per text frame.
    WebSocket,
    /// Raw bytes for a `google.api.HttpBody`, with the request's
    /// content type (for client streams: one message per chunk read).
    Raw(RawInto),
    /// Enveloped messages (Connect streaming, gRPC-Web), in base64 for
    /// `grpc-web-text`.
    Envelopes { codec: Codec, text: bool },
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
    /// Connect unary: the message as the body; an error is the mapped HTTP
    /// status and a Connect error JSON; trailers are `trailer-` headers.
    Connect(Codec),
    /// Connect streaming: an envelope per message, then the end-of-stream
    /// message with the error and the trailers.
    ConnectStream(Codec),
    /// gRPC-Web: a frame per message, then the trailers frame.
    GrpcWeb { codec: Codec, text: bool },
}

impl Respond {
    /// How errors are told to the client answered this way.
    pub(crate) fn dialect(self) -> Dialect {
        match self {
            Respond::Connect(_) => Dialect::Connect,
            Respond::ConnectStream(codec) => Dialect::ConnectStream(codec),
            Respond::GrpcWeb { codec, text } => Dialect::GrpcWeb { codec, text },
            _ => Dialect::Json,
        }
    }
}

/// How the layer tells a client an error it answers itself: the form of
/// the protocol the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// HTTP/JSON (RPC paths, REST, NDJSON, SSE, WebSocket handshakes): the
    /// mapped HTTP status and a `google.rpc.Status` JSON.
    Json,
    /// Connect unary: the mapped HTTP status and a Connect error JSON.
    Connect,
    /// Connect streaming: 200 and an end-of-stream message.
    ConnectStream(Codec),
    /// gRPC-Web: 200 and a trailers frame.
    GrpcWeb { codec: Codec, text: bool },
}

impl Dialect {
    /// The response content type of this protocol.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Dialect::Json | Dialect::Connect => "application/json",
            Dialect::ConnectStream(Codec::Json) => "application/connect+json",
            Dialect::ConnectStream(Codec::Proto) => "application/connect+proto",
            Dialect::GrpcWeb {
                codec: Codec::Json,
                text: false,
            } => "application/grpc-web+json",
            Dialect::GrpcWeb {
                codec: Codec::Proto,
                text: false,
            } => "application/grpc-web+proto",
            Dialect::GrpcWeb {
                codec: Codec::Json,
                text: true,
            } => "application/grpc-web-text+json",
            Dialect::GrpcWeb {
                codec: Codec::Proto,
                text: true,
            } => "application/grpc-web-text+proto",
        }
    }
}

pub(crate) const NDJSON: &str = "application/x-ndjson";
pub(crate) const EVENT_STREAM: &str = "text/event-stream";
pub(crate) const CONNECT_PROTOCOL_VERSION: &str = "connect-protocol-version";

/// The protocol a request speaks, from its head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Incoming {
    Grpc,
    GrpcWeb {
        codec: Option<Codec>,
        text: bool,
    },
    ConnectUnary(Codec),
    ConnectStream(Option<Codec>),
    ConnectGet,
    /// JSON, REST, NDJSON, WebSocket, raw bodies, or something unknown.
    Http,
}

fn incoming<B>(request: &Request<B>, registry_has: impl FnOnce(&str) -> bool) -> Incoming {
    let headers = request.headers();
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return get_or_http(request, registry_has);
    };
    let media = content_type
        .as_bytes()
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    let codec_of = |suffix: &[u8]| {
        if suffix.is_empty() || suffix.eq_ignore_ascii_case(b"+proto") {
            Some(Codec::Proto)
        } else if suffix.eq_ignore_ascii_case(b"+json") {
            Some(Codec::Json)
        } else {
            None
        }
    };
    if let Some(rest) = strip_prefix_ignore_case(media, b"application/grpc") {
        if rest.is_empty() || rest.starts_with(b"+") {
            return Incoming::Grpc;
        }
        if let Some(rest) = strip_prefix_ignore_case(rest, b"-web") {
            let (text, suffix) = match strip_prefix_ignore_case(rest, b"-text") {
                Some(suffix) => (true, suffix),
                None => (false, rest),
            };
            return Incoming::GrpcWeb {
                codec: codec_of(suffix),
                text,
            };
        }
    }
    if let Some(suffix) = strip_prefix_ignore_case(media, b"application/connect") {
        return Incoming::ConnectStream(codec_of(suffix).filter(|_| !suffix.is_empty()));
    }
    if media.eq_ignore_ascii_case(b"application/proto") {
        return Incoming::ConnectUnary(Codec::Proto);
    }
    if media.eq_ignore_ascii_case(b"application/json")
        && headers.contains_key(CONNECT_PROTOCOL_VERSION)
    {
        return Incoming::ConnectUnary(Codec::Json);
    }
    get_or_http(request, registry_has)
}

/// `bytes` after `prefix`, compared ignoring ASCII case.
fn strip_prefix_ignore_case<'b>(bytes: &'b [u8], prefix: &[u8]) -> Option<&'b [u8]> {
    let (head, rest) = bytes.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

/// A Connect GET (`?encoding=..&message=..` on an RPC path), or HTTP.
fn get_or_http<B>(request: &Request<B>, registry_has: impl FnOnce(&str) -> bool) -> Incoming {
    let is_get = request.method() == Method::GET || request.method() == Method::HEAD;
    let connect_query = request.uri().query().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.starts_with("encoding=") || pair == "connect=v1")
    });
    if is_get && connect_query && !is_websocket(request) && registry_has(request.uri().path()) {
        Incoming::ConnectGet
    } else {
        Incoming::Http
    }
}

pub(crate) fn classify<'a, B: http_body::Body>(
    request: &Request<B>,
    shared: &'a Shared,
) -> Decision<'a> {
    let headers = request.headers();
    let protocols = shared.protocols;
    let registry = &shared.registry;
    let json = Dialect::Json;
    // The layer's own pages, whatever the protocol settings (their paths
    // are checked not to be the API's when the layer is built).
    if let Some(pages) = &shared.openapi
        && let Some(page) = pages.get(request.uri().path())
    {
        let verb = request.method();
        return match *verb {
            Method::GET | Method::HEAD => Decision::Page {
                page,
                head: verb == Method::HEAD,
            },
            Method::OPTIONS => Decision::Options(vec![Method::GET, Method::HEAD, Method::OPTIONS]),
            _ => {
                let allow = vec![Method::GET, Method::HEAD];
                Decision::Reject(Rejection::MethodNotAllowed(verb.clone(), allow), json)
            }
        };
    }
    let incoming = incoming(request, |path| registry.method(path).is_some());
    let dialect = match incoming {
        Incoming::Grpc if protocols.contains(Protocol::Grpc) => {
            return Decision::Passthrough { watch: false };
        }
        Incoming::Grpc => return Decision::Reject(Rejection::GrpcDisabled, json),
        // Off: for a tonic_web layer inside, if the user composed one.
        Incoming::GrpcWeb { .. } if !protocols.contains(Protocol::GrpcWeb) => {
            return Decision::Passthrough { watch: false };
        }
        Incoming::GrpcWeb { codec: None, text } => {
            let dialect = Dialect::GrpcWeb {
                codec: Codec::Proto,
                text,
            };
            let expected = "application/grpc-web+proto or application/grpc-web+json";
            return unsupported(headers, expected, dialect);
        }
        Incoming::GrpcWeb {
            codec: Some(codec),
            text,
        } => Dialect::GrpcWeb { codec, text },
        Incoming::ConnectUnary(_) | Incoming::ConnectStream(_) | Incoming::ConnectGet
            if !protocols.contains(Protocol::Connect) =>
        {
            match incoming {
                // Without Connect, a JSON POST is plain JSON.
                Incoming::ConnectUnary(Codec::Json) | Incoming::ConnectGet => json,
                _ => return unsupported(headers, "application/json", json),
            }
        }
        Incoming::ConnectStream(None) => {
            let expected = "application/connect+json or application/connect+proto";
            return unsupported(headers, expected, Dialect::ConnectStream(Codec::Json));
        }
        Incoming::ConnectStream(Some(codec)) => Dialect::ConnectStream(codec),
        Incoming::ConnectUnary(_) | Incoming::ConnectGet => Dialect::Connect,
        Incoming::Http => json,
    };
    if dialect == Dialect::Json {
        if !protocols.contains(Protocol::Json) {
            return match registry.method(request.uri().path()).is_some()
                || matches!(
                    registry.route(request.method(), request.uri().path()),
                    RouteMatch::Found { .. } | RouteMatch::MethodNotAllowed { .. }
                ) {
                true => Decision::Reject(Rejection::JsonDisabled, json),
                false => Decision::Passthrough { watch: false },
            };
        }
        return classify_http(request, shared);
    }
    if let Some(version) = headers.get(CONNECT_PROTOCOL_VERSION)
        && version != "1"
    {
        return Decision::Reject(Rejection::ConnectVersion(version.clone()), dialect);
    }
    // Connect and gRPC-Web call RPC paths only.
    let path = request.uri().path();
    let method = match registry.method(path) {
        Some(method) => method,
        // A service without a table (tonic-health, reflection, one left out
        // of `services`), called in protobuf: nothing to transcode, so it
        // is served all the same; tonic answers if the path is unknown.
        None if is_binary(incoming) && !registry.has_service(service_of(path)) => {
            if service_of(path).contains('.') {
                &OPAQUE
            } else {
                return Decision::Passthrough { watch: true };
            }
        }
        None => {
            let rejection = match split_path(path) {
                Some((service, _)) if registry.has_service(service) => {
                    Rejection::UnknownMethod(path.to_owned())
                }
                _ => Rejection::NotServedAsJson(path.to_owned()),
            };
            return Decision::Reject(rejection, dialect);
        }
    };
    match rpc_plan(request, method, incoming, dialect, shared) {
        Ok(plan) => Decision::Transcode(plan),
        Err(rejection) => Decision::Reject(rejection, dialect),
    }
}

/// The method of a protobuf call to a path the layer has no table for: its
/// kind is unknown (Connect's content type says unary or streaming, gRPC-Web
/// frames serve every kind) and it has no JSON codec (none is needed).
/// Its empty `path` tells `transcode` to keep the request's own.
pub(crate) static OPAQUE: MethodDescriptor = MethodDescriptor {
    path: "",
    input: &OPAQUE_MESSAGE,
    output: &OPAQUE_MESSAGE,
    http: &[],
    kind: MethodKind::BidiStreaming,
    no_side_effects: false,
};

static OPAQUE_MESSAGE: MessageDescriptor = MessageDescriptor {
    full_name: "",
    json_to_proto: |_, _, _| {
        Err(crate::transcode::json::JsonError {
            exceeded: false,
            field: String::new(),
            message: "this method has no JSON table".to_owned(),
        })
    },
    proto_to_json: |_, _, _| {
        Err(crate::transcode::json::DecodeError(
            "this method has no JSON table".to_owned(),
        ))
    },
    fields: &[],
};

/// Whether a Connect or gRPC-Web call sends protobuf.
fn is_binary(incoming: Incoming) -> bool {
    matches!(
        incoming,
        Incoming::ConnectUnary(Codec::Proto)
            | Incoming::ConnectStream(Some(Codec::Proto))
            | Incoming::GrpcWeb {
                codec: Some(Codec::Proto),
                ..
            }
    )
}

fn service_of(path: &str) -> &str {
    split_path(path).map_or("", |(service, _)| service)
}

fn unsupported(headers: &HeaderMap, expected: &'static str, dialect: Dialect) -> Decision<'static> {
    let got = headers.get(header::CONTENT_TYPE).cloned();
    Decision::Reject(Rejection::UnsupportedMediaType(got, expected), dialect)
}

/// The plan of a Connect or gRPC-Web call of `method`.
fn rpc_plan<'a, B: http_body::Body>(
    request: &Request<B>,
    method: &'a MethodDescriptor,
    incoming: Incoming,
    dialect: Dialect,
    shared: &Shared,
) -> Result<Plan<'a>, Rejection> {
    let headers = request.headers();
    let verb = request.method();
    // A method without a table is what the content type says.
    let unary = if std::ptr::eq(method, &OPAQUE) {
        matches!(incoming, Incoming::ConnectUnary(_))
    } else {
        method.kind == MethodKind::Unary
    };
    let head = verb == Method::HEAD;
    let mut query_message = None;
    let (wire, respond, compressed, compress) = match incoming {
        Incoming::ConnectGet => {
            if !method.no_side_effects {
                return Err(Rejection::MethodNotAllowed(
                    verb.clone(),
                    vec![Method::POST],
                ));
            }
            if !unary {
                return Err(Rejection::UnsupportedMediaType(
                    None,
                    "application/connect+json or application/connect+proto (streaming methods take POST)",
                ));
            }
            let query = ConnectQuery::parse(request.uri().query().unwrap_or_default())?;
            let compress = Compression::accepted(headers, "accept-encoding");
            let wire = match query.codec {
                Codec::Json => Wire::Json,
                Codec::Proto => Wire::Proto,
            };
            query_message = Some(query.message);
            (
                wire,
                Respond::Connect(query.codec),
                query.compression,
                compress,
            )
        }
        _ if verb != Method::POST => {
            return Err(Rejection::MethodNotAllowed(
                verb.clone(),
                allowed(method, shared),
            ));
        }
        Incoming::ConnectUnary(codec) => {
            if !unary {
                return Err(Rejection::UnsupportedMediaType(
                    headers.get(header::CONTENT_TYPE).cloned(),
                    "application/connect+json or application/connect+proto (a streaming method)",
                ));
            }
            let compressed = Compression::from_headers(headers, &header::CONTENT_ENCODING)
                .map_err(Rejection::UnsupportedEncoding)?;
            let compress = Compression::accepted(headers, "accept-encoding");
            if declared_length(headers).is_some_and(|len| len > shared.max_request_bytes as u64) {
                return Err(Rejection::BodyTooLarge(shared.max_request_bytes));
            }
            let wire = match codec {
                Codec::Json => Wire::Json,
                Codec::Proto => Wire::Proto,
            };
            (wire, Respond::Connect(codec), compressed, compress)
        }
        Incoming::ConnectStream(Some(codec)) => {
            if unary {
                return Err(Rejection::UnsupportedMediaType(
                    headers.get(header::CONTENT_TYPE).cloned(),
                    "application/json or application/proto (a unary method)",
                ));
            }
            let compressed = Compression::from_headers(headers, "connect-content-encoding")
                .map_err(Rejection::UnsupportedEncoding)?;
            let compress = Compression::accepted(headers, "connect-accept-encoding");
            let wire = Wire::Envelopes { codec, text: false };
            (wire, Respond::ConnectStream(codec), compressed, compress)
        }
        Incoming::GrpcWeb {
            codec: Some(codec),
            text,
        } => {
            let compressed = Compression::from_headers(headers, "grpc-encoding")
                .map_err(Rejection::UnsupportedEncoding)?;
            let compress = Compression::accepted(headers, "grpc-accept-encoding");
            let wire = Wire::Envelopes { codec, text };
            (wire, Respond::GrpcWeb { codec, text }, compressed, compress)
        }
        _ => unreachable!("classify sends only Connect and gRPC-Web calls here: {dialect:?}"),
    };
    Ok(Plan {
        method,
        rest: None,
        wire,
        respond,
        compressed,
        compress,
        head,
        query_message,
    })
}

/// The verbs an RPC path takes.
fn allowed(method: &MethodDescriptor, shared: &Shared) -> Vec<Method> {
    if takes_get(method, shared) {
        vec![Method::POST, Method::GET]
    } else {
        vec![Method::POST]
    }
}

/// Whether a method is served by Connect GET (it has no side effects and
/// the layer serves Connect).
fn takes_get(method: &MethodDescriptor, shared: &Shared) -> bool {
    method.no_side_effects && shared.protocols.contains(Protocol::Connect)
}

/// The query of a Connect GET: `message`, `encoding`, `base64`,
/// `compression`, `connect`.
struct ConnectQuery {
    codec: Codec,
    compression: Option<Compression>,
    message: Bytes,
}

impl ConnectQuery {
    fn parse(query: &str) -> Result<Self, Rejection> {
        let bad = |message: String| Rejection::BadConnectGet(message);
        let (mut encoding, mut compression, mut base64, mut message) = (None, None, false, None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode(value.replace('+', " ").as_bytes())
                .collect::<Vec<u8>>();
            match key {
                "encoding" => encoding = Some(value),
                "compression" => compression = Some(value),
                "base64" => base64 = value == b"1",
                "message" => message = Some(value),
                "connect" if value == b"v1" => {}
                "connect" => {
                    return Err(bad(format!(
                        "connect={}: only v1 is served",
                        String::from_utf8_lossy(&value)
                    )));
                }
                // Anything else (a cache buster) is ignored, as the protocol asks.
                _ => {}
            }
        }
        let codec = match encoding.as_deref() {
            Some(b"json") => Codec::Json,
            Some(b"proto") => Codec::Proto,
            Some(other) => {
                return Err(bad(format!(
                    "encoding={}: expected json or proto",
                    String::from_utf8_lossy(other)
                )));
            }
            None => return Err(bad("the encoding parameter is missing".to_owned())),
        };
        let compression = match compression {
            Some(name) => Compression::from_header(HeaderValue::from_bytes(&name).ok().as_ref())
                .map_err(Rejection::UnsupportedEncoding)?,
            None => None,
        };
        let message = message.unwrap_or_default();
        let message = if base64 {
            crate::status::decode_base64(&message)
                .ok_or_else(|| bad("message: not base64 (base64=1)".to_owned()))?
        } else {
            message
        };
        Ok(Self {
            codec,
            compression,
            message: message.into(),
        })
    }
}

/// JSON, REST, NDJSON, SSE, WebSocket and raw bodies.
fn classify_http<'a, B: http_body::Body>(request: &Request<B>, shared: &'a Shared) -> Decision<'a> {
    let json = Dialect::Json;
    let headers = request.headers();
    let registry = &shared.registry;
    let path = request.uri().path();
    let verb = request.method();
    let mut head = false;
    let target = if let Some(method) = registry.method(path) {
        if verb == Method::OPTIONS {
            let mut allow = allowed(method, shared);
            allow.push(Method::OPTIONS);
            return Decision::Options(allow);
        }
        if is_websocket(request) || verb == Method::POST {
            Ok((method, None))
        } else if (verb == Method::GET || verb == Method::HEAD) && takes_get(method, shared) {
            // A Connect GET without its query: say what it lacks rather
            // than "use POST or GET".
            Err(Rejection::BadConnectGet(
                "a GET of an RPC path is a Connect GET: its query needs `encoding=json` or \
                 `encoding=proto` and `message=` (and `connect=v1`; `base64=1`, \
                 `compression=gzip` as needed); other calls take POST"
                    .to_owned(),
            ))
        } else {
            Err(Rejection::MethodNotAllowed(
                verb.clone(),
                allowed(method, shared),
            ))
        }
    } else {
        // HEAD is GET without the body (RFC 9110, 9.3.2).
        let found = match registry.route(verb, path) {
            RouteMatch::MethodNotAllowed { allow }
                if verb == Method::HEAD && allow.contains(&Method::GET) =>
            {
                head = true;
                registry.route(&Method::GET, path)
            }
            found => found,
        };
        match found {
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
            RouteMatch::MethodNotAllowed { mut allow } if verb == Method::OPTIONS => {
                if allow.contains(&Method::GET) {
                    allow.push(Method::HEAD);
                }
                allow.push(Method::OPTIONS);
                return Decision::Options(allow);
            }
            RouteMatch::MethodNotAllowed { allow } => {
                Err(Rejection::MethodNotAllowed(verb.clone(), allow))
            }
            RouteMatch::NotFound => {
                return match split_path(path) {
                    Some((service, _)) if registry.has_service(service) => {
                        Decision::Reject(Rejection::UnknownMethod(path.to_owned()), json)
                    }
                    // An RPC path of a service with no table, called with JSON:
                    // tonic would fail to decode it (500); say why now.
                    Some((service, _)) if service.contains('.') && is_json_like(headers) => {
                        Decision::Reject(Rejection::NotServedAsJson(path.to_owned()), json)
                    }
                    _ => Decision::Passthrough { watch: true },
                };
            }
        }
    };
    let (method, rest) = match target {
        Ok(target) => target,
        // A Connect GET without its query is told so as Connect errors are
        // (string codes), as the OpenAPI document of Connect GET says.
        Err(rejection @ Rejection::BadConnectGet(_)) => {
            return Decision::Reject(rejection, Dialect::Connect);
        }
        Err(rejection) => return Decision::Reject(rejection, json),
    };
    match plan(request, method, rest.as_ref(), shared) {
        Ok((wire, respond)) => Decision::Transcode(Plan {
            method,
            rest,
            wire,
            respond,
            compressed: None,
            compress: None,
            head,
            query_message: None,
        }),
        Err(rejection) => Decision::Reject(rejection, json),
    }
}

/// JSON and raw bodies are read uncompressed: no `content-encoding` but
/// `identity` (each header of the name counts).
fn uncompressed(headers: &HeaderMap) -> Result<(), Rejection> {
    match Compression::from_headers(headers, &header::CONTENT_ENCODING) {
        Ok(None) => Ok(()),
        Ok(Some(gzip)) => Err(Rejection::UnsupportedEncoding(HeaderValue::from_static(
            gzip.name(),
        ))),
        Err(other) => Err(Rejection::UnsupportedEncoding(other)),
    }
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
    let respond_raw = method.output.full_name == HTTP_BODY
        && rest.is_none_or(|r| r.rule.response_body.is_empty());
    let raw_respond = if streams_out {
        Respond::RawStream
    } else {
        Respond::Raw
    };
    // `google.api.HttpBody` in: any content type, taken as it is.
    if let Some(raw) = raw_input(method, rest, shared) {
        uncompressed(headers)?;
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
    uncompressed(headers)?;
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
        "*" => (method.input.full_name == HTTP_BODY).then_some(RawInto::Message),
        "" => None,
        field => shared
            .registry
            .fields(method.input.full_name)
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
    fn content_types_name_the_protocol() {
        let of = |content_type: &str, connect_header: bool| {
            let mut request = Request::post("/a.B/C");
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            if connect_header {
                request = request.header(CONNECT_PROTOCOL_VERSION, "1");
            }
            incoming(&request.body(()).unwrap(), |_| true)
        };
        let web = |codec, text| Incoming::GrpcWeb { codec, text };
        for (content_type, header, expected) in [
            ("application/grpc", false, Incoming::Grpc),
            ("Application/GRPC+proto", false, Incoming::Grpc),
            ("application/grpc;charset=x", false, Incoming::Grpc),
            ("application/grpcx", false, Incoming::Http),
            (
                "application/grpc-web",
                false,
                web(Some(Codec::Proto), false),
            ),
            (
                "application/grpc-web+json",
                false,
                web(Some(Codec::Json), false),
            ),
            (
                "application/GRPC-WEB-TEXT+proto",
                false,
                web(Some(Codec::Proto), true),
            ),
            ("application/grpc-web+thrift", false, web(None, false)),
            (
                "application/connect+json",
                false,
                Incoming::ConnectStream(Some(Codec::Json)),
            ),
            (
                "application/connect+proto",
                false,
                Incoming::ConnectStream(Some(Codec::Proto)),
            ),
            ("application/connect", false, Incoming::ConnectStream(None)),
            (
                "application/proto",
                false,
                Incoming::ConnectUnary(Codec::Proto),
            ),
            (
                "application/json; charset=utf-8",
                true,
                Incoming::ConnectUnary(Codec::Json),
            ),
            ("application/json", false, Incoming::Http),
            ("", false, Incoming::Http),
        ] {
            assert_eq!(of(content_type, header), expected, "{content_type}");
        }
        let get = |uri: &str| incoming(&Request::get(uri).body(()).unwrap(), |_| true);
        assert_eq!(
            get("/a.B/C?encoding=json&message=%7B%7D"),
            Incoming::ConnectGet
        );
        assert_eq!(get("/a.B/C?connect=v1"), Incoming::ConnectGet);
        assert_eq!(get("/a.B/C?name=x"), Incoming::Http);
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
