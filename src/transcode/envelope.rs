//! What the Connect protocol and gRPC-Web add to gRPC's framing: envelope
//! flags, compression (`gzip`) with a limit on the decompressed size, and
//! the base64 text form of gRPC-Web.

use std::io::Read as _;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};

use crate::status::{Code, Status};

/// Envelope flag: the payload is compressed.
pub(crate) const COMPRESSED: u8 = 0x01;
/// Connect envelope flag: the end-of-stream message.
pub(crate) const END_STREAM: u8 = 0x02;
/// gRPC-Web frame flag: the trailers.
pub(crate) const TRAILERS: u8 = 0x80;

/// Messages smaller than this are sent uncompressed even when the client
/// accepts compression: gzip's header and checksum would outweigh the gain.
pub(crate) const COMPRESS_MIN_BYTES: usize = 1024;

/// A compression the layer reads and writes. Only `gzip` for now (the one
/// every Connect and gRPC-Web client has); `identity` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    Gzip,
}

impl Compression {
    /// The compression a header names: `Ok(None)` for none or `identity`,
    /// `Err` with the name for one the layer does not know.
    pub(crate) fn from_header(value: Option<&HeaderValue>) -> Result<Option<Self>, HeaderValue> {
        match value {
            None => Ok(None),
            Some(v) if v.as_bytes().eq_ignore_ascii_case(b"identity") || v.is_empty() => Ok(None),
            Some(v) if v.as_bytes().eq_ignore_ascii_case(b"gzip") => Ok(Some(Self::Gzip)),
            Some(v) => Err(v.clone()),
        }
    }

    /// The compression the `name` headers name, all of them: a second
    /// header (`content-encoding: identity` then `gzip`) is not ignored but
    /// refused, as a stacked coding the layer does not read.
    pub(crate) fn from_headers(
        headers: &HeaderMap,
        name: impl http::header::AsHeaderName + Copy,
    ) -> Result<Option<Self>, HeaderValue> {
        let mut values = headers.get_all(name).iter();
        let first = values.next();
        match values.next() {
            None => Self::from_header(first),
            Some(_) => {
                let all: Vec<&[u8]> = headers.get_all(name).iter().map(|v| v.as_bytes()).collect();
                Err(HeaderValue::from_bytes(&all.join(&b", "[..]))
                    .unwrap_or_else(|_| HeaderValue::from_static("(several)")))
            }
        }
    }

    /// Whether an `*accept-encoding` header lists `gzip`.
    pub(crate) fn accepted(headers: &HeaderMap, name: &str) -> Option<Self> {
        headers
            .get_all(name)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .any(|item| {
                let coding = item.split(|&b| b == b';').next().unwrap_or_default();
                coding.trim_ascii().eq_ignore_ascii_case(b"gzip")
            })
            .then_some(Self::Gzip)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
        }
    }

    pub(crate) fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.name())
    }

    /// `data`, compressed.
    pub(crate) fn compress(self, data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(data.len() / 2 + 32),
            flate2::Compression::fast(),
        );
        encoder
            .write_all(data)
            .expect("writing to a Vec cannot fail");
        encoder.finish().expect("writing to a Vec cannot fail")
    }

    /// `data`, decompressed, never more than `limit` bytes: a larger result
    /// (a zip bomb) is `RESOURCE_EXHAUSTED` as soon as the limit is passed,
    /// without inflating the rest.
    pub(crate) fn decompress(self, data: &[u8], limit: usize, what: &str) -> Result<Bytes, Status> {
        let decoder = flate2::read::GzDecoder::new(data);
        let mut out = Vec::with_capacity((data.len() * 4).min(limit.saturating_add(1)));
        decoder
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                Status::new(
                    Code::InvalidArgument,
                    format!("{what} is not valid {}: {e}", self.name()),
                )
            })?;
        if out.len() > limit {
            return Err(Status::new(
                Code::ResourceExhausted,
                format!("{what} is larger than the limit of {limit} bytes once decompressed"),
            ));
        }
        Ok(out.into())
    }
}

/// An envelope (a gRPC frame, with `flags`) around `payload`.
pub(crate) fn envelope(flags: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + payload.len());
    out.extend_from_slice(&[flags]);
    let len = u32::try_from(payload.len()).expect("a message is smaller than 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out.freeze()
}

/// gRPC-Web text: each chunk the server sends, base64 on its own (padded),
/// as the gRPC-Web clients read it.
pub(crate) fn to_base64(chunk: &[u8]) -> Bytes {
    base64::engine::general_purpose::STANDARD
        .encode(chunk)
        .into_bytes()
        .into()
}

/// An incremental base64 decoder for `application/grpc-web-text` request
/// bodies: chunks may split a 4-character group anywhere, and a client may
/// send several padded pieces one after another.
#[derive(Debug, Default)]
pub(crate) struct Base64Decoder {
    pending: Vec<u8>,
}

impl Base64Decoder {
    /// The bytes of every whole group in `pending` + `chunk`.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<Vec<u8>, Status> {
        self.pending
            .extend(chunk.iter().copied().filter(|b| !b.is_ascii_whitespace()));
        let whole = self.pending.len() / 4 * 4;
        let mut out = Vec::with_capacity(whole / 4 * 3);
        // Padding ends a piece: decode group by group up to it.
        let mut start = 0;
        while start < whole {
            let end = self.pending[start..whole]
                .chunks(4)
                .position(|group| group.contains(&b'='))
                .map_or(whole, |i| start + (i + 1) * 4);
            base64::engine::general_purpose::STANDARD
                .decode_vec(&self.pending[start..end], &mut out)
                .map_err(|e| {
                    Status::new(
                        Code::InvalidArgument,
                        format!("the grpc-web-text body is not base64: {e}"),
                    )
                })?;
            start = end;
        }
        self.pending.drain(..whole);
        Ok(out)
    }

    /// Whether characters are left that do not make a whole group.
    pub(crate) fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trips_and_bombs_stop_at_the_limit() {
        let data = vec![b'a'; 10_000];
        let packed = Compression::Gzip.compress(&data);
        assert!(packed.len() < 200);
        let unpacked = Compression::Gzip
            .decompress(&packed, 10_000, "the body")
            .unwrap();
        assert_eq!(unpacked, data);
        let err = Compression::Gzip
            .decompress(&packed, 9_999, "the body")
            .unwrap_err();
        assert_eq!(err.code, Code::ResourceExhausted);
        let err = Compression::Gzip
            .decompress(b"not gzip", 100, "message 1")
            .unwrap_err();
        assert_eq!(err.code, Code::InvalidArgument);
        assert!(err.message.starts_with("message 1 is not valid gzip"));
    }

    #[test]
    fn headers_name_the_compression() {
        let gzip = HeaderValue::from_static("GZIP");
        assert_eq!(
            Compression::from_header(Some(&gzip)),
            Ok(Some(Compression::Gzip))
        );
        let br = HeaderValue::from_static("br");
        assert_eq!(Compression::from_header(Some(&br)), Err(br));
        assert_eq!(Compression::from_header(None), Ok(None));
        let mut headers = HeaderMap::new();
        headers.insert(
            "accept-encoding",
            HeaderValue::from_static("br, gzip;q=0.5"),
        );
        assert_eq!(
            Compression::accepted(&headers, "accept-encoding"),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::accepted(&headers, "connect-accept-encoding"),
            None
        );
    }

    #[test]
    fn base64_across_chunks_and_padded_pieces() {
        let text = format!(
            "{}{}",
            to_base64(b"ab").escape_ascii(),
            to_base64(b"cdef").escape_ascii()
        );
        for size in 1..text.len() {
            let mut decoder = Base64Decoder::default();
            let mut out = Vec::new();
            for piece in text.as_bytes().chunks(size) {
                out.extend(decoder.push(piece).unwrap());
            }
            assert!(!decoder.has_partial());
            assert_eq!(out, b"abcdef", "chunks of {size}");
        }
        assert!(Base64Decoder::default().push(b"!!!!").is_err());
    }
}
