//! The well-known types (`google.protobuf.*`) generated code uses:
//! `pbjson-types`, with `Timestamp`, `Duration`, `FieldMask`, `Any`,
//! `Struct`, `Value`, `ListValue`, `DoubleValue` and `FloatValue` replaced by
//! types whose JSON is the proto3 mapping's (pbjson-types 0.9 writes
//! Timestamps with `+00:00` instead of `Z`, has no special form for
//! FieldMask or Any, reads a `null` inside a `Struct` as a `Value` with no
//! kind, and prints a NaN wrapper as `null`).
//!
//! ```
//! use dual_protocol::json::{self, JsonOptions};
//! use dual_protocol::types::{Duration, FieldMask, Timestamp, Value};
//!
//! # fn main() -> Result<(), dual_protocol::json::Error> {
//! let o = JsonOptions::default();
//! let when = Timestamp { seconds: 1, nanos: 20_000_000 };
//! assert_eq!(json::to_string(&when, &o)?, r#""1970-01-01T00:00:01.020Z""#);
//! let wait: Duration = json::from_str(r#""-1.5s""#, &o)?;
//! assert_eq!((wait.seconds, wait.nanos), (-1, -500_000_000));
//! let mask: FieldMask = json::from_str(r#""title,publishTime""#, &o)?;
//! assert_eq!(mask.paths, ["title", "publish_time"]);
//! let value: Value = json::from_str(r#"{"a":[1,null,"x"]}"#, &o)?;
//! assert_eq!(json::to_string(&value, &o)?, r#"{"a":[1,null,"x"]}"#);
//! # Ok(()) }
//! ```

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

use chrono::Datelike as _;

pub use crate::any::Any;
pub use pbjson_types::*;

use crate::__private::json::{F32, F64, Kind as _, charge, heap, nested};

/// Seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range
/// proto3 JSON allows.
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

/// `google.protobuf.Timestamp`: JSON `"1972-01-01T10:00:20.021Z"` (RFC 3339,
/// `Z`, 0, 3, 6 or 9 fraction digits out; any offset in).
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Non-negative fractions of a second, `0..=999_999_999`.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl prost::Name for Timestamp {
    const NAME: &'static str = "Timestamp";
    const PACKAGE: &'static str = "google.protobuf";
}

impl Timestamp {
    /// The RFC 3339 form (`Z`, 0, 3, 6 or 9 fraction digits, as protobuf's
    /// other printers), or why there is none (out of range). Written into a
    /// buffer on the stack: chrono does the calendar, not the layout (its
    /// formatter and `String` were ~60% of printing a `Timestamp`; the test
    /// compares the two).
    pub(crate) fn to_rfc3339(self) -> Result<Text, String> {
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&self.seconds)
            || !(0..1_000_000_000).contains(&self.nanos)
        {
            return Err(format!(
                "timestamp {}s {}ns is outside 0001-01-01..9999-12-31",
                self.seconds, self.nanos
            ));
        }
        // Days since 0001-01-01 (day 1 in chrono's count) and the time of day.
        let days = self.seconds.div_euclid(86_400) + 719_163;
        let time = self.seconds.rem_euclid(86_400) as u64;
        let date = i32::try_from(days)
            .ok()
            .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| "timestamp out of range".to_owned())?;
        let mut text = Text::default();
        text.digits(date.year() as u64, 4);
        text.push(b'-');
        text.digits(date.month().into(), 2);
        text.push(b'-');
        text.digits(date.day().into(), 2);
        text.push(b'T');
        text.digits(time / 3600, 2);
        text.push(b':');
        text.digits(time / 60 % 60, 2);
        text.push(b':');
        text.digits(time % 60, 2);
        text.fraction(self.nanos.unsigned_abs());
        text.push(b'Z');
        Ok(text)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`: RFC 3339
    /// with an upper-case `T` and `Z` and 1 to 9 fraction digits, as the
    /// proto3 JSON spec asks (chrono's RFC 3339 parser also takes `t`, `z`
    /// and a space).
    fn from_rfc3339(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| format!("invalid timestamp {text:?}: {why}");
        let b = text.as_bytes();
        let number = |at: usize, len: usize| -> std::option::Option<u32> {
            let digits = b.get(at..at + len)?;
            digits
                .iter()
                .all(u8::is_ascii_digit)
                .then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
        };
        let shape = b.len() >= 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':';
        let fields = (
            number(0, 4),
            number(5, 2),
            number(8, 2),
            number(11, 2),
            number(14, 2),
            number(17, 2),
        );
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields
        else {
            return Err(invalid("expected YYYY-MM-DDTHH:MM:SS"));
        };
        if !shape {
            return Err(invalid("expected YYYY-MM-DDTHH:MM:SS"));
        }
        let mut at = 19;
        let mut nanos = 0u32;
        if b.get(at) == Some(&b'.') {
            let digits = b[at + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            if !(1..=9).contains(&digits) {
                return Err(invalid("expected 1 to 9 fraction digits"));
            }
            nanos = number(at + 1, digits).unwrap_or(0) * 10u32.pow(9 - digits as u32);
            at += 1 + digits;
        }
        let offset = match &b[at..] {
            b"Z" => 0,
            [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
                let (Some(hours), Some(minutes)) = (number(at + 1, 2), number(at + 4, 2)) else {
                    return Err(invalid("expected an offset +HH:MM"));
                };
                if hours > 23 || minutes > 59 {
                    return Err(invalid("offset out of range"));
                }
                let offset = i64::from(hours * 3600 + minutes * 60);
                if *sign == b'-' { -offset } else { offset }
            }
            _ => return Err(invalid("expected Z or an offset +HH:MM after the time")),
        };
        let date = chrono::NaiveDate::from_ymd_opt(year as i32, month, day)
            .ok_or_else(|| invalid("no such date"))?;
        if hour > 23 || minute > 59 || second > 59 {
            return Err(invalid("no such time"));
        }
        let days = i64::from(date.num_days_from_ce()) - 719_163; // 1970-01-01
        let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset;
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
            return Err(format!(
                "timestamp {text:?} is outside 0001-01-01..9999-12-31"
            ));
        }
        Ok(Self {
            seconds,
            nanos: nanos as i32,
        })
    }
}

impl From<std::time::SystemTime> for Timestamp {
    fn from(time: std::time::SystemTime) -> Self {
        let (seconds, nanos) = match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => (after.as_secs() as i64, after.subsec_nanos() as i32),
            Err(before) => {
                let before = before.duration();
                let (s, n) = (before.as_secs() as i64, before.subsec_nanos() as i32);
                if n == 0 {
                    (-s, 0)
                } else {
                    (-s - 1, 1_000_000_000 - n)
                }
            }
        };
        Self { seconds, nanos }
    }
}

impl From<pbjson_types::Timestamp> for Timestamp {
    fn from(t: pbjson_types::Timestamp) -> Self {
        Self {
            seconds: t.seconds,
            nanos: t.nanos,
        }
    }
}

impl From<Timestamp> for pbjson_types::Timestamp {
    fn from(t: Timestamp) -> Self {
        Self {
            seconds: t.seconds,
            nanos: t.nanos,
        }
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.to_rfc3339().map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::from_rfc3339(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// `google.protobuf.FieldMask`: JSON `"title,publishTime"`, comma-joined
/// paths in lowerCamelCase both ways (`_` is rejected in, and a path whose
/// camelCase form would not read back as itself fails to print).
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct FieldMask {
    /// Field paths in proto (snake_case) names, e.g. `publish_time`.
    #[prost(string, repeated, tag = "1")]
    pub paths: Vec<String>,
}

impl prost::Name for FieldMask {
    const NAME: &'static str = "FieldMask";
    const PACKAGE: &'static str = "google.protobuf";
}

/// `publish_time` -> `publishTime`: `_` dropped, the lower-case letter
/// after it upper-cased.
fn to_camel(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut after_underscore = false;
    for c in path.chars() {
        if c == '_' {
            after_underscore = true;
            continue;
        }
        if after_underscore && c.is_ascii_lowercase() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
        after_underscore = false;
    }
    out
}

/// `publishTime` -> `publish_time`.
fn to_snake(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `path` is dot-separated identifiers.
fn is_path(path: &str) -> bool {
    path.split('.').all(|part| {
        part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

impl serde::Serialize for FieldMask {
    /// Fails for a path that would not read back as itself (`fooBar`,
    /// `foo__bar`, `foo_3_bar`): its JSON would name another field.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = String::new();
        for (i, path) in self.paths.iter().enumerate() {
            let camel = to_camel(path);
            if !is_path(path) || to_snake(&camel) != *path {
                return Err(serde::ser::Error::custom(format_args!(
                    "field mask path {path:?} has no lowerCamelCase JSON form that reads back as itself"
                )));
            }
            if i > 0 {
                out.push(',');
            }
            out.push_str(&camel);
        }
        serializer.serialize_str(&out)
    }
}

impl<'de> serde::Deserialize<'de> for FieldMask {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FieldMask;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a comma-separated list of lowerCamelCase field paths")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<FieldMask, E> {
                if text.is_empty() {
                    return Ok(FieldMask::default());
                }
                let paths = text
                    .split(',')
                    .map(|path| {
                        // `_` has no place in the JSON (lowerCamelCase) form.
                        if path.contains('_') || !is_path(path) {
                            return Err(E::custom(format_args!(
                                "invalid field mask path {path:?} (expected lowerCamelCase names joined by `.`)"
                            )));
                        }
                        Ok(to_snake(path))
                    })
                    .collect::<Result<_, E>>()?;
                Ok(FieldMask { paths })
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// The range of `google.protobuf.Duration`: about +-10,000 years.
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

/// `google.protobuf.Duration`: JSON `"1.000340012s"`, `"-0.500s"`; within
/// +-315,576,000,000 s, checked both ways.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct Duration {
    /// Whole seconds.
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    /// Fractions of a second, with the sign of `seconds`.
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

impl prost::Name for Duration {
    const NAME: &'static str = "Duration";
    const PACKAGE: &'static str = "google.protobuf";
}

impl Duration {
    /// Checks the range (+-315,576,000,000 s, nanos within a second) and
    /// that `seconds` and `nanos` do not have opposite signs.
    fn check(self) -> Result<Self, String> {
        let range = -MAX_DURATION_SECONDS..=MAX_DURATION_SECONDS;
        if !range.contains(&self.seconds) || !(-999_999_999..=999_999_999).contains(&self.nanos) {
            return Err(format!(
                "duration {}s {}ns is outside +-{MAX_DURATION_SECONDS}s",
                self.seconds, self.nanos
            ));
        }
        if (self.seconds > 0 && self.nanos < 0) || (self.seconds < 0 && self.nanos > 0) {
            return Err(format!(
                "duration {}s {}ns has seconds and nanos of opposite signs",
                self.seconds, self.nanos
            ));
        }
        Ok(self)
    }

    /// `-?digits(.digits)?s`, with 1 to 9 fraction digits; no `+`.
    fn parse(text: &str) -> Result<Self, String> {
        let invalid = || format!("invalid duration {text:?} (expected e.g. \"1.5s\" or \"-3s\")");
        let body = text.strip_suffix('s').ok_or_else(invalid)?;
        let (negative, body) = match body.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, body),
        };
        let (whole, fraction) = match body.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (body, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.is_some_and(|f| !digits(f) || f.len() > 9) {
            return Err(invalid());
        }
        // More digits than any duration has: out of range, not malformed.
        let out_of_range = || format!("duration {text:?} is outside +-{MAX_DURATION_SECONDS}s");
        let seconds: i64 = whole.parse().map_err(|_| out_of_range())?;
        let nanos = fraction.map_or(0, |f| {
            f.bytes().fold(0i32, |n, d| n * 10 + i32::from(d - b'0'))
                * 10i32.pow(9 - f.len() as u32)
        });
        let duration = if negative {
            Self {
                seconds: -seconds,
                nanos: -nanos,
            }
        } else {
            Self { seconds, nanos }
        };
        duration.check().map_err(|_| out_of_range())
    }

    /// `1.5s`, `-0.500s`, `3s`: 0, 3, 6 or 9 fraction digits.
    pub(crate) fn to_json(self) -> Result<Text, String> {
        let Self { seconds, nanos } = self.check()?;
        let mut text = Text::default();
        if seconds < 0 || nanos < 0 {
            text.push(b'-');
        }
        let seconds = seconds.unsigned_abs();
        text.digits(
            seconds,
            seconds.checked_ilog10().map_or(1, |n| n as usize + 1),
        );
        text.fraction(nanos.unsigned_abs());
        text.push(b's');
        Ok(text)
    }
}

/// The JSON text of a `Timestamp` or `Duration`, on the stack (the longest,
/// `-315576000000.000000001s`, is 24 bytes; a timestamp 30).
#[derive(Default)]
pub(crate) struct Text {
    bytes: [u8; 32],
    len: usize,
}

impl Text {
    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value`'s last `width` decimal digits, zero-padded.
    fn digits(&mut self, mut value: u64, width: usize) {
        for at in (self.len..self.len + width).rev() {
            self.bytes[at] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len += width;
    }

    /// `.` and 3, 6 or 9 digits of `nanos`; nothing for 0.
    fn fraction(&mut self, nanos: u32) {
        if nanos == 0 {
            return;
        }
        self.push(b'.');
        let nanos = u64::from(nanos);
        if nanos % 1_000_000 == 0 {
            self.digits(nanos / 1_000_000, 3);
        } else if nanos % 1_000 == 0 {
            self.digits(nanos / 1_000, 6);
        } else {
            self.digits(nanos, 9);
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and punctuation are ever pushed.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl From<pbjson_types::Duration> for Duration {
    fn from(d: pbjson_types::Duration) -> Self {
        Self {
            seconds: d.seconds,
            nanos: d.nanos,
        }
    }
}

impl From<Duration> for pbjson_types::Duration {
    fn from(d: Duration) -> Self {
        Self {
            seconds: d.seconds,
            nanos: d.nanos,
        }
    }
}

impl TryFrom<Duration> for std::time::Duration {
    type Error = String;
    fn try_from(d: Duration) -> Result<Self, String> {
        pbjson_types::Duration::from(d)
            .try_into()
            .map_err(|e| format!("{e:?}"))
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.to_json().map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(text.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"1.5s\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
                Duration::parse(text).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// `google.protobuf.DoubleValue`: a bare JSON number, or `"NaN"`,
/// `"Infinity"`, `"-Infinity"` (pbjson-types prints NaN as `null`).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct DoubleValue {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
}

/// `google.protobuf.FloatValue`: as [`DoubleValue`], for `float`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct FloatValue {
    /// The value.
    #[prost(float, tag = "1")]
    pub value: f32,
}

macro_rules! float_wrapper {
    ($wrapper:ident, $float:ty, $kind:ident, $name:literal) => {
        impl prost::Name for $wrapper {
            const NAME: &'static str = $name;
            const PACKAGE: &'static str = "google.protobuf";
        }

        impl From<$float> for $wrapper {
            fn from(value: $float) -> Self {
                Self { value }
            }
        }

        impl From<$wrapper> for $float {
            fn from(wrapper: $wrapper) -> Self {
                wrapper.value
            }
        }

        impl serde::Serialize for $wrapper {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $kind::ser(&self.value, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $wrapper {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $kind::de(deserializer).map(|value| Self { value })
            }
        }
    };
}

float_wrapper!(DoubleValue, f64, F64, "DoubleValue");
float_wrapper!(FloatValue, f32, F32, "FloatValue");

/// `google.protobuf.Struct`: a JSON object. (pbjson-types' reads a `null`
/// inside it as a `Value` with no kind, which encodes as nothing; here it
/// is `null_value`, as the spec says.)
#[derive(Clone, PartialEq, prost::Message)]
pub struct Struct {
    /// The object's members.
    #[prost(map = "string, message", tag = "1")]
    pub fields: std::collections::HashMap<String, Value>,
}

/// `google.protobuf.Value`: any JSON value (`null` is
/// [`value::Kind::NullValue`]).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// What the value is; `None` prints as `null`.
    #[prost(oneof = "value::Kind", tags = "1, 2, 3, 4, 5, 6")]
    pub kind: std::option::Option<value::Kind>,
}

/// The kinds of a [`Value`].
pub mod value {
    /// What a [`Value`](super::Value) holds.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Kind {
        /// `null` (always [`NullValue::NullValue`](super::NullValue), 0).
        #[prost(enumeration = "super::NullValue", tag = "1")]
        NullValue(i32),
        /// A number (finite: NaN and the infinities have no JSON form here).
        #[prost(double, tag = "2")]
        NumberValue(f64),
        /// A string.
        #[prost(string, tag = "3")]
        StringValue(String),
        /// `true` or `false`.
        #[prost(bool, tag = "4")]
        BoolValue(bool),
        /// An object.
        #[prost(message, tag = "5")]
        StructValue(super::Struct),
        /// An array.
        #[prost(message, tag = "6")]
        ListValue(super::ListValue),
    }
}

/// `google.protobuf.ListValue`: a JSON array.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListValue {
    /// The elements.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<Value>,
}

impl prost::Name for Struct {
    const NAME: &'static str = "Struct";
    const PACKAGE: &'static str = "google.protobuf";
}

impl prost::Name for Value {
    const NAME: &'static str = "Value";
    const PACKAGE: &'static str = "google.protobuf";
}

impl prost::Name for ListValue {
    const NAME: &'static str = "ListValue";
    const PACKAGE: &'static str = "google.protobuf";
}

impl From<value::Kind> for Value {
    fn from(kind: value::Kind) -> Self {
        Self { kind: Some(kind) }
    }
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $kind:expr),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from($v: $t) -> Self {
                Self::from($kind)
            }
        }
    )*};
}

value_from!(
    () => |_v| value::Kind::NullValue(0),
    f64 => |v| value::Kind::NumberValue(v),
    bool => |v| value::Kind::BoolValue(v),
    String => |v| value::Kind::StringValue(v),
    &str => |v| value::Kind::StringValue(v.to_owned()),
    Struct => |v| value::Kind::StructValue(v),
    ListValue => |v| value::Kind::ListValue(v),
    Vec<Value> => |v| value::Kind::ListValue(ListValue { values: v }),
);

impl FromIterator<(String, Value)> for Struct {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Self {
            fields: iter.into_iter().collect(),
        }
    }
}

impl FromIterator<Value> for ListValue {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        Self {
            values: iter.into_iter().collect(),
        }
    }
}

impl serde::Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use value::Kind;
        match &self.kind {
            None | Some(Kind::NullValue(_)) => serializer.serialize_unit(),
            Some(Kind::NumberValue(n)) if n.is_finite() => serializer.serialize_f64(*n),
            Some(Kind::NumberValue(n)) => Err(serde::ser::Error::custom(format_args!(
                "google.protobuf.Value cannot hold {n} (JSON numbers are finite)"
            ))),
            Some(Kind::StringValue(s)) => serializer.serialize_str(s),
            Some(Kind::BoolValue(b)) => serializer.serialize_bool(*b),
            Some(Kind::StructValue(s)) => s.serialize(serializer),
            Some(Kind::ListValue(l)) => l.serialize(serializer),
        }
    }
}

impl serde::Serialize for Struct {
    /// Members in key order, so that the output is deterministic.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut members: Vec<_> = self.fields.iter().collect();
        members.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut map = serializer.serialize_map(Some(members.len()))?;
        for (key, value) in members {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl serde::Serialize for ListValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(&self.values)
    }
}

/// Reads any JSON value as a [`Value`]; also the object and array visitor
/// of [`Struct`] and [`ListValue`].
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::from(()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::from(()))
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v as f64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        charge::<E>(heap(v.len()))?;
        Ok(Value::from(v))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        charge::<E>(heap(v.len()))?;
        Ok(Value::from(v))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // As prost counts levels: the ListValue, then each Value in it.
        nested(2, || {
            let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            loop {
                charge::<A::Error>(size_of::<Value>())?;
                match seq.next_element()? {
                    Some(value) => values.push(value),
                    None => break,
                }
            }
            Ok(Value::from(values))
        })
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // The Struct, each entry, each Value in one.
        nested(3, || {
            let mut fields = std::collections::HashMap::new();
            while let Some(key) = map.next_key::<String>()? {
                charge::<A::Error>(heap(key.len()) + size_of::<(String, Value)>() + 16)?;
                if fields.contains_key(&key) {
                    return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
                }
                let value = map.next_value::<Value>()?;
                fields.insert(key, value);
            }
            Ok(Value::from(Struct { fields }))
        })
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

impl<'de> serde::Deserialize<'de> for Struct {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_map(ValueVisitor)?.kind {
            Some(value::Kind::StructValue(s)) => Ok(s),
            _ => Err(de::Error::custom("expected a JSON object")),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ListValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_seq(ValueVisitor)?.kind {
            Some(value::Kind::ListValue(l)) => Ok(l),
            _ => Err(de::Error::custom("expected a JSON array")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json<T: serde::Serialize>(value: &T) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn timestamps_print_with_z_and_0_3_6_9_digits() {
        let t = |seconds, nanos| Timestamp { seconds, nanos };
        assert_eq!(json(&t(0, 0)), r#""1970-01-01T00:00:00Z""#);
        assert_eq!(json(&t(0, 10_000_000)), r#""1970-01-01T00:00:00.010Z""#);
        assert_eq!(json(&t(0, 10_000)), r#""1970-01-01T00:00:00.000010Z""#);
        assert_eq!(json(&t(0, 1)), r#""1970-01-01T00:00:00.000000001Z""#);
        assert_eq!(json(&t(MIN_SECONDS, 0)), r#""0001-01-01T00:00:00Z""#);
        assert_eq!(
            json(&t(MAX_SECONDS, 999_999_999)),
            r#""9999-12-31T23:59:59.999999999Z""#
        );
        assert!(serde_json::to_string(&t(MAX_SECONDS + 1, 0)).is_err());
        assert!(serde_json::to_string(&t(0, -1)).is_err());
    }

    #[test]
    fn timestamps_parse_offsets_and_reject_bad_dates() {
        let parsed: Timestamp = serde_json::from_str(r#""1970-01-01T01:00:00+01:00""#).unwrap();
        assert_eq!(
            parsed,
            Timestamp {
                seconds: 0,
                nanos: 0
            }
        );
        let parsed: Timestamp = serde_json::from_str(r#""1972-01-01T10:00:20.021Z""#).unwrap();
        assert_eq!(parsed.nanos, 21_000_000);
        let err = serde_json::from_str::<Timestamp>(r#""2021-13-01T00:00:00Z""#).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid timestamp \"2021-13-01T00:00:00Z\""),
            "{err}"
        );
        assert!(serde_json::from_str::<Timestamp>("12").is_err());
    }

    #[test]
    fn float_wrappers_print_nan_and_infinity_as_strings() {
        assert_eq!(json(&DoubleValue { value: f64::NAN }), r#""NaN""#);
        assert_eq!(
            json(&FloatValue {
                value: f32::NEG_INFINITY
            }),
            r#""-Infinity""#
        );
        assert_eq!(json(&DoubleValue { value: 1.5 }), "1.5");
        let back: DoubleValue = serde_json::from_str(r#""Infinity""#).unwrap();
        assert_eq!(back.value, f64::INFINITY);
        let back: FloatValue = serde_json::from_str("2.5").unwrap();
        assert_eq!(back.value, 2.5);
        assert!(serde_json::from_str::<DoubleValue>(r#""inf""#).is_err());
    }

    #[test]
    fn field_masks_are_comma_joined_camel_case() {
        let mask = FieldMask {
            paths: vec!["title".into(), "publish_time".into(), "a.b_c".into()],
        };
        assert_eq!(json(&mask), r#""title,publishTime,a.bC""#);
        let back: FieldMask = serde_json::from_str(r#""title,publishTime,a.bC""#).unwrap();
        assert_eq!(back, mask);
        let empty: FieldMask = serde_json::from_str(r#""""#).unwrap();
        assert!(empty.paths.is_empty());
        assert_eq!(json(&empty), r#""""#);
    }

    #[test]
    fn field_masks_reject_underscores_in_and_paths_that_do_not_round_trip_out() {
        // Conformance: FieldMaskInvalidCharacter.
        for bad in ["foo,bar_bar", "page_count", "a,,b", "a b", "a.", "3a"] {
            let text = format!("{bad:?}");
            assert!(serde_json::from_str::<FieldMask>(&text).is_err(), "{bad}");
        }
        // Conformance: FieldMaskPathsDontRoundTrip, FieldMaskNumbersDontRoundTrip,
        // FieldMaskTooManyUnderscore.
        for bad in ["fooBar", "foo_3_bar", "foo__bar", "foo_", "a,b", ""] {
            let mask = FieldMask {
                paths: vec![bad.into()],
            };
            let err = serde_json::to_string(&mask).unwrap_err().to_string();
            assert!(err.contains("field mask path"), "{bad}: {err}");
        }
        let mask = FieldMask {
            paths: vec!["foo3".into(), "a.b2c".into()],
        };
        assert_eq!(json(&mask), r#""foo3,a.b2c""#);
    }

    fn timestamp(text: &str) -> Result<Timestamp, String> {
        serde_json::from_str(&format!("{text:?}")).map_err(|e| e.to_string())
    }

    #[test]
    fn timestamps_and_durations_print_as_chrono_and_format_do() {
        let mut bits = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            bits ^= bits << 13;
            bits ^= bits >> 7;
            bits ^= bits << 17;
            bits
        };
        let edges = [
            MIN_SECONDS,
            MAX_SECONDS,
            -1,
            0,
            1,
            951_782_400,
            -62_135_596_801,
        ];
        for i in 0..20_000 {
            let seconds = match edges.get(i) {
                Some(&edge) => edge,
                None => MIN_SECONDS + (next() % (MAX_SECONDS - MIN_SECONDS + 1) as u64) as i64,
            };
            let nanos = match i % 4 {
                0 => 0,
                1 => (next() % 1000) as i32 * 1_000_000,
                2 => (next() % 1_000_000) as i32 * 1_000,
                _ => (next() % 1_000_000_000) as i32,
            };
            let ours = Timestamp { seconds, nanos }
                .to_rfc3339()
                .map(|t| t.as_str().to_owned());
            let chrono = chrono::DateTime::from_timestamp(seconds, nanos as u32)
                .filter(|_| (MIN_SECONDS..=MAX_SECONDS).contains(&seconds))
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
            assert_eq!(ours.ok(), chrono, "{seconds}s {nanos}ns");

            let seconds =
                (next() % (2 * MAX_DURATION_SECONDS as u64 + 1)) as i64 - MAX_DURATION_SECONDS;
            let nanos = nanos * seconds.signum() as i32;
            let sign = if seconds < 0 || nanos < 0 { "-" } else { "" };
            let (s, n) = (seconds.unsigned_abs(), nanos.unsigned_abs());
            let expected = match n {
                0 => format!("{sign}{s}s"),
                n if n % 1_000_000 == 0 => format!("{sign}{s}.{:03}s", n / 1_000_000),
                n if n % 1_000 == 0 => format!("{sign}{s}.{:06}s", n / 1_000),
                n => format!("{sign}{s}.{n:09}s"),
            };
            let duration = Duration { seconds, nanos }.to_json().unwrap();
            assert_eq!(duration.as_str(), expected);
        }
        let longest = Duration {
            seconds: -MAX_DURATION_SECONDS,
            nanos: -1,
        };
        assert_eq!(
            longest.to_json().unwrap().as_str(),
            "-315576000000.000000001s"
        );
        let sub_second = Duration {
            seconds: 0,
            nanos: -500_000_000,
        };
        assert_eq!(sub_second.to_json().unwrap().as_str(), "-0.500s");
    }

    #[test]
    fn timestamps_keep_to_the_rfc3339_subset_of_the_spec() {
        let t = |seconds, nanos| Ok(Timestamp { seconds, nanos });
        assert_eq!(timestamp("0001-01-01T00:00:00Z"), t(MIN_SECONDS, 0));
        assert_eq!(
            timestamp("9999-12-31T23:59:59.999999999Z"),
            t(MAX_SECONDS, 999_999_999)
        );
        assert_eq!(timestamp("1970-01-01T08:00:01+08:00"), t(1, 0));
        assert_eq!(timestamp("1969-12-31T16:00:01-08:00"), t(1, 0));
        assert_eq!(timestamp("1969-12-31T23:59:59.5Z"), t(-1, 500_000_000));
        assert_eq!(timestamp("1993-02-10T00:00:00.000Z"), t(729_302_400, 0));
        assert_eq!(timestamp("2000-02-29T00:00:00Z"), t(951_782_400, 0));
        // Conformance: TimestampJsonInputLowercaseT, ...LowercaseZ, ...MissingT,
        // ...MissingZ, ...TooSmall, ...TooLarge, TimestampWithMissingColonInOffset.
        for bad in [
            "0001-01-01t00:00:00Z",
            "0001-01-01T00:00:00z",
            "0001-01-01 00:00:00Z",
            "0001-01-01T00:00:00",
            "0000-01-01T00:00:00Z",
            "10000-01-01T00:00:00Z",
            "1970-01-01T08:00:01+0800",
            "1970-01-01T00:00:00.Z",
            "1970-01-01T00:00:00.0000000001Z",
            "1970-01-01T24:00:00Z",
            "1970-01-01T00:00:60Z",
            "1970-02-30T00:00:00Z",
            "1970-01-01T00:00:00+24:00",
            "1970-1-01T00:00:00Z",
            "1970-01-01T00:00:00ZZ",
            "+970-01-01T00:00:00Z",
        ] {
            assert!(timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_null_in_a_struct_or_value_is_null_value() {
        use value::Kind;
        // Conformance: Struct.ProtobufOutput, ValueAcceptNull.ProtobufOutput.
        let s: Struct = serde_json::from_str(r#"{"n":null,"l":[null,1]}"#).unwrap();
        assert_eq!(s.fields["n"].kind, Some(Kind::NullValue(0)));
        let Some(Kind::ListValue(list)) = &s.fields["l"].kind else {
            panic!("{s:?}")
        };
        assert_eq!(list.values[0].kind, Some(Kind::NullValue(0)));
        assert_eq!(list.values[1].kind, Some(Kind::NumberValue(1.0)));
        let v: Value = serde_json::from_str("null").unwrap();
        assert_eq!(v.kind, Some(Kind::NullValue(0)));
        let unit = de::value::UnitDeserializer::<de::value::Error>::new();
        assert_eq!(
            <Value as serde::Deserialize>::deserialize(unit).unwrap(),
            Value::from(())
        );
        // The null survives protobuf: a set oneof of 0 is encoded.
        use prost::Message as _;
        assert_eq!(v.encode_to_vec(), [0x08, 0x00]);
        assert_eq!(json(&s), r#"{"l":[null,1.0],"n":null}"#);
        assert!(serde_json::from_str::<Struct>("[]").is_err());
        assert!(serde_json::from_str::<ListValue>("{}").is_err());
        assert!(serde_json::from_str::<Struct>(r#"{"a":1,"a":2}"#).is_err());
        assert!(serde_json::to_string(&Value::from(f64::NAN)).is_err());
        assert_eq!(json(&Value::default()), "null");
    }
}

#[cfg(test)]
mod duration_tests {
    use super::Duration;

    #[test]
    fn durations_keep_to_the_proto3_range() {
        let ok: Duration = serde_json::from_str(r#""-315576000000s""#).unwrap();
        assert_eq!(ok.seconds, -315_576_000_000);
        let neg: Duration = serde_json::from_str(r#""-0.5s""#).unwrap();
        assert_eq!((neg.seconds, neg.nanos), (0, -500_000_000));
        assert_eq!(serde_json::to_string(&neg).unwrap(), r#""-0.500s""#);
        assert!(serde_json::from_str::<Duration>(r#""315576000001s""#).is_err());
        let too_long = Duration {
            seconds: 315_576_000_001,
            nanos: 0,
        };
        assert!(serde_json::to_string(&too_long).is_err());
    }

    fn duration(text: &str) -> Result<(i64, i32), String> {
        serde_json::from_str::<Duration>(&format!("{text:?}"))
            .map(|d| (d.seconds, d.nanos))
            .map_err(|e| e.to_string())
    }

    fn print(seconds: i64, nanos: i32) -> Result<String, String> {
        serde_json::to_string(&Duration { seconds, nanos }).map_err(|e| e.to_string())
    }

    #[test]
    fn durations_read_the_spec_grammar_only() {
        assert_eq!(duration("1.5s"), Ok((1, 500_000_000)));
        assert_eq!(duration("-1.5s"), Ok((-1, -500_000_000)));
        assert_eq!(duration("0s"), Ok((0, 0)));
        assert_eq!(duration("-0.000000001s"), Ok((0, -1)));
        assert_eq!(
            duration("315576000000.999999999s"),
            Ok((315_576_000_000, 999_999_999))
        );
        assert_eq!(
            duration("-315576000000.999999999s"),
            Ok((-315_576_000_000, -999_999_999))
        );
        for bad in [
            "--5s",
            "+5s",
            "5",
            "s",
            "-s",
            ".5s",
            "5.s",
            "1.0000000001s",
            "1e3s",
            " 1s",
            "1 s",
            "1.5S",
            "-315576000001s",
            "315576000001.000000000s",
            "9223372036854775808s",
            "99999999999999999999999s",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_print_0_3_6_or_9_digits_and_check_range_and_signs() {
        assert_eq!(print(1, 0).as_deref(), Ok(r#""1s""#));
        assert_eq!(print(1, 10_000_000).as_deref(), Ok(r#""1.010s""#));
        assert_eq!(print(1, 10_000).as_deref(), Ok(r#""1.000010s""#));
        assert_eq!(print(1, 10).as_deref(), Ok(r#""1.000000010s""#));
        assert_eq!(print(0, -500_000_000).as_deref(), Ok(r#""-0.500s""#));
        assert_eq!(
            print(-315_576_000_000, -999_999_999).as_deref(),
            Ok(r#""-315576000000.999999999s""#)
        );
        // No overflow on i64::MIN (`abs` used to panic in debug builds).
        for (seconds, nanos) in [
            (i64::MIN, 0),
            (i64::MAX, 0),
            (0, i32::MIN),
            (1, -1),
            (-1, 1),
            (1, 1_000_000_000),
            (-1, -1_000_000_000),
        ] {
            assert!(print(seconds, nanos).is_err(), "{seconds} {nanos}");
        }
    }
}
