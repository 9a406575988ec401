//! Serve gRPC **and** HTTP/JSON from one tonic service on one port.
//!
//! Add [`DualProtocolLayer`] to a tonic server (or an axum `Router`, or any
//! tower stack). gRPC requests pass through untouched; a JSON `POST` to
//! `/{package.Service}/{Method}` is transcoded to protobuf, sent down the
//! **same** service stack (interceptors and layers apply to both
//! protocols), and the answer comes back as proto3 JSON with the matching
//! HTTP status.
//!
//! ```no_run
//! # mod google { pub mod api { dual_protocol::include_proto!("google.api"); } }
//! # mod library { pub mod v1 { dual_protocol::include_proto!("library.v1"); } }
//! # use library::v1::library_service_server::{LibraryService, LibraryServiceServer};
//! use dual_protocol::DualProtocolLayer;
//! use tonic::transport::Server;
//!
//! # async fn run(library: impl LibraryService) -> Result<(), Box<dyn std::error::Error>> {
//! Server::builder()
//!     .accept_http1(true) // curl and browsers speak HTTP/1.1
//!     .layer(DualProtocolLayer::new())
//!     .add_service(LibraryServiceServer::new(library))
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(()) }
//! # fn main() {}
//! ```
//!
//! The layer is a plain tower layer, so it can also be driven directly:
//!
//! ```
//! # mod echo { pub mod v1 { dual_protocol::include_proto!("echo.v1"); } }
//! # use echo::v1::echo_service_server::{EchoService, EchoServiceServer};
//! # use echo::v1::{EchoRequest, EchoResponse};
//! # use tonic::{Request, Response, Status, Streaming};
//! # type Stream = tokio_stream::Empty<Result<EchoResponse, Status>>;
//! # struct Echo;
//! # #[tonic::async_trait]
//! # impl EchoService for Echo {
//! #     async fn echo(&self, r: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
//! #         Ok(Response::new(EchoResponse { message: r.into_inner().message, ..Default::default() }))
//! #     }
//! #     type EchoStreamStream = Stream;
//! #     async fn echo_stream(&self, _: Request<EchoRequest>) -> Result<Response<Stream>, Status> {
//! #         Err(Status::unimplemented(""))
//! #     }
//! #     type EchoChatStream = Stream;
//! #     async fn echo_chat(&self, _: Request<Streaming<EchoRequest>>) -> Result<Response<Stream>, Status> {
//! #         Err(Status::unimplemented(""))
//! #     }
//! # }
//! use dual_protocol::DualProtocolLayer;
//! use http_body_util::{BodyExt, Full};
//! use tower::{Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let service = DualProtocolLayer::new()
//!     .layer(tonic::service::Routes::new(EchoServiceServer::new(Echo)));
//!
//! let request = http::Request::post("/echo.v1.EchoService/Echo")
//!     .header("content-type", "application/json")
//!     .body(Full::new(bytes::Bytes::from_static(br#"{"message":"hi"}"#)))
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//!
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.headers()["content-type"], "application/json");
//! let body = response.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, r#"{"message":"hi"}"#);
//! # }
//! ```
//!
//! The code `DualProtocolLayer` needs comes from `dual-protocol-build` in
//! your `build.rs`, and is brought in with [`include_proto!`].
//!
//! # What is answered how
//!
//! | request | answer |
//! | --- | --- |
//! | content-type `application/grpc*` (gRPC, gRPC-Web) | passed through unchanged |
//! | `POST /{package.Service}/{Method}`, `application/json` | the method, called as gRPC, answered as JSON (a server or bidi stream as NDJSON, or SSE when `Accept` asks) |
//! | the same, `application/x-ndjson`, for a client or bidi stream | one message per line, sent down as each line arrives |
//! | a method taking or giving `google.api.HttpBody` | raw bytes with their content type (uploads, downloads) |
//! | the same with another content-type and a body | 415 |
//! | another verb on an RPC path | 405, `Allow: POST` |
//! | `GET` with `Upgrade: websocket` (HTTP/1.1) on an RPC path | the method, any kind, over a WebSocket: a JSON text frame per message each way (an empty frame ends the client's), then a close frame with the status (1000, or 4000 + the gRPC code); 400 for a bad handshake; 501 without HTTP upgrades (tonic's `Server`) or the `websocket` feature |
//! | `/{known service}/{unknown method}` | 404, code 5 |
//! | JSON to `/{other.Service}/{Method}` (no table, e.g. gRPC health) | 415, code 12, without calling the inner service |
//! | a path and verb of a `google.api.http` rule | the REST call, answered as JSON |
//! | `GET` on the [`openapi`](Builder::openapi) or [`openapi_docs`](Builder::openapi_docs) path, when set | the OpenAPI 3.1 document of the services served, or a docs page that renders it |
//! | anything else | passed through; a gRPC error answer becomes a JSON error |
//!
//! Errors are the proto3 JSON of `google.rpc.Status`:
//! `{"code":5,"message":"...","details":[...]}`, with the HTTP status of
//! [`Code::http_status`]. A stream that fails after its first message ends
//! with a last NDJSON line `{"error":{...}}` or an SSE `event: error` (and
//! `grpc-status` trailers over HTTP/2).
//!
//! REST paths of `google.api.http` annotations are served too
//! (`GET /v1/{name=shelves/*/books/*}`), with path variables, query
//! parameters and the body filling the request message.
//!
//! # Limitations
//! - A server stream sends its HTTP head with its first message (an error
//!   before it keeps its HTTP status).
//! - JSON request bodies must not be compressed (`content-encoding`).
//! - WebSocket needs a server with HTTP/1.1 upgrades (`axum::serve`,
//!   hyper-util's `serve_connection_with_upgrades`); tonic's `Server` has
//!   none.
//! - JSON deadlines (`grpc-timeout`, `connect-timeout-ms`) fire up to 1 ms
//!   early, so that the layer, not tonic's outer timer, answers them.
//! - The layer hands the inner service [`DualBody`] bodies: layers below it
//!   must be generic over the body type (tonic's and axum's are).

// Generated code names `::dual_protocol`; so does ours (google.rpc).
#[allow(unused_extern_crates)]
extern crate self as dual_protocol;

mod any;
mod body;
mod classify;
mod config;
#[cfg(feature = "cors")]
pub mod cors;
mod error;
mod future;
pub mod json;
mod layer;
mod metadata;
mod openapi;
mod registry;
mod rest;
mod service;
mod shared;
mod status;
mod trace;
mod transcode;
pub mod types;
#[cfg(feature = "websocket")]
mod websocket;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

#[doc(hidden)]
#[path = "bench.rs"]
pub mod __bench;

#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

pub use body::DualBody;
pub use config::{
    Config, CorsConfig, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MAX_REQUEST_BYTES, DEFAULT_SSE_KEEP_ALIVE, OpenApiConfig, Protocol, Protocols,
    ServerConfig, ServerType,
};
pub use error::Error;
pub use future::ResponseFuture;
pub use json::JsonOptions;
pub use layer::{Builder, DualProtocolLayer};
pub use registry::{
    FieldDescriptor, HttpRule, MessageDescriptor, MethodDescriptor, MethodKind, PackageDescriptor,
    ServiceDescriptor,
};
pub use service::DualProtocolService;
pub use status::{Code, http_status};

/// Brings in the code `dual-protocol-build` generated for one proto package:
/// messages, tonic server and client, proto3 JSON and the method table.
///
/// ```ignore
/// pub mod library {
///     pub mod v1 {
///         dual_protocol::include_proto!("library.v1");
///     }
/// }
/// ```
#[macro_export]
macro_rules! include_proto {
    ($package:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));
        include!(concat!(env!("OUT_DIR"), "/", $package, ".serde.rs"));
        include!(concat!(env!("OUT_DIR"), "/", $package, ".dual.rs"));
    };
}

/// The `google.rpc` error model: [`rpc::Status`] and the standard error
/// details ([`rpc::BadRequest`], [`rpc::ErrorInfo`], ...), with proto3 JSON.
/// Put them in a `tonic::Status` with `Status::with_details`; JSON clients
/// see them in the error body's `details`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod rpc {
    include_proto!("google.rpc");
}
