//! The per-method codecs the generated tables point at: monomorphised
//! serde (pbjson) + prost, no reflection on the hot path.

use std::fmt;

use bytes::BytesMut;

use crate::__private::json as json_runtime;
use crate::__private::json::Direct;
use crate::registry::JsonContext;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A request body that is not valid JSON for the method's input message:
/// the public [`crate::json::Error`], whose field path is `field`.
pub(crate) use crate::json::Error as JsonError;

/// Protobuf bytes that do not decode as the expected message.
#[derive(Debug, Clone)]
pub(crate) struct DecodeError(pub(crate) String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `json` as `M` (an empty or blank body is the empty message) and
/// appends its protobuf encoding to `out`.
pub(crate) fn json_to_proto<M>(
    json: &[u8],
    out: &mut BytesMut,
    cx: &JsonContext,
) -> Result<(), JsonError>
where
    M: Message + Default + DeserializeOwned,
{
    let message: M = if json.iter().all(u8::is_ascii_whitespace) {
        M::default()
    } else {
        crate::json::read_in(json, cx)?
    };
    out.reserve(message.encoded_len());
    message
        .encode(out)
        .expect("BytesMut grows as needed, so encoding cannot run out of space");
    Ok(())
}

/// Decodes `proto` as `M` and appends its canonical JSON to `out`.
pub(crate) fn proto_to_json<M>(
    proto: &[u8],
    out: &mut Vec<u8>,
    cx: &JsonContext,
) -> Result<(), DecodeError>
where
    M: Message + Default + Serialize,
{
    let message = M::decode(proto).map_err(|e| DecodeError(e.to_string()))?;
    crate::json::write_in(out, &message, cx).map_err(|e| DecodeError(e.to_string()))
}

/// [`json_to_proto`] by the direct transcoder (no intermediate message):
/// the serde path runs only when the direct one gives up (always on bad
/// input, for the error and its field path).
pub(crate) fn json_to_proto_direct<M>(
    json: &[u8],
    out: &mut BytesMut,
    cx: &JsonContext,
) -> Result<(), JsonError>
where
    M: Message + Default + DeserializeOwned + Direct,
{
    if json.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let start = out.len();
    let (done, exceeded) = json_runtime::with_limits(cx.limits, || {
        crate::any::with_context(cx, || json_runtime::direct_read(M::table(), json, out))
    });
    if done.is_ok() && !exceeded {
        return Ok(());
    }
    out.truncate(start);
    json_to_proto::<M>(json, out, cx)
}

/// [`proto_to_json`] by the direct transcoder, as [`json_to_proto_direct`].
pub(crate) fn proto_to_json_direct<M>(
    proto: &[u8],
    out: &mut Vec<u8>,
    cx: &JsonContext,
) -> Result<(), DecodeError>
where
    M: Message + Default + Serialize + Direct,
{
    let start = out.len();
    let done = crate::any::with_context(cx, || {
        json_runtime::direct_print(M::table(), proto, out, &cx.options)
    });
    if done.is_ok() {
        return Ok(());
    }
    out.truncate(start);
    proto_to_json::<M>(proto, out, cx)
}
