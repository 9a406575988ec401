//! What kind of request this is: decided once, from the content-type and
//! the path, before anything else is looked at.

use http::{HeaderMap, Method, Request, header};

use crate::registry::{MethodDescriptor, Registry, Route, split_path};
use crate::rest::query::DecodeError;
use crate::rest::router::RouteMatch;

/// The layer's decision for one request.
#[derive(Debug)]
pub(crate) enum RequestKind<'a> {
    /// `application/grpc*` (gRPC, gRPC-Web): tonic's business.
    Grpc,
    /// An RPC path of a method the layer serves as JSON.
    Json(&'a MethodDescriptor),
    /// A REST route, with its path variables decoded.
    Rest(&'a Route, Vec<(&'a [String], String)>),
    /// A REST route whose path variable does not decode.
    RestBadPath(&'a [String], DecodeError),
    /// A REST path bound for other verbs only.
    RestNotAllowed(Vec<Method>),
    /// `/{known service}/{unknown method}`.
    UnknownMethod,
    /// Anything else: another route of the inner service.
    Other,
}

pub(crate) fn classify<'a, B>(request: &Request<B>, registry: &'a Registry) -> RequestKind<'a> {
    if is_grpc(request.headers()) {
        return RequestKind::Grpc;
    }
    let path = request.uri().path();
    if let Some(method) = registry.method(path) {
        return RequestKind::Json(method);
    }
    match registry.route(request.method(), path) {
        RouteMatch::Found { value, bindings } => return RequestKind::Rest(value, bindings),
        RouteMatch::BadBinding {
            field_path, error, ..
        } => return RequestKind::RestBadPath(field_path, error),
        RouteMatch::MethodNotAllowed { allow } => return RequestKind::RestNotAllowed(allow),
        RouteMatch::NotFound => {}
    }
    match split_path(path) {
        Some((service, _)) if registry.has_service(service) => RequestKind::UnknownMethod,
        _ => RequestKind::Other,
    }
}

/// Whether a content-type says gRPC (`application/grpc`, `+proto`, `-web`, ...).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// Whether a content-type is `application/json`, parameters allowed.
pub(crate) fn is_json(value: &http::HeaderValue) -> bool {
    let media_type = value
        .as_bytes()
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default();
    media_type
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

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
}
