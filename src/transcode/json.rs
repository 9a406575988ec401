//! The per-method codecs the generated tables point at: monomorphised
//! serde (pbjson) + prost, no reflection on the hot path.

use std::fmt;

use bytes::BytesMut;

use crate::registry::JsonContext;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A request body that is not valid JSON for the method's input message.
#[derive(Debug, Clone)]
pub(crate) struct JsonError {
    /// `book.title`-style path of the offending field; empty at the top level
    /// or for syntax errors.
    pub(crate) field: String,
    pub(crate) message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

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
    crate::any::with_context(cx, || json_to_proto_here::<M>(json, out))
}

fn json_to_proto_here<M>(json: &[u8], out: &mut BytesMut) -> Result<(), JsonError>
where
    M: Message + Default + DeserializeOwned,
{
    let message: M = if json.iter().all(u8::is_ascii_whitespace) {
        M::default()
    } else {
        match serde_json::from_slice(json) {
            Ok(message) => message,
            // Errors are rare: parse again, tracking the path, only then.
            Err(error) => return Err(describe::<M>(json, error)),
        }
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
    crate::any::with_context(cx, || serde_json::to_writer(out, &message))
        .map_err(|e| DecodeError(e.to_string()))
}

#[cold]
fn describe<M: DeserializeOwned>(json: &[u8], error: serde_json::Error) -> JsonError {
    if error.is_data() {
        let mut de = serde_json::Deserializer::from_slice(json);
        if let Err(tracked) = serde_path_to_error::deserialize::<_, M>(&mut de) {
            return data_error(tracked.path().to_string(), tracked.inner());
        }
    }
    data_error(String::new(), &error)
}

/// Non-generic half of [`describe`]: compiled once for all message types.
fn data_error(path: String, error: &serde_json::Error) -> JsonError {
    use serde_json::error::Category;
    let field = if path == "." { String::new() } else { path };
    let message = match error.classify() {
        Category::Syntax | Category::Eof => format!("malformed JSON: {error}"),
        Category::Data | Category::Io => error.to_string(),
    };
    JsonError { field, message }
}
