//! The 5-byte gRPC message framing: a compression flag and a big-endian
//! length before every message.

use bytes::{BufMut, BytesMut};

/// Length of the frame header.
pub(crate) const HEADER_LEN: usize = 5;

/// Starts a frame in `buf`: reserves the header, to be filled by [`finish`]
/// once the message has been appended.
pub(crate) fn start(buf: &mut BytesMut) -> usize {
    let at = buf.len();
    buf.put_bytes(0, HEADER_LEN);
    at
}

/// Writes the header of the frame started at `at` (uncompressed).
pub(crate) fn finish(buf: &mut BytesMut, at: usize) {
    let len = buf.len() - at - HEADER_LEN;
    let len = u32::try_from(len).expect("a gRPC message is smaller than 4 GiB");
    buf[at] = 0;
    buf[at + 1..at + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
}

/// Why a body is not exactly one uncompressed gRPC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// No message at all.
    Empty,
    /// A header or message cut short.
    Truncated,
    /// The compression flag is set; the layer asks for no compression.
    Compressed,
    /// More than one message where the method has one.
    Trailing,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Empty => "the gRPC response has no message",
            Self::Truncated => "the gRPC response ends inside a message",
            Self::Compressed => "the gRPC response is compressed",
            Self::Trailing => "the gRPC response has more than one message",
        })
    }
}

/// The one message of a unary body.
pub(crate) fn single(body: &[u8]) -> Result<&[u8], FrameError> {
    if body.is_empty() {
        return Err(FrameError::Empty);
    }
    let (message, rest) = next(body)?;
    if rest.is_empty() {
        Ok(message)
    } else {
        Err(FrameError::Trailing)
    }
}

/// Splits the first message off `body`.
pub(crate) fn next(body: &[u8]) -> Result<(&[u8], &[u8]), FrameError> {
    if body.len() < HEADER_LEN {
        return Err(FrameError::Truncated);
    }
    if body[0] != 0 {
        return Err(FrameError::Compressed);
    }
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    let rest = &body[HEADER_LEN..];
    if rest.len() < len {
        return Err(FrameError::Truncated);
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_message() {
        let mut buf = BytesMut::new();
        let at = start(&mut buf);
        buf.put_slice(b"hello");
        finish(&mut buf, at);
        assert_eq!(&buf[..], b"\0\0\0\0\x05hello");
        assert_eq!(single(&buf), Ok(&b"hello"[..]));
    }

    #[test]
    fn empty_message_is_a_header_only() {
        let mut buf = BytesMut::new();
        let at = start(&mut buf);
        finish(&mut buf, at);
        assert_eq!(single(&buf), Ok(&b""[..]));
    }

    #[test]
    fn rejects_bad_bodies() {
        assert_eq!(single(b""), Err(FrameError::Empty));
        assert_eq!(single(b"\0\0\0"), Err(FrameError::Truncated));
        assert_eq!(single(b"\0\0\0\0\x05hel"), Err(FrameError::Truncated));
        assert_eq!(single(b"\x01\0\0\0\x01h"), Err(FrameError::Compressed));
        assert_eq!(
            single(b"\0\0\0\0\x01h\0\0\0\0\0"),
            Err(FrameError::Trailing)
        );
    }
}
