//! gRPC server reflection on the example server (tonic-reflection, from the
//! descriptor sets the generator writes): what grpcurl and `buf curl` ask
//! when they are given no protos. `.ci/interop` runs `buf curl` itself.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use http_body_util::Full;
use prost::Message as _;
use prost_types::FileDescriptorProto;
use tokio_stream::StreamExt as _;
use tonic_reflection::pb::{v1, v1alpha};
use v1::server_reflection_client::ServerReflectionClient;
use v1::server_reflection_request::MessageRequest;
use v1::server_reflection_response::MessageResponse;
use v1::{ServerReflectionRequest, ServerReflectionResponse};

use crate::connect::{connect_post, envelope, envelopes, grpc_web_trailers};
use crate::support::*;

const REFLECTION_V1: &str = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

/// The services every listing must name.
const SERVICES: [&str; 4] = [
    "library.v1.LibraryService",
    "echo.v1.EchoService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
];

/// The generated reflection clients have no `connect`.
async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Sends each request on one reflection stream (v1, by gRPC) and returns
/// the answers, in order.
async fn ask(addr: SocketAddr, requests: Vec<MessageRequest>) -> Vec<MessageResponse> {
    let (answers, end) = try_ask(addr, requests).await;
    assert!(end.is_none(), "{end:?}");
    answers
}

/// The answers, and the status that ended the stream if it failed.
async fn try_ask(
    addr: SocketAddr,
    requests: Vec<MessageRequest>,
) -> (Vec<MessageResponse>, Option<tonic::Status>) {
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let requests = requests.into_iter().map(|r| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r),
    });
    let mut answers = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(answer) = answers.next().await {
        match answer {
            Ok(answer) => out.push(answer.message_response.unwrap()),
            Err(status) => return (out, Some(status)),
        }
    }
    (out, None)
}

fn service_names(answer: &MessageResponse) -> BTreeSet<String> {
    let MessageResponse::ListServicesResponse(list) = answer else {
        panic!("not a service list: {answer:?}");
    };
    list.service.iter().map(|s| s.name.clone()).collect()
}

fn files(answer: &MessageResponse) -> Vec<(FileDescriptorProto, Vec<u8>)> {
    let MessageResponse::FileDescriptorResponse(files) = answer else {
        panic!("not files: {answer:?}");
    };
    files
        .file_descriptor_proto
        .iter()
        .map(|raw| (FileDescriptorProto::decode(&raw[..]).unwrap(), raw.clone()))
        .collect()
}

/// Listing by v1 and by v1alpha; reflection, like health, needs no token.
#[tokio::test]
async fn reflection_lists_the_services_by_v1_and_v1alpha() {
    let addr = start("", Some("secret")).await;
    let answers = ask(addr, vec![MessageRequest::ListServices(String::new())]).await;
    let names = service_names(&answers[0]);
    for service in SERVICES {
        assert!(names.contains(service), "{service} not in {names:?}");
    }

    let mut client =
        v1alpha::server_reflection_client::ServerReflectionClient::new(channel(addr).await);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.next().await.unwrap().unwrap();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("not a service list: {answer:?}");
    };
    let names: BTreeSet<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in &SERVICES[..3] {
        assert!(names.contains(*service), "{service} not in {names:?}");
    }
    assert!(names.contains("grpc.reflection.v1alpha.ServerReflection"));
}

/// A symbol's file comes with its comments and its `google.api.http`
/// options, and every file it imports, directly or not, can be fetched by
/// name: what a client needs to build the schema.
#[tokio::test]
async fn reflection_serves_the_file_of_a_symbol_and_all_it_imports() {
    let addr = start_default().await;
    let answers = ask(
        addr,
        vec![
            MessageRequest::FileContainingSymbol("library.v1.LibraryService".into()),
            MessageRequest::FileContainingSymbol("library.v1.LibraryService.GetBook".into()),
            MessageRequest::FileContainingSymbol("echo.v1.EchoRequest".into()),
            MessageRequest::FileContainingSymbol("google.rpc.BadRequest".into()),
        ],
    )
    .await;
    let library = files(&answers[0]);
    let (file, raw) = &library[0];
    assert_eq!(file.name(), "library/v1/library.proto");
    assert_eq!(file.service[0].name(), "LibraryService");
    let comments = file.source_code_info.as_ref().expect("source info kept");
    assert!(
        comments
            .location
            .iter()
            .any(|l| l.leading_comments().contains("Returns one book.")),
        "GetBook's comment"
    );
    // The option prost would drop on re-encoding is served as it was written.
    assert!(
        raw.windows(28)
            .any(|w| w == b"/v1/{name=shelves/*/books/*}"),
        "the google.api.http rule of GetBook"
    );
    assert_eq!(files(&answers[1])[0].0.name(), "library/v1/library.proto");
    assert_eq!(files(&answers[2])[0].0.name(), "echo/v1/echo.proto");
    // The error details' types, so that a client can print them.
    assert_eq!(
        files(&answers[3])[0].0.name(),
        "google/rpc/error_details.proto"
    );
    // tonic-reflection ends the stream on an unknown symbol.
    let (_, end) = try_ask(
        addr,
        vec![MessageRequest::FileContainingSymbol(
            "library.v1.Nope".into(),
        )],
    )
    .await;
    let end = end.expect("an unknown symbol fails");
    assert_eq!(end.code(), tonic::Code::NotFound, "{end:?}");
    assert!(end.message().contains("library.v1.Nope"), "{end:?}");

    // Every import, by name, as a client walks them.
    let mut fetched = BTreeSet::new();
    let mut wanted: Vec<String> = file.dependency.clone();
    while let Some(name) = wanted.pop() {
        if !fetched.insert(name.clone()) {
            continue;
        }
        let answer = ask(addr, vec![MessageRequest::FileByFilename(name.clone())]).await;
        let (dependency, _) = &files(&answer[0])[0];
        assert_eq!(dependency.name(), name);
        wanted.extend(dependency.dependency.iter().cloned());
    }
    for name in [
        "google/api/annotations.proto",
        "google/api/http.proto",
        "google/protobuf/descriptor.proto",
        "google/protobuf/timestamp.proto",
    ] {
        assert!(fetched.contains(name), "{name} not in {fetched:?}");
    }
}

/// Reflection has no generated table, so the layer passes it through as
/// gRPC and serves it by Connect and gRPC-Web in protobuf, over HTTP/1.1
/// and h2c (`buf curl --protocol connect|grpcweb` reflects that way).
#[tokio::test]
async fn reflection_by_connect_and_grpc_web() {
    let addr = start_default().await;
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    }
    .encode_to_vec();
    let listed = |payload: &[u8]| {
        let answer = ServerReflectionResponse::decode(payload).unwrap();
        service_names(&answer.message_response.unwrap())
    };
    for version in BOTH {
        let connect = connect_post(addr, REFLECTION_V1, "application/connect+proto")
            .body(Full::from(envelope(0, &request)))
            .unwrap();
        let answer = send(version, connect).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let frames = envelopes(&answer.body);
        assert_eq!(frames.len(), 2, "{answer:?}");
        assert_eq!(frames[0].0, 0);
        assert!(listed(&frames[0].1).contains("library.v1.LibraryService"));
        // The end-of-stream message, without an error.
        assert_eq!(frames[1].0, 2);
        let end: serde_json::Value = serde_json::from_slice(&frames[1].1).unwrap();
        assert!(end.get("error").is_none(), "{end}");

        let web = http::Request::post(format!("http://{addr}{REFLECTION_V1}"))
            .header("content-type", "application/grpc-web+proto")
            .body(Full::from(envelope(0, &request)))
            .unwrap();
        let answer = send(version, web).await;
        let frames = envelopes(&answer.body);
        assert_eq!(frames.len(), 2, "{answer:?}");
        assert!(listed(&frames[0].1).contains("echo.v1.EchoService"));
        assert!(grpc_web_trailers(&frames[1]).contains(&("grpc-status".into(), "0".into())));
    }
}
