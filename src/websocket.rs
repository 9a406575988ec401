//! WebSocket calls: a WebSocket handshake (`GET`, HTTP/1.1, `Upgrade:
//! websocket`) on a method's RPC path, `/{package.Service}/{Method}`, calls
//! that method over the socket, whatever its kind. (REST routes are not
//! served this way: their request comes from the path, not from messages.)
//!
//! - **Client to server**: each text frame is one request message, in
//!   proto3 JSON. A unary or server-streaming method takes one message (the
//!   call goes on when it arrives; `{}` is the empty message). A client- or
//!   bidi-streaming method takes any number, and the client ends them with
//!   an **empty text frame** (no payload, or only whitespace): its
//!   half-close. WebSocket has no half-close of its own, and the close
//!   frame cannot be one: once a peer has sent its close frame, RFC 6455
//!   lets the other side send nothing but its own close, so no answer could
//!   follow. gRPC-over-WebSocket bridges (improbable-eng's grpc-web
//!   WebSocket transport) end the client's messages with an explicit frame
//!   the same way. Blank frames are otherwise ignored (after the end, or to
//!   a one-message method).
//! - **Server to client**: each response message is one text frame (its
//!   JSON, nothing around it), then a close frame with the call's status:
//!   `1000` for OK, otherwise `4000 + the gRPC code` with the reason
//!   `CODE_NAME: message`, cut to the 123 bytes a close reason holds.
//! - A bad request message (not JSON, not the method's input) ends the call
//!   with `4003` and a reason naming the message (`message 2: ...`); a
//!   message over `max_message_bytes`, with `4008`; a binary frame, or a
//!   message after the client's end, with `4003`. The deadline
//!   (`grpc-timeout` or `connect-timeout-ms` on the handshake) ends it with
//!   `4004`.
//! - The client's close frame, or its going away, cancels the call: the
//!   handler's response stream is dropped, as when a gRPC client cancels.
//! - The handshake's headers become the call's metadata by the rules of
//!   every transcoded call (`Sec-WebSocket-*` and hop-by-hop headers do
//!   not); the handler's response metadata and trailers are not sent (the
//!   `101` has gone out before the handler answers).
//! - Backpressure: at most [`QUEUE`] client messages wait for the handler;
//!   past that the socket is not read. Answers are written one at a time,
//!   each when the socket has taken the one before.
//!
//! The handshake is answered `101 Switching Protocols` at once; the call
//! runs in a task of its own (`tokio::spawn`) once the connection is
//! upgraded, reading the client's frames and writing the answers
//! concurrently. That needs a server that serves HTTP/1.1 upgrades:
//! `axum::serve`, or hyper-util's auto builder with
//! `serve_connection_with_upgrades`. tonic's `transport::Server` serves
//! connections without upgrades (hyper still hands the request an upgrade,
//! which fails once the 101 has gone out): a handshake there, recognized by
//! the connect info tonic adds to every request, is answered 501, as is one
//! with no upgrade to take at all (HTTP/2, a service driven directly).

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{Either, select};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Extensions, Response, StatusCode};
use http_body::Body;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::body::DualBody;
use crate::error::Rejection;
use crate::status::{Code, Status};
use crate::transcode::response::{Answer, Event, ResponseStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// How many client messages may wait for the handler: past that, the
/// socket is not read (TCP backpressure on the client).
const QUEUE: usize = 4;

/// How long the server waits for the client's close frame after sending
/// its own, before it drops the connection.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A checked WebSocket handshake, to be answered by [`Handshake::accept`].
#[derive(Debug)]
pub(crate) struct Handshake {
    accept: HeaderValue,
    upgrade: OnUpgrade,
    messages: mpsc::Sender<Bytes>,
    max_message_bytes: usize,
}

impl Handshake {
    /// Checks the handshake in `parts` (RFC 6455, 4.2.1) and takes its
    /// upgrade; the receiver is where the client's messages will arrive,
    /// one per item. Its headers are left for the metadata rules.
    pub(crate) fn check(
        parts: &mut http::request::Parts,
        max_message_bytes: usize,
    ) -> Result<(Self, mpsc::Receiver<Bytes>), Rejection> {
        if !upgrades_served(&parts.extensions) || tokio::runtime::Handle::try_current().is_err() {
            return Err(Rejection::WebSocketUnsupported);
        }
        let headers = &parts.headers;
        if !has_token(headers, header::CONNECTION, "upgrade") {
            return Err(bad("Connection must include \"upgrade\""));
        }
        match headers.get(header::SEC_WEBSOCKET_VERSION) {
            Some(version) if version == "13" => {}
            Some(version) => {
                return Err(bad(format!(
                    "Sec-WebSocket-Version must be 13, got {:?}",
                    String::from_utf8_lossy(version.as_bytes())
                )));
            }
            None => return Err(bad("Sec-WebSocket-Version is missing (13 is served)")),
        }
        let key = headers
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or_else(|| bad("Sec-WebSocket-Key is missing"))?;
        // The base64 of 16 bytes.
        if crate::status::decode_base64(key.as_bytes()).is_none_or(|key| key.len() != 16) {
            return Err(bad("Sec-WebSocket-Key must be the base64 of 16 bytes"));
        }
        let accept = HeaderValue::try_from(derive_accept_key(key.as_bytes()))
            .expect("base64 is a valid header value");
        let upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(Rejection::WebSocketUnsupported)?;
        let (messages, rx) = mpsc::channel(QUEUE);
        let handshake = Self {
            accept,
            upgrade,
            messages,
            max_message_bytes,
        };
        Ok((handshake, rx))
    }

    /// Answers the handshake: `101 Switching Protocols` now, and a task
    /// that, once the connection is upgraded, runs `call` (the inner
    /// service's future, not polled yet, whose request stream reads the
    /// receiver of [`check`](Self::check)) over the socket. `one_message`:
    /// the method takes a single request message (unary, server streaming).
    pub(crate) fn accept<F, E, B, ResBody>(
        self,
        call: F,
        answer: Answer,
        one_message: bool,
    ) -> Response<DualBody<ResBody>>
    where
        F: Future<Output = Result<Response<B>, E>> + Send + 'static,
        E: Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let Self {
            accept,
            upgrade,
            messages,
            max_message_bytes,
        } = self;
        let reader = Reader {
            inbox: Inbox::Open(messages),
            one_message,
            count: 0,
            limit: max_message_bytes,
        };
        tokio::spawn(session(upgrade, reader, call, answer, max_message_bytes));
        let mut response = Response::new(DualBody::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        response
    }
}

fn bad(problem: impl Into<String>) -> Rejection {
    Rejection::BadWebSocketHandshake(problem.into())
}

/// Whether the connection the request came on can be upgraded: hyper put
/// an upgrade in the request, and the server is not tonic's
/// `transport::Server`, which serves connections without upgrades (hyper
/// still puts one in, which then fails after the 101 has gone out). tonic's
/// server is recognized by the connect info it adds to every request.
fn upgrades_served(extensions: &Extensions) -> bool {
    use tonic::transport::server::TcpConnectInfo;
    #[cfg(unix)]
    let tonic_uds = extensions
        .get::<tonic::transport::server::UdsConnectInfo>()
        .is_some();
    #[cfg(not(unix))]
    let tonic_uds = false;
    extensions.get::<OnUpgrade>().is_some()
        && extensions.get::<TcpConnectInfo>().is_none()
        && !tonic_uds
}

/// Whether a comma-separated header has `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// How one side of the session ended.
#[derive(Debug)]
enum End {
    /// With this status, to send in the close frame.
    Status(Status),
    /// The client closed or went away: nothing more to send.
    Gone,
}

/// The session: the client's frames read and the answers written
/// concurrently, in one task, until one side ends; then the call is
/// dropped (cancelled if it was still running) and the socket closed.
async fn session<F, E, B>(
    upgrade: OnUpgrade,
    mut reader: Reader,
    call: F,
    answer: Answer,
    max_message_bytes: usize,
) where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    // The client went away before the upgrade: the call never starts.
    let Ok(upgraded) = upgrade.await else {
        return;
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes));
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let (mut sink, mut stream) = socket.split();
    let end = {
        let reading = pin!(reader.run(&mut stream));
        let writing = pin!(write_answers(&mut sink, call, answer));
        match select(reading, writing).await {
            Either::Left((end, _)) | Either::Right((end, _)) => end,
        }
        // Both futures are dropped here, the call with them.
    };
    match end {
        End::Status(status) => close(&mut sink, &mut stream, &status).await,
        // After the client's close frame, tungstenite has queued the echo
        // that completes the closing handshake.
        End::Gone => {
            let _ = tokio::time::timeout(CLOSE_WAIT, sink.close()).await;
        }
    }
}

/// Sends the close frame for `status`, then waits (at most [`CLOSE_WAIT`])
/// for the client's, so that the connection is not torn down under the
/// close frame before the client has read it.
async fn close(
    sink: &mut SplitSink<Socket, Message>,
    stream: &mut SplitStream<Socket>,
    status: &Status,
) {
    let (code, reason) = status.to_close();
    let frame = CloseFrame {
        code: code.into(),
        reason: Utf8Bytes::from(reason),
    };
    if sink.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(_)) = stream.next().await {}
    })
    .await;
}

/// The client's side: text frames to the call's request stream.
struct Reader {
    inbox: Inbox,
    one_message: bool,
    /// Messages read so far (blank frames aside).
    count: usize,
    limit: usize,
}

/// Where the client's next message goes.
enum Inbox {
    /// To the call's request stream.
    Open(mpsc::Sender<Bytes>),
    /// Nowhere: the client's messages have ended (its empty frame, or the
    /// one message of a unary or server-streaming method); another one is
    /// an error.
    Ended,
    /// Nowhere: the call no longer reads them (its answer ends the
    /// session); they are dropped.
    Unread,
}

impl Reader {
    /// Reads frames until the client leaves or breaks the protocol; after
    /// the client's last message it goes on reading (pings, the close).
    async fn run(&mut self, stream: &mut SplitStream<Socket>) -> End {
        loop {
            let next = self.count + 1;
            let text = match stream.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Binary(_))) => {
                    return End::Status(invalid(format!(
                        "message {next}: binary frames are not served; send each message as a \
                         JSON text frame"
                    )));
                }
                // Pings are answered by tungstenite.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(_))) | None => return End::Gone,
                Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                    return End::Status(Status::new(
                        Code::ResourceExhausted,
                        format!(
                            "message {next} is larger than the limit of {} bytes \
                             (max_message_bytes)",
                            self.limit
                        ),
                    ));
                }
                Some(Err(WsError::Utf8(_))) => {
                    return End::Status(invalid(format!(
                        "message {next}: a text frame must be UTF-8"
                    )));
                }
                Some(Err(_)) => return End::Gone,
            };
            let blank = text.as_bytes().iter().all(u8::is_ascii_whitespace);
            let messages = match &self.inbox {
                _ if blank && self.one_message => continue,
                // The client's half-close.
                Inbox::Open(_) if blank => {
                    self.inbox = Inbox::Ended;
                    continue;
                }
                Inbox::Open(messages) => messages,
                Inbox::Ended if blank => continue,
                Inbox::Ended if self.one_message => {
                    return End::Status(invalid(format!(
                        "message {next}: this method takes one request message"
                    )));
                }
                Inbox::Ended => {
                    return End::Status(invalid(format!(
                        "message {next}: sent after the empty frame that ended the messages"
                    )));
                }
                Inbox::Unread => continue,
            };
            self.count = next;
            if messages.send(Bytes::from(text)).await.is_err() {
                self.inbox = Inbox::Unread;
            } else if self.one_message {
                self.inbox = Inbox::Ended;
            }
        }
    }
}

fn invalid(message: String) -> Status {
    Status::new(Code::InvalidArgument, message)
}

/// The server's side: the inner service's answer, message by message, as
/// text frames, until its status (or the deadline).
async fn write_answers<F, E, B>(
    sink: &mut SplitSink<Socket, Message>,
    call: F,
    mut answer: Answer,
) -> End
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let mut call = pin!(call);
    let head = poll_fn(|cx| match call.as_mut().poll(cx) {
        Poll::Ready(result) => Poll::Ready(Some(result)),
        Poll::Pending => answer.poll_deadline(cx).map(|()| None),
    })
    .await;
    let response = match head {
        Some(Ok(response)) => response,
        Some(Err(_)) => {
            return End::Status(Status::new(
                Code::Internal,
                "the service failed before answering",
            ));
        }
        None => return End::Status(answer.deadline_status()),
    };
    let mut events: ResponseStream<B> = match answer.into_events(response) {
        Ok(events) => events,
        Err(status) => return End::Status(status),
    };
    loop {
        match poll_fn(|cx| events.poll_event(cx)).await {
            Event::Message(json) => {
                let text = match String::from_utf8(json) {
                    Ok(text) => text,
                    Err(_) => {
                        return End::Status(Status::new(
                            Code::Internal,
                            "a response message rendered as JSON that is not UTF-8",
                        ));
                    }
                };
                if sink.send(Message::text(text)).await.is_err() {
                    return End::Gone;
                }
            }
            Event::KeepAlive => {}
            Event::End(status, _trailers) => return End::Status(status),
        }
    }
}
