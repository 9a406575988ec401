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

use crate::http_rule::HttpBinding;
use crate::json::Json;
use crate::model::{
    Enum, Field, FieldKind, Message, Method, MethodKind, Model, Service, Type, WellKnown,
};
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
const NDJSON: &str = "application/x-ndjson";
const EVENT_STREAM: &str = "text/event-stream";
const JSON: &str = "application/json";

/// Standard or URL-safe base64, padded or not, with zero trailing bits:
/// exactly what the layer decodes.
const BASE64_PATTERN: &str = "^(?:(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw](?:==)?|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=?)?|(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw](?:==)?|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]=?)?)$";

/// The largest `google.protobuf.Duration`, in seconds.
const DURATION_MAX_SECONDS: &str = "315576000000";

/// Verbs OpenAPI has a field for.
const VERBS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// The OpenAPI document of `package`, as compact JSON text.
pub(crate) fn document(model: &Model, package: &str) -> String {
    Generator::new(model).package(package).to_text()
}

/// What a request or response body is.
enum Body {
    None,
    /// `google.api.HttpBody`: the bytes as they are, any content type.
    Raw,
    /// JSON of this schema.
    Json(Json),
}

struct Generator<'a> {
    model: &'a Model,
    schemas: BTreeMap<String, Json>,
    /// Schemas referenced and not yet written.
    wanted: Vec<String>,
    requested: HashSet<String>,
    /// Parameter names per path shape (`/v1/shelves/{}`), first come.
    shapes: HashMap<String, Vec<String>>,
}

impl<'a> Generator<'a> {
    fn new(model: &'a Model) -> Self {
        Self {
            model,
            schemas: BTreeMap::new(),
            wanted: Vec::new(),
            requested: HashSet::new(),
            shapes: HashMap::new(),
        }
    }

    fn package(mut self, package: &str) -> Json {
        let mut paths: Vec<(String, Json)> = Vec::new();
        let mut tags = Vec::new();
        let model = self.model;
        for service in model.services.iter().filter(|s| s.package == package) {
            let mut tag = Json::obj().with("name", &service.full_name);
            if let Some(text) = &service.comment {
                tag.set("description", text);
            }
            tags.push(tag);
            for method in &service.methods {
                for (path, verb, operation) in self.operations(service, method) {
                    match paths.iter_mut().find(|(p, _)| *p == path) {
                        Some((_, item)) => item.set(&verb, operation),
                        None => paths.push((path, Json::obj().with(&verb, operation))),
                    }
                }
            }
        }
        for message in model.messages.iter().filter(|m| m.package == package) {
            self.want(&message.full_name);
        }
        for enumeration in model.enums.iter().filter(|e| e.package == package) {
            self.want(&enumeration.full_name);
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
        service: &'a Service,
        method: &'a Method,
    ) -> Vec<(String, String, Json)> {
        let rpc_path = method.path.clone();
        let id = format!("{}_{}", service.name, method.name);
        let mut out = Vec::new();
        let mut unnamed = Vec::new();
        for (i, binding) in method.http.iter().enumerate() {
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
        if method.no_side_effects() && !method.client_streaming && !method.server_streaming {
            let operation = self.connect_get_operation(service, method, format!("{id}_get"));
            out.push((rpc_path, "get".to_owned(), operation));
        }
        out
    }

    /// The Connect protocol's GET, which the layer serves for unary methods
    /// marked `idempotency_level = NO_SIDE_EFFECTS` (cacheable calls).
    fn connect_get_operation(
        &mut self,
        service: &Service,
        method: &Method,
        operation_id: String,
    ) -> Json {
        let about = format!(
            "The Connect protocol's GET of `/{}/{}` (a method without side effects): the \
             request message as JSON in the query, so that the call can be cached. \
             `encoding=proto` with the protobuf in `message` (base64 with `base64=1`) and \
             `compression` are served too. Errors are Connect error JSON.",
            service.full_name, method.name
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
                        Json::obj().with("schema", self.reference(&method.input)),
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
                    Json::obj().with("schema", self.reference(&method.output)),
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
        operation.set("x-grpc-method", &method.path);
        operation.set("x-grpc-kind", MethodKind::Unary.snake());
        operation
    }

    /// Tags, summary, description, id, deprecation.
    fn operation_head(
        &self,
        service: &Service,
        method: &Method,
        operation_id: String,
        about: String,
    ) -> Json {
        let mut operation = Json::obj().with("tags", vec![service.full_name.as_str().into()]);
        let comment = method.comment.as_deref();
        if let Some(text) = comment {
            operation.set("summary", summary(text));
        }
        let description = match comment {
            Some(text) => format!("{text}\n\n{about}"),
            None => about,
        };
        operation.set("description", description);
        operation.set("operationId", operation_id);
        if method.deprecated || service.deprecated {
            operation.set("deprecated", true);
        }
        operation
    }

    fn rest_operation(
        &mut self,
        service: &Service,
        method: &Method,
        binding: &HttpBinding,
        operation_id: String,
    ) -> (String, Json) {
        let template = &binding.parsed;
        let input = self.message(&method.input);
        let (path, mut parameters) = self.rest_path(template, input);
        let body = match binding.body.as_str() {
            "" => Body::None,
            "*" if method.input == HTTP_BODY => Body::Raw,
            "*" => Body::Json(self.reference(&method.input)),
            field => match field_named(input, field) {
                Some(f) if is_http_body(f) => Body::Raw,
                Some(f) => Body::Json(self.field_schema(f)),
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
            parameters.extend(self.query_parameters(input, &bound, &binding.body));
        }
        let output = self.message(&method.output);
        let response = match binding.response_body.as_str() {
            "" if method.output == HTTP_BODY => Body::Raw,
            "" => Body::Json(self.reference(&method.output)),
            field => match field_named(output, field) {
                Some(f) => Body::Json(self.field_schema(f)),
                None => Body::Json(self.reference(&method.output)),
            },
        };
        let mut about = format!(
            "REST binding `{} {}` of the gRPC method `/{}/{}`.",
            binding.verb, binding.template, service.full_name, method.name
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
            && !method.client_streaming
            && let Some(request_body) = operation.get_mut("requestBody")
            && request_body
                .get("content")
                .and_then(|c| c.get(JSON))
                .is_some()
        {
            let description = format!(
                "The request field `{}` (the path and the query set the others).",
                self.json_path(input, std::slice::from_ref(&binding.body))
            );
            request_body.set("description", description);
        }
        (path, operation)
    }

    fn rpc_operation(
        &mut self,
        service: &Service,
        method: &Method,
        operation_id: String,
        unnamed: &[String],
    ) -> Json {
        let body = match method.input.as_str() {
            HTTP_BODY => Body::Raw,
            name => Body::Json(self.reference(name)),
        };
        let response = match method.output.as_str() {
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
            service.full_name, method.name
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
        method: &Method,
        body: Body,
        response: Body,
    ) {
        let streams_in = method.client_streaming;
        let streams_out = method.server_streaming;
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
        operation.set("x-grpc-method", &method.path);
        operation.set("x-grpc-kind", method.kind().snake());
    }

    /// The OpenAPI path of a template and its path parameters.
    fn rest_path(&mut self, template: &Template, input: &'a Message) -> (String, Vec<Json>) {
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
                        Some(v) if v.end - v.start == 1 => self.json_path(input, &v.field_path),
                        variable => match i.checked_sub(1).map(|p| &segments[p]) {
                            Some(Segment::Literal(literal)) => singular(literal),
                            _ => match variable {
                                Some(v) => {
                                    format!("{}Part", self.json_path(input, &v.field_path))
                                }
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
                    let field = self.field_at(input, &v.field_path);
                    let mut description = format!(
                        "The request field `{}`.",
                        self.json_path(input, &v.field_path)
                    );
                    if let Some(text) = field.and_then(|f| f.comment.as_deref()) {
                        description = format!("{text}\n\n{description}");
                    }
                    let schema = match (field, rest) {
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
                            self.json_path(input, &v.field_path)
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
        input: &'a Message,
        bound: &[Vec<String>],
        body: &str,
    ) -> Vec<Json> {
        let mut out = Vec::new();
        let mut stack = vec![input.full_name.clone()];
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
        message: &'a Message,
        proto: &mut Vec<String>,
        json: &mut Vec<String>,
        bound: &[Vec<String>],
        body: &str,
        stack: &mut Vec<String>,
        out: &mut Vec<Json>,
    ) {
        let model = self.model;
        for field in &message.fields {
            if proto.is_empty() && field.name == body {
                continue;
            }
            proto.push(field.name.clone());
            json.push(field.json_name.clone());
            if !bound.contains(proto) {
                match model.field_kind(field) {
                    kind if kind.is_leaf() => {
                        let mut parameter =
                            Json::obj().with("name", json.join(".")).with("in", "query");
                        if let Some(text) = &field.comment {
                            parameter.set("description", text);
                        }
                        if field.deprecated {
                            parameter.set("deprecated", true);
                        }
                        parameter.set("schema", self.text_schema(field));
                        out.push(parameter);
                    }
                    FieldKind::Message => {
                        if let (false, Some(inner)) = (
                            field.is_list(),
                            field.message_type().and_then(|name| model.message(name)),
                        ) && !stack.contains(&inner.full_name)
                        {
                            stack.push(inner.full_name.clone());
                            self.walk_query(inner, proto, json, bound, body, stack, out);
                            stack.pop();
                        }
                    }
                    _ => {}
                }
            }
            proto.pop();
            json.pop();
        }
    }

    /// The message `full_name` (every method's input and output is in the
    /// model).
    fn message(&self, full_name: &str) -> &'a Message {
        self.model
            .message(full_name)
            .expect("a method's messages are in the descriptor set")
    }

    /// The field a path of proto names leads to.
    fn field_at(&self, message: &'a Message, path: &[String]) -> Option<&'a Field> {
        let (last, parents) = path.split_last()?;
        let mut message = message;
        for name in parents {
            message = self
                .model
                .message(field_named(message, name)?.message_type()?)?;
        }
        field_named(message, last)
    }

    /// A path of proto names as dotted JSON names (`book.name`).
    fn json_path(&self, message: &'a Message, path: &[String]) -> String {
        let mut message = Some(message);
        let mut out = Vec::new();
        for name in path {
            let field = message.and_then(|m| field_named(m, name));
            out.push(field.map_or(name.clone(), |f| f.json_name.clone()));
            message = field
                .and_then(Field::message_type)
                .and_then(|name| self.model.message(name));
        }
        out.join(".")
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
        let model = self.model;
        if let Some(message) = model.message(name) {
            return self.message_schema(message);
        }
        match model.enumeration(name) {
            Some(enumeration) => self.enum_schema(enumeration),
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

    fn message_schema(&mut self, message: &'a Message) -> Json {
        let mut schema = match self.well_known(message) {
            Some(schema) => schema,
            None => self.object_schema(message),
        };
        if let Some(text) = &message.comment
            && schema.get("description").is_none()
        {
            schema.set("description", text);
        }
        if message.deprecated {
            schema.set("deprecated", true);
        }
        schema
    }

    fn object_schema(&mut self, message: &'a Message) -> Json {
        let mut properties = Json::obj();
        for field in &message.fields {
            let mut schema = self.field_schema(field);
            let mut notes = Vec::new();
            if let Some(text) = &field.comment {
                notes.push(text.clone());
            }
            if let Some(oneof) = field.oneof.map(|i| &message.oneofs[i]) {
                notes.push(format!(
                    "Member of the oneof `{}`: at most one of `{}` is set.",
                    oneof.name,
                    oneof_members(message, oneof.fields.as_slice()).join("`, `")
                ));
            }
            if !notes.is_empty() {
                schema.set("description", notes.join("\n\n"));
            }
            if field.deprecated {
                schema.set("deprecated", true);
            }
            if field.name != field.json_name {
                schema.set("x-proto-name", &field.name);
            }
            properties.set(&field.json_name, schema);
        }
        let mut schema = Json::obj()
            .with("type", "object")
            .with("properties", properties)
            .with("additionalProperties", false);
        if !message.oneofs.is_empty() {
            let mut pairs = Vec::new();
            for oneof in &message.oneofs {
                let members = oneof_members(message, &oneof.fields);
                for (i, a) in members.iter().enumerate() {
                    for b in &members[i + 1..] {
                        pairs.push(Json::obj().with("required", vec![a.into(), b.into()]));
                    }
                }
            }
            schema.set(
                "x-oneof",
                Json::Obj(
                    message
                        .oneofs
                        .iter()
                        .map(|oneof| {
                            (
                                oneof.name.clone(),
                                Json::Arr(
                                    oneof_members(message, &oneof.fields)
                                        .into_iter()
                                        .map(Json::Str)
                                        .collect(),
                                ),
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
    fn well_known(&mut self, message: &Message) -> Option<Json> {
        let schema = match message.well_known.as_ref()? {
            WellKnown::Timestamp => Json::obj()
                .with("type", "string")
                .with("format", "date-time")
                .with(
                    "description",
                    "An RFC 3339 date-time. Written in UTC with a `Z` and 0, 3, 6 or 9 \
                     fractional digits (`1972-01-01T10:00:20.021Z`); offsets are accepted.",
                ),
            WellKnown::Duration => Json::obj()
                .with("type", "string")
                .with("pattern", duration_pattern())
                .with(
                    "description",
                    "Seconds with up to 9 fractional digits and an `s`: `1.5s`, `-0.000000001s`; \
                     within +-315576000000s.",
                ),
            WellKnown::FieldMask => Json::obj()
                .with("type", "string")
                .with(
                    "pattern",
                    "^([A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)*\
                     (,[A-Za-z][A-Za-z0-9]*(\\.[A-Za-z][A-Za-z0-9]*)*)*)?$",
                )
                .with(
                    "description",
                    "Field paths in lowerCamelCase, comma-separated: `title,publishTime`.",
                ),
            WellKnown::Struct => Json::obj()
                .with("type", "object")
                .with("additionalProperties", true)
                .with("description", "Any JSON object."),
            WellKnown::Value => Json::obj().with("description", "Any JSON value."),
            WellKnown::ListValue => Json::obj()
                .with("type", "array")
                .with("items", true)
                .with("description", "Any JSON array."),
            WellKnown::Empty => Json::obj()
                .with("type", "object")
                .with("additionalProperties", false)
                .with("description", "The empty message: `{}`."),
            WellKnown::Any => Json::obj()
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
                                "^.*/[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$",
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
            WellKnown::Wrapper(value) => {
                let mut schema = self.value_schema(value);
                if let Some(Json::Str(t)) = schema.get("type") {
                    let t = t.clone();
                    schema.set("type", vec![t.into(), "null".into()]);
                }
                schema.with(
                    "description",
                    "A wrapper: its value in JSON, or `null` for none.",
                )
            }
            WellKnown::NullValue => return None,
        };
        Some(schema)
    }

    fn enum_schema(&self, enumeration: &Enum) -> Json {
        if enumeration.well_known == Some(WellKnown::NullValue) {
            return Json::obj()
                .with("type", "null")
                .with("description", "JSON `null`.");
        }
        let mut names = Vec::new();
        let mut numbers = Vec::new();
        let mut notes = Vec::new();
        for value in &enumeration.values {
            names.push(Json::from(value.name.as_str()));
            numbers.push(Json::from(value.number));
            match (&value.comment, value.deprecated) {
                (Some(text), true) => notes.push(format!(
                    "- `{}` (deprecated): {}",
                    value.name,
                    text.replace('\n', " ")
                )),
                (Some(text), false) => {
                    notes.push(format!("- `{}`: {}", value.name, text.replace('\n', " ")))
                }
                (None, true) => notes.push(format!("- `{}` (deprecated)", value.name)),
                (None, false) => {}
            }
        }
        let mut description = enumeration.comment.clone().unwrap_or_default();
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
        if enumeration.deprecated {
            schema.set("deprecated", true);
        }
        schema
    }

    /// A field's JSON schema: a map, a list, or one value.
    fn field_schema(&mut self, field: &Field) -> Json {
        if let Some((key, value)) = &field.map {
            let mut schema = Json::obj()
                .with("type", "object")
                .with("additionalProperties", self.value_schema(value));
            let keys = match key {
                Type::Int32
                | Type::Sint32
                | Type::Sfixed32
                | Type::Int64
                | Type::Sint64
                | Type::Sfixed64 => Some("^-?[0-9]+$"),
                Type::Uint32 | Type::Fixed32 | Type::Uint64 | Type::Fixed64 => Some("^[0-9]+$"),
                Type::Bool => Some("^(true|false)$"),
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
                .with("items", self.value_schema(&field.ty));
        }
        self.value_schema(&field.ty)
    }

    /// One value's JSON schema.
    fn value_schema(&mut self, ty: &Type) -> Json {
        let integer = |format: &str, min: i128, max: i128| {
            Json::obj()
                .with("type", "integer")
                .with("format", format)
                .with("minimum", Json::Int(min))
                .with("maximum", Json::Int(max))
        };
        match ty {
            Type::Double => Json::obj().with("type", "number").with("format", "double"),
            Type::Float => Json::obj()
                .with("type", "number")
                .with("format", "float")
                .with("minimum", Json::Number("-3.4028234663852886e38"))
                .with("maximum", Json::Number("3.4028234663852886e38")),
            Type::Int32 | Type::Sint32 | Type::Sfixed32 => {
                integer("int32", i32::MIN.into(), i32::MAX.into())
            }
            Type::Uint32 | Type::Fixed32 => integer("uint32", 0, u32::MAX.into()),
            Type::Int64 | Type::Sint64 | Type::Sfixed64 => Json::obj()
                .with("type", "string")
                .with("format", "int64")
                .with("pattern", int64_pattern()),
            Type::Uint64 | Type::Fixed64 => Json::obj()
                .with("type", "string")
                .with("format", "uint64")
                .with("pattern", uint64_pattern()),
            Type::Bool => Json::obj().with("type", "boolean"),
            Type::String => Json::obj().with("type", "string"),
            Type::Bytes => Json::obj()
                .with("type", "string")
                .with("format", "byte")
                .with("contentEncoding", "base64")
                .with("pattern", BASE64_PATTERN),
            Type::Enum(name) | Type::Message(name) => self.reference(name),
        }
    }

    /// A field's schema as a path or query value: numbers as numbers (the
    /// text is the same), wrappers as their value.
    fn text_schema(&mut self, field: &Field) -> Json {
        let value = self.text_value(&field.ty);
        if field.is_list() {
            Json::obj().with("type", "array").with("items", value)
        } else {
            value
        }
    }

    fn text_value(&mut self, ty: &Type) -> Json {
        let integer = |format: &str, min: i128, max: i128| {
            Json::obj()
                .with("type", "integer")
                .with("format", format)
                .with("minimum", Json::Int(min))
                .with("maximum", Json::Int(max))
        };
        match ty {
            Type::Int64 | Type::Sint64 | Type::Sfixed64 => {
                integer("int64", i64::MIN.into(), i64::MAX.into())
            }
            Type::Uint64 | Type::Fixed64 => integer("uint64", 0, u64::MAX.into()),
            Type::Message(name) => match WellKnown::of(name) {
                Some(WellKnown::Wrapper(value)) => self.text_value(&value),
                _ => self.value_schema(ty),
            },
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

fn is_http_body(field: &Field) -> bool {
    !field.is_list() && field.message_type() == Some(HTTP_BODY)
}

/// The top-level field `name` of `message`.
fn field_named<'m>(message: &'m Message, name: &str) -> Option<&'m Field> {
    message.fields.iter().find(|f| f.name == name)
}

/// The JSON names of the fields at `indexes` (a oneof's members).
fn oneof_members(message: &Message, indexes: &[usize]) -> Vec<String> {
    indexes
        .iter()
        .map(|&i| message.fields[i].json_name.clone())
        .collect()
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
