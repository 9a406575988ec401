//! gRPC status <-> HTTP status, and the `google.rpc.Status` JSON error body.
//! Reading a status never fails: a malformed trailer becomes `UNKNOWN` or
//! loses its details, it never panics.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, StatusCode};
use percent_encoding::percent_decode;
use prost::Message as _;

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_STATUS_DETAILS: HeaderName = HeaderName::from_static("grpc-status-details-bin");

/// gRPC codes by name, as in `google.rpc.Code`.
pub(crate) mod code {
    pub(crate) const OK: i32 = 0;
    pub(crate) const UNKNOWN: i32 = 2;
    pub(crate) const INVALID_ARGUMENT: i32 = 3;
    pub(crate) const DEADLINE_EXCEEDED: i32 = 4;
    pub(crate) const NOT_FOUND: i32 = 5;
    pub(crate) const RESOURCE_EXHAUSTED: i32 = 8;
    pub(crate) const UNIMPLEMENTED: i32 = 12;
    pub(crate) const INTERNAL: i32 = 13;
}

/// The HTTP status for a gRPC code (the table of grpc-gateway and Google's
/// API design guide; unknown codes are 500).
pub fn http_status(code: i32) -> StatusCode {
    match code {
        0 => StatusCode::OK,
        1 => StatusCode::from_u16(499).expect("499 is a valid status code"),
        3 | 9 | 11 => StatusCode::BAD_REQUEST,
        4 => StatusCode::GATEWAY_TIMEOUT,
        5 => StatusCode::NOT_FOUND,
        6 | 10 => StatusCode::CONFLICT,
        7 => StatusCode::FORBIDDEN,
        8 => StatusCode::TOO_MANY_REQUESTS,
        12 => StatusCode::NOT_IMPLEMENTED,
        14 => StatusCode::SERVICE_UNAVAILABLE,
        16 => StatusCode::UNAUTHORIZED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A status read from `grpc-status`, `grpc-message` and
/// `grpc-status-details-bin`.
#[derive(Debug, Clone)]
pub(crate) struct GrpcStatus {
    pub(crate) code: i32,
    pub(crate) message: String,
    pub(crate) details: Vec<crate::types::Any>,
}

impl GrpcStatus {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The status in `headers`, or `None` when there is no `grpc-status`.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let raw = headers.get(GRPC_STATUS)?;
        let code = raw.to_str().ok().and_then(|s| s.trim().parse::<i32>().ok());
        let Some(code) = code else {
            return Some(Self::new(
                code::UNKNOWN,
                format!("invalid grpc-status {raw:?} in the gRPC response"),
            ));
        };
        let message = headers
            .get(GRPC_MESSAGE)
            .map(|m| {
                percent_decode(m.as_bytes())
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let details = headers
            .get(GRPC_STATUS_DETAILS)
            .and_then(|v| decode_base64(v.as_bytes()))
            .and_then(|bytes| crate::rpc::Status::decode(bytes.as_slice()).ok())
            .map(|status| status.details)
            .unwrap_or_default();
        Some(Self {
            code,
            message,
            details,
        })
    }

    /// The `google.rpc.Status` JSON of this status; each detail prints as
    /// an `Any` (see [`crate::types::Any`]).
    pub(crate) fn to_json(&self) -> Bytes {
        let mut out = Vec::with_capacity(64 + self.message.len());
        out.extend_from_slice(b"{\"code\":");
        out.extend_from_slice(self.code.to_string().as_bytes());
        out.extend_from_slice(b",\"message\":");
        write_json_string(&mut out, &self.message);
        if !self.details.is_empty() {
            out.extend_from_slice(b",\"details\":[");
            for (i, any) in self.details.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut out, any).expect("an Any always prints");
            }
            out.push(b']');
        }
        out.push(b'}');
        out.into()
    }
}

pub(crate) fn write_json_string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("writing a string to a Vec cannot fail");
}

/// Standard or URL-safe base64, padded or not (gRPC senders differ).
pub(crate) fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);
    STANDARD
        .decode(input)
        .or_else(|_| URL_SAFE.decode(input))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn maps_every_code() {
        let expected = [
            200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401,
        ];
        for (code, http) in expected.iter().enumerate() {
            assert_eq!(http_status(code as i32).as_u16(), *http, "code {code}");
        }
        assert_eq!(http_status(99), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn reads_a_status_and_tolerates_bad_details() {
        let mut headers = HeaderMap::new();
        assert!(GrpcStatus::from_headers(&headers).is_none());
        headers.insert("grpc-status", HeaderValue::from_static("5"));
        headers.insert("grpc-message", HeaderValue::from_static("no%20such%20book"));
        headers.insert(
            "grpc-status-details-bin",
            HeaderValue::from_static("!!not base64!!"),
        );
        let status = GrpcStatus::from_headers(&headers).unwrap();
        assert_eq!((status.code, status.message.as_str()), (5, "no such book"));
        assert!(status.details.is_empty());
        headers.insert("grpc-status", HeaderValue::from_static("five"));
        assert_eq!(
            GrpcStatus::from_headers(&headers).unwrap().code,
            code::UNKNOWN
        );
    }

    #[test]
    fn unknown_detail_types_print_as_base64() {
        let mut status = GrpcStatus::new(3, "bad \"input\"");
        status.details.push(crate::types::Any {
            type_url: "type.googleapis.com/x.Unknown".into(),
            value: vec![1, 2, 3].into(),
        });
        let json = status.to_json();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            r#"{"code":3,"message":"bad \"input\"","details":[{"@type":"type.googleapis.com/x.Unknown","value":"AQID"}]}"#
        );
    }
}
