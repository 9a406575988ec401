//! The setup error (opaque) and the named ways the layer rejects a request.

use std::fmt;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};

use crate::status::{GrpcStatus, code};
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

/// Every way the layer itself turns a JSON request away. Each has a fixed
/// HTTP status and gRPC code and a message a user can act on.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// A body that is not JSON for the method's input message.
    Json(JsonError),
    /// Content-length or body over `max_request_bytes`.
    BodyTooLarge(usize),
    /// The body could not be read.
    BodyRead(String),
    /// A JSON route called with another content type.
    UnsupportedMediaType(Option<HeaderValue>),
    /// A compressed JSON body.
    UnsupportedEncoding(HeaderValue),
    /// A verb the path is not bound for; the verbs it is bound for.
    MethodNotAllowed(http::Method, Vec<http::Method>),
    /// `/{known service}/{unknown method}`.
    UnknownMethod(String),
    /// A streaming method called as unary JSON.
    Streaming(&'static str),
    /// A `*-bin` header whose value is not base64.
    BadBinaryHeader(HeaderName),
    /// A `grpc-timeout` or `connect-timeout-ms` that does not parse.
    BadTimeout(&'static str, HeaderValue),
    /// A JSON request to a server configured as gRPC only.
    JsonDisabled,
}

impl Rejection {
    fn parts(&self) -> (StatusCode, i32, String) {
        match self {
            Self::Json(e) => (
                StatusCode::BAD_REQUEST,
                code::INVALID_ARGUMENT,
                e.to_string(),
            ),
            Self::BodyTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                code::RESOURCE_EXHAUSTED,
                format!("request body is larger than the limit of {limit} bytes"),
            ),
            Self::BodyRead(e) => (
                StatusCode::BAD_REQUEST,
                code::INVALID_ARGUMENT,
                format!("failed to read the request body: {e}"),
            ),
            Self::UnsupportedMediaType(got) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::INVALID_ARGUMENT,
                match got {
                    Some(got) => format!(
                        "unsupported content-type {}: expected application/json (or application/grpc)",
                        String::from_utf8_lossy(got.as_bytes())
                    ),
                    None => "missing content-type: expected application/json".to_owned(),
                },
            ),
            Self::UnsupportedEncoding(got) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::INVALID_ARGUMENT,
                format!(
                    "unsupported content-encoding {}: send the JSON body uncompressed",
                    String::from_utf8_lossy(got.as_bytes())
                ),
            ),
            Self::MethodNotAllowed(method, allow) => (
                StatusCode::METHOD_NOT_ALLOWED,
                code::UNIMPLEMENTED,
                format!(
                    "method {method} is not allowed here: use {}",
                    join(allow, " or ")
                ),
            ),
            Self::UnknownMethod(path) => (
                StatusCode::NOT_FOUND,
                code::NOT_FOUND,
                format!("unknown method: {path}"),
            ),
            Self::Streaming(path) => (
                StatusCode::NOT_IMPLEMENTED,
                code::UNIMPLEMENTED,
                format!("{path} is a streaming method; it is served over gRPC only"),
            ),
            Self::BadBinaryHeader(name) => (
                StatusCode::BAD_REQUEST,
                code::INVALID_ARGUMENT,
                format!("header {name}: a -bin header must be base64"),
            ),
            Self::BadTimeout(name, value) => (
                StatusCode::BAD_REQUEST,
                code::INVALID_ARGUMENT,
                format!(
                    "header {name}: invalid timeout {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                ),
            ),
            Self::JsonDisabled => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::INVALID_ARGUMENT,
                "this server serves gRPC only: send content-type application/grpc".to_owned(),
            ),
        }
    }

    /// The JSON error response.
    pub(crate) fn into_response<B>(self) -> Response<B>
    where
        B: From<Bytes>,
    {
        let (http, code, message) = self.parts();
        let mut status = GrpcStatus::new(code, message);
        if let Self::Json(e) = &self
            && !e.field.is_empty()
        {
            status.details.push(bad_request(&e.field, &e.message));
        }
        let mut response = json_response(http, status.to_json());
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
fn bad_request(field: &str, description: &str) -> crate::types::Any {
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

/// A response with a JSON body.
pub(crate) fn json_response<B: From<Bytes>>(status: StatusCode, body: Bytes) -> Response<B> {
    let mut response = Response::new(B::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
