//! `google.api.http` annotations in, checked REST bindings (with their
//! parsed templates) out: the part of the front end ([`crate::model`])
//! that reads the extension (from the pool, which keeps extension options)
//! and checks each rule against the model's messages.
//!
//! prost drops extension options when it decodes descriptors, so the
//! annotations are read with `prost-reflect` from the *encoded* descriptor
//! set, which must still hold them (protox's `encode_file_descriptor_set()`;
//! re-encoding a `prost_types::FileDescriptorSet` loses them).
//!
//! Everything a user can get wrong in an annotation is rejected here, at
//! build time, with the file, the method and the rule in the message, so
//! the runtime can trust what it is given.

use std::collections::HashMap;

use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};

// The runtime's template parser, so that generator and router agree on
// what a template means.
use dual_protocol_template::Template;

use crate::model::{FieldKind, Message, Model};

const HTTP_EXTENSION: &str = "google.api.http";

/// One REST binding of a method: the rule itself or one of its
/// `additional_bindings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpBinding {
    /// `/package.Service/Method`.
    pub(crate) method_path: String,
    /// `GET`, `PUT`, `POST`, `DELETE`, `PATCH` or a `custom` kind as written.
    pub(crate) verb: String,
    /// The path template as written.
    pub(crate) template: String,
    /// The template, parsed.
    pub(crate) parsed: Template,
    /// `""` (no body), `"*"` (the whole request) or a top-level field name.
    pub(crate) body: String,
    /// `""` (the whole response) or a top-level field name of the output.
    pub(crate) response_body: String,
}

/// Reads the `google.api.http` rules of every method of `pool` and checks
/// them against `model` (the messages of the same pool), in file,
/// service, method, then rule order.
pub(crate) fn http_rules(pool: &DescriptorPool, model: &Model) -> Result<Vec<HttpBinding>, String> {
    let mut rules = Vec::new();
    // Without the extension in the pool, no file imports annotations.proto.
    let Some(extension) = pool.get_extension_by_name(HTTP_EXTENSION) else {
        return Ok(rules);
    };
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&extension) {
                continue;
            }
            let value = options.get_extension(&extension);
            let Some(rule) = value.as_message() else {
                continue;
            };
            let context = Context::new(&method, model)?;
            let mut bindings = vec![context.binding(rule)?];
            if let Some(additional) = rule
                .get_field_by_name("additional_bindings")
                .as_deref()
                .and_then(Value::as_list)
            {
                for extra in additional.iter().filter_map(Value::as_message) {
                    let binding = context.binding(extra)?;
                    if extra
                        .get_field_by_name("additional_bindings")
                        .as_deref()
                        .and_then(Value::as_list)
                        .is_some_and(|l| !l.is_empty())
                    {
                        return Err(context.error(
                            &binding,
                            "an additional binding must not have additional_bindings",
                        ));
                    }
                    bindings.push(binding);
                }
            }
            for binding in bindings {
                let canonical = binding.parsed.canonical();
                let key = (binding.verb.clone(), canonical);
                let here = format!(
                    "{} {} ({})",
                    binding.verb, binding.template, binding.method_path
                );
                if let Some(existing) = seen.get(&key) {
                    return Err(context.error(
                        &binding,
                        &format!("conflicts with {existing}: both match the same requests"),
                    ));
                }
                seen.insert(key, here);
                rules.push(binding);
            }
        }
    }
    Ok(rules)
}

/// The method a rule belongs to, for checks and error messages.
struct Context<'m> {
    file: String,
    method_path: String,
    model: &'m Model,
    input: &'m Message,
    output: &'m Message,
}

impl<'m> Context<'m> {
    fn new(method: &MethodDescriptor, model: &'m Model) -> Result<Self, String> {
        let method_path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let message = |name: &str| {
            model
                .message(name)
                .ok_or_else(|| format!("{method_path}: {name} cannot be a method's message"))
        };
        Ok(Context {
            file: method.parent_file().name().to_owned(),
            input: message(method.input().full_name())?,
            output: message(method.output().full_name())?,
            method_path,
            model,
        })
    }

    fn error(&self, binding: &HttpBinding, problem: &str) -> String {
        self.rule_error(&binding.verb, &binding.template, problem)
    }

    fn rule_error(&self, verb: &str, template: &str, problem: &str) -> String {
        let rule = if verb.is_empty() {
            String::from("(no pattern)")
        } else {
            format!("{verb} {template:?}")
        };
        format!(
            "{}: {}: google.api.http rule {rule}: {problem}",
            self.file, self.method_path
        )
    }

    /// Reads one `HttpRule` (ignoring its additional bindings) and checks it.
    fn binding(&self, rule: &DynamicMessage) -> Result<HttpBinding, String> {
        let string = |name: &str| {
            rule.get_field_by_name(name)
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        let (mut verb, mut template) = (String::new(), String::new());
        for (field, name) in [
            ("get", "GET"),
            ("put", "PUT"),
            ("post", "POST"),
            ("delete", "DELETE"),
            ("patch", "PATCH"),
        ] {
            if rule.has_field_by_name(field) {
                verb = name.to_owned();
                template = string(field);
            }
        }
        if rule.has_field_by_name("custom")
            && let Some(custom) = rule
                .get_field_by_name("custom")
                .as_deref()
                .and_then(Value::as_message)
        {
            let get = |name: &str| {
                custom
                    .get_field_by_name(name)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            };
            verb = get("kind");
            template = get("path");
            if !is_token(&verb) {
                let problem = format!("custom kind {verb:?} is not an HTTP method name");
                return Err(self.rule_error(&verb, &template, &problem));
            }
        }
        if verb.is_empty() {
            return Err(self.rule_error(
                &verb,
                &template,
                "sets no pattern (get, put, post, delete, patch or custom)",
            ));
        }
        let parsed = Template::parse(&template)
            .map_err(|e| self.rule_error(&verb, &template, &e.to_string()))?;
        let binding = HttpBinding {
            method_path: self.method_path.clone(),
            verb,
            template,
            parsed,
            body: string("body"),
            response_body: string("response_body"),
        };
        for variable in &binding.parsed.variables {
            self.check_path_variable(&variable.field_path)
                .map_err(|problem| self.error(&binding, &problem))?;
        }
        self.check_body(&binding.body, self.input, "body", true)
            .map_err(|problem| self.error(&binding, &problem))?;
        self.check_body(&binding.response_body, self.output, "response_body", false)
            .map_err(|problem| self.error(&binding, &problem))?;
        Ok(binding)
    }

    /// A path variable must name a singular field with a string form,
    /// reached through singular message fields.
    fn check_path_variable(&self, path: &[String]) -> Result<(), String> {
        let dotted = path.join(".");
        let mut message = self.input;
        for (i, name) in path.iter().enumerate() {
            let Some(field) = message.fields.iter().find(|f| f.name == *name) else {
                return Err(format!(
                    "path variable {dotted}: message {} has no field {name:?}",
                    message.full_name
                ));
            };
            if field.is_map() || field.is_list() {
                let what = if field.is_map() { "a map" } else { "repeated" };
                return Err(format!(
                    "path variable {dotted}: field {name} of {} is {what}; \
                     path variables must be singular",
                    message.full_name
                ));
            }
            let last = i + 1 == path.len();
            let inner = field.message_type().and_then(|m| self.model.message(m));
            match (last, self.model.field_kind(field), inner) {
                (true, kind, _) if kind.is_leaf() => return Ok(()),
                (true, _, _) => {
                    return Err(format!(
                        "path variable {dotted}: field {name} of {} is a message; \
                         a path variable must end at a scalar, enum or string-like \
                         well-known type",
                        message.full_name
                    ));
                }
                (false, FieldKind::Message, Some(inner)) => message = inner,
                (false, _, _) => {
                    return Err(format!(
                        "path variable {dotted}: field {name} of {} is not a message, \
                         so it has no field {:?}",
                        message.full_name,
                        path[i + 1]
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_body(
        &self,
        body: &str,
        message: &Message,
        what: &str,
        star_allowed: bool,
    ) -> Result<(), String> {
        if body.is_empty() || (star_allowed && body == "*") {
            return Ok(());
        }
        let allowed = if star_allowed {
            "\"\", \"*\" or a top-level field"
        } else {
            "\"\" or a top-level field"
        };
        if body.contains('.') || body == "*" {
            return Err(format!("{what} {body:?} must be {allowed}"));
        }
        if !message.fields.iter().any(|f| f.name == body) {
            return Err(format!(
                "{what} {body:?}: message {} has no such field (expected {allowed})",
                message.full_name
            ));
        }
        Ok(())
    }
}

/// RFC 9110 `token`: what `http::Method` accepts.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_protos::compile;

    const MESSAGES: &str = r#"
        syntax = "proto3";
        package lib.v1;
        import "google/api/annotations.proto";
        import "google/protobuf/timestamp.proto";
        import "google/protobuf/wrappers.proto";
        import "google/protobuf/struct.proto";
        import "google/protobuf/field_mask.proto";
        enum Genre { GENRE_UNSPECIFIED = 0; FICTION = 1; }
        message Author { string display_name = 1; Author mentor = 2; }
        message Book {
          string name = 1;
          Author author = 2;
          repeated string tags = 3;
          map<string, string> labels = 4;
          google.protobuf.Timestamp published = 5;
          google.protobuf.BoolValue in_print = 6;
          google.protobuf.Struct extra = 7;
          Genre genre = 8;
          int64 pages = 9;
          bool signed = 10;
          repeated Author editors = 11;
          bytes cover = 12;
        }
        message GetBookRequest { string name = 1; int32 version = 2; }
        message UpdateBookRequest { Book book = 1; google.protobuf.FieldMask update_mask = 2; }
        message ListBooksRequest { string parent = 1; repeated string filter = 2; }
        message ListBooksResponse { repeated Book books = 1; string next_page_token = 2; }
    "#;

    fn proto(service: &str) -> Vec<u8> {
        compile(&[("lib/v1/lib.proto", &format!("{MESSAGES}\n{service}"))])
    }

    fn rules_of(encoded: &[u8]) -> Result<Vec<HttpBinding>, String> {
        crate::model::Model::decode(encoded).map(|(_, model)| {
            model
                .services
                .into_iter()
                .flat_map(|s| s.methods)
                .flat_map(|m| m.http)
                .collect()
        })
    }

    fn rules(service: &str) -> Vec<HttpBinding> {
        match rules_of(&proto(service)) {
            Ok(rules) => rules,
            Err(e) => panic!("{e}"),
        }
    }

    fn error(service: &str) -> String {
        match rules_of(&proto(service)) {
            Ok(rules) => panic!("accepted: {rules:?}"),
            Err(e) => e,
        }
    }

    fn summary(rules: &[HttpBinding]) -> Vec<String> {
        rules
            .iter()
            .map(|b| {
                format!(
                    "{} {} {} body={:?} response_body={:?}",
                    b.method_path, b.verb, b.template, b.body, b.response_body
                )
            })
            .collect()
    }

    #[test]
    fn reads_every_pattern_and_additional_bindings() {
        let rules = rules(
            r#"service Library {
              rpc GetBook(GetBookRequest) returns (Book) {
                option (google.api.http) = {
                  get: "/v1/{name=shelves/*/books/*}"
                  additional_bindings { get: "/v1/books/{name}" }
                  additional_bindings { custom { kind: "HEAD" path: "/v1/{name=books/*}" } }
                };
              }
              rpc UpdateBook(UpdateBookRequest) returns (Book) {
                option (google.api.http) = {
                  patch: "/v1/{book.name=shelves/*/books/*}" body: "book"
                  additional_bindings { put: "/v1/{book.name=books/*}" body: "*" }
                };
              }
              rpc CreateBook(Book) returns (Book) {
                option (google.api.http) = { post: "/v1/books" body: "*" };
              }
              rpc DeleteBook(GetBookRequest) returns (Book) {
                option (google.api.http) = { delete: "/v1/{name=books/*}" };
              }
              rpc ListBooks(ListBooksRequest) returns (ListBooksResponse) {
                option (google.api.http) = {
                  get: "/v1/{parent=shelves/*}/books" response_body: "books"
                };
              }
              rpc ImportBooks(ListBooksRequest) returns (Book) {
                option (google.api.http) = { post: "/v1/books:import" body: "*" };
              }
              rpc NoRule(GetBookRequest) returns (Book);
            }"#,
        );
        assert_eq!(
            summary(&rules),
            [
                r#"/lib.v1.Library/GetBook GET /v1/{name=shelves/*/books/*} body="" response_body="""#,
                r#"/lib.v1.Library/GetBook GET /v1/books/{name} body="" response_body="""#,
                r#"/lib.v1.Library/GetBook HEAD /v1/{name=books/*} body="" response_body="""#,
                r#"/lib.v1.Library/UpdateBook PATCH /v1/{book.name=shelves/*/books/*} body="book" response_body="""#,
                r#"/lib.v1.Library/UpdateBook PUT /v1/{book.name=books/*} body="*" response_body="""#,
                r#"/lib.v1.Library/CreateBook POST /v1/books body="*" response_body="""#,
                r#"/lib.v1.Library/DeleteBook DELETE /v1/{name=books/*} body="" response_body="""#,
                r#"/lib.v1.Library/ListBooks GET /v1/{parent=shelves/*}/books body="" response_body="books""#,
                r#"/lib.v1.Library/ImportBooks POST /v1/books:import body="*" response_body="""#,
            ]
        );
        assert_eq!(rules[3].parsed.variables[0].field_path, ["book", "name"]);
    }

    #[test]
    fn no_annotations_no_bindings() {
        let fds = compile(&[(
            "a.proto",
            r#"syntax = "proto3"; package a; message M {} service S { rpc C(M) returns (M); }"#,
        )]);
        assert_eq!(rules_of(&fds), Ok(Vec::new()));
    }

    #[test]
    fn prost_reencoding_loses_the_annotations() {
        // Why compile_fds needs protox's bytes, not a prost_types round trip.
        use prost::Message as _;
        let bytes = proto(
            r#"service S { rpc G(GetBookRequest) returns (Book) {
                 option (google.api.http) = { get: "/v1/{name}" }; } }"#,
        );
        assert_eq!(rules_of(&bytes).map(|r| r.len()), Ok(1));
        let decoded = prost_types::FileDescriptorSet::decode(bytes.as_slice()).unwrap();
        let reencoded = rules_of(&decoded.encode_to_vec()).map(|r| r.len());
        assert_eq!(reencoded, Ok(0));
    }

    #[test]
    fn field_tables() {
        let encoded = proto(
            r#"service S { rpc U(UpdateBookRequest) returns (Book) {
                 option (google.api.http) = { patch: "/v1/{book.name}" body: "book" }; } }"#,
        );
        let (_, model) = crate::model::Model::decode(&encoded).unwrap();
        let names: Vec<String> = model.rest_messages().into_iter().collect();
        // Repeated `editors` is not descended into, but `author` is; the
        // well-known leaves get no table.
        assert_eq!(
            names,
            ["lib.v1.Author", "lib.v1.Book", "lib.v1.UpdateBookRequest"]
        );
        let book = model.message("lib.v1.Book").unwrap();
        let kinds: Vec<(&str, FieldKind, bool)> = book
            .fields
            .iter()
            .map(|f| (f.name.as_str(), model.field_kind(f), f.is_list()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("name", FieldKind::String, false),
                ("author", FieldKind::Message, false),
                ("tags", FieldKind::String, true),
                ("labels", FieldKind::Unsupported, false),
                ("published", FieldKind::String, false),
                ("in_print", FieldKind::Bool, false),
                ("extra", FieldKind::Unsupported, false),
                ("genre", FieldKind::Enum, false),
                ("pages", FieldKind::String, false),
                ("signed", FieldKind::Bool, false),
                ("editors", FieldKind::Message, true),
                ("cover", FieldKind::String, false),
            ]
        );
        assert_eq!(book.fields[1].message_type(), Some("lib.v1.Author"));
        assert_eq!(book.fields[5].json_name, "inPrint");
        let mask = &model.message("lib.v1.UpdateBookRequest").unwrap().fields[1];
        assert_eq!(
            (mask.json_name.as_str(), model.field_kind(mask)),
            ("updateMask", FieldKind::String)
        );
    }

    #[test]
    fn rejects_bad_rules_naming_file_method_and_rule() {
        let service = |options: &str| {
            format!(
                r#"service S {{ rpc M(UpdateBookRequest) returns (ListBooksResponse) {{
                     option (google.api.http) = {{ {options} }}; }} }}"#
            )
        };
        let cases = [
            (r#"get: "/v1/{name=shelves/*""#, "unclosed variable"),
            (r#"get: "v1/x""#, "must start with '/'"),
            (r#"get: "/v1/**/x""#, "'**' must be the last"),
            (r#"get: "/v1/{a}/{a}""#, "bound twice"),
            (r#"get: "/v1/{name}""#, "has no field \"name\""),
            (r#"get: "/v1/{book.title}""#, "has no field \"title\""),
            (r#"get: "/v1/{book.tags}""#, "repeated"),
            (r#"get: "/v1/{book.labels}""#, "a map"),
            (r#"get: "/v1/{book}""#, "is a message"),
            (r#"get: "/v1/{book.author}""#, "is a message"),
            (r#"get: "/v1/{book.extra}""#, "is a message"),
            (r#"get: "/v1/{book.name.x}""#, "is not a message"),
            (r#"get: "/v1/{book.editors.display_name}""#, "repeated"),
            (r#"post: "/v1/x" body: "nope""#, "body \"nope\""),
            (r#"post: "/v1/x" body: "book.name""#, "top-level field"),
            (
                r#"get: "/v1/x" response_body: "nope""#,
                "response_body \"nope\"",
            ),
            (r#"get: "/v1/x" response_body: "*""#, "response_body \"*\""),
            (r#"body: "*""#, "sets no pattern"),
            (r#"custom { kind: "" path: "/v1/x" }"#, "not an HTTP method"),
            (
                r#"custom { kind: "GET X" path: "/v1/x" }"#,
                "not an HTTP method",
            ),
            (
                r#"get: "/v1/x" additional_bindings { get: "/v1/y" additional_bindings { get: "/v1/z" } }"#,
                "must not have additional_bindings",
            ),
            (
                r#"get: "/v1/x" additional_bindings { get: "/v1/{book.nope}" }"#,
                "has no field \"nope\"",
            ),
        ];
        for (options, expected) in cases {
            let message = error(&service(options));
            assert!(message.contains(expected), "{options}: {message}");
            assert!(
                message.starts_with("lib/v1/lib.proto: /lib.v1.S/M: google.api.http rule "),
                "{message}"
            );
        }
        let message = error(&service(r#"get: "/v1/{book.tags}""#));
        assert!(
            message.contains(r#"rule GET "/v1/{book.tags}""#),
            "{message}"
        );
    }

    #[test]
    fn conflicts_across_methods_ignore_variable_names() {
        let message = error(
            r#"service S {
              rpc A(GetBookRequest) returns (Book) {
                option (google.api.http) = { get: "/v1/{name=books/*}" };
              }
              rpc B(ListBooksRequest) returns (Book) {
                option (google.api.http) = { get: "/v1/books/{parent}" };
              }
            }"#,
        );
        assert!(message.contains("/lib.v1.S/B"), "{message}");
        assert!(
            message.contains("conflicts with GET /v1/{name=books/*} (/lib.v1.S/A)"),
            "{message}"
        );
        // Within one method too, and with verbs.
        let message = error(
            r#"service S { rpc A(GetBookRequest) returns (Book) {
                 option (google.api.http) = { post: "/v1/{name}:run"
                   additional_bindings { post: "/v1/{name=*}:run" } }; } }"#,
        );
        assert!(message.contains("conflicts with"), "{message}");
        // Different verbs or suffixes do not conflict.
        let ok = rules(
            r#"service S { rpc A(GetBookRequest) returns (Book) {
                 option (google.api.http) = { get: "/v1/{name}"
                   additional_bindings { delete: "/v1/{name}" }
                   additional_bindings { get: "/v1/{name}:run" }
                   additional_bindings { get: "/v1/{name=**}" } }; } }"#,
        );
        assert_eq!(ok.len(), 4);
    }

    #[test]
    fn path_variables_may_end_at_string_like_well_known_types_and_enums() {
        let ok = rules(
            r#"service S { rpc A(UpdateBookRequest) returns (Book) {
                 option (google.api.http) = { get: "/v1/{book.published}/{book.genre}/{book.in_print}/{book.pages}/{book.signed}" }; } }"#,
        );
        assert_eq!(ok.len(), 1);
    }
}
