//! Unary calls by gRPC and by JSON on one port.

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use prost::Message as _;
use serde_json::json;
use tonic::Code;

use crate::common::echo::v1::EchoRequest;
use crate::common::library::v1::{Book, CreateBookRequest, DeleteBookRequest, GetBookRequest};
use crate::support::*;

const GET_BOOK: &str = "/library.v1.LibraryService/GetBook";
const CREATE_BOOK: &str = "/library.v1.LibraryService/CreateBook";
const DELETE_BOOK: &str = "/library.v1.LibraryService/DeleteBook";
const ECHO: &str = "/echo.v1.EchoService/Echo";

#[tokio::test]
async fn the_same_book_by_grpc_and_by_json_over_both_http_versions() {
    let addr = start_default().await;
    let by_grpc = library(addr)
        .await
        .get_book(GetBookRequest {
            name: "shelves/1/books/1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_grpc.title, "The Left Hand of Darkness");
    for version in BOTH {
        let answer = post_json(version, addr, GET_BOOK, r#"{"name":"shelves/1/books/1"}"#).await;
        assert_eq!(answer.status, 200, "{version:?} {answer:?}");
        assert_eq!(answer.headers["content-type"], "application/json");
        let by_json: Book = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(by_json, by_grpc, "{version:?}");
        // Canonical proto3 JSON: lowerCamelCase names, int64 as a string,
        // enums by name, bytes as base64.
        let json = answer.json();
        assert_eq!(json["pageCount"], "304");
        assert_eq!(json["genre"], "GENRE_FICTION");
        assert_eq!(json["coverThumbnail"], "iVBORw==");
        assert_eq!(json["labels"], json!({"language": "en"}));
    }
}

#[tokio::test]
async fn errors_are_the_same_code_and_message_by_both_protocols() {
    let addr = start_default().await;
    let status = library(addr)
        .await
        .get_book(GetBookRequest {
            name: "shelves/1/books/9".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    for version in BOTH {
        let answer = post_json(version, addr, GET_BOOK, r#"{"name":"shelves/1/books/9"}"#).await;
        let json = answer.error(404, 5);
        assert_eq!(json["message"], status.message());
    }
}

#[tokio::test]
async fn create_book_with_an_empty_title_names_the_field_in_details() {
    let addr = start_default().await;
    let request = CreateBookRequest {
        parent: "shelves/1".into(),
        book: Some(Book::default()),
        book_id: String::new(),
    };
    let status = library(addr).await.create_book(request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = dual_protocol::rpc::Status::decode(status.details()).unwrap();
    let bad = dual_protocol::rpc::BadRequest::decode(&*details.details[0].value).unwrap();
    assert_eq!(bad.field_violations[0].field, "book.title");

    let answer = post_json(
        Version::Http1,
        addr,
        CREATE_BOOK,
        r#"{"parent":"shelves/1","book":{"author":"nobody"}}"#,
    )
    .await;
    let json = answer.error(400, 3);
    assert_eq!(json["message"], status.message());
    assert_eq!(
        json["details"],
        json!([{
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "book.title", "description": "must not be empty"}],
        }])
    );
}

#[tokio::test]
async fn create_then_conflict_then_delete_then_not_found() {
    let addr = start_default().await;
    let create = r#"{"parent":"shelves/2","bookId":"7","book":{"title":"Cosmos","pageCount":"365","publishTime":"1980-10-12T00:00:00Z"}}"#;
    let created = post_json(Version::H2c, addr, CREATE_BOOK, create).await;
    assert_eq!(created.status, 200, "{created:?}");
    assert_eq!(created.json()["name"], "shelves/2/books/7");
    // Numbers are accepted for int64 fields too, and the proto field name.
    let again =
        r#"{"parent":"shelves/2","book_id":"7","book":{"title":"Cosmos","page_count":365}}"#;
    post_json(Version::Http1, addr, CREATE_BOOK, again)
        .await
        .error(409, 6);
    let by_grpc = library(addr)
        .await
        .get_book(GetBookRequest {
            name: "shelves/2/books/7".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (by_grpc.title.as_str(), by_grpc.page_count),
        ("Cosmos", 365)
    );

    let deleted = post_json(
        Version::Http1,
        addr,
        DELETE_BOOK,
        r#"{"name":"shelves/2/books/7"}"#,
    )
    .await;
    assert_eq!((deleted.status.as_u16(), deleted.json()), (200, json!({})));
    let status = library(addr)
        .await
        .delete_book(DeleteBookRequest {
            name: "shelves/2/books/7".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn the_token_interceptor_guards_both_protocols_alike() {
    let addr = start("", Some("s3cret")).await;
    let mut grpc = library(addr).await;
    let denied = grpc
        .get_book(GetBookRequest {
            name: "shelves/1/books/1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated);
    let mut request = tonic::Request::new(GetBookRequest {
        name: "shelves/1/books/1".into(),
    });
    request
        .metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    assert!(grpc.get_book(request).await.is_ok());

    for version in BOTH {
        let body = r#"{"name":"shelves/1/books/1"}"#;
        let json = post_json(version, addr, GET_BOOK, body)
            .await
            .error(401, 16);
        assert_eq!(json["message"], denied.message());
        let wrong = [("authorization", "Bearer nope")];
        post_with(version, addr, GET_BOOK, body, &wrong)
            .await
            .error(401, 16);
        let right = [("authorization", "Bearer s3cret")];
        let answer = post_with(version, addr, GET_BOOK, body, &right).await;
        assert_eq!(answer.status, 200, "{answer:?}");

        // REST, a server stream as NDJSON, and Connect: the same check.
        let get = |token: Option<&str>| {
            let mut request = Request::get(format!("http://{addr}/v1/shelves/1/books/1"));
            if let Some(token) = token {
                request = request.header("authorization", token);
            }
            request.body(Full::default()).unwrap()
        };
        send(version, get(None)).await.error(401, 16);
        assert_eq!(send(version, get(Some("Bearer s3cret"))).await.status, 200);
        let stream = r#"{"message":"s","repeat":2}"#;
        let path = "/echo.v1.EchoService/EchoStream";
        post_json(version, addr, path, stream).await.error(401, 16);
        let answer = post_with(version, addr, path, stream, &right).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(String::from_utf8_lossy(&answer.body).lines().count(), 2);
        let connect = [("connect-protocol-version", "1")];
        let answer = post_with(version, addr, GET_BOOK, body, &connect).await;
        assert_eq!(answer.status, 401, "{answer:?}");
        assert_eq!(answer.json()["code"], "unauthenticated");
    }
}

#[tokio::test]
async fn metadata_flows_both_ways_and_reserved_names_are_not_forged() {
    let addr = start_default().await;
    let body = r#"{"message":"hi","payload":"AAEC","responseHeaders":{"x-answer":"42"}}"#;
    let headers = [
        ("x-user", "alice"),
        ("x-trace-bin", "AQID"),
        ("grpc-status", "13"),
        ("grpc-message", "forged"),
        ("accept", "application/json"),
    ];
    for version in BOTH {
        let answer = post_with(version, addr, ECHO, body, &headers).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["x-answer"], "42");
        assert!(answer.headers.get("grpc-status").is_none(), "{answer:?}");
        let json = answer.json();
        assert_eq!(json["message"], "hi");
        assert_eq!(json["payload"], "AAEC");
        let seen = &json["requestMetadata"];
        assert_eq!(seen["x-user"], "alice");
        assert_eq!(seen["content-type"], "application/grpc");
        for reserved in ["grpc-status", "grpc-message", "accept", "host"] {
            assert!(
                seen.get(reserved).is_none(),
                "{reserved} reached the handler: {seen}"
            );
        }
    }
    // The same call by gRPC sees the same user metadata.
    let mut request = tonic::Request::new(EchoRequest {
        message: "hi".into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-user", "alice".parse().unwrap());
    let answer = echo(addr).await.echo(request).await.unwrap().into_inner();
    assert_eq!(answer.request_metadata["x-user"], "alice");
}

#[tokio::test]
async fn a_deadline_shorter_than_the_work_is_504_with_code_4() {
    let addr = start_default().await;
    let slow = r#"{"message":"late","delay":"1s"}"#;
    for version in BOTH {
        let answer = post_with(version, addr, ECHO, slow, &[("grpc-timeout", "50m")]).await;
        answer.error(504, 4);
        let answer = post_with(version, addr, ECHO, slow, &[("connect-timeout-ms", "50")]).await;
        answer.error(504, 4);
    }
    let quick = r#"{"message":"on time"}"#;
    let answer = post_with(Version::Http1, addr, ECHO, quick, &[("grpc-timeout", "5S")]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    post_with(
        Version::Http1,
        addr,
        ECHO,
        quick,
        &[("grpc-timeout", "soon")],
    )
    .await
    .error(400, 3);
}

#[tokio::test]
async fn gRPC_status_codes_map_to_http_statuses() {
    let addr = start_default().await;
    for (code, http) in [
        (5, 404),
        (6, 409),
        (7, 403),
        (8, 429),
        (9, 400),
        (12, 501),
        (14, 503),
        (16, 401),
        (1, 499),
    ] {
        let body = format!(r#"{{"message":"failed on purpose","failCode":{code}}}"#);
        let json = post_json(Version::Http1, addr, ECHO, &body)
            .await
            .error(http, code);
        assert_eq!(json["message"], "failed on purpose");
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_json_error_and_the_server_keeps_serving() {
    // Opens Echo streams: not while example.rs counts them.
    let _streams = crate::example::STREAMS.lock().await;
    let addr = start("[server]\nmax_request_bytes = 1024\n", None).await;
    for version in BOTH {
        // Malformed JSON: 400, code 3, with line and column.
        let json = post_json(version, addr, GET_BOOK, r#"{"name": "#)
            .await
            .error(400, 3);
        let message = json["message"].as_str().unwrap();
        assert!(
            message.contains("malformed JSON") && message.contains("line 1 column"),
            "{message}"
        );

        // A wrong type, deep down: the field path is named.
        let body = r#"{"parent":"shelves/1","book":{"title":"T","tags":"not a list"}}"#;
        let json = post_json(version, addr, CREATE_BOOK, body)
            .await
            .error(400, 3);
        assert!(
            json["message"].as_str().unwrap().starts_with("book.tags: "),
            "{json}"
        );
        assert_eq!(
            json["details"][0]["fieldViolations"][0]["field"],
            "book.tags"
        );

        // An unknown field.
        let json = post_json(version, addr, GET_BOOK, r#"{"nmae":"x"}"#)
            .await
            .error(400, 3);
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `nmae`"),
            "{json}"
        );

        // Over the limit, declared: 413 at once.
        let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(2000));
        post_json(version, addr, ECHO, &big).await.error(413, 8);

        // Not JSON.
        let request = Request::post(format!("http://{addr}{GET_BOOK}"))
            .header("content-type", "text/plain")
            .body(Full::from("name=shelves/1/books/1"))
            .unwrap();
        let json = send(version, request).await.error(415, 3);
        assert!(
            json["message"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{json}"
        );

        // GET on an RPC path: a method with side effects takes POST only;
        // one without is a Connect GET, which needs its query.
        let request = Request::get(format!("http://{addr}{CREATE_BOOK}"))
            .body(Full::default())
            .unwrap();
        let answer = send(version, request).await;
        answer.error(405, 12);
        assert_eq!(answer.headers["allow"], "POST");
        let request = Request::get(format!("http://{addr}{GET_BOOK}"))
            .body(Full::default())
            .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        let json = answer.json();
        assert_eq!(json["code"], "invalid_argument", "{json}");
        assert!(
            json["message"].as_str().unwrap().contains("Connect GET"),
            "{json}"
        );

        // An unknown method of a known service.
        let path = "/library.v1.LibraryService/BurnBook";
        let json = post_json(version, addr, path, "{}").await.error(404, 5);
        assert!(
            json["message"].as_str().unwrap().contains("BurnBook"),
            "{json}"
        );

        // An RPC path of a service with no table (unknown, or gRPC only
        // like grpc.health.v1): 415 naming why, before the inner service.
        for path in ["/nowhere.v1.Nothing/Call", "/grpc.health.v1.Health/Check"] {
            let answer = post_json(version, addr, path, "{}").await;
            assert!(
                String::from_utf8_lossy(&answer.body).contains("is not served as JSON here"),
                "{answer:?}"
            );
            answer.error(415, 12);
        }

        // Binary metadata that is not base64.
        post_with(version, addr, ECHO, "{}", &[("x-id-bin", "%%%")])
            .await
            .error(400, 3);

        // A streaming method called with one JSON body: served now (it
        // was 501 before streaming over HTTP), answered as NDJSON.
        let answer = post_json(version, addr, "/echo.v1.EchoService/EchoStream", "{}").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.headers["content-type"], "application/x-ndjson");

        // ...and the server still answers.
        let ok = post_json(version, addr, GET_BOOK, r#"{"name":"shelves/1/books/2"}"#).await;
        assert_eq!(ok.status, 200, "{ok:?}");
    }
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_413() {
    let addr = start("[server]\nmax_request_bytes = 1024\n", None).await;
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = (0..8)
        .map(|_| Ok(http_body::Frame::data(Bytes::from(vec![b' '; 512]))))
        .collect();
    let body = http_body_util::StreamBody::new(tokio_stream::iter(chunks));
    let request = Request::post(format!("http://{addr}{ECHO}"))
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 413);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["code"], 8, "{json}");
}

#[tokio::test]
async fn an_empty_body_is_the_empty_message() {
    let addr = start_default().await;
    let answer = post_json(
        Version::Http1,
        addr,
        "/library.v1.LibraryService/ListShelves",
        "",
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["shelves"][0]["name"], "shelves/1");
    // No content-type at all and no body: also the empty message.
    let request = Request::post(format!(
        "http://{addr}/library.v1.LibraryService/ListShelves"
    ))
    .body(Full::default())
    .unwrap();
    assert_eq!(send(Version::Http1, request).await.status, 200);
    // No content-type but a body: 415.
    let request = Request::post(format!("http://{addr}{GET_BOOK}"))
        .body(Full::from("{}"))
        .unwrap();
    send(Version::Http1, request).await.error(415, 3);
}

#[tokio::test]
async fn server_type_grpc_refuses_json_and_http_refuses_grpc() {
    let grpc_only = start("[server]\ntype = \"grpc\"\n", None).await;
    post_json(
        Version::Http1,
        grpc_only,
        GET_BOOK,
        r#"{"name":"shelves/1/books/1"}"#,
    )
    .await
    .error(415, 3);
    let book = library(grpc_only)
        .await
        .get_book(GetBookRequest {
            name: "shelves/1/books/1".into(),
        })
        .await;
    assert!(book.is_ok(), "{book:?}");

    let http_only = start("[server]\ntype = \"http\"\n", None).await;
    let answer = post_json(
        Version::H2c,
        http_only,
        GET_BOOK,
        r#"{"name":"shelves/1/books/1"}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let status = library(http_only)
        .await
        .get_book(GetBookRequest {
            name: "shelves/1/books/1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

#[tokio::test]
async fn the_example_serves_grpc_health() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let addr = start("", Some("token")).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    for service in ["", "library.v1.LibraryService", "echo.v1.EchoService"] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap();
        assert_eq!(
            answer.get_ref().status(),
            ServingStatus::Serving,
            "{service:?}"
        );
    }
}

#[tokio::test]
async fn json_options_from_the_config_apply_both_ways() {
    let options = "[json]\nemit_unpopulated = true\nproto_names = true\nenums_as_ints = true\nignore_unknown_fields = true\n";
    let addr = start(options, None).await;
    for version in BOTH {
        let body = r#"{"name":"shelves/1/books/2","unknownField":{"a":[1,2]}}"#;
        let answer = post_json(version, addr, GET_BOOK, body).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        let json = answer.json();
        assert_eq!(json["page_count"], "264");
        assert_eq!(json["genre"], 1);
        assert_eq!(json["labels"], json!({}));
        assert_eq!(json["cover_thumbnail"], "");
        assert!(json.get("pageCount").is_none(), "{json}");
        // Unknown query parameters are skipped too.
        let request = Request::get(format!(
            "http://{addr}/v1/shelves/1/books?pageSize=1&nope=1"
        ))
        .body(Full::default())
        .unwrap();
        let answer = send(version, request).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json()["next_page_token"], "1");
    }
    // The defaults: JSON names, enum names, defaults omitted, unknown fields rejected.
    let addr = start_default().await;
    let json = post_json(
        Version::Http1,
        addr,
        GET_BOOK,
        r#"{"name":"shelves/1/books/2"}"#,
    )
    .await
    .json();
    assert_eq!(
        (&json["pageCount"], &json["genre"]),
        (&json!("264"), &json!("GENRE_FICTION"))
    );
    assert!(json.get("labels").is_none(), "{json}");
    let body = r#"{"name":"shelves/1/books/2","unknownField":1}"#;
    post_json(Version::Http1, addr, GET_BOOK, body)
        .await
        .error(400, 3);
}
