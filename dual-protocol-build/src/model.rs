//! The generator's one front end: a `prost_reflect::DescriptorPool`
//! (decoded once from the encoded set, so extension options such as
//! `google.api.http` survive) in, one [`Model`] out. Every emitter (the
//! table, the serde impls, the OpenAPI document) reads the model, and this
//! file is the only place that knows how prost-build names and represents
//! things ([`Model::rust_path`], [`Rust`]) and what JSON form each
//! well-known type has ([`WellKnown`]).

use std::collections::{BTreeSet, HashMap, HashSet};

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
};
use prost_types::field_descriptor_proto::{Label as ProtoLabel, Type as ProtoType};
use prost_types::method_options::IdempotencyLevel;

use crate::http_rule::HttpBinding;
use crate::names::{WELL_KNOWN, WELL_KNOWN_RUST, to_snake, to_upper_camel};

/// Everything the emitters need, for every file of a descriptor set.
#[derive(Debug)]
pub(crate) struct Model {
    /// Every message (map entries excepted: map fields carry their key and
    /// value types), by file, then depth first in declaration order.
    pub(crate) messages: Vec<Message>,
    /// Every enum, in the same order.
    pub(crate) enums: Vec<Enum>,
    /// Every service, in file order.
    pub(crate) services: Vec<Service>,
    /// The packages code is generated for (every package but
    /// `google.protobuf`), sorted.
    pub(crate) packages: Vec<String>,
    message_index: HashMap<String, usize>,
    enum_index: HashMap<String, usize>,
}

/// A field's type: a scalar, or an enum or message by full name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Type {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    /// An enum, by full name.
    Enum(String),
    /// A message (or a group), by full name.
    Message(String),
}

/// The label as written (maps are `Repeated` on the wire, but see
/// [`Field::map`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    Optional,
    Required,
    Repeated,
}

/// The Rust type prost-build gives a field, `T` being the value type
/// (`i32` for enums).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rust {
    /// `T`: proto3 implicit presence, proto2 `required` scalars and enums,
    /// `required` messages.
    Value,
    /// `Box<M>`: a `required` message field whose type contains this
    /// message again.
    Boxed,
    /// `Option<T>`: messages, proto2 `optional` scalars and enums, proto3
    /// `optional`.
    Option,
    /// `Option<Box<M>>`: an optional message field whose type contains this
    /// message again.
    OptionBox,
    /// `Vec<T>`.
    Vec,
    /// `HashMap<K, V>`.
    Map,
    /// A variant of the oneof's enum, holding `Box<M>` when `boxed`.
    Oneof { boxed: bool },
}

/// The special proto3 JSON forms, in one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WellKnown {
    Timestamp,
    Duration,
    FieldMask,
    Struct,
    Value,
    ListValue,
    Any,
    Empty,
    /// `google.protobuf.*Value`: the wrapped value (of this type) or `null`.
    Wrapper(Type),
    /// The enum `google.protobuf.NullValue`: JSON `null`.
    NullValue,
}

/// How a single string (a path variable, a query value) becomes a field's
/// value; the runtime's `FieldKind` (the table ABI) spells the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// A JSON string: string, bytes (base64), every integer and float type
    /// (proto3 JSON accepts them quoted), and the well-known types written
    /// as strings (Timestamp, Duration, FieldMask, the non-bool wrappers).
    String,
    /// An enum name (or number).
    Enum,
    /// `true`/`false`: bool and `google.protobuf.BoolValue`.
    Bool,
    /// A message whose fields can be named (`a.b=...`).
    Message,
    /// A map, or a well-known message with no string form.
    Unsupported,
}

impl FieldKind {
    /// Whether a single string can be the field's value.
    pub(crate) fn is_leaf(self) -> bool {
        matches!(self, FieldKind::String | FieldKind::Enum | FieldKind::Bool)
    }
}

impl WellKnown {
    /// The special form of the message or enum `full_name`, if it has one.
    pub(crate) fn of(full_name: &str) -> Option<Self> {
        let name = full_name.strip_prefix("google.protobuf.")?;
        Some(match name {
            "Timestamp" => WellKnown::Timestamp,
            "Duration" => WellKnown::Duration,
            "FieldMask" => WellKnown::FieldMask,
            "Struct" => WellKnown::Struct,
            "Value" => WellKnown::Value,
            "ListValue" => WellKnown::ListValue,
            "Any" => WellKnown::Any,
            "Empty" => WellKnown::Empty,
            "NullValue" => WellKnown::NullValue,
            "DoubleValue" => WellKnown::Wrapper(Type::Double),
            "FloatValue" => WellKnown::Wrapper(Type::Float),
            "Int64Value" => WellKnown::Wrapper(Type::Int64),
            "UInt64Value" => WellKnown::Wrapper(Type::Uint64),
            "Int32Value" => WellKnown::Wrapper(Type::Int32),
            "UInt32Value" => WellKnown::Wrapper(Type::Uint32),
            "BoolValue" => WellKnown::Wrapper(Type::Bool),
            "StringValue" => WellKnown::Wrapper(Type::String),
            "BytesValue" => WellKnown::Wrapper(Type::Bytes),
            _ => return None,
        })
    }

    /// How a path or query value sets a field of this type: `None` when
    /// one string cannot (Struct, Value, ListValue, Any, Empty).
    pub(crate) fn text_kind(&self) -> Option<FieldKind> {
        match self {
            WellKnown::Timestamp | WellKnown::Duration | WellKnown::FieldMask => {
                Some(FieldKind::String)
            }
            WellKnown::Wrapper(Type::Bool) => Some(FieldKind::Bool),
            WellKnown::Wrapper(_) => Some(FieldKind::String),
            _ => None,
        }
    }
}

/// How a path or query value sets a field of a message named `full_name`:
/// the one rule for the generator's checks, tables and documents.
pub(crate) fn message_text_kind(full_name: &str) -> FieldKind {
    match WellKnown::of(full_name) {
        Some(well_known) => well_known.text_kind().unwrap_or(FieldKind::Unsupported),
        // The other `google.protobuf` messages (descriptors, `Type`, ...)
        // have no string form either.
        None if full_name.starts_with("google.protobuf.") => FieldKind::Unsupported,
        None => FieldKind::Message,
    }
}

/// Where prost-build puts a message or enum: its package and the messages
/// it is nested in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RustName {
    pub(crate) package: String,
    pub(crate) outer: Vec<String>,
    pub(crate) name: String,
}

impl RustName {
    /// The Rust path of the type, as seen from the module of package `from`.
    pub(crate) fn path(&self, from: &str) -> String {
        let mut path = self.module_prefix(from);
        path.push_str(&to_upper_camel(&self.name));
        path
    }

    /// The module prost puts the nested types (and oneof enums) of this
    /// message in, as seen from `from`.
    pub(crate) fn nested_module(&self, from: &str) -> String {
        let mut path = self.module_prefix(from);
        path.push_str(&to_snake(&self.name));
        path
    }

    fn module_prefix(&self, from: &str) -> String {
        let mut path = String::new();
        if self.package == WELL_KNOWN {
            path.push_str(WELL_KNOWN_RUST);
            path.push_str("::");
        } else if self.package != from {
            for _ in from.split('.') {
                path.push_str("super::");
            }
            for segment in self.package.split('.') {
                path.push_str(&to_snake(segment));
                path.push_str("::");
            }
        }
        for outer in &self.outer {
            path.push_str(&to_snake(outer));
            path.push_str("::");
        }
        path
    }
}

#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) full_name: String,
    pub(crate) name: String,
    pub(crate) package: String,
    pub(crate) rust: RustName,
    pub(crate) fields: Vec<Field>,
    /// Real oneofs only (a proto3 `optional` field's synthetic oneof is not
    /// one: see [`Field::proto3_optional`]).
    pub(crate) oneofs: Vec<Oneof>,
    pub(crate) well_known: Option<WellKnown>,
    /// `extensions` ranges: prost drops extensions, and so does the JSON.
    #[allow(dead_code)] // Model data no emitter needs yet (tests read it).
    pub(crate) extendable: bool,
    pub(crate) comment: Option<String>,
    pub(crate) deprecated: bool,
}

#[derive(Debug)]
pub(crate) struct Field {
    /// The proto name (`display_name`), also prost's ident (see [`Field::ident`]).
    pub(crate) name: String,
    /// The proto3 JSON name (`displayName`, or `json_name` as written).
    pub(crate) json_name: String,
    pub(crate) number: u32,
    /// The value type (of the elements for repeated fields; the entry's
    /// value type is in [`Field::map`]).
    pub(crate) ty: Type,
    pub(crate) label: Label,
    /// A map's key and value types.
    pub(crate) map: Option<(Type, Type)>,
    /// A proto2 group (a message type, in prost and in JSON).
    #[allow(dead_code)] // Model data no emitter needs yet (tests read it).
    pub(crate) group: bool,
    /// The real oneof it is a member of, as an index of [`Message::oneofs`].
    pub(crate) oneof: Option<usize>,
    /// Declared `optional` in a proto3 file.
    #[allow(dead_code)] // Model data no emitter needs yet (tests read it).
    pub(crate) proto3_optional: bool,
    /// Explicit presence: set or not, whatever the value (messages, oneof
    /// members, proto2 `optional`, proto3 `optional`).
    pub(crate) presence: bool,
    /// A repeated scalar written packed.
    pub(crate) packed: bool,
    /// `[default = ...]` as written (prost's `Default` and accessors apply
    /// it; JSON omits an unset optional field whatever its default).
    #[allow(dead_code)] // Model data no emitter needs yet (tests read it).
    pub(crate) default: Option<String>,
    /// The Rust type prost gives it.
    pub(crate) rust: Rust,
    pub(crate) comment: Option<String>,
    pub(crate) deprecated: bool,
}

impl Field {
    /// prost's field ident (`r#type`, ...).
    pub(crate) fn ident(&self) -> String {
        to_snake(&self.name)
    }

    pub(crate) fn is_list(&self) -> bool {
        self.label == Label::Repeated && self.map.is_none()
    }

    pub(crate) fn is_map(&self) -> bool {
        self.map.is_some()
    }

    /// The message type of a singular or repeated message field.
    pub(crate) fn message_type(&self) -> Option<&str> {
        match (&self.ty, &self.map) {
            (Type::Message(name), None) => Some(name),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Oneof {
    pub(crate) name: String,
    /// Indexes of its members in [`Message::fields`].
    pub(crate) fields: Vec<usize>,
}

#[derive(Debug)]
pub(crate) struct Enum {
    pub(crate) full_name: String,
    pub(crate) package: String,
    pub(crate) rust: RustName,
    pub(crate) values: Vec<EnumValue>,
    pub(crate) well_known: Option<WellKnown>,
    pub(crate) comment: Option<String>,
    pub(crate) deprecated: bool,
}

impl Enum {
    /// Whether a name shares its number with an earlier one
    /// (`allow_alias`): prost keeps the first name only.
    pub(crate) fn has_aliases(&self) -> bool {
        self.values.iter().any(|v| v.alias)
    }
}

#[derive(Debug)]
pub(crate) struct EnumValue {
    pub(crate) name: String,
    pub(crate) number: i32,
    /// Shares its number with an earlier value: prost has no variant for
    /// it, and JSON prints the earlier name.
    pub(crate) alias: bool,
    pub(crate) comment: Option<String>,
    pub(crate) deprecated: bool,
}

#[derive(Debug)]
pub(crate) struct Service {
    /// `package.Service`.
    pub(crate) full_name: String,
    pub(crate) name: String,
    pub(crate) package: String,
    pub(crate) methods: Vec<Method>,
    pub(crate) comment: Option<String>,
    pub(crate) deprecated: bool,
}

/// Which sides stream (the runtime's `MethodKind` has the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodKind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    BidiStreaming,
}

impl MethodKind {
    /// The name in snake case (`server_streaming`).
    pub(crate) fn snake(self) -> &'static str {
        match self {
            MethodKind::Unary => "unary",
            MethodKind::ServerStreaming => "server_streaming",
            MethodKind::ClientStreaming => "client_streaming",
            MethodKind::BidiStreaming => "bidi_streaming",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    Unknown,
    NoSideEffects,
    Idempotent,
}

#[derive(Debug)]
pub(crate) struct Method {
    pub(crate) name: String,
    /// `/package.Service/Method`.
    pub(crate) path: String,
    /// Full name of the input message.
    pub(crate) input: String,
    /// Full name of the output message.
    pub(crate) output: String,
    pub(crate) client_streaming: bool,
    pub(crate) server_streaming: bool,
    pub(crate) idempotency: Idempotency,
    /// The checked `google.api.http` bindings, the rule first.
    pub(crate) http: Vec<HttpBinding>,
    pub(crate) comment: Option<String>,
    pub(crate) deprecated: bool,
}

impl Method {
    pub(crate) fn kind(&self) -> MethodKind {
        match (self.client_streaming, self.server_streaming) {
            (false, false) => MethodKind::Unary,
            (false, true) => MethodKind::ServerStreaming,
            (true, false) => MethodKind::ClientStreaming,
            (true, true) => MethodKind::BidiStreaming,
        }
    }

    /// `idempotency_level = NO_SIDE_EFFECTS` (Connect serves GET for a
    /// unary one).
    pub(crate) fn no_side_effects(&self) -> bool {
        self.idempotency == Idempotency::NoSideEffects
    }
}

impl Model {
    /// Decodes `encoded` (a `FileDescriptorSet` with its imports, as protox
    /// or `protoc --include_imports` writes it) and builds the model,
    /// checking the `google.api.http` rules.
    pub(crate) fn decode(encoded: &[u8]) -> Result<(DescriptorPool, Model), String> {
        let pool = DescriptorPool::decode(encoded)
            .map_err(|e| format!("cannot read the descriptor set: {e}"))?;
        let model = Model::new(&pool)?;
        Ok((pool, model))
    }

    /// The model of every file of `pool`.
    pub(crate) fn new(pool: &DescriptorPool) -> Result<Model, String> {
        let mut model = Model {
            messages: Vec::new(),
            enums: Vec::new(),
            services: Vec::new(),
            packages: Vec::new(),
            message_index: HashMap::new(),
            enum_index: HashMap::new(),
        };
        let graph = Graph::new(pool);
        let mut packages = BTreeSet::new();
        for file in pool.files() {
            let package = file.package_name();
            if package.is_empty() {
                return Err(format!(
                    "{}: dual-protocol-build needs a `package` statement in every proto file",
                    file.name()
                ));
            }
            if package != WELL_KNOWN {
                packages.insert(package.to_owned());
            }
            let comments = Comments::of(&file);
            for message in file.messages() {
                model.add_message(&message, &[], &comments, &graph);
            }
            for enumeration in file.enums() {
                model.add_enum(&enumeration, &[], &comments);
            }
            for service in file.services() {
                model.services.push(Service {
                    full_name: service.full_name().to_owned(),
                    name: service.name().to_owned(),
                    package: package.to_owned(),
                    comment: comments.get(service.path()),
                    deprecated: service
                        .service_descriptor_proto()
                        .options
                        .as_ref()
                        .is_some_and(|o| o.deprecated()),
                    methods: service
                        .methods()
                        .map(|m| {
                            let options = m.method_descriptor_proto().options.as_ref();
                            Method {
                                name: m.name().to_owned(),
                                path: format!("/{}/{}", service.full_name(), m.name()),
                                input: m.input().full_name().to_owned(),
                                output: m.output().full_name().to_owned(),
                                client_streaming: m.is_client_streaming(),
                                server_streaming: m.is_server_streaming(),
                                idempotency: match options.map(|o| o.idempotency_level()) {
                                    Some(IdempotencyLevel::NoSideEffects) => {
                                        Idempotency::NoSideEffects
                                    }
                                    Some(IdempotencyLevel::Idempotent) => Idempotency::Idempotent,
                                    _ => Idempotency::Unknown,
                                },
                                http: Vec::new(),
                                comment: comments.get(m.path()),
                                deprecated: options.is_some_and(|o| o.deprecated()),
                            }
                        })
                        .collect(),
                });
            }
        }
        model.packages = packages.into_iter().collect();
        for binding in crate::http_rule::http_rules(pool, &model)? {
            if let Some(method) = model
                .services
                .iter_mut()
                .flat_map(|s| &mut s.methods)
                .find(|m| m.path == binding.method_path)
            {
                method.http.push(binding);
            }
        }
        Ok(model)
    }

    fn add_message(
        &mut self,
        message: &MessageDescriptor,
        outer: &[String],
        comments: &Comments,
        graph: &Graph,
    ) {
        if message.is_map_entry() {
            return;
        }
        let proto2 = matches!(
            message.parent_file().file_descriptor_proto().syntax(),
            "" | "proto2"
        );
        let mut oneofs: Vec<Oneof> = Vec::new();
        let mut fields = Vec::new();
        for (i, field) in message.fields().enumerate() {
            let oneof =
                field
                    .containing_oneof()
                    .filter(|o| !o.is_synthetic())
                    .map(|o| match oneofs.iter().position(|x| x.name == o.name()) {
                        Some(index) => {
                            oneofs[index].fields.push(i);
                            index
                        }
                        None => {
                            oneofs.push(Oneof {
                                name: o.name().to_owned(),
                                fields: vec![i],
                            });
                            oneofs.len() - 1
                        }
                    });
            fields.push(field_of(message, &field, oneof, proto2, comments, graph));
        }
        let proto = message.descriptor_proto();
        self.message_index
            .insert(message.full_name().to_owned(), self.messages.len());
        self.messages.push(Message {
            full_name: message.full_name().to_owned(),
            name: message.name().to_owned(),
            package: message.package_name().to_owned(),
            rust: RustName {
                package: message.package_name().to_owned(),
                outer: outer.to_vec(),
                name: message.name().to_owned(),
            },
            fields,
            oneofs,
            well_known: WellKnown::of(message.full_name()),
            extendable: !proto.extension_range.is_empty(),
            comment: comments.get(message.path()),
            deprecated: proto.options.as_ref().is_some_and(|o| o.deprecated()),
        });
        let mut inner = outer.to_vec();
        inner.push(message.name().to_owned());
        for nested in message.child_messages() {
            self.add_message(&nested, &inner, comments, graph);
        }
        for enumeration in message.child_enums() {
            self.add_enum(&enumeration, &inner, comments);
        }
    }

    fn add_enum(&mut self, enumeration: &EnumDescriptor, outer: &[String], comments: &Comments) {
        let mut numbers = HashSet::new();
        let values = enumeration
            .values()
            .map(|v| EnumValue {
                name: v.name().to_owned(),
                number: v.number(),
                alias: !numbers.insert(v.number()),
                comment: comments.get(v.path()),
                deprecated: v
                    .enum_value_descriptor_proto()
                    .options
                    .as_ref()
                    .is_some_and(|o| o.deprecated()),
            })
            .collect();
        self.enum_index
            .insert(enumeration.full_name().to_owned(), self.enums.len());
        self.enums.push(Enum {
            full_name: enumeration.full_name().to_owned(),
            package: enumeration.package_name().to_owned(),
            rust: RustName {
                package: enumeration.package_name().to_owned(),
                outer: outer.to_vec(),
                name: enumeration.name().to_owned(),
            },
            values,
            well_known: WellKnown::of(enumeration.full_name()),
            comment: comments.get(enumeration.path()),
            deprecated: enumeration
                .enum_descriptor_proto()
                .options
                .as_ref()
                .is_some_and(|o| o.deprecated()),
        });
    }

    pub(crate) fn message(&self, full_name: &str) -> Option<&Message> {
        self.message_index
            .get(full_name)
            .map(|&i| &self.messages[i])
    }

    pub(crate) fn enumeration(&self, full_name: &str) -> Option<&Enum> {
        self.enum_index.get(full_name).map(|&i| &self.enums[i])
    }

    /// The one Rust-name resolver: the path prost-build gives the message
    /// or enum `full_name`, as seen from the module of package `from`
    /// (`outer::Inner`, `super::super::b::Thing`,
    /// `::dual_protocol::types::Timestamp`).
    pub(crate) fn rust_path(&self, full_name: &str, from: &str) -> String {
        if let Some(message) = self.message(full_name) {
            return message.rust.path(from);
        }
        if let Some(enumeration) = self.enumeration(full_name) {
            return enumeration.rust.path(from);
        }
        // Not in the set (cannot happen for a linked pool): name it as
        // prost would a top-level type of no package.
        to_upper_camel(full_name)
    }

    /// How a path or query value sets `field` (the table's `FieldKind`).
    pub(crate) fn field_kind(&self, field: &Field) -> FieldKind {
        if field.is_map() {
            return FieldKind::Unsupported;
        }
        match &field.ty {
            Type::Bool => FieldKind::Bool,
            Type::Enum(_) => FieldKind::Enum,
            Type::Message(name) => message_text_kind(name),
            _ => FieldKind::String,
        }
    }

    /// The messages whose fields the runtime needs to fill requests from
    /// paths and queries: the input of every method with a REST binding
    /// and every message reachable from one through singular message
    /// fields (one table per type keeps the output linear even for
    /// recursive messages).
    pub(crate) fn rest_messages(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut pending: Vec<&str> = self
            .services
            .iter()
            .flat_map(|s| &s.methods)
            .filter(|m| !m.http.is_empty())
            .map(|m| m.input.as_str())
            .collect();
        while let Some(name) = pending.pop() {
            if !out.insert(name.to_owned()) {
                continue;
            }
            let Some(message) = self.message(name) else {
                continue;
            };
            for field in &message.fields {
                if let (FieldKind::Message, false, Some(inner)) = (
                    self.field_kind(field),
                    field.is_list(),
                    field.message_type(),
                ) {
                    pending.push(inner);
                }
            }
        }
        out
    }
}

fn type_of(kind: &Kind) -> Type {
    match kind {
        Kind::Double => Type::Double,
        Kind::Float => Type::Float,
        Kind::Int32 => Type::Int32,
        Kind::Int64 => Type::Int64,
        Kind::Uint32 => Type::Uint32,
        Kind::Uint64 => Type::Uint64,
        Kind::Sint32 => Type::Sint32,
        Kind::Sint64 => Type::Sint64,
        Kind::Fixed32 => Type::Fixed32,
        Kind::Fixed64 => Type::Fixed64,
        Kind::Sfixed32 => Type::Sfixed32,
        Kind::Sfixed64 => Type::Sfixed64,
        Kind::Bool => Type::Bool,
        Kind::String => Type::String,
        Kind::Bytes => Type::Bytes,
        Kind::Enum(e) => Type::Enum(e.full_name().to_owned()),
        Kind::Message(m) => Type::Message(m.full_name().to_owned()),
    }
}

fn field_of(
    message: &MessageDescriptor,
    field: &FieldDescriptor,
    oneof: Option<usize>,
    proto2: bool,
    comments: &Comments,
    graph: &Graph,
) -> Field {
    let proto = field.field_descriptor_proto();
    let label = match proto.label() {
        ProtoLabel::Optional => Label::Optional,
        ProtoLabel::Required => Label::Required,
        ProtoLabel::Repeated => Label::Repeated,
    };
    let map = match (field.is_map(), field.kind()) {
        (true, Kind::Message(entry)) => Some((
            type_of(&entry.map_entry_key_field().kind()),
            type_of(&entry.map_entry_value_field().kind()),
        )),
        _ => None,
    };
    let proto3_optional = proto.proto3_optional();
    // prost-build's rules (`CodeGenerator::optional`, `should_box_*`).
    let is_message = matches!(proto.r#type(), ProtoType::Message | ProtoType::Group);
    let boxed = label != Label::Repeated
        && is_message
        && graph.reaches(
            proto.type_name().trim_start_matches('.'),
            message.full_name(),
        );
    let optional = proto3_optional
        || (label == Label::Optional && (proto.r#type() == ProtoType::Message || proto2));
    let rust = if map.is_some() {
        Rust::Map
    } else if label == Label::Repeated {
        Rust::Vec
    } else if oneof.is_some() {
        Rust::Oneof { boxed }
    } else {
        match (optional, boxed) {
            (true, true) => Rust::OptionBox,
            (true, false) => Rust::Option,
            (false, true) => Rust::Boxed,
            (false, false) => Rust::Value,
        }
    };
    Field {
        name: field.name().to_owned(),
        json_name: field.json_name().to_owned(),
        number: field.number(),
        ty: type_of(&field.kind()),
        label,
        map,
        group: field.is_group(),
        oneof,
        proto3_optional,
        presence: field.supports_presence(),
        packed: field.is_packed(),
        default: proto.default_value.clone(),
        rust,
        comment: comments.get(field.path()),
        deprecated: proto.options.as_ref().is_some_and(|o| o.deprecated()),
    }
}

/// prost-build's message graph: an edge for every singular field of type
/// message (not group, as prost-build has it), to find the fields it boxes.
struct Graph {
    edges: HashMap<String, Vec<String>>,
}

impl Graph {
    fn new(pool: &DescriptorPool) -> Self {
        let mut edges: HashMap<String, Vec<String>> = HashMap::new();
        for message in pool.all_messages() {
            let out = edges.entry(message.full_name().to_owned()).or_default();
            for field in message.fields() {
                let proto = field.field_descriptor_proto();
                if proto.r#type() == ProtoType::Message && proto.label() != ProtoLabel::Repeated {
                    out.push(proto.type_name().trim_start_matches('.').to_owned());
                }
            }
        }
        Graph { edges }
    }

    /// Whether `to` is reachable from `from` (or is `from`).
    fn reaches(&self, from: &str, to: &str) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![from];
        while let Some(current) = stack.pop() {
            if current == to {
                return true;
            }
            if !seen.insert(current) {
                continue;
            }
            if let Some(next) = self.edges.get(current) {
                stack.extend(next.iter().map(String::as_str));
            }
        }
        false
    }
}

/// The leading comments of one file, by source path.
struct Comments(HashMap<Vec<i32>, String>);

impl Comments {
    fn of(file: &FileDescriptor) -> Self {
        let mut comments = HashMap::new();
        if let Some(info) = &file.file_descriptor_proto().source_code_info {
            for location in &info.location {
                if let Some(text) = location.leading_comments.as_deref().map(clean_comment)
                    && !text.is_empty()
                {
                    comments.insert(location.path.clone(), text);
                }
            }
        }
        Comments(comments)
    }

    fn get(&self, path: &[i32]) -> Option<String> {
        self.0.get(path).cloned()
    }
}

/// A leading comment without its comment markers' spaces.
fn clean_comment(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
        .collect();
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(files: &[(&str, &str)]) -> Model {
        let encoded = crate::test_protos::compile(files);
        Model::decode(&encoded).unwrap().1
    }

    #[test]
    fn resolves_nested_cross_package_and_well_known_types() {
        let model = model(&[
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
        assert_eq!(model.packages, ["a.v1", "b"]);
        let messages: Vec<(&str, String)> = model
            .messages
            .iter()
            .filter(|m| m.package == "a.v1")
            .map(|m| (m.full_name.as_str(), m.rust.path("a.v1")))
            .collect();
        assert_eq!(
            messages,
            [
                ("a.v1.Outer", "Outer".to_owned()),
                ("a.v1.Outer.Inner", "outer::Inner".to_owned()),
                ("a.v1.type", "Type".to_owned()),
            ]
        );
        let service = &model.services[0];
        assert_eq!(service.full_name, "a.v1.Svc");
        let methods = &service.methods;
        assert_eq!(model.rust_path(&methods[0].input, "a.v1"), "outer::Inner");
        assert_eq!(
            model.rust_path(&methods[0].output, "a.v1"),
            "super::super::b::Thing"
        );
        assert_eq!(
            model.rust_path(&methods[1].output, "a.v1"),
            "::dual_protocol::types::Empty"
        );
        let kind = RustName {
            package: "google.protobuf".into(),
            outer: vec!["Field".into()],
            name: "Kind".into(),
        };
        assert_eq!(kind.path("a"), "::dual_protocol::types::field::Kind");
        assert!(methods[2].server_streaming && !methods[2].client_streaming);
        let inner = model.message("a.v1.Outer.Inner").unwrap();
        assert_eq!(inner.fields[0].map, Some((Type::String, Type::Int32)));
        assert_eq!(inner.fields[0].rust, Rust::Map);
    }

    #[test]
    fn a_file_without_package_is_an_error_naming_it() {
        let encoded =
            crate::test_protos::compile(&[("nopkg.proto", r#"syntax = "proto3"; message M {}"#)]);
        let err = Model::decode(&encoded).unwrap_err();
        assert!(err.contains("nopkg.proto"), "{err}");
    }

    #[test]
    fn rust_representation_follows_prost() {
        let model = model(&[
            (
                "p2.proto",
                r#"syntax = "proto2"; package p2;
                   message M {
                     optional int32 a = 1;
                     required int32 b = 2;
                     optional M self_ = 3;
                     required M again = 4;
                     repeated M many = 5;
                     optional group G = 6 { optional int32 x = 7; }
                     required string s = 8 [default = "hi"];
                     oneof o { M boxed = 9; int32 plain = 10; }
                     extensions 100 to 200;
                   }"#,
            ),
            (
                "p3.proto",
                r#"syntax = "proto3"; package p3;
                   message N { int32 a = 1; optional int32 b = 2; N next = 3; Leaf leaf = 4; }
                   message Leaf { string s = 1; }"#,
            ),
        ]);
        let m = model.message("p2.M").unwrap();
        let rust: Vec<(&str, Rust, bool)> = m
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.rust, f.presence))
            .collect();
        assert_eq!(
            rust,
            [
                ("a", Rust::Option, true),
                ("b", Rust::Value, true),
                ("self_", Rust::OptionBox, true),
                ("again", Rust::Boxed, true),
                ("many", Rust::Vec, false),
                ("g", Rust::Option, true),
                ("s", Rust::Value, true),
                ("boxed", Rust::Oneof { boxed: true }, true),
                ("plain", Rust::Oneof { boxed: false }, true),
            ]
        );
        assert!(m.fields[5].group);
        assert_eq!(m.fields[6].default.as_deref(), Some("hi"));
        assert!(m.extendable);
        let n = model.message("p3.N").unwrap();
        let rust: Vec<Rust> = n.fields.iter().map(|f| f.rust).collect();
        assert_eq!(
            rust,
            [Rust::Value, Rust::Option, Rust::OptionBox, Rust::Option]
        );
        assert!(n.fields[1].proto3_optional && n.oneofs.is_empty());
    }

    #[test]
    fn enum_aliases_are_marked() {
        let model = model(&[(
            "e.proto",
            r#"syntax = "proto3"; package e;
               enum E { option allow_alias = true; A = 0; B = 1; C = 1; }"#,
        )]);
        let e = model.enumeration("e.E").unwrap();
        let aliases: Vec<bool> = e.values.iter().map(|v| v.alias).collect();
        assert_eq!(aliases, [false, false, true]);
        assert!(e.has_aliases());
    }
}
