//! The setup error (opaque) and the named ways the layer rejects a request.

use std::fmt;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};

use crate::classify::Dialect;
use crate::registry::JsonContext;
use crate::status::{Code, Status, json_response};
use crate::transcode::json::JsonError;

/// Why a [`DualProtocolLayer`](crate::DualProtocolLayer) or a
/// [`Config`](crate::Config) could not be built.
pub struct Error {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Every way the layer itself turns a request away before the inner service
/// sees it. Each has a fixed HTTP status and gRPC code and a message a user
/// can act on; [`Rejection::status`] is its [`Status`].
#[derive(Debug)]
pub(crate) enum Rejection {
    /// A body that is not JSON for the method's input message.
    Json(JsonError),
    /// A REST path variable that does not percent-decode.
    BadPath(String, crate::rest::query::DecodeError),
    /// Content-length or body over `max_request_bytes`.
    BodyTooLarge(usize),
    /// A request content type the method is not served with; what it takes.
    UnsupportedMediaType(Option<HeaderValue>, &'static str),
    /// A compression the layer does not read (JSON bodies: any).
    UnsupportedEncoding(HeaderValue),
    /// A `connect-protocol-version` other than 1.
    ConnectVersion(HeaderValue),
    /// A Connect GET whose query does not make a request: what is wrong.
    BadConnectGet(String),
    /// A verb the path is not bound for; the verbs it is bound for.
    MethodNotAllowed(http::Method, Vec<http::Method>),
    /// `/{known service}/{unknown method}`.
    UnknownMethod(String),
    /// JSON to an RPC path of a service the layer has no table for.
    NotServedAsJson(String),
    /// A `*-bin` header whose value is not base64.
    BadBinaryHeader(HeaderName),
    /// A `grpc-timeout` or `connect-timeout-ms` that does not parse.
    BadTimeout(&'static str, HeaderValue),
    /// A JSON request to a server configured as gRPC only.
    JsonDisabled,
    /// A gRPC request to a server configured as HTTP only (answered in gRPC).
    GrpcDisabled,
    /// A WebSocket handshake the server cannot complete (no HTTP upgrades,
    /// or the `websocket` feature is off).
    WebSocketUnsupported,
    /// A WebSocket handshake from a page of an origin not allowed.
    #[cfg(feature = "websocket")]
    ForbiddenOrigin(HeaderValue),
    /// A WebSocket handshake that is not one (RFC 6455): what is wrong.
    #[cfg(feature = "websocket")]
    BadWebSocketHandshake(String),
}

impl Rejection {
    fn parts(&self) -> (StatusCode, Code, String) {
        match self {
            Self::Json(e) if e.exceeded => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::ResourceExhausted,
                e.to_string(),
            ),
            Self::Json(e) => (
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                e.to_string(),
            ),
            Self::BadPath(field, e) => (
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                format!("{field}: bad path segment: {e}"),
            ),
            Self::BodyTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::ResourceExhausted,
                format!("request body is larger than the limit of {limit} bytes"),
            ),
            Self::UnsupportedMediaType(got, expected) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::InvalidArgument,
                match got {
                    Some(got) => format!(
                        "unsupported content-type {}: expected {expected} (or application/grpc)",
                        String::from_utf8_lossy(got.as_bytes())
                    ),
                    None => format!("missing content-type: expected {expected}"),
                },
            ),
            Self::UnsupportedEncoding(got) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::InvalidArgument,
                format!(
                    "unsupported content-encoding {}: send the JSON body uncompressed",
                    String::from_utf8_lossy(got.as_bytes())
                ),
            ),
            Self::ConnectVersion(got) => (
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                format!(
                    "connect-protocol-version {}: only 1 is served",
                    String::from_utf8_lossy(got.as_bytes())
                ),
            ),
            Self::BadConnectGet(problem) => (
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                format!("bad Connect GET request: {problem}"),
            ),
            Self::MethodNotAllowed(method, allow) => (
                StatusCode::METHOD_NOT_ALLOWED,
                Code::Unimplemented,
                format!(
                    "method {method} is not allowed here: use {}",
                    join(allow, " or ")
                ),
            ),
            Self::UnknownMethod(path) => (
                StatusCode::NOT_FOUND,
                Code::NotFound,
                format!("unknown method: {path}"),
            ),
            Self::NotServedAsJson(path) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::Unimplemented,
                format!(
                    "{path} is not served as JSON here (its service has no dual-protocol \
                     table, or is not among the layer's services): call it by gRPC \
                     (content-type application/grpc)"
                ),
            ),
            Self::BadBinaryHeader(name) => (
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                format!("header {name}: a -bin header must be base64"),
            ),
            Self::BadTimeout(name, value) => (
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                format!(
                    "header {name}: invalid timeout {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                ),
            ),
            Self::JsonDisabled => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::InvalidArgument,
                "HTTP/JSON is not among this server's protocols: call it by gRPC \
                 (content-type application/grpc), or by Connect or gRPC-Web if they are served"
                    .to_owned(),
            ),
            #[cfg(feature = "websocket")]
            Self::WebSocketUnsupported => (
                StatusCode::NOT_IMPLEMENTED,
                Code::Unimplemented,
                "WebSocket needs a server with HTTP/1.1 upgrades (axum::serve, or hyper-util's \
                 auto builder with upgrades); tonic's Server has none: send the messages as \
                 NDJSON instead"
                    .to_owned(),
            ),
            #[cfg(not(feature = "websocket"))]
            Self::WebSocketUnsupported => (
                StatusCode::NOT_IMPLEMENTED,
                Code::Unimplemented,
                "WebSocket is not built into this server (dual-protocol's `websocket` feature \
                 is off): send the messages as NDJSON instead"
                    .to_owned(),
            ),
            #[cfg(feature = "websocket")]
            Self::ForbiddenOrigin(origin) => (
                StatusCode::FORBIDDEN,
                Code::PermissionDenied,
                format!(
                    "WebSocket from origin {} refused: only this server's own origin and the \
                     origins configured (websocket_origins, or [cors] allow_origins) may open one",
                    String::from_utf8_lossy(origin.as_bytes())
                ),
            ),
            #[cfg(feature = "websocket")]
            Self::BadWebSocketHandshake(problem) => (
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                format!("bad WebSocket handshake: {problem}"),
            ),
            Self::GrpcDisabled => (
                StatusCode::OK,
                Code::Unimplemented,
                "gRPC is not among this server's protocols".to_owned(),
            ),
        }
    }

    /// The HTTP status of the error answer.
    pub(crate) fn http_status(&self) -> StatusCode {
        self.parts().0
    }

    /// The rejection as a status (with a `BadRequest` detail naming the
    /// field, for JSON errors).
    pub(crate) fn status(&self) -> Status {
        let (_, code, message) = self.parts();
        let mut status = Status::new(code, message);
        if let Self::Json(e) = self
            && !e.field.is_empty()
        {
            status.details.push(bad_request(&e.field, &e.message));
        }
        status
    }

    /// The error response in the client's protocol: for HTTP/JSON the
    /// status as JSON (with the layer's options and types), except for
    /// [`Rejection::GrpcDisabled`], which is a trailers-only gRPC answer.
    pub(crate) fn into_response<B>(self, dialect: Dialect, cx: &JsonContext) -> Response<B>
    where
        B: From<Bytes>,
    {
        if dialect != Dialect::Json {
            return self.into_rpc_response(dialect, cx);
        }
        let (http, _, _) = self.parts();
        let status = self.status();
        if let Self::GrpcDisabled = self {
            let mut response = Response::new(B::from(Bytes::new()));
            *response.headers_mut() = status.to_trailers();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/grpc"),
            );
            return response;
        }
        let mut response = json_response(http, status.to_json(cx));
        if let Self::MethodNotAllowed(_, allow) = &self
            && let Ok(value) = HeaderValue::try_from(join(allow, ", "))
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        // The version this server speaks (RFC 6455, 4.4).
        #[cfg(feature = "websocket")]
        if let Self::BadWebSocketHandshake(_) = &self {
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        response
    }
}

impl Rejection {
    /// The error response for a Connect or gRPC-Web client: their codes
    /// (UNIMPLEMENTED for a method not served, as gRPC says), the HTTP
    /// status of the code for Connect unary, except for the protocol-level
    /// 404, 405 and 415.
    fn into_rpc_response<B>(self, dialect: Dialect, cx: &JsonContext) -> Response<B>
    where
        B: From<Bytes>,
    {
        let mut status = self.status();
        let http = match &self {
            Self::UnknownMethod(_) | Self::NotServedAsJson(_) => {
                status.code = Code::Unimplemented;
                StatusCode::NOT_FOUND
            }
            Self::UnsupportedEncoding(got) => {
                status.code = Code::Unimplemented;
                status.message = format!(
                    "unsupported compression {}: send gzip or identity",
                    String::from_utf8_lossy(got.as_bytes())
                );
                status.code.http_status()
            }
            Self::UnsupportedMediaType(..) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed(..) => StatusCode::METHOD_NOT_ALLOWED,
            _ => status.code.http_status(),
        };
        let mut response =
            status.to_rpc_response(dialect, http, HeaderMap::new(), &HeaderMap::new(), cx);
        if let Self::MethodNotAllowed(_, allow) = &self
            && let Ok(value) = HeaderValue::try_from(join(allow, ", "))
        {
            response.headers_mut().insert(header::ALLOW, value);
        }
        response
    }
}

fn join(methods: &[http::Method], separator: &str) -> String {
    methods
        .iter()
        .map(http::Method::as_str)
        .collect::<Vec<_>>()
        .join(separator)
}

/// A `google.rpc.BadRequest` detail with one field violation.
pub(crate) fn bad_request(field: &str, description: &str) -> crate::types::Any {
    use prost::Message as _;
    let detail = crate::rpc::BadRequest {
        field_violations: vec![crate::rpc::bad_request::FieldViolation {
            field: field.to_owned(),
            description: description.to_owned(),
            ..Default::default()
        }],
    };
    crate::types::Any {
        type_url: "type.googleapis.com/google.rpc.BadRequest".to_owned(),
        value: detail.encode_to_vec().into(),
    }
}
