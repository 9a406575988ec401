//! `google.protobuf.Any` with its proto3 JSON form, resolved through one
//! process-wide registry of every message type the generator produced (plus
//! the well-known types and `google.rpc`).
//!
//! A message prints as `{"@type": URL, ...its fields}`; a well-known type
//! with a special JSON form as `{"@type": URL, "value": ...}`. A type the
//! registry does not know prints as `{"@type": URL, "value": "<base64>"}`
//! (not canonical: there is nothing better to say without its schema), and
//! reads back from that same form.
//!
//! `google.protobuf.Empty` prints as `{"@type": URL}`, without `"value":{}`:
//! protobuf's JSON spec was clarified this way in January 2026 (C++, Java,
//! Python and JavaScript print and read only that form; Go and C# also read
//! `"value":{}`, which is read here too).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::__private::json::{charge, heap, with_options};
use crate::registry::{JsonContext, MessageDescriptor, PackageDescriptor};
use crate::types;

/// `google.protobuf.Any`: a message of any type, with its type URL.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Any {
    /// `type.googleapis.com/package.Message`.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// The message, protobuf-encoded.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

impl prost::Name for Any {
    const NAME: &'static str = "Any";
    const PACKAGE: &'static str = "google.protobuf";
}

impl Any {
    /// Packs `message` with the `type.googleapis.com/` URL of its name.
    pub fn pack<M: prost::Name>(message: &M) -> Self {
        Self {
            type_url: format!("type.googleapis.com/{}", M::full_name()),
            value: message.encode_to_vec().into(),
        }
    }

    /// The message, if this holds an `M` (whatever the URL's domain).
    pub fn unpack<M: prost::Name + Default>(&self) -> Option<M> {
        let name = self.type_url.rsplit('/').next().unwrap_or_default();
        (name == M::full_name())
            .then(|| M::decode(self.value.as_ref()).ok())
            .flatten()
    }
}

impl From<pbjson_types::Any> for Any {
    fn from(any: pbjson_types::Any) -> Self {
        Self {
            type_url: any.type_url,
            value: any.value,
        }
    }
}

impl From<Any> for pbjson_types::Any {
    fn from(any: Any) -> Self {
        Self {
            type_url: any.type_url,
            value: any.value,
        }
    }
}

/// The well-known types whose JSON is not an object of fields.
const SPECIAL: [&str; 16] = [
    "google.protobuf.Any",
    "google.protobuf.Duration",
    "google.protobuf.Timestamp",
    "google.protobuf.FieldMask",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
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

use crate::__private::message;

/// The well-known types, so an `Any` can hold them.
const WELL_KNOWN: &[MessageDescriptor] = &[
    message::<Any>("google.protobuf.Any", &[]),
    message::<types::Duration>("google.protobuf.Duration", &[]),
    message::<types::Timestamp>("google.protobuf.Timestamp", &[]),
    message::<types::FieldMask>("google.protobuf.FieldMask", &[]),
    message::<types::Struct>("google.protobuf.Struct", &[]),
    message::<types::Value>("google.protobuf.Value", &[]),
    message::<types::ListValue>("google.protobuf.ListValue", &[]),
    message::<types::DoubleValue>("google.protobuf.DoubleValue", &[]),
    message::<types::FloatValue>("google.protobuf.FloatValue", &[]),
    message::<types::Int64Value>("google.protobuf.Int64Value", &[]),
    message::<types::UInt64Value>("google.protobuf.UInt64Value", &[]),
    message::<types::Int32Value>("google.protobuf.Int32Value", &[]),
    message::<types::UInt32Value>("google.protobuf.UInt32Value", &[]),
    message::<types::BoolValue>("google.protobuf.BoolValue", &[]),
    message::<types::StringValue>("google.protobuf.StringValue", &[]),
    message::<types::BytesValue>("google.protobuf.BytesValue", &[]),
    message::<types::Empty>("google.protobuf.Empty", &[]),
];

/// The message types an `Any` can hold as JSON: a layer's own (its
/// packages, the well-known types, `google.rpc`), or every one linked into
/// the binary for JSON made outside a layer.
#[derive(Debug, Default)]
pub(crate) struct Types(HashMap<&'static str, MessageDescriptor>);

impl Types {
    /// The well-known types and `google.rpc`.
    pub(crate) fn base() -> Self {
        let mut types = Self::default();
        for message in WELL_KNOWN.iter().chain(crate::rpc::DUAL_PROTOCOL.messages) {
            types.insert(message);
        }
        types
    }

    /// Adds the messages of `package`, and the inputs and outputs of its
    /// methods (the first registration of a name wins).
    pub(crate) fn add(&mut self, package: &PackageDescriptor) {
        for message in package.messages {
            self.insert(message);
        }
        for method in package.services.iter().flat_map(|s| s.methods) {
            self.insert(method.input);
            self.insert(method.output);
        }
    }

    fn insert(&mut self, message: &MessageDescriptor) {
        self.0.entry(message.full_name).or_insert(*message);
    }

    /// Every type linked into the binary (built once, never changed).
    pub(crate) fn linked() -> Arc<Types> {
        static LINKED: OnceLock<Arc<Types>> = OnceLock::new();
        LINKED
            .get_or_init(|| {
                let mut types = Types::base();
                for package in crate::registry::discovered() {
                    types.add(package);
                }
                Arc::new(types)
            })
            .clone()
    }

    fn get(&self, type_url: &str) -> Option<MessageDescriptor> {
        let name = type_url.rsplit('/').next().unwrap_or_default();
        self.0.get(name).copied()
    }
}

thread_local! {
    /// The types of the transcoding running on this thread, if any.
    static CURRENT: RefCell<Option<Arc<Types>>> = const { RefCell::new(None) };
}

/// Runs `f` with the options and types of `cx` in force on this thread
/// (what the generated serde code and `Any` read), restoring the previous
/// ones afterwards, also when `f` panics.
pub(crate) fn with_context<R>(cx: &JsonContext, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<Types>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(cx.types.clone()));
    let _restore = Restore(previous);
    with_options(cx.options, f)
}

/// The context in force on this thread: the one set by [`with_context`],
/// else the options in force and every linked type.
pub(crate) fn current() -> JsonContext {
    let types = CURRENT
        .with(|c| c.borrow().clone())
        .unwrap_or_else(Types::linked);
    JsonContext {
        options: crate::__private::json::options(),
        types,
        // A read within a read shares its budget (see `with_limits`).
        limits: crate::__private::json::Limits::NONE,
    }
}

/// Whether an `Any` of this type prints as JSON (its type is known here).
pub(crate) fn knows(type_url: &str) -> bool {
    lookup(type_url).is_some()
}

fn lookup(type_url: &str) -> Option<MessageDescriptor> {
    match CURRENT.with(|c| c.borrow().as_ref().map(|t| t.get(type_url))) {
        Some(found) => found,
        None => Types::linked().get(type_url),
    }
}

/// Whether `url` names a message type: `host/package.Message`, as every
/// implementation resolves it (by the name after the last `/`).
fn valid_type_url(url: &str) -> bool {
    match url.rsplit_once('/') {
        Some((_, name)) => {
            !name.is_empty()
                && name.split('.').all(|part| {
                    part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                        && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
        }
        None => false,
    }
}

impl serde::Serialize for Any {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The empty Any, as `{}` reads.
        if self.type_url.is_empty() && self.value.is_empty() {
            return serializer.serialize_map(Some(0))?.end();
        }
        // Unknown types, and bytes that do not decode as their type, print
        // as base64 rather than fail the whole answer.
        let decoded = lookup(&self.type_url).and_then(|message| {
            let mut json = Vec::new();
            (message.proto_to_json)(&self.value, &mut json, &current()).ok()?;
            Some((message, serde_json::from_slice::<Value>(&json).ok()?))
        });
        let Some((message, value)) = decoded else {
            let mut map = serializer.serialize_map(Some(2))?;
            map.serialize_entry("@type", &self.type_url)?;
            map.serialize_entry("value", &crate::json::base64::encode(&self.value))?;
            return map.end();
        };
        match value {
            Value::Object(fields) if !SPECIAL.contains(&message.full_name) => {
                let mut map = serializer.serialize_map(Some(fields.len() + 1))?;
                map.serialize_entry("@type", &self.type_url)?;
                for (key, value) in &fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            value => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("@type", &self.type_url)?;
                map.serialize_entry("value", &value)?;
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Any {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Held as a JSON value until `@type` is known: counted against the
        // read's `max_decoded_bytes` as it is built.
        let mut fields = match deserializer.deserialize_map(Charged)? {
            Value::Object(fields) => fields,
            _ => unreachable!("deserialize_map visits a map"),
        };
        let type_url = match fields.remove("@type") {
            Some(Value::String(url)) => url,
            Some(_) => return Err(de::Error::custom("@type must be a string")),
            // `{}` is the empty Any; other fields without a type cannot be
            // read, unless unknown fields are skipped.
            None if fields.is_empty()
                || crate::__private::json::options().ignore_unknown_fields =>
            {
                return Ok(Any::default());
            }
            None => return Err(de::Error::custom("an Any needs an @type")),
        };
        if !valid_type_url(&type_url) {
            return Err(de::Error::custom(format!(
                "invalid Any type URL {type_url:?} (expected `host/package.Message`)"
            )));
        }
        let value = match lookup(&type_url) {
            Some(message) => {
                let json = if SPECIAL.contains(&message.full_name) {
                    fields.remove("value").unwrap_or(Value::Null)
                } else if message.full_name == "google.protobuf.Empty"
                    && fields.len() == 1
                    && matches!(fields.get("value"), Some(Value::Object(empty)) if empty.is_empty())
                {
                    // Go's and C#'s form of an Empty.
                    Value::Object(Map::new())
                } else {
                    Value::Object(fields)
                };
                let json = serde_json::to_vec(&json).map_err(de::Error::custom)?;
                let mut bytes = bytes::BytesMut::new();
                (message.json_to_proto)(&json, &mut bytes, &current()).map_err(|e| {
                    let at = if e.field.is_empty() {
                        String::new()
                    } else {
                        format!("{}: ", e.field)
                    };
                    de::Error::custom(format!("{type_url}: {at}{}", e.message))
                })?;
                bytes.to_vec()
            }
            None => match fields.remove("value") {
                Some(Value::String(base64)) => crate::json::base64::decode(base64.as_bytes())
                    .map_err(|_| {
                        de::Error::custom("value of an Any of unknown type must be base64")
                    })?,
                _ => return Err(de::Error::custom(format!("unknown Any type {type_url}"))),
            },
        };
        Ok(Any {
            type_url,
            value: value.into(),
        })
    }
}

/// Builds a `serde_json::Value`, charging each node, key and string to the
/// read's budget (a `Value` costs about 20 times its JSON text).
struct Charged;

impl<'de> de::DeserializeSeed<'de> for Charged {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for Charged {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // What serde_json's own `Value` does with a non-finite float.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        charge::<E>(heap(v.len()))?;
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        charge::<E>(heap(v.len()))?;
        Ok(Value::String(v))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            charge::<A::Error>(size_of::<Value>())?;
            match seq.next_element_seed(Charged)? {
                Some(item) => items.push(item),
                None => break,
            }
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // The key, the value and the map's node.
            charge::<A::Error>(heap(key.len()) + size_of::<(String, Value)>() + 32)?;
            let value = map.next_value_seed(Charged)?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{self, JsonOptions};

    fn read(text: &str) -> Result<Any, String> {
        json::from_str(text, &JsonOptions::default()).map_err(|e| e.to_string())
    }

    // Conformance: AnyWithNoType, AnyWktRepresentationWithBadType,
    // AnyWktRepresentationWithEmptyTypeAndValue.
    #[test]
    fn an_empty_object_is_the_empty_any_and_bad_type_urls_are_rejected() {
        assert_eq!(read("{}"), Ok(Any::default()));
        assert_eq!(
            json::to_string(&Any::default(), &JsonOptions::default()).unwrap(),
            "{}"
        );
        assert!(
            read(r#"{"@type":"","value":""}"#)
                .unwrap_err()
                .contains("type URL")
        );
        assert!(
            read(r#"{"@type":"not_a_url","value":""}"#)
                .unwrap_err()
                .contains("type URL")
        );
        assert!(read(r#"{"@type":"x/","value":""}"#).is_err());
        assert!(
            read(r#"{"value":""}"#)
                .unwrap_err()
                .contains("needs an @type")
        );
        let lenient = JsonOptions {
            ignore_unknown_fields: true,
            ..JsonOptions::default()
        };
        assert_eq!(
            json::from_str::<Any>(r#"{"value":""}"#, &lenient).unwrap(),
            Any::default()
        );
    }

    #[test]
    fn an_empty_prints_without_value_and_reads_either_form() {
        let any = Any {
            type_url: "type.googleapis.com/google.protobuf.Empty".into(),
            value: Bytes::new(),
        };
        let text = json::to_string(&any, &JsonOptions::default()).unwrap();
        assert_eq!(
            text,
            r#"{"@type":"type.googleapis.com/google.protobuf.Empty"}"#
        );
        assert_eq!(read(&text), Ok(any.clone()));
        let go = r#"{"@type":"type.googleapis.com/google.protobuf.Empty","value":{}}"#;
        assert_eq!(read(go), Ok(any));
        let bad = r#"{"@type":"type.googleapis.com/google.protobuf.Empty","value":{"x":1}}"#;
        assert!(read(bad).is_err());
    }

    #[test]
    fn an_unknown_type_round_trips_as_base64() {
        let any = Any {
            type_url: "example.com/not.Linked".into(),
            value: Bytes::from_static(&[0xfb, 0xff]),
        };
        let text = json::to_string(&any, &JsonOptions::default()).unwrap();
        assert_eq!(text, r#"{"@type":"example.com/not.Linked","value":"+/8="}"#);
        assert_eq!(read(&text), Ok(any.clone()));
        assert_eq!(
            read(r#"{"@type":"example.com/not.Linked","value":"-_8"}"#),
            Ok(any)
        );
    }

    #[test]
    fn floats_inside_an_any_print_shortest_too() {
        let any = Any::pack(&types::DoubleValue { value: 1e300 });
        let text = json::to_string(&any, &JsonOptions::default()).unwrap();
        assert_eq!(
            text,
            r#"{"@type":"type.googleapis.com/google.protobuf.DoubleValue","value":1e+300}"#
        );
        let any = Any::pack(&types::Struct::from_iter([(
            "a".to_owned(),
            types::Value::from(1.0),
        )]));
        let text = json::to_string(&any, &JsonOptions::default()).unwrap();
        assert_eq!(
            text,
            r#"{"@type":"type.googleapis.com/google.protobuf.Struct","value":{"a":1}}"#
        );
    }
}
