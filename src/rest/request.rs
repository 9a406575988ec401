//! A REST call as the JSON of the request message: the body (all of it, one
//! field of it, or none), with path variables and query parameters set as
//! fields on top.

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::__private::FieldKind;
use crate::registry::{FieldDescriptor, Registry};
use crate::rest::query;
use crate::transcode::json::JsonError;

/// Where a value came from; a query parameter may not repeat a singular
/// field, a path variable overrides the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Path,
    Query,
    /// A query parameter, skipped when it names no field.
    QueryIgnoringUnknown,
}

/// Path variables and query parameters as a JSON object to lay over the body;
/// with `ignore_unknown`, query parameters naming no field are skipped.
pub(crate) fn overlay(
    registry: &Registry,
    input: &str,
    bindings: Vec<(&[String], String)>,
    query: Option<&str>,
    body_is_everything: bool,
    ignore_unknown: bool,
) -> Result<Map<String, Value>, JsonError> {
    let mut object = Map::new();
    for (path, value) in bindings {
        set(registry, input, &mut object, path, value, Source::Path)?;
    }
    let params = query::parse(query.unwrap_or_default()).map_err(|e| JsonError {
        field: e.parameter().to_owned(),
        message: e.to_string(),
    })?;
    for (path, value) in params {
        if body_is_everything {
            return Err(JsonError {
                field: path.join("."),
                message: "query parameters are not accepted: every field comes from the body"
                    .to_owned(),
            });
        }
        let source = if ignore_unknown {
            Source::QueryIgnoringUnknown
        } else {
            Source::Query
        };
        set(registry, input, &mut object, &path, value, source)?;
    }
    Ok(object)
}

fn set(
    registry: &Registry,
    mut message: &str,
    mut object: &mut Map<String, Value>,
    path: &[String],
    value: String,
    source: Source,
) -> Result<(), JsonError> {
    let problem = |message: String| JsonError {
        field: path.join("."),
        message,
    };
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| problem("empty parameter name".to_owned()))?;
    for name in parents {
        let Some(field) = find(registry, message, name) else {
            return unknown(
                source,
                problem(format!("unknown field {name} of {message}")),
            );
        };
        if field.kind != FieldKind::Message || field.repeated {
            return Err(problem(format!("{name} is not a singular message field")));
        }
        object = object
            .entry(field.json_name)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| problem(format!("{name} is set to a non-object in the body")))?;
        message = field.message;
    }
    let Some(field) = find(registry, message, last) else {
        return unknown(
            source,
            problem(format!("unknown field {last} of {message}")),
        );
    };
    let json = match field.kind {
        FieldKind::String => Value::String(value),
        // Enum numbers are JSON numbers; names are strings.
        FieldKind::Enum => value
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(value)),
        FieldKind::Bool => match value.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(problem(format!("expected true or false, got {value:?}"))),
        },
        FieldKind::Message | FieldKind::Unsupported => {
            return Err(problem(
                "a message or map field cannot be set from a path or query parameter; name one of its fields"
                    .to_owned(),
            ));
        }
    };
    let key = field.json_name.to_owned();
    if field.repeated {
        match object
            .entry(key)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            Value::Array(items) => items.push(json),
            _ => return Err(problem("is set to a non-array in the body".to_owned())),
        }
    } else if source != Source::Path && object.contains_key(&key) {
        return Err(problem("given more than once".to_owned()));
    } else {
        object.insert(key, json);
    }
    Ok(())
}

/// The field of `message` named `name` (proto or JSON name).
fn find(registry: &Registry, message: &str, name: &str) -> Option<&'static FieldDescriptor> {
    registry
        .fields(message)
        .iter()
        .find(|f| f.name == name || f.json_name == name)
}

/// A field that does not exist: an error, or nothing when ignoring.
fn unknown(source: Source, error: JsonError) -> Result<(), JsonError> {
    match source {
        Source::QueryIgnoringUnknown => Ok(()),
        Source::Path | Source::Query => Err(error),
    }
}

/// The request JSON: `body` placed by the rule's `body` (`"*"`, a field's
/// JSON name, or `""`), then `overlay` merged on top.
pub(crate) fn merge(
    body_rule: &str,
    body: Bytes,
    overlay: Map<String, Value>,
) -> Result<Bytes, JsonError> {
    // Nothing to lay over a whole-body rule: the body is the request as it
    // is, parsed once, by the codec (so `POST /v1/echo` costs what the RPC
    // path costs).
    if overlay.is_empty() && body_rule == "*" {
        return Ok(body);
    }
    let blank = body.iter().all(u8::is_ascii_whitespace);
    let parsed = || -> Result<Value, JsonError> {
        serde_json::from_slice(&body).map_err(|e| JsonError {
            field: String::new(),
            message: format!("malformed JSON: {e}"),
        })
    };
    let mut base = match body_rule {
        _ if blank => Map::new(),
        "*" => match parsed()? {
            Value::Object(object) => object,
            other => {
                return Err(JsonError {
                    field: String::new(),
                    message: format!("expected a JSON object, got {}", kind_of(&other)),
                });
            }
        },
        "" => {
            return Err(JsonError {
                field: String::new(),
                message: "this route takes no body; send the fields as query parameters".to_owned(),
            });
        }
        field => Map::from_iter([(field.to_owned(), parsed()?)]),
    };
    deep_merge(&mut base, overlay);
    Ok(serde_json::to_vec(&Value::Object(base))
        .expect("a JSON value serializes")
        .into())
}

fn deep_merge(base: &mut Map<String, Value>, overlay: Map<String, Value>) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(inner)), Value::Object(more)) => deep_merge(inner, more),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The field `response_body` names, out of the response JSON (`null` when
/// the field has its default value and was omitted).
pub(crate) fn select(json: &[u8], field: &str) -> Vec<u8> {
    let value = serde_json::from_slice::<Value>(json)
        .ok()
        .and_then(|mut v| v.get_mut(field).map(Value::take))
        .unwrap_or(Value::Null);
    serde_json::to_vec(&value).expect("a JSON value serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_modes_and_overlay() {
        let body = |b: &'static [u8]| Bytes::from_static(b);
        let overlay: Map<String, Value> =
            serde_json::from_str(r#"{"book":{"name":"shelves/1/books/2"},"x":1}"#).unwrap();
        let merged = merge("book", body(br#"{"title":"T"}"#), overlay.clone()).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&merged).unwrap(),
            serde_json::json!({"book":{"title":"T","name":"shelves/1/books/2"},"x":1})
        );
        let merged = merge("*", body(b""), overlay.clone()).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&merged).unwrap()["x"], 1);
        let error = merge("*", body(b"[1]"), overlay.clone()).unwrap_err();
        assert!(error.message.contains("an array"), "{error}");
        assert!(merge("", body(b"{}"), Map::new()).is_err());
        assert!(merge("", body(b"  "), Map::new()).is_ok());
        let error = merge("*", body(b"{"), overlay.clone()).unwrap_err();
        assert!(error.message.starts_with("malformed JSON"), "{error}");
        // Nothing to lay over a whole body: the very bytes, unparsed.
        let raw = body(b"{\"a\":1}");
        assert_eq!(
            merge("*", raw.clone(), Map::new()).unwrap().as_ptr(),
            raw.as_ptr()
        );
    }

    #[test]
    fn select_a_response_field() {
        assert_eq!(select(br#"{"a":{"b":1},"c":2}"#, "a"), br#"{"b":1}"#);
        assert_eq!(select(br#"{"c":2}"#, "a"), b"null");
    }
}
