//! The request adapter: the client's messages in (one JSON body, NDJSON
//! lines, WebSocket messages), gRPC frames out, each sent down as soon as it
//! is complete. A message that does not transcode ends the request stream
//! with an error the handler sees, and records the status the client gets
//! (see [`Failure`]).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http_body::{Body, Frame};
use pin_project_lite::pin_project;

use crate::classify::{Codec, RawInto, Wire};
use crate::error::Rejection;
use crate::registry::{JsonContext, JsonToProto};
use crate::status::{Code, Status};
use crate::transcode::envelope::{self, Base64Decoder, Compression};
use crate::transcode::json::JsonError;
use crate::transcode::{Failure, frame};

use crate::trace::CallSpan;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where the request message's fields come from (the `body` of a REST rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyRule {
    /// The body is the whole message (RPC paths, `body: "*"`).
    All,
    /// The body is this field (its JSON name).
    Field(&'static str),
    /// No body: every field from the path and the query.
    None,
}

/// One client message to one gRPC frame.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    pub(crate) codec: JsonToProto,
    /// The options and the types an `Any` may hold.
    pub(crate) cx: JsonContext,
    pub(crate) body: BodyRule,
    /// Protobuf of the path variables and query parameters, appended after
    /// each message: protobuf's merge rule makes them override the body.
    pub(crate) suffix: Bytes,
    /// The request's content type, for raw (`google.api.HttpBody`) bodies.
    pub(crate) content_type: String,
    /// The call's span (bytes read are counted there).
    pub(crate) span: CallSpan,
}

/// `google.api.HttpBody`, as far as the layer reads and writes it.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HttpBody {
    #[prost(string, tag = "1")]
    pub(crate) content_type: String,
    #[prost(bytes = "bytes", tag = "2")]
    pub(crate) data: Bytes,
}

impl Encoder {
    /// The framed protobuf of a message whose `google.api.HttpBody` holds
    /// `data` (with the request's content type): written field by field,
    /// so the data is copied once, into the frame.
    pub(crate) fn encode_raw(&self, into: RawInto, data: &[u8]) -> Bytes {
        use prost::encoding::{WireType, encode_key, encode_varint};
        // The HttpBody's fields before its data: content_type, data's key
        // and length.
        let mut head = Vec::with_capacity(self.content_type.len() + 16);
        if !self.content_type.is_empty() {
            prost::encoding::string::encode(1, &self.content_type, &mut head);
        }
        if !data.is_empty() {
            encode_key(2, WireType::LengthDelimited, &mut head);
            encode_varint(data.len() as u64, &mut head);
        }
        let mut buf = BytesMut::with_capacity(
            frame::HEADER_LEN + 16 + head.len() + data.len() + self.suffix.len(),
        );
        let at = frame::start(&mut buf);
        if let RawInto::Field(number) = into {
            encode_key(number, WireType::LengthDelimited, &mut buf);
            encode_varint((head.len() + data.len()) as u64, &mut buf);
        }
        buf.extend_from_slice(&head);
        buf.extend_from_slice(data);
        buf.extend_from_slice(&self.suffix);
        frame::finish(&mut buf, at);
        buf.freeze()
    }

    /// The framed protobuf of a message sent as protobuf (`suffix` added,
    /// though Connect and gRPC-Web calls have none).
    pub(crate) fn encode_proto(&self, message: &[u8]) -> Bytes {
        let mut buf =
            BytesMut::with_capacity(frame::HEADER_LEN + message.len() + self.suffix.len());
        let at = frame::start(&mut buf);
        buf.extend_from_slice(message);
        buf.extend_from_slice(&self.suffix);
        frame::finish(&mut buf, at);
        buf.freeze()
    }

    /// The framed protobuf of the message whose JSON is `json`.
    pub(crate) fn encode(&self, json: &[u8]) -> Result<Bytes, JsonError> {
        let blank = json.iter().all(u8::is_ascii_whitespace);
        let mut buf = BytesMut::with_capacity(frame::HEADER_LEN + json.len() + self.suffix.len());
        let at = frame::start(&mut buf);
        let codec = self.codec;
        match self.body {
            BodyRule::All => codec(json, &mut buf, &self.cx)?,
            BodyRule::Field(_) if blank => {}
            BodyRule::Field(name) => {
                // One JSON value, checked before it is placed in an object
                // (so that `1, "other": 2` cannot set another field).
                serde_json::from_slice::<serde::de::IgnoredAny>(json).map_err(|e| JsonError {
                    exceeded: false,
                    field: name.to_owned(),
                    message: format!("malformed JSON: {e}"),
                })?;
                let mut wrapped = Vec::with_capacity(json.len() + name.len() + 5);
                wrapped.extend_from_slice(b"{\"");
                wrapped.extend_from_slice(name.as_bytes());
                wrapped.extend_from_slice(b"\":");
                wrapped.extend_from_slice(json);
                wrapped.push(b'}');
                codec(&wrapped, &mut buf, &self.cx)?;
            }
            BodyRule::None if blank => {}
            BodyRule::None => {
                return Err(JsonError {
                    exceeded: false,
                    field: String::new(),
                    message: "this route takes no body; send the fields as query parameters"
                        .to_owned(),
                });
            }
        }
        buf.extend_from_slice(&self.suffix);
        frame::finish(&mut buf, at);
        Ok(buf.freeze())
    }
}

pin_project! {
    /// Where the client's messages come from.
    #[project = SourceProj]
    pub(crate) enum Source<B> {
        /// The HTTP request body.
        Body { #[pin] body: B },
        /// Messages read from a WebSocket, one per item.
        Channel { rx: tokio::sync::mpsc::Receiver<Bytes> },
        /// A body known already (a Connect GET's message, from the query).
        Ready { data: Option<Bytes> },
    }
}

pin_project! {
    /// A gRPC request body made from the client's JSON messages.
    pub(crate) struct RequestStream<B> {
        #[pin]
        source: Source<B>,
        encoder: Encoder,
        wire: Wire,
        // The whole body for `Wire::Json`, one message otherwise.
        limit: usize,
        // For client and bidi streams: a blank JSON body is no message.
        streams_in: bool,
        // How the client compressed the body (`Json`, `Proto`) or the
        // envelopes flagged compressed (`Envelopes`).
        compressed: Option<Compression>,
        buf: BytesMut,
        // `Envelopes`: the envelopes read so far, and for grpc-web-text
        // the base64 not yet decoded.
        envelopes: frame::Decoder,
        base64: Option<Base64Decoder>,
        // Messages (lines) seen, for error messages.
        count: usize,
        eof: bool,
        done: bool,
        failure: Failure,
    }
}

impl<B> std::fmt::Debug for RequestStream<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestStream")
            .field("wire", &self.wire)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl<B> RequestStream<B> {
    pub(crate) fn new(
        source: Source<B>,
        encoder: Encoder,
        wire: Wire,
        limit: usize,
        streams_in: bool,
        compressed: Option<Compression>,
        failure: Failure,
    ) -> Self {
        let base64 = match wire {
            Wire::Envelopes { text: true, .. } => Some(Base64Decoder::default()),
            _ => None,
        };
        Self {
            source,
            encoder,
            wire,
            limit,
            streams_in,
            compressed,
            buf: BytesMut::new(),
            envelopes: frame::Decoder::new(limit),
            base64,
            count: 0,
            eof: false,
            done: false,
            failure,
        }
    }
}

impl<B> Body for RequestStream<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        loop {
            if *this.done {
                return Poll::Ready(None);
            }
            match *this.wire {
                Wire::Json | Wire::Proto if *this.eof => {
                    *this.done = true;
                    let mut body = std::mem::take(this.buf).freeze();
                    if let Some(compression) = *this.compressed {
                        match compression.decompress(&body, *this.limit, "the request body") {
                            Ok(data) => body = data,
                            Err(status) => {
                                let http = status.code.http_status();
                                return Poll::Ready(Some(Err(fail(this.failure, http, status))));
                            }
                        }
                    }
                    if *this.wire == Wire::Proto {
                        return Poll::Ready(Some(Ok(Frame::data(
                            this.encoder.encode_proto(&body),
                        ))));
                    }
                    if *this.streams_in && body.iter().all(u8::is_ascii_whitespace) {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(match this.encoder.encode(&body) {
                        Ok(frame) => Ok(Frame::data(frame)),
                        Err(e) => Err(fail_rejection(this.failure, Rejection::Json(e))),
                    }));
                }
                Wire::Envelopes { codec, .. } => match this.envelopes.next_envelope() {
                    Ok(Some((flags, payload))) => {
                        *this.count += 1;
                        let result = envelope_message(
                            this.encoder,
                            codec,
                            flags,
                            payload,
                            *this.count,
                            *this.compressed,
                            *this.limit,
                            this.failure,
                        );
                        if let Some(result) = result {
                            if result.is_err() {
                                *this.done = true;
                            }
                            return Poll::Ready(Some(result));
                        }
                        continue;
                    }
                    Ok(None) if *this.eof => {
                        *this.done = true;
                        let partial = this.envelopes.has_partial()
                            || this.base64.as_ref().is_some_and(Base64Decoder::has_partial);
                        if partial {
                            let status = Status::new(
                                Code::InvalidArgument,
                                "the request body ends inside a message",
                            );
                            let error = fail(this.failure, StatusCode::BAD_REQUEST, status);
                            return Poll::Ready(Some(Err(error)));
                        }
                        return Poll::Ready(None);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        *this.done = true;
                        let status = match e {
                            frame::FrameError::TooLarge(_, limit) => {
                                too_large("message", *this.count + 1, limit)
                            }
                            frame::FrameError::Compressed => unreachable!("envelopes take flags"),
                        };
                        let error = fail(this.failure, StatusCode::PAYLOAD_TOO_LARGE, status);
                        return Poll::Ready(Some(Err(error)));
                    }
                },
                Wire::Raw(into) if !*this.streams_in && *this.eof => {
                    *this.done = true;
                    let data = std::mem::take(this.buf);
                    return Poll::Ready(Some(Ok(Frame::data(
                        this.encoder.encode_raw(into, &data),
                    ))));
                }
                // A raw upload: each chunk read (cut at the limit) is a message.
                Wire::Raw(into) if *this.streams_in => {
                    if !this.buf.is_empty() {
                        let take = this.buf.len().min(*this.limit);
                        let chunk = this.buf.split_to(take);
                        return Poll::Ready(Some(Ok(Frame::data(
                            this.encoder.encode_raw(into, &chunk),
                        ))));
                    }
                    if *this.eof {
                        *this.done = true;
                        return Poll::Ready(None);
                    }
                }
                Wire::Json | Wire::Proto | Wire::Raw(_) => {}
                Wire::Ndjson => {
                    if let Some(at) = this.buf.iter().position(|&b| b == b'\n') {
                        let line = this.buf.split_to(at + 1);
                        *this.count += 1;
                        if let Some(result) = message(
                            this.encoder,
                            &line,
                            *this.count,
                            "line",
                            *this.limit,
                            this.failure,
                        ) {
                            return Poll::Ready(Some(result));
                        }
                        continue;
                    }
                    if this.buf.len() > *this.limit {
                        let status = too_large("line", *this.count + 1, *this.limit);
                        *this.done = true;
                        return Poll::Ready(Some(Err(fail(
                            this.failure,
                            StatusCode::PAYLOAD_TOO_LARGE,
                            status,
                        ))));
                    }
                    if *this.eof {
                        *this.done = true;
                        let line = std::mem::take(this.buf);
                        *this.count += 1;
                        match message(
                            this.encoder,
                            &line,
                            *this.count,
                            "line",
                            *this.limit,
                            this.failure,
                        ) {
                            Some(result) => return Poll::Ready(Some(result)),
                            None => return Poll::Ready(None),
                        }
                    }
                }
                Wire::WebSocket => {}
            }
            // More input.
            match this.source.as_mut().project() {
                SourceProj::Ready { data } => match data.take() {
                    Some(data) => *this.buf = BytesMut::from(data),
                    None => *this.eof = true,
                },
                SourceProj::Body { body } => match ready!(body.poll_frame(cx)) {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            this.encoder.span.bytes_in(data.len());
                            if let Wire::Envelopes { .. } = *this.wire {
                                let data = match this.base64.as_mut() {
                                    Some(decoder) => match decoder.push(&data) {
                                        Ok(decoded) => Bytes::from(decoded),
                                        Err(status) => {
                                            *this.done = true;
                                            let http = StatusCode::BAD_REQUEST;
                                            return Poll::Ready(Some(Err(fail(
                                                this.failure,
                                                http,
                                                status,
                                            ))));
                                        }
                                    },
                                    None => data,
                                };
                                this.envelopes.push(data);
                                continue;
                            }
                            let whole = match *this.wire {
                                Wire::Json | Wire::Proto => true,
                                Wire::Raw(_) => !*this.streams_in,
                                Wire::Ndjson | Wire::WebSocket | Wire::Envelopes { .. } => false,
                            };
                            if whole && this.buf.len().saturating_add(data.len()) > *this.limit {
                                *this.done = true;
                                let rejection = Rejection::BodyTooLarge(*this.limit);
                                return Poll::Ready(Some(Err(fail_rejection(
                                    this.failure,
                                    rejection,
                                ))));
                            }
                            if this.buf.is_empty() {
                                *this.buf = BytesMut::from(data);
                            } else {
                                this.buf.extend_from_slice(&data);
                            }
                        }
                    }
                    Some(Err(e)) => {
                        *this.done = true;
                        let e: BoxError = e.into();
                        let status = Status::new(
                            Code::InvalidArgument,
                            format!("failed to read the request body: {e}"),
                        );
                        return Poll::Ready(Some(Err(fail(
                            this.failure,
                            StatusCode::BAD_REQUEST,
                            status,
                        ))));
                    }
                    None => *this.eof = true,
                },
                SourceProj::Channel { rx } => match ready!(rx.poll_recv(cx)) {
                    Some(data) => {
                        *this.count += 1;
                        if let Some(result) = message(
                            this.encoder,
                            &data,
                            *this.count,
                            "message",
                            *this.limit,
                            this.failure,
                        ) {
                            if result.is_err() {
                                *this.done = true;
                            }
                            return Poll::Ready(Some(result));
                        }
                    }
                    None => {
                        *this.done = true;
                        return Poll::Ready(None);
                    }
                },
            }
        }
    }
}

/// One envelope of a Connect stream or a gRPC-Web call: its flags checked,
/// decompressed, transcoded (JSON) or framed as it is (protobuf).
#[allow(clippy::too_many_arguments)]
fn envelope_message(
    encoder: &Encoder,
    codec: Codec,
    flags: u8,
    payload: Bytes,
    number: usize,
    compressed: Option<Compression>,
    limit: usize,
    failure: &Failure,
) -> Option<Result<Frame<Bytes>, BoxError>> {
    let bad = |message: String| {
        let status = Status::new(Code::InvalidArgument, message);
        Some(Err(fail(failure, StatusCode::BAD_REQUEST, status)))
    };
    if flags & !envelope::COMPRESSED != 0 {
        return bad(format!(
            "message {number}: unexpected envelope flags {flags:#04x} from a client"
        ));
    }
    let payload = if flags & envelope::COMPRESSED != 0 {
        let Some(compression) = compressed else {
            return bad(format!(
                "message {number} is flagged compressed, but the request names no compression \
                 (connect-content-encoding or grpc-encoding)"
            ));
        };
        match compression.decompress(&payload, limit, &format!("message {number}")) {
            Ok(data) => data,
            Err(status) => {
                let http = status.code.http_status();
                return Some(Err(fail(failure, http, status)));
            }
        }
    } else {
        payload
    };
    match codec {
        Codec::Proto => Some(Ok(Frame::data(encoder.encode_proto(&payload)))),
        Codec::Json => message(encoder, &payload, number, "message", limit, failure),
    }
}

/// One stream message (`what` `number`: "line 3"): `None` when blank.
fn message(
    encoder: &Encoder,
    json: &[u8],
    number: usize,
    what: &str,
    limit: usize,
    failure: &Failure,
) -> Option<Result<Frame<Bytes>, BoxError>> {
    if json.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    if json.len() > limit {
        let status = too_large(what, number, limit);
        return Some(Err(fail(failure, StatusCode::PAYLOAD_TOO_LARGE, status)));
    }
    Some(match encoder.encode(json) {
        Ok(frame) => Ok(Frame::data(frame)),
        Err(e) => {
            let rejection = Rejection::Json(e);
            let mut status = rejection.status();
            status.message = format!("{what} {number}: {}", status.message);
            Err(fail(failure, rejection.http_status(), status))
        }
    })
}

fn too_large(what: &str, number: usize, limit: usize) -> Status {
    Status::new(
        Code::ResourceExhausted,
        format!("{what} {number} is larger than the limit of {limit} bytes (max_message_bytes)"),
    )
}

fn fail_rejection(failure: &Failure, rejection: Rejection) -> BoxError {
    let http = rejection.http_status();
    fail(failure, http, rejection.status())
}

/// Records why the layer ended the request, and the error the handler's
/// request stream ends with (a `tonic::Status`, which tonic passes on).
fn fail(failure: &Failure, http: StatusCode, status: Status) -> BoxError {
    let error = Box::new(status.to_tonic());
    failure.set(http, status);
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::__private::json::JsonOptions;
    use http_body_util::{BodyExt, Full, StreamBody};

    fn encoder(body: BodyRule) -> Encoder {
        Encoder {
            codec: crate::transcode::json::json_to_proto::<crate::types::Duration>,
            cx: JsonContext::linked(JsonOptions::default()),
            body,
            suffix: Bytes::new(),
            content_type: String::new(),
            span: CallSpan::default(),
        }
    }

    /// A body that yields `chunks` one by one.
    fn chunked(chunks: &[&'static str]) -> impl Body<Data = Bytes, Error = BoxError> + use<> {
        let frames: Vec<Result<Frame<Bytes>, BoxError>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c.as_bytes()))))
            .collect();
        StreamBody::new(tokio_stream::iter(frames))
    }

    async fn frames<B>(stream: RequestStream<B>) -> (Vec<Bytes>, Option<String>)
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let mut stream = std::pin::pin!(stream);
        let mut out = Vec::new();
        while let Some(frame) = stream.frame().await {
            match frame {
                Ok(frame) => out.push(frame.into_data().unwrap()),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn ndjson_lines_become_frames_across_chunks() {
        let body = chunked(&["\"1s\"\n\"2", ".5s\"\n\n", "\"3s\""]);
        let failure = Failure::default();
        let stream = RequestStream::new(
            Source::Body { body },
            encoder(BodyRule::All),
            Wire::Ndjson,
            64,
            true,
            None,
            failure.clone(),
        );
        let (out, error) = frames(stream).await;
        assert_eq!(error, None);
        assert_eq!(out.len(), 3);
        assert_eq!(&out[0][..], b"\0\0\0\0\x02\x08\x01");
        assert!(failure.get().is_none());
    }

    #[tokio::test]
    async fn a_bad_line_names_its_number() {
        let body = chunked(&["\"1s\"\n", "\"nope\"\n", "\"3s\"\n"]);
        let failure = Failure::default();
        let stream = RequestStream::new(
            Source::Body { body },
            encoder(BodyRule::All),
            Wire::Ndjson,
            64,
            true,
            None,
            failure.clone(),
        );
        let (out, error) = frames(stream).await;
        assert_eq!(out.len(), 1);
        assert!(error.is_some());
        let (http, status) = failure.get().unwrap();
        assert_eq!(
            (http, status.code),
            (StatusCode::BAD_REQUEST, Code::InvalidArgument)
        );
        assert!(status.message.starts_with("line 2: "), "{}", status.message);
    }

    #[tokio::test]
    async fn an_over_limit_line_is_resource_exhausted() {
        let body = chunked(&["\"1s\"\n", "\"1234567890", "1234567890s\"\n"]);
        let failure = Failure::default();
        let stream = RequestStream::new(
            Source::Body { body },
            encoder(BodyRule::All),
            Wire::Ndjson,
            16,
            true,
            None,
            failure.clone(),
        );
        let (out, error) = frames(stream).await;
        assert_eq!((out.len(), error.is_some()), (1, true));
        let (_, status) = failure.get().unwrap();
        assert_eq!(status.code, Code::ResourceExhausted);
        assert!(
            status.message.contains("line 2") && status.message.contains("16 bytes"),
            "{}",
            status.message
        );
    }

    #[tokio::test]
    async fn whole_json_body_and_limits() {
        let stream = RequestStream::new(
            Source::Body {
                body: Full::new(Bytes::from_static(b"\"2s\"")),
            },
            encoder(BodyRule::All),
            Wire::Json,
            64,
            false,
            None,
            Failure::default(),
        );
        assert_eq!(frames(stream).await.0.len(), 1);
        // A blank body: the empty message for unary, no message for streams.
        for (streams_in, expected) in [(false, 1), (true, 0)] {
            let stream = RequestStream::new(
                Source::Body {
                    body: Full::new(Bytes::from_static(b" ")),
                },
                encoder(BodyRule::All),
                Wire::Json,
                64,
                streams_in,
                None,
                Failure::default(),
            );
            assert_eq!(frames(stream).await.0.len(), expected);
        }
        let failure = Failure::default();
        let stream = RequestStream::new(
            Source::Body {
                body: chunked(&["\"1", "0s\""]),
            },
            encoder(BodyRule::All),
            Wire::Json,
            3,
            false,
            None,
            failure.clone(),
        );
        assert!(frames(stream).await.1.is_some());
        assert_eq!(failure.get().unwrap().0, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn websocket_messages_are_one_message_each() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(Bytes::from_static(b"\"1s\"")).await.unwrap();
        tx.send(Bytes::from_static(b"\"5s\"")).await.unwrap();
        drop(tx);
        let stream: RequestStream<Full<Bytes>> = RequestStream::new(
            Source::Channel { rx },
            encoder(BodyRule::All),
            Wire::WebSocket,
            64,
            true,
            None,
            Failure::default(),
        );
        assert_eq!(frames(stream).await.0.len(), 2);
    }

    #[test]
    fn a_field_body_cannot_smuggle_other_fields() {
        let encoder = Encoder {
            codec: crate::transcode::json::json_to_proto::<crate::rpc::Status>,
            cx: JsonContext::linked(JsonOptions::default()),
            body: BodyRule::Field("code"),
            suffix: Bytes::from_static(b"\x08\x05"),
            content_type: String::new(),
            span: CallSpan::default(),
        };
        let error = encoder.encode(b"1, \"message\": \"x\"").unwrap_err();
        assert!(error.message.starts_with("malformed JSON"), "{error}");
        // The body, then the suffix (path variables), which wins on merge.
        assert_eq!(
            &encoder.encode(b"3").unwrap()[..],
            b"\0\0\0\0\x04\x08\x03\x08\x05"
        );
        assert_eq!(&encoder.encode(b"").unwrap()[..], b"\0\0\0\0\x02\x08\x05");
    }

    #[test]
    fn raw_bodies_encode_as_http_body() {
        use prost::Message as _;
        let encoder = Encoder {
            codec: crate::transcode::json::json_to_proto::<crate::rpc::Status>,
            cx: JsonContext::linked(JsonOptions::default()),
            body: BodyRule::All,
            suffix: Bytes::new(),
            content_type: "image/png".into(),
            span: CallSpan::default(),
        };
        let framed = encoder.encode_raw(RawInto::Message, b"\x89PNG");
        let body = HttpBody::decode(&framed[frame::HEADER_LEN..]).unwrap();
        assert_eq!(
            (body.content_type.as_str(), &body.data[..]),
            ("image/png", &b"\x89PNG"[..])
        );
        // As field 2 of an outer message (`SetCoverRequest.cover`).
        #[derive(Clone, PartialEq, prost::Message)]
        struct Outer {
            #[prost(string, tag = "1")]
            name: String,
            #[prost(message, optional, tag = "2")]
            cover: Option<HttpBody>,
        }
        let encoder = Encoder {
            suffix: Outer {
                name: "b".into(),
                cover: None,
            }
            .encode_to_vec()
            .into(),
            ..encoder
        };
        let framed = encoder.encode_raw(RawInto::Field(2), b"");
        let outer = Outer::decode(&framed[frame::HEADER_LEN..]).unwrap();
        assert_eq!(outer.name, "b");
        assert_eq!(outer.cover.unwrap().content_type, "image/png");
    }

    #[tokio::test]
    async fn a_raw_upload_is_one_message_per_chunk_cut_at_the_limit() {
        let mut encoder = encoder(BodyRule::All);
        encoder.content_type = "text/plain".into();
        let stream = RequestStream::new(
            Source::Body {
                body: chunked(&["abcdefghij", "kl"]),
            },
            encoder,
            Wire::Raw(RawInto::Message),
            4,
            true,
            None,
            Failure::default(),
        );
        let (out, error) = frames(stream).await;
        assert_eq!(error, None);
        let datas: Vec<Bytes> = out
            .iter()
            .map(|f| {
                use prost::Message as _;
                HttpBody::decode(&f[frame::HEADER_LEN..]).unwrap().data
            })
            .collect();
        assert_eq!(datas, [&b"abcd"[..], b"efgh", b"ij", b"kl"]);
    }
}
