//! HTTP headers <-> gRPC metadata, and deadlines.

use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

use crate::error::Rejection;

/// `grpc-timeout`, the gRPC deadline header.
pub(crate) const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// Whether a request header describes the HTTP hop, the JSON body or the
/// WebSocket handshake rather than the call, or is a reserved gRPC name a
/// JSON client must not forge.
fn is_dropped(name: &HeaderName) -> bool {
    let s = name.as_str();
    matches!(
        s,
        "connection"
            | "keep-alive"
            | "te"
            | "expect"
            | "transfer-encoding"
            | "upgrade"
            | "host"
            | "content-type"
            | "content-length"
            | "content-encoding"
            | "connect-timeout-ms"
            | "connect-protocol-version"
            | "connect-content-encoding"
            | "connect-accept-encoding"
    ) || s.starts_with("accept")
        || s.starts_with("proxy-")
        || s.starts_with("grpc-")
        || s.starts_with("sec-websocket-")
}

/// Turns the headers of a JSON request into the metadata of a gRPC request,
/// in place: hop-by-hop and body headers go, reserved `grpc-*` names a
/// client must not forge go, `*-bin` values must be base64, and
/// `grpc-timeout` / `connect-timeout-ms` become the returned deadline.
pub(crate) fn request_to_grpc(headers: &mut HeaderMap) -> Result<Option<Duration>, Rejection> {
    // One pass to find what goes (usually a handful: host, content-length,
    // accept), kept on the stack, and the timeouts; then the removals.
    let mut dropped: [Option<HeaderName>; 12] = Default::default();
    let mut more: Vec<HeaderName> = Vec::new();
    let mut count = 0;
    let (mut grpc_timeout, mut connect_timeout) = (None, None);
    for (name, value) in headers.iter() {
        match name.as_str() {
            "grpc-timeout" => {
                grpc_timeout.get_or_insert(value);
            }
            "connect-timeout-ms" => {
                connect_timeout.get_or_insert(value);
            }
            // Replaced below (`insert` drops every value of the name).
            "content-type" | "te" => continue,
            _ => {}
        }
        if is_dropped(name) {
            match dropped.get_mut(count) {
                Some(slot) => *slot = Some(name.clone()),
                None => more.push(name.clone()),
            }
            count += 1;
        } else if name.as_str().ends_with("-bin")
            && crate::status::decode_base64(value.as_bytes()).is_none()
        {
            return Err(Rejection::BadBinaryHeader(name.clone()));
        }
    }
    let deadline = deadline(grpc_timeout, connect_timeout)?;
    for name in dropped.iter().flatten().chain(&more) {
        headers.remove(name);
    }
    headers.insert(
        header::CONTENT_TYPE,
        const { HeaderValue::from_static("application/grpc") },
    );
    headers.insert(header::TE, const { HeaderValue::from_static("trailers") });
    if let Some(timeout) = deadline {
        headers.insert(GRPC_TIMEOUT, encode_timeout(timeout));
    }
    Ok(deadline)
}

/// The deadline a JSON client asked for, if any (`grpc-timeout` first).
fn deadline(
    grpc_timeout: Option<&HeaderValue>,
    connect_timeout: Option<&HeaderValue>,
) -> Result<Option<Duration>, Rejection> {
    if let Some(value) = grpc_timeout {
        return parse_grpc_timeout(value.as_bytes())
            .map(Some)
            .ok_or_else(|| Rejection::BadTimeout("grpc-timeout", value.clone()));
    }
    if let Some(value) = connect_timeout {
        return std::str::from_utf8(value.as_bytes())
            .ok()
            .filter(|s| (1..=10).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            // A positive integer (the protocol's grammar): 0 is malformed.
            .filter(|&ms| ms > 0)
            .map(|ms| Some(Duration::from_millis(ms)))
            .ok_or_else(|| Rejection::BadTimeout("connect-timeout-ms", value.clone()));
    }
    Ok(None)
}

/// `grpc-timeout`: at most 8 digits and a unit (`H M S m u n`).
pub(crate) fn parse_grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    // TimeoutValue is a positive integer (gRPC over HTTP/2): 0 is malformed.
    if n == 0 {
        return None;
    }
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The shortest exact `grpc-timeout` for `timeout` that fits 8 digits.
fn encode_timeout(timeout: Duration) -> HeaderValue {
    let nanos = timeout.as_nanos();
    let (value, unit) = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
    ]
    .into_iter()
    .find(|(per, _)| nanos / per < 100_000_000)
    .map(|(per, unit)| (nanos.div_ceil(per), unit))
    .unwrap_or_else(|| {
        (
            timeout.as_secs().div_ceil(3600).min(99_999_999) as u128,
            'H',
        )
    });
    HeaderValue::from_str(&format!("{value}{unit}"))
        .expect("digits and a letter are a valid header")
}

/// Whether a name describes an HTTP connection or the body's framing: such
/// names never go from a handler's metadata to an HTTP answer (a
/// `transfer-encoding` there would break the HTTP/1.1 framing).
fn is_connection_level(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "content-length"
            | "content-encoding"
            | "content-type"
    )
}

/// Removes `grpc-*` internals and connection-level names from response
/// metadata, in place.
pub(crate) fn strip_grpc(headers: &mut HeaderMap) {
    let internal =
        |name: &HeaderName| name.as_str().starts_with("grpc-") || is_connection_level(name);
    // The usual cases in one walk: nothing to strip, or nothing to keep
    // (tonic's headers are `content-type`, its trailers `grpc-*`).
    let kept = headers.keys().filter(|name| !internal(name)).count();
    if kept == headers.keys_len() {
        return;
    }
    if kept == 0 {
        headers.clear();
        return;
    }
    // One name at a time, copied to the stack (a clone of a name read off
    // the wire allocates): no allocation for the handful there are.
    let mut copy = [0u8; 64];
    while let Some(name) = headers.keys().find(|name| internal(name)) {
        let name = name.as_str();
        if name.len() <= copy.len() {
            copy[..name.len()].copy_from_slice(name.as_bytes());
            let name = std::str::from_utf8(&copy[..name.len()]).expect("a copy of a str");
            if headers.remove(name).is_none() {
                return;
            }
        } else {
            let name = name.to_owned();
            if headers.remove(name.as_str()).is_none() {
                return;
            }
        }
    }
}

/// Turns the metadata of a gRPC response into HTTP headers, in place:
/// `grpc-*` internals and connection-level names go, the content-type is
/// JSON; `trailers` are added with a `trailer-` prefix (the Connect
/// protocol's convention for unary calls).
pub(crate) fn response_to_http(headers: &mut HeaderMap, trailers: Option<&HeaderMap>) {
    strip_grpc(headers);
    headers.insert(
        header::CONTENT_TYPE,
        const { HeaderValue::from_static("application/json") },
    );
    if let Some(trailers) = trailers {
        trailers_to_headers(headers, trailers);
    }
}

/// Adds `trailers` (already stripped) as `trailer-` headers.
pub(crate) fn trailers_to_headers(headers: &mut HeaderMap, trailers: &HeaderMap) {
    for (name, value) in trailers {
        if name.as_str().starts_with("grpc-") || is_connection_level(name) {
            continue;
        }
        if let Ok(name) = HeaderName::try_from(format!("trailer-{name}")) {
            headers.append(name, value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_and_encode() {
        assert_eq!(parse_grpc_timeout(b"50m"), Some(Duration::from_millis(50)));
        assert_eq!(parse_grpc_timeout(b"2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout(b"123456789S"), None);
        assert_eq!(parse_grpc_timeout(b"5x"), None);
        assert_eq!(parse_grpc_timeout(b"m"), None);
        assert_eq!(encode_timeout(Duration::from_millis(50)), "50000000n");
        assert_eq!(encode_timeout(Duration::from_secs(3600)), "3600000m");
        assert_eq!(encode_timeout(Duration::from_secs(10_000_000)), "10000000S");
    }

    #[test]
    fn request_headers_become_metadata() {
        let mut headers = HeaderMap::new();
        for (k, v) in [
            ("host", "x"),
            ("content-type", "application/json"),
            ("accept", "*/*"),
            ("accept-foo", "1"),
            ("grpc-status", "0"),
            ("grpc-message", "forged"),
            ("connect-timeout-ms", "250"),
            ("x-user", "alice"),
            ("x-trace-bin", "AQID"),
            ("keep-alive", "5"),
            ("expect", "100-continue"),
            ("upgrade", "websocket"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
            ("sec-websocket-extensions", "permessage-deflate"),
        ] {
            headers.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let deadline = request_to_grpc(&mut headers).unwrap();
        assert_eq!(deadline, Some(Duration::from_millis(250)));
        let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "content-type",
                "grpc-timeout",
                "te",
                "x-trace-bin",
                "x-user"
            ]
        );
        assert_eq!(headers["content-type"], "application/grpc");
    }

    #[test]
    fn connection_level_names_never_reach_http() {
        let mut headers = HeaderMap::new();
        for (k, v) in [
            ("transfer-encoding", "gzip"),
            ("connection", "close"),
            ("upgrade", "h2c"),
            ("keep-alive", "5"),
            ("content-length", "3"),
            ("grpc-status", "0"),
            ("x-kept", "1"),
        ] {
            headers.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let trailers = headers.clone();
        response_to_http(&mut headers, Some(&trailers));
        let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["content-type", "trailer-x-kept", "x-kept"]);
    }

    #[test]
    fn one_walk_keeps_what_the_lookups_did() {
        // grpc-timeout wins over connect-timeout-ms; a bad one is an error
        // naming the header; every content-type value is replaced.
        let mut headers = HeaderMap::new();
        headers.append("content-type", HeaderValue::from_static("application/json"));
        headers.append("content-type", HeaderValue::from_static("text/plain"));
        headers.insert("connect-timeout-ms", HeaderValue::from_static("250"));
        headers.insert("grpc-timeout", HeaderValue::from_static("2S"));
        headers.append("te", HeaderValue::from_static("gzip"));
        assert_eq!(
            request_to_grpc(&mut headers).unwrap(),
            Some(Duration::from_secs(2))
        );
        let types: Vec<_> = headers.get_all("content-type").iter().collect();
        assert_eq!(types, ["application/grpc"]);
        let te: Vec<_> = headers.get_all("te").iter().collect();
        assert_eq!(te, ["trailers"]);
        assert_eq!(headers["grpc-timeout"], "2000000u");
        let mut bad = HeaderMap::new();
        bad.insert("connect-timeout-ms", HeaderValue::from_static("0"));
        assert!(matches!(
            request_to_grpc(&mut bad),
            Err(Rejection::BadTimeout("connect-timeout-ms", _))
        ));

        // strip_grpc: nothing kept, nothing stripped, and a mix (with
        // repeated values).
        let mut all = HeaderMap::new();
        all.insert("grpc-status", HeaderValue::from_static("0"));
        all.append("grpc-message", HeaderValue::from_static("a"));
        all.append("grpc-message", HeaderValue::from_static("b"));
        strip_grpc(&mut all);
        assert!(all.is_empty());
        let mut none = HeaderMap::new();
        none.append("x-a", HeaderValue::from_static("1"));
        none.append("x-a", HeaderValue::from_static("2"));
        strip_grpc(&mut none);
        assert_eq!(none.get_all("x-a").iter().count(), 2);
        let mut mixed = none.clone();
        mixed.append("grpc-status", HeaderValue::from_static("0"));
        mixed.append("content-type", HeaderValue::from_static("application/grpc"));
        mixed.append("x-b", HeaderValue::from_static("3"));
        strip_grpc(&mut mixed);
        let mut names: Vec<&str> = mixed.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["x-a", "x-b"]);
        assert_eq!(mixed.get_all("x-a").iter().count(), 2);
    }

    #[test]
    fn bad_binary_metadata_is_rejected() {
        let mut headers = HeaderMap::new();
        headers.insert("x-id-bin", HeaderValue::from_static("%%%"));
        assert!(matches!(
            request_to_grpc(&mut headers),
            Err(Rejection::BadBinaryHeader(name)) if name == "x-id-bin"
        ));
    }
}
