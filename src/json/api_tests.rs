use super::*;
use crate::types;

fn options() -> JsonOptions {
    JsonOptions::default()
}

#[test]
fn floats_print_shortest_through_the_public_api() {
    let value = types::DoubleValue { value: 1.0 };
    assert_eq!(to_string(&value, &options()).unwrap(), "1");
    let value = types::DoubleValue { value: 1e300 };
    assert_eq!(to_string(&value, &options()).unwrap(), "1e+300");
    let value = types::FloatValue { value: 0.1 };
    assert_eq!(to_string(&value, &options()).unwrap(), "0.1");
    let value = types::DoubleValue { value: -0.0 };
    assert_eq!(to_string(&value, &options()).unwrap(), "-0");
    let value = types::DoubleValue { value: f64::NAN };
    assert_eq!(to_string(&value, &options()).unwrap(), r#""NaN""#);
}

#[test]
fn errors_name_the_field_path() {
    let error = from_str::<crate::rpc::BadRequest>(
        r#"{"fieldViolations":[{"field":"a"},{"field":7}]}"#,
        &options(),
    )
    .unwrap_err();
    assert_eq!(error.path(), "fieldViolations[1].field");
    assert!(error.to_string().starts_with("fieldViolations[1].field: "));
    let error = from_str::<crate::rpc::BadRequest>("{", &options()).unwrap_err();
    assert_eq!(error.path(), "");
    assert!(error.to_string().starts_with("malformed JSON"), "{error}");
}

#[test]
fn serialization_errors_name_the_field_path_too() {
    let info = crate::rpc::RetryInfo {
        retry_delay: Some(types::Duration {
            seconds: 1,
            nanos: -1,
        }),
    };
    let error = to_string(&info, &options()).unwrap_err();
    assert_eq!(error.path(), "retryDelay");
}

#[test]
fn options_are_passed_explicitly() {
    let request = crate::rpc::BadRequest::default();
    let all = JsonOptions {
        emit_unpopulated: true,
        ..options()
    };
    assert_eq!(
        to_string(&request, &all).unwrap(),
        r#"{"fieldViolations":[]}"#
    );
    assert_eq!(to_string(&request, &options()).unwrap(), "{}");
    let lenient = JsonOptions {
        ignore_unknown_fields: true,
        ..options()
    };
    assert!(from_str::<crate::rpc::BadRequest>(r#"{"x":1}"#, &options()).is_err());
    assert!(from_str::<crate::rpc::BadRequest>(r#"{"x":1}"#, &lenient).is_ok());
    // Nothing is left behind on the thread.
    assert_eq!(crate::__private::json::options(), JsonOptions::default());
}
