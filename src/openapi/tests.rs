use super::*;

const LIBRARY: &str = include_str!(concat!(env!("OUT_DIR"), "/library.v1.openapi.json"));
const ECHO: &str = include_str!(concat!(env!("OUT_DIR"), "/echo.v1.openapi.json"));
const GOOGLE_API: &str = include_str!(concat!(env!("OUT_DIR"), "/google.api.openapi.json"));

fn packages() -> Vec<PackageDescriptor> {
    vec![
        crate::__private::package("library.v1", &[], &[], LIBRARY),
        crate::__private::package("echo.v1", &[], &[], ECHO),
        crate::__private::package("google.api", &[], &[], GOOGLE_API),
        // Registered twice (discovered and explicit): counted once.
        crate::__private::package("echo.v1", &[], &[], ECHO),
    ]
}

fn merged(served: &[&str], options: JsonOptions) -> serde_json::Value {
    let document = merge(&packages(), |s| served.contains(&s), options).unwrap();
    serde_json::to_value(&document).unwrap()
}

const BOTH: [&str; 2] = ["library.v1.LibraryService", "echo.v1.EchoService"];

#[test]
fn merges_the_served_services_and_what_they_reach() {
    let doc = merged(&BOTH, JsonOptions::default());
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "echo.v1, library.v1");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/v1/shelves/{shelf}/books/{book}"));
    assert!(paths.contains_key("/echo.v1.EchoService/Echo"));
    assert_eq!(paths.len(), 19 + 6);
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["echo.v1.EchoService", "library.v1.LibraryService"]);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("library.v1.Book"));
    assert!(schemas.contains_key("google.protobuf.Duration"));
    assert!(schemas.contains_key("google.rpc.Status"));
    assert!(schemas.contains_key("google.protobuf.Any"));

    // Only echo: nothing of the library is left, not even its schemas.
    let doc = merged(&["echo.v1.EchoService"], JsonOptions::default());
    assert_eq!(doc["info"]["title"], "echo.v1");
    assert_eq!(doc["paths"].as_object().unwrap().len(), 6);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(!schemas.keys().any(|k| k.starts_with("library.")));
    assert!(!schemas.contains_key("google.protobuf.Timestamp"));
    assert!(schemas.contains_key("echo.v1.EchoRequest"));
    assert!(doc["components"]["responses"]["BadRequest"].is_object());

    let doc = merged(&[], JsonOptions::default());
    assert_eq!(doc["info"]["title"], "No services");
    assert!(doc["paths"].as_object().unwrap().is_empty());
}

#[test]
fn keeps_the_generated_order() {
    let document = merge(&packages(), |s| BOTH.contains(&s), JsonOptions::default()).unwrap();
    let text = String::from_utf8(serde_json::to_vec(&document).unwrap()).unwrap();
    assert!(
        text.starts_with(r#"{"openapi":"3.1.0","info":{"title":"#),
        "{text:.80}"
    );
    let book = &text[text.find(r#""library.v1.Book":{"#).unwrap()..];
    let (title, count) = (book.find(r#""title":"#), book.find(r#""pageCount":"#));
    assert!(title.unwrap() < count.unwrap());
}

#[test]
fn rewrites_for_the_json_options() {
    let options = JsonOptions {
        proto_names: true,
        enums_as_ints: true,
        ignore_unknown_fields: true,
        emit_unpopulated: false,
    };
    let doc = merged(&BOTH, options);
    let schemas = &doc["components"]["schemas"];
    let book = &schemas["library.v1.Book"];
    assert!(book.get("additionalProperties").is_none());
    let props = &book["properties"];
    assert_eq!(props["page_count"]["type"], "string");
    assert_eq!(props["page_count"]["x-json-name"], "pageCount");
    assert!(props.get("pageCount").is_none());
    let genre = &schemas["library.v1.Genre"];
    assert_eq!(genre["type"], "integer");
    assert_eq!(genre["enum"], serde_json::json!([0, 1, 2, 3, 4]));
    assert_eq!(genre["x-enum-varnames"][1], "GENRE_FICTION");
    assert!(
        genre["description"]
            .as_str()
            .unwrap()
            .contains("Written as its number")
    );
    let description = doc["info"]["description"].as_str().unwrap();
    assert!(description.contains("`proto_names`"), "{description}");
    assert!(description.contains("`enums_as_ints`"), "{description}");

    // Defaults: untouched.
    let doc = merged(&BOTH, JsonOptions::default());
    let book = &doc["components"]["schemas"]["library.v1.Book"];
    assert_eq!(book["additionalProperties"], false);
    assert_eq!(
        book["properties"]["pageCount"]["x-proto-name"],
        "page_count"
    );
}

#[test]
fn oneof_constraints_follow_the_renames() {
    let mut schema: Json = serde_json::from_str(
        r#"{"type":"object","properties":{
              "aB":{"type":"string","x-proto-name":"a_b"},
              "c":{"type":"string"}},
            "x-oneof":{"o":["aB","c"]},
            "not":{"anyOf":[{"required":["aB","c"]}]}}"#,
    )
    .unwrap();
    let options = JsonOptions {
        proto_names: true,
        ..JsonOptions::default()
    };
    rewrite(&mut schema, options);
    let value = serde_json::to_value(&schema).unwrap();
    assert_eq!(value["x-oneof"]["o"], serde_json::json!(["a_b", "c"]));
    assert_eq!(
        value["not"]["anyOf"][0]["required"],
        serde_json::json!(["a_b", "c"])
    );
    assert!(value["properties"]["a_b"].is_object());
}

#[test]
fn operation_ids_stay_unique_across_packages() {
    let packages = [
        crate::__private::package("echo.v1", &[], &[], ECHO),
        crate::__private::package("echo.v2", &[], &[], ECHO),
    ];
    let document = merge(&packages, |_| true, JsonOptions::default()).unwrap();
    let doc = serde_json::to_value(&document).unwrap();
    let ids: Vec<&str> = doc["paths"]["/v1/echo"]
        .as_object()
        .map(|item| {
            item.values()
                .map(|op| op["operationId"].as_str().unwrap())
                .collect()
        })
        .unwrap();
    // Same path and verb: the later package's operation replaces it, with
    // its own id.
    assert_eq!(ids, ["echo_v2_EchoService_Echo"]);
}

#[test]
fn a_broken_document_names_its_package() {
    let packages = [crate::__private::package("bad.v1", &[], &[], "{")];
    let err = merge(&packages, |_| true, JsonOptions::default()).unwrap_err();
    assert!(err.to_string().contains("package bad.v1"), "{err}");
}

#[test]
fn pages_and_their_paths() {
    let registry = Registry::default();
    let pages = Pages::new(
        "/openapi.json".into(),
        Some("/docs".into()),
        &packages(),
        &registry,
        JsonOptions::default(),
    )
    .unwrap();
    let document = pages.get("/openapi.json").unwrap();
    let response: Response<Bytes> = document.response(false);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.headers()["content-length"],
        response.body().len().to_string()
    );
    let head: Response<Bytes> = document.response(true);
    assert!(head.body().is_empty());
    assert_eq!(
        head.headers()["content-length"],
        response.body().len().to_string()
    );
    let docs: Response<Bytes> = pages.get("/docs").unwrap().response(false);
    assert_eq!(docs.headers()["content-type"], "text/html; charset=utf-8");
    let html = std::str::from_utf8(docs.body()).unwrap();
    assert!(html.contains(r#"const SPEC_URL = "./openapi.json";"#));
    assert!(pages.get("/docs/").is_none());
    assert!(pages.get("/").is_none());

    for bad in ["openapi.json", "/a b", "/x?y=1", "", "/x#y"] {
        let err = Pages::new(
            bad.into(),
            None,
            &packages(),
            &registry,
            JsonOptions::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("absolute URL path"),
            "{bad}: {err}"
        );
    }
    let err = Pages::new(
        "/same".into(),
        Some("/same".into()),
        &packages(),
        &registry,
        JsonOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("document's path too"), "{err}");
}

#[test]
fn the_page_finds_the_document_relative_to_itself() {
    assert_eq!(relative_url("/docs", "/openapi.json"), "./openapi.json");
    assert_eq!(
        relative_url("/api/docs", "/api/openapi.json"),
        "./openapi.json"
    );
    assert_eq!(relative_url("/docs/", "/openapi.json"), "/openapi.json");
    assert_eq!(
        relative_url("/docs", "/spec/openapi.json"),
        "/spec/openapi.json"
    );
}
