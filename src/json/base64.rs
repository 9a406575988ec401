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
