//! JSON bytes -> the kitchen-sink message (every proto3 JSON rule) with
//! random `JsonOptions`; when it parses: JSON out, protobuf out and back,
//! and JSON back in must all describe the same message. The direct
//! transcoder (JSON <-> protobuf in one pass) must agree with all that, on
//! the input as JSON and on the input as protobuf bytes.
#![no_main]

use dual_protocol::__private::json::{JsonOptions, with_options};
use dual_protocol_fuzz::kitchen::v1::Sink;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, json)) = data.split_first() else {
        return;
    };
    let mut options = JsonOptions::default();
    options.emit_unpopulated = flags & 1 != 0;
    options.proto_names = flags & 2 != 0;
    options.enums_as_ints = flags & 4 != 0;
    options.ignore_unknown_fields = flags & 8 != 0;
    if let Err(e) = dual_protocol::__fuzz::direct_agrees::<Sink>(json, options) {
        panic!("{e}");
    }
    if let Err(e) = dual_protocol::__fuzz::direct_print_agrees::<Sink>(json, options) {
        panic!("{e}");
    }
    with_options(options, || {
        let Ok(sink) = serde_json::from_slice::<Sink>(json) else {
            return;
        };
        // Maps are hash maps: compare JSON values (objects compare without
        // order), not bytes. NaN prints as "NaN", so values compare.
        let printed = serde_json::to_value(&sink).expect("a parsed message prints");
        let wire = sink.encode_to_vec();
        let decoded = Sink::decode(&wire[..]).expect("its own encoding decodes");
        // prost leaves a singular -0.0 off the wire (it compares with 0.0;
        // protobuf's C++ compares bits), and JSON prints it: found by this
        // target, prost's behaviour, so compared without such fields.
        let mut expected = printed.clone();
        let mut got = serde_json::to_value(&decoded).unwrap();
        without_negative_zeros(&mut expected, &mut got);
        assert_eq!(got, expected, "protobuf round trip");
        let text = serde_json::to_string(&sink).unwrap();
        let again: Sink = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("printed JSON does not parse: {e}: {text}"));
        assert_eq!(
            serde_json::to_value(&again).unwrap(),
            printed,
            "JSON round trip"
        );
    });
});

/// Removes from both sides the object members that are -0.0 in `printed`
/// (at any depth): `decoded` lacks them, or has 0 with `emit_unpopulated`.
fn without_negative_zeros(printed: &mut serde_json::Value, decoded: &mut serde_json::Value) {
    use serde_json::Value;
    let negative_zero = |v: &Value| v.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative());
    match (printed, decoded) {
        (Value::Object(p), Value::Object(d)) => {
            let zeros: Vec<String> = p
                .iter()
                .filter(|(_, v)| negative_zero(v))
                .map(|(k, _)| k.clone())
                .collect();
            for key in zeros {
                p.remove(&key);
                d.remove(&key);
            }
            for (key, value) in p.iter_mut() {
                if let Some(other) = d.get_mut(key) {
                    without_negative_zeros(value, other);
                }
            }
        }
        (Value::Array(p), Value::Array(d)) => {
            for (value, other) in p.iter_mut().zip(d.iter_mut()) {
                without_negative_zeros(value, other);
            }
        }
        _ => {}
    }
}
