//! The crate's one base64 codec, with the proto3 JSON mapping's rules:
//! strict out (standard alphabet, padded), lenient in (standard or URL-safe
//! alphabet, padded or not). gRPC's `-bin` metadata and `grpc-status-details-bin`
//! follow the same reading rules, so they use it too.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

// Trailing bits are allowed: Go's and C++'s decoders ignore them, and a
// sender's encoder never sets them anyway.
const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);

/// Decodes standard or URL-safe base64, padded or not. One alphabet per
/// input: `-` or `_` make it URL-safe, and then `+` or `/` are errors.
pub(crate) fn decode(input: &[u8]) -> Result<Vec<u8>, String> {
    let engine = if input.iter().any(|b| matches!(b, b'-' | b'_')) {
        &URL_SAFE
    } else {
        &STANDARD
    };
    engine.decode(input).map_err(|e| e.to_string())
}

/// `bytes` as standard, padded base64, written where it is displayed (no
/// string made first).
pub(crate) fn display(bytes: &[u8]) -> impl std::fmt::Display + '_ {
    base64::display::Base64Display::new(bytes, &base64::engine::general_purpose::STANDARD)
}

/// Appends `bytes` as a JSON string of standard, padded base64 to `out`
/// (its alphabet needs no escaping).
pub(crate) fn append_quoted(bytes: &[u8], out: &mut Vec<u8>) {
    let at = out.len() + 1;
    let len = base64::encoded_len(bytes.len(), true).expect("a slice's base64 fits in memory");
    out.resize(at + len + 1, b'"');
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(bytes, &mut out[at..at + len])
        .expect("the room base64 asked for");
    debug_assert_eq!(written, len);
}

/// Calls `f` with `bytes` as standard, padded base64: from a buffer on the
/// stack when short, else displayed piece by piece (no `String` either way).
pub(crate) fn with_encoded<R>(
    bytes: &[u8],
    f: impl FnOnce(Result<&str, &dyn std::fmt::Display>) -> R,
) -> R {
    let mut buffer = [0u8; 256];
    match base64::engine::general_purpose::STANDARD.encode_slice(bytes, &mut buffer) {
        Ok(len) => f(Ok(
            std::str::from_utf8(&buffer[..len]).expect("base64 is ASCII")
        )),
        Err(_) => f(Err(&display(bytes))),
    }
}

/// Encodes `bytes` as standard, padded base64.
pub(crate) fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_standard_and_url_safe_padded_or_not_and_writes_standard_padded() {
        for text in ["+/8=", "+/8", "-_8=", "-_8", "+/+/", "-_-_"] {
            let bytes = decode(text.as_bytes()).unwrap();
            assert_eq!(bytes[..2], [0xfb, 0xff], "{text}");
        }
        assert_eq!(encode(&[0xfb, 0xff]), "+/8=");
        for len in [0, 1, 2, 3, 191, 192, 193, 1000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut out = b"x".to_vec();
            append_quoted(&bytes, &mut out);
            assert_eq!(
                out,
                format!("x\"{}\"", encode(&bytes)).into_bytes(),
                "{len}"
            );
            let shown = with_encoded(&bytes, |text| match text {
                Ok(text) => text.to_owned(),
                Err(display) => display.to_string(),
            });
            assert_eq!(shown, encode(&bytes), "{len}");
        }
        assert_eq!(encode(b"a"), "YQ==");
        assert_eq!(decode(b"YQ").unwrap(), b"a");
        assert_eq!(decode(b"").unwrap(), b"");
        // Trailing bits are ignored, as Go's and C++'s decoders do.
        assert_eq!(decode(b"YR==").unwrap(), b"a");
        for bad in ["+_8=", "!!", "Y", "YQ===", "Y Q=", "YQ==YQ=="] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
