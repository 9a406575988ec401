use super::*;

use serde_json::Value;

use crate::test_protos::compile;

const LIBRARY: &str = include_str!("../../../proto/library/v1/library.proto");
const ECHO: &str = include_str!("../../../proto/echo/v1/echo.proto");
const HTTPBODY: &str = include_str!("../../proto/google/api/httpbody.proto");
const RESTTEST: &str = include_str!("../../../proto/resttest/v1/resttest.proto");
const KITCHEN: &str = include_str!("../../../proto/kitchen/v1/kitchen.proto");

fn document_of(files: &[(&str, &str)], package: &str) -> Value {
    let encoded = compile(files);
    let (_, model) = crate::model::Model::decode(&encoded).unwrap();
    let text = document(&model, package);
    let doc: Value = serde_json::from_str(&text).unwrap();
    check_document(&doc);
    doc
}

fn library() -> Value {
    document_of(
        &[
            ("library/v1/library.proto", LIBRARY),
            ("google/api/httpbody.proto", HTTPBODY),
        ],
        "library.v1",
    )
}

/// What OpenAPI requires and a validator would check: `$ref`s resolve,
/// each path's template parameters are exactly the operation's path
/// parameters, operation ids are unique.
fn check_document(doc: &Value) {
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(target)) => out.push(target),
                        _ => refs(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut targets = Vec::new();
    refs(doc, &mut targets);
    for target in targets {
        // Component names hold no `/` or `~` to escape.
        let pointer = target.strip_prefix('#').expect("local refs only");
        assert!(doc.pointer(pointer).is_some(), "unresolved {target}");
    }
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let mut in_path: Vec<String> = path
            .split('{')
            .skip(1)
            .map(|s| s.split('}').next().unwrap().to_owned())
            .collect();
        in_path.sort();
        for (verb, operation) in item.as_object().unwrap() {
            assert!(VERBS.contains(&verb.as_str()), "{verb}");
            let mut declared: Vec<String> = operation["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| {
                            assert_eq!(p["required"], true);
                            p["name"].as_str().unwrap().to_owned()
                        })
                        .collect()
                })
                .unwrap_or_default();
            declared.sort();
            assert_eq!(in_path, declared, "{verb} {path}");
            let id = operation["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(operation["responses"]["200"].is_object());
            assert!(operation["responses"]["default"].is_object());
            assert!(operation["tags"][0].is_string());
        }
    }
}

fn parameter<'a>(operation: &'a Value, name: &str) -> &'a Value {
    operation["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no parameter {name} in {operation:#}"))
}

fn parameter_names(operation: &Value, location: &str) -> Vec<String> {
    operation["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter(|p| p["in"] == location)
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_library_method_has_its_rpc_path_and_rest_bindings() {
    let doc = library();
    let paths = &doc["paths"];
    let methods = [
        "CreateShelf",
        "ListShelves",
        "GetBook",
        "ListBooks",
        "CreateBook",
        "UpdateBook",
        "DeleteBook",
        "WatchShelf",
        "ImportBooks",
        "UploadCover",
        "GetCover",
        "DownloadCover",
    ];
    for method in methods {
        let rpc = &paths[format!("/library.v1.LibraryService/{method}")]["post"];
        assert_eq!(
            rpc["operationId"],
            format!("LibraryService_{method}_rpc"),
            "{method}"
        );
        assert_eq!(rpc["tags"][0], "library.v1.LibraryService");
        assert!(
            rpc["description"]
                .as_str()
                .unwrap()
                .contains("Connect (`application/json` with `connect-protocol-version: 1`")
        );
    }
    let rest = [
        ("/v1/shelves", "post", "CreateShelf"),
        ("/v1/shelves", "get", "ListShelves"),
        ("/v1/shelves/{shelf}/books/{book}", "get", "GetBook"),
        ("/v1/shelves/{shelf}/books", "get", "ListBooks"),
        ("/v1/shelves/{shelf}/books", "post", "CreateBook"),
        ("/v1/shelves/{shelf}/books/{book}", "patch", "UpdateBook"),
        ("/v1/shelves/{shelf}/books/{book}", "delete", "DeleteBook"),
        ("/v1/shelves/{shelf}:watch", "get", "WatchShelf"),
        ("/v1/books:import", "post", "ImportBooks"),
        (
            "/v1/shelves/{shelf}/books/{book}/cover",
            "put",
            "UploadCover",
        ),
        ("/v1/shelves/{shelf}/books/{book}/cover", "get", "GetCover"),
        (
            "/v1/shelves/{shelf}/books/{book}/cover:download",
            "get",
            "DownloadCover",
        ),
    ];
    for (path, verb, method) in rest {
        let operation = &paths[path][verb];
        assert_eq!(
            operation["operationId"],
            format!("LibraryService_{method}"),
            "{verb} {path}"
        );
        assert_eq!(
            operation["x-grpc-method"],
            format!("/library.v1.LibraryService/{method}")
        );
    }
    // 12 RPC paths, 7 REST paths.
    assert_eq!(paths.as_object().unwrap().len(), 12 + 7);

    let get_book = &paths["/v1/shelves/{shelf}/books/{book}"]["get"];
    assert_eq!(get_book["summary"], "Returns one book.");
    assert!(
        parameter(get_book, "book")["description"]
            .as_str()
            .unwrap()
            .contains("`name`, which is `shelves/{shelf}/books/{book}`")
    );
    assert_eq!(parameter(get_book, "shelf")["schema"]["minLength"], 1);
    assert!(get_book.get("requestBody").is_none());
    assert_eq!(
        get_book["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/library.v1.Book"
    );
    for code in ["400", "429", "504", "default"] {
        assert!(get_book["responses"][code]["$ref"].is_string(), "{code}");
    }
    assert!(get_book["responses"]["415"].is_null());
    assert!(get_book["responses"]["413"].is_null());

    // Connect's GET, for unary methods without side effects only.
    let get = &paths["/library.v1.LibraryService/GetBook"]["get"];
    assert_eq!(get["operationId"], "LibraryService_GetBook_get");
    assert_eq!(
        parameter(get, "encoding")["schema"]["enum"],
        serde_json::json!(["json"])
    );
    assert_eq!(parameter(get, "encoding")["required"], true);
    assert_eq!(
        parameter(get, "message")["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/library.v1.GetBookRequest"
    );
    assert_eq!(
        get["responses"]["default"]["$ref"],
        "#/components/responses/ConnectError"
    );
    assert_eq!(
        doc["components"]["schemas"]["connect.Error"]["properties"]["code"]["enum"][2],
        "invalid_argument"
    );
    for method in ["CreateShelf", "WatchShelf", "DownloadCover"] {
        let item = &paths[format!("/library.v1.LibraryService/{method}")];
        assert!(item.get("get").is_none(), "{method}");
    }
    for method in ["ListShelves", "ListBooks", "GetCover"] {
        let item = &paths[format!("/library.v1.LibraryService/{method}")];
        assert!(item["get"].is_object(), "{method}");
    }
}

#[test]
fn query_parameters_are_the_fields_path_and_body_leave() {
    let doc = library();
    let paths = &doc["paths"];
    let list = &paths["/v1/shelves/{shelf}/books"]["get"];
    assert_eq!(parameter_names(list, "query"), ["pageSize", "pageToken"]);
    let page_size = parameter(list, "pageSize");
    assert_eq!(page_size["schema"]["type"], "integer");
    assert_eq!(page_size["schema"]["format"], "int32");

    // body "book", path book.name: the mask is left.
    let update = &paths["/v1/shelves/{shelf}/books/{book}"]["patch"];
    assert_eq!(parameter_names(update, "query"), ["updateMask"]);
    assert_eq!(
        parameter(update, "updateMask")["schema"]["$ref"],
        "#/components/schemas/google.protobuf.FieldMask"
    );
    assert_eq!(
        update["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/library.v1.Book"
    );
    assert!(update["responses"]["415"]["$ref"].is_string());

    let create_shelf = &paths["/v1/shelves"]["post"];
    assert_eq!(parameter_names(create_shelf, "query"), ["shelfId"]);
    let create_book = &paths["/v1/shelves/{shelf}/books"]["post"];
    assert_eq!(parameter_names(create_book, "query"), ["bookId"]);

    // body "*": no query parameters at all.
    let import = &paths["/v1/books:import"]["post"];
    assert!(import.get("parameters").is_none());
}

#[test]
fn streaming_and_raw_bodies() {
    let doc = library();
    let paths = &doc["paths"];
    let watch = &paths["/v1/shelves/{shelf}:watch"]["get"]["responses"]["200"];
    let ndjson = &watch["content"]["application/x-ndjson"]["schema"]["anyOf"];
    assert_eq!(
        ndjson[0]["$ref"],
        "#/components/schemas/library.v1.BookEvent"
    );
    assert_eq!(
        ndjson[1]["$ref"],
        "#/components/schemas/dual_protocol.StreamError"
    );
    // Each event as tools read one: `event` and `data`, the data JSON.
    let events = &watch["content"]["text/event-stream"]["schema"]["oneOf"];
    assert_eq!(events[0]["properties"]["event"]["const"], "message");
    assert_eq!(
        events[0]["properties"]["data"]["contentSchema"]["$ref"],
        "#/components/schemas/library.v1.BookEvent"
    );
    assert_eq!(
        events[0]["properties"]["data"]["contentMediaType"],
        "application/json"
    );
    assert_eq!(events[1]["properties"]["event"]["const"], "error");
    assert_eq!(
        events[1]["properties"]["data"]["contentSchema"]["$ref"],
        "#/components/schemas/google.rpc.Status"
    );
    assert!(
        watch["description"]
            .as_str()
            .unwrap()
            .contains("`event: error`")
    );
    let stream_error = &doc["components"]["schemas"]["dual_protocol.StreamError"];
    assert_eq!(
        stream_error["properties"]["error"]["$ref"],
        "#/components/schemas/google.rpc.Status"
    );

    let import = &paths["/v1/books:import"]["post"]["requestBody"]["content"];
    assert_eq!(
        import["application/x-ndjson"]["schema"]["$ref"],
        "#/components/schemas/library.v1.CreateBookRequest"
    );
    assert!(import["application/json"].is_object());
    assert_eq!(
        paths["/library.v1.LibraryService/ImportBooks"]["post"]["x-grpc-kind"],
        "client_streaming"
    );

    let binary = serde_json::json!({"schema": {"type": "string", "format": "binary"}});
    let cover = "/v1/shelves/{shelf}/books/{book}/cover";
    assert_eq!(paths[cover]["put"]["requestBody"]["content"]["*/*"], binary);
    assert_eq!(
        paths[cover]["get"]["responses"]["200"]["content"]["*/*"],
        binary
    );
    let download = &paths["/v1/shelves/{shelf}/books/{book}/cover:download"]["get"];
    assert_eq!(download["responses"]["200"]["content"]["*/*"], binary);
    // On the RPC path, UploadCover takes JSON (its input is not an HttpBody).
    let upload_rpc = &paths["/library.v1.LibraryService/UploadCover"]["post"];
    assert_eq!(
        upload_rpc["requestBody"]["content"]["application/x-ndjson"]["schema"]["$ref"],
        "#/components/schemas/library.v1.UploadCoverRequest"
    );
    assert_eq!(
        paths["/library.v1.LibraryService/GetCover"]["post"]["responses"]["200"]["content"]["*/*"],
        binary
    );
}

#[test]
fn schemas_are_proto3_json() {
    let doc = library();
    let schemas = &doc["components"]["schemas"];
    let book = &schemas["library.v1.Book"];
    assert_eq!(book["description"], "A book on a shelf.");
    assert_eq!(book["additionalProperties"], false);
    let props = &book["properties"];
    assert_eq!(props.as_object().unwrap().len(), 10);
    assert_eq!(
        props["name"]["description"],
        "\"shelves/{shelf}/books/{book}\"."
    );
    assert_eq!(props["pageCount"]["type"], "string");
    assert_eq!(props["pageCount"]["format"], "int64");
    assert_eq!(props["pageCount"]["pattern"], int64_pattern());
    assert_eq!(props["pageCount"]["x-proto-name"], "page_count");
    assert_eq!(
        props["publishTime"]["$ref"],
        "#/components/schemas/google.protobuf.Timestamp"
    );
    assert_eq!(props["tags"]["items"]["type"], "string");
    assert_eq!(
        props["genre"]["$ref"],
        "#/components/schemas/library.v1.Genre"
    );
    assert_eq!(
        props["labels"],
        serde_json::json!({"type": "object", "additionalProperties": {"type": "string"}})
    );
    assert_eq!(props["coverThumbnail"]["contentEncoding"], "base64");
    assert_eq!(props["rating"]["type"], "number");
    assert!(props["name"].get("x-proto-name").is_none());

    assert_eq!(schemas["google.protobuf.Timestamp"]["type"], "string");
    assert_eq!(schemas["google.protobuf.Timestamp"]["format"], "date-time");
    assert_eq!(schemas["google.protobuf.FieldMask"]["type"], "string");
    assert_eq!(schemas["google.protobuf.Empty"]["type"], "object");
    let genre = &schemas["library.v1.Genre"];
    assert_eq!(genre["type"], "string");
    assert_eq!(genre["enum"][1], "GENRE_FICTION");
    assert_eq!(genre["x-enum-numbers"][1], 1);
    assert!(schemas["library.v1.BookEvent.Kind"]["enum"].is_array());
    let status = &schemas["google.rpc.Status"];
    assert_eq!(status["properties"]["code"]["type"], "integer");
    assert_eq!(
        status["properties"]["details"]["items"]["$ref"],
        "#/components/schemas/google.protobuf.Any"
    );
    assert_eq!(
        schemas["google.protobuf.Any"]["required"],
        serde_json::json!(["@type"])
    );
    let http_body = &schemas["google.api.HttpBody"]["properties"];
    assert_eq!(http_body["contentType"]["x-proto-name"], "content_type");
    // Map entries are not types of their own.
    assert!(schemas.get("library.v1.Book.LabelsEntry").is_none());
    let tag = &doc["tags"][0];
    assert_eq!(tag["name"], "library.v1.LibraryService");
    assert_eq!(
        tag["description"],
        "A small library of shelves and books, kept in memory."
    );
}

#[test]
fn properties_keep_field_order() {
    let encoded = compile(&[
        ("library/v1/library.proto", LIBRARY),
        ("google/api/httpbody.proto", HTTPBODY),
    ]);
    let (_, model) = crate::model::Model::decode(&encoded).unwrap();
    let text = document(&model, "library.v1");
    let book = &text[text.find(r#""library.v1.Book":{"#).unwrap()..];
    let positions: Vec<usize> = [
        "name",
        "title",
        "author",
        "pageCount",
        "publishTime",
        "tags",
        "genre",
        "labels",
        "coverThumbnail",
        "rating",
    ]
    .iter()
    .map(|name| book.find(&format!(r#""{name}":{{"#)).unwrap())
    .collect();
    assert!(positions.is_sorted(), "{positions:?}");
    // Byte-stable: a second run writes the same text.
    assert_eq!(document(&model, "library.v1"), text);
}

#[test]
fn echo_binds_body_star() {
    let doc = document_of(&[("echo/v1/echo.proto", ECHO)], "echo.v1");
    let paths = &doc["paths"];
    let echo = &paths["/v1/echo"]["post"];
    assert_eq!(echo["operationId"], "EchoService_Echo");
    assert!(echo.get("parameters").is_none());
    let chat = &paths["/v1/echo:chat"]["post"];
    assert!(chat["requestBody"]["content"]["application/x-ndjson"].is_object());
    assert!(chat["responses"]["200"]["content"]["text/event-stream"].is_object());
    let request = &doc["components"]["schemas"]["echo.v1.EchoRequest"]["properties"];
    assert_eq!(
        request["delay"]["$ref"],
        "#/components/schemas/google.protobuf.Duration"
    );
    assert_eq!(
        request["responseHeaders"]["additionalProperties"]["type"],
        "string"
    );
    assert_eq!(
        doc["components"]["schemas"]["google.protobuf.Duration"]["pattern"],
        duration_pattern()
    );
}

#[test]
fn template_forms() {
    let doc = document_of(&[("resttest/v1/resttest.proto", RESTTEST)], "resttest.v1");
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for expected in [
        "/v1/things/{id}",
        "/v1/shelves/{shelf}/books/{book}/detail",
        "/v1/files/{path}",
        "/v1/things/{id}:archive",
        "/v1/multi/{id}",
        "/v1/alt/{id}/multi",
        "/v1/selected/{id}",
    ] {
        assert!(
            paths.contains(&&expected.to_owned()),
            "{expected} not in {paths:?}"
        );
    }
    let multi = &doc["paths"]["/v1/alt/{id}/multi"]["get"];
    assert_eq!(multi["operationId"], "RestTest_Multi_2");
    let file = &doc["paths"]["/v1/files/{path}"]["get"];
    assert!(
        parameter(file, "path")["description"]
            .as_str()
            .unwrap()
            .contains("`**`")
    );
    // SEARCH has no OpenAPI field: it is named in the RPC operation.
    let search = &doc["paths"]["/resttest.v1.RestTest/Search"]["post"];
    assert!(
        search["description"]
            .as_str()
            .unwrap()
            .contains("Also served as `SEARCH /v1/things`"),
        "{search:#}"
    );
    let selected = &doc["paths"]["/v1/selected/{id}"]["get"];
    assert!(
        selected["description"]
            .as_str()
            .unwrap()
            .contains("field `payload` only")
    );
}

#[test]
fn same_shape_same_names() {
    let doc = document_of(
        &[(
            "t/v1/t.proto",
            r#"syntax = "proto3"; package t.v1;
               import "google/api/annotations.proto";
               message Book { string name = 1; string title = 2; }
               message UpdateBookRequest { Book book = 1; }
               message ListRequest { string parent = 1; int64 since = 2; repeated string tags = 3; }
               service S {
                 rpc Get(Book) returns (Book) {
                   option (google.api.http) = { get: "/v1/{name=shelves/*/books/*}" };
                 }
                 rpc Update(UpdateBookRequest) returns (Book) {
                   option (google.api.http) = { patch: "/v1/{book.name=shelves/*/books/*}" body: "*" };
                 }
                 rpc Other(Book) returns (Book) {
                   option (google.api.http) = { get: "/v2/{name}" };
                 }
                 rpc Other2(UpdateBookRequest) returns (Book) {
                   option (google.api.http) = { put: "/v2/{book.name}" body: "book" };
                 }
                 rpc List(ListRequest) returns (Book) {
                   option (google.api.http) = { get: "/v1/{parent=publishers/*/categories/*}/books" };
                 }
               }"#,
        )],
        "t.v1",
    );
    let paths = &doc["paths"];
    assert!(paths["/v1/shelves/{shelf}/books/{book}"]["get"].is_object());
    assert!(paths["/v1/shelves/{shelf}/books/{book}"]["patch"].is_object());
    // The first binding of a shape names its parameters.
    assert!(paths["/v2/{name}"]["get"].is_object());
    let put = &paths["/v2/{name}"]["put"];
    assert!(
        parameter(put, "name")["description"]
            .as_str()
            .unwrap()
            .contains("`book.name`")
    );
    let list = &paths["/v1/publishers/{publisher}/categories/{category}/books"]["get"];
    assert_eq!(parameter_names(list, "query"), ["since", "tags"]);
    assert_eq!(parameter(list, "since")["schema"]["type"], "integer");
    assert_eq!(parameter(list, "tags")["schema"]["type"], "array");
}

#[test]
fn kitchen_sink_forms() {
    let doc = document_of(&[("kitchen/v1/kitchen.proto", KITCHEN)], "kitchen.v1");
    let schemas = &doc["components"]["schemas"];
    let sink = &schemas["kitchen.v1.Sink"];
    let props = &sink["properties"];
    assert_eq!(props["fUint64"]["pattern"], uint64_pattern());
    assert_eq!(props["fUint32"]["maximum"], 4294967295u64);
    assert_eq!(props["fFloat"]["format"], "float");
    assert_eq!(props["rInt64"]["items"]["type"], "string");
    assert_eq!(props["mInt32"]["propertyNames"]["pattern"], "^-?[0-9]+$");
    assert_eq!(props["mBool"]["propertyNames"]["pattern"], "^(true|false)$");
    assert!(props["mString"].get("propertyNames").is_none());
    assert_eq!(
        props["mValue"]["additionalProperties"]["$ref"],
        "#/components/schemas/google.protobuf.Value"
    );
    assert_eq!(props["renamed"]["x-proto-name"], "custom");
    assert_eq!(props["type"]["type"], "string");
    assert_eq!(
        sink["x-oneof"]["choice"],
        serde_json::json!(["oString", "oNested", "oColor", "oInt64", "oValue"])
    );
    assert_eq!(sink["not"]["anyOf"].as_array().unwrap().len(), 10);
    assert!(
        props["oColor"]["description"]
            .as_str()
            .unwrap()
            .contains("oneof `choice`")
    );
    // proto3 optional is a plain property.
    assert_eq!(props["pInt32"]["description"], "proto3 optional.");
    assert_eq!(
        schemas["google.protobuf.Int64Value"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert_eq!(
        schemas["google.protobuf.BoolValue"]["type"],
        serde_json::json!(["boolean", "null"])
    );
    assert_eq!(schemas["google.protobuf.NullValue"]["type"], "null");
    assert_eq!(schemas["google.protobuf.ListValue"]["type"], "array");
    assert_eq!(schemas["google.protobuf.Struct"]["type"], "object");
    assert!(schemas["google.protobuf.Value"].get("type").is_none());
    assert_eq!(
        schemas["kitchen.v1.Nested.Mood"]["enum"],
        serde_json::json!(["MOOD_UNSPECIFIED", "HAPPY"])
    );
}

#[test]
fn comments_and_deprecation() {
    let doc = document_of(
        &[(
            "d/v1/d.proto",
            r#"syntax = "proto3"; package d.v1;
               import "google/api/annotations.proto";
               // Old things.
               //
               // Use New instead.
               message Old {
                 option deprecated = true;
                 // The id.
                 string id = 1 [deprecated = true];
                 State state = 2;
               }
               enum State {
                 STATE_UNSPECIFIED = 0;
                 // Gone.
                 GONE = 1 [deprecated = true];
               }
               service S {
                 // Gets an old thing. Slowly.
                 rpc Get(Old) returns (Old) {
                   option deprecated = true;
                   option (google.api.http) = { get: "/v1/old/{id}" additional_bindings { get: "/v1/x" } };
                 }
               }"#,
        )],
        "d.v1",
    );
    let old = &doc["components"]["schemas"]["d.v1.Old"];
    assert_eq!(old["description"], "Old things.\n\nUse New instead.");
    assert_eq!(old["deprecated"], true);
    assert_eq!(old["properties"]["id"]["deprecated"], true);
    assert_eq!(old["properties"]["id"]["description"], "The id.");
    let state = &doc["components"]["schemas"]["d.v1.State"];
    assert!(
        state["description"]
            .as_str()
            .unwrap()
            .contains("- `GONE` (deprecated): Gone.")
    );
    let get = &doc["paths"]["/v1/old/{id}"]["get"];
    assert_eq!(get["deprecated"], true);
    assert_eq!(get["summary"], "Gets an old thing.");
    assert!(
        get["description"]
            .as_str()
            .unwrap()
            .starts_with("Gets an old thing. Slowly.\n\nREST binding `GET /v1/old/{id}`")
    );
    let x = &doc["paths"]["/v1/x"]["get"];
    assert_eq!(x["operationId"], "S_Get_2");
    // The deprecated field is still a query parameter, marked.
    assert_eq!(parameter(x, "id")["deprecated"], true);
    assert_eq!(
        parameter(x, "state")["schema"]["$ref"],
        "#/components/schemas/d.v1.State"
    );
}

#[test]
fn number_patterns_bound_the_range() {
    assert_eq!(
        up_to("305"),
        "(?:0|[1-9][0-9]{0,1}|[1-2][0-9]{2}|30[0-4]|305)"
    );
    assert_eq!(up_to("7"), "(?:0|[1-6]|7)");
    assert_eq!(up_to("10"), "(?:0|[1-9][0-9]{0,0}|10)");
    assert!(int64_pattern().ends_with("|-0*9223372036854775808)$"));
    assert!(duration_pattern().contains("|315576000000(?:\\.0{1,9})?)s$"));
}

#[test]
fn collection_names_become_singular() {
    for (literal, expected) in [
        ("shelves", "shelf"),
        ("books", "book"),
        ("categories", "category"),
        ("addresses", "address"),
        ("boxes", "box"),
        ("data", "dataId"),
        ("user-groups", "userGroup"),
        ("status", "statusId"),
        ("v1", "v1Id"),
        ("1x", "p1x"),
    ] {
        assert_eq!(singular(literal), expected, "{literal}");
    }
}

#[test]
fn the_table_names_the_document() {
    let encoded = compile(&[("echo/v1/echo.proto", ECHO)]);
    let files = crate::configure()
        .file_descriptor_set(false)
        .generate(&encoded)
        .unwrap();
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    // google.api comes with the annotations; every output goes through
    // `generate`, prost's and tonic's too.
    assert_eq!(
        names,
        [
            "echo.v1.dual.rs",
            "echo.v1.openapi.json",
            "echo.v1.rs",
            "echo.v1.serde.rs",
            "google.api.dual.rs",
            "google.api.openapi.json",
            "google.api.rs",
            "google.api.serde.rs",
        ]
    );
    let table = files[0].1.as_text().unwrap();
    let document = files[1].1.as_text().unwrap();
    let prost = files[2].1.as_text().unwrap();
    assert!(prost.contains("pub mod echo_service_server {"), "{prost}");
    assert!(table.contains("], OPENAPI);"), "{table}");
    // `"#/components/...` is in the text: two hashes are needed.
    let open = "pub const OPENAPI: &str = r##\"";
    let literal = &table[table.find(open).unwrap() + open.len()..];
    assert!(literal.starts_with(document));
    assert!(literal[document.len()..].starts_with("\"##;"));
    assert!(document.contains("\"#") && !document.contains("\"##"));
}
