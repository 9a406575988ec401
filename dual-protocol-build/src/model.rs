//! Descriptors in, the small model `emit` needs out: packages, their
//! services and methods with Rust type paths resolved the way prost-build
//! names things, and every message (for `google.protobuf.Any`).

use std::collections::{BTreeMap, HashMap};

use prost_types::{DescriptorProto, FileDescriptorSet};

use crate::http_rule::{FieldInfo, HttpRules};
use crate::names::{WELL_KNOWN, WELL_KNOWN_RUST, to_snake, to_upper_camel};

#[derive(Debug)]
pub(crate) struct Package {
    pub(crate) name: String,
    pub(crate) services: Vec<Service>,
    pub(crate) messages: Vec<MessageRef>,
}

#[derive(Debug)]
pub(crate) struct Service {
    /// `package.Service`
    pub(crate) full_name: String,
    pub(crate) methods: Vec<Method>,
}

#[derive(Debug)]
pub(crate) struct Method {
    pub(crate) name: String,
    /// Full proto name of the input message, e.g. `library.v1.GetBookRequest`.
    pub(crate) input_name: String,
    /// Full proto name of the output message.
    pub(crate) output_name: String,
    /// The REST bindings of its `google.api.http` rule.
    pub(crate) http: Vec<Http>,
    /// Rust paths of the input and output types, relative to the package module.
    pub(crate) input: String,
    pub(crate) output: String,
    pub(crate) client_streaming: bool,
    pub(crate) server_streaming: bool,
    /// `option idempotency_level = NO_SIDE_EFFECTS` (Connect serves GET).
    pub(crate) no_side_effects: bool,
}

#[derive(Debug)]
pub(crate) struct MessageRef {
    pub(crate) full_name: String,
    pub(crate) rust_path: String,
    /// The fields REST paths and queries can name (request messages and
    /// what they reach); empty for other messages.
    pub(crate) fields: Vec<FieldInfo>,
}

/// One REST binding, with the JSON names the runtime needs.
#[derive(Debug)]
pub(crate) struct Http {
    pub(crate) verb: String,
    pub(crate) template: String,
    /// `""`, `"*"`, or the JSON name of the body field.
    pub(crate) body: String,
    /// `""` or the JSON name of the response field sent as the body.
    pub(crate) response_body: String,
    /// The same field's proto name (what `proto_names` prints).
    pub(crate) response_body_proto: String,
}

/// Where a message lives: its package and the messages it is nested in.
struct Location {
    package: String,
    outer: Vec<String>,
    name: String,
}

/// Builds one [`Package`] per protobuf package of `fds` (the well-known
/// types excepted), sorted by name.
pub(crate) fn packages(fds: &FileDescriptorSet) -> Result<Vec<Package>, String> {
    let mut locations = HashMap::new();
    let mut packages: BTreeMap<String, Package> = BTreeMap::new();
    for file in &fds.file {
        let package = file.package().to_owned();
        if package.is_empty() {
            return Err(format!(
                "{}: dual-protocol-build needs a `package` statement in every proto file",
                file.name()
            ));
        }
        let mut messages = Vec::new();
        for message in &file.message_type {
            collect_messages(&package, &[], message, &mut locations, &mut messages);
        }
        if package == WELL_KNOWN {
            continue;
        }
        let entry = packages.entry(package.clone()).or_insert_with(|| Package {
            name: package.clone(),
            services: Vec::new(),
            messages: Vec::new(),
        });
        entry.messages.extend(messages);
        for service in &file.service {
            entry.services.push(Service {
                full_name: format!("{package}.{}", service.name()),
                methods: service
                    .method
                    .iter()
                    .map(|m| Method {
                        name: m.name().to_owned(),
                        input_name: m.input_type().trim_start_matches('.').to_owned(),
                        output_name: m.output_type().trim_start_matches('.').to_owned(),
                        http: Vec::new(),
                        input: m.input_type().to_owned(),
                        output: m.output_type().to_owned(),
                        client_streaming: m.client_streaming(),
                        server_streaming: m.server_streaming(),
                        no_side_effects: m.options.as_ref().is_some_and(|o| {
                            o.idempotency_level()
                                == prost_types::method_options::IdempotencyLevel::NoSideEffects
                        }),
                    })
                    .collect(),
            });
        }
    }
    let mut packages: Vec<Package> = packages.into_values().collect();
    for package in &mut packages {
        for message in &mut package.messages {
            message.rust_path = rust_path(&locations, &message.rust_path, &package.name)?;
        }
        for method in package.services.iter_mut().flat_map(|s| &mut s.methods) {
            method.input = rust_path(&locations, &method.input, &package.name)?;
            method.output = rust_path(&locations, &method.output, &package.name)?;
        }
    }
    Ok(packages)
}

/// Joins the `google.api.http` rules to the methods and the field tables to
/// the messages, with body and response-body fields as JSON names.
pub(crate) fn attach_http(
    packages: &mut [Package],
    rules: &HttpRules,
    fds: &FileDescriptorSet,
) -> Result<(), String> {
    let mut descriptors = HashMap::new();
    for file in &fds.file {
        for message in &file.message_type {
            index_messages(file.package(), message, &mut descriptors);
        }
    }
    for package in packages.iter_mut() {
        for message in &mut package.messages {
            if let Some(fields) = rules.messages.get(&message.full_name) {
                message.fields = fields.clone();
            }
        }
        for service in &mut package.services {
            for method in &mut service.methods {
                let path = format!("/{}/{}", service.full_name, method.name);
                for binding in rules.bindings.iter().filter(|b| b.method_path == path) {
                    let body = match binding.body.as_str() {
                        "" | "*" => binding.body.clone(),
                        field => json_name(&descriptors, &binding.input_type, field)?,
                    };
                    let response_body = match binding.response_body.as_str() {
                        "" => String::new(),
                        field => json_name(&descriptors, &binding.output_type, field)?,
                    };
                    method.http.push(Http {
                        verb: binding.verb.clone(),
                        template: binding.template.clone(),
                        body,
                        response_body,
                        response_body_proto: binding.response_body.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

fn index_messages<'a>(
    prefix: &str,
    message: &'a DescriptorProto,
    out: &mut HashMap<String, &'a DescriptorProto>,
) {
    let full_name = format!("{prefix}.{}", message.name());
    for nested in &message.nested_type {
        index_messages(&full_name, nested, out);
    }
    out.insert(full_name, message);
}

/// The JSON name of top-level `field` of message `message`.
fn json_name(
    descriptors: &HashMap<String, &DescriptorProto>,
    message: &str,
    field: &str,
) -> Result<String, String> {
    let message = message.trim_start_matches('.');
    descriptors
        .get(message)
        .and_then(|m| m.field.iter().find(|f| f.name() == field))
        .map(|f| {
            f.json_name
                .clone()
                .unwrap_or_else(|| heck::ToLowerCamelCase::to_lower_camel_case(field))
        })
        .ok_or_else(|| format!("{message} has no field {field}"))
}

/// Records `message` and its nested messages; map entries are prost-internal
/// and skipped. `MessageRef::rust_path` holds the fully qualified proto name
/// until [`packages`] resolves it.
fn collect_messages(
    package: &str,
    outer: &[String],
    message: &DescriptorProto,
    locations: &mut HashMap<String, Location>,
    out: &mut Vec<MessageRef>,
) {
    if message.options.as_ref().is_some_and(|o| o.map_entry()) {
        return;
    }
    let mut full_name = package.to_owned();
    for name in outer
        .iter()
        .chain(std::iter::once(&message.name().to_owned()))
    {
        full_name.push('.');
        full_name.push_str(name);
    }
    let qualified = format!(".{full_name}");
    locations.insert(
        qualified.clone(),
        Location {
            package: package.to_owned(),
            outer: outer.to_vec(),
            name: message.name().to_owned(),
        },
    );
    out.push(MessageRef {
        full_name,
        rust_path: qualified,
        fields: Vec::new(),
    });
    let mut nested_outer = outer.to_vec();
    nested_outer.push(message.name().to_owned());
    for nested in &message.nested_type {
        collect_messages(package, &nested_outer, nested, locations, out);
    }
}

/// The Rust path prost-build gives `qualified` (e.g. `.library.v1.Book`),
/// as seen from the module of package `from`.
fn rust_path(
    locations: &HashMap<String, Location>,
    qualified: &str,
    from: &str,
) -> Result<String, String> {
    let location = locations
        .get(qualified)
        .ok_or_else(|| format!("message type {qualified} is not in the descriptor set"))?;
    let mut path = String::new();
    if location.package == WELL_KNOWN {
        path.push_str(WELL_KNOWN_RUST);
        path.push_str("::");
    } else if location.package != from {
        for _ in from.split('.') {
            path.push_str("super::");
        }
        for segment in location.package.split('.') {
            path.push_str(&to_snake(segment));
            path.push_str("::");
        }
    }
    for outer in &location.outer {
        path.push_str(&to_snake(outer));
        path.push_str("::");
    }
    path.push_str(&to_upper_camel(&location.name));
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(files: &[(&str, &str)]) -> FileDescriptorSet {
        use prost::Message as _;
        FileDescriptorSet::decode(crate::test_protos::compile(files).as_slice()).unwrap()
    }

    #[test]
    fn resolves_nested_cross_package_and_well_known_types() {
        let fds = compile(&[
            (
                "a/v1/a.proto",
                r#"syntax = "proto3"; package a.v1;
                   import "google/protobuf/empty.proto";
                   import "b/b.proto";
                   message Outer { message Inner { map<string, int32> m = 1; } Inner inner = 1; }
                   message type { }
                   service Svc {
                     rpc Get(Outer.Inner) returns (b.Thing);
                     rpc Del(b.Thing) returns (google.protobuf.Empty);
                     rpc Watch(type) returns (stream Outer);
                   }"#,
            ),
            (
                "b/b.proto",
                r#"syntax = "proto3"; package b; message Thing {}"#,
            ),
        ]);
        let packages = packages(&fds).unwrap();
        let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a.v1", "b"]);
        let a = &packages[0];
        let messages: Vec<(&str, &str)> = a
            .messages
            .iter()
            .map(|m| (m.full_name.as_str(), m.rust_path.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                ("a.v1.Outer", "Outer"),
                ("a.v1.Outer.Inner", "outer::Inner"),
                ("a.v1.type", "Type"),
            ]
        );
        let methods = &a.services[0].methods;
        assert_eq!(a.services[0].full_name, "a.v1.Svc");
        assert_eq!(methods[0].input, "outer::Inner");
        assert_eq!(methods[0].output, "super::super::b::Thing");
        assert_eq!(methods[1].output, "::dual_protocol::types::Empty");
        assert!(methods[2].server_streaming && !methods[2].client_streaming);
    }

    #[test]
    fn a_file_without_package_is_an_error_naming_it() {
        let fds = compile(&[("nopkg.proto", r#"syntax = "proto3"; message M {}"#)]);
        let err = packages(&fds).unwrap_err();
        assert!(err.contains("nopkg.proto"), "{err}");
    }
}
