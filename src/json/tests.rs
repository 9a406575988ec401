use super::*;

#[test]
fn parse_int_accepts_integral_exponents_only() {
    assert_eq!(parse_int("12"), Some(12));
    assert_eq!(parse_int("-3"), Some(-3));
    assert_eq!(parse_int("1e3"), Some(1000));
    assert_eq!(parse_int("1E+3"), Some(1000));
    assert_eq!(parse_int("1.5e1"), Some(15));
    assert_eq!(parse_int("1500e-2"), Some(15));
    assert_eq!(parse_int("2.0"), Some(2));
    assert_eq!(parse_int("-0"), Some(0));
    assert_eq!(parse_int("0e99999999999999999999"), Some(0));
    assert_eq!(parse_int("9223372036854775807"), Some(i64::MAX.into()));
    for bad in [
        "",
        "-",
        "1.5",
        "1e-1",
        "1.",
        ".5",
        "+1",
        " 1",
        "1 ",
        "0x10",
        "1e",
        "1e+",
        "abc",
        "NaN",
        "1e999999",
        "99999999999999999999999999999999999999999",
    ] {
        assert_eq!(parse_int(bad), None, "{bad:?}");
    }
}

#[test]
fn parse_float_is_json_syntax_only() {
    assert_eq!(parse_float("1.5"), Some(1.5));
    assert_eq!(parse_float("-2e-3"), Some(-0.002));
    assert_eq!(parse_float("1e400"), Some(f64::INFINITY));
    for bad in ["inf", "infinity", "nan", "+1", ".5", "1.", "", "1,0", "0x1"] {
        assert_eq!(parse_float(bad), None, "{bad:?}");
    }
}

#[test]
fn with_options_restores_the_previous_options_even_on_panic() {
    let on = JsonOptions {
        emit_unpopulated: true,
        ..JsonOptions::default()
    };
    assert_eq!(options(), JsonOptions::default());
    let inner = with_options(on, || {
        with_options(JsonOptions::default(), options);
        options()
    });
    assert_eq!(inner, on);
    assert_eq!(options(), JsonOptions::default());
    let caught = std::panic::catch_unwind(|| with_options(on, || panic!("boom")));
    assert!(caught.is_err());
    assert_eq!(options(), JsonOptions::default());
}

fn de<K: Kind>(json: &str) -> Result<K::T, String> {
    let mut d = serde_json::Deserializer::from_str(json);
    K::de(&mut d).map_err(|e| e.to_string())
}

fn ser<K: Kind>(value: &K::T) -> String {
    serde_json::to_string(&Ser::<K>(value)).unwrap()
}

#[test]
fn kinds_read_and_write_the_proto3_forms() {
    assert_eq!(ser::<I64>(&i64::MIN), r#""-9223372036854775808""#);
    assert_eq!(ser::<U64>(&u64::MAX), r#""18446744073709551615""#);
    assert_eq!(ser::<I32>(&-5), "-5");
    assert_eq!(de::<I64>(r#""-9223372036854775808""#), Ok(i64::MIN));
    assert_eq!(de::<U64>("18446744073709551615"), Ok(u64::MAX));
    assert_eq!(de::<I32>("1e3"), Ok(1000));
    assert_eq!(de::<I32>(r#""1e3""#), Ok(1000));
    assert!(
        de::<I32>("2147483648")
            .unwrap_err()
            .contains("out of range")
    );
    assert!(de::<U32>("-1").unwrap_err().contains("out of range"));
    assert!(de::<I64>("1.5").unwrap_err().contains("not an integer"));
    assert!(de::<U64>("1e30").unwrap_err().contains("out of range"));
    assert!(de::<I64>("true").is_err());
    assert_eq!(ser::<F64>(&f64::NAN), r#""NaN""#);
    assert_eq!(ser::<F32>(&f32::NEG_INFINITY), r#""-Infinity""#);
    assert_eq!(ser::<F64>(&-0.0), "-0.0");
    assert_eq!(de::<F32>(r#""Infinity""#), Ok(f32::INFINITY));
    assert_eq!(de::<F64>(r#""-1.5""#), Ok(-1.5));
    assert!(de::<F32>("1e39").unwrap_err().contains("out of range"));
    assert!(
        de::<F64>(r#""1e999""#)
            .unwrap_err()
            .contains("out of range")
    );
    assert!(de::<F64>(r#""inf""#).unwrap_err().contains("not a number"));
    assert!(F64::is_default(&0.0) && !F64::is_default(&-0.0));
    assert_eq!(ser::<Bytes>(&vec![0xfb, 0xff]), r#""+/8=""#);
    assert_eq!(de::<Bytes>(r#""-_8""#), Ok(vec![0xfb, 0xff]));
    assert_eq!(I64::from_key("1e2"), Ok(100));
    assert!(Bool::from_key("True").is_err());
    assert!(I32::from_key("x").unwrap_err().contains("\"x\""));
}

#[test]
fn seen_tracks_fields_past_128() {
    let mut seen = Seen::default();
    for i in [0, 127, 128, 200, 1000] {
        assert!(
            seen.mark::<serde_json::Error>(i, "duplicate field", "f")
                .is_ok()
        );
        let err = seen.mark::<serde_json::Error>(i, "duplicate field", "f");
        assert_eq!(err.unwrap_err().to_string(), "duplicate field `f`");
    }
}

mod unknown_enum_names {
    use super::*;
    use crate::types::Syntax;
    use std::collections::hash_map::RandomState;

    type E = Enum<Syntax>;

    fn lenient<R>(f: impl FnOnce() -> R) -> R {
        let options = JsonOptions {
            ignore_unknown_fields: true,
            ..JsonOptions::default()
        };
        with_options(options, f)
    }

    fn seq(json: &str) -> Result<Vec<i32>, String> {
        let mut d = serde_json::Deserializer::from_str(json);
        SeqSeed::<E>(PhantomData)
            .deserialize(&mut d)
            .map_err(|e| e.to_string())
    }

    fn map(json: &str) -> Result<Vec<(String, i32)>, String> {
        let mut d = serde_json::Deserializer::from_str(json);
        let map = MapSeed::<Str, E, RandomState>(PhantomData)
            .deserialize(&mut d)
            .map_err(|e| e.to_string())?;
        let mut entries: Vec<_> = map.into_iter().collect();
        entries.sort();
        Ok(entries)
    }

    fn singular(json: &str) -> Result<Option<i32>, String> {
        let mut d = serde_json::Deserializer::from_str(json);
        Nullable::<E>(PhantomData)
            .deserialize(&mut d)
            .map_err(|e| e.to_string())
    }

    // Conformance: IgnoreUnknownEnumStringValueIn{RepeatedField,RepeatedPart,
    // MapValue,MapPart,OptionalField}.
    #[test]
    fn drop_the_element_the_entry_or_the_field_when_ignored() {
        let list = r#"["SYNTAX_PROTO3","UNKNOWN_ENUM_VALUE","SYNTAX_EDITIONS",1]"#;
        assert_eq!(lenient(|| seq(list)), Ok(vec![1, 2, 1]));
        assert_eq!(lenient(|| seq(r#"["UNKNOWN_ENUM_VALUE"]"#)), Ok(vec![]));
        let object = r#"{"key1":"SYNTAX_PROTO3","key2":"UNKNOWN_ENUM_VALUE"}"#;
        assert_eq!(lenient(|| map(object)), Ok(vec![("key1".into(), 1)]));
        assert_eq!(lenient(|| singular(r#""UNKNOWN_ENUM_VALUE""#)), Ok(None));
        assert_eq!(lenient(|| singular(r#""SYNTAX_EDITIONS""#)), Ok(Some(2)));
        // Unknown numbers are kept: they are values of an open enum.
        assert_eq!(lenient(|| seq("[7]")), Ok(vec![7]));
        // Nulls are still errors in arrays and maps.
        assert!(lenient(|| seq("[null]")).is_err());
    }

    // Conformance: RejectUnknownEnumStringValueIn*.
    #[test]
    fn are_errors_otherwise() {
        for result in [
            seq(r#"["SYNTAX_PROTO3","NOPE"]"#).map(drop),
            map(r#"{"k":"NOPE"}"#).map(drop),
            singular(r#""NOPE""#).map(drop),
        ] {
            assert!(result.unwrap_err().contains("unknown enum value \"NOPE\""));
        }
    }
}
