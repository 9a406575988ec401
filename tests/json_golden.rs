//! Golden proto3 JSON vectors for the generated serde impls
//! (proto/kitchen/v1/kitchen.proto, which build.rs must compile): each rule
//! of the mapping in both directions, and the run-time options on and off.
#![allow(unreachable_pub, missing_docs)]

mod kitchen {
    pub mod v1 {
        dual_protocol::include_proto!("kitchen.v1");
    }
}

use dual_protocol::__private::json::{JsonOptions, with_options};
use kitchen::v1::*;

use dual_protocol::types;
use serde_json::json;

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serializes")
}

fn to_value<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("serializes")
}

fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, String> {
    serde_json::from_str(json).map_err(|e| e.to_string())
}

fn sink(json: &str) -> Sink {
    parse(json).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn sink_err(json: &str) -> String {
    match parse::<Sink>(json) {
        Ok(s) => panic!("{json} parsed as {s:?}"),
        Err(e) => e,
    }
}

fn opts(f: impl FnOnce(&mut JsonOptions)) -> JsonOptions {
    let mut o = JsonOptions::default();
    f(&mut o);
    o
}

#[test]
fn empty_message_is_an_empty_object_both_ways() {
    assert_eq!(to_json(&Sink::default()), "{}");
    assert_eq!(sink("{}"), Sink::default());
    assert_eq!(to_json(&Empty {}), "{}");
    assert_eq!(parse::<Empty>("{}"), Ok(Empty {}));
    assert!(
        parse::<Empty>(r#"{"x":1}"#)
            .unwrap_err()
            .contains("unknown field `x`")
    );
}

#[test]
fn scalars_out() {
    let s = Sink {
        f_double: 1.5,
        f_float: 0.25,
        f_int32: -7,
        f_int64: i64::MIN,
        f_uint32: u32::MAX,
        f_uint64: u64::MAX,
        f_sint32: -1,
        f_sint64: i64::MAX,
        f_fixed32: 7,
        f_fixed64: 8,
        f_sfixed32: -9,
        f_sfixed64: -10,
        f_bool: true,
        f_string: "hé\"".into(),
        f_bytes: vec![0xfb, 0xff, 0x00],
        ..Default::default()
    };
    assert_eq!(
        to_json(&s),
        concat!(
            r#"{"fDouble":1.5,"fFloat":0.25,"fInt32":-7,"fInt64":"-9223372036854775808","#,
            r#""fUint32":4294967295,"fUint64":"18446744073709551615","fSint32":-1,"#,
            r#""fSint64":"9223372036854775807","fFixed32":7,"fFixed64":"8","fSfixed32":-9,"#,
            r#""fSfixed64":"-10","fBool":true,"fString":"hé\"","fBytes":"+/8A"}"#
        )
    );
}

#[test]
fn scalars_in_round_trip() {
    let json = concat!(
        r#"{"fDouble":1.5,"fFloat":0.25,"fInt32":-7,"fInt64":"-9223372036854775808","#,
        r#""fUint32":4294967295,"fUint64":"18446744073709551615","fSint32":-1,"#,
        r#""fSint64":"9223372036854775807","fFixed32":7,"fFixed64":"8","fSfixed32":-9,"#,
        r#""fSfixed64":"-10","fBool":true,"fString":"x","fBytes":"+/8A"}"#
    );
    let s = sink(json);
    assert_eq!(s.f_int64, i64::MIN);
    assert_eq!(s.f_uint64, u64::MAX);
    assert_eq!(s.f_sint64, i64::MAX);
    assert_eq!(s.f_bytes, [0xfb, 0xff, 0x00]);
    assert_eq!(to_json(&s), json);
}

#[test]
fn int64_accepts_numbers_strings_and_integral_exponents() {
    assert_eq!(sink(r#"{"fInt64":12}"#).f_int64, 12);
    assert_eq!(sink(r#"{"fInt64":"-12"}"#).f_int64, -12);
    assert_eq!(sink(r#"{"fInt64":1e3}"#).f_int64, 1000);
    assert_eq!(sink(r#"{"fInt64":"1e3"}"#).f_int64, 1000);
    assert_eq!(sink(r#"{"fInt64":"1.5e1"}"#).f_int64, 15);
    assert_eq!(sink(r#"{"fInt64":-9223372036854775808}"#).f_int64, i64::MIN);
    assert_eq!(
        sink(r#"{"fUint64":18446744073709551615}"#).f_uint64,
        u64::MAX
    );
    assert_eq!(
        sink(r#"{"fFixed64":"18446744073709551615"}"#).f_fixed64,
        u64::MAX
    );
    assert!(sink_err(r#"{"fInt64":"1.5"}"#).contains("not an integer"));
    assert!(sink_err(r#"{"fInt64":1.5}"#).contains("not an integer"));
    assert!(sink_err(r#"{"fInt64":"9223372036854775808"}"#).contains("out of range"));
    assert!(sink_err(r#"{"fUint64":"-1"}"#).contains("out of range"));
    assert!(sink_err(r#"{"fUint64":"18446744073709551616"}"#).contains("out of range"));
    assert!(sink_err(r#"{"fInt64":"12abc"}"#).contains("not an integer"));
    assert!(sink_err(r#"{"fInt64":" 12"}"#).contains("not an integer"));
    assert!(parse::<Sink>(r#"{"fInt64":true}"#).is_err());
}

#[test]
fn int32_accepts_numbers_strings_and_integral_exponents() {
    assert_eq!(sink(r#"{"fInt32":"12"}"#).f_int32, 12);
    assert_eq!(sink(r#"{"fInt32":-2147483648}"#).f_int32, i32::MIN);
    assert_eq!(sink(r#"{"fSfixed32":"2e2"}"#).f_sfixed32, 200);
    assert_eq!(sink(r#"{"fUint32":4.0}"#).f_uint32, 4);
    assert!(sink_err(r#"{"fInt32":2147483648}"#).contains("out of range"));
    assert!(sink_err(r#"{"fUint32":-1}"#).contains("out of range"));
    assert!(sink_err(r#"{"fInt32":0.5}"#).contains("not an integer"));
    assert!(sink_err(r#"{"fFixed32":"4294967296"}"#).contains("out of range"));
}

#[test]
fn floats_out_with_special_values() {
    let s = Sink {
        f_double: f64::NAN,
        f_float: f32::INFINITY,
        r_double: vec![f64::NEG_INFINITY, -0.0, 1e300],
        r_float: vec![0.1],
        ..Default::default()
    };
    assert_eq!(
        to_json(&s),
        r#"{"fDouble":"NaN","fFloat":"Infinity","rDouble":["-Infinity",-0.0,1e+300],"rFloat":[0.1]}"#
    );
    // -0 is not the default: its sign is kept.
    let s = Sink {
        f_double: -0.0,
        ..Default::default()
    };
    assert_eq!(to_json(&s), r#"{"fDouble":-0.0}"#);
}

#[test]
fn floats_in_from_numbers_strings_and_special_names() {
    assert!(sink(r#"{"fDouble":"NaN"}"#).f_double.is_nan());
    assert_eq!(
        sink(r#"{"fDouble":"-Infinity"}"#).f_double,
        f64::NEG_INFINITY
    );
    assert_eq!(sink(r#"{"fFloat":"Infinity"}"#).f_float, f32::INFINITY);
    assert_eq!(sink(r#"{"fDouble":"1.25"}"#).f_double, 1.25);
    assert_eq!(sink(r#"{"fDouble":"-2e-3"}"#).f_double, -0.002);
    assert_eq!(sink(r#"{"fDouble":3}"#).f_double, 3.0);
    assert_eq!(sink(r#"{"fFloat":-1.5}"#).f_float, -1.5);
    let negative_zero = sink(r#"{"fDouble":-0}"#).f_double;
    assert!(negative_zero == 0.0 && negative_zero.is_sign_negative());
    assert!(sink_err(r#"{"fFloat":1e39}"#).contains("out of range"));
    assert!(sink_err(r#"{"fFloat":"-1e39"}"#).contains("out of range"));
    assert!(sink_err(r#"{"fDouble":"1e400"}"#).contains("out of range"));
    assert!(sink_err(r#"{"fDouble":"inf"}"#).contains("not a number"));
    assert!(sink_err(r#"{"fDouble":"nan"}"#).contains("not a number"));
    assert!(parse::<Sink>(r#"{"fDouble":true}"#).is_err());
}

#[test]
fn bytes_standard_padded_out_any_base64_in() {
    let s = Sink {
        f_bytes: b"\xfb\xff".to_vec(),
        r_bytes: vec![b"hi?".to_vec(), Vec::new()],
        ..Default::default()
    };
    assert_eq!(to_json(&s), r#"{"fBytes":"+/8=","rBytes":["aGk/",""]}"#);
    for text in ["+/8=", "+/8", "-_8=", "-_8"] {
        assert_eq!(
            sink(&format!(r#"{{"fBytes":"{text}"}}"#)).f_bytes,
            b"\xfb\xff",
            "{text}"
        );
    }
    assert!(sink_err(r#"{"fBytes":"*"}"#).contains("base64"));
}

#[test]
fn enums_by_name_out_unknown_numbers_as_numbers() {
    let s = Sink {
        f_color: Color::Green as i32,
        f_mood: nested::Mood::Happy as i32,
        r_color: vec![Color::Red as i32, 7, 0],
        ..Default::default()
    };
    assert_eq!(
        to_json(&s),
        r#"{"fColor":"GREEN","fMood":"HAPPY","rColor":["RED",7,"COLOR_UNSPECIFIED"]}"#
    );
    let s = Sink {
        f_color: 42,
        ..Default::default()
    };
    assert_eq!(to_json(&s), r#"{"fColor":42}"#);
    assert_eq!(to_json(&Color::Red), r#""RED""#);
    assert_eq!(parse::<Color>(r#""GREEN""#), Ok(Color::Green));
    assert_eq!(parse::<Color>("1"), Ok(Color::Red));
    assert!(parse::<Color>("9").is_err());
}

#[test]
fn enums_in_by_name_or_number() {
    assert_eq!(sink(r#"{"fColor":"RED"}"#).f_color, Color::Red as i32);
    assert_eq!(sink(r#"{"fColor":2}"#).f_color, 2);
    assert_eq!(sink(r#"{"fColor":99}"#).f_color, 99);
    assert_eq!(sink(r#"{"fMood":"HAPPY"}"#).f_mood, 1);
    assert_eq!(sink(r#"{"rColor":["GREEN",1]}"#).r_color, [2, 1]);
    let err = sink_err(r#"{"fColor":"PURPLE"}"#);
    assert!(err.contains("PURPLE"), "{err}");
    assert!(sink_err(r#"{"fColor":"red"}"#).contains("red"));
    assert!(sink_err(r#"{"fColor":2147483648}"#).contains("out of range"));
    let lenient = opts(|o| o.ignore_unknown_fields = true);
    let s = with_options(lenient, || sink(r#"{"fColor":"PURPLE","fInt32":1}"#));
    assert_eq!((s.f_color, s.f_int32), (0, 1));
}

#[test]
fn enums_as_ints_option() {
    let s = Sink {
        f_color: Color::Green as i32,
        r_color: vec![1],
        m_color: [("k".to_owned(), 1)].into(),
        choice: Some(sink::Choice::OColor(2)),
        ..Default::default()
    };
    let o = opts(|o| o.enums_as_ints = true);
    assert_eq!(
        with_options(o, || to_json(&s)),
        r#"{"fColor":2,"rColor":[1],"mColor":{"k":1},"oColor":2}"#
    );
    assert_eq!(
        to_json(&s),
        r#"{"fColor":"GREEN","rColor":["RED"],"mColor":{"k":"RED"},"oColor":"GREEN"}"#
    );
    assert_eq!(with_options(o, || to_json(&Color::Red)), "1");
}

#[test]
fn oneof_members_out_and_in() {
    let s = Sink {
        choice: Some(sink::Choice::OString(String::new())),
        ..Default::default()
    };
    // A set member is printed even at its default.
    assert_eq!(to_json(&s), r#"{"oString":""}"#);
    let s = Sink {
        choice: Some(sink::Choice::ONested(Box::new(Nested {
            value: 1,
            ..Default::default()
        }))),
        ..Default::default()
    };
    assert_eq!(to_json(&s), r#"{"oNested":{"value":1}}"#);
    assert_eq!(sink(r#"{"oNested":{"value":1}}"#), s);
    let s = Sink {
        choice: Some(sink::Choice::OInt64(-5)),
        ..Default::default()
    };
    assert_eq!(to_json(&s), r#"{"oInt64":"-5"}"#);
    assert_eq!(sink(r#"{"oInt64":"-5"}"#), s);
    assert_eq!(
        sink(r#"{"oColor":"RED"}"#).choice,
        Some(sink::Choice::OColor(1))
    );
}

#[test]
fn oneof_with_two_members_is_an_error_naming_it() {
    let err = sink_err(r#"{"oString":"a","oColor":"RED"}"#);
    assert!(err.contains("choice"), "{err}");
    // null is "not set": it does not count as a member.
    assert_eq!(
        sink(r#"{"oString":null,"oColor":"RED"}"#).choice,
        Some(sink::Choice::OColor(1))
    );
    assert_eq!(sink(r#"{"oNested":null}"#).choice, None);
    // ... except for google.protobuf.Value, whose null is a value.
    let s = sink(r#"{"oValue":null}"#);
    assert!(
        matches!(&s.choice, Some(sink::Choice::OValue(v)) if to_json(v) == "null"),
        "{s:?}"
    );
    assert_eq!(to_json(&s), r#"{"oValue":null}"#);
    assert!(sink_err(r#"{"oValue":null,"oString":"x"}"#).contains("choice"));
}

#[test]
fn null_means_default() {
    let s = sink(concat!(
        r#"{"fInt32":null,"fInt64":null,"fString":null,"fBytes":null,"fColor":null,"#,
        r#""fNested":null,"rInt32":null,"rNested":null,"mInt32":null,"mNested":null,"#,
        r#""pInt32":null,"wTimestamp":null,"wInt64Value":null,"fDouble":null,"fBool":null}"#
    ));
    assert_eq!(s, Sink::default());
    // google.protobuf.Value: null is the null value, not unset.
    let s = sink(r#"{"wValue":null}"#);
    assert_eq!(s.w_value.as_ref().map(to_json).as_deref(), Some("null"));
    assert_eq!(to_json(&s), r#"{"wValue":null}"#);
    // google.protobuf.NullValue reads null (and its name) as 0.
    assert_eq!(sink(r#"{"wNull":null}"#).w_null, 0);
    assert_eq!(sink(r#"{"wNull":"NULL_VALUE"}"#).w_null, 0);
    // Null elements are errors, except Values.
    assert!(sink_err(r#"{"rInt32":[1,null]}"#).contains("null"));
    assert!(sink_err(r#"{"mInt32":{"1":null}}"#).contains("null"));
    let s = sink(r#"{"wValues":[null,1,"a"],"mValue":{"k":null}}"#);
    assert_eq!(to_json(&s.w_values), r#"[null,1.0,"a"]"#);
    assert_eq!(to_json(&s.m_value), r#"{"k":null}"#);
}

#[test]
fn repeated_fields_of_every_type() {
    let json = concat!(
        r#"{"rDouble":[1.5,"NaN"],"rFloat":[2.5],"rInt32":[1,-2],"rInt64":["3","-4"],"#,
        r#""rUint32":[5],"rUint64":["6"],"rSint32":[-7],"rSint64":["-8"],"rFixed32":[9],"#,
        r#""rFixed64":["10"],"rSfixed32":[-11],"rSfixed64":["-12"],"rBool":[true,false],"#,
        r#""rString":["a",""],"rBytes":["AA=="],"rColor":["RED"],"rNested":[{},{"value":1}]}"#
    );
    let s = sink(json);
    assert_eq!(s.r_int64, [3, -4]);
    assert_eq!(s.r_nested.len(), 2);
    assert_eq!(to_json(&s), json);
    assert_eq!(sink(r#"{"rInt64":[3,"1e1"]}"#).r_int64, [3, 10]);
    assert!(parse::<Sink>(r#"{"rInt32":1}"#).is_err());
}

#[test]
fn map_keys_are_strings_for_every_key_type() {
    let json = concat!(
        r#"{"mInt32":{"-1":"a","2":"b"},"mInt64":{"-9223372036854775808":"c"},"#,
        r#""mUint32":{"4294967295":"d"},"mUint64":{"18446744073709551615":"e"},"#,
        r#""mSint32":{"-3":"f"},"mSint64":{"-4":"g"},"mFixed32":{"5":"h"},"mFixed64":{"6":"i"},"#,
        r#""mSfixed32":{"-7":"j"},"mSfixed64":{"-8":"k"},"mBool":{"false":"l","true":"m"},"#,
        r#""mString":{"":"n","x":"o"},"mNested":{"k":{"value":1}},"mColor":{"k":"GREEN"},"#,
        r#""mBytes":{"k":"AQ=="},"mToInt64":{"k":"9"}}"#
    );
    let s = sink(json);
    assert_eq!(s.m_int32[&-1], "a");
    assert_eq!(s.m_uint64[&u64::MAX], "e");
    assert_eq!(s.m_bool[&true], "m");
    assert_eq!(s.m_to_int64["k"], 9);
    // Keys are printed in order, so the output is stable.
    assert_eq!(to_json(&s), json);
    assert!(sink_err(r#"{"mInt32":{"x":"a"}}"#).contains("\"x\""));
    assert!(sink_err(r#"{"mInt32":{"2147483648":"a"}}"#).contains("2147483648"));
    assert!(sink_err(r#"{"mBool":{"1":"a"}}"#).contains("bool"));
    assert!(sink_err(r#"{"mUint32":{"-1":"a"}}"#).contains("-1"));
    assert!(sink_err(r#"{"mInt32":{"1":"a","1":"b"}}"#).contains("duplicate"));
    assert_eq!(sink(r#"{"mToInt64":{"k":12}}"#).m_to_int64["k"], 12);
}

#[test]
fn unknown_fields_are_errors_naming_them_unless_ignored() {
    let err = sink_err(r#"{"fInt32":1,"nope":2}"#);
    assert!(err.contains("unknown field `nope`"), "{err}");
    let err = sink_err(r#"{"fNested":{"value":1,"deeper":{}}}"#);
    assert!(err.contains("unknown field `deeper`"), "{err}");
    let lenient = opts(|o| o.ignore_unknown_fields = true);
    let s = with_options(lenient, || {
        sink(concat!(
            r#"{"nope":{"a":[1,{"b":null}],"c":"d"},"fInt32":1,"x":[[]],"y":null,"#,
            r#""z":"s","fNested":{"q":1,"value":2}}"#
        ))
    });
    assert_eq!(s.f_int32, 1);
    assert_eq!(s.f_nested.as_ref().map(|n| n.value), Some(2));
    // Options are restored afterwards.
    assert!(parse::<Sink>(r#"{"nope":1}"#).is_err());
}

#[test]
fn proto_names_option_and_both_names_accepted() {
    let s = Sink {
        f_int64: 1,
        r#type: "t".into(),
        custom: "c".into(),
        choice: Some(sink::Choice::OString("o".into())),
        p_int32: Some(0),
        ..Default::default()
    };
    assert_eq!(
        to_json(&s),
        r#"{"fInt64":"1","pInt32":0,"type":"t","renamed":"c","oString":"o"}"#
    );
    let o = opts(|o| o.proto_names = true);
    assert_eq!(
        with_options(o, || to_json(&s)),
        r#"{"f_int64":"1","p_int32":0,"type":"t","custom":"c","o_string":"o"}"#
    );
    let json_names = r#"{"fInt64":"1","pInt32":0,"type":"t","renamed":"c","oString":"o"}"#;
    let proto_names = r#"{"f_int64":"1","p_int32":0,"type":"t","custom":"c","o_string":"o"}"#;
    assert_eq!(sink(json_names), s);
    assert_eq!(sink(proto_names), s);
    assert_eq!(with_options(o, || sink(json_names)), s);
    // The same field twice, under either name, is an error.
    assert!(sink_err(r#"{"fInt64":"1","f_int64":"2"}"#).contains("duplicate field"));
    assert!(sink_err(r#"{"fInt32":1,"fInt32":2}"#).contains("duplicate field"));
}

#[test]
fn proto3_optional_fields_print_when_set_even_at_default() {
    let s = Sink {
        p_int32: Some(0),
        p_string: Some(String::new()),
        p_color: Some(0),
        p_double: Some(0.0),
        ..Default::default()
    };
    let json = r#"{"pInt32":0,"pString":"","pColor":"COLOR_UNSPECIFIED","pDouble":0.0}"#;
    assert_eq!(to_json(&s), json);
    assert_eq!(sink(json), s);
    assert_eq!(sink(r#"{"pInt32":null}"#).p_int32, None);
}

#[test]
fn emit_unpopulated_option() {
    let o = opts(|o| o.emit_unpopulated = true);
    let v = with_options(o, || to_value(&Sink::default()));
    let object = v.as_object().expect("an object");
    assert_eq!(object["fDouble"], json!(0.0));
    assert_eq!(object["fInt32"], json!(0));
    assert_eq!(object["fInt64"], json!("0"));
    assert_eq!(object["fUint64"], json!("0"));
    assert_eq!(object["fBool"], json!(false));
    assert_eq!(object["fString"], json!(""));
    assert_eq!(object["fBytes"], json!(""));
    assert_eq!(object["fColor"], json!("COLOR_UNSPECIFIED"));
    assert_eq!(object["rInt32"], json!([]));
    assert_eq!(object["rNested"], json!([]));
    assert_eq!(object["mInt32"], json!({}));
    assert_eq!(object["mNested"], json!({}));
    assert_eq!(object["wNull"], json!(null));
    assert_eq!(object["type"], json!(""));
    assert_eq!(object["renamed"], json!(""));
    // Fields with presence stay out when unset.
    for absent in [
        "fNested",
        "pInt32",
        "pString",
        "oString",
        "oNested",
        "wTimestamp",
        "wValue",
        "wInt64Value",
        "child",
    ] {
        assert!(!object.contains_key(absent), "{absent} in {v}");
    }
    // Enums as ints and proto names combine with it.
    let all = opts(|o| {
        o.emit_unpopulated = true;
        o.enums_as_ints = true;
        o.proto_names = true;
    });
    let v = with_options(all, || to_value(&Sink::default()));
    assert_eq!(v["f_color"], json!(0));
    assert_eq!(v["r_sfixed64"], json!([]));
    // Off by default.
    assert_eq!(to_json(&Sink::default()), "{}");
    // Nested messages follow the option too.
    let s = Sink {
        f_nested: Some(Box::default()),
        ..Default::default()
    };
    let v = with_options(o, || to_value(&s));
    assert_eq!(
        v["fNested"],
        json!({"value": 0, "mood": "MOOD_UNSPECIFIED"})
    );
    assert_eq!(to_json(&s), r#"{"fNested":{}}"#);
}

#[test]
fn well_known_types_use_their_special_forms() {
    let json = concat!(
        r#"{"wTimestamp":"1972-01-01T10:00:20.021Z","wDuration":"1.500s","#,
        r#""wFieldMask":"fInt32,fNested.value","wStruct":{"a":[1.0,"b",null,true,{}]},"#,
        r#""wValue":{"k":"v"},"wListValue":[1.0,"x"],"#,
        r#""wDoubleValue":1.5,"wFloatValue":2.5,"wInt64Value":"-5","wUint64Value":"5","#,
        r#""wInt32Value":-3,"wUint32Value":3,"wBoolValue":false,"wStringValue":"","#,
        r#""wBytesValue":"AQ==","wEmpty":{}}"#
    );
    let s = sink(json);
    assert_eq!(
        s.w_timestamp,
        Some(types::Timestamp {
            seconds: 63_108_020,
            nanos: 21_000_000
        })
    );
    assert_eq!(s.w_int64_value.as_ref().map(|w| w.value), Some(-5));
    assert_eq!(s.w_bool_value.as_ref().map(|w| w.value), Some(false));
    assert_eq!(
        s.w_field_mask.as_ref().map(|m| m.paths.clone()),
        Some(vec!["f_int32".to_owned(), "f_nested.value".to_owned()])
    );
    assert!(s.w_empty.is_some());
    assert_eq!(
        to_value(&s),
        serde_json::from_str::<serde_json::Value>(json).unwrap()
    );
    // Wrappers read their scalar's every form. (Their output is
    // pbjson-types': a NaN FloatValue/DoubleValue prints as null.)
    assert!(
        sink(r#"{"wFloatValue":"NaN"}"#)
            .w_float_value
            .is_some_and(|w| w.value.is_nan())
    );
    let s = sink(r#"{"wInt64Value":12,"wUint32Value":"7"}"#);
    assert_eq!(s.w_int64_value.map(|w| w.value), Some(12));
    assert_eq!(s.w_uint32_value.map(|w| w.value), Some(7));
    assert!(sink_err(r#"{"wTimestamp":"yesterday"}"#).contains("timestamp"));
}

#[test]
fn any_prints_with_its_type_url() {
    let any = types::Any::pack(&types::Timestamp {
        seconds: 1,
        nanos: 0,
    });
    let s = Sink {
        w_any: Some(any),
        ..Default::default()
    };
    let json = to_json(&s);
    assert!(
        json.contains("type.googleapis.com/google.protobuf.Timestamp"),
        "{json}"
    );
    assert_eq!(sink(&json), s);
}

#[test]
fn recursive_fields_are_boxed_and_round_trip() {
    let s = Sink {
        child: Some(Box::new(Sink {
            f_int32: 1,
            f_nested: Some(Box::new(Nested {
                back: Some(Box::new(Sink {
                    f_bool: true,
                    ..Default::default()
                })),
                ..Default::default()
            })),
            ..Default::default()
        })),
        ..Default::default()
    };
    let json = r#"{"child":{"fInt32":1,"fNested":{"back":{"fBool":true}}}}"#;
    assert_eq!(to_json(&s), json);
    assert_eq!(sink(json), s);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let depth = 10_000;
    let json = format!("{}{}", r#"{"child":"#.repeat(depth), "}".repeat(depth));
    let err = parse::<Sink>(&format!("{json}}}")).unwrap_err();
    assert!(err.contains("recursion limit"), "{err}");
}

#[test]
fn non_objects_and_wrong_types_are_errors() {
    assert!(parse::<Sink>("[]").is_err());
    assert!(parse::<Sink>("1").is_err());
    assert!(parse::<Sink>(r#"{"fNested":1}"#).is_err());
    assert!(parse::<Sink>(r#"{"fString":1}"#).is_err());
    assert!(parse::<Sink>(r#"{"fBool":"true"}"#).is_err());
    assert!(parse::<Sink>(r#"{"rInt32":{}}"#).is_err());
    assert!(parse::<Sink>(r#"{"mInt32":[]}"#).is_err());
    assert!(parse::<Sink>(r#"{"fInt32":1"#).is_err());
}

#[test]
fn a_full_sink_round_trips() {
    let mut s = sink(concat!(
        r#"{"fDouble":1,"fFloat":2,"fInt32":3,"fInt64":"4","fUint32":5,"fUint64":"6","#,
        r#""fSint32":7,"fSint64":"8","fFixed32":9,"fFixed64":"10","fSfixed32":11,"#,
        r#""fSfixed64":"12","fBool":true,"fString":"s","fBytes":"AQID","fColor":"RED","#,
        r#""fNested":{"value":1,"mood":"HAPPY"},"fMood":1,"rInt64":["1"],"#,
        r#""mSint64":{"-1":"x"},"mNested":{"a":{}},"oNested":{},"pColor":"GREEN","#,
        r#""wDuration":"-1.5s","wStruct":{},"wValue":[],"wListValue":[],"wEmpty":{},"#,
        r#""type":"t","renamed":"r","child":{"child":{}}}"#
    ));
    s.w_any = None;
    let again = sink(&to_json(&s));
    assert_eq!(again, s);
    let o = opts(|o| {
        o.emit_unpopulated = true;
        o.proto_names = true;
        o.enums_as_ints = true;
    });
    let printed = with_options(o, || to_json(&s));
    assert_eq!(sink(&printed), s);
}

#[test]
fn errors_carry_the_path_of_the_field() {
    let path_of = |json: &str| {
        let mut de = serde_json::Deserializer::from_str(json);
        match serde_path_to_error::deserialize::<_, Sink>(&mut de) {
            Ok(_) => panic!("{json} parsed"),
            Err(e) => (e.path().to_string(), e.into_inner().to_string()),
        }
    };
    let (path, message) = path_of(r#"{"fNested":{"value":"x"}}"#);
    assert_eq!(path, "fNested.value");
    assert!(message.contains("not an integer"), "{message}");
    let (path, _) = path_of(r#"{"rNested":[{},{"mood":"SAD"}]}"#);
    assert_eq!(path, "rNested[1].mood");
    let (path, _) = path_of(r#"{"mNested":{"k":{"value":true}}}"#);
    assert_eq!(path, "mNested.k.value");
}

mod roundtrip {
    //! Property tests: a random message survives message -> JSON -> message,
    //! and JSON -> message -> JSON prints the same text.

    use super::*;
    use proptest::collection::{hash_map, vec};
    use proptest::prelude::*;

    /// Any float but NaN (NaN != NaN; its JSON form has its own golden test).
    fn f64s() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>().prop_filter("not NaN", |f| !f.is_nan()),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
        ]
    }

    fn f32s() -> impl Strategy<Value = f32> {
        any::<f32>().prop_filter("not NaN", |f| !f.is_nan())
    }

    fn timestamps() -> impl Strategy<Value = types::Timestamp> {
        (-62_135_596_800i64..=253_402_300_799, 0i32..1_000_000_000)
            .prop_map(|(seconds, nanos)| types::Timestamp { seconds, nanos })
    }

    prop_compose! {
        fn scalars()(
            f_double in f64s(), f_float in f32s(), f_int32 in any::<i32>(),
            f_int64 in any::<i64>(), f_uint32 in any::<u32>(), f_uint64 in any::<u64>(),
            f_sint32 in any::<i32>(), f_sint64 in any::<i64>(), f_fixed32 in any::<u32>(),
            f_fixed64 in any::<u64>(), f_sfixed32 in any::<i32>(), f_sfixed64 in any::<i64>(),
            f_bool in any::<bool>(), f_string in ".*", f_bytes in vec(any::<u8>(), 0..40),
        ) -> Sink {
            Sink {
                f_double, f_float, f_int32, f_int64, f_uint32, f_uint64, f_sint32, f_sint64,
                f_fixed32, f_fixed64, f_sfixed32, f_sfixed64, f_bool, f_string, f_bytes,
                ..Sink::default()
            }
        }
    }

    prop_compose! {
        fn sinks()(
            base in scalars(),
            r_int64 in vec(any::<i64>(), 0..4),
            r_double in vec(f64s(), 0..4),
            r_string in vec(".*", 0..4),
            r_bytes in vec(vec(any::<u8>(), 0..8), 0..3),
            r_color in vec(any::<i32>(), 0..4),
            m_int64 in hash_map(any::<i64>(), ".*", 0..4),
            m_uint64 in hash_map(any::<u64>(), ".*", 0..4),
            m_bool in hash_map(any::<bool>(), ".*", 0..2),
            // Up to 24 entries: past the printer's 16 sorted on the stack.
            m_string in hash_map(".*", ".*", 0..24),
            m_to_int64 in hash_map("[a-z]{1,4}", any::<i64>(), 0..4),
            p_int32 in proptest::option::of(any::<i32>()),
            p_string in proptest::option::of(".*"),
            w_timestamp in proptest::option::of(timestamps()),
        ) -> Sink {
            Sink {
                r_int64, r_double, r_string, r_bytes, r_color, m_int64, m_uint64, m_bool,
                m_string, m_to_int64, p_int32, p_string, w_timestamp,
                ..base
            }
        }
    }

    proptest! {
        #[test]
        fn message_json_message(sink in sinks()) {
            let json = to_json(&sink);
            let back: Sink = parse(&json).map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
            prop_assert_eq!(back, sink);
        }

        #[test]
        fn direct_transcoder_agrees(sink in sinks(), flags in 0u8..16) {
            let json = with_options(flags_options(flags), || to_json(&sink));
            let done = dual_protocol::__fuzz::direct_agrees::<Sink>(json.as_bytes(), flags_options(flags))
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(done, Some(true), "{}", json);
        }

        /// Two encodings one after the other are one message, merged
        /// (last scalar wins, lists append, messages merge): the direct
        /// printer prints what prost decodes, or leaves it to the serde path.
        #[test]
        fn direct_printer_agrees_on_merged_encodings(a in sinks(), b in sinks(), flags in 0u8..16, cut in 0usize..64) {
            use prost::Message as _;
            let mut wire = a.encode_to_vec();
            wire.extend(b.encode_to_vec());
            let done = dual_protocol::__fuzz::direct_print_agrees::<Sink>(&wire, flags_options(flags))
                .map_err(TestCaseError::fail)?;
            prop_assert!(done.is_some());
            // Cut short: prost refuses, or reads a shorter message.
            let cut = wire.len().saturating_sub(cut);
            dual_protocol::__fuzz::direct_print_agrees::<Sink>(&wire[..cut], flags_options(flags))
                .map_err(TestCaseError::fail)?;
        }

        #[test]
        fn json_message_json(sink in sinks()) {
            for options in [
                JsonOptions::default(),
                JsonOptions { emit_unpopulated: true, proto_names: true, enums_as_ints: true, ..JsonOptions::default() },
            ] {
                let first = with_options(options, || to_json(&sink));
                let message: Sink = with_options(options, || parse(&first))
                    .map_err(|e| TestCaseError::fail(format!("{first}: {e}")))?;
                let second = with_options(options, || to_json(&message));
                prop_assert_eq!(first, second);
            }
        }
    }
}

// The direct transcoder (JSON <-> protobuf in one pass) against the serde
// path: the same messages, the same text, the same refusals.

fn flags_options(flags: u8) -> JsonOptions {
    JsonOptions {
        emit_unpopulated: flags & 1 != 0,
        proto_names: flags & 2 != 0,
        enums_as_ints: flags & 4 != 0,
        ignore_unknown_fields: flags & 8 != 0,
    }
}

/// Timestamps and durations are printed straight from the wire: every odd
/// encoding prost takes (fields twice, unknown fields, out of range, the
/// wrong wire type, truncated varints) prints as the serde path prints it,
/// or falls back to it.
#[test]
fn direct_printer_reads_timestamps_and_durations_as_prost_does() {
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let seconds = [
        0i64,
        1,
        -1,
        63_072_000,
        -62_135_596_800,
        253_402_300_799,
        253_402_300_800,
        315_576_000_001,
        i64::MIN,
    ];
    let nanos = [
        0i32,
        1,
        -1,
        500_000_000,
        999_999_999,
        1_000_000_000,
        -500_000_000,
        i32::MIN,
    ];
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    for &s in &seconds {
        for &n in &nanos {
            let mut body = Vec::new();
            body.push(0x08);
            varint(s as u64, &mut body);
            body.push(0x10);
            varint(n as i64 as u64, &mut body);
            bodies.push(body.clone());
            // Twice (the last wins), with an unknown field between.
            let mut twice = vec![0x08, 0x05, 0x18, 0x07];
            twice.extend(&body);
            bodies.push(twice);
        }
    }
    bodies.extend([
        vec![],
        vec![0x09, 0, 0, 0, 0, 0, 0, 0, 0], // seconds as fixed64
        vec![0x12, 0x00],                   // nanos length-delimited
        vec![0x08, 0x80],                   // truncated varint
        vec![0x10, 0x80, 0x80, 0x80, 0x80, 0x10], // nanos wider than 32 bits
        vec![0x1b, 0x1c],                   // a group
    ]);
    let mut printed = 0;
    for body in &bodies {
        for number in [81u64, 82] {
            let mut wire = Vec::new();
            varint(number << 3 | 2, &mut wire);
            varint(body.len() as u64, &mut wire);
            wire.extend(body);
            for flags in [0, 1, 8] {
                let done =
                    dual_protocol::__fuzz::direct_print_agrees::<Sink>(&wire, flags_options(flags))
                        .unwrap_or_else(|e| panic!("field {number}, {body:?}: {e}"));
                printed += usize::from(done == Some(true));
            }
        }
    }
    // A third print directly (the rest are out of range, or prost refuses
    // them): 324 of 900.
    assert!(
        printed >= bodies.len() * 2,
        "{printed} of {}",
        bodies.len() * 6
    );
}

/// Every input of the `json_message` fuzz corpus (an options byte, then
/// JSON), each with its own options and with all sixteen.
#[test]
fn direct_transcoder_agrees_with_serde_on_the_fuzz_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/json_message");
    let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .expect("the committed corpus")
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    assert!(inputs.len() > 300, "{} inputs", inputs.len());
    inputs.sort();
    let mut failures = Vec::new();
    let (mut read, mut direct) = (0, 0);
    for input in &inputs {
        let Some((&flags, json)) = input.split_first() else {
            continue;
        };
        for flags in [flags, 0, 1, 2, 4, 8, 15] {
            // The same bytes as protobuf, as the fuzz target reads them.
            if let Err(e) =
                dual_protocol::__fuzz::direct_print_agrees::<Sink>(json, flags_options(flags))
            {
                failures.push(format!("flags {flags}, as protobuf: {e}"));
            }
            match dual_protocol::__fuzz::direct_agrees::<Sink>(json, flags_options(flags)) {
                Err(e) => failures.push(format!("flags {flags}: {e}")),
                Ok(Some(done)) => {
                    read += 1;
                    direct += usize::from(done);
                }
                Ok(None) => {}
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    // The direct path reads what the serde path reads (giving up is only
    // for bad input): every accepted input but a few rare shapes.
    assert!(
        read > 100 && direct * 100 >= read * 95,
        "{direct} of {read} read directly"
    );
}

#[test]
fn direct_transcoder_agrees_with_serde_on_golden_inputs() {
    let inputs = [
        r#"{}"#,
        r#"{"fInt32":1,"f_int32":2}"#,
        r#"{"oString":"a","oInt64":"1"}"#,
        r#"{"oString":null,"oInt64":"1"}"#,
        r#"{"oValue":null}"#,
        r#"{"wValue":null,"wStruct":{"n":null},"mValue":{"k":null}}"#,
        r#"{"mInt32":{"1":"a","01":"b"}}"#,
        r#"{"mString":{"a":"x","a":"y"}}"#,
        r#"{"rColor":["RED","PURPLE","GREEN"],"mColor":{"a":"PURPLE","b":"RED"},"pColor":"PURPLE","fColor":"PURPLE"}"#,
        r#"{"rInt32":[1,null]}"#,
        r#"{"rValue":[1,null]}"#,
        r#"{"wValues":[1,null,"x",{"a":[]}]}"#,
        r#"{"fNested":{"a":1},"rNested":[{},{"a":2}],"mNested":{"k":{}}}"#,
        r#"{"child":{"child":{"fString":"deep","rInt64":["1","-2"]}}}"#,
        r#"{"fDouble":-0.0,"fFloat":"NaN","rDouble":[1e300,"-Infinity",-0]}"#,
        r#"{"fBytes":"-_-_","rBytes":["AA==","",null]}"#,
        r#"{"fUint64":"18446744073709551615","fSint64":"-9223372036854775808","fSfixed32":-2147483648}"#,
        r#"{"wTimestamp":"1970-01-01T00:00:00Z","wDuration":"1.5s","wFieldMask":"a.b,c","wEmpty":{}}"#,
        r#"{"wAny":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"2s"}}"#,
        r#"{"wInt64Value":"5","wBoolValue":false,"wStringValue":"","wNull":null}"#,
        r#"{"type":"t","renamed":"r"}"#,
        r#"{"custom":"r"}"#,
        r#"{"unknown":1}"#,
        r#"{"pInt32":0,"pString":"","pColor":"RED","pDouble":-0.0}"#,
        r#"[]"#,
        r#"null"#,
        r#"{"fInt32":1} x"#,
        r#"{"mBool":{"true":"t","false":"f","yes":"n"}}"#,
        r#"{"mInt64":{"-1":"a","9223372036854775807":"b"},"mUint32":{"4294967295":"x"}}"#,
    ];
    // Map entries of 128 bytes and more (a two-byte length), a key twice.
    let long = "x".repeat(300);
    let owned = [
        format!(r#"{{"mString":{{"a":"{long}","b":"y","c":"{long}"}}}}"#),
        format!(r#"{{"mString":{{"a":"{long}","a":"y"}}}}"#),
        format!(r#"{{"mString":{{"a":"y","b":"{long}","a":"{long}"}}}}"#),
        format!(r#"{{"mNested":{{"k":{{"child":{{"fString":"{long}"}}}},"k":{{}}}}}}"#),
        format!(r#"{{"rNested":[{{"child":{{"fString":"{long}"}}}}],"fString":"{long}"}}"#),
    ];
    let inputs = inputs
        .iter()
        .copied()
        .chain(owned.iter().map(String::as_str));
    for json in inputs {
        for flags in 0..16 {
            match dual_protocol::__fuzz::direct_agrees::<Sink>(
                json.as_bytes(),
                flags_options(flags),
            ) {
                Err(e) => panic!("flags {flags}: {e}"),
                Ok(Some(false)) => panic!("flags {flags}: the direct path gave up on {json}"),
                Ok(_) => {}
            }
        }
    }
}

// The public entry points (`dual_protocol::json`): options passed
// explicitly, floats in their shortest round-trip form.

#[test]
fn public_api_prints_floats_shortest() {
    use dual_protocol::json;
    let s = Sink {
        f_double: 1.0,
        f_float: 0.1,
        r_double: vec![1e300, -0.0, 1.5e-7, 0.000001, 1e21, f64::NAN],
        r_float: vec![3.4028235e38, 16777216.0],
        ..Default::default()
    };
    let text = json::to_string(&s, &JsonOptions::default()).unwrap();
    assert_eq!(
        text,
        r#"{"fDouble":1,"fFloat":0.1,"rDouble":[1e+300,-0,1.5e-7,0.000001,1e+21,"NaN"],"rFloat":[3.4028235e+38,16777216]}"#
    );
    let back: Sink = json::from_str(&text, &JsonOptions::default()).unwrap();
    assert_eq!(back.r_float, s.r_float);
    assert_eq!(back.f_float, s.f_float);
    assert_eq!(back.r_double[..5], s.r_double[..5]);
    assert!(back.r_double[1].is_sign_negative() && back.r_double[5].is_nan());
    // serde_json alone gives the same data in its own float form.
    assert_eq!(parse::<Sink>(&to_json(&s)).unwrap().r_float, s.r_float);
}

#[test]
fn public_api_drops_unknown_enum_names_when_ignoring_unknown_fields() {
    use dual_protocol::json;
    let lenient = opts(|o| o.ignore_unknown_fields = true);
    let input = r#"{"rColor":["RED","PURPLE","GREEN"],"mColor":{"a":"PURPLE","b":"RED"},"pColor":"PURPLE","fColor":"PURPLE"}"#;
    let s: Sink = json::from_str(input, &lenient).unwrap();
    assert_eq!(s.r_color, [Color::Red as i32, Color::Green as i32]);
    assert_eq!(s.m_color, [("b".to_owned(), Color::Red as i32)].into());
    assert_eq!(s.p_color, None);
    assert_eq!(s.f_color, 0);
    let s: Sink = json::from_str(r#"{"oColor":"PURPLE"}"#, &lenient).unwrap();
    assert_eq!(s.choice, None);
    let error = json::from_str::<Sink>(input, &JsonOptions::default()).unwrap_err();
    assert_eq!(error.path(), "rColor[1]");
}

#[test]
fn public_api_reads_null_in_struct_and_value_as_null_value() {
    use dual_protocol::json;
    use types::value::Kind;
    let s: Sink = json::from_str(
        r#"{"wValue":null,"wStruct":{"n":null},"mValue":{"k":null}}"#,
        &JsonOptions::default(),
    )
    .unwrap();
    let null = Some(Kind::NullValue(0));
    assert_eq!(s.w_value.unwrap().kind, null);
    assert_eq!(s.w_struct.unwrap().fields["n"].kind, null);
    assert_eq!(s.m_value["k"].kind, null);
}

/// The README's example of the public API.
#[test]
fn readme_public_api_example() {
    use dual_protocol::json::{self, JsonOptions};
    let options = JsonOptions {
        emit_unpopulated: true,
        ..JsonOptions::default()
    };
    let text = json::to_string(&dual_protocol::rpc::BadRequest::default(), &options).unwrap();
    assert_eq!(text, r#"{"fieldViolations":[]}"#);
}
