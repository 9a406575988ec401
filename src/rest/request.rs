//! A REST call as the JSON of the request message: the body (all of it, one
//! field of it, or none), with path variables and query parameters set as
//! fields on top.

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
        exceeded: false,
        field: e.parameter().to_owned(),
        message: e.to_string(),
    })?;
    for (path, value) in params {
        if body_is_everything {
            return Err(JsonError {
                exceeded: false,
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
        exceeded: false,
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
