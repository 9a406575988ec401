//! The OpenAPI document a layer serves and the docs page beside it.
//!
//! `dual-protocol-build` writes one document per package (its
//! `PackageDescriptor::openapi`), for the default JSON options. When the
//! layer is built, the documents of its packages are merged, narrowed to
//! the services the layer serves (and the schemas those reach), and
//! rewritten for the layer's JSON options; the bytes are then answered as
//! they are, without calling the inner service.

use std::collections::HashSet;
use std::fmt;

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::JsonOptions;
use crate::error::Error;
use crate::registry::{PackageDescriptor, Registry};
use crate::rest::router::RouteMatch;

/// The docs page: one self-contained file (no network but the document).
const DOCS_HTML: &str = include_str!("docs.html");
/// Where the page's script finds the document's URL.
const DOCS_PLACEHOLDER: &str = "\"__DUAL_PROTOCOL_OPENAPI_URL__\"";

/// The generator's enum sentence, reworded for `enums_as_ints`.
const ENUM_NAMES: &str = "Written by name; the number is accepted too.";
const ENUM_NUMBERS: &str =
    "Written as its number (the server's `enums_as_ints`); the name is accepted too.";

/// The pages a layer answers itself: the document and, optionally, the
/// docs page.
#[derive(Debug)]
pub(crate) struct Pages {
    document_path: String,
    document: Page,
    docs: Option<(String, Page)>,
}

/// One page: its content type and bytes.
#[derive(Debug)]
pub(crate) struct Page {
    content_type: &'static str,
    body: Bytes,
}

impl Pages {
    /// Merges the documents of `packages` for the services `registry`
    /// serves and checks the paths.
    pub(crate) fn new(
        document_path: String,
        docs_path: Option<String>,
        packages: &[PackageDescriptor],
        registry: &Registry,
        options: JsonOptions,
    ) -> Result<Self, Error> {
        check_path("openapi", &document_path, registry)?;
        if let Some(docs) = &docs_path {
            check_path("openapi docs", docs, registry)?;
            if *docs == document_path {
                return Err(Error::new(format!(
                    "openapi docs path {docs:?} is the document's path too"
                )));
            }
        }
        let document = merge(packages, |service| registry.has_service(service), options)?;
        let body: Bytes = serde_json::to_vec(&document)
            .expect("a JSON tree serializes")
            .into();
        let docs = docs_path.map(|docs| {
            let url = serde_json::to_string(&relative_url(&docs, &document_path))
                .expect("a string serializes");
            let page = Page {
                content_type: "text/html; charset=utf-8",
                body: DOCS_HTML.replacen(DOCS_PLACEHOLDER, &url, 1).into(),
            };
            (docs, page)
        });
        Ok(Self {
            document_path,
            document: Page {
                content_type: "application/json",
                body,
            },
            docs,
        })
    }

    /// The page served at `path`, if any.
    pub(crate) fn get(&self, path: &str) -> Option<&Page> {
        if path == self.document_path {
            return Some(&self.document);
        }
        match &self.docs {
            Some((docs, page)) if docs == path => Some(page),
            _ => None,
        }
    }
}

impl Page {
    /// The 200 answer; without the body for `HEAD`.
    pub(crate) fn response<B: From<Bytes>>(&self, head: bool) -> Response<B> {
        let body = if head {
            Bytes::new()
        } else {
            self.body.clone()
        };
        let mut response = Response::new(B::from(body));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        // Fixed for the life of the process, but a restart may change it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// A path the layer can answer: absolute, no query, not one of the API's.
fn check_path(what: &str, path: &str, registry: &Registry) -> Result<(), Error> {
    let parsed = path.parse::<http::uri::PathAndQuery>();
    if !path.starts_with('/') || parsed.map_or(true, |p| p.as_str() != path || p.query().is_some())
    {
        return Err(Error::new(format!(
            "{what} path {path:?} must be an absolute URL path, e.g. \"/openapi.json\""
        )));
    }
    let taken = registry.method(path).is_some()
        || !matches!(registry.route(&Method::GET, path), RouteMatch::NotFound);
    if taken {
        return Err(Error::new(format!(
            "{what} path {path:?} is a path of the API it documents"
        )));
    }
    Ok(())
}

/// The document's URL as the page fetches it: relative when both are in
/// one directory, so that the pair works behind a path prefix too.
fn relative_url(docs: &str, document: &str) -> String {
    let directory = |p: &str| p.rfind('/').map_or(0, |i| i + 1);
    let (docs_dir, document_dir) = (directory(docs), directory(document));
    if docs[..docs_dir] == document[..document_dir] {
        format!("./{}", &document[document_dir..])
    } else {
        document.to_owned()
    }
}

/// One document for `packages`, with the operations of the services
/// `served` accepts and the components they reach.
fn merge(
    packages: &[PackageDescriptor],
    served: impl Fn(&str) -> bool,
    options: JsonOptions,
) -> Result<Json, Error> {
    let mut packages: Vec<&PackageDescriptor> = packages.iter().collect();
    packages.sort_by_key(|p| p.name);
    packages.dedup_by_key(|p| p.name);
    let mut titles = Vec::new();
    let mut paths = Json::obj();
    let mut tags = Vec::new();
    let mut schemas = Json::obj();
    let mut responses = Json::obj();
    let mut ids = HashSet::new();
    let mut description = None;
    for package in packages {
        if package.openapi.is_empty() {
            continue;
        }
        let document: Json = serde_json::from_str(package.openapi).map_err(|e| {
            Error::with_source(
                format!("the OpenAPI document of package {}: {e}", package.name),
                e,
            )
        })?;
        let mut document = document;
        let mut used = false;
        for (path, item) in document.take("paths").into_entries() {
            for (verb, mut operation) in item.into_entries() {
                let service = operation
                    .get("tags")
                    .and_then(|t| t.index(0))
                    .and_then(Json::as_str)
                    .unwrap_or_default();
                if !served(service) {
                    continue;
                }
                // Two packages may have services of one name (v1, v2).
                if let Some(Json::Str(id)) = operation.get_mut("operationId")
                    && !ids.insert(id.clone())
                {
                    *id = format!("{}_{id}", package.name.replace('.', "_"));
                    ids.insert(id.clone());
                }
                paths.entry(&path).set(&verb, operation);
                used = true;
            }
        }
        if !used {
            continue;
        }
        titles.push(package.name);
        for tag in document.take("tags").into_items() {
            if tag.get("name").and_then(Json::as_str).is_some_and(&served) {
                tags.push(tag);
            }
        }
        let mut components = document.take("components");
        for (name, schema) in components.take("schemas").into_entries() {
            if schemas.get(&name).is_none() {
                schemas.set(&name, schema);
            }
        }
        for (name, response) in components.take("responses").into_entries() {
            if responses.get(&name).is_none() {
                responses.set(&name, response);
            }
        }
        if description.is_none() {
            description = document
                .get("info")
                .and_then(|i| i.get("description"))
                .cloned();
        }
    }
    let (schemas, responses) = reachable(&paths, schemas, responses);
    let schemas = schemas
        .into_entries()
        .into_iter()
        .map(|(name, mut schema)| {
            rewrite(&mut schema, options);
            (name, schema)
        })
        .collect();
    let mut info = Json::obj()
        .with(
            "title",
            Json::Str(if titles.is_empty() {
                "No services".to_owned()
            } else {
                titles.join(", ")
            }),
        )
        .with("version", Json::Str("1".to_owned()));
    let mut text = match description {
        Some(Json::Str(text)) => text,
        _ => String::new(),
    };
    let notes = options_notes(options);
    if !notes.is_empty() {
        text.push_str("\n\nThis server's JSON options: ");
        text.push_str(&notes.join("; "));
        text.push('.');
    }
    if !text.is_empty() {
        info.set("description", Json::Str(text));
    }
    Ok(Json::obj()
        .with("openapi", Json::Str("3.1.0".to_owned()))
        .with("info", info)
        // The server that serves the document (what OpenAPI assumes
        // anyway; said, so that tools need not guess).
        .with(
            "servers",
            Json::Arr(vec![Json::obj().with("url", Json::Str("/".to_owned()))]),
        )
        .with("tags", Json::Arr(tags))
        .with("paths", paths)
        .with(
            "components",
            Json::obj()
                .with("schemas", Json::Obj(schemas))
                .with("responses", responses),
        ))
}

fn options_notes(options: JsonOptions) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if options.proto_names {
        notes.push("fields are written by their proto names (`proto_names`)");
    }
    if options.enums_as_ints {
        notes.push("enums are written as numbers (`enums_as_ints`)");
    }
    if options.emit_unpopulated {
        notes.push("fields at their default value are written too (`emit_unpopulated`)");
    }
    if options.ignore_unknown_fields {
        notes.push("unknown fields and query parameters are ignored (`ignore_unknown_fields`)");
    }
    notes
}

/// The components `paths` reaches through `$ref`s, transitively.
fn reachable(paths: &Json, schemas: Json, responses: Json) -> (Json, Json) {
    let mut pending = Vec::new();
    paths.refs(&mut pending);
    let mut seen: HashSet<String> = HashSet::new();
    while let Some(target) = pending.pop() {
        if !seen.insert(target.clone()) {
            continue;
        }
        let found = if let Some(name) = target.strip_prefix("#/components/schemas/") {
            schemas.get(name)
        } else if let Some(name) = target.strip_prefix("#/components/responses/") {
            responses.get(name)
        } else {
            None
        };
        if let Some(component) = found {
            component.refs(&mut pending);
        }
    }
    let keep = |kind: &str, components: Json| {
        Json::Obj(
            components
                .into_entries()
                .into_iter()
                .filter(|(name, _)| seen.contains(&format!("#/components/{kind}/{name}")))
                .collect(),
        )
    };
    (keep("schemas", schemas), keep("responses", responses))
}

/// Adapts a component schema to the layer's JSON options.
fn rewrite(schema: &mut Json, options: JsonOptions) {
    if options.proto_names
        && let Some(Json::Obj(properties)) = schema.get_mut("properties")
    {
        let mut renames = Vec::new();
        for (name, property) in properties.iter_mut() {
            if let Some(Json::Str(proto)) = property.take_key("x-proto-name") {
                property.set("x-json-name", Json::Str(name.clone()));
                renames.push((name.clone(), proto.clone()));
                *name = proto;
            }
        }
        if !renames.is_empty() {
            // The oneof lists and constraints name properties too.
            let rename = |value: &mut Json| {
                if let Json::Str(s) = value
                    && let Some((_, proto)) = renames.iter().find(|(json, _)| json == s)
                {
                    *s = proto.clone();
                }
            };
            if let Some(Json::Obj(oneofs)) = schema.get_mut("x-oneof") {
                for (_, members) in oneofs {
                    members.for_each_item(rename);
                }
            }
            if let Some(Json::Arr(pairs)) = schema.get_mut("not").and_then(|n| n.get_mut("anyOf")) {
                for pair in pairs {
                    if let Some(required) = pair.get_mut("required") {
                        required.for_each_item(rename);
                    }
                }
            }
        }
    }
    if options.enums_as_ints
        && let Some(numbers) = schema.take_key("x-enum-numbers")
    {
        let names = schema.take_key("enum").unwrap_or(Json::Arr(Vec::new()));
        schema.set("type", Json::Str("integer".to_owned()));
        schema.set("enum", numbers);
        schema.set("x-enum-varnames", names);
        if let Some(Json::Str(description)) = schema.get_mut("description") {
            *description = description.replace(ENUM_NAMES, ENUM_NUMBERS);
        }
    }
    if options.ignore_unknown_fields
        && schema.get("additionalProperties") == Some(&Json::Bool(false))
    {
        schema.take_key("additionalProperties");
    }
}

/// A JSON value that keeps its keys in order (the generator wrote them in
/// field and declaration order; `serde_json::Value` would sort them).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn obj() -> Self {
        Json::Obj(Vec::new())
    }

    fn with(mut self, key: &str, value: Json) -> Self {
        self.set(key, value);
        self
    }

    fn set(&mut self, key: &str, value: Json) {
        if let Json::Obj(entries) = self {
            match entries.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => entries.push((key.to_owned(), value)),
            }
        }
    }

    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Json> {
        match self {
            Json::Obj(entries) => entries.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The object at `key`, made empty first if missing.
    fn entry(&mut self, key: &str) -> &mut Json {
        if self.get(key).is_none() {
            self.set(key, Json::obj());
        }
        self.get_mut(key).expect("just set")
    }

    /// Removes `key` and returns its value.
    fn take_key(&mut self, key: &str) -> Option<Json> {
        match self {
            Json::Obj(entries) => {
                let i = entries.iter().position(|(k, _)| k == key)?;
                Some(entries.remove(i).1)
            }
            _ => None,
        }
    }

    /// Removes `key`; `Null` when missing.
    fn take(&mut self, key: &str) -> Json {
        self.take_key(key).unwrap_or(Json::Null)
    }

    fn index(&self, i: usize) -> Option<&Json> {
        match self {
            Json::Arr(items) => items.get(i),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    fn into_entries(self) -> Vec<(String, Json)> {
        match self {
            Json::Obj(entries) => entries,
            _ => Vec::new(),
        }
    }

    fn into_items(self) -> Vec<Json> {
        match self {
            Json::Arr(items) => items,
            _ => Vec::new(),
        }
    }

    fn for_each_item(&mut self, f: impl Fn(&mut Json)) {
        if let Json::Arr(items) = self {
            items.iter_mut().for_each(f);
        }
    }

    /// Every `$ref` target under this value.
    fn refs(&self, out: &mut Vec<String>) {
        match self {
            Json::Obj(entries) => {
                for (key, value) in entries {
                    match (key.as_str(), value) {
                        ("$ref", Json::Str(target)) => out.push(target.clone()),
                        _ => value.refs(out),
                    }
                }
            }
            Json::Arr(items) => items.iter().for_each(|v| v.refs(out)),
            _ => {}
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::Str(s) => serializer.serialize_str(s),
            Json::Arr(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Obj(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Number(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Json, E> {
                Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::Str(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Arr(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Json>()? {
                    entries.push((key, value));
                }
                Ok(Json::Obj(entries))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests;
