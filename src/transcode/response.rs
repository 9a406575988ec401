//! The response adapter: the inner service's gRPC frames and trailers in,
//! the client's form out (one JSON body, NDJSON lines, SSE events, or
//! WebSocket messages), one message at a time, with the final status
//! rendered at the end. The deadline lives here, so that it ends a stream
//! that has already started.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::response::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame};
use serde_json::value::RawValue;
use tokio::time::{Instant, Sleep};

use crate::__private::json::JsonOptions;
use crate::body::DualBody;
use crate::classify::{Codec, Dialect, EVENT_STREAM, NDJSON, Respond, is_grpc};
use crate::metadata;
use crate::registry::{JsonContext, ProtoToJson};
use crate::status::{Code, Status};
use crate::transcode::envelope::{self, Compression};
use crate::transcode::request::HttpBody;
use crate::transcode::{Failure, frame};

use crate::trace::CallSpan;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One response message to the client's JSON.
#[derive(Debug, Clone)]
pub(crate) struct Renderer {
    pub(crate) codec: ProtoToJson,
    /// The options and the types an `Any` may hold.
    pub(crate) cx: JsonContext,
    /// The `response_body` field of a REST rule: (JSON name, proto name).
    pub(crate) select: Option<(&'static str, &'static str)>,
}

impl Renderer {
    /// Appends the JSON of `message` (or of its `response_body` field).
    fn render(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), Status> {
        let codec = self.codec;
        let Some((json_name, proto_name)) = self.select else {
            return codec(message, out, &self.cx).map_err(undecodable);
        };
        let mut whole = Vec::with_capacity(message.len() * 2 + 16);
        codec(message, &mut whole, &self.cx).map_err(undecodable)?;
        let key = if self.cx.options.proto_names {
            proto_name
        } else {
            json_name
        };
        let fields: BTreeMap<&str, &RawValue> = serde_json::from_slice(&whole).map_err(|e| {
            Status::new(
                Code::Internal,
                format!("the response JSON does not parse: {e}"),
            )
        })?;
        match fields.get(key) {
            Some(value) => out.extend_from_slice(value.get().as_bytes()),
            // The field has its default value and was omitted.
            None => out.extend_from_slice(b"null"),
        }
        Ok(())
    }
}

fn undecodable(e: crate::transcode::json::DecodeError) -> Status {
    Status::new(
        Code::Internal,
        format!("the gRPC response does not decode: {e}"),
    )
}

/// What the response stream produced next.
#[derive(Debug)]
pub(crate) enum Event {
    /// One message, rendered for the client (with its line or event framing).
    Message(Vec<u8>),
    /// Nothing for a while: an SSE comment keeps the connection alive.
    KeepAlive,
    /// The end: the call's status and the handler's other trailers.
    End(Status, HeaderMap),
}

/// How a call is answered, fixed when it starts.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) respond: Respond,
    pub(crate) renderer: Renderer,
    /// The client's deadline (for messages) and its timer.
    pub(crate) deadline: Option<(Duration, Pin<Box<Sleep>>)>,
    /// The SSE keep-alive interval.
    pub(crate) keep_alive: Option<Duration>,
    pub(crate) failure: Failure,
    /// The largest response message read (`max_message_bytes`).
    pub(crate) limit: usize,
    /// Send the head as soon as the handler has accepted the call, not at
    /// the first message: for bidi streams, whose first answer may wait for
    /// messages the client sends only once it has the head.
    pub(crate) eager: bool,
    /// How the answer's messages may be compressed (Connect, gRPC-Web).
    pub(crate) compress: Option<Compression>,
    /// A `HEAD` request: the head of the answer, without its body.
    pub(crate) head: bool,
    /// The call's span.
    pub(crate) span: CallSpan,
    /// An HTTP/1.1 request: if the layer gave up reading its body, the
    /// answer says `connection: close` (hyper closes it).
    pub(crate) http1: bool,
}

impl Answer {
    /// The answer when the deadline passed before the inner service
    /// answered.
    pub(crate) fn deadline_exceeded<B>(&self) -> Response<DualBody<B>> {
        let status = self.deadline_status();
        let http = status.code.http_status();
        let (metadata, trailers) = (HeaderMap::new(), HeaderMap::new());
        let dialect = self.respond.dialect();
        status.to_rpc_response(dialect, http, metadata, &trailers, &self.renderer.cx)
    }

    /// The status of a call whose deadline passed.
    pub(crate) fn deadline_status(&self) -> Status {
        let timeout = self.deadline.as_ref().map(|(d, _)| *d).unwrap_or_default();
        deadline_status(timeout)
    }

    /// Polls the deadline timer, if any.
    pub(crate) fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match &mut self.deadline {
            Some((_, sleep)) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }

    /// Maps the inner service's response head: an answer now (trailers-only
    /// errors, non-gRPC answers), or a stream to read the messages from.
    pub(crate) fn start<B>(self, response: Response<B>) -> Start<B> {
        let (mut parts, body) = response.into_parts();
        if let Some(mut status) = Status::from_headers(&parts.headers) {
            // Trailers-only: no message.
            if let Some((http, failure)) = self.failure.get() {
                status = failure;
                parts.status = http;
            } else {
                parts.status = status.code.http_status();
            }
            let metadata = std::mem::take(&mut parts.headers);
            self.span.code(status.code);
            let stream = ResponseStream::new(Box::pin(body), self);
            let mut opening = Opening::new(parts, stream);
            opening.headers_from(metadata);
            return Start::Stream(opening.end(status, HeaderMap::new()));
        }
        // Not a gRPC answer (a plain HTTP error from a layer below): as it is.
        if !is_grpc(&parts.headers) {
            return Start::Done(Response::from_parts(parts, DualBody::new(body)));
        }
        let metadata = std::mem::take(&mut parts.headers);
        // Connect streams and gRPC-Web answer 200 whatever happens next:
        // the head goes at once.
        let eager = match self.respond {
            Respond::ConnectStream(_) | Respond::GrpcWeb { .. } => true,
            Respond::Json | Respond::Raw | Respond::Connect(_) => false,
            _ => self.eager,
        };
        let mut opening = Opening::new(parts, ResponseStream::new(Box::pin(body), self));
        opening.headers_from(metadata);
        if eager {
            return Start::Done(opening.into_stream());
        }
        Start::Stream(opening)
    }
}

#[cfg(feature = "websocket")]
impl Answer {
    /// The inner service's answer as events, for a WebSocket (whose head,
    /// the 101, is sent already, so that response metadata has nowhere to
    /// go): the stream of its messages, or `Err` with the call's final
    /// status when there is nothing to read (a trailers-only answer, the
    /// request side's failure winning as in [`ResponseStream`]; an answer
    /// that is not gRPC). That status may be OK (an empty stream answered
    /// trailers-only).
    pub(crate) fn into_events<B>(self, response: Response<B>) -> Result<ResponseStream<B>, Status> {
        let (parts, body) = response.into_parts();
        if let Some(status) = Status::from_headers(&parts.headers) {
            return Err(match self.failure.get() {
                Some((_, failure)) if status.code != Code::Ok => failure,
                _ => status,
            });
        }
        if !is_grpc(&parts.headers) {
            return Err(Status::new(
                Code::from_http(parts.status),
                format!("the service answered HTTP {} instead of gRPC", parts.status),
            ));
        }
        Ok(ResponseStream::new(Box::pin(body), self))
    }
}

fn deadline_status(timeout: Duration) -> Status {
    Status::new(
        Code::DeadlineExceeded,
        format!("deadline of {timeout:?} exceeded"),
    )
}

/// The result of [`Answer::start`].
#[derive(Debug)]
// Not boxed: an `Opening` is made for every transcoded call, and moves
// straight into the response future.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Start<B> {
    Done(Response<DualBody<B>>),
    Stream(Opening<B>),
}

/// A gRPC response being read until its head can be sent: for one JSON
/// body, to the end; for a stream, to the first message (so that an error
/// before it still gets its HTTP status).
#[derive(Debug)]
pub(crate) struct Opening<B> {
    parts: Option<Parts>,
    stream: ResponseStream<B>,
    message: Option<Vec<u8>>,
    done: Option<Response<DualBody<B>>>,
}

impl<B> Opening<B> {
    fn new(parts: Parts, stream: ResponseStream<B>) -> Self {
        Self {
            parts: Some(parts),
            stream,
            message: None,
            done: None,
        }
    }

    /// The handler's response metadata as HTTP headers.
    fn headers_from(&mut self, metadata: HeaderMap) {
        if let Some(parts) = &mut self.parts {
            parts.headers = metadata;
            metadata::response_to_http(&mut parts.headers, None);
        }
    }

    /// The stream into the response for its end status.
    fn end(mut self, status: Status, trailers: HeaderMap) -> Self {
        self.finish(status, trailers);
        self
    }

    fn finish(&mut self, status: Status, trailers: HeaderMap) {
        let mut parts = self.parts.take().expect("finished once");
        let cx = &self.stream.renderer.cx;
        let dialect = self.stream.respond.dialect();
        let response = if status.code != Code::Ok && dialect != Dialect::Json {
            let http = status.code.http_status();
            let metadata = std::mem::take(&mut parts.headers);
            let response: Response<Bytes> =
                status.to_rpc_response(dialect, http, metadata, &trailers, cx);
            let (rpc, body) = response.into_parts();
            parts.status = rpc.status;
            parts.headers = rpc.headers;
            Response::from_parts(parts, DualBody::full(body))
        } else if status.code != Code::Ok {
            parts.status = match self.stream.failure.get() {
                Some((http, _)) => http,
                None => status.code.http_status(),
            };
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Response::from_parts(parts, DualBody::full(status.to_json(cx)))
        } else if self.stream.single() {
            match self.message.take() {
                Some(message) => {
                    metadata::trailers_to_headers(&mut parts.headers, &trailers);
                    self.stream.set_content_type(&mut parts.headers);
                    parts.status = StatusCode::OK;
                    let body = match self.stream.compress {
                        Some(compression)
                            if matches!(self.stream.respond, Respond::Connect(_))
                                && message.len() >= envelope::COMPRESS_MIN_BYTES =>
                        {
                            parts
                                .headers
                                .insert(header::CONTENT_ENCODING, compression.header_value());
                            compression.compress(&message)
                        }
                        _ => message,
                    };
                    Response::from_parts(parts, DualBody::full(body.into()))
                }
                None => {
                    let status = Status::new(Code::Internal, "the gRPC response has no message");
                    parts.status = status.code.http_status();
                    Response::from_parts(parts, DualBody::full(status.to_json(cx)))
                }
            }
        } else {
            // A stream that ended with no message.
            parts.status = StatusCode::OK;
            self.stream.set_content_type(&mut parts.headers);
            self.stream.finished = true;
            match self.stream.end_frame(status, trailers).into_data() {
                Ok(last) => self.stream.pending = Some(last),
                Err(frame) => self.stream.trailers = frame.into_trailers().ok(),
            }
            let stream = {
                let span = self.stream.span.clone();
                std::mem::replace(&mut self.stream, ResponseStream::finished(span))
            };
            Response::from_parts(parts, DualBody::response(stream))
        };
        if let Some(len) = response.body().full_len() {
            self.stream.span.bytes_out(len);
        }
        // The layer stopped reading the request (too large, malformed):
        // hyper closes an HTTP/1.1 connection whose request was not read to
        // its end, so the answer says so (a pooled client then does not
        // send its next request on it).
        let mut response = response;
        if self.stream.http1 && self.stream.failure.get().is_some() {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        self.done = Some(self.stream.strip_for_head(response));
    }
}

impl<B> Opening<B> {
    /// The response now: 200, the stream's content type, the stream.
    fn into_stream(mut self) -> Response<DualBody<B>> {
        let mut parts = self.parts.take().expect("answered once");
        parts.status = StatusCode::OK;
        self.stream.set_content_type(&mut parts.headers);
        let head = self.stream.head;
        let response = Response::from_parts(parts, DualBody::response(self.stream));
        if head {
            return response.map(|_| DualBody::full(Bytes::new()));
        }
        response
    }
}

impl<B> Opening<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    /// Reads until the head can be sent.
    pub(crate) fn poll_response(&mut self, cx: &mut Context<'_>) -> Poll<Response<DualBody<B>>> {
        loop {
            if let Some(done) = self.done.take() {
                return Poll::Ready(done);
            }
            match std::task::ready!(self.stream.poll_event(cx)) {
                Event::Message(json) if self.stream.single() => {
                    if self.message.replace(json).is_some() {
                        let status = Status::new(
                            Code::Internal,
                            "the gRPC response has more than one message",
                        );
                        self.finish(status, HeaderMap::new());
                    }
                }
                Event::Message(json) => {
                    let mut parts = self.parts.take().expect("answered once");
                    parts.status = StatusCode::OK;
                    self.stream.set_content_type(&mut parts.headers);
                    self.stream.pending = Some(json.into());
                    let stream = {
                        let span = self.stream.span.clone();
                        std::mem::replace(&mut self.stream, ResponseStream::finished(span))
                    };
                    let response = Response::from_parts(parts, DualBody::response(stream));
                    return Poll::Ready(self.stream.strip_for_head(response));
                }
                Event::KeepAlive => {}
                Event::End(status, trailers) => self.finish(status, trailers),
            }
        }
    }
}

/// The gRPC response body, read one message at a time and rendered.
pub(crate) struct ResponseStream<B> {
    body: Option<Pin<Box<B>>>,
    decoder: frame::Decoder,
    renderer: Renderer,
    respond: Respond,
    deadline: Option<(Duration, Pin<Box<Sleep>>)>,
    keep_alive: Option<(Duration, Pin<Box<Sleep>>)>,
    failure: Failure,
    finished: bool,
    /// A chunk to send before reading on (the first message).
    pending: Option<Bytes>,
    /// Trailers to send last.
    trailers: Option<HeaderMap>,
    /// For raw answers: the first `google.api.HttpBody`'s content type.
    content_type: Option<HeaderValue>,
    compress: Option<Compression>,
    head: bool,
    span: CallSpan,
    http1: bool,
    /// Why the stream ends, found while gathering messages into one frame
    /// (see [`COALESCE_BYTES`]): given at the next poll.
    deferred: Option<Status>,
}

/// An HTTP body frame of a stream carries every message the inner service
/// has already answered, up to this size: one chunk or DATA frame, one
/// write, for what tonic sent in one (no waiting for more).
const COALESCE_BYTES: usize = 32 * 1024;

impl<B> std::fmt::Debug for ResponseStream<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("respond", &self.respond)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<B> ResponseStream<B> {
    fn new(body: Pin<Box<B>>, answer: Answer) -> Self {
        let keep_alive = match (answer.respond, answer.keep_alive) {
            (Respond::Sse, Some(every)) if !every.is_zero() => {
                Some((every, Box::pin(tokio::time::sleep(every))))
            }
            _ => None,
        };
        Self {
            body: Some(body),
            decoder: frame::Decoder::new(answer.limit),
            renderer: answer.renderer,
            respond: answer.respond,
            deadline: answer.deadline,
            keep_alive,
            failure: answer.failure,
            finished: false,
            pending: None,
            trailers: None,
            content_type: None,
            compress: answer.compress,
            head: answer.head,
            span: answer.span,
            http1: answer.http1,
            deferred: None,
        }
    }

    /// A stream with nothing left to send (what stays behind in an
    /// [`Opening`] once its stream has become a response body).
    fn finished(span: CallSpan) -> Self {
        Self {
            body: None,
            decoder: frame::Decoder::new(0),
            renderer: Renderer {
                codec: |_, _, _| Ok(()),
                cx: JsonContext::linked(JsonOptions::default()),
                select: None,
            },
            respond: Respond::Json,
            deadline: None,
            keep_alive: None,
            failure: Failure::default(),
            finished: true,
            pending: None,
            trailers: None,
            content_type: None,
            compress: None,
            head: false,
            span,
            http1: false,
            deferred: None,
        }
    }

    /// Whether the answer is one message (JSON or raw), sent whole.
    fn single(&self) -> bool {
        matches!(
            self.respond,
            Respond::Json | Respond::Raw | Respond::Connect(_)
        )
    }

    /// A `HEAD` answer loses its body (a stream's is dropped unread).
    fn strip_for_head<B2>(&self, response: Response<DualBody<B2>>) -> Response<DualBody<B2>> {
        if self.head {
            response.map(|_| DualBody::full(Bytes::new()))
        } else {
            response
        }
    }

    /// The last frame of a stream that ended with `status`: the error line
    /// or event (then the HTTP trailers), the end-of-stream message, the
    /// gRPC-Web trailers frame, or the HTTP trailers alone.
    fn end_frame(&mut self, status: Status, trailers: HeaderMap) -> Frame<Bytes> {
        let cx = &self.renderer.cx;
        match self.respond {
            Respond::ConnectStream(_) => {
                let end = status.to_connect_end(&trailers, cx);
                return Frame::data(envelope::envelope(envelope::END_STREAM, &end));
            }
            Respond::GrpcWeb { text, .. } => {
                let frame = status.to_grpc_web_trailers(&trailers);
                return Frame::data(if text {
                    envelope::to_base64(&frame)
                } else {
                    frame
                });
            }
            _ => {}
        }
        let last = match self.respond {
            _ if status.code == Code::Ok => None,
            Respond::Sse => Some(status.to_sse(cx)),
            _ => Some(status.to_ndjson(cx)),
        };
        let mut all = status.to_trailers();
        all.extend(trailers);
        match last {
            Some(last) => {
                self.trailers = Some(all);
                Frame::data(last)
            }
            None => Frame::trailers(all),
        }
    }

    fn set_content_type(&self, headers: &mut HeaderMap) {
        // Constants (a `from_static` at run time checks every byte).
        let content_type = match self.respond {
            Respond::Sse => {
                headers.insert(
                    header::CACHE_CONTROL,
                    const { HeaderValue::from_static("no-cache") },
                );
                const { HeaderValue::from_static(EVENT_STREAM) }
            }
            Respond::Json | Respond::WebSocket | Respond::Connect(Codec::Json) => {
                const { HeaderValue::from_static("application/json") }
            }
            Respond::Connect(Codec::Proto) => {
                const { HeaderValue::from_static("application/proto") }
            }
            Respond::ConnectStream(_) | Respond::GrpcWeb { .. } => {
                let name = match self.respond {
                    Respond::ConnectStream(_) => "connect-content-encoding",
                    _ => "grpc-encoding",
                };
                if let Some(compression) = self.compress {
                    headers.insert(name, compression.header_value());
                }
                HeaderValue::from_static(self.respond.dialect().content_type())
            }
            Respond::Ndjson => const { HeaderValue::from_static(NDJSON) },
            Respond::Raw | Respond::RawStream => self
                .content_type
                .clone()
                .unwrap_or(const { HeaderValue::from_static("application/octet-stream") }),
        };
        headers.insert(header::CONTENT_TYPE, content_type);
    }

    /// The end of the call: the request side's failure, if any, wins over
    /// what the handler made of it.
    fn end(&mut self, status: Status, trailers: HeaderMap) -> Poll<Event> {
        self.finished = true;
        self.body = None;
        let status = match self.failure.get() {
            Some((_, failure)) if status.code != Code::Ok => failure,
            _ => status,
        };
        self.span.code(status.code);
        Poll::Ready(Event::End(status, trailers))
    }

    /// One message's framing for the client.
    fn render(&mut self, message: Bytes) -> Result<Vec<u8>, Status> {
        if let Respond::Raw | Respond::RawStream = self.respond {
            use prost::Message as _;
            let body = HttpBody::decode(message).map_err(|e| {
                Status::new(
                    Code::Internal,
                    format!("the gRPC response is not a google.api.HttpBody: {e}"),
                )
            })?;
            if self.content_type.is_none() && !body.content_type.is_empty() {
                self.content_type = HeaderValue::try_from(body.content_type).ok();
            }
            return Ok(body.data.into());
        }
        let (codec, enveloped, text) = match self.respond {
            Respond::Connect(codec) => (codec, false, false),
            Respond::ConnectStream(codec) => (codec, true, false),
            Respond::GrpcWeb { codec, text } => (codec, true, text),
            _ => (Codec::Json, false, false),
        };
        if codec == Codec::Proto && !enveloped {
            return Ok(message.to_vec());
        }
        if enveloped {
            let payload = match codec {
                Codec::Proto => message.to_vec(),
                Codec::Json => {
                    let mut json = Vec::with_capacity(message.len() * 2 + 16);
                    self.renderer.render(&message, &mut json)?;
                    json
                }
            };
            let (flags, payload) = match self.compress {
                Some(compression) if payload.len() >= envelope::COMPRESS_MIN_BYTES => {
                    (envelope::COMPRESSED, compression.compress(&payload))
                }
                _ => (0, payload),
            };
            let framed = envelope::envelope(flags, &payload);
            return Ok(if text {
                envelope::to_base64(&framed).into()
            } else {
                framed.into()
            });
        }
        let mut out = Vec::with_capacity(message.len() * 2 + 16);
        if self.respond == Respond::Sse {
            out.extend_from_slice(b"data: ");
        }
        self.renderer.render(&message, &mut out)?;
        match self.respond {
            Respond::Ndjson => out.push(b'\n'),
            Respond::Sse => out.extend_from_slice(b"\n\n"),
            _ => {}
        }
        Ok(out)
    }
}

/// The status of a call whose service panicked while streaming its answer.
pub(crate) const PANICKED_STREAMING: &str = "the service panicked while streaming its answer";

impl<B> ResponseStream<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    /// The next message, keep-alive or the end.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        if self.finished {
            return Poll::Ready(Event::End(Status::new(Code::Ok, ""), HeaderMap::new()));
        }
        if let Some(status) = self.deferred.take() {
            return self.end(status, HeaderMap::new());
        }
        if let Some((timeout, sleep)) = &mut self.deadline
            && sleep.as_mut().poll(cx).is_ready()
        {
            let status = deadline_status(*timeout);
            return self.end(status, HeaderMap::new());
        }
        loop {
            match self.decoder.next() {
                Ok(Some(message)) => {
                    self.reset_keep_alive();
                    return match self.render(message) {
                        Ok(out) => Poll::Ready(Event::Message(out)),
                        Err(status) => self.end(status, HeaderMap::new()),
                    };
                }
                Ok(None) => {}
                Err(e) => {
                    let code = match e {
                        frame::FrameError::TooLarge(..) => Code::ResourceExhausted,
                        _ => Code::Internal,
                    };
                    return self.end(Status::new(code, e.to_string()), HeaderMap::new());
                }
            }
            let Some(body) = self.body.as_mut() else {
                return self.end(Status::new(Code::Ok, ""), HeaderMap::new());
            };
            // A panic making the answer (a handler's stream) ends the call
            // with INTERNAL in the client's protocol, after what was sent.
            let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                body.as_mut().poll_frame(cx)
            }));
            let Ok(polled) = polled else {
                self.body = None;
                let status = Status::new(Code::Internal, PANICKED_STREAMING);
                return self.end(status, HeaderMap::new());
            };
            match polled {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => self.decoder.push(data),
                    Err(frame) => {
                        if let Ok(mut trailers) = frame.into_trailers() {
                            let status = Status::from_headers(&trailers).unwrap_or_else(|| {
                                Status::new(Code::Internal, "the gRPC response has no grpc-status")
                            });
                            metadata::strip_grpc(&mut trailers);
                            return self.end(status, trailers);
                        }
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    let e: BoxError = e.into();
                    let status = Status::new(
                        Code::Internal,
                        format!("failed to read the gRPC response: {e}"),
                    );
                    return self.end(status, HeaderMap::new());
                }
                Poll::Ready(None) => {
                    let message = if self.decoder.has_partial() {
                        "the gRPC response ends inside a message"
                    } else {
                        "the gRPC response ended without grpc-status"
                    };
                    return self.end(Status::new(Code::Internal, message), HeaderMap::new());
                }
                Poll::Pending => {
                    if let Some((every, sleep)) = &mut self.keep_alive
                        && sleep.as_mut().poll(cx).is_ready()
                    {
                        let every = *every;
                        sleep.as_mut().reset(Instant::now() + every);
                        return Poll::Ready(Event::KeepAlive);
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    fn reset_keep_alive(&mut self) {
        if let Some((every, sleep)) = &mut self.keep_alive {
            let every = *every;
            sleep.as_mut().reset(Instant::now() + every);
        }
    }

    /// The stream as HTTP body frames (NDJSON or SSE).
    pub(crate) fn poll_body(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = self.poll_frames(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.span.bytes_out(data.len());
        }
        polled
    }

    fn poll_frames(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(chunk) = self.pending.take() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(trailers) = self.trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(match std::task::ready!(self.poll_event(cx)) {
            Event::Message(mut chunk) => {
                self.gather(&mut chunk);
                Frame::data(chunk.into())
            }
            Event::KeepAlive => Frame::data(Bytes::from_static(b": keep-alive\n\n")),
            // A download cut short: abort the body, so that the client
            // cannot take a truncated file for a whole one.
            Event::End(status, _)
                if self.respond == Respond::RawStream && status.code != Code::Ok =>
            {
                return Poll::Ready(Some(Err(Box::new(status.to_tonic()))));
            }
            Event::End(status, trailers) => self.end_frame(status, trailers),
        })))
    }

    /// Appends to `chunk` the messages already read from the inner body
    /// (up to [`COALESCE_BYTES`]), for the framings whose messages simply
    /// follow one another (not gRPC-Web text, whose chunks are base64 each).
    fn gather(&mut self, chunk: &mut Vec<u8>) {
        let joinable = match self.respond {
            Respond::Ndjson | Respond::Sse | Respond::ConnectStream(_) => true,
            Respond::GrpcWeb { text, .. } => !text,
            _ => false,
        };
        while joinable && chunk.len() < COALESCE_BYTES {
            match self.decoder.next() {
                Ok(Some(message)) => match self.render(message) {
                    Ok(out) => chunk.extend_from_slice(&out),
                    Err(status) => {
                        self.deferred = Some(status);
                        return;
                    }
                },
                Ok(None) => return,
                Err(e) => {
                    let code = match e {
                        frame::FrameError::TooLarge(..) => Code::ResourceExhausted,
                        _ => Code::Internal,
                    };
                    self.deferred = Some(Status::new(code, e.to_string()));
                    return;
                }
            }
        }
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.finished && self.pending.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcode::json::proto_to_json;
    use bytes::BytesMut;
    use http_body_util::{BodyExt, StreamBody};
    use prost::Message as _;

    type Frames = Vec<Result<Frame<Bytes>, BoxError>>;

    fn framed(message: &impl prost::Message) -> Bytes {
        let mut buf = BytesMut::new();
        let at = frame::start(&mut buf);
        message.encode(&mut buf).unwrap();
        frame::finish(&mut buf, at);
        buf.freeze()
    }

    fn status_message(code: i32, message: &str) -> crate::rpc::Status {
        crate::rpc::Status {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    fn trailers(code: &'static str) -> HeaderMap {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static(code));
        trailers.insert("x-sum", HeaderValue::from_static("7"));
        trailers
    }

    fn grpc_response(frames: Frames) -> Response<impl Body<Data = Bytes, Error = BoxError>> {
        Response::builder()
            .header("content-type", "application/grpc")
            .header("x-meta", "m")
            .body(StreamBody::new(tokio_stream::iter(frames)))
            .unwrap()
    }

    fn answer(respond: Respond, options: JsonOptions) -> Answer {
        Answer {
            respond,
            renderer: Renderer {
                codec: proto_to_json::<crate::rpc::Status>,
                cx: JsonContext::linked(options),
                select: None,
            },
            deadline: None,
            keep_alive: None,
            failure: Failure::default(),
            limit: 1024,
            eager: false,
            compress: None,
            head: false,
            span: CallSpan::default(),
            http1: false,
        }
    }

    async fn run<B>(
        answer: Answer,
        response: Response<B>,
    ) -> (StatusCode, HeaderMap, String, Option<HeaderMap>)
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let response = match answer.start(response) {
            Start::Done(response) => response,
            Start::Stream(mut opening) => {
                std::future::poll_fn(|cx| opening.poll_response(cx)).await
            }
        };
        let (parts, body) = response.into_parts();
        let collected = body.collect().await.ok().unwrap();
        let trailers = collected.trailers().cloned();
        let text = String::from_utf8(collected.to_bytes().to_vec()).unwrap();
        (parts.status, parts.headers, text, trailers)
    }

    #[tokio::test]
    async fn ndjson_lines_then_trailers() {
        let frames: Frames = vec![
            Ok(Frame::data(framed(&status_message(1, "a")))),
            Ok(Frame::data(framed(&status_message(2, "b")))),
            Ok(Frame::trailers(trailers("0"))),
        ];
        let (status, headers, text, trailers) = run(
            answer(Respond::Ndjson, JsonOptions::default()),
            grpc_response(frames),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], NDJSON);
        assert_eq!(headers["x-meta"], "m");
        assert_eq!(
            text,
            "{\"code\":1,\"message\":\"a\"}\n{\"code\":2,\"message\":\"b\"}\n"
        );
        let trailers = trailers.unwrap();
        assert_eq!(
            (&trailers["grpc-status"], &trailers["x-sum"]),
            (
                &"0".parse::<HeaderValue>().unwrap(),
                &"7".parse::<HeaderValue>().unwrap()
            )
        );
    }

    /// Messages the inner service sent in one frame go out in one frame
    /// (after the first, which goes with the head); a message that does not
    /// render among them ends the stream after those before it.
    #[tokio::test]
    async fn messages_read_together_go_out_together() {
        let together = |messages: &[Bytes]| Bytes::from(messages.concat());
        let bad = {
            // A frame whose message is not a Status (field 1 as a group).
            let mut buf = BytesMut::new();
            let at = frame::start(&mut buf);
            buf.extend_from_slice(&[0x0b]);
            frame::finish(&mut buf, at);
            buf.freeze()
        };
        let frames: Frames = vec![
            Ok(Frame::data(framed(&status_message(1, "a")))),
            Ok(Frame::data(together(&[
                framed(&status_message(2, "b")),
                framed(&status_message(3, "c")),
                framed(&status_message(4, "d")),
            ]))),
            Ok(Frame::data(together(&[
                framed(&status_message(5, "e")),
                bad,
                framed(&status_message(6, "f")),
            ]))),
            Ok(Frame::trailers(trailers("0"))),
        ];
        let response =
            match answer(Respond::Ndjson, JsonOptions::default()).start(grpc_response(frames)) {
                Start::Done(response) => response,
                Start::Stream(mut opening) => {
                    std::future::poll_fn(|cx| opening.poll_response(cx)).await
                }
            };
        let mut body = response.into_body();
        let mut chunks = Vec::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.unwrap().into_data() {
                chunks.push(String::from_utf8(data.to_vec()).unwrap());
            }
        }
        assert_eq!(chunks.len(), 4, "{chunks:#?}");
        assert_eq!(chunks[0], "{\"code\":1,\"message\":\"a\"}\n");
        assert_eq!(chunks[1].lines().count(), 3, "{chunks:#?}");
        assert_eq!(chunks[2], "{\"code\":5,\"message\":\"e\"}\n");
        assert!(
            chunks[3].starts_with("{\"error\":{\"code\":13"),
            "{chunks:#?}"
        );
    }

    #[tokio::test]
    async fn sse_error_after_a_message_is_an_error_event() {
        let frames: Frames = vec![
            Ok(Frame::data(framed(&status_message(1, "a")))),
            Ok(Frame::trailers({
                let mut t = trailers("9");
                t.insert("grpc-message", HeaderValue::from_static("locked%21"));
                t
            })),
        ];
        let (status, headers, text, _) = run(
            answer(Respond::Sse, JsonOptions::default()),
            grpc_response(frames),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], EVENT_STREAM);
        assert_eq!(
            text,
            "data: {\"code\":1,\"message\":\"a\"}\n\nevent: error\ndata: {\"code\":9,\"message\":\"locked!\"}\n\n"
        );
    }

    #[tokio::test]
    async fn an_error_before_the_first_message_is_an_http_error() {
        let frames: Frames = vec![Ok(Frame::trailers(trailers("5")))];
        let (status, headers, text, _) = run(
            answer(Respond::Ndjson, JsonOptions::default()),
            grpc_response(frames),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(text, "{\"code\":5,\"message\":\"\"}");
    }

    #[tokio::test]
    async fn unary_json_collects_one_message_and_prefixes_trailers() {
        let frames: Frames = vec![
            Ok(Frame::data(framed(&status_message(3, "x")))),
            Ok(Frame::trailers(trailers("0"))),
        ];
        let (status, headers, text, _) = run(
            answer(Respond::Json, JsonOptions::default()),
            grpc_response(frames),
        )
        .await;
        assert_eq!(
            (status, text.as_str()),
            (StatusCode::OK, "{\"code\":3,\"message\":\"x\"}")
        );
        assert_eq!(headers["trailer-x-sum"], "7");
        // Two messages for a unary call: an error, not a guess.
        let frames: Frames = vec![
            Ok(Frame::data(framed(&status_message(3, "x")))),
            Ok(Frame::data(framed(&status_message(4, "y")))),
            Ok(Frame::trailers(trailers("0"))),
        ];
        let (status, _, text, _) = run(
            answer(Respond::Json, JsonOptions::default()),
            grpc_response(frames),
        )
        .await;
        assert_eq!(status, 500, "{text}");
    }

    #[tokio::test]
    async fn an_over_limit_message_is_resource_exhausted() {
        let big = status_message(1, &"x".repeat(2000));
        let frames: Frames = vec![
            Ok(Frame::data(framed(&status_message(1, "ok")))),
            Ok(Frame::data(framed(&big))),
            Ok(Frame::trailers(trailers("0"))),
        ];
        let (status, _, text, _) = run(
            answer(Respond::Ndjson, JsonOptions::default()),
            grpc_response(frames),
        )
        .await;
        assert_eq!(status, 200);
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("{\"error\":{\"code\":8,"), "{last}");
        assert!(last.contains("limit of 1024 bytes"), "{last}");
    }

    #[tokio::test]
    async fn a_request_side_failure_wins_over_the_handler_status() {
        let answer = answer(Respond::Json, JsonOptions::default());
        answer.failure.set(
            StatusCode::PAYLOAD_TOO_LARGE,
            Status::new(Code::ResourceExhausted, "line 2 is too large"),
        );
        let response = Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "2")
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let (status, _, text, _) = run(answer, response).await;
        assert_eq!(status, 413);
        assert!(text.contains("line 2 is too large"), "{text}");
    }

    #[cfg(feature = "websocket")]
    #[tokio::test]
    async fn websocket_events_are_bare_json_then_the_status() {
        let frames: Frames = vec![
            Ok(Frame::data(framed(&status_message(1, "a")))),
            Ok(Frame::trailers(trailers("9"))),
        ];
        let mut events = answer(Respond::WebSocket, JsonOptions::default())
            .into_events(grpc_response(frames))
            .unwrap();
        match std::future::poll_fn(|cx| events.poll_event(cx)).await {
            Event::Message(json) => assert_eq!(json, b"{\"code\":1,\"message\":\"a\"}"),
            other => panic!("{other:?}"),
        }
        match std::future::poll_fn(|cx| events.poll_event(cx)).await {
            Event::End(status, trailers) => {
                assert_eq!(status.code, Code::FailedPrecondition);
                assert_eq!(trailers["x-sum"], "7");
            }
            other => panic!("{other:?}"),
        }
        // Trailers-only: the status at once, the request side's failure
        // winning over an error.
        let failed = answer(Respond::WebSocket, JsonOptions::default());
        failed.failure.set(
            StatusCode::BAD_REQUEST,
            Status::new(Code::InvalidArgument, "message 2: bad"),
        );
        let response = Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "2")
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let status = failed.into_events(response).unwrap_err();
        assert_eq!(
            (status.code, &*status.message),
            (Code::InvalidArgument, "message 2: bad")
        );
        // Not gRPC at all: gRPC's table for HTTP statuses.
        let response = Response::builder()
            .status(401)
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let status = answer(Respond::WebSocket, JsonOptions::default())
            .into_events(response)
            .unwrap_err();
        assert_eq!(status.code, Code::Unauthenticated);
        assert!(status.message.contains("401"), "{}", status.message);
    }

    #[tokio::test]
    async fn the_deadline_ends_a_started_stream() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
        tx.send(Ok(Frame::data(framed(&status_message(1, "a")))))
            .await
            .unwrap();
        let mut answer = answer(Respond::Ndjson, JsonOptions::default());
        let timeout = Duration::from_millis(50);
        answer.deadline = Some((timeout, Box::pin(tokio::time::sleep(timeout))));
        let response = Response::builder()
            .header("content-type", "application/grpc")
            .body(StreamBody::new(
                tokio_stream::wrappers::ReceiverStream::new(rx),
            ))
            .unwrap();
        let (status, _, text, trailers) = run(answer, response).await;
        drop(tx);
        assert_eq!(status, 200);
        let last = text.lines().last().unwrap();
        assert!(last.starts_with("{\"error\":{\"code\":4,"), "{text}");
        assert_eq!(trailers.unwrap()["grpc-status"], "4");
    }

    #[test]
    fn response_body_is_looked_up_by_the_printed_name() {
        let detail = crate::rpc::BadRequest {
            field_violations: vec![crate::rpc::bad_request::FieldViolation {
                field: "a".into(),
                description: "b".into(),
                ..Default::default()
            }],
        };
        let bytes = detail.encode_to_vec();
        for proto_names in [false, true] {
            let renderer = Renderer {
                codec: proto_to_json::<crate::rpc::BadRequest>,
                cx: JsonContext::linked(JsonOptions {
                    proto_names,
                    ..JsonOptions::default()
                }),
                select: Some(("fieldViolations", "field_violations")),
            };
            let mut out = Vec::new();
            renderer.render(&bytes, &mut out).unwrap();
            assert_eq!(
                out, br#"[{"field":"a","description":"b"}]"#,
                "{proto_names}"
            );
        }
    }

    #[tokio::test]
    async fn sse_keeps_a_silent_stream_alive() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
        tx.send(Ok(Frame::data(framed(&status_message(1, "a")))))
            .await
            .unwrap();
        let mut answer = answer(Respond::Sse, JsonOptions::default());
        answer.keep_alive = Some(Duration::from_millis(30));
        let response = Response::builder()
            .header("content-type", "application/grpc")
            .body(StreamBody::new(
                tokio_stream::wrappers::ReceiverStream::new(rx),
            ))
            .unwrap();
        let Start::Stream(mut opening) = answer.start(response) else {
            panic!("a stream");
        };
        let response = std::future::poll_fn(|cx| opening.poll_response(cx)).await;
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert!(first.starts_with(b"data: "));
        // Nothing from the handler for a while: comments, not an end.
        for _ in 0..2 {
            let next = body.frame().await.unwrap().unwrap().into_data().unwrap();
            assert_eq!(&next[..], b": keep-alive\n\n");
        }
        tx.send(Ok(Frame::data(framed(&status_message(2, "b")))))
            .await
            .unwrap();
        let next = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert!(next.starts_with(b"data: {\"code\":2"), "{next:?}");
    }
}
