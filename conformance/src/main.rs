//! The testee of protobuf's conformance suite: messages compiled by
//! `dual-protocol-build`, JSON by `dual-protocol`'s mapping.
//!
//! Run with `bash .ci/conformance` (builds this binary and starts protobuf's
//! runner against it). The protocol: in a loop until end of input, a 4-byte
//! little-endian length and a `conformance.ConformanceRequest` on stdin; the
//! same framing for each `conformance.ConformanceResponse` on stdout.

use std::io::{self, Read, Write};
use std::panic::{self, AssertUnwindSafe};

use dual_protocol::JsonOptions;
use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[allow(missing_docs, unreachable_pub, clippy::all)]
mod conformance {
    dual_protocol::include_proto!("conformance");
}

/// The suite's messages; each package compiled by build.rs is one module
/// here and one arm in [`answer`].
#[allow(missing_docs, unreachable_pub, clippy::all)]
mod test_messages {
    pub(crate) mod proto3 {
        dual_protocol::include_proto!("protobuf_test_messages.proto3");
    }
    pub(crate) mod proto2 {
        dual_protocol::include_proto!("protobuf_test_messages.proto2");
    }
}

use conformance::conformance_request::Payload;
use conformance::conformance_response::Result as Answer;
use conformance::{ConformanceRequest, ConformanceResponse, TestCategory, WireFormat};

fn main() -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut output = io::stdout().lock();
    while let Some(request) = read_request(&mut input)? {
        // A panic in generated or runtime code is a failure of one test,
        // not the end of the run (the runner would fail every later test).
        let result = panic::catch_unwind(AssertUnwindSafe(|| answer(request)))
            .unwrap_or_else(|_| Answer::RuntimeError("the testee panicked".into()));
        let response = ConformanceResponse {
            result: Some(result),
        }
        .encode_to_vec();
        let length = u32::try_from(response.len()).map_err(io::Error::other)?;
        output.write_all(&length.to_le_bytes())?;
        output.write_all(&response)?;
        output.flush()?;
    }
    Ok(())
}

/// The next request, or `None` at the end of input.
fn read_request(input: &mut impl Read) -> io::Result<Option<ConformanceRequest>> {
    let mut length = [0; 4];
    match input.read_exact(&mut length) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let mut request = vec![0; u32::from_le_bytes(length) as usize];
    input.read_exact(&mut request)?;
    ConformanceRequest::decode(request.as_slice())
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Dispatches on the message type under test.
fn answer(request: ConformanceRequest) -> Answer {
    use test_messages::*;
    match request.message_type.as_str() {
        "protobuf_test_messages.proto3.TestAllTypesProto3" => {
            round_trip::<proto3::TestAllTypesProto3>(request)
        }
        "protobuf_test_messages.proto2.TestAllTypesProto2" => {
            round_trip::<proto2::TestAllTypesProto2>(request)
        }
        // The runner's first request asks for the testee's own failure set
        // (an empty one: ours is the committed --failure_list).
        "conformance.FailureSet" => round_trip::<conformance::FailureSet>(request),
        other => Answer::Skipped(format!("message type {other} is not compiled in")),
    }
}

/// Parses the payload as an `M` and prints it in the requested format.
fn round_trip<M>(request: ConformanceRequest) -> Answer
where
    M: Message + Default + Serialize + DeserializeOwned + dual_protocol::__private::json::Direct,
{
    let ignore_unknown_fields =
        request.test_category() == TestCategory::JsonIgnoreUnknownParsingTest;
    let output = match request.requested_output_format() {
        WireFormat::Protobuf => Output::Protobuf,
        WireFormat::Json => Output::Json,
        WireFormat::Jspb => return Answer::Skipped("JSPB output".into()),
        WireFormat::TextFormat => return Answer::Skipped("text format output".into()),
        WireFormat::Unspecified => {
            return Answer::RuntimeError("no output format requested".into());
        }
    };
    let message = match &request.payload {
        Some(Payload::ProtobufPayload(bytes)) => match M::decode(bytes.as_slice()) {
            Ok(message) => message,
            Err(e) => return Answer::ParseError(format!("protobuf: {e}")),
        },
        Some(Payload::JsonPayload(text)) => {
            match from_json::<M>(text.as_bytes(), ignore_unknown_fields) {
                Ok(message) => message,
                Err(e) => return Answer::ParseError(format!("JSON: {e}")),
            }
        }
        Some(Payload::JspbPayload(_)) => return Answer::Skipped("JSPB input".into()),
        Some(Payload::TextPayload(_)) => return Answer::Skipped("text format input".into()),
        None => return Answer::RuntimeError("a request without a payload".into()),
    };
    let encoded = message.encode_to_vec();
    match output {
        Output::Protobuf => Answer::ProtobufPayload(encoded),
        // From the input's own bytes when they are protobuf (unknown
        // fields, repeated keys and all), else from the message's.
        Output::Json => match to_json::<M>(match &request.payload {
            Some(Payload::ProtobufPayload(bytes)) => bytes,
            _ => &encoded,
        }) {
            Ok(json) => Answer::JsonPayload(json),
            Err(e) => Answer::SerializeError(format!("JSON: {e}")),
        },
    }
}

/// The output formats the testee writes (the others are skipped).
enum Output {
    Protobuf,
    Json,
}

// The only calls into the JSON mapping: its public API (the direct
// transcoder the layer uses), with protobuf's default options (and
// ignore_unknown_fields where the test asks for it).

fn from_json<M>(json: &[u8], ignore_unknown_fields: bool) -> Result<M, String>
where
    M: Message + Default + DeserializeOwned + dual_protocol::__private::json::Direct,
{
    let options = JsonOptions {
        ignore_unknown_fields,
        ..JsonOptions::default()
    };
    let wire =
        dual_protocol::json::json_to_protobuf::<M>(json, &options).map_err(|e| e.to_string())?;
    M::decode(&wire[..]).map_err(|e| format!("the transcoded protobuf does not decode: {e}"))
}

fn to_json<M>(protobuf: &[u8]) -> Result<String, String>
where
    M: Message + Default + Serialize + dual_protocol::__private::json::Direct,
{
    let json = dual_protocol::json::protobuf_to_json::<M>(protobuf, &JsonOptions::default())
        .map_err(|e| e.to_string())?;
    String::from_utf8(json).map_err(|e| e.to_string())
}
