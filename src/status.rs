//! gRPC statuses: the [`Code`] enum with its HTTP mapping, and [`Status`],
//! which renders itself in every form the layer answers in (JSON error body,
//! NDJSON error line, SSE `error` event, WebSocket close frame, HTTP/2
//! trailers). Reading a status never fails: a malformed trailer becomes
//! `UNKNOWN` or loses its details, it never panics.

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode, utf8_percent_encode};
use prost::Message as _;

use crate::classify::Dialect;
use crate::registry::JsonContext;

pub(crate) const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
pub(crate) const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
pub(crate) const GRPC_STATUS_DETAILS: HeaderName =
    HeaderName::from_static("grpc-status-details-bin");

/// A gRPC status code, as in `google.rpc.Code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The call was cancelled, typically by the caller.
    Cancelled = 1,
    /// An unknown error (also: a code outside this table).
    Unknown = 2,
    /// The client sent an invalid argument.
    InvalidArgument = 3,
    /// The deadline passed before the call completed.
    DeadlineExceeded = 4,
    /// Something requested was not found.
    NotFound = 5,
    /// Something the client tried to create already exists.
    AlreadyExists = 6,
    /// The caller may not do this.
    PermissionDenied = 7,
    /// A resource or a limit ran out.
    ResourceExhausted = 8,
    /// The system is not in the state the operation needs.
    FailedPrecondition = 9,
    /// The operation was aborted (a concurrency conflict).
    Aborted = 10,
    /// Past the valid range.
    OutOfRange = 11,
    /// Not implemented or not served here.
    Unimplemented = 12,
    /// An invariant broke.
    Internal = 13,
    /// The service is unavailable; retrying may help.
    Unavailable = 14,
    /// Unrecoverable data loss.
    DataLoss = 15,
    /// No valid credentials.
    Unauthenticated = 16,
}

impl Code {
    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code for a number; numbers outside the table are [`Code::Unknown`],
    /// as the gRPC specification asks.
    pub fn from_i32(code: i32) -> Self {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }

    /// The number on the wire.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The canonical name, e.g. `INVALID_ARGUMENT`.
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The Connect protocol's name, e.g. `invalid_argument` (`canceled` is
    /// spelt the American way there).
    pub fn connect_name(self) -> &'static str {
        match self {
            Code::Ok => "ok",
            Code::Cancelled => "canceled",
            Code::Unknown => "unknown",
            Code::InvalidArgument => "invalid_argument",
            Code::DeadlineExceeded => "deadline_exceeded",
            Code::NotFound => "not_found",
            Code::AlreadyExists => "already_exists",
            Code::PermissionDenied => "permission_denied",
            Code::ResourceExhausted => "resource_exhausted",
            Code::FailedPrecondition => "failed_precondition",
            Code::Aborted => "aborted",
            Code::OutOfRange => "out_of_range",
            Code::Unimplemented => "unimplemented",
            Code::Internal => "internal",
            Code::Unavailable => "unavailable",
            Code::DataLoss => "data_loss",
            Code::Unauthenticated => "unauthenticated",
        }
    }

    /// The HTTP status a JSON client gets for this code (the table of
    /// grpc-gateway and Google's API design guide).
    pub fn http_status(self) -> StatusCode {
        match self {
            Code::Ok => StatusCode::OK,
            Code::Cancelled => StatusCode::from_u16(499).expect("499 is a valid status code"),
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                StatusCode::BAD_REQUEST
            }
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
            Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[cfg(feature = "websocket")]
impl Code {
    /// The code of an HTTP answer that is not gRPC, by gRPC's own table
    /// ("HTTP to gRPC Status Code Mapping").
    pub(crate) fn from_http(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The HTTP status for a gRPC code number (see [`Code::http_status`];
/// unknown numbers are 500).
pub fn http_status(code: i32) -> StatusCode {
    Code::from_i32(code).http_status()
}

/// `grpc-message` escaping: everything outside printable ASCII, and `%`.
const GRPC_MESSAGE_SET: &AsciiSet = &CONTROLS.add(b'%');

/// A status: read from a gRPC answer, or made by the layer (a rejection,
/// a deadline, a bad stream message), and rendered for the client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Status {
    pub(crate) code: Code,
    pub(crate) message: String,
    pub(crate) details: Vec<crate::types::Any>,
}

impl Status {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The status in `headers`, or `None` when there is no `grpc-status`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        // One walk (trailers are a handful of names) instead of three
        // hashed lookups; the first value of each name, as `get` gives.
        let (mut raw, mut message, mut details) = (None, None, None);
        for (name, value) in headers {
            let slot = match name.as_str() {
                "grpc-status" => &mut raw,
                "grpc-message" => &mut message,
                "grpc-status-details-bin" => &mut details,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        let raw = raw?;
        let code = raw.to_str().ok().and_then(|s| s.trim().parse::<i32>().ok());
        let Some(code) = code else {
            return Some(Self::new(
                Code::Unknown,
                format!("invalid grpc-status {raw:?} in the gRPC response"),
            ));
        };
        let message = message
            .map(|m| {
                percent_decode(m.as_bytes())
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let details = details
            .and_then(|v| decode_base64(v.as_bytes()))
            .and_then(|bytes| crate::rpc::Status::decode(bytes.as_slice()).ok())
            .map(|status| status.details)
            .unwrap_or_default();
        Some(Self {
            code: Code::from_i32(code),
            message,
            details,
        })
    }

    /// The `google.rpc.Status` JSON of this status (`{"code":..,"message":..,
    /// "details":[..]}`); each detail prints as an `Any`, with the layer's options and types.
    pub(crate) fn to_json(&self, cx: &JsonContext) -> Bytes {
        let mut out = Vec::with_capacity(64 + self.message.len());
        self.write_json(&mut out, cx);
        out.into()
    }

    fn write_json(&self, out: &mut Vec<u8>, cx: &JsonContext) {
        out.extend_from_slice(b"{\"code\":");
        out.extend_from_slice(self.code.as_i32().to_string().as_bytes());
        out.extend_from_slice(b",\"message\":");
        write_json_string(out, &self.message);
        if !self.details.is_empty() {
            out.extend_from_slice(b",\"details\":[");
            for (i, any) in self.details.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                crate::json::write_in(&mut *out, any, cx).expect("an Any always prints");
            }
            out.push(b']');
        }
        out.push(b'}');
    }

    /// The Connect protocol's error JSON: `{"code":"not_found","message":..,
    /// "details":[{"type":..,"value":..,"debug":..}]}`, where `value` is the
    /// detail's protobuf in unpadded base64 and `debug` its JSON (as an
    /// `Any`, with the layer's options), when the layer knows its type.
    pub(crate) fn to_connect_json(&self, cx: &JsonContext) -> Bytes {
        let mut out = Vec::with_capacity(64 + self.message.len());
        self.write_connect_json(&mut out, cx);
        out.into()
    }

    fn write_connect_json(&self, out: &mut Vec<u8>, cx: &JsonContext) {
        out.extend_from_slice(b"{\"code\":\"");
        out.extend_from_slice(self.code.connect_name().as_bytes());
        out.push(b'"');
        if !self.message.is_empty() {
            out.extend_from_slice(b",\"message\":");
            write_json_string(out, &self.message);
        }
        if !self.details.is_empty() {
            out.extend_from_slice(b",\"details\":[");
            for (i, any) in self.details.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let name = any.type_url.rsplit('/').next().unwrap_or_default();
                out.extend_from_slice(b"{\"type\":");
                write_json_string(out, name);
                out.extend_from_slice(b",\"value\":\"");
                out.extend_from_slice(
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .encode(&any.value)
                        .as_bytes(),
                );
                out.push(b'"');
                let mut debug = Vec::new();
                if crate::any::with_context(cx, || crate::any::knows(&any.type_url))
                    && crate::json::write_in(&mut debug, any, cx).is_ok()
                {
                    out.extend_from_slice(b",\"debug\":");
                    out.extend_from_slice(&debug);
                }
                out.push(b'}');
            }
            out.push(b']');
        }
        out.push(b'}');
    }

    /// The Connect end-of-stream message's JSON: `{"error":{..},
    /// "metadata":{"name":["value",..]}}`, either part left out when empty.
    /// Binary (`-bin`) values stay base64, as the protocol asks.
    pub(crate) fn to_connect_end(&self, trailers: &HeaderMap, cx: &JsonContext) -> Bytes {
        let mut out = Vec::with_capacity(64 + self.message.len());
        out.push(b'{');
        if self.code != Code::Ok {
            out.extend_from_slice(b"\"error\":");
            self.write_connect_json(&mut out, cx);
        }
        let mut names = trailers.keys().peekable();
        if names.peek().is_some() {
            if self.code != Code::Ok {
                out.push(b',');
            }
            out.extend_from_slice(b"\"metadata\":{");
            for (i, name) in names.enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(&mut out, name.as_str());
                out.extend_from_slice(b":[");
                for (j, value) in trailers.get_all(name).iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    write_json_string(&mut out, &String::from_utf8_lossy(value.as_bytes()));
                }
                out.push(b']');
            }
            out.push(b'}');
        }
        out.push(b'}');
        out.into()
    }

    /// The gRPC-Web trailers frame: flag `0x80`, the length, then the status
    /// and `trailers` as HTTP/1 header lines (`name:value\r\n`, lower case).
    pub(crate) fn to_grpc_web_trailers(&self, trailers: &HeaderMap) -> Bytes {
        let mut all = self.to_trailers();
        for (name, value) in trailers {
            all.append(name, value.clone());
        }
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&[crate::transcode::envelope::TRAILERS, 0, 0, 0, 0]);
        for (name, value) in &all {
            out.extend_from_slice(name.as_str().as_bytes());
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let len = u32::try_from(out.len() - 5).unwrap_or(u32::MAX);
        out[1..5].copy_from_slice(&len.to_be_bytes());
        out.into()
    }

    /// The error answer of a Connect or gRPC-Web call that failed before a
    /// message was sent, with the response `metadata` (already HTTP
    /// headers) and the `trailers`:
    /// - Connect unary: `http` and the Connect error JSON, trailers as
    ///   `trailer-` headers;
    /// - Connect streaming: 200 and the end-of-stream message (a 415 stays
    ///   a 415 with the error JSON: the client cannot read envelopes of a
    ///   content type it did not ask for);
    /// - gRPC-Web: 200 and the trailers frame.
    pub(crate) fn to_rpc_response<B: From<Bytes>>(
        &self,
        dialect: Dialect,
        http: StatusCode,
        mut metadata: HeaderMap,
        trailers: &HeaderMap,
        cx: &JsonContext,
    ) -> Response<B> {
        use crate::transcode::envelope;
        let (http, body, content_type) = match dialect {
            Dialect::Json => (http, self.to_json(cx), dialect.content_type()),
            Dialect::Connect => {
                crate::metadata::trailers_to_headers(&mut metadata, trailers);
                (http, self.to_connect_json(cx), "application/json")
            }
            Dialect::ConnectStream(_) if http == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                (http, self.to_connect_json(cx), "application/json")
            }
            Dialect::ConnectStream(_) => {
                let end = self.to_connect_end(trailers, cx);
                let body = envelope::envelope(envelope::END_STREAM, &end);
                (StatusCode::OK, body, dialect.content_type())
            }
            Dialect::GrpcWeb { text, .. } => {
                let frame = self.to_grpc_web_trailers(trailers);
                let body = if text {
                    envelope::to_base64(&frame)
                } else {
                    frame
                };
                (StatusCode::OK, body, dialect.content_type())
            }
        };
        metadata.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        let mut response = Response::new(B::from(body));
        *response.status_mut() = http;
        *response.headers_mut() = metadata;
        response
    }

    /// The whole JSON error answer: the mapped HTTP status and the JSON body.
    pub(crate) fn to_response<B: From<Bytes>>(&self, cx: &JsonContext) -> Response<B> {
        json_response(self.code.http_status(), self.to_json(cx))
    }

    /// The last line of an NDJSON stream that failed:
    /// `{"error":{"code":..,"message":..}}` and a newline.
    pub(crate) fn to_ndjson(&self, cx: &JsonContext) -> Bytes {
        let mut out = Vec::with_capacity(80 + self.message.len());
        out.extend_from_slice(b"{\"error\":");
        self.write_json(&mut out, cx);
        out.extend_from_slice(b"}\n");
        out.into()
    }

    /// The last event of an SSE stream that failed:
    /// `event: error` with the status JSON as its data.
    pub(crate) fn to_sse(&self, cx: &JsonContext) -> Bytes {
        let mut out = Vec::with_capacity(80 + self.message.len());
        out.extend_from_slice(b"event: error\ndata: ");
        self.write_json(&mut out, cx);
        out.extend_from_slice(b"\n\n");
        out.into()
    }

    /// The WebSocket close frame: `1000` for OK, otherwise `4000 + code`
    /// (4001 CANCELLED ... 4016 UNAUTHENTICATED, in the range RFC 6455
    /// leaves to applications), with `CODE_NAME: message` as the reason,
    /// cut to the 123 bytes a close frame holds.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) fn to_close(&self) -> (u16, String) {
        if self.code == Code::Ok {
            return (1000, String::new());
        }
        let mut reason = format!("{}: {}", self.code.name(), self.message);
        if reason.len() > 123 {
            let mut end = 123;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        (4000 + self.code.as_i32() as u16, reason)
    }

    /// The status as gRPC trailers: `grpc-status`, `grpc-message`
    /// (percent-encoded) and `grpc-status-details-bin` when there are details.
    pub(crate) fn to_trailers(&self) -> HeaderMap {
        let mut trailers = HeaderMap::with_capacity(3);
        trailers.insert(GRPC_STATUS, HeaderValue::from(self.code.as_i32()));
        if !self.message.is_empty() {
            let encoded = utf8_percent_encode(&self.message, GRPC_MESSAGE_SET).to_string();
            if let Ok(value) = HeaderValue::try_from(encoded) {
                trailers.insert(GRPC_MESSAGE, value);
            }
        }
        if !self.details.is_empty() {
            let status = crate::rpc::Status {
                code: self.code.as_i32(),
                message: self.message.clone(),
                details: self.details.clone(),
            };
            let encoded =
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(status.encode_to_vec());
            if let Ok(value) = HeaderValue::try_from(encoded) {
                trailers.insert(GRPC_STATUS_DETAILS, value);
            }
        }
        trailers
    }

    /// Into a `tonic::Status`, for handlers reading a request stream that
    /// the layer ended with this error.
    pub(crate) fn to_tonic(&self) -> tonic::Status {
        tonic::Status::new(tonic::Code::from_i32(self.code.as_i32()), &self.message)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
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

pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing a string to a Vec cannot fail");
}

/// Standard or URL-safe base64, padded or not (gRPC senders differ): the
/// crate's one base64 decoder, the proto3 JSON mapping's.
pub(crate) fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    crate::json::base64::decode(input).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_code() {
        let expected = [
            200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401,
        ];
        for (code, http) in expected.iter().enumerate() {
            assert_eq!(http_status(code as i32).as_u16(), *http, "code {code}");
            assert_eq!(Code::from_i32(code as i32).as_i32(), code as i32);
        }
        assert_eq!(http_status(99), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
        assert_eq!(Code::from_i32(3).name(), "INVALID_ARGUMENT");
    }

    #[test]
    fn reads_a_status_and_tolerates_bad_details() {
        let mut headers = HeaderMap::new();
        assert!(Status::from_headers(&headers).is_none());
        headers.insert("grpc-status", HeaderValue::from_static("5"));
        headers.insert("grpc-message", HeaderValue::from_static("no%20such%20book"));
        headers.insert(
            "grpc-status-details-bin",
            HeaderValue::from_static("!!not base64!!"),
        );
        let status = Status::from_headers(&headers).unwrap();
        assert_eq!(
            (status.code, status.message.as_str()),
            (Code::NotFound, "no such book")
        );
        assert!(status.details.is_empty());
        headers.insert("grpc-status", HeaderValue::from_static("five"));
        assert_eq!(Status::from_headers(&headers).unwrap().code, Code::Unknown);
    }

    fn sample() -> Status {
        let mut status = Status::new(Code::InvalidArgument, "bad \"input\" 100% ü");
        status.details.push(crate::types::Any {
            type_url: "type.googleapis.com/x.Unknown".into(),
            value: vec![1, 2, 3].into(),
        });
        status
    }

    #[test]
    fn renders_every_form() {
        let status = sample();
        let json = r#"{"code":3,"message":"bad \"input\" 100% ü","details":[{"@type":"type.googleapis.com/x.Unknown","value":"AQID"}]}"#;
        let options = &JsonContext::linked(crate::JsonOptions::default());
        assert_eq!(status.to_json(options), json.as_bytes());
        assert_eq!(
            status.to_ndjson(options),
            format!("{{\"error\":{json}}}\n").as_bytes()
        );
        assert_eq!(
            status.to_sse(options),
            format!("event: error\ndata: {json}\n\n").as_bytes()
        );
        let (code, reason) = status.to_close();
        assert_eq!(code, 4003);
        assert!(reason.starts_with("INVALID_ARGUMENT: bad"), "{reason}");
        assert_eq!(Status::new(Code::Ok, "").to_close().0, 1000);
        let long = Status::new(Code::Internal, "é".repeat(200)).to_close().1;
        assert!(long.len() <= 123 && long.starts_with("INTERNAL: "));
        let response: Response<Bytes> = status.to_response(options);
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], "application/json");
    }

    #[test]
    fn trailers_round_trip() {
        let status = sample();
        let trailers = status.to_trailers();
        assert_eq!(trailers["grpc-status"], "3");
        assert_eq!(trailers["grpc-message"], "bad \"input\" 100%25 %C3%BC");
        assert_eq!(Status::from_headers(&trailers), Some(status));
    }

    #[test]
    fn details_honour_the_json_options() {
        let mut status = Status::new(Code::InvalidArgument, "bad");
        status
            .details
            .push(crate::error::bad_request("book.title", "must not be empty"));
        let camel = status.to_json(&JsonContext::linked(crate::JsonOptions::default()));
        assert!(
            std::str::from_utf8(&camel)
                .unwrap()
                .contains("\"fieldViolations\"")
        );
        let snake = status.to_json(&JsonContext::linked(crate::JsonOptions {
            proto_names: true,
            ..crate::JsonOptions::default()
        }));
        assert!(
            std::str::from_utf8(&snake)
                .unwrap()
                .contains("\"field_violations\"")
        );
    }
}
