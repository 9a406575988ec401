//! What generated code names, and nothing else. Not a public API.

use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::registry::Registration;

// The proto3 JSON runtime the generated serde impls call: it lives beside
// the public `crate::json` it serves.
#[doc(hidden)]
#[path = "json/runtime.rs"]
pub mod json;
pub use inventory;

use crate::registry::{
    FieldDescriptor, HttpRule, MessageDescriptor, MethodDescriptor, MethodKind, PackageDescriptor,
    ServiceDescriptor,
};

/// How a string from a REST path or query becomes the JSON of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A JSON string (strings, bytes, numbers, string-form well-known types).
    String,
    /// An enum: a name, or a number.
    Enum,
    /// `true` or `false`.
    Bool,
    /// A message: only its fields can be named.
    Message,
    /// A map or a message with no string form.
    Unsupported,
}

pub const fn field(
    name: &'static str,
    json_name: &'static str,
    number: u32,
    kind: FieldKind,
    repeated: bool,
    message: &'static str,
) -> FieldDescriptor {
    FieldDescriptor {
        name,
        json_name,
        number,
        kind,
        repeated,
        message,
    }
}

pub const fn http(
    verb: &'static str,
    template: &'static str,
    body: &'static str,
    response_body: &'static str,
    response_body_proto: &'static str,
) -> HttpRule {
    HttpRule {
        verb,
        template,
        body,
        response_body,
        response_body_proto,
    }
}
use crate::transcode::json::{
    json_to_proto, json_to_proto_direct, proto_to_json, proto_to_json_direct,
};

pub const fn package(
    name: &'static str,
    services: &'static [ServiceDescriptor],
    messages: &'static [MessageDescriptor],
    openapi: &'static str,
) -> PackageDescriptor {
    PackageDescriptor {
        name,
        services,
        messages,
        openapi,
    }
}

pub const fn service(
    name: &'static str,
    methods: &'static [MethodDescriptor],
) -> ServiceDescriptor {
    ServiceDescriptor { name, methods }
}

/// One method (table ABI v2): its path, kind, input and output messages,
/// REST bindings.
pub const fn method(
    path: &'static str,
    kind: MethodKind,
    input: &'static MessageDescriptor,
    output: &'static MessageDescriptor,
    http: &'static [HttpRule],
) -> MethodDescriptor {
    MethodDescriptor {
        path,
        input,
        output,
        http,
        kind,
        no_side_effects: false,
    }
}

/// Marks a method `option idempotency_level = NO_SIDE_EFFECTS`.
pub const fn no_side_effects(mut method: MethodDescriptor) -> MethodDescriptor {
    method.no_side_effects = true;
    method
}

/// One message (table ABI v2): its name, its codecs (monomorphised for
/// `M`), its fields.
pub const fn message<M>(
    full_name: &'static str,
    fields: &'static [FieldDescriptor],
) -> MessageDescriptor
where
    M: Message + Default + Serialize + DeserializeOwned,
{
    MessageDescriptor {
        full_name,
        json_to_proto: json_to_proto::<M>,
        proto_to_json: proto_to_json::<M>,
        fields,
    }
}

/// One message with a direct-transcoder table (see
/// `__private::json::Direct`): as [`message`], but its codecs transcode in
/// one pass each.
pub const fn message_direct<M>(
    full_name: &'static str,
    fields: &'static [FieldDescriptor],
) -> MessageDescriptor
where
    M: Message + Default + Serialize + DeserializeOwned + json::Direct,
{
    MessageDescriptor {
        full_name,
        json_to_proto: json_to_proto_direct::<M>,
        proto_to_json: proto_to_json_direct::<M>,
        fields,
    }
}
