//! The OpenAPI document and docs page the example server serves, and calls
//! built from nothing but the document, checked against its schemas.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::common;
use crate::support::*;
use dual_protocol::DualProtocolLayer;

const CONFIG: &str = "[openapi]\npath = \"/openapi.json\"\ndocs = \"/docs\"\n";

async fn call(addr: SocketAddr, method: Method, path: &str, body: Option<&Value>) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Full::from(json.to_string())
        }
        None => Full::new(Bytes::new()),
    };
    send(Version::Http1, request.body(body).unwrap()).await
}

async fn document(addr: SocketAddr) -> Value {
    let answer = call(addr, Method::GET, "/openapi.json", None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.headers["content-type"], "application/json");
    answer.json()
}

#[tokio::test]
async fn the_example_serves_a_document_of_every_method() {
    let addr = start(CONFIG, None).await;
    let doc = document(addr).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    // Every method of the example's tables: its RPC path, and one
    // operation per REST binding.
    let packages = [
        common::library::v1::DUAL_PROTOCOL,
        common::echo::v1::DUAL_PROTOCOL,
    ];
    let mut methods = 0;
    for service in packages.iter().flat_map(|p| p.services()) {
        for method in service.methods() {
            methods += 1;
            let rpc = &paths[method.path()]["post"];
            assert_eq!(rpc["x-grpc-method"], method.path(), "{}", method.path());
            for rule in method.http_rules() {
                let verb = rule.verb().to_ascii_lowercase();
                let found = paths.values().any(|item| {
                    item[&verb]["x-grpc-method"] == method.path()
                        && item[&verb]["description"]
                            .as_str()
                            .is_some_and(|d| d.contains(rule.template()))
                });
                assert!(
                    found,
                    "{} {} of {}",
                    rule.verb(),
                    rule.template(),
                    method.path()
                );
            }
        }
    }
    assert_eq!(methods, 15);
    assert!(paths.contains_key("/v1/shelves/{shelf}/books/{book}"));

    let schemas = &doc["components"]["schemas"];
    let book = &schemas["library.v1.Book"]["properties"];
    assert_eq!(book["pageCount"]["type"], "string");
    assert_eq!(book["pageCount"]["format"], "int64");
    assert_eq!(
        book["publishTime"]["$ref"],
        "#/components/schemas/google.protobuf.Timestamp"
    );
    assert_eq!(schemas["google.protobuf.Timestamp"]["format"], "date-time");
    assert_eq!(
        book["genre"]["$ref"],
        "#/components/schemas/library.v1.Genre"
    );
    assert_eq!(schemas["library.v1.Genre"]["enum"][1], "GENRE_FICTION");
    assert_eq!(book["labels"]["additionalProperties"]["type"], "string");
    assert_eq!(book["coverThumbnail"]["contentEncoding"], "base64");
    assert!(
        schemas["google.protobuf.Duration"]["pattern"]
            .as_str()
            .unwrap()
            .ends_with("s$")
    );
}

#[tokio::test]
async fn the_docs_page_and_the_verbs() {
    let addr = start(CONFIG, None).await;
    let page = call(addr, Method::GET, "/docs", None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    let html = std::str::from_utf8(&page.body).unwrap();
    assert!(html.contains(r#"const SPEC_URL = "./openapi.json";"#));
    // Self-contained: nothing is loaded from elsewhere.
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script src") && !html.contains("<link"));

    let head = call(addr, Method::HEAD, "/openapi.json", None).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let full = call(addr, Method::GET, "/openapi.json", None).await;
    assert_eq!(head.headers["content-length"], full.body.len().to_string());
    let post = call(addr, Method::POST, "/openapi.json", Some(&json!({}))).await;
    post.error(405, 12);
    assert_eq!(post.headers["allow"], "GET, HEAD");

    // Off by default.
    let addr = start_default().await;
    let answer = call(addr, Method::GET, "/openapi.json", None).await;
    assert_eq!(answer.status, 404);
}

#[tokio::test]
async fn only_the_services_the_layer_serves() {
    use tower::{Layer, ServiceExt};
    let layer = DualProtocolLayer::builder()
        .services(["echo.v1.EchoService"])
        .openapi("/openapi.json")
        .build()
        .unwrap();
    let service = layer.layer(common::routes(None));
    let request = Request::get("/openapi.json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let doc: Value = serde_json::from_slice(&body).unwrap();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(paths.contains(&&"/echo.v1.EchoService/Echo".to_owned()));
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("library") || p.contains("shelves"))
    );
    assert!(
        doc["components"]["schemas"]
            .get("library.v1.Book")
            .is_none()
    );

    for (builder, expected) in [
        (
            DualProtocolLayer::builder().openapi("/v1/shelves"),
            "a path of the API",
        ),
        (
            DualProtocolLayer::builder().openapi("/echo.v1.EchoService/Echo"),
            "a path of the API",
        ),
        (
            DualProtocolLayer::builder().openapi("openapi.json"),
            "absolute URL path",
        ),
        (
            DualProtocolLayer::builder().openapi_docs("/docs"),
            "needs openapi",
        ),
    ] {
        let err = builder.build().unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
    let err = dual_protocol::Config::from_toml("[openapi]\ndocs = \"/docs\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("openapi.docs: "), "{err}");
}

#[tokio::test]
async fn the_json_options_shape_the_document() {
    let config = format!("{CONFIG}[json]\nproto_names = true\nenums_as_ints = true\n");
    let addr = start(&config, None).await;
    let doc = document(addr).await;
    let book = &doc["components"]["schemas"]["library.v1.Book"];
    assert_eq!(book["properties"]["page_count"]["type"], "string");
    let genre = &doc["components"]["schemas"]["library.v1.Genre"];
    assert_eq!(genre["type"], "integer");
    // And the server answers in that shape.
    let (path, verb, operation) = operation(&doc, "LibraryService_GetBook");
    let url = fill(path, operation, &[("shelf", "1"), ("book", "1")], &[]);
    let answer = call(addr, verb, &url, None).await;
    assert_eq!(answer.status, 200);
    check(&doc, &response_schema(operation, "200"), &answer.json());
}

/// The operation with `id`: (path, verb, operation).
fn operation<'a>(doc: &'a Value, id: &str) -> (&'a str, Method, &'a Value) {
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (verb, operation) in item.as_object().unwrap() {
            if operation["operationId"] == id {
                let verb = Method::from_bytes(verb.to_ascii_uppercase().as_bytes()).unwrap();
                return (path, verb, operation);
            }
        }
    }
    panic!("no operation {id}")
}

/// The URL of `path` with its path parameters and the given query
/// parameters, each of which must be documented.
fn fill(
    path: &str,
    operation: &Value,
    path_values: &[(&str, &str)],
    query: &[(&str, &str)],
) -> String {
    let parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let documented = |name: &str, location: &str| {
        parameters
            .iter()
            .any(|p| p["name"] == name && p["in"] == location)
    };
    let mut url = path.to_owned();
    for parameter in parameters.iter().filter(|p| p["in"] == "path") {
        let name = parameter["name"].as_str().unwrap();
        let value = path_values
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no value for path parameter {name}"))
            .1;
        url = url.replace(&format!("{{{name}}}"), value);
    }
    for (i, (name, value)) in query.iter().enumerate() {
        assert!(
            documented(name, "query"),
            "{name} is not a query parameter of {path}"
        );
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&format!("{name}={value}"));
    }
    url
}

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(target) => resolve(doc, doc.pointer(&target[1..]).expect("ref resolves")),
        None => value,
    }
}

fn response_schema(operation: &Value, code: &str) -> Value {
    operation["responses"][code]["content"]["application/json"]["schema"].clone()
}

/// A request value made from a schema, as a client generator's user would
/// fill it: every field set (the first member of a oneof), `name` left out.
fn sample(doc: &Value, schema: &Value, depth: usize) -> Option<Value> {
    if depth > 4 {
        return None;
    }
    let schema = resolve(doc, schema);
    if let Some(values) = schema["enum"].as_array() {
        return values.get(1).or(values.first()).cloned();
    }
    let kind = match &schema["type"] {
        Value::Array(types) => types.iter().find(|t| *t != "null").cloned()?,
        other => other.clone(),
    };
    Some(match kind.as_str()? {
        "object" if schema["properties"].get("@type").is_some() => return None,
        "object" => {
            let mut out = serde_json::Map::new();
            let skip: Vec<&Value> = schema["x-oneof"]
                .as_object()
                .map(|o| {
                    o.values()
                        .flat_map(|m| m.as_array().unwrap().iter().skip(1))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    if name == "name" || skip.iter().any(|s| *s == name) {
                        continue;
                    }
                    if let Some(value) = sample(doc, property, depth + 1) {
                        out.insert(name.clone(), value);
                    }
                }
            } else if schema["additionalProperties"].is_object() {
                let value = sample(doc, &schema["additionalProperties"], depth + 1)?;
                out.insert("key".to_owned(), value);
            }
            Value::Object(out)
        }
        "array" => Value::Array(
            sample(doc, &schema["items"], depth + 1)
                .into_iter()
                .collect(),
        ),
        "string" => match (schema["format"].as_str(), schema["pattern"].as_str()) {
            (Some("date-time"), _) => json!("2020-02-29T12:00:00Z"),
            (Some("int64" | "uint64"), _) => json!("42"),
            (Some("byte"), _) => json!("AQID"),
            (_, Some(pattern)) if pattern.ends_with("s$") => json!("1.5s"),
            _ => json!("sample"),
        },
        "integer" => json!(7),
        "number" => json!(2.5),
        "boolean" => json!(true),
        _ => return None,
    })
}

/// Checks `value` against `schema`: the keywords the generator writes
/// (a small validator; CI runs a full one).
fn check(doc: &Value, schema: &Value, value: &Value) {
    if let Err(problem) = validate(doc, schema, value, "$") {
        panic!("{problem}\nvalue: {value:#}");
    }
}

fn validate(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(alternatives) = schema["anyOf"].as_array() {
        return alternatives
            .iter()
            .any(|s| validate(doc, s, value, at).is_ok())
            .then_some(())
            .ok_or_else(|| format!("{at}: matches no alternative"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let type_ok = types.is_empty()
        || types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
    if !type_ok {
        return Err(format!("{at}: {value} is not of type {types:?}"));
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {values:?}"));
    }
    // The 64-bit integers' patterns say "in range", which parsing checks.
    if let (Some(format), Some(text)) = (schema["format"].as_str(), value.as_str()) {
        let ok = match format {
            "int64" => text.parse::<i64>().is_ok(),
            "uint64" => text.parse::<u64>().is_ok(),
            _ => true,
        };
        if !ok {
            return Err(format!("{at}: {text:?} is not a {format}"));
        }
    }
    if schema["format"] == "date-time"
        && let Some(text) = value.as_str()
        && !(text.len() >= 20 && text.as_bytes()[10] == b'T' && text.ends_with('Z'))
    {
        return Err(format!("{at}: {text:?} is not an RFC 3339 UTC date-time"));
    }
    if let Some(object) = value.as_object() {
        for required in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(required.as_str().unwrap()) {
                return Err(format!("{at}: {required} is missing"));
            }
        }
        for (key, item) in object {
            let here = format!("{at}.{key}");
            match (
                schema["properties"].get(key),
                &schema["additionalProperties"],
            ) {
                (Some(property), _) => validate(doc, property, item, &here)?,
                (None, Value::Bool(false)) => return Err(format!("{here}: not a property")),
                (None, additional) if additional.is_object() => {
                    validate(doc, additional, item, &here)?
                }
                _ => {}
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(doc, schema, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn rest_calls_built_from_the_document() {
    let addr = start(CONFIG, None).await;
    let doc = document(addr).await;

    // GET with path parameters.
    let (path, verb, get_book) = operation(&doc, "LibraryService_GetBook");
    let url = fill(path, get_book, &[("shelf", "1"), ("book", "1")], &[]);
    assert_eq!(url, "/v1/shelves/1/books/1");
    let answer = call(addr, verb, &url, None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let book = answer.json();
    check(&doc, &response_schema(get_book, "200"), &book);
    assert_eq!(book["pageCount"], "304");

    // An error: the default response, a google.rpc.Status.
    let url = fill(path, get_book, &[("shelf", "1"), ("book", "404")], &[]);
    let answer = call(addr, Method::GET, &url, None).await;
    assert_eq!(answer.status, 404);
    let status = resolve(&doc, &get_book["responses"]["default"]);
    check(
        &doc,
        &status["content"]["application/json"]["schema"],
        &answer.json(),
    );

    // Query parameters.
    let (path, verb, list_books) = operation(&doc, "LibraryService_ListBooks");
    let url = fill(path, list_books, &[("shelf", "1")], &[("pageSize", "1")]);
    let answer = call(addr, verb, &url, None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let page = answer.json();
    check(&doc, &response_schema(list_books, "200"), &page);
    assert_eq!(page["books"].as_array().unwrap().len(), 1);
    assert_eq!(page["nextPageToken"], "1");

    // A body made from the request schema, and a query parameter.
    let (path, verb, create_shelf) = operation(&doc, "LibraryService_CreateShelf");
    let body_schema = &create_shelf["requestBody"]["content"]["application/json"]["schema"];
    let body = sample(&doc, body_schema, 0).unwrap();
    let url = fill(path, create_shelf, &[], &[("shelfId", "openapi")]);
    let answer = call(addr, verb, &url, Some(&body)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let shelf = answer.json();
    check(&doc, &response_schema(create_shelf, "200"), &shelf);
    assert_eq!(shelf["name"], "shelves/openapi");

    // Every field of a Book, from its schema, into the new shelf.
    let (path, verb, create_book) = operation(&doc, "LibraryService_CreateBook");
    let body_schema = &create_book["requestBody"]["content"]["application/json"]["schema"];
    let body = sample(&doc, body_schema, 0).unwrap();
    check(&doc, body_schema, &body);
    assert_eq!(body["pageCount"], "42");
    assert_eq!(body["genre"], "GENRE_FICTION");
    let url = fill(
        path,
        create_book,
        &[("shelf", "openapi")],
        &[("bookId", "b1")],
    );
    let answer = call(addr, verb, &url, Some(&body)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let created = answer.json();
    check(&doc, &response_schema(create_book, "200"), &created);
    assert_eq!(created["publishTime"], "2020-02-29T12:00:00Z");
    assert_eq!(created["labels"], json!({"key": "sample"}));
    assert_eq!(created["coverThumbnail"], "AQID");

    // PATCH: body, path and a FieldMask in the query.
    let (path, verb, update_book) = operation(&doc, "LibraryService_UpdateBook");
    let url = fill(
        path,
        update_book,
        &[("shelf", "openapi"), ("book", "b1")],
        &[("updateMask", "title,pageCount")],
    );
    let answer = call(
        addr,
        verb,
        &url,
        Some(&json!({"title": "New", "pageCount": "7"})),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let updated = answer.json();
    check(&doc, &response_schema(update_book, "200"), &updated);
    assert_eq!(
        (&updated["title"], &updated["pageCount"], &updated["author"]),
        (&json!("New"), &json!("7"), &json!("sample"))
    );

    // DELETE answers google.protobuf.Empty.
    let (path, verb, delete_book) = operation(&doc, "LibraryService_DeleteBook");
    let url = fill(
        path,
        delete_book,
        &[("shelf", "openapi"), ("book", "b1")],
        &[],
    );
    let answer = call(addr, verb, &url, None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    check(&doc, &response_schema(delete_book, "200"), &answer.json());

    // And the RPC path of the same method.
    let (path, verb, rpc) = operation(&doc, "LibraryService_ListShelves_rpc");
    let answer = call(addr, verb, path, Some(&json!({}))).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    check(&doc, &response_schema(rpc, "200"), &answer.json());
}
