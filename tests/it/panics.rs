//! A handler that panics: its call is answered INTERNAL in the client's
//! protocol, and the connection and the server go on serving.

use std::net::SocketAddr;
use std::pin::Pin;

use http_body_util::Full;
use tokio::net::TcpListener;
use tokio_stream::{Stream, StreamExt, iter};
use tonic::transport::Server;
use tonic::{Code, Request, Response, Status, Streaming};

use crate::common::echo::v1::echo_service_server::{EchoService, EchoServiceServer};
use crate::common::echo::v1::{EchoRequest, EchoResponse};
use crate::support::*;
use dual_protocol::DualProtocolLayer;

const ECHO: &str = "/echo.v1.EchoService/Echo";
const ECHO_STREAM: &str = "/echo.v1.EchoService/EchoStream";

type Answers = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

/// Panics when asked to ("panic"); otherwise echoes. Its stream sends one
/// answer, then panics.
struct Panicky;

#[tonic::async_trait]
impl EchoService for Panicky {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let message = request.into_inner().message;
        assert_ne!(message, "panic", "asked to panic");
        Ok(Response::new(EchoResponse {
            message,
            ..Default::default()
        }))
    }

    type EchoStreamStream = Answers;

    async fn echo_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<Answers>, Status> {
        let message = request.into_inner().message;
        let answers = iter(0..2).map(move |i| {
            assert_eq!(i, 0, "asked for a second answer");
            Ok(EchoResponse {
                message: message.clone(),
                ..Default::default()
            })
        });
        Ok(Response::new(Box::pin(answers)))
    }

    type EchoChatStream = Answers;

    async fn echo_chat(
        &self,
        _: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Answers>, Status> {
        Err(Status::unimplemented("not here"))
    }
}

async fn start_panicky() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .accept_http1(true)
        .layer(DualProtocolLayer::new())
        .add_service(EchoServiceServer::new(Panicky))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    addr
}

fn request(message: &str) -> EchoRequest {
    EchoRequest {
        message: message.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn grpc_a_panic_is_internal_and_the_connection_goes_on() {
    let addr = start_panicky().await;
    // One channel: one HTTP/2 connection for every call below.
    let mut client = echo(addr).await;
    let error = client.echo(request("panic")).await.unwrap_err();
    assert_eq!(error.code(), Code::Internal, "{error:?}");
    assert!(error.message().contains("panicked"), "{error:?}");
    let answer = client.echo(request("still here")).await.unwrap();
    assert_eq!(answer.into_inner().message, "still here");

    // A stream that panics after its first answer ends INTERNAL (the
    // answer tonic had encoded but not sent when the panic came is lost
    // with its encoder); the connection goes on.
    let error = match client.echo_stream(request("once")).await {
        Err(error) => error,
        Ok(answers) => {
            let mut answers = answers.into_inner();
            loop {
                match answers.message().await {
                    Ok(Some(answer)) => assert_eq!(answer.message, "once"),
                    Ok(None) => panic!("the stream ended OK"),
                    Err(error) => break error,
                }
            }
        }
    };
    assert_eq!(error.code(), Code::Internal, "{error:?}");
    assert!(error.message().contains("panicked"), "{error:?}");
    let answer = client.echo(request("after the stream")).await.unwrap();
    assert_eq!(answer.into_inner().message, "after the stream");
}

#[tokio::test]
async fn http_a_panic_is_internal_in_the_clients_protocol() {
    let addr = start_panicky().await;
    for version in BOTH {
        // JSON: 500 and the status.
        let answer = post_json(version, addr, ECHO, r#"{"message":"panic"}"#).await;
        let json = answer.error(500, 13);
        assert!(
            json["message"].as_str().unwrap().contains("panicked"),
            "{json}"
        );
        // Connect: its string code.
        let request = http::Request::post(format!("http://{addr}{ECHO}"))
            .header("content-type", "application/json")
            .header("connect-protocol-version", "1")
            .body(Full::from(r#"{"message":"panic"}"#))
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 500, "{answer:?}");
        assert_eq!(answer.json()["code"], "internal");

        // A stream that panics after its first answer ends with the
        // status: a 500 when nothing was sent yet (tonic encodes ahead, so
        // here it is), else an error line after the answers.
        let request = http::Request::post(format!("http://{addr}{ECHO_STREAM}"))
            .header("content-type", "application/json")
            .header("accept", "application/x-ndjson")
            .body(Full::from(r#"{"message":"once"}"#))
            .unwrap();
        let (status, body) = open(version, request).await;
        let body = body.unwrap();
        assert!(status == 500 || status == 200, "{status}");
        assert!(body.contains("panicked while streaming"), "{body}");

        // And the server goes on.
        let answer = post_json(version, addr, ECHO, r#"{"message":"ok"}"#).await;
        assert_eq!(answer.json()["message"], "ok");
    }
}

/// Sends `request`; the status, and the body or the error reading it.
async fn open(
    version: Version,
    request: http::Request<Full<bytes::Bytes>>,
) -> (http::StatusCode, Result<String, String>) {
    use http_body_util::BodyExt as _;
    let mut builder =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    if version == Version::H2c {
        builder.http2_only(true);
    }
    let client = builder.build_http();
    let response = client.request(request).await.expect("HTTP call");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .map_err(|e| e.to_string());
    (status, body)
}
