//! `{package}.openapi.json`: an OpenAPI 3.1 document of one package, exact
//! to what `DualProtocolLayer` serves for it.
//!
//! Shape decisions (README "OpenAPI" says the same to users):
//! - Every method has its RPC path (`POST /pkg.Svc/Method`), one
//!   operation per REST binding whose verb OpenAPI can name (custom verbs
//!   such as `SEARCH` are listed in the RPC operation's description), and,
//!   when unary and `NO_SIDE_EFFECTS`, Connect's `GET` on the RPC path
//!   (which the layer serves, and names in `Allow`).
//! - A path variable spanning several segments
//!   (`{name=shelves/*/books/*}`) becomes one parameter per `*`
//!   (`/v1/shelves/{shelf}/books/{book}`), named after the collection
//!   segment before it. A single `{name}` parameter would be
//!   percent-encoded by every client (`shelves%2F1%2Fbooks%2F2`), which
//!   the router, matching raw segments as the `google.api.http` spec asks,
//!   rightly does not match. Templates of the same shape get the same
//!   parameter names (OpenAPI forbids `/a/{x}` beside `/a/{y}`).
//! - Schemas are proto3 JSON as the layer writes it with its default
//!   options: JSON names, int64 as strings, enums as names, bytes as
//!   base64, the well-known types in their special forms. Properties whose
//!   proto name differs carry `x-proto-name`, enums `x-enum-numbers`, so
//!   that the layer can rewrite the document for `proto_names` and
//!   `enums_as_ints` when it serves it (one document per package in the
//!   binary, not one per option set). Messages are closed
//!   (`additionalProperties: false`): unknown fields are rejected by
//!   default (the layer drops it with `ignore_unknown_fields`).
//! - A oneof is documented as properties marked `x-oneof` plus a `not`
//!   that forbids two members together: `oneOf` alternatives would be
//!   wrong for "none set" and make client generators produce a union type
//!   per message.

use std::collections::{BTreeMap, HashMap, HashSet};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, MethodDescriptor,
    ServiceDescriptor,
};
use prost_types::method_options::IdempotencyLevel;

use crate::http_rule::{HttpBinding, HttpRules};
use crate::json::Json;
use dual_protocol_template::{Segment, Template};

const SCHEMAS: &str = "#/components/schemas/";
const RESPONSES: &str = "#/components/responses/";
/// The error body, written here (its shape is fixed by the layer, whether
/// or not the descriptor set has `google/rpc/status.proto`).
const STATUS: &str = "google.rpc.Status";
/// The last line of an NDJSON stream that failed.
const STREAM_ERROR: &str = "dual_protocol.StreamError";
/// The Connect protocol's error body.
const CONNECT_ERROR: &str = "connect.Error";
const HTTP_BODY: &str = "google.api.HttpBody";
const ANY: &str = "google.protobuf.Any";
const NULL_VALUE: &str = "google.protobuf.NullValue";
const NDJSON: &str = "application/x-ndjson";
const EVENT_STREAM: &str = "text/event-stream";
const JSON: &str = "application/json";

/// Standard or URL-safe base64, padded or not, with zero trailing bits:
/// exactly what the layer decodes.
const BASE64_PATTERN: &str = "^(?:(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw](?:==)?|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=?)?|(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw](?:==)?|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]=?)?)$";

/// The largest `google.protobuf.Duration`, in seconds.
const DURATION_MAX_SECONDS: &str = "315576000000";

/// The wrappers, which are their value (or `null`) in JSON.
const WRAPPERS: [&str; 9] = [
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
];

/// Verbs OpenAPI has a field for.
const VERBS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// The OpenAPI document of `package`, as compact JSON text.
pub(crate) fn document(pool: &DescriptorPool, rules: &HttpRules, package: &str) -> String {
    Generator::new(pool, rules).package(package).to_text()
}

/// What a request or response body is.
enum Body {
    None,
    /// `google.api.HttpBody`: the bytes as they are, any content type.
    Raw,
    /// JSON of this schema.
    Json(Json),
}

/// How a field's value can be written as text (a path or query value).
enum TextKind {
    Leaf,
    /// A message whose fields can be named (`a.b=...`).
    Message(MessageDescriptor),
    /// A map or a well-known type without a string form.
    Unsupported,
}

struct Generator<'a> {
    pool: &'a DescriptorPool,
    rules: &'a HttpRules,
    /// Leading comments by (file, source path).
    comments: HashMap<(String, Vec<i32>), String>,
    schemas: BTreeMap<String, Json>,
    /// Schemas referenced and not yet written.
    wanted: Vec<String>,
    requested: HashSet<String>,
    /// Parameter names per path shape (`/v1/shelves/{}`), first come.
    shapes: HashMap<String, Vec<String>>,
}

impl<'a> Generator<'a> {
    fn new(pool: &'a DescriptorPool, rules: &'a HttpRules) -> Self {
        let mut comments = HashMap::new();
        for file in pool.files() {
            let Some(info) = &file.file_descriptor_proto().source_code_info else {
                continue;
            };
            for location in &info.location {
                if let Some(text) = location.leading_comments.as_deref().map(clean_comment)
                    && !text.is_empty()
                {
                    comments.insert((file.name().to_owned(), location.path.clone()), text);
                }
            }
        }
        Self {
            pool,
            rules,
            comments,
            schemas: BTreeMap::new(),
            wanted: Vec::new(),
            requested: HashSet::new(),
            shapes: HashMap::new(),
        }
    }

    fn comment(&self, file: &str, path: &[i32]) -> Option<&str> {
        self.comments
            .get(&(file.to_owned(), path.to_vec()))
            .map(String::as_str)
    }

    fn package(mut self, package: &str) -> Json {
        let mut paths: Vec<(String, Json)> = Vec::new();
        let mut tags = Vec::new();
        for service in self.pool.services() {
            if service.package_name() != package {
                continue;
            }
            let mut tag = Json::obj().with("name", service.full_name());
            if let Some(text) = self.comment(service.parent_file().name(), service.path()) {
                tag.set("description", text);
            }
            tags.push(tag);
            for method in service.methods() {
                for (path, verb, operation) in self.operations(&service, &method) {
                    match paths.iter_mut().find(|(p, _)| *p == path) {
                        Some((_, item)) => item.set(&verb, operation),
                        None => paths.push((path, Json::obj().with(&verb, operation))),
                    }
                }
            }
        }
        for message in self.pool.all_messages() {
            if message.package_name() == package && !message.is_map_entry() {
                self.want(message.full_name());
            }
        }
        for enumeration in self.pool.all_enums() {
            if enumeration.package_name() == package {
                self.want(enumeration.full_name());
            }
        }
        // The error responses name them.
        self.want(STATUS);
        self.want(CONNECT_ERROR);
        while let Some(name) = self.wanted.pop() {
            let schema = self.schema_named(&name);
            self.schemas.insert(name, schema);
        }
        let version = package
            .rsplit('.')
            .next()
            .filter(|last| {
                last.starts_with('v') && last[1..].starts_with(|c: char| c.is_ascii_digit())
            })
            .unwrap_or("0");
        Json::obj()
            .with("openapi", "3.1.0")
            .with(
                "info",
                Json::obj()
                    .with("title", package)
                    .with("version", version)
                    .with("description", INFO),
            )
            .with("tags", tags)
            .with("paths", Json::Obj(paths))
            .with(
                "components",
                Json::obj()
                    .with("schemas", Json::Obj(self.schemas.into_iter().collect()))
                    .with("responses", error_responses()),
            )
    }

    /// The RPC path operation and one per REST binding: (path, verb, operation).
    fn operations(
        &mut self,
        service: &ServiceDescriptor,
        method: &MethodDescriptor,
    ) -> Vec<(String, String, Json)> {
        let rpc_path = format!("/{}/{}", service.full_name(), method.name());
        let id = format!("{}_{}", service.name(), method.name());
        let rules = self.rules;
        let mut out = Vec::new();
        let mut unnamed = Vec::new();
        let bindings = rules.bindings.iter().filter(|b| b.method_path == rpc_path);
        for (i, binding) in bindings.enumerate() {
            let verb = binding.verb.to_ascii_lowercase();
            if !VERBS.contains(&verb.as_str()) {
                unnamed.push(format!("`{} {}`", binding.verb, binding.template));
                continue;
            }
            let operation_id = match i {
                0 => id.clone(),
                n => format!("{id}_{}", n + 1),
            };
            let (path, operation) = self.rest_operation(service, method, binding, operation_id);
            out.push((path, verb, operation));
        }
        let operation = self.rpc_operation(service, method, format!("{id}_rpc"), &unnamed);
        out.push((rpc_path.clone(), "post".to_owned(), operation));
        let no_side_effects = method
            .method_descriptor_proto()
            .options
            .as_ref()
            .is_some_and(|o| o.idempotency_level() == IdempotencyLevel::NoSideEffects);
        if no_side_effects && !method.is_client_streaming() && !method.is_server_streaming() {
            let operation = self.connect_get_operation(service, method, format!("{id}_get"));
            out.push((rpc_path, "get".to_owned(), operation));
        }
        out
    }

    /// The Connect protocol's GET, which the layer serves for unary methods
    /// marked `idempotency_level = NO_SIDE_EFFECTS` (cacheable calls).
    fn connect_get_operation(
        &mut self,
        service: &ServiceDescriptor,
        method: &MethodDescriptor,
        operation_id: String,
    ) -> Json {
        let about = format!(
            "The Connect protocol's GET of `/{}/{}` (a method without side effects): the \
             request message as JSON in the query, so that the call can be cached. \
             `encoding=proto` with the protobuf in `message` (base64 with `base64=1`) and \
             `compression` are served too. Errors are Connect error JSON.",
            service.full_name(),
            method.name()
        );
        let mut operation = self.operation_head(service, method, operation_id, about);
        let enumeration = |values: &[&str]| {
            Json::obj().with("type", "string").with(
                "enum",
                values.iter().map(|v| Json::from(*v)).collect::<Vec<_>>(),
            )
        };
        let parameters = vec![
            Json::obj()
                .with("name", "connect")
                .with("in", "query")
                .with("description", "The Connect protocol version.")
                .with("schema", enumeration(&["v1"])),
            Json::obj()
                .with("name", "encoding")
                .with("in", "query")
                .with("required", true)
                .with("description", "How `message` is encoded.")
                .with("schema", enumeration(&["json"])),
            Json::obj()
                .with("name", "message")
                .with("in", "query")
                .with("required", true)
                .with("description", "The request message.")
                .with(
                    "content",
                    Json::obj().with(
                        JSON,
                        Json::obj().with("schema", self.reference(method.input().full_name())),
                    ),
                ),
        ];
        operation.set("parameters", parameters);
        let error = response_ref("ConnectError");
        let ok = Json::obj()
            .with("description", "The response message.")
            .with(
                "content",
                Json::obj().with(
                    JSON,
                    Json::obj().with("schema", self.reference(method.output().full_name())),
                ),
            );
        operation.set(
            "responses",
            Json::obj()
                .with("200", ok)
                .with("400", error.clone())
                .with("405", response_ref("NotConnectGet"))
                .with("429", error.clone())
                .with("504", error.clone())
                .with("default", error),
        );
        operation.set(
            "x-grpc-method",
            format!("/{}/{}", service.full_name(), method.name()),
        );
        operation.set("x-grpc-kind", "unary");
        operation
    }

    /// Tags, summary, description, id, deprecation.
    fn operation_head(
        &self,
        service: &ServiceDescriptor,
        method: &MethodDescriptor,
        operation_id: String,
        about: String,
    ) -> Json {
        let mut operation = Json::obj().with("tags", vec![service.full_name().into()]);
        let comment = self.comment(method.parent_file().name(), method.path());
        if let Some(text) = comment {
            operation.set("summary", summary(text));
        }
        let description = match comment {
            Some(text) => format!("{text}\n\n{about}"),
            None => about,
        };
        operation.set("description", description);
        operation.set("operationId", operation_id);
        let deprecated = |o: Option<bool>| o.unwrap_or(false);
        if deprecated(
            method
                .method_descriptor_proto()
                .options
                .as_ref()
                .map(|o| o.deprecated()),
        ) || deprecated(
            service
                .service_descriptor_proto()
                .options
                .as_ref()
                .map(|o| o.deprecated()),
        ) {
            operation.set("deprecated", true);
        }
        operation
    }

    fn rest_operation(
        &mut self,
        service: &ServiceDescriptor,
        method: &MethodDescriptor,
        binding: &HttpBinding,
        operation_id: String,
    ) -> (String, Json) {
        let template = Template::parse(&binding.template)
            .expect("http_rule checked every template before this runs");
        let input = method.input();
        let (path, mut parameters) = self.rest_path(&template, &input);
        let body = match binding.body.as_str() {
            "" => Body::None,
            "*" if input.full_name() == HTTP_BODY => Body::Raw,
            "*" => Body::Json(self.reference(input.full_name())),
            field => match input.get_field_by_name(field) {
                Some(f) if is_http_body(&f) => Body::Raw,
                Some(f) => Body::Json(self.field_schema(&f)),
                None => Body::None,
            },
        };
        // With body "*" every field comes from the body: the layer refuses
        // query parameters.
        if binding.body != "*" {
            let bound: Vec<Vec<String>> = template
                .variables
                .iter()
                .map(|v| v.field_path.clone())
                .collect();
            parameters.extend(self.query_parameters(&input, &bound, &binding.body));
        }
        let output = method.output();
        let response = match binding.response_body.as_str() {
            "" if output.full_name() == HTTP_BODY => Body::Raw,
            "" => Body::Json(self.reference(output.full_name())),
            field => match output.get_field_by_name(field) {
                Some(f) => Body::Json(self.field_schema(&f)),
                None => Body::Json(self.reference(output.full_name())),
            },
        };
        let mut about = format!(
            "REST binding `{} {}` of the gRPC method `/{}/{}`.",
            binding.verb,
            binding.template,
            service.full_name(),
            method.name()
        );
        if !binding.response_body.is_empty() {
            about.push_str(&format!(
                " The response is its field `{}` only.",
                binding.response_body
            ));
        }
        let mut operation = self.operation_head(service, method, operation_id, about);
        if !parameters.is_empty() {
            operation.set("parameters", parameters);
        }
        self.finish_operation(&mut operation, method, body, response);
        if !matches!(binding.body.as_str(), "" | "*")
            && !method.is_client_streaming()
            && let Some(request_body) = operation.get_mut("requestBody")
            && request_body
                .get("content")
                .and_then(|c| c.get(JSON))
                .is_some()
        {
            let description = format!(
                "The request field `{}` (the path and the query set the others).",
                json_path(&input, std::slice::from_ref(&binding.body))
            );
            request_body.set("description", description);
        }
        (path, operation)
    }

    fn rpc_operation(
        &mut self,
        service: &ServiceDescriptor,
        method: &MethodDescriptor,
        operation_id: String,
        unnamed: &[String],
    ) -> Json {
        let (input, output) = (method.input(), method.output());
        let body = match input.full_name() {
            HTTP_BODY => Body::Raw,
            name => Body::Json(self.reference(name)),
        };
        let response = match output.full_name() {
            HTTP_BODY => Body::Raw,
            name => Body::Json(self.reference(name)),
        };
        let mut about = format!(
            "The gRPC method `/{}/{}` called with JSON. The same path also takes \
             Connect (`application/json` with `connect-protocol-version: 1`, \
             `application/proto`, `application/connect+json`, `application/connect+proto`), \
             gRPC-Web (`application/grpc-web+proto`, `application/grpc-web+json`, \
             `application/grpc-web-text`), gRPC, and a WebSocket (`GET` with \
             `Upgrade: websocket`: one JSON text frame per message each way, then a close \
             frame with the status).",
            service.full_name(),
            method.name()
        );
        if !unnamed.is_empty() {
            about.push_str(&format!(
                " Also served as {} (a verb OpenAPI cannot name).",
                unnamed.join(", ")
            ));
        }
        let mut operation = self.operation_head(service, method, operation_id, about);
        self.finish_operation(&mut operation, method, body, response);
        operation
    }

    /// Request body, responses and the method's extensions.
    fn finish_operation(
        &mut self,
        operation: &mut Json,
        method: &MethodDescriptor,
        body: Body,
        response: Body,
    ) {
        let streams_in = method.is_client_streaming();
        let streams_out = method.is_server_streaming();
        let has_body = !matches!(body, Body::None);
        match body {
            Body::None => {}
            Body::Raw => {
                let description = if streams_in {
                    "The raw bytes, with their content type, streamed: each chunk read is one \
                     message of the stream."
                } else {
                    "The raw bytes, with their content type (`google.api.HttpBody`)."
                };
                operation.set(
                    "requestBody",
                    Json::obj()
                        .with("description", description)
                        .with("content", Json::obj().with("*/*", raw_media())),
                );
            }
            Body::Json(schema) => {
                let mut content =
                    Json::obj().with(JSON, Json::obj().with("schema", schema.clone()));
                let description = if streams_in {
                    content.set(NDJSON, Json::obj().with("schema", schema));
                    "A client stream: `application/x-ndjson`, one message per line, sent on as \
                     each line arrives; or `application/json`, a stream of one message."
                } else {
                    "The request message. An empty body (without a content type) is the \
                     empty message."
                };
                operation.set(
                    "requestBody",
                    Json::obj()
                        .with("description", description)
                        .with("content", content),
                );
            }
        }
        let ok = match response {
            Body::None | Body::Raw => {
                let description = if streams_out {
                    "The raw bytes of each `google.api.HttpBody` message as they come (a \
                     download), with the first one's content type."
                } else {
                    "The raw bytes, with their content type (`google.api.HttpBody`)."
                };
                Json::obj()
                    .with("description", description)
                    .with("content", Json::obj().with("*/*", raw_media()))
            }
            Body::Json(schema) if streams_out => {
                self.want(STREAM_ERROR);
                // One server-sent event, as tools read them (OpenAPI 3.2's
                // model, which 3.1 tools such as schemathesis follow): an
                // object with the event's `event` and `data`, the data JSON.
                let events = Json::obj()
                    .with(
                        "oneOf",
                        vec![
                            sse_event("message", schema.clone()),
                            sse_event(
                                "error",
                                Json::obj().with("$ref", format!("{SCHEMAS}{STATUS}")),
                            ),
                        ],
                    )
                    .with(
                        "description",
                        "Server-sent events: `data: <message JSON>` per message; \
                         `event: error` and `data: <Status JSON>` on failure.",
                    );
                let line = Json::obj().with(
                    "anyOf",
                    vec![
                        schema,
                        Json::obj().with("$ref", format!("{SCHEMAS}{STREAM_ERROR}")),
                    ],
                );
                Json::obj()
                    .with(
                        "description",
                        "A server stream, flushed per message. `application/x-ndjson` (the \
                         default): one message per line; a failure after the first message \
                         ends it with a line `{\"error\": Status}`. `text/event-stream` (when \
                         `Accept` asks for it): one `data:` event per message; a failure ends \
                         it with `event: error` whose data is the Status JSON. A failure \
                         before the first message is an error response.",
                    )
                    .with(
                        "content",
                        Json::obj()
                            .with(NDJSON, Json::obj().with("schema", line))
                            .with(EVENT_STREAM, Json::obj().with("schema", events)),
                    )
            }
            Body::Json(schema) => Json::obj()
                .with("description", "The response message.")
                .with(
                    "content",
                    Json::obj().with(JSON, Json::obj().with("schema", schema)),
                ),
        };
        let mut responses = Json::obj().with("200", ok);
        responses.set("400", response_ref("BadRequest"));
        if has_body {
            responses.set("413", response_ref("PayloadTooLarge"));
            responses.set("415", response_ref("UnsupportedMediaType"));
        }
        responses.set("429", response_ref("TooManyRequests"));
        responses.set("504", response_ref("GatewayTimeout"));
        responses.set("default", response_ref("Error"));
        operation.set("responses", responses);
        operation.set(
            "x-grpc-method",
            format!("/{}/{}", method.parent_service().full_name(), method.name()),
        );
        let kind = match (streams_in, streams_out) {
            (false, false) => "unary",
            (false, true) => "server_streaming",
            (true, false) => "client_streaming",
            (true, true) => "bidi_streaming",
        };
        operation.set("x-grpc-kind", kind);
    }

    /// The OpenAPI path of a template and its path parameters.
    fn rest_path(&mut self, template: &Template, input: &MessageDescriptor) -> (String, Vec<Json>) {
        let segments = &template.segments;
        let variable_at = |i: usize| {
            template
                .variables
                .iter()
                .find(|v| v.start <= i && i < v.end)
        };
        let wild: Vec<usize> = (0..segments.len())
            .filter(|&i| !matches!(segments[i], Segment::Literal(_)))
            .collect();
        let verb = template
            .verb
            .as_ref()
            .map(|v| format!(":{v}"))
            .unwrap_or_default();
        let shape: String = segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => format!("/{l}"),
                _ => "/{}".to_owned(),
            })
            .collect::<String>()
            + &verb;
        let names = match self.shapes.get(&shape) {
            Some(names) => names.clone(),
            None => {
                let mut used = HashSet::new();
                let mut names = Vec::new();
                for &i in &wild {
                    let base = match variable_at(i) {
                        Some(v) if v.end - v.start == 1 => json_path(input, &v.field_path),
                        variable => match i.checked_sub(1).map(|p| &segments[p]) {
                            Some(Segment::Literal(literal)) => singular(literal),
                            _ => match variable {
                                Some(v) => format!("{}Part", json_path(input, &v.field_path)),
                                None => "segment".to_owned(),
                            },
                        },
                    };
                    let mut name = base.clone();
                    let mut n = 2;
                    while !used.insert(name.clone()) {
                        name = format!("{base}{n}");
                        n += 1;
                    }
                    names.push(name);
                }
                self.shapes.insert(shape, names.clone());
                names
            }
        };
        let name_of = |i: usize| {
            wild.iter()
                .position(|&w| w == i)
                .map_or("", |k| names[k].as_str())
        };
        let render = |range: std::ops::Range<usize>| {
            range
                .map(|i| match &segments[i] {
                    Segment::Literal(l) => l.clone(),
                    _ => format!("{{{}}}", name_of(i)),
                })
                .collect::<Vec<_>>()
                .join("/")
        };
        let path = format!("/{}{verb}", render(0..segments.len()));
        let mut parameters = Vec::new();
        for &i in &wild {
            let rest = segments[i] == Segment::Rest;
            let (description, schema) = match variable_at(i) {
                Some(v) if v.end - v.start == 1 => {
                    let field = field_at(input, &v.field_path);
                    let mut description =
                        format!("The request field `{}`.", json_path(input, &v.field_path));
                    if let Some(text) = field
                        .as_ref()
                        .and_then(|f| self.comment(f.parent_file().name(), f.path()))
                    {
                        description = format!("{text}\n\n{description}");
                    }
                    let schema = match (&field, rest) {
                        (Some(f), false) => self.text_schema(f),
                        _ => string_schema(),
                    };
                    (description, schema)
                }
                Some(v) => {
                    let whole = render(v.start..v.end);
                    (
                        format!(
                            "A segment of the request field `{}`, which is `{whole}`.",
                            json_path(input, &v.field_path)
                        ),
                        string_schema(),
                    )
                }
                None => (
                    "Any segment; not passed to the method.".to_owned(),
                    string_schema(),
                ),
            };
            let description = if rest {
                format!(
                    "{description} It may span several segments (`**`): send its `/` \
                     unescaped, which most generated clients cannot do."
                )
            } else {
                description
            };
            parameters.push(
                Json::obj()
                    .with("name", name_of(i))
                    .with("in", "path")
                    .with("required", true)
                    .with("description", description)
                    .with("schema", schema),
            );
        }
        (path, parameters)
    }

    /// The request fields neither the path nor the body sets, through
    /// singular message fields, as query parameters named by JSON name
    /// paths (`book.title`); repeated ones repeat (`tags=a&tags=b`).
    fn query_parameters(
        &mut self,
        input: &MessageDescriptor,
        bound: &[Vec<String>],
        body: &str,
    ) -> Vec<Json> {
        let mut out = Vec::new();
        let mut stack = vec![input.full_name().to_owned()];
        self.walk_query(
            input,
            &mut Vec::new(),
            &mut Vec::new(),
            bound,
            body,
            &mut stack,
            &mut out,
        );
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_query(
        &mut self,
        message: &MessageDescriptor,
        proto: &mut Vec<String>,
        json: &mut Vec<String>,
        bound: &[Vec<String>],
        body: &str,
        stack: &mut Vec<String>,
        out: &mut Vec<Json>,
    ) {
        for field in message.fields() {
            if proto.is_empty() && field.name() == body {
                continue;
            }
            proto.push(field.name().to_owned());
            json.push(field.json_name().to_owned());
            if !bound.contains(proto) {
                match text_kind(&field) {
                    TextKind::Leaf => {
                        let mut parameter =
                            Json::obj().with("name", json.join(".")).with("in", "query");
                        if let Some(text) = self.comment(field.parent_file().name(), field.path()) {
                            parameter.set("description", text);
                        }
                        if is_deprecated_field(&field) {
                            parameter.set("deprecated", true);
                        }
                        parameter.set("schema", self.text_schema(&field));
                        out.push(parameter);
                    }
                    TextKind::Message(inner)
                        if !field.is_list() && !stack.iter().any(|s| s == inner.full_name()) =>
                    {
                        stack.push(inner.full_name().to_owned());
                        self.walk_query(&inner, proto, json, bound, body, stack, out);
                        stack.pop();
                    }
                    TextKind::Message(_) | TextKind::Unsupported => {}
                }
            }
            proto.pop();
            json.pop();
        }
    }

    fn want(&mut self, name: &str) {
        if self.requested.insert(name.to_owned()) {
            self.wanted.push(name.to_owned());
        }
    }

    fn reference(&mut self, name: &str) -> Json {
        self.want(name);
        Json::obj().with("$ref", format!("{SCHEMAS}{name}"))
    }

    fn schema_named(&mut self, name: &str) -> Json {
        if name == STATUS {
            return self.status_schema();
        }
        if name == STREAM_ERROR {
            return Json::obj()
                .with("type", "object")
                .with(
                    "description",
                    "The last line of an NDJSON stream that failed after its first message.",
                )
                .with("required", vec!["error".into()])
                .with(
                    "properties",
                    Json::obj().with("error", self.reference(STATUS)),
                )
                .with("additionalProperties", false);
        }
        if name == CONNECT_ERROR {
            return self.connect_error_schema();
        }
        if let Some(message) = self.pool.get_message_by_name(name) {
            return self.message_schema(&message);
        }
        match self.pool.get_enum_by_name(name) {
            Some(enumeration) => self.enum_schema(&enumeration),
            None => Json::obj(),
        }
    }

    fn status_schema(&mut self) -> Json {
        Json::obj()
            .with("type", "object")
            .with(
                "description",
                "An error: the proto3 JSON of `google.rpc.Status`. The HTTP status is the \
                 one of the gRPC code (`NOT_FOUND` 404, `INVALID_ARGUMENT` 400, ...).",
            )
            .with("required", vec!["code".into(), "message".into()])
            .with(
                "properties",
                Json::obj()
                    .with(
                        "code",
                        Json::obj()
                            .with("type", "integer")
                            .with("format", "int32")
                            .with("minimum", 0i64)
                            .with("maximum", 16i64)
                            .with(
                                "description",
                                "The gRPC status code: 1 CANCELLED, 2 UNKNOWN, 3 \
                                 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED, 5 NOT_FOUND, 6 \
                                 ALREADY_EXISTS, 7 PERMISSION_DENIED, 8 RESOURCE_EXHAUSTED, 9 \
                                 FAILED_PRECONDITION, 10 ABORTED, 11 OUT_OF_RANGE, 12 \
                                 UNIMPLEMENTED, 13 INTERNAL, 14 UNAVAILABLE, 15 DATA_LOSS, 16 \
                                 UNAUTHENTICATED.",
                            ),
                    )
                    .with(
                        "message",
                        Json::obj()
                            .with("type", "string")
                            .with("description", "The status message."),
                    )
                    .with(
                        "details",
                        Json::obj()
                            .with("type", "array")
                            .with("items", self.reference(ANY))
                            .with(
                                "description",
                                "Error details (`google.rpc.BadRequest`, ...), from the \
                                 `grpc-status-details-bin` trailer.",
                            ),
                    ),
            )
            .with("additionalProperties", false)
    }

    fn connect_error_schema(&self) -> Json {
        let codes = [
            "canceled",
            "unknown",
            "invalid_argument",
            "deadline_exceeded",
            "not_found",
            "already_exists",
            "permission_denied",
            "resource_exhausted",
            "failed_precondition",
            "aborted",
            "out_of_range",
            "unimplemented",
            "internal",
            "unavailable",
            "data_loss",
            "unauthenticated",
        ];
        let string = |description: &str| {
            Json::obj()
                .with("type", "string")
                .with("description", description)
        };
        Json::obj()
            .with("type", "object")
            .with(
                "description",
                "A Connect protocol error; the HTTP status is the one of the code.",
            )
            .with("required", vec!["code".into()])
            .with(
                "properties",
                Json::obj()
                    .with(
                        "code",
                        Json::obj().with("type", "string").with(
                            "enum",
                            codes.iter().map(|c| Json::from(*c)).collect::<Vec<_>>(),
                        ),
                    )
                    .with("message", string("The status message."))
                    .with(
                        "details",
                        Json::obj().with("type", "array").with(
                            "items",
                            Json::obj()
                                .with("type", "object")
                                .with("required", vec!["type".into(), "value".into()])
                                .with(
                                    "properties",
                                    Json::obj()
                                        .with("type", string("The detail's full message name."))
                                        .with("value", string("Its protobuf, in unpadded base64."))
                                        .with(
                                            "debug",
                                            Json::obj().with(
                                                "description",
                                                "Its JSON, when the server knows the type.",
                                            ),
                                        ),
                                )
                                .with("additionalProperties", false),
                        ),
                    ),
            )
            .with("additionalProperties", false)
    }

    fn message_schema(&mut self, message: &MessageDescriptor) -> Json {
        let description = self
            .comment(message.parent_file().name(), message.path())
            .map(str::to_owned);
        let mut schema = match self.well_known(message) {
            Some(schema) => schema,
            None => self.object_schema(message),
        };
        if let Some(text) = description
            && schema.get("description").is_none()
        {
            schema.set("description", text);
        }
        if message
            .descriptor_proto()
            .options
            .as_ref()
            .is_some_and(|o| o.deprecated())
        {
            schema.set("deprecated", true);
        }
        schema
    }

    fn object_schema(&mut self, message: &MessageDescriptor) -> Json {
        let mut properties = Json::obj();
        let mut oneofs: Vec<(String, Vec<String>)> = Vec::new();
        for field in message.fields() {
            let mut schema = self.field_schema(&field);
            let mut notes = Vec::new();
            if let Some(text) = self.comment(field.parent_file().name(), field.path()) {
                notes.push(text.to_owned());
            }
            if let Some(oneof) = field.containing_oneof().filter(|o| !o.is_synthetic()) {
                let members: Vec<String> =
                    oneof.fields().map(|f| f.json_name().to_owned()).collect();
                notes.push(format!(
                    "Member of the oneof `{}`: at most one of `{}` is set.",
                    oneof.name(),
                    members.join("`, `")
                ));
                if !oneofs.iter().any(|(name, _)| name == oneof.name()) {
                    oneofs.push((oneof.name().to_owned(), members));
                }
            }
            if !notes.is_empty() {
                schema.set("description", notes.join("\n\n"));
            }
            if is_deprecated_field(&field) {
                schema.set("deprecated", true);
            }
            if field.name() != field.json_name() {
                schema.set("x-proto-name", field.name());
            }
            properties.set(field.json_name(), schema);
        }
        let mut schema = Json::obj()
            .with("type", "object")
            .with("properties", properties)
            .with("additionalProperties", false);
        if !oneofs.is_empty() {
            let mut pairs = Vec::new();
            for (_, members) in &oneofs {
                for (i, a) in members.iter().enumerate() {
                    for b in &members[i + 1..] {
                        pairs.push(Json::obj().with("required", vec![a.into(), b.into()]));
                    }
                }
            }
            schema.set(
                "x-oneof",
                Json::Obj(
                    oneofs
                        .into_iter()
                        .map(|(name, members)| {
                            (
                                name,
                                Json::Arr(members.into_iter().map(Json::Str).collect()),
                            )
                        })
                        .collect(),
                ),
            );
            if !pairs.is_empty() {
                schema.set("not", Json::obj().with("anyOf", pairs));
            }
        }
        schema
    }

    /// The special JSON forms of the well-known types.
    fn well_known(&mut self, message: &MessageDescriptor) -> Option<Json> {
        let name = message.full_name();
        let schema = match name {
            "google.protobuf.Timestamp" => Json::obj()
                .with("type", "string")
                .with("format", "date-time")
                .with(
                    "description",
                    "An RFC 3339 date-time. Written in UTC with a `Z` and 0, 3, 6 or 9 \
                     fractional digits (`1972-01-01T10:00:20.021Z`); offsets are accepted.",
                ),
            "google.protobuf.Duration" => Json::obj()
                .with("type", "string")
                .with("pattern", duration_pattern())
                .with(
                    "description",
                    "Seconds with up to 9 fractional digits and an `s`: `1.5s`, `-0.000000001s`; \
                     within +-315576000000s.",
                ),
            "google.protobuf.FieldMask" => Json::obj().with("type", "string").with(
                "description",
                "Field paths in lowerCamelCase, comma-separated: `title,publishTime`.",
            ),
            "google.protobuf.Struct" => Json::obj()
                .with("type", "object")
                .with("additionalProperties", true)
                .with("description", "Any JSON object."),
            "google.protobuf.Value" => Json::obj().with("description", "Any JSON value."),
            "google.protobuf.ListValue" => Json::obj()
                .with("type", "array")
                .with("items", true)
                .with("description", "Any JSON array."),
            "google.protobuf.Empty" => Json::obj()
                .with("type", "object")
                .with("additionalProperties", false)
                .with("description", "The empty message: `{}`."),
            ANY => Json::obj()
                .with("type", "object")
                .with("required", vec!["@type".into()])
                .with(
                    "properties",
                    Json::obj().with(
                        "@type",
                        Json::obj()
                            .with("type", "string")
                            .with(
                                "pattern",
                                "^([^/]*/)?[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$",
                            )
                            .with(
                                "description",
                                "The type URL: `type.googleapis.com/` and the message's full name.",
                            ),
                    ),
                )
                .with("additionalProperties", true)
                .with(
                    "description",
                    "A message of any type: `@type` and the message's own JSON fields; a \
                     well-known type with a special form has it as `value`; a type the server \
                     does not know has its protobuf bytes in base64 as `value`.",
                ),
            _ if WRAPPERS.contains(&name) => {
                let value = message.get_field_by_name("value")?;
                let mut schema = self.value_schema(&value.kind());
                if let Some(Json::Str(t)) = schema.get("type") {
                    let t = t.clone();
                    schema.set("type", vec![t.into(), "null".into()]);
                }
                schema.with(
                    "description",
                    "A wrapper: its value in JSON, or `null` for none.",
                )
            }
            _ => return None,
        };
        Some(schema)
    }

    fn enum_schema(&self, enumeration: &EnumDescriptor) -> Json {
        if enumeration.full_name() == NULL_VALUE {
            return Json::obj()
                .with("type", "null")
                .with("description", "JSON `null`.");
        }
        let mut names = Vec::new();
        let mut numbers = Vec::new();
        let mut notes = Vec::new();
        for value in enumeration.values() {
            names.push(Json::from(value.name()));
            numbers.push(Json::from(value.number()));
            let deprecated = value
                .enum_value_descriptor_proto()
                .options
                .as_ref()
                .is_some_and(|o| o.deprecated());
            let comment = self.comment(value.parent_file().name(), value.path());
            match (comment, deprecated) {
                (Some(text), true) => notes.push(format!(
                    "- `{}` (deprecated): {}",
                    value.name(),
                    text.replace('\n', " ")
                )),
                (Some(text), false) => {
                    notes.push(format!("- `{}`: {}", value.name(), text.replace('\n', " ")))
                }
                (None, true) => notes.push(format!("- `{}` (deprecated)", value.name())),
                (None, false) => {}
            }
        }
        let mut description = self
            .comment(enumeration.parent_file().name(), enumeration.path())
            .map(str::to_owned)
            .unwrap_or_default();
        if !notes.is_empty() {
            if !description.is_empty() {
                description.push_str("\n\n");
            }
            description.push_str(&notes.join("\n"));
        }
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str("Written by name; the number is accepted too.");
        let mut schema = Json::obj()
            .with("type", "string")
            .with("enum", names)
            .with("description", description)
            .with("x-enum-numbers", numbers);
        if enumeration
            .enum_descriptor_proto()
            .options
            .as_ref()
            .is_some_and(|o| o.deprecated())
        {
            schema.set("deprecated", true);
        }
        schema
    }

    /// A field's JSON schema: a map, a list, or one value.
    fn field_schema(&mut self, field: &FieldDescriptor) -> Json {
        if field.is_map()
            && let Kind::Message(entry) = field.kind()
        {
            let key = entry.map_entry_key_field().kind();
            let mut schema = Json::obj().with("type", "object").with(
                "additionalProperties",
                self.value_schema(&entry.map_entry_value_field().kind()),
            );
            let keys = match key {
                Kind::Int32
                | Kind::Sint32
                | Kind::Sfixed32
                | Kind::Int64
                | Kind::Sint64
                | Kind::Sfixed64 => Some("^-?[0-9]+$"),
                Kind::Uint32 | Kind::Fixed32 | Kind::Uint64 | Kind::Fixed64 => Some("^[0-9]+$"),
                Kind::Bool => Some("^(true|false)$"),
                _ => None,
            };
            if let Some(pattern) = keys {
                schema.set("propertyNames", Json::obj().with("pattern", pattern));
            }
            return schema;
        }
        if field.is_list() {
            return Json::obj()
                .with("type", "array")
                .with("items", self.value_schema(&field.kind()));
        }
        self.value_schema(&field.kind())
    }

    /// One value's JSON schema.
    fn value_schema(&mut self, kind: &Kind) -> Json {
        let integer = |format: &str, min: i128, max: i128| {
            Json::obj()
                .with("type", "integer")
                .with("format", format)
                .with("minimum", Json::Int(min))
                .with("maximum", Json::Int(max))
        };
        match kind {
            Kind::Double => Json::obj().with("type", "number").with("format", "double"),
            Kind::Float => Json::obj()
                .with("type", "number")
                .with("format", "float")
                .with("minimum", Json::Number("-3.4028234663852886e38"))
                .with("maximum", Json::Number("3.4028234663852886e38")),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
                integer("int32", i32::MIN.into(), i32::MAX.into())
            }
            Kind::Uint32 | Kind::Fixed32 => integer("uint32", 0, u32::MAX.into()),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Json::obj()
                .with("type", "string")
                .with("format", "int64")
                .with("pattern", int64_pattern()),
            Kind::Uint64 | Kind::Fixed64 => Json::obj()
                .with("type", "string")
                .with("format", "uint64")
                .with("pattern", uint64_pattern()),
            Kind::Bool => Json::obj().with("type", "boolean"),
            Kind::String => Json::obj().with("type", "string"),
            Kind::Bytes => Json::obj()
                .with("type", "string")
                .with("format", "byte")
                .with("contentEncoding", "base64")
                .with("pattern", BASE64_PATTERN),
            Kind::Enum(e) => self.reference(e.full_name()),
            Kind::Message(m) => self.reference(m.full_name()),
        }
    }

    /// A field's schema as a path or query value: numbers as numbers (the
    /// text is the same), wrappers as their value.
    fn text_schema(&mut self, field: &FieldDescriptor) -> Json {
        let value = self.text_value(&field.kind());
        if field.is_list() {
            Json::obj().with("type", "array").with("items", value)
        } else {
            value
        }
    }

    fn text_value(&mut self, kind: &Kind) -> Json {
        let integer = |format: &str, min: i128, max: i128| {
            Json::obj()
                .with("type", "integer")
                .with("format", format)
                .with("minimum", Json::Int(min))
                .with("maximum", Json::Int(max))
        };
        match kind {
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                integer("int64", i64::MIN.into(), i64::MAX.into())
            }
            Kind::Uint64 | Kind::Fixed64 => integer("uint64", 0, u64::MAX.into()),
            Kind::Message(m) if WRAPPERS.contains(&m.full_name()) => {
                match m.get_field_by_name("value") {
                    Some(value) => self.text_value(&value.kind()),
                    None => string_schema(),
                }
            }
            other => self.value_schema(other),
        }
    }
}

const INFO: &str = "Generated by dual-protocol-build from the protos: every method at its \
    gRPC path (`POST /package.Service/Method`) and at its `google.api.http` REST bindings, \
    in proto3 JSON. Field names are lowerCamelCase JSON names (proto names are accepted \
    too), 64-bit integers are strings, enums are names (numbers are accepted too), bytes \
    are base64, and unknown fields are rejected. The schemas show the form the server \
    writes; on input it also takes what proto3 JSON allows beside it: `null` for any \
    field (its default), numbers for 64-bit integers and enums, numbers in strings. \
    Errors are `google.rpc.Status` JSON with the HTTP status of the gRPC code.";

fn error_responses() -> Json {
    let error = |description: &str| {
        Json::obj().with("description", description).with(
            "content",
            Json::obj().with(
                JSON,
                Json::obj().with(
                    "schema",
                    Json::obj().with("$ref", format!("{SCHEMAS}{STATUS}")),
                ),
            ),
        )
    };
    Json::obj()
        .with(
            "BadRequest",
            error(
                "A request the layer or the method rejects: JSON that does not parse or does \
                 not fit the message (the field's path is in the message), a bad path or query \
                 value (code 3 INVALID_ARGUMENT), or codes 9 FAILED_PRECONDITION and 11 \
                 OUT_OF_RANGE from the method.",
            ),
        )
        .with(
            "PayloadTooLarge",
            error("The body is over the server's limit (code 8 RESOURCE_EXHAUSTED)."),
        )
        .with(
            "UnsupportedMediaType",
            error(
                "A content type or content encoding this operation does not take (code 3 \
                 INVALID_ARGUMENT or 12 UNIMPLEMENTED).",
            ),
        )
        .with(
            "TooManyRequests",
            error(
                "Code 8 RESOURCE_EXHAUSTED: a message over the server's size limit, or a \
                 quota of the method.",
            ),
        )
        .with(
            "GatewayTimeout",
            error(
                "Code 4 DEADLINE_EXCEEDED: the deadline the client set (`grpc-timeout`, \
                 `connect-timeout-ms`) passed.",
            ),
        )
        .with(
            "Error",
            error("Any other error of the method, with the HTTP status of its gRPC code."),
        )
        .with(
            "NotConnectGet",
            error(
                "A `GET` without the Connect query (`encoding`, `message`): not a Connect call \
                 (code 12 UNIMPLEMENTED; `Allow` names the methods the path takes).",
            ),
        )
        .with(
            "ConnectError",
            Json::obj()
                .with(
                    "description",
                    "An error of a Connect call: the HTTP status of its code and the Connect \
                     error JSON.",
                )
                .with(
                    "content",
                    Json::obj().with(
                        JSON,
                        Json::obj().with(
                            "schema",
                            Json::obj().with("$ref", format!("{SCHEMAS}{CONNECT_ERROR}")),
                        ),
                    ),
                ),
        )
}

/// One server-sent event named `event` whose `data` is JSON fitting
/// `data`.
fn sse_event(event: &str, data: Json) -> Json {
    Json::obj()
        .with("type", "object")
        .with("required", vec!["data".into()])
        .with(
            "properties",
            Json::obj()
                .with("event", Json::obj().with("const", event))
                .with(
                    "data",
                    Json::obj()
                        .with("type", "string")
                        .with("contentMediaType", JSON)
                        .with("contentSchema", data),
                ),
        )
}

fn response_ref(name: &str) -> Json {
    Json::obj().with("$ref", format!("{RESPONSES}{name}"))
}

fn raw_media() -> Json {
    Json::obj().with(
        "schema",
        Json::obj().with("type", "string").with("format", "binary"),
    )
}

fn string_schema() -> Json {
    Json::obj().with("type", "string").with("minLength", 1i64)
}

fn is_http_body(field: &FieldDescriptor) -> bool {
    !field.is_list() && matches!(field.kind(), Kind::Message(m) if m.full_name() == HTTP_BODY)
}

fn is_deprecated_field(field: &FieldDescriptor) -> bool {
    field
        .field_descriptor_proto()
        .options
        .as_ref()
        .is_some_and(|o| o.deprecated())
}

fn text_kind(field: &FieldDescriptor) -> TextKind {
    if field.is_map() {
        return TextKind::Unsupported;
    }
    match field.kind() {
        Kind::Message(m) => match m.full_name() {
            "google.protobuf.Timestamp"
            | "google.protobuf.Duration"
            | "google.protobuf.FieldMask" => TextKind::Leaf,
            name if WRAPPERS.contains(&name) => TextKind::Leaf,
            name if name.starts_with("google.protobuf.") => TextKind::Unsupported,
            _ => TextKind::Message(m),
        },
        _ => TextKind::Leaf,
    }
}

/// The field a path of proto names leads to.
fn field_at(message: &MessageDescriptor, path: &[String]) -> Option<FieldDescriptor> {
    let (last, parents) = path.split_last()?;
    let mut message = message.clone();
    for name in parents {
        match message.get_field_by_name(name)?.kind() {
            Kind::Message(inner) => message = inner,
            _ => return None,
        }
    }
    message.get_field_by_name(last)
}

/// A path of proto names as dotted JSON names (`book.name`).
fn json_path(message: &MessageDescriptor, path: &[String]) -> String {
    let mut message = Some(message.clone());
    let mut out = Vec::new();
    for name in path {
        let field = message.as_ref().and_then(|m| m.get_field_by_name(name));
        out.push(
            field
                .as_ref()
                .map_or(name.clone(), |f| f.json_name().to_owned()),
        );
        message = match field.map(|f| f.kind()) {
            Some(Kind::Message(inner)) => Some(inner),
            _ => None,
        };
    }
    out.join(".")
}

/// A parameter name for the segment after a collection literal:
/// `shelves` -> `shelf`, `books` -> `book`, `categories` -> `category`,
/// `user-data` -> `userDataId`.
fn singular(literal: &str) -> String {
    let mut word = String::new();
    let mut upper = false;
    for c in literal.chars() {
        if c.is_ascii_alphanumeric() {
            if upper && !word.is_empty() {
                word.push(c.to_ascii_uppercase());
            } else {
                word.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return format!("p{word}");
    }
    if let Some(stem) = word.strip_suffix("ies")
        && !stem.is_empty()
    {
        return format!("{stem}y");
    }
    if word.ends_with("lves") {
        return format!("{}f", &word[..word.len() - 3]);
    }
    for suffix in ["sses", "shes", "ches", "xes"] {
        if word.ends_with(suffix) {
            return word[..word.len() - 2].to_owned();
        }
    }
    if word.len() > 1 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
        return word[..word.len() - 1].to_owned();
    }
    format!("{word}Id")
}

/// A leading comment without its comment markers' spaces.
fn clean_comment(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    lines.join("\n").trim().to_owned()
}

/// Canonical decimal integers from 0 to `max` (no sign, no leading zeros):
/// shorter numbers, then each digit of `max` undercut in turn, then `max`.
fn up_to(max: &str) -> String {
    let digits = max.as_bytes();
    let mut alternatives = vec!["0".to_owned()];
    if digits.len() > 1 {
        alternatives.push(format!("[1-9][0-9]{{0,{}}}", digits.len() - 2));
    }
    for (i, &d) in digits.iter().enumerate() {
        let low = if i == 0 { b'1' } else { b'0' };
        if d > low {
            let class = if d - 1 == low {
                (low as char).to_string()
            } else {
                format!("[{}-{}]", low as char, (d - 1) as char)
            };
            let rest = digits.len() - i - 1;
            let tail = match rest {
                0 => String::new(),
                1 => "[0-9]".to_owned(),
                n => format!("[0-9]{{{n}}}"),
            };
            alternatives.push(format!("{}{class}{tail}", &max[..i]));
        }
    }
    alternatives.push(max.to_owned());
    alternatives.dedup();
    format!("(?:{})", alternatives.join("|"))
}

/// An `int64` in a string: in range; leading zeros are read too.
fn int64_pattern() -> String {
    format!(
        "^(?:-?0*{}|-0*9223372036854775808)$",
        up_to("9223372036854775807")
    )
}

fn uint64_pattern() -> String {
    format!("^0*{}$", up_to("18446744073709551615"))
}

/// A `google.protobuf.Duration` within its range.
fn duration_pattern() -> String {
    format!(
        "^-?0*(?:{}(?:\\.[0-9]{{1,9}})?|{DURATION_MAX_SECONDS}(?:\\.0{{1,9}})?)s$",
        up_to("315575999999")
    )
}

/// The first sentence of a comment, on one line.
fn summary(text: &str) -> String {
    let paragraph = text.split("\n\n").next().unwrap_or(text).replace('\n', " ");
    match paragraph.find(". ") {
        Some(end) => paragraph[..=end].to_owned(),
        None => paragraph,
    }
}

#[cfg(test)]
mod tests;
