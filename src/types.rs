//! The well-known types (`google.protobuf.*`) generated code uses:
//! `pbjson-types`, with `Timestamp`, `Duration` (range checked), `FieldMask`,
//! `Any`, `DoubleValue` and `FloatValue` replaced by types whose JSON is the
//! proto3 mapping's
//! (pbjson-types 0.9 writes Timestamps with `+00:00` instead of `Z`, has no
//! special form for FieldMask or Any, and prints a NaN wrapper as `null`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;

pub use crate::any::Any;
pub use pbjson_types::*;

use crate::__private::json::{F32, F64, Kind as _};

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
    /// The RFC 3339 form, or why there is none (out of range).
    fn to_rfc3339(self) -> Result<String, String> {
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&self.seconds)
            || !(0..1_000_000_000).contains(&self.nanos)
        {
            return Err(format!(
                "timestamp {}s {}ns is outside 0001-01-01..9999-12-31",
                self.seconds, self.nanos
            ));
        }
        let time = chrono::DateTime::from_timestamp(self.seconds, self.nanos as u32)
            .ok_or_else(|| "timestamp out of range".to_owned())?;
        Ok(time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    }

    fn from_rfc3339(text: &str) -> Result<Self, String> {
        let time = chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("invalid timestamp {text:?}: {e}"))?;
        let timestamp = Self {
            seconds: time.timestamp(),
            nanos: time.timestamp_subsec_nanos() as i32,
        };
        if !(MIN_SECONDS..=MAX_SECONDS).contains(&timestamp.seconds) {
            return Err(format!(
                "timestamp {text:?} is outside 0001-01-01..9999-12-31"
            ));
        }
        Ok(timestamp)
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
        serializer.serialize_str(&text)
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

/// `google.protobuf.FieldMask`: JSON `"title,publishTime"` (comma-joined
/// paths in lowerCamelCase out; lowerCamelCase or snake_case in).
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

impl serde::Serialize for FieldMask {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = String::new();
        for (i, path) in self.paths.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let mut upper = false;
            for c in path.chars() {
                match c {
                    '_' => upper = true,
                    c if upper => {
                        out.extend(c.to_uppercase());
                        upper = false;
                    }
                    c => out.push(c),
                }
            }
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
                f.write_str("a comma-separated list of field paths")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<FieldMask, E> {
                let paths = text
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|path| {
                        let mut snake = String::with_capacity(path.len() + 4);
                        for c in path.chars() {
                            if c.is_ascii_uppercase() {
                                snake.push('_');
                                snake.push(c.to_ascii_lowercase());
                            } else {
                                snake.push(c);
                            }
                        }
                        snake
                    })
                    .collect();
                Ok(FieldMask { paths })
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// The range of `google.protobuf.Duration`: about +-10,000 years.
const MAX_DURATION_SECONDS: i64 = 315_576_000_000;

/// `google.protobuf.Duration`: JSON `"1.000340012s"`, `"-0.5s"`; within
/// +-315,576,000,000 s (pbjson-types' form, with the range checked both ways).
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
    fn check(self) -> Result<Self, String> {
        if self.seconds.abs() > MAX_DURATION_SECONDS || self.nanos.abs() >= 1_000_000_000 {
            return Err(format!(
                "duration {}s {}ns is outside +-{MAX_DURATION_SECONDS}s",
                self.seconds, self.nanos
            ));
        }
        Ok(self)
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
        let checked = self.check().map_err(serde::ser::Error::custom)?;
        pbjson_types::Duration::from(checked).serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let parsed = Self::from(pbjson_types::Duration::deserialize(deserializer)?);
        parsed.check().map_err(de::Error::custom)
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
        let snake: FieldMask = serde_json::from_str(r#""page_count""#).unwrap();
        assert_eq!(snake.paths, ["page_count"]);
        let empty: FieldMask = serde_json::from_str(r#""""#).unwrap();
        assert!(empty.paths.is_empty());
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
}
