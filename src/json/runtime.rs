//! The proto3 JSON runtime generated `Serialize`/`Deserialize` impls call,
//! named by generated code as `::dual_protocol::__private::json`. Not a
//! public API: [`crate::json`] is.
//!
//! Every field is described by a [`Kind`], a zero-sized marker naming its
//! JSON form ([`I64`], [`Bytes`], [`Enum`], [`Msg`], ...); the field helpers
//! ([`field`], [`repeated`], [`map`], ...) are generic over kinds, so their
//! code is compiled once per kind, not once per message.
//!
//! Options ([`JsonOptions`]) are read at run time from a thread-local set
//! by [`with_options`] (through the entry points of [`crate::json`]).

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, Serializer};

mod direct;
mod number;

pub use crate::json::JsonOptions;
pub use direct::{Card, Direct, Field, Opaque, Table, Ty};
pub(crate) use direct::{print as direct_print, read as direct_read};
pub use number::{parse_float, parse_int};

thread_local! {
    static OPTIONS: Cell<JsonOptions> = const {
        Cell::new(JsonOptions {
            emit_unpopulated: false,
            proto_names: false,
            enums_as_ints: false,
            ignore_unknown_fields: false,
        })
    };
}

/// The options in force on this thread.
#[inline]
pub fn options() -> JsonOptions {
    OPTIONS.with(Cell::get)
}

/// Runs `f` with `options` in force on this thread, restoring the previous
/// options afterwards (also when `f` panics).
pub fn with_options<R>(options: JsonOptions, f: impl FnOnce() -> R) -> R {
    struct Restore(JsonOptions);
    impl Drop for Restore {
        fn drop(&mut self) {
            OPTIONS.with(|o| o.set(self.0));
        }
    }
    let _restore = Restore(OPTIONS.with(|o| o.replace(options)));
    f()
}

// ---------------------------------------------------------------------------
// Limits: what one read may allocate, and how deep its messages nest

/// What one read may cost: the layer sets it per request (see
/// [`with_limits`]); outside a request nothing is counted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Bytes the decoded message may hold (an estimate from the sizes of
    /// its elements, entries, strings and boxed messages).
    pub(crate) max_decoded_bytes: usize,
    /// Nested message levels below the top one, counted as prost counts
    /// them when it decodes (a map entry is a level).
    pub(crate) max_depth: u32,
}

impl Limits {
    /// Nothing counted.
    pub(crate) const NONE: Self = Self {
        max_decoded_bytes: usize::MAX,
        max_depth: u32::MAX,
    };
}

#[derive(Clone, Copy)]
struct Budget {
    limits: Limits,
    bytes_left: usize,
    depth_left: u32,
    /// A read is under way (a read within it shares its budget).
    active: bool,
    /// The read ran into a limit (for the status it gets).
    exceeded: bool,
}

thread_local! {
    static BUDGET: Cell<Budget> = const {
        Cell::new(Budget {
            limits: Limits::NONE,
            bytes_left: usize::MAX,
            depth_left: u32::MAX,
            active: false,
            exceeded: false,
        })
    };
}

/// Runs `f` (one read) under `limits`, restoring what was in force after;
/// also says whether the read ran into one of them. Within another read, `f`
/// shares that read's budget and `limits` is not used.
pub(crate) fn with_limits<R>(limits: Limits, f: impl FnOnce() -> R) -> (R, bool) {
    if BUDGET.with(Cell::get).active {
        let out = f();
        return (out, BUDGET.with(Cell::get).exceeded);
    }
    struct Restore(Budget);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let fresh = Budget {
        limits,
        bytes_left: limits.max_decoded_bytes,
        depth_left: limits.max_depth,
        active: true,
        exceeded: false,
    };
    let restore = Restore(BUDGET.with(|b| b.replace(fresh)));
    let out = f();
    let exceeded = BUDGET.with(Cell::get).exceeded;
    drop(restore);
    (out, exceeded)
}

/// What a heap block of `len` bytes costs (the allocator's header, its
/// alignment and its smallest block, as glibc's malloc has them): a short
/// string costs 32 bytes, not its length.
#[inline]
pub(crate) fn heap(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        ((len + 8 + 15) & !15).max(32)
    }
}

/// Counts `bytes` of decoded message against the read's budget.
#[inline]
pub(crate) fn charge<E: de::Error>(bytes: usize) -> Result<(), E> {
    BUDGET.with(|b| {
        let mut budget = b.get();
        match budget.bytes_left.checked_sub(bytes) {
            Some(left) => {
                budget.bytes_left = left;
                b.set(budget);
                Ok(())
            }
            None => {
                budget.exceeded = true;
                b.set(budget);
                Err(E::custom(format_args!(
                    "the message is larger decoded than the limit of {} bytes (max_decoded_bytes)",
                    budget.limits.max_decoded_bytes
                )))
            }
        }
    })
}

/// Goes `levels` message levels deeper for the length of `f`.
#[inline]
pub(crate) fn nested<T, E: de::Error>(
    levels: u32,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let entered = BUDGET.with(|b| {
        let mut budget = b.get();
        match budget.depth_left.checked_sub(levels) {
            Some(left) => {
                budget.depth_left = left;
                b.set(budget);
                Ok(())
            }
            None => {
                budget.exceeded = true;
                b.set(budget);
                Err(E::custom(format_args!(
                    "messages nest deeper than the limit of {} levels (max_json_depth)",
                    budget.limits.max_depth
                )))
            }
        }
    });
    entered?;
    let out = f();
    BUDGET.with(|b| {
        let mut budget = b.get();
        budget.depth_left = budget.depth_left.saturating_add(levels);
        b.set(budget);
    });
    out
}

// ---------------------------------------------------------------------------
// Kinds

/// The JSON form of one protobuf field type.
pub trait Kind {
    /// The Rust type prost gives a singular field of this kind.
    type T;
    /// Whether `value` is the default (unpopulated) value.
    fn is_default(value: &Self::T) -> bool;
    /// Writes `value`.
    fn ser<S: Serializer>(value: &Self::T, serializer: S) -> Result<S::Ok, S::Error>;
    /// Reads a non-`null` value.
    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Self::T, D::Error>;
    /// Reads a non-`null` value, or `None` for a value to drop: an unknown
    /// enum name with `ignore_unknown_fields` leaves its field unset and
    /// drops its repeated element or map entry.
    fn de_or_skip<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Self::T>, D::Error> {
        Self::de(deserializer).map(Some)
    }
    /// What JSON `null` reads as: `None` (the field is unset) for every
    /// kind but `google.protobuf.Value` and `google.protobuf.NullValue`.
    fn null() -> Option<Self::T> {
        None
    }
}

/// A kind that can be a map key (a JSON object key, always a string).
pub trait MapKey: Kind<T: Eq + Hash + Ord> {
    /// The key as its JSON string.
    fn to_key(value: &Self::T) -> String;
    /// Writes the key as a JSON object key (as [`to_key`](Self::to_key)
    /// makes it, without making it first where the kind can).
    fn ser_key<S: Serializer>(value: &Self::T, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&Self::to_key(value))
    }
    /// Parses a JSON object key.
    fn from_key(key: &str) -> Result<Self::T, String>;
}

/// `Serialize` for a value of kind `K`.
struct Ser<'a, K: Kind>(&'a K::T);

impl<K: Kind> serde::Serialize for Ser<'_, K> {
    #[inline]
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        K::ser(self.0, serializer)
    }
}

/// `DeserializeSeed` for a possibly-`null` value of kind `K`.
struct Nullable<K>(PhantomData<K>);

impl<'de, K: Kind> DeserializeSeed<'de> for Nullable<K> {
    type Value = Option<K::T>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(NullableVisitor::<K>(PhantomData))
    }
}

struct NullableVisitor<K>(PhantomData<K>);

impl<'de, K: Kind> Visitor<'de> for NullableVisitor<K> {
    type Value = Option<K::T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(K::null())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(K::null())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        K::de_or_skip(deserializer)
    }
}

/// `DeserializeSeed` for a non-`null` value of kind `K` (elements of
/// repeated fields and map values; `null` is an error there unless the kind
/// reads it as a value): `None` for an element to drop (see
/// [`Kind::de_or_skip`]).
struct Element<K>(PhantomData<K>);

impl<'de, K: Kind> DeserializeSeed<'de> for Element<K> {
    type Value = Option<K::T>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, K: Kind> Visitor<'de> for Element<K> {
    type Value = Option<K::T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        match K::null() {
            Some(value) => Ok(Some(value)),
            None => Err(E::custom(
                "null is not allowed in a repeated field or map value",
            )),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        K::de_or_skip(deserializer)
    }
}

macro_rules! int_kind {
    ($(#[$doc:meta])* $kind:ident, $t:ty, $string:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $kind {}

        impl Kind for $kind {
            type T = $t;
            #[inline]
            fn is_default(value: &$t) -> bool {
                *value == 0
            }
            fn ser<S: Serializer>(value: &$t, serializer: S) -> Result<S::Ok, S::Error> {
                if $string {
                    serializer.serialize_str(itoa::Buffer::new().format(*value))
                } else {
                    serde::Serialize::serialize(value, serializer)
                }
            }
            fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<$t, D::Error> {
                let wide = deserializer.deserialize_any(IntVisitor {
                    min: <$t>::MIN as i128,
                    max: <$t>::MAX as i128,
                    name: stringify!($t),
                })?;
                <$t>::try_from(wide).map_err(|_| de::Error::custom("integer out of range"))
            }
        }

        impl MapKey for $kind {
            fn to_key(value: &$t) -> String {
                value.to_string()
            }
            fn from_key(key: &str) -> Result<$t, String> {
                parse_int(key)
                    .and_then(|v| <$t>::try_from(v).ok())
                    .ok_or_else(|| format!("invalid {} map key {key:?}", stringify!($t)))
            }
        }
    };
}

int_kind!(
    /// `int32`, `sint32`, `sfixed32`: a JSON number.
    I32, i32, false
);
int_kind!(
    /// `uint32`, `fixed32`: a JSON number.
    U32, u32, false
);
int_kind!(
    /// `int64`, `sint64`, `sfixed64`: a JSON string.
    I64, i64, true
);
int_kind!(
    /// `uint64`, `fixed64`: a JSON string.
    U64, u64, true
);

/// Reads an integer in `min..=max` from a number or a string, exponent
/// forms included, fractions rejected.
struct IntVisitor {
    min: i128,
    max: i128,
    name: &'static str,
}

impl IntVisitor {
    fn check<E: de::Error>(
        &self,
        value: Option<i128>,
        shown: &dyn fmt::Display,
    ) -> Result<i128, E> {
        match value {
            Some(v) if (self.min..=self.max).contains(&v) => Ok(v),
            Some(_) => Err(E::custom(format_args!(
                "{shown} is out of range for {}",
                self.name
            ))),
            None => Err(E::custom(format_args!("{shown} is not an integer"))),
        }
    }
}

impl Visitor<'_> for IntVisitor {
    type Value = i128;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an integer ({}) as a number or a string", self.name)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        self.check(Some(v.into()), &v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        self.check(Some(v.into()), &v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i128, E> {
        // Larger than any 64-bit integer: out of range, not "not an integer".
        let wide = if v.is_finite() && v.fract() == 0.0 {
            if v.abs() < 1e20 {
                Some(v as i128)
            } else {
                Some(i128::MAX)
            }
        } else {
            None
        };
        self.check(wide, &v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
        self.check(parse_int(v), &format_args!("{v:?}"))
    }
}

/// `bool`: `true` or `false`.
#[derive(Debug)]
pub enum Bool {}

impl Kind for Bool {
    type T = bool;
    #[inline]
    fn is_default(value: &bool) -> bool {
        !*value
    }
    fn ser<S: Serializer>(value: &bool, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(*value)
    }
    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        <bool as serde::Deserialize>::deserialize(deserializer)
    }
}

impl MapKey for Bool {
    fn to_key(value: &bool) -> String {
        if *value { "true" } else { "false" }.to_owned()
    }
    fn from_key(key: &str) -> Result<bool, String> {
        match key {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("invalid bool map key {key:?}")),
        }
    }
}

/// `string`.
#[derive(Debug)]
pub enum Str {}

impl Kind for Str {
    type T = String;
    #[inline]
    fn is_default(value: &String) -> bool {
        value.is_empty()
    }
    fn ser<S: Serializer>(value: &String, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value)
    }
    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        charge::<D::Error>(heap(text.len()))?;
        Ok(text)
    }
}

impl MapKey for Str {
    fn to_key(value: &String) -> String {
        value.clone()
    }
    fn ser_key<S: Serializer>(value: &String, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value)
    }
    fn from_key(key: &str) -> Result<String, String> {
        Ok(key.to_owned())
    }
}

macro_rules! float_kind {
    ($(#[$doc:meta])* $kind:ident, $t:ty, $ser:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $kind {}

        impl Kind for $kind {
            type T = $t;
            #[inline]
            fn is_default(value: &$t) -> bool {
                // -0.0 is not the default: its sign is information.
                value.to_bits() == 0
            }
            fn ser<S: Serializer>(value: &$t, serializer: S) -> Result<S::Ok, S::Error> {
                match special_float_name(f64::from(*value)) {
                    Some(name) => serializer.serialize_str(name),
                    None => serializer.$ser(*value),
                }
            }
            fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<$t, D::Error> {
                let wide = deserializer.deserialize_any(FloatVisitor(stringify!($t)))?;
                let narrow = wide as $t;
                if wide.is_finite() && !narrow.is_finite() {
                    return Err(de::Error::custom(format_args!(
                        "{wide} is out of range for {}",
                        stringify!($t)
                    )));
                }
                Ok(narrow)
            }
        }
    };
}

float_kind!(
    /// `float`: a JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    F32, f32, serialize_f32
);
float_kind!(
    /// `double`: a JSON number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    F64, f64, serialize_f64
);

fn special_float_name(value: f64) -> Option<&'static str> {
    if value.is_nan() {
        Some("NaN")
    } else if value == f64::INFINITY {
        Some("Infinity")
    } else if value == f64::NEG_INFINITY {
        Some("-Infinity")
    } else {
        None
    }
}

struct FloatVisitor(&'static str);

impl Visitor<'_> for FloatVisitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a {} as a number, a numeric string, \"NaN\", \"Infinity\" or \"-Infinity\"",
            self.0
        )
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => match parse_float(v) {
                Some(f) if f.is_finite() => Ok(f),
                Some(_) => Err(E::custom(format_args!(
                    "{v:?} is out of range for {}",
                    self.0
                ))),
                None => Err(E::custom(format_args!("{v:?} is not a number"))),
            },
        }
    }
}

/// `bytes`: standard base64 with padding out; standard or URL-safe, padded
/// or not, in.
#[derive(Debug)]
pub enum Bytes {}

impl Kind for Bytes {
    type T = Vec<u8>;
    #[inline]
    fn is_default(value: &Vec<u8>) -> bool {
        value.is_empty()
    }
    fn ser<S: Serializer>(value: &Vec<u8>, serializer: S) -> Result<S::Ok, S::Error> {
        crate::json::base64::with_encoded(value, |text| match text {
            Ok(text) => serializer.serialize_str(text),
            Err(display) => serializer.collect_str(display),
        })
    }
    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
                let bytes = crate::json::base64::decode(v.as_bytes())
                    .map_err(|e| E::custom(format_args!("invalid base64 {v:?}: {e}")))?;
                charge::<E>(heap(bytes.len()))?;
                Ok(bytes)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A protobuf enum type as generated code describes it to [`Enum`].
pub trait ProtoEnum {
    /// The name of the value numbered `number`, if known.
    fn name(number: i32) -> Option<&'static str>;
    /// The number of the value named `name`, if known.
    fn number(name: &str) -> Option<i32>;
}

/// A field of enum type `E` (an `i32` in prost): its name out (a number
/// when unknown, or with `enums_as_ints`); a name or a number in.
pub struct Enum<E>(PhantomData<E>);

impl<E> fmt::Debug for Enum<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Enum")
    }
}

impl<E: ProtoEnum> Kind for Enum<E> {
    type T = i32;
    #[inline]
    fn is_default(value: &i32) -> bool {
        *value == 0
    }
    fn ser<S: Serializer>(value: &i32, serializer: S) -> Result<S::Ok, S::Error> {
        enum_ser(*value, E::name, serializer)
    }
    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        enum_de(E::number, deserializer)
    }
    fn de_or_skip<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i32>, D::Error> {
        enum_read(E::number, deserializer)
    }
}

/// Writes enum value `number`: its name from `name`, or the number (when
/// unknown or with `enums_as_ints`).
pub fn enum_ser<S: Serializer>(
    number: i32,
    name: fn(i32) -> Option<&'static str>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if options().enums_as_ints {
        return serializer.serialize_i32(number);
    }
    match name(number) {
        Some(name) => serializer.serialize_str(name),
        None => serializer.serialize_i32(number),
    }
}

/// Reads an enum value: a name known to `number`, or any 32-bit number. An
/// unknown name is an error naming it, or the default value (0) with
/// `ignore_unknown_fields`.
pub fn enum_de<'de, D: Deserializer<'de>>(
    number: fn(&str) -> Option<i32>,
    deserializer: D,
) -> Result<i32, D::Error> {
    enum_read(number, deserializer).map(Option::unwrap_or_default)
}

/// As [`enum_de`], but `None` for an unknown name with
/// `ignore_unknown_fields`: the value is to be dropped.
fn enum_read<'de, D: Deserializer<'de>>(
    number: fn(&str) -> Option<i32>,
    deserializer: D,
) -> Result<Option<i32>, D::Error> {
    struct V(fn(&str) -> Option<i32>);
    impl Visitor<'_> for V {
        type Value = Option<i32>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an enum value name or number")
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i32>, E> {
            i32::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format_args!("enum number {v} out of range")))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i32>, E> {
            i32::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format_args!("enum number {v} out of range")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<i32>, E> {
            if v.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&v) {
                Ok(Some(v as i32))
            } else {
                Err(E::custom(format_args!("invalid enum number {v}")))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i32>, E> {
            match (self.0)(v) {
                Some(n) => Ok(Some(n)),
                None if options().ignore_unknown_fields => Ok(None),
                None => Err(E::custom(format_args!("unknown enum value {v:?}"))),
            }
        }
    }
    deserializer.deserialize_any(V(number))
}

/// Serializes an enum type itself (`impl Serialize for MyEnum`).
pub fn enum_type_ser<E: ProtoEnum, S: Serializer>(
    number: i32,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    enum_ser(number, E::name, serializer)
}

/// Deserializes an enum type itself (`impl Deserialize for MyEnum`): only
/// known values.
pub fn enum_type_de<'de, E, D>(deserializer: D) -> Result<E, D::Error>
where
    E: ProtoEnum + TryFrom<i32>,
    D: Deserializer<'de>,
{
    let number = enum_de(E::number, deserializer)?;
    E::try_from(number).map_err(|_| de::Error::custom(format_args!("unknown enum number {number}")))
}

/// `google.protobuf.NullValue`: `null` both ways.
#[derive(Debug)]
pub enum NullValue {}

impl Kind for NullValue {
    type T = i32;
    #[inline]
    fn is_default(_: &i32) -> bool {
        true
    }
    fn ser<S: Serializer>(_: &i32, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
        enum_de(|name| (name == "NULL_VALUE").then_some(0), deserializer)
    }
    fn null() -> Option<i32> {
        Some(0)
    }
}

/// A message field of type `M` (its own `Serialize`/`Deserialize`).
pub struct Msg<M>(PhantomData<M>);

impl<M> fmt::Debug for Msg<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Msg")
    }
}

impl<M> Kind for Msg<M>
where
    M: serde::Serialize + for<'de> serde::Deserialize<'de>,
{
    type T = M;
    #[inline]
    fn is_default(_: &M) -> bool {
        false
    }
    fn ser<S: Serializer>(value: &M, serializer: S) -> Result<S::Ok, S::Error> {
        value.serialize(serializer)
    }
    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<M, D::Error> {
        nested(1, || M::deserialize(deserializer))
    }
}

/// `google.protobuf.Value`: like [`Msg`], but `null` is a value (the null
/// `Value`), not "unset".
pub struct ValueMsg<M>(PhantomData<M>);

impl<M> fmt::Debug for ValueMsg<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ValueMsg")
    }
}

impl<M> Kind for ValueMsg<M>
where
    M: serde::Serialize + for<'de> serde::Deserialize<'de>,
{
    type T = M;
    #[inline]
    fn is_default(_: &M) -> bool {
        false
    }
    fn ser<S: Serializer>(value: &M, serializer: S) -> Result<S::Ok, S::Error> {
        value.serialize(serializer)
    }
    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<M, D::Error> {
        nested(1, || M::deserialize(deserializer))
    }
    fn null() -> Option<M> {
        M::deserialize(de::value::UnitDeserializer::<de::value::Error>::new()).ok()
    }
}

// ---------------------------------------------------------------------------
// Serializing fields

#[inline]
fn pick(options: &JsonOptions, json: &'static str, proto: &'static str) -> &'static str {
    if options.proto_names { proto } else { json }
}

/// A field without presence: written unless default (or with
/// `emit_unpopulated`).
#[inline]
pub fn field<K: Kind, S: SerializeStruct>(
    s: &mut S,
    options: &JsonOptions,
    json: &'static str,
    proto: &'static str,
    value: &K::T,
) -> Result<(), S::Error> {
    if options.emit_unpopulated || !K::is_default(value) {
        s.serialize_field(pick(options, json, proto), &Ser::<K>(value))?;
    }
    Ok(())
}

/// A field with presence (message, proto3 `optional`, oneof member): written
/// when set, whatever its value.
#[inline]
pub fn opt_field<K: Kind, S: SerializeStruct>(
    s: &mut S,
    options: &JsonOptions,
    json: &'static str,
    proto: &'static str,
    value: Option<&K::T>,
) -> Result<(), S::Error> {
    match value {
        Some(value) => s.serialize_field(pick(options, json, proto), &Ser::<K>(value)),
        None => Ok(()),
    }
}

/// A repeated field: written unless empty (or with `emit_unpopulated`).
#[inline]
pub fn repeated_field<K: Kind, S: SerializeStruct>(
    s: &mut S,
    options: &JsonOptions,
    json: &'static str,
    proto: &'static str,
    value: &[K::T],
) -> Result<(), S::Error> {
    if options.emit_unpopulated || !value.is_empty() {
        s.serialize_field(pick(options, json, proto), &SerSeq::<K>(value))?;
    }
    Ok(())
}

/// A map field: written unless empty (or with `emit_unpopulated`), keys in
/// order so the output is deterministic.
#[inline]
pub fn map_field<KK: MapKey, VK: Kind, S: SerializeStruct, H>(
    s: &mut S,
    options: &JsonOptions,
    json: &'static str,
    proto: &'static str,
    value: &HashMap<KK::T, VK::T, H>,
) -> Result<(), S::Error> {
    if options.emit_unpopulated || !value.is_empty() {
        s.serialize_field(pick(options, json, proto), &SerMap::<KK, VK, H>(value))?;
    }
    Ok(())
}

struct SerSeq<'a, K: Kind>(&'a [K::T]);

impl<K: Kind> serde::Serialize for SerSeq<'_, K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&Ser::<K>(item))?;
        }
        seq.end()
    }
}

struct SerMap<'a, KK: MapKey, VK: Kind, H>(&'a HashMap<KK::T, VK::T, H>);

impl<KK: MapKey, VK: Kind, H> serde::Serialize for SerMap<'_, KK, VK, H> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        // Sorted, so that the same map always prints the same (one entry
        // or none needs no sorting).
        if self.0.len() <= 1 {
            for (key, value) in self.0 {
                map.serialize_entry(&KeyOut::<KK>(key), &Ser::<VK>(value))?;
            }
            return map.end();
        }
        let mut entries: Vec<(&KK::T, &VK::T)> = self.0.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, value) in entries {
            map.serialize_entry(&KeyOut::<KK>(key), &Ser::<VK>(value))?;
        }
        map.end()
    }
}

/// `Serialize` for a map key of kind `KK`.
struct KeyOut<'a, KK: MapKey>(&'a KK::T);

impl<KK: MapKey> serde::Serialize for KeyOut<'_, KK> {
    #[inline]
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KK::ser_key(self.0, serializer)
    }
}

// ---------------------------------------------------------------------------
// Deserializing fields

/// What a JSON object key names: field `n` of the message, or nothing (an
/// unknown field to skip).
pub type FieldIndex = Option<usize>;

/// Reads an object key and looks it up with `lookup` (a `match` generated
/// per message) among `names`, pairs of (JSON name, proto name) in field
/// order: field `n` is `names[n]`. An unknown key is an error naming it, or
/// `None` with `ignore_unknown_fields`.
#[derive(Debug, Clone, Copy)]
pub struct FieldKey(
    pub &'static [(&'static str, &'static str)],
    pub fn(&str) -> Option<usize>,
);

impl<'de> DeserializeSeed<'de> for FieldKey {
    type Value = FieldIndex;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<FieldIndex, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldKey {
    type Value = FieldIndex;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldIndex, E> {
        if let Some(i) = self
            .0
            .iter()
            .position(|(json, proto)| *json == v || *proto == v)
        {
            return Ok(Some(i));
        }
        if options().ignore_unknown_fields {
            Ok(None)
        } else {
            Err(E::custom(format_args!("unknown field `{v}`")))
        }
    }
}

/// Which fields (and oneofs) an object has named so far, to reject
/// duplicates. The first 128 live inline: no allocation for most messages.
#[derive(Debug, Default)]
pub struct Seen {
    low: u128,
    rest: Vec<u64>,
}

impl Seen {
    /// Marks field (or oneof) `index`; an error naming it when marked
    /// already.
    pub fn mark<E: de::Error>(&mut self, index: usize, what: &str, name: &str) -> Result<(), E> {
        let fresh = if index < 128 {
            let bit = 1u128 << index;
            let fresh = self.low & bit == 0;
            self.low |= bit;
            fresh
        } else {
            let (word, bit) = ((index - 128) / 64, 1u64 << (index % 64));
            if self.rest.len() <= word {
                self.rest.resize(word + 1, 0);
            }
            let fresh = self.rest[word] & bit == 0;
            self.rest[word] |= bit;
            fresh
        };
        if fresh {
            Ok(())
        } else {
            Err(E::custom(format_args!("{what} `{name}`")))
        }
    }

    /// Marks field `index` of `names`: a duplicate is an error.
    pub fn field<E: de::Error>(
        &mut self,
        names: &[(&'static str, &'static str)],
        index: usize,
    ) -> Result<(), E> {
        let name = names.get(index).map_or("", |n| n.0);
        self.mark(index, "duplicate field", name)
    }

    /// Marks oneof `name` (numbered `index` after the fields) as set: a
    /// second member is an error naming the oneof.
    pub fn oneof<E: de::Error>(&mut self, index: usize, name: &str) -> Result<(), E> {
        self.mark(index, "more than one field set for oneof", name)
    }
}

/// Messages generated code deserializes straight into a `Box`: only a
/// pointer travels back up through serde's frames, which keeps deeply
/// nested input cheap in stack.
pub trait DeserializeBoxed: Sized {
    /// Deserializes a boxed `Self`.
    fn deserialize_boxed<'de, D: Deserializer<'de>>(deserializer: D)
    -> Result<Box<Self>, D::Error>;
}

/// A boxed message field of type `M` (prost boxes recursive fields).
pub struct BoxedMsg<M>(PhantomData<M>);

impl<M> fmt::Debug for BoxedMsg<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxedMsg")
    }
}

impl<M: serde::Serialize + DeserializeBoxed> Kind for BoxedMsg<M> {
    type T = Box<M>;
    #[inline]
    fn is_default(_: &Box<M>) -> bool {
        false
    }
    fn ser<S: Serializer>(value: &Box<M>, serializer: S) -> Result<S::Ok, S::Error> {
        (**value).serialize(serializer)
    }
    fn de<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Box<M>, D::Error> {
        charge::<D::Error>(size_of::<M>())?;
        nested(1, || M::deserialize_boxed(deserializer))
    }
}

/// Reads a field without presence into `slot`: `null` is the default.
/// (Writing through `slot` keeps the visitor's stack frame small.)
#[inline(never)]
pub fn set<'de, K: Kind, A: MapAccess<'de>>(map: &mut A, slot: &mut K::T) -> Result<(), A::Error>
where
    K::T: Default,
{
    *slot = value::<K, A>(map)?;
    Ok(())
}

/// Reads a field with presence into `slot`.
#[inline(never)]
pub fn set_opt<'de, K: Kind, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<K::T>,
) -> Result<(), A::Error> {
    *slot = opt_value::<K, A>(map)?;
    Ok(())
}

/// Reads a repeated field into `slot`.
#[inline(never)]
pub fn set_repeated<'de, K: Kind, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Vec<K::T>,
) -> Result<(), A::Error> {
    *slot = repeated::<K, A>(map)?;
    Ok(())
}

/// Reads a map field into `slot`.
#[inline(never)]
pub fn set_map<'de, KK: MapKey, VK: Kind, A: MapAccess<'de>, H>(
    access: &mut A,
    slot: &mut HashMap<KK::T, VK::T, H>,
) -> Result<(), A::Error>
where
    H: std::hash::BuildHasher + Default,
{
    *slot = map::<KK, VK, A, H>(access)?;
    Ok(())
}

/// Reads oneof member `variant` into `slot`; `null` leaves it unset, a
/// second member is an error naming the oneof (numbered `index` in `seen`).
#[inline(never)]
pub fn set_oneof<'de, K: Kind, A: MapAccess<'de>, O>(
    map: &mut A,
    seen: &mut Seen,
    index: usize,
    name: &str,
    slot: &mut Option<O>,
    variant: fn(K::T) -> O,
) -> Result<(), A::Error> {
    if let Some(value) = opt_value::<K, A>(map)? {
        seen.oneof(index, name)?;
        *slot = Some(variant(value));
    }
    Ok(())
}

/// The value of a field without presence: `null` is the default.
#[inline]
pub fn value<'de, K: Kind, A: MapAccess<'de>>(map: &mut A) -> Result<K::T, A::Error>
where
    K::T: Default,
{
    Ok(map
        .next_value_seed(Nullable::<K>(PhantomData))?
        .unwrap_or_default())
}

/// The value of a field with presence: `null` is unset (but the null
/// `Value` for `google.protobuf.Value`).
#[inline]
pub fn opt_value<'de, K: Kind, A: MapAccess<'de>>(map: &mut A) -> Result<Option<K::T>, A::Error> {
    map.next_value_seed(Nullable::<K>(PhantomData))
}

/// The value of a repeated field: an array, or `null` for empty.
#[inline]
pub fn repeated<'de, K: Kind, A: MapAccess<'de>>(map: &mut A) -> Result<Vec<K::T>, A::Error> {
    map.next_value_seed(SeqSeed::<K>(PhantomData))
}

/// The value of a map field: an object, or `null` for empty.
#[inline]
pub fn map<'de, KK: MapKey, VK: Kind, A: MapAccess<'de>, H>(
    map: &mut A,
) -> Result<HashMap<KK::T, VK::T, H>, A::Error>
where
    H: std::hash::BuildHasher + Default,
{
    map.next_value_seed(MapSeed::<KK, VK, H>(PhantomData))
}

/// Consumes the value of an unknown field, whatever it is.
#[inline]
pub fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<de::IgnoredAny>().map(|_| ())
}

struct SeqSeed<K>(PhantomData<K>);

impl<'de, K: Kind> DeserializeSeed<'de> for SeqSeed<K> {
    type Value = Vec<K::T>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<K::T>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, K: Kind> Visitor<'de> for SeqSeed<K> {
    type Value = Vec<K::T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Vec<K::T>, E> {
        Ok(Vec::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Vec<K::T>, E> {
        Ok(Vec::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<K::T>, D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<K::T>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element_seed(Element::<K>(PhantomData))? {
            // The vector's growth is paid before it is allocated (at least
            // a byte an element, so that the count is bounded too).
            if out.len() == out.capacity() {
                let grow = out.capacity().max(4);
                charge::<A::Error>(grow * size_of::<K::T>().max(1))?;
                out.reserve_exact(grow);
            }
            out.extend(item);
        }
        Ok(out)
    }
}

struct MapSeed<KK, VK, H>(PhantomData<(KK, VK, H)>);

impl<'de, KK: MapKey, VK: Kind, H> DeserializeSeed<'de> for MapSeed<KK, VK, H>
where
    H: std::hash::BuildHasher + Default,
{
    type Value = HashMap<KK::T, VK::T, H>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, KK: MapKey, VK: Kind, H> Visitor<'de> for MapSeed<KK, VK, H>
where
    H: std::hash::BuildHasher + Default,
{
    type Value = HashMap<KK::T, VK::T, H>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(HashMap::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(HashMap::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut out = HashMap::<KK::T, VK::T, H>::default();
        while let Some(key) = access.next_key_seed(KeySeed::<KK>(PhantomData))? {
            // The table's growth, paid before it is allocated: it doubles,
            // each slot holds a key, a value and a control byte, and 7 of 8
            // slots are used.
            if out.len() == out.capacity() {
                let slots = (out.capacity().max(3) + 1) * 2 * 8 / 7;
                charge::<A::Error>(slots * (size_of::<KK::T>() + size_of::<VK::T>() + 1))?;
                out.reserve(1);
            }
            // prost decodes an entry as a message of its own.
            let Some(value) = nested(1, || access.next_value_seed(Element::<VK>(PhantomData)))?
            else {
                continue;
            };
            if out.insert(key, value).is_some() {
                return Err(de::Error::custom("duplicate map key"));
            }
        }
        Ok(out)
    }
}

struct KeySeed<KK>(PhantomData<KK>);

impl<'de, KK: MapKey> DeserializeSeed<'de> for KeySeed<KK> {
    type Value = KK::T;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<KK::T, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<KK: MapKey> Visitor<'_> for KeySeed<KK> {
    type Value = KK::T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<KK::T, E> {
        charge::<E>(heap(v.len()))?;
        KK::from_key(v).map_err(E::custom)
    }
}

/// `expecting` text for a message's visitor.
pub fn expecting(f: &mut fmt::Formatter<'_>, full_name: &str) -> fmt::Result {
    write!(f, "a JSON object for {full_name}")
}

// Well-known enums other than NullValue, for fields that use them.
macro_rules! wkt_enum {
    ($($t:ty),*) => {$(
        impl ProtoEnum for $t {
            fn name(number: i32) -> Option<&'static str> {
                <$t>::try_from(number).ok().map(|e| e.as_str_name())
            }
            fn number(name: &str) -> Option<i32> {
                <$t>::from_str_name(name).map(|e| e as i32)
            }
        }
    )*};
}

wkt_enum!(
    ::dual_protocol::types::Syntax,
    ::dual_protocol::types::field::Kind,
    ::dual_protocol::types::field::Cardinality
);

#[cfg(test)]
mod tests;
