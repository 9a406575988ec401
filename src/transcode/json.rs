//! The per-method codecs the generated tables point at: monomorphised
//! serde (pbjson) + prost, no reflection on the hot path.

use std::fmt;

use bytes::BytesMut;

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
