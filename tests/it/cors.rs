//! CORS on the example server (`[cors]`, `dual_protocol::cors`): the
//! preflights browsers send before Connect, gRPC-Web and JSON calls, the
//! headers of the actual answers, and origins that are not allowed.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::Full;

use crate::support::*;

const APP: &str = "https://app.example";
const ECHO: &str = "/echo.v1.EchoService/Echo";

fn config(extra: &str) -> String {
    format!("[cors]\nallow_origins = [\"{APP}\", \"http://localhost:5173\"]\n{extra}")
}

/// A preflight of `method` with `request_headers` from `origin`.
async fn preflight(
    version: Version,
    addr: SocketAddr,
    path: &str,
    origin: &str,
    method: &str,
    request_headers: &str,
) -> Answer {
    let request = Request::options(format!("http://{addr}{path}"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", request_headers)
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(version, request).await
}

/// The comma-separated names of header `name`, lowercased.
fn names(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Asserts a preflight answer that lets `origin` send `method` with
/// `request_headers`.
fn assert_allows(answer: &Answer, origin: &str, method: &str, request_headers: &str) {
    assert!(answer.status.is_success(), "{answer:?}");
    let headers = &answer.headers;
    assert_eq!(headers["access-control-allow-origin"], origin, "{answer:?}");
    let methods = names(headers, "access-control-allow-methods");
    assert!(
        methods.contains(&method.to_ascii_lowercase()),
        "{methods:?}"
    );
    let allowed = names(headers, "access-control-allow-headers");
    for name in request_headers.split(',') {
        assert!(
            allowed.contains(&name.trim().to_owned()),
            "{name}: {allowed:?}"
        );
    }
    assert_eq!(headers["access-control-max-age"], "7200");
    assert!(
        names(headers, "vary").contains(&"origin".to_owned()),
        "{answer:?}"
    );
    assert!(!headers.contains_key("access-control-allow-credentials"));
}

/// Asserts the CORS headers of an actual answer to `origin`.
fn assert_actual(answer: &Answer, origin: &str) {
    let headers = &answer.headers;
    assert_eq!(headers["access-control-allow-origin"], origin, "{answer:?}");
    let exposed = names(headers, "access-control-expose-headers");
    for name in [
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "connect-content-encoding",
        "content-encoding",
    ] {
        assert!(exposed.contains(&name.to_owned()), "{name}: {exposed:?}");
    }
    // An answer to any origin is the same for all: no `Vary: origin`.
    if origin != "*" {
        assert!(
            names(headers, "vary").contains(&"origin".to_owned()),
            "{answer:?}"
        );
    }
}

fn no_cors_headers(answer: &Answer) -> bool {
    !answer
        .headers
        .keys()
        .any(|name| name.as_str().starts_with("access-control-"))
}

#[tokio::test]
async fn a_connect_preflight_is_answered() {
    let addr = start(&config(""), None).await;
    for version in BOTH {
        let headers = "content-type,connect-protocol-version";
        let answer = preflight(version, addr, ECHO, APP, "POST", headers).await;
        assert_allows(&answer, APP, "POST", headers);
        // Connect GET, with a deadline (a GET without headers needs none).
        let headers = "connect-protocol-version,connect-timeout-ms";
        let answer = preflight(version, addr, ECHO, APP, "GET", headers).await;
        assert_allows(&answer, APP, "GET", headers);
        assert!(answer.body.is_empty(), "{answer:?}");
    }
}

#[tokio::test]
async fn a_grpc_web_preflight_is_answered() {
    let addr = start(&config(""), None).await;
    for version in BOTH {
        let headers = "x-grpc-web,x-user-agent,content-type,grpc-timeout";
        let answer = preflight(version, addr, ECHO, APP, "POST", headers).await;
        assert_allows(&answer, APP, "POST", headers);
    }
}

#[tokio::test]
async fn a_rest_delete_preflight_is_answered_before_the_token_check() {
    // Browsers send no credentials with a preflight: it must not reach the
    // bearer-token interceptor.
    let addr = start(&config(""), Some("secret")).await;
    let path = "/v1/shelves/1/books/1";
    for version in BOTH {
        let headers = "authorization,content-type";
        let answer = preflight(
            version,
            addr,
            path,
            "http://localhost:5173",
            "DELETE",
            headers,
        )
        .await;
        assert_allows(&answer, "http://localhost:5173", "DELETE", headers);
    }
}

#[tokio::test]
async fn a_header_nobody_allowed_is_not_allowed() {
    let addr = start(&config(""), None).await;
    let answer = preflight(
        Version::Http1,
        addr,
        ECHO,
        APP,
        "POST",
        "content-type,x-tenant",
    )
    .await;
    let allowed = names(&answer.headers, "access-control-allow-headers");
    assert!(allowed.contains(&"content-type".to_owned()), "{allowed:?}");
    assert!(!allowed.contains(&"x-tenant".to_owned()), "{allowed:?}");
    assert!(!allowed.contains(&"*".to_owned()), "{allowed:?}");
}

#[tokio::test]
async fn actual_answers_carry_the_origin_and_the_exposed_headers() {
    let addr = start(&config(""), Some("secret")).await;
    let bearer = ("authorization", "Bearer secret");
    for version in BOTH {
        // A JSON call on an RPC path.
        let answer = post_with(
            version,
            addr,
            ECHO,
            r#"{"message":"hi"}"#,
            &[("origin", APP), bearer],
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.json()["message"], "hi");
        assert_actual(&answer, APP);
        // A JSON call with Connect's header (as connect-web sends it).
        let headers = [("origin", APP), bearer, ("connect-protocol-version", "1")];
        let answer = post_with(version, addr, ECHO, r#"{"message":"hi"}"#, &headers).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_actual(&answer, APP);
        // A REST GET and DELETE.
        for (method, path) in [
            ("GET", "/v1/shelves/1/books/1"),
            ("DELETE", "/v1/shelves/1/books/2"),
        ] {
            let request = Request::builder()
                .method(method)
                .uri(format!("http://{addr}{path}"))
                .header("origin", APP)
                .header(bearer.0, bearer.1)
                .body(Full::new(Bytes::new()))
                .unwrap();
            let answer = send(version, request).await;
            // The book is deleted over HTTP/1.1 first, so h2c finds none.
            if method == "GET" || version == Version::Http1 {
                assert_eq!(answer.status, 200, "{method} {answer:?}");
            }
            assert_actual(&answer, APP);
        }
        // Errors too, so that the page can read them: the token check's and
        // the layer's own.
        let answer = post_with(
            version,
            addr,
            ECHO,
            r#"{"message":"hi"}"#,
            &[("origin", APP)],
        )
        .await;
        answer.error(401, 16);
        assert_actual(&answer, APP);
        let answer = post_with(
            version,
            addr,
            "/echo.v1.EchoService/Nope",
            "{}",
            &[("origin", APP), bearer],
        )
        .await;
        answer.error(404, 5);
        assert_actual(&answer, APP);
    }
}

#[tokio::test]
async fn a_grpc_web_call_gets_the_cors_headers() {
    // The CORS headers of the answer whatever it is: gRPC-Web's own answer
    // is the layer's (tested with gRPC-Web itself).
    let addr = start(&config(""), None).await;
    // EchoRequest { message: "hi" }, in a gRPC frame.
    let frame: &[u8] = &[0, 0, 0, 0, 4, 0x0a, 2, b'h', b'i'];
    for version in BOTH {
        let request = Request::post(format!("http://{addr}{ECHO}"))
            .header("origin", APP)
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .body(Full::new(Bytes::from_static(frame)))
            .unwrap();
        let answer = send(version, request).await;
        assert_actual(&answer, APP);
    }
}

#[tokio::test]
async fn an_origin_not_allowed_gets_no_cors_headers_of_its_own() {
    let addr = start(&config(""), None).await;
    for origin in [
        "https://evil.example",
        "https://app.example.evil",
        "http://app.example",
    ] {
        let answer = preflight(Version::Http1, addr, ECHO, origin, "POST", "content-type").await;
        assert!(
            !answer.headers.contains_key("access-control-allow-origin"),
            "{origin}: {answer:?}"
        );
        // The server still answers (it is the browser that refuses to read
        // the answer), without letting the page see it.
        let answer = post_with(
            Version::Http1,
            addr,
            ECHO,
            r#"{"message":"hi"}"#,
            &[("origin", origin)],
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(
            !answer.headers.contains_key("access-control-allow-origin"),
            "{origin}: {answer:?}"
        );
    }
}

#[tokio::test]
async fn without_cors_a_preflight_gets_no_cors_headers() {
    let addr = start_default().await;
    for version in BOTH {
        let answer = preflight(version, addr, ECHO, APP, "POST", "content-type").await;
        assert!(no_cors_headers(&answer), "{answer:?}");
        let answer = post_with(
            version,
            addr,
            ECHO,
            r#"{"message":"hi"}"#,
            &[("origin", APP)],
        )
        .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(no_cors_headers(&answer), "{answer:?}");
    }
}

#[tokio::test]
async fn an_options_request_that_is_no_preflight_is_answered_as_without_cors() {
    let with = start(&config(""), None).await;
    let without = start_default().await;
    for path in [ECHO, "/v1/shelves/1/books/1"] {
        let options = |addr: SocketAddr, origin: Option<&str>| {
            let mut request = Request::options(format!("http://{addr}{path}"));
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request.body(Full::new(Bytes::new())).unwrap()
        };
        let expected = send(Version::Http1, options(without, None)).await;
        for origin in [None, Some(APP)] {
            let answer = send(Version::Http1, options(with, origin)).await;
            assert_eq!(answer.status, expected.status, "{path}: {answer:?}");
            assert_eq!(answer.headers.get("allow"), expected.headers.get("allow"));
            assert!(no_cors_headers(&answer), "{path}: {answer:?}");
        }
    }
}

#[tokio::test]
async fn credentials_extra_headers_and_any_origin_come_from_the_config() {
    let extra = "allow_credentials = true\nmax_age_secs = 60\n\
                 allow_headers = [\"X-Tenant\"]\nexpose_headers = [\"trailer-x-cost\"]\n";
    let addr = start(&config(extra), None).await;
    let answer = preflight(
        Version::Http1,
        addr,
        ECHO,
        APP,
        "POST",
        "content-type,x-tenant",
    )
    .await;
    assert_eq!(answer.headers["access-control-allow-origin"], APP);
    assert_eq!(answer.headers["access-control-allow-credentials"], "true");
    assert_eq!(answer.headers["access-control-max-age"], "60");
    assert!(
        names(&answer.headers, "access-control-allow-headers").contains(&"x-tenant".to_owned())
    );
    let answer = post_with(
        Version::Http1,
        addr,
        ECHO,
        r#"{"message":"hi"}"#,
        &[("origin", APP)],
    )
    .await;
    assert_actual(&answer, APP);
    assert_eq!(answer.headers["access-control-allow-credentials"], "true");
    let exposed = names(&answer.headers, "access-control-expose-headers");
    assert!(
        exposed.contains(&"trailer-x-cost".to_owned()),
        "{exposed:?}"
    );

    let addr = start("[cors]\nallow_origins = [\"*\"]\n", None).await;
    let answer = preflight(
        Version::Http1,
        addr,
        ECHO,
        "https://anyone.example",
        "POST",
        "content-type",
    )
    .await;
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
    assert!(
        !answer
            .headers
            .contains_key("access-control-allow-credentials")
    );
    let answer = post_with(
        Version::Http1,
        addr,
        ECHO,
        r#"{"message":"hi"}"#,
        &[("origin", "https://anyone.example")],
    )
    .await;
    assert_actual(&answer, "*");
}
