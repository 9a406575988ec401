//! The 5-byte gRPC message framing: a compression flag and a big-endian
//! length before every message.

use bytes::{Buf, BufMut, Bytes, BytesMut};

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
    /// The compression flag is set; the layer asks for no compression.
    Compressed,
    /// A message longer than the limit (its length, the limit).
    TooLarge(usize, usize),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Compressed => "the gRPC response is compressed",
            Self::TooLarge(len, limit) => {
                return write!(
                    f,
                    "a gRPC response message of {len} bytes is larger than the limit of {limit} bytes"
                );
            }
        })
    }
}

/// An incremental decoder: data goes in as it arrives, whole messages come
/// out as soon as they are complete. A message longer than `limit` is an
/// error as soon as its header is read, before its bytes are buffered.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// Data as it was read, while it holds whole frames: messages are
    /// sliced out of it, never copied.
    whole: Bytes,
    /// A frame that came in pieces, gathered.
    buf: BytesMut,
    limit: usize,
}

impl Decoder {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            whole: Bytes::new(),
            buf: BytesMut::new(),
            limit,
        }
    }

    /// Adds data read from the body.
    pub(crate) fn push(&mut self, data: Bytes) {
        if self.whole.is_empty() && self.buf.is_empty() {
            self.whole = data;
        } else {
            // What was left of the last piece goes first.
            if !self.whole.is_empty() {
                self.buf.extend_from_slice(&std::mem::take(&mut self.whole));
            }
            self.buf.extend_from_slice(&data);
        }
    }

    /// The next complete message, `None` when more data is needed.
    pub(crate) fn next(&mut self) -> Result<Option<Bytes>, FrameError> {
        let head = if self.whole.is_empty() {
            &self.buf[..]
        } else {
            &self.whole[..]
        };
        if head.len() >= HEADER_LEN && head[0] != 0 {
            return Err(FrameError::Compressed);
        }
        Ok(self.next_envelope()?.map(|(_, message)| message))
    }

    /// The next complete envelope (Connect, gRPC-Web): its flags byte and
    /// its payload; `None` when more data is needed.
    pub(crate) fn next_envelope(&mut self) -> Result<Option<(u8, Bytes)>, FrameError> {
        if !self.whole.is_empty() {
            let whole = &self.whole;
            if whole.len() >= HEADER_LEN {
                let len = u32::from_be_bytes([whole[1], whole[2], whole[3], whole[4]]) as usize;
                if len > self.limit {
                    return Err(FrameError::TooLarge(len, self.limit));
                }
                if whole.len() >= HEADER_LEN + len {
                    let flags = whole[0];
                    let mut frame = self.whole.split_to(HEADER_LEN + len);
                    frame.advance(HEADER_LEN);
                    return Ok(Some((flags, frame)));
                }
            }
            // The rest is the start of a frame: gather it.
            self.buf.extend_from_slice(&std::mem::take(&mut self.whole));
        }
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let flags = self.buf[0];
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > self.limit {
            return Err(FrameError::TooLarge(len, self.limit));
        }
        if self.buf.len() < HEADER_LEN + len {
            self.buf.reserve(HEADER_LEN + len - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        Ok(Some((flags, self.buf.split_to(len).freeze())))
    }

    /// Whether data is left that is not a whole message (at the end of the
    /// body: a truncated message).
    pub(crate) fn has_partial(&self) -> bool {
        !self.buf.is_empty() || !self.whole.is_empty()
    }
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
        let mut decoder = Decoder::new(16);
        decoder.push(buf.freeze());
        assert_eq!(decoder.next(), Ok(Some(Bytes::from_static(b"hello"))));
    }

    fn framed(messages: &[&[u8]]) -> Bytes {
        let mut buf = BytesMut::new();
        for message in messages {
            let at = start(&mut buf);
            buf.put_slice(message);
            finish(&mut buf, at);
        }
        buf.freeze()
    }

    #[test]
    fn decoder_splits_messages_across_any_chunking() {
        let body = framed(&[b"one", b"", b"three"]);
        for chunk in 1..=body.len() {
            let mut decoder = Decoder::new(16);
            let mut out = Vec::new();
            for piece in body.chunks(chunk) {
                decoder.push(Bytes::copy_from_slice(piece));
                while let Some(message) = decoder.next().unwrap() {
                    out.push(message);
                }
            }
            assert!(!decoder.has_partial(), "chunk {chunk}");
            assert_eq!(out, [&b"one"[..], b"", b"three"], "chunk {chunk}");
        }
    }

    #[test]
    fn decoder_limits_and_flags() {
        let mut decoder = Decoder::new(4);
        decoder.push(framed(&[b"hello"]));
        assert_eq!(decoder.next(), Err(FrameError::TooLarge(5, 4)));
        let mut decoder = Decoder::new(4);
        decoder.push(Bytes::from_static(b"\x01\0\0\0\x01h"));
        assert_eq!(decoder.next(), Err(FrameError::Compressed));
        let mut decoder = Decoder::new(4);
        decoder.push(Bytes::from_static(b"\0\0\0\0\x03ab"));
        assert_eq!(decoder.next(), Ok(None));
        assert!(decoder.has_partial());
    }
}
