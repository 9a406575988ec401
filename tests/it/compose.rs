//! The layer over an axum `Router`, inside a tower stack, around one
//! service, and in front of hand-made gRPC answers.

use std::net::SocketAddr;

use axum::routing::{get, post};
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Response};
use prost::Message as _;
use serde_json::json;
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::transport::Server;
use tower::ServiceBuilder;
use tower_layer::Layer;

use crate::common::echo::v1::echo_service_server::EchoServiceServer;
use crate::common::echo::v1::{EchoRequest, EchoResponse};
use crate::common::library::v1::GetBookRequest;
use crate::common::{self, Echo};
use crate::support::*;
use dual_protocol::{DualProtocolLayer, DualProtocolService};

const ECHO: &str = "/echo.v1.EchoService/Echo";

#[tokio::test]
async fn over_an_axum_router_beside_plain_routes() {
    let router = common::routes(None)
        .into_axum_router()
        .route("/health", get(|| async { "ok" }))
        .route(
            "/submit",
            post(|body: String| async move { format!("got {body}") }),
        )
        .layer(DualProtocolLayer::new());
    let addr = serve_axum(router).await;

    for version in BOTH {
        let request = http::Request::get(format!("http://{addr}/health"))
            .body(Default::default())
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(
            (answer.status.as_u16(), &answer.body[..]),
            (200, &b"ok"[..])
        );
        // A JSON POST to a route that is not an RPC path is not ours.
        let answer = post_json(version, addr, "/submit", r#"{"a":1}"#).await;
        assert_eq!(&answer.body[..], br#"got {"a":1}"#);
        let answer = post_json(
            version,
            addr,
            "/library.v1.LibraryService/GetBook",
            r#"{"name":"shelves/1/books/1"}"#,
        )
        .await;
        assert_eq!(answer.json()["title"], "The Left Hand of Darkness");
    }
    let book = library(addr)
        .await
        .get_book(GetBookRequest {
            name: "shelves/1/books/1".into(),
        })
        .await
        .unwrap();
    assert_eq!(book.get_ref().title, "The Left Hand of Darkness");
}

#[tokio::test]
async fn layers_below_see_a_real_grpc_request() {
    let stack = ServiceBuilder::new()
        .layer(DualProtocolLayer::new())
        .map_request(|mut request: http::Request<_>| {
            let seen = request.headers().get("content-type").cloned();
            if let Some(seen) = seen {
                request.headers_mut().insert("x-seen-content-type", seen);
            }
            let version = HeaderValue::from_str(&format!("{:?}", request.version())).unwrap();
            request.headers_mut().insert("x-seen-version", version);
            request
        })
        .into_inner();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .accept_http1(true)
        .layer(stack)
        .add_service(EchoServiceServer::new(Echo))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);

    // A transcoded call is a gRPC request in every respect, HTTP/2 included,
    // even when the client spoke HTTP/1.1.
    let answer = post_json(Version::Http1, addr, ECHO, r#"{"message":"hi"}"#).await;
    assert_eq!(
        answer.json()["requestMetadata"]["x-seen-content-type"],
        "application/grpc"
    );
    assert_eq!(
        answer.json()["requestMetadata"]["x-seen-version"],
        "HTTP/2.0"
    );
    let answer = echo(addr)
        .await
        .echo(EchoRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.request_metadata["x-seen-content-type"],
        "application/grpc"
    );
}

#[tokio::test]
async fn around_one_service_in_tonic_routes() {
    assert_eq!(
        <DualProtocolService<EchoServiceServer<Echo>> as NamedService>::NAME,
        "echo.v1.EchoService"
    );
    let routes =
        tonic::service::Routes::new(DualProtocolLayer::new().layer(EchoServiceServer::new(Echo)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .accept_http1(true)
        .add_routes(routes)
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    let answer = post_json(Version::H2c, addr, ECHO, r#"{"message":"alone"}"#).await;
    assert_eq!(answer.json()["message"], "alone");
    let answer = echo(addr)
        .await
        .echo(EchoRequest {
            message: "grpc".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(answer.get_ref().message, "grpc");
}

fn framed(message: &impl prost::Message) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u8(0);
    buf.put_u32(message.encoded_len() as u32);
    message.encode(&mut buf).unwrap();
    buf.freeze()
}

/// A gRPC answer with a message and custom trailers, made by hand.
fn with_trailers() -> Response<axum::body::Body> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    trailers.insert("x-checksum", HeaderValue::from_static("abc"));
    let frames: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = vec![
        Ok(http_body::Frame::data(framed(&EchoResponse {
            message: "from axum".into(),
            ..Default::default()
        }))),
        Ok(http_body::Frame::trailers(trailers)),
    ];
    Response::builder()
        .header("content-type", "application/grpc")
        .header("x-meta", "a")
        .body(axum::body::Body::new(http_body_util::StreamBody::new(
            tokio_stream::iter(frames),
        )))
        .unwrap()
}

/// A trailers-only gRPC error with the given details header.
fn trailers_only(
    code: &'static str,
    message: &'static str,
    details: Option<String>,
) -> Response<axum::body::Body> {
    let mut response = Response::builder()
        .header("content-type", "application/grpc")
        .header("grpc-status", code)
        .header("grpc-message", message);
    if let Some(details) = details {
        response = response.header("grpc-status-details-bin", details);
    }
    response.body(axum::body::Body::empty()).unwrap()
}

async fn hand_made_server() -> SocketAddr {
    use base64::Engine as _;
    let details = dual_protocol::rpc::Status {
        code: 9,
        message: "shelf is locked".into(),
        details: vec![
            dual_protocol::types::Any {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                value: dual_protocol::rpc::ErrorInfo {
                    reason: "LOCKED".into(),
                    domain: "library.example".into(),
                    metadata: Default::default(),
                }
                .encode_to_vec()
                .into(),
            },
            dual_protocol::types::Any {
                type_url: "type.googleapis.com/acme.Unknown".into(),
                value: vec![1, 2, 3].into(),
            },
        ],
    };
    let details = base64::engine::general_purpose::STANDARD_NO_PAD.encode(details.encode_to_vec());
    let router = axum::Router::new()
        .route(ECHO, post(|| async { with_trailers() }))
        .route(
            "/library.v1.LibraryService/GetBook",
            post(|| async { trailers_only("3", "bad%20thing", Some("!!!not base64".into())) }),
        )
        .route(
            "/library.v1.LibraryService/ListShelves",
            post(move || {
                let details = details.clone();
                async move { trailers_only("9", "shelf%20is%20locked", Some(details)) }
            }),
        )
        .route(
            "/library.v1.LibraryService/ListBooks",
            post(|| async { (http::StatusCode::TOO_MANY_REQUESTS, "slow down") }),
        )
        .layer(DualProtocolLayer::new());
    serve_axum(router).await
}

#[tokio::test]
async fn trailers_become_prefixed_headers_and_details_print_as_json() {
    let addr = hand_made_server().await;
    for version in BOTH {
        let answer = post_json(version, addr, ECHO, "{}").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json(), json!({"message": "from axum"}));
        assert_eq!(answer.headers["x-meta"], "a");
        assert_eq!(answer.headers["trailer-x-checksum"], "abc");
        assert!(answer.headers.get("trailer-grpc-status").is_none());

        // Malformed details: the status survives without them.
        let path = "/library.v1.LibraryService/GetBook";
        let json = post_json(version, addr, path, "{}").await.error(400, 3);
        assert_eq!(json, json!({"code": 3, "message": "bad thing"}));

        // Known detail types print as JSON, unknown ones as base64.
        let path = "/library.v1.LibraryService/ListShelves";
        let json = post_json(version, addr, path, "{}").await.error(400, 9);
        assert_eq!(
            json["details"],
            json!([
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "LOCKED", "domain": "library.example"},
                {"@type": "type.googleapis.com/acme.Unknown", "value": "AQID"},
            ])
        );

        // A plain HTTP answer from below is passed on as it is.
        let path = "/library.v1.LibraryService/ListBooks";
        let answer = post_json(version, addr, path, r#"{"parent":"shelves/1"}"#).await;
        assert_eq!(
            (answer.status.as_u16(), &answer.body[..]),
            (429, &b"slow down"[..])
        );
    }
}

#[test]
fn the_builder_registers_restricts_and_rejects_unknown_services() {
    let only_echo = DualProtocolLayer::builder()
        .discover(false)
        .package(common::echo::v1::DUAL_PROTOCOL)
        .build()
        .unwrap();
    assert_eq!(
        only_echo.methods(),
        [
            "/echo.v1.EchoService/Echo",
            "/echo.v1.EchoService/EchoChat",
            "/echo.v1.EchoService/EchoStream"
        ]
    );
    let discovered = DualProtocolLayer::new().methods();
    assert!(
        discovered.contains(&"/library.v1.LibraryService/GetBook"),
        "{discovered:?}"
    );
    let restricted = DualProtocolLayer::builder()
        .services(["library.v1.LibraryService"])
        .build()
        .unwrap();
    assert!(!restricted.methods().contains(&ECHO));
    let err = DualProtocolLayer::builder()
        .services(["nope.v1.Missing"])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("nope.v1.Missing"), "{err}");
    let err = DualProtocolLayer::builder()
        .max_request_bytes(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_request_bytes"), "{err}");
}

/// tonic-web composed inside, with the layer's own gRPC-Web off: tonic-web
/// answers gRPC-Web, the layer still answers JSON over HTTP/1.1 (its
/// transcoded calls reach tonic-web as HTTP/2 gRPC, which it lets by).
#[tokio::test]
async fn tonic_web_inside_with_the_layers_grpc_web_off() {
    let layer = DualProtocolLayer::builder()
        .disable(dual_protocol::Protocol::GrpcWeb)
        .build()
        .unwrap();
    let routes = common::routes(None).into_axum_router();
    let app = ServiceBuilder::new()
        .layer(layer)
        .layer(tonic_web::GrpcWebLayer::new())
        .service(routes);
    let addr = serve_axum(axum::Router::new().fallback_service(app)).await;
    let answer = post_json(Version::Http1, addr, ECHO, r#"{"message":"json"}"#).await;
    assert_eq!(answer.json()["message"], "json", "{answer:?}");
    let mut body = BytesMut::new();
    let message = EchoRequest {
        message: "web".into(),
        ..Default::default()
    };
    body.put_u8(0);
    body.put_u32(message.encoded_len() as u32);
    message.encode(&mut body).unwrap();
    let request = http::Request::post(format!("http://{addr}{ECHO}"))
        .header("content-type", "application/grpc-web+proto")
        .body(http_body_util::Full::new(body.freeze()))
        .unwrap();
    let answer = send(Version::Http1, request).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let len = u32::from_be_bytes(answer.body[1..5].try_into().unwrap()) as usize;
    let echoed = EchoResponse::decode(&answer.body[5..5 + len]).unwrap();
    assert_eq!(echoed.message, "web");
    assert_eq!(answer.body[5 + len], 0x80, "tonic-web's trailers frame");
}

/// The layer's own refusals (unknown method, wrong verb or media type, a
/// body over the limit) come before the inner service, so a tonic
/// interceptor does not see them. An authentication layer above
/// `DualProtocolLayer` sees every request first: nothing about the API's
/// paths is answered without credentials.
#[tokio::test]
async fn auth_above_the_layer_sees_every_request_first() {
    use axum::middleware::{self, Next};
    async fn bearer(request: axum::extract::Request, next: Next) -> axum::response::Response {
        let ok = request
            .headers()
            .get("authorization")
            .is_some_and(|v| v == "Bearer secret");
        if ok {
            next.run(request).await
        } else {
            let mut response = axum::response::Response::new(axum::body::Body::from(
                r#"{"code":16,"message":"missing or wrong bearer token"}"#,
            ));
            *response.status_mut() = http::StatusCode::UNAUTHORIZED;
            response
        }
    }
    let app = ServiceBuilder::new()
        .layer(middleware::from_fn(bearer))
        .map_response(|response: http::Response<_>| response.map(axum::body::Body::new))
        .layer(DualProtocolLayer::new())
        .service(common::routes(None).into_axum_router());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
        )
        .await
        .unwrap()
    });
    for version in BOTH {
        // What the layer refuses itself, and a real call: all 401 first.
        let probes = [
            (
                "POST",
                "/library.v1.LibraryService/BurnBook",
                "application/json",
            ),
            (
                "GET",
                "/library.v1.LibraryService/CreateShelf",
                "application/json",
            ),
            ("POST", ECHO, "text/plain"),
            ("OPTIONS", ECHO, "application/json"),
            ("POST", ECHO, "application/json"),
        ];
        for (verb, path, content_type) in probes {
            let request = http::Request::builder()
                .method(verb)
                .uri(format!("http://{addr}{path}"))
                .header("content-type", content_type)
                .body(http_body_util::Full::from("{}"))
                .unwrap();
            let answer = send(version, request).await;
            assert_eq!(answer.status, 401, "{verb} {path}: {answer:?}");
        }
        let answer = post_with(
            version,
            addr,
            ECHO,
            r#"{"message":"in"}"#,
            &[("authorization", "Bearer secret")],
        )
        .await;
        assert_eq!(answer.json()["message"], "in");
    }
}

/// The example composes tower-http's `TraceLayer`, `CompressionLayer` and
/// `TimeoutLayer` around the layer: JSON answers of 1 KiB or more are
/// gzipped once (a Connect answer the layer compressed is left alone),
/// small ones and streams are not, gRPC is untouched.
#[tokio::test]
async fn tower_http_trace_compression_and_timeout_compose() {
    let addr = start_default().await;
    let big = "x".repeat(4096);
    let body = format!(r#"{{"message":"{big}"}}"#);
    for version in BOTH {
        // A large JSON answer: gzip, once.
        let answer = post_with(version, addr, ECHO, &body, &[("accept-encoding", "gzip")]).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["content-encoding"], "gzip");
        let json: serde_json::Value =
            serde_json::from_slice(&crate::connect::gunzip(&answer.body)).unwrap();
        assert_eq!(json["message"], big);
        // Connect compresses its own answer; the compression layer leaves it.
        let answer = post_with(
            version,
            addr,
            ECHO,
            &body,
            &[
                ("accept-encoding", "gzip"),
                ("connect-protocol-version", "1"),
            ],
        )
        .await;
        assert_eq!(answer.headers["content-encoding"], "gzip");
        let json: serde_json::Value =
            serde_json::from_slice(&crate::connect::gunzip(&answer.body)).unwrap();
        assert_eq!(json["message"], big);
        // A small answer: as it is.
        let answer = post_with(
            version,
            addr,
            ECHO,
            r#"{"message":"small"}"#,
            &[("accept-encoding", "gzip")],
        )
        .await;
        assert!(answer.headers.get("content-encoding").is_none());
        assert_eq!(answer.json()["message"], "small");
        // A stream: NDJSON as it is, each line as it comes.
        let request = http::Request::post(format!("http://{addr}/echo.v1.EchoService/EchoStream"))
            .header("content-type", "application/json")
            .header("accept-encoding", "gzip")
            .body(http_body_util::Full::from(format!(
                r#"{{"message":"{big}","repeat":3}}"#
            )))
            .unwrap();
        let answer = send(version, request).await;
        assert!(answer.headers.get("content-encoding").is_none());
        assert_eq!(String::from_utf8_lossy(&answer.body).lines().count(), 3);
    }
    // gRPC: untouched.
    let answer = echo(addr)
        .await
        .echo(EchoRequest {
            message: big.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(answer.into_inner().message, big);
}
