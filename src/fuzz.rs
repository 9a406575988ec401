//! Internals the fuzz targets (`fuzz/`) drive on their own. Not a public
//! API: thin entry points, each checking what it can cheaply besides "no
//! panic".

use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

use crate::rest::router::{RouteMatch, Router};
use crate::transcode::envelope::Compression;
use crate::transcode::frame::{Decoder, FrameError};

/// Feeds `chunks` to the gRPC frame decoder (limit `limit`), taking whole
/// messages out after each chunk, and checks the result against a one-shot
/// decode of the concatenation: the split points must not matter. Returns
/// the messages, and whether a partial message is left at the end (or the
/// error).
pub fn frames(
    chunks: &[&[u8]],
    limit: usize,
    envelope: bool,
) -> (Vec<(u8, Bytes)>, Result<bool, String>) {
    fn drain(
        decoder: &mut Decoder,
        envelope: bool,
        out: &mut Vec<(u8, Bytes)>,
    ) -> Result<(), FrameError> {
        loop {
            let next = if envelope {
                decoder.next_envelope()?
            } else {
                decoder.next()?.map(|m| (0, m))
            };
            match next {
                Some(m) => out.push(m),
                None => return Ok(()),
            }
        }
    }
    let run = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut decoder = Decoder::new(limit);
        let mut out = Vec::new();
        for piece in pieces {
            decoder.push(Bytes::copy_from_slice(piece));
            if let Err(e) = drain(&mut decoder, envelope, &mut out) {
                return (out, Err(e));
            }
        }
        let partial = decoder.has_partial();
        (out, Ok(partial))
    };
    let (split, split_end) = run(&mut chunks.iter().copied());
    let whole: Vec<u8> = chunks.concat();
    let (one, one_end) = run(&mut std::iter::once(&whole[..]));
    // Errors are found as soon as a header is read, so both runs stop at
    // the same message (the split run may hold fewer when it fails early
    // on a chunk boundary: no, the header is complete in both, same error).
    assert_eq!(split, one, "messages depend on the split points");
    assert_eq!(split_end, one_end, "end state depends on the split points");
    for (flags, message) in &split {
        assert!(message.len() <= limit);
        if !envelope {
            assert_eq!(*flags, 0);
        }
    }
    (split, split_end.map_err(|e| e.to_string()))
}

/// `request_to_grpc` on `headers`: the deadline, or the rejection's
/// message. Checks that accepted headers hold gRPC's content-type, `te`,
/// no forged `grpc-*` name but the deadline, and a `grpc-timeout` that
/// parses back to at least the deadline (rounded up, never shortened).
pub fn request_headers(headers: &mut HeaderMap) -> Result<Option<Duration>, String> {
    let deadline = crate::metadata::request_to_grpc(headers).map_err(|e| format!("{e:?}"))?;
    assert_eq!(
        headers.get(http::header::CONTENT_TYPE).unwrap(),
        "application/grpc"
    );
    assert_eq!(headers.get(http::header::TE).unwrap(), "trailers");
    for name in headers.keys() {
        let name = name.as_str();
        assert!(
            !name.starts_with("grpc-") || name == "grpc-timeout",
            "{name} kept"
        );
        assert!(!name.starts_with("accept") && name != "host" && name != "connect-timeout-ms");
    }
    match (deadline, headers.get(crate::metadata::GRPC_TIMEOUT)) {
        (None, None) => {}
        (Some(deadline), Some(value)) => {
            let again = crate::metadata::parse_grpc_timeout(value.as_bytes())
                .unwrap_or_else(|| panic!("{value:?} does not parse back"));
            assert!(again >= deadline, "{value:?} is shorter than {deadline:?}");
        }
        (d, v) => panic!("deadline {d:?} but grpc-timeout {v:?}"),
    }
    Ok(deadline)
}

/// `response_to_http` on `headers` and `trailers`: checks that no `grpc-*`
/// or connection-level name is left, the content-type is JSON, and each
/// trailer kept appears as a `trailer-` header.
pub fn response_headers(headers: &mut HeaderMap, trailers: &HeaderMap) {
    let mut stripped = trailers.clone();
    crate::metadata::strip_grpc(&mut stripped);
    crate::metadata::response_to_http(headers, Some(&stripped));
    assert_eq!(
        headers.get(http::header::CONTENT_TYPE).unwrap(),
        "application/json"
    );
    for name in headers.keys() {
        assert!(!name.as_str().starts_with("grpc-"), "{name} kept");
        assert!(
            !matches!(
                name.as_str(),
                "transfer-encoding" | "connection" | "te" | "content-length"
            ),
            "{name} kept"
        );
    }
    for (name, value) in &stripped {
        let prefixed = format!("trailer-{name}");
        if let Ok(prefixed) = http::HeaderName::try_from(prefixed) {
            assert!(
                headers.get_all(&prefixed).iter().any(|v| v == value),
                "trailer {name} lost"
            );
        }
    }
}

/// `Compression::from_headers` for `content-encoding`: `Some(true)` for gzip,
/// `Some(false)` for none, `None` for a refused coding (or several headers).
pub fn compression(headers: &HeaderMap) -> Option<bool> {
    let got = Compression::from_headers(headers, &http::header::CONTENT_ENCODING);
    let count = headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .count();
    if count > 1 {
        assert!(got.is_err(), "{count} content-encoding headers accepted");
    }
    // The accept-encoding check must not panic either.
    let _ = Compression::accepted(headers, "accept-encoding");
    got.ok().map(|c| c.is_some())
}

/// The REST router on its own, with the bindings of a match.
#[derive(Debug, Default)]
pub struct Routes(Router<usize>);

/// What [`Routes::find`] answers.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// The route's value and its bindings (field path, decoded value).
    Route(usize, Vec<(Vec<String>, String)>),
    /// A route matches, but a binding does not decode.
    BadBinding(usize),
    /// Routes of other methods match.
    MethodNotAllowed(Vec<http::Method>),
    /// Nothing matches.
    NotFound,
}

impl Routes {
    /// Adds `template` for `verb`, answering `value`.
    pub fn insert(
        &mut self,
        verb: http::Method,
        template: &str,
        value: usize,
    ) -> Result<(), String> {
        self.0
            .insert(verb, template, value)
            .map_err(|e| e.to_string())
    }

    /// The route matching `verb` and `path`.
    pub fn find(&self, verb: &http::Method, path: &str) -> Found {
        match self.0.at(verb, path) {
            RouteMatch::Found { value, bindings } => Found::Route(
                *value,
                bindings.into_iter().map(|(f, v)| (f.to_vec(), v)).collect(),
            ),
            RouteMatch::BadBinding { value, .. } => Found::BadBinding(*value),
            RouteMatch::MethodNotAllowed { allow } => Found::MethodNotAllowed(allow),
            RouteMatch::NotFound => Found::NotFound,
        }
    }
}

/// Checks the direct transcoder against the serde path for message `M`,
/// on `json` read with `options`: it must refuse what the serde path
/// refuses (giving up is always allowed), and what it writes must decode
/// to the message the serde path reads; printing that message's protobuf
/// directly must give the serde path's text exactly. `Ok(Some(direct))`
/// when the serde path reads it (`direct`: the direct path did too, not
/// giving up), `Ok(None)` when both refuse it.
pub fn direct_agrees<M>(json: &[u8], options: crate::JsonOptions) -> Result<Option<bool>, String>
where
    M: prost::Message + Default + serde::Serialize + serde::de::DeserializeOwned,
    M: crate::__private::json::Direct,
{
    use crate::__private::json::{direct_print, direct_read};
    let cx = crate::registry::JsonContext::linked(options);
    let text = |m: &M| {
        let mut out = Vec::new();
        crate::json::write_in(&mut out, m, &cx)
            .map(|()| out)
            .map_err(|e| e.to_string())
    };
    let shown = || String::from_utf8_lossy(json).into_owned();
    let slow = crate::json::read_in::<M>(json, &cx);
    let mut direct = bytes::BytesMut::new();
    let fast = crate::any::with_context(&cx, || direct_read(M::table(), json, &mut direct));
    let message = match (slow, fast) {
        (Err(error), Ok(())) => {
            return Err(format!(
                "direct read accepts what serde refuses ({error}): {}",
                shown()
            ));
        }
        (Err(_), Err(_)) => return Ok(None),
        (Ok(message), Err(_)) => (message, false),
        (Ok(message), Ok(())) => {
            let read = M::decode(&direct[..])
                .map_err(|e| format!("direct read wrote bad protobuf ({e}): {}", shown()))?;
            let (want, got) = (text(&message)?, text(&read)?);
            if want != got {
                return Err(format!(
                    "direct read differs: {}\nserde: {}\ndirect: {}",
                    shown(),
                    String::from_utf8_lossy(&want),
                    String::from_utf8_lossy(&got)
                ));
            }
            (message, true)
        }
    };
    let (message, direct) = message;
    let wire = message.encode_to_vec();
    let want = text(&M::decode(&wire[..]).map_err(|e| e.to_string())?)?;
    let mut got = Vec::new();
    crate::any::with_context(&cx, || direct_print(M::table(), &wire, &mut got, &options))
        .map_err(|_| format!("direct print gave up on prost's encoding: {}", shown()))?;
    if want != got {
        return Err(format!(
            "direct print differs: {}\nserde: {}\ndirect: {}",
            shown(),
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&got)
        ));
    }
    Ok(Some(direct))
}

/// Checks the direct printer against prost + the serde path on arbitrary
/// protobuf bytes for message `M`: what prost refuses it must give up on,
/// and what it prints must be the serde path's text exactly. `Ok(None)`:
/// prost refuses; `Ok(Some(direct))`: whether the direct path printed it.
pub fn direct_print_agrees<M>(
    protobuf: &[u8],
    options: crate::JsonOptions,
) -> Result<Option<bool>, String>
where
    M: prost::Message + Default + serde::Serialize + crate::__private::json::Direct,
{
    use crate::__private::json::direct_print;
    let cx = crate::registry::JsonContext::linked(options);
    let mut got = Vec::new();
    let fast = crate::any::with_context(&cx, || {
        direct_print(M::table(), protobuf, &mut got, &options)
    });
    let Ok(message) = M::decode(protobuf) else {
        return match fast {
            Ok(()) => Err(format!(
                "direct print of what prost refuses: {protobuf:?} -> {}",
                String::from_utf8_lossy(&got)
            )),
            Err(_) => Ok(None),
        };
    };
    let mut want = Vec::new();
    let serde = crate::json::write_in(&mut want, &message, &cx);
    match (fast, serde) {
        (Err(_), _) => Ok(Some(false)),
        (Ok(()), Err(e)) => Err(format!(
            "direct print of what serde refuses ({e}): {protobuf:?}"
        )),
        (Ok(()), Ok(())) if want == got => Ok(Some(true)),
        (Ok(()), Ok(())) => Err(format!(
            "direct print differs: {protobuf:?}\nserde: {}\ndirect: {}",
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(&got)
        )),
    }
}
