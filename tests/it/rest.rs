//! REST routes from `google.api.http`: every template form and body mode,
//! query parameters, and the same answers as gRPC.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::{Request as Call, Response as Answer_, Status};

use crate::common::echo::v1::echo_service_server::EchoServiceServer;
use crate::common::library::v1::GetBookRequest;
use crate::common::library::v1::library_service_server::LibraryServiceServer;
use crate::common::{Echo, Library};
use crate::support::*;
use dual_protocol::DualProtocolLayer;

pub mod resttest {
    pub mod v1 {
        dual_protocol::include_proto!("resttest.v1");
    }
}

use resttest::v1::Thing;
use resttest::v1::rest_test_server::{RestTest, RestTestServer};

/// Answers every call with the request it received.
struct Mirror;

macro_rules! mirror {
    ($($name:ident),*) => {
        #[tonic::async_trait]
        impl RestTest for Mirror {
            $(async fn $name(&self, request: Call<Thing>) -> Result<Answer_<Thing>, Status> {
                Ok(Answer_::new(request.into_inner()))
            })*
        }
    };
}

mirror!(
    get, get_nested, get_file, archive, put, delete, patch, search, multi, selected
);

async fn start_rest() -> SocketAddr {
    start_rest_with(DualProtocolLayer::new()).await
}

async fn start_rest_with(layer: DualProtocolLayer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .accept_http1(true)
        .layer(layer)
        .add_service(RestTestServer::new(Mirror))
        .add_service(LibraryServiceServer::new(Library::seeded()))
        .add_service(EchoServiceServer::new(Echo))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
    tokio::spawn(server);
    addr
}

async fn call(
    version: Version,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> crate::support::Answer {
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(format!("http://{addr}{path}"));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = Full::new(Bytes::from(body.unwrap_or_default().to_owned()));
    send(version, request.body(body).unwrap()).await
}

async fn ok(
    version: Version,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Value {
    let answer = call(version, addr, method, path, body).await;
    assert_eq!(answer.status, 200, "{method} {path}: {answer:?}");
    answer.json()
}

#[tokio::test]
async fn every_template_form_and_body_mode() {
    let addr = start_rest().await;
    for v in BOTH {
        assert_eq!(
            ok(v, addr, "GET", "/v1/things/abc", None).await,
            json!({"id": "abc"})
        );
        // A single-segment variable decodes everything, %2F included.
        assert_eq!(
            ok(v, addr, "GET", "/v1/things/a%2Fb%20c", None).await["id"],
            "a/b c"
        );
        assert_eq!(
            ok(v, addr, "GET", "/v1/shelves/1/books/2/detail", None).await,
            json!({"parent": {"name": "shelves/1/books/2"}})
        );
        // A multi-segment variable keeps %2F encoded.
        assert_eq!(
            ok(v, addr, "GET", "/v1/files/a/b%2Fc/d%20e.txt", None).await["path"],
            "a/b%2Fc/d e.txt"
        );
        assert_eq!(
            ok(
                v,
                addr,
                "POST",
                "/v1/things/x:archive",
                Some(r#"{"count":3}"#)
            )
            .await,
            json!({"id": "x", "count": 3})
        );
        assert_eq!(
            ok(
                v,
                addr,
                "PUT",
                "/v1/things/x?count=2",
                Some(r#"{"text":"t"}"#)
            )
            .await,
            json!({"id": "x", "payload": {"text": "t"}, "count": 2})
        );
        assert_eq!(
            ok(v, addr, "DELETE", "/v1/things/x", None).await,
            json!({"id": "x"})
        );
        assert_eq!(
            ok(v, addr, "PATCH", "/v1/things/x", Some(r#"{"flag":true}"#)).await,
            json!({"id": "x", "flag": true})
        );
        assert_eq!(
            ok(v, addr, "SEARCH", "/v1/things?tags=a&tags=b", None).await,
            json!({"tags": ["a", "b"]})
        );
        assert_eq!(
            ok(v, addr, "GET", "/v1/multi/1", None).await,
            json!({"id": "1"})
        );
        assert_eq!(
            ok(v, addr, "GET", "/v1/alt/1/multi", None).await,
            json!({"id": "1"})
        );
        assert_eq!(
            ok(v, addr, "GET", "/v1/selected/1?payload.text=hi", None).await,
            json!({"text": "hi"})
        );
        assert_eq!(
            ok(v, addr, "GET", "/v1/selected/1", None).await,
            Value::Null
        );
        // The RPC path of the same method still works beside the REST path.
        let answer = post_json(v, addr, "/resttest.v1.RestTest/Get", r#"{"id":"rpc"}"#).await;
        assert_eq!(answer.json(), json!({"id": "rpc"}));
    }
}

#[tokio::test]
async fn query_parameters_fill_every_kind_of_field() {
    let addr = start_rest().await;
    let query = "count=5&big=9007199254740993&flag=true&color=COLOR_RED&tags=x&tags=y+z\
                 &parent.rank=3&parent.name=a+b%20c&when=2021-01-01T00:00:00Z&wait=1.5s\
                 &mask=title,publishTime&ratio=0.5&blob=AQID&numbers=1&numbers=2";
    let json = ok(
        Version::Http1,
        addr,
        "GET",
        &format!("/v1/things/q?{query}"),
        None,
    )
    .await;
    assert_eq!(
        json,
        json!({
            "id": "q", "count": 5, "big": "9007199254740993", "flag": true, "color": "COLOR_RED",
            "tags": ["x", "y z"], "parent": {"rank": 3, "name": "a b c"},
            "when": "2021-01-01T00:00:00Z", "wait": "1.500s", "mask": "title,publishTime",
            "ratio": 0.5, "blob": "AQID", "numbers": [1, 2],
        })
    );
    // Enums by number, proto field names, empty values.
    let json = ok(
        Version::H2c,
        addr,
        "GET",
        "/v1/things/q?color=2&parent.name=",
        None,
    )
    .await;
    // `parent` is present (set by the query) though all its fields are defaults.
    assert_eq!(
        json,
        json!({"id": "q", "color": "COLOR_BLUE", "parent": {}})
    );
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_them() {
    let addr = start_rest().await;
    for (query, field, needle) in [
        ("color=PURPLE", "color", "PURPLE"),
        ("labels.x=1", "labels.x", ""),
        ("labels=1", "labels", "map"),
        ("payload=x", "payload", "message"),
        ("nope=1", "nope", "unknown field nope"),
        ("flag=maybe", "flag", "true or false"),
        ("count=twelve", "count", ""),
        ("count=1&count=2", "count", "more than once"),
        ("id=other", "id", "more than once"),
        ("when=2021-13-01T00:00:00Z", "when", "invalid timestamp"),
        ("parent.name=%ZZ", "parent.name", ""),
    ] {
        let answer = call(
            Version::Http1,
            addr,
            "GET",
            &format!("/v1/things/q?{query}"),
            None,
        )
        .await;
        let json = answer.error(400, 3);
        let message = json["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{query}: {message}");
        assert!(message.contains(needle), "{query}: {message}");
    }
    // Query parameters where the body is everything.
    let answer = call(
        Version::Http1,
        addr,
        "POST",
        "/v1/things/x:archive?count=1",
        Some("{}"),
    )
    .await;
    answer.error(400, 3);
    // A body where the route takes none.
    let answer = call(
        Version::Http1,
        addr,
        "DELETE",
        "/v1/things/x",
        Some(r#"{"count":1}"#),
    )
    .await;
    answer.error(400, 3);
    // A body "*" that is not an object.
    let answer = call(Version::Http1, addr, "PATCH", "/v1/things/x", Some("[1]")).await;
    answer.error(400, 3);
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_verbs_405_with_allow() {
    let addr = start_rest().await;
    for v in BOTH {
        let json = call(v, addr, "GET", "/v1/nothing/here", None)
            .await
            .error(404, 5);
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("/v1/nothing/here"),
            "{json}"
        );
        let answer = call(v, addr, "POST", "/v1/things/x", Some("{}")).await;
        answer.error(405, 12);
        assert_eq!(answer.headers["allow"], "GET, PUT, DELETE, PATCH");
    }
}

#[tokio::test]
async fn the_rest_call_and_the_grpc_call_give_the_same_answer() {
    let addr = start_rest().await;
    let by_grpc = library(addr)
        .await
        .get_book(GetBookRequest {
            name: "shelves/1/books/2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    for v in BOTH {
        let answer = call(v, addr, "GET", "/v1/shelves/1/books/2", None).await;
        let by_rest: crate::common::library::v1::Book =
            serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(by_rest, by_grpc);
        let missing = call(v, addr, "GET", "/v1/shelves/1/books/404", None).await;
        let status = library(addr)
            .await
            .get_book(GetBookRequest {
                name: "shelves/1/books/404".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(missing.error(404, 5)["message"], status.message());
    }
}

#[tokio::test]
async fn the_example_api_rest_lines_work() {
    let addr = start_rest().await;
    let v = Version::Http1;
    let shelves = ok(v, addr, "GET", "/v1/shelves", None).await;
    assert_eq!(shelves["shelves"].as_array().unwrap().len(), 2);
    let shelf = ok(
        v,
        addr,
        "POST",
        "/v1/shelves",
        Some(r#"{"theme":"Poetry"}"#),
    )
    .await;
    assert_eq!(shelf["theme"], "Poetry");
    let page = ok(v, addr, "GET", "/v1/shelves/1/books?pageSize=1", None).await;
    assert_eq!(page["books"].as_array().unwrap().len(), 1);
    assert_eq!(page["nextPageToken"], "1");
    let created = ok(
        v,
        addr,
        "POST",
        "/v1/shelves/2/books?bookId=42",
        Some(r#"{"title":"Contact"}"#),
    )
    .await;
    assert_eq!(created["name"], "shelves/2/books/42");
    let updated = ok(
        v,
        addr,
        "PATCH",
        "/v1/shelves/2/books/42?updateMask=title,pageCount",
        Some(r#"{"title":"Contact (2nd ed.)","pageCount":"432","author":"ignored"}"#),
    )
    .await;
    assert_eq!(
        (
            &updated["title"],
            &updated["pageCount"],
            updated.get("author")
        ),
        (&json!("Contact (2nd ed.)"), &json!("432"), None)
    );
    assert_eq!(
        ok(v, addr, "DELETE", "/v1/shelves/2/books/42", None).await,
        json!({})
    );
    let echoed = ok(v, addr, "POST", "/v1/echo", Some(r#"{"message":"hi"}"#)).await;
    assert_eq!(echoed["message"], "hi");
}

#[tokio::test]
async fn any_fields_carry_messages_and_well_known_types_as_json() {
    let addr = start_rest().await;
    for extra in [
        json!({"@type": "type.googleapis.com/library.v1.Shelf", "name": "shelves/9", "theme": "Maps"}),
        json!({"@type": "type.googleapis.com/google.protobuf.Duration", "value": "1.500s"}),
        json!({"@type": "type.googleapis.com/google.protobuf.Timestamp", "value": "2021-01-01T00:00:00Z"}),
        json!({"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "R"}),
        json!({"@type": "type.googleapis.com/library.v1.Shelf"}),
    ] {
        let body = json!({"extra": extra}).to_string();
        let answer = ok(
            Version::Http1,
            addr,
            "POST",
            "/v1/things/x:archive",
            Some(&body),
        )
        .await;
        assert_eq!(answer["extra"], extra);
    }
    // By gRPC, the same Any holds the protobuf bytes of the message.
    let body = json!({"id": "a", "extra": {"@type": "type.googleapis.com/library.v1.Shelf", "name": "shelves/9"}});
    let answer = post_json(
        Version::Http1,
        addr,
        "/resttest.v1.RestTest/Get",
        &body.to_string(),
    )
    .await;
    let thing: Thing = serde_json::from_slice(&answer.body).unwrap();
    let shelf: crate::common::library::v1::Shelf = thing.extra.unwrap().unpack().unwrap();
    assert_eq!(shelf.name, "shelves/9");
    // An unknown type, or a wrong field inside, is a 400 naming the field.
    for extra in [
        json!({"@type": "type.googleapis.com/acme.Unknown", "a": 1}),
        json!({"@type": "type.googleapis.com/library.v1.Shelf", "shelf": 1}),
        json!({"name": "no type"}),
    ] {
        let body = json!({"extra": extra}).to_string();
        let answer = call(
            Version::Http1,
            addr,
            "POST",
            "/v1/things/x:archive",
            Some(&body),
        )
        .await;
        let json = answer.error(400, 3);
        assert!(
            json["message"].as_str().unwrap().starts_with("extra"),
            "{json}"
        );
    }
}

/// Each layer resolves `Any` through its own packages: a layer that serves
/// only `resttest.v1` does not know `library.v1.Book`, one that also has
/// `library.v1` does, and building either changes nothing for the other.
#[tokio::test]
async fn each_layer_resolves_any_through_its_own_packages() {
    async fn serve(layer: DualProtocolLayer) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::builder()
            .accept_http1(true)
            .layer(layer)
            .add_service(RestTestServer::new(Mirror))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);
        addr
    }
    let narrow = DualProtocolLayer::builder()
        .discover(false)
        .package(resttest::v1::DUAL_PROTOCOL)
        .build()
        .unwrap();
    let wide = DualProtocolLayer::builder()
        .discover(false)
        .package(resttest::v1::DUAL_PROTOCOL)
        .package(crate::common::library::v1::DUAL_PROTOCOL)
        .build()
        .unwrap();
    let (narrow, wide) = (serve(narrow).await, serve(wide).await);
    let body = r#"{"extra":{"@type":"type.googleapis.com/library.v1.Book","title":"Dune"}}"#;
    for _ in 0..2 {
        let answer = call(Version::Http1, wide, "PATCH", "/v1/things/7", Some(body)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json()["extra"]["title"], "Dune");
        let answer = call(Version::Http1, narrow, "PATCH", "/v1/things/7", Some(body)).await;
        let json = answer.error(400, 3);
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("unknown Any type"),
            "{json}"
        );
    }
}

/// JSON far larger decoded than on the wire (`max_decoded_bytes`), and
/// messages nested deeper than prost decodes (`max_json_depth`), are
/// `RESOURCE_EXHAUSTED` naming the limit, before the inner service is
/// called; just under either limit the call goes through.
#[tokio::test]
async fn decoded_size_and_nesting_are_bounded() {
    let layer = DualProtocolLayer::builder()
        .max_decoded_bytes(1 << 20)
        .build()
        .unwrap();
    let addr = start_rest_with(layer).await;
    let over_limit = |answer: crate::support::Answer, limit: &str| {
        let error = answer.error(413, 8);
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(limit), "{message}");
    };
    // 100,000 empty strings: 300 KB of JSON, 2.4 MB as a `Vec<String>`.
    let strings = |n| format!(r#"{{"tags":[{}]}}"#, vec![r#""""#; n].join(","));
    // 40,000 map entries: 360 KB of JSON, about 3 MB as a `HashMap`.
    let entries = (0..40_000)
        .map(|i| format!(r#""{i}":"""#))
        .collect::<Vec<_>>()
        .join(",");
    let map = format!(r#"{{"labels":{{{entries}}}}}"#);
    // A `Value` in an `Any`, arrays nested `n` deep (2 prost levels each).
    let nested = |n| {
        format!(
            r#"{{"extra":{{"@type":"type.googleapis.com/google.protobuf.Value","value":{}1{}}}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let rpc = "/resttest.v1.RestTest/Put";
    for v in BOTH {
        let big = strings(100_000);
        over_limit(
            call(v, addr, "POST", rpc, Some(&big)).await,
            "max_decoded_bytes",
        );
        over_limit(
            call(v, addr, "POST", rpc, Some(&map)).await,
            "max_decoded_bytes",
        );
        // The same through a REST route (its body is the whole message).
        over_limit(
            call(v, addr, "PATCH", "/v1/things/x", Some(&big)).await,
            "max_decoded_bytes",
        );
        over_limit(
            call(v, addr, "POST", rpc, Some(&nested(60))).await,
            "max_json_depth",
        );
        // Under the limits: the inner service gets it all.
        let answer = ok(v, addr, "POST", rpc, Some(&strings(20_000))).await;
        assert_eq!(answer["tags"].as_array().unwrap().len(), 20_000);
        let answer = ok(v, addr, "POST", rpc, Some(&nested(40))).await;
        let mut value = &answer["extra"]["value"];
        for _ in 0..40 {
            value = &value[0];
        }
        assert_eq!(value, 1.0);
    }
}
