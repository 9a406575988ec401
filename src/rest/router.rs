//! (HTTP method, path) -> route, for `google.api.http` templates.
//!
//! A segment trie: each node has literal children, one `*` child and the
//! routes that end there or continue with `**`. A lookup walks the request
//! path once, so its cost depends on the path, not on how many routes there
//! are. Literals are tried before `*` and `*` before `**`; when a literal
//! branch dead-ends the search backs up and tries the wildcard. Every node
//! sits at a fixed depth, so even with backtracking each node is visited at
//! most once per lookup.
//!
//! Paths are matched on their raw (percent-encoded) segments; only variable
//! values are decoded, after a route is chosen.

use std::collections::HashMap;
use std::fmt;

use http::Method;

use super::query::{DecodeError, percent_decode};
use super::template::{Segment, Template, TemplateError};

/// Routes keyed by method and path template.
#[derive(Debug)]
pub(crate) struct Router<T> {
    root: Node<T>,
}

#[derive(Debug)]
struct Node<T> {
    literals: HashMap<String, Node<T>>,
    any: Option<Box<Node<T>>>,
    /// Templates that end at this node, one endpoint per verb suffix.
    ends: Vec<Endpoint<T>>,
    /// Templates whose `**` starts at this node.
    rest: Vec<Endpoint<T>>,
}

/// The routes of one template shape and verb suffix, one per method.
#[derive(Debug)]
struct Endpoint<T> {
    verb: Option<String>,
    routes: Vec<Route<T>>,
}

#[derive(Debug)]
struct Route<T> {
    method: Method,
    source: String,
    template: Template,
    value: T,
}

/// Why a route could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteError {
    /// The template does not parse.
    Template(TemplateError),
    /// A route with the same method already matches exactly the same paths.
    Conflict {
        method: Method,
        template: String,
        existing: String,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::Template(e) => e.fmt(f),
            RouteError::Conflict {
                method,
                template,
                existing,
            } => write!(
                f,
                "route {method} {template} conflicts with {method} {existing}: both match the same paths"
            ),
        }
    }
}

impl std::error::Error for RouteError {}

/// The answer to one lookup.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RouteMatch<'a, T> {
    /// A route of this method matches; `bindings` are the decoded values of
    /// its path variables, in template order.
    Found {
        value: &'a T,
        bindings: Vec<(&'a [String], String)>,
    },
    /// A route of this method matches, but a variable's value does not
    /// decode (bad `%` escape or not UTF-8): a 400 naming the field.
    BadBinding {
        value: &'a T,
        field_path: &'a [String],
        error: DecodeError,
    },
    /// The path matches routes of other methods only: a 405 with `Allow`.
    MethodNotAllowed { allow: Vec<Method> },
    /// No route matches the path.
    NotFound,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Node<T> {
    fn new() -> Self {
        Node {
            literals: HashMap::new(),
            any: None,
            ends: Vec::new(),
            rest: Vec::new(),
        }
    }
}

impl<T> Router<T> {
    pub(crate) fn new() -> Self {
        Router { root: Node::new() }
    }

    /// Adds a route. Fails on a malformed template or when a route of the
    /// same method matches the same paths (whatever its variable names), so
    /// that which one serves a request never depends on insertion order.
    pub(crate) fn insert(
        &mut self,
        method: Method,
        template: &str,
        value: T,
    ) -> Result<(), RouteError> {
        let parsed = Template::parse(template).map_err(RouteError::Template)?;
        let mut node = &mut self.root;
        let mut at_rest = false;
        for segment in &parsed.segments {
            match segment {
                Segment::Literal(literal) => {
                    node = node
                        .literals
                        .entry(literal.clone())
                        .or_insert_with(Node::new);
                }
                Segment::Any => node = node.any.get_or_insert_with(|| Box::new(Node::new())),
                // `Template::parse` guarantees `**` is last.
                Segment::Rest => at_rest = true,
            }
        }
        let endpoints = if at_rest {
            &mut node.rest
        } else {
            &mut node.ends
        };
        let index = match endpoints.iter().position(|e| e.verb == parsed.verb) {
            Some(index) => index,
            None => {
                endpoints.push(Endpoint {
                    verb: parsed.verb.clone(),
                    routes: Vec::new(),
                });
                endpoints.len() - 1
            }
        };
        let endpoint = &mut endpoints[index];
        if let Some(existing) = endpoint.routes.iter().find(|r| r.method == method) {
            return Err(RouteError::Conflict {
                method,
                template: template.to_owned(),
                existing: existing.source.clone(),
            });
        }
        endpoint.routes.push(Route {
            method,
            source: template.to_owned(),
            template: parsed,
            value,
        });
        Ok(())
    }

    /// Finds the route for `method` and `path` (`uri.path()`: no query).
    pub(crate) fn at(&self, method: &Method, path: &str) -> RouteMatch<'_, T> {
        let Some(raw) = path.strip_prefix('/') else {
            return RouteMatch::NotFound;
        };
        // The segments, on the stack for the usual handful (no allocation
        // per request), on the heap past 16.
        let count = raw.bytes().filter(|&b| b == b'/').count() + 1;
        let mut stack = [""; 16];
        let mut heap = Vec::new();
        let segments: &mut [&str] = if count <= stack.len() {
            for (slot, segment) in stack.iter_mut().zip(raw.split('/')) {
                *slot = segment;
            }
            &mut stack[..count]
        } else {
            heap.extend(raw.split('/'));
            &mut heap
        };
        let mut search = Search {
            method,
            allow: Vec::new(),
        };
        // A `:verb` suffix is only known once a route says so: try the last
        // segment split at its last ':' first (a verb route is the more
        // specific one), then whole.
        let last = segments.len() - 1;
        if let Some((prefix, verb)) = segments[last].rsplit_once(':') {
            let whole = segments[last];
            segments[last] = prefix;
            if let Some(route) = search.node(&self.root, segments, 0, Some(verb)) {
                return found(route, segments);
            }
            segments[last] = whole;
        }
        if let Some(route) = search.node(&self.root, segments, 0, None) {
            return found(route, segments);
        }
        if search.allow.is_empty() {
            RouteMatch::NotFound
        } else {
            RouteMatch::MethodNotAllowed {
                allow: search.allow,
            }
        }
    }
}

/// Depth-first search state: the method wanted, and the methods of every
/// endpoint whose path matched but whose methods did not.
struct Search<'m> {
    method: &'m Method,
    allow: Vec<Method>,
}

impl Search<'_> {
    fn node<'a, T>(
        &mut self,
        node: &'a Node<T>,
        segments: &[&str],
        depth: usize,
        verb: Option<&str>,
    ) -> Option<&'a Route<T>> {
        match segments.get(depth) {
            None => {
                if let Some(route) = self.endpoint(&node.ends, verb) {
                    return Some(route);
                }
            }
            Some(segment) => {
                if let Some(child) = node.literals.get(*segment)
                    && let Some(route) = self.node(child, segments, depth + 1, verb)
                {
                    return Some(route);
                }
                if let Some(child) = &node.any
                    && !segment.is_empty()
                    && let Some(route) = self.node(child, segments, depth + 1, verb)
                {
                    return Some(route);
                }
            }
        }
        // `**` takes the rest of the path, zero segments included.
        self.endpoint(&node.rest, verb)
    }

    fn endpoint<'a, T>(
        &mut self,
        endpoints: &'a [Endpoint<T>],
        verb: Option<&str>,
    ) -> Option<&'a Route<T>> {
        let endpoint = endpoints.iter().find(|e| e.verb.as_deref() == verb)?;
        if let Some(route) = endpoint.routes.iter().find(|r| r.method == *self.method) {
            return Some(route);
        }
        for route in &endpoint.routes {
            if !self.allow.contains(&route.method) {
                self.allow.push(route.method.clone());
            }
        }
        None
    }
}

/// Decodes the variables of `route` from the path `segments` it matched.
fn found<'a, T>(route: &'a Route<T>, segments: &[&str]) -> RouteMatch<'a, T> {
    let template = &route.template;
    let mut bindings = Vec::with_capacity(template.variables.len());
    for variable in &template.variables {
        let to_end = template.segments.get(variable.end.wrapping_sub(1)) == Some(&Segment::Rest);
        let end = if to_end { segments.len() } else { variable.end };
        let multi = variable.is_multi_segment(&template.segments);
        // One segment (the usual case) is decoded where it is.
        let decoded = match segments.get(variable.start..end) {
            Some([one]) => percent_decode(one, false, multi),
            Some(many) => percent_decode(&many.join("/"), false, multi),
            None => percent_decode("", false, multi),
        };
        match decoded {
            Ok(value) => bindings.push((variable.field_path.as_slice(), value)),
            Err(error) => {
                return RouteMatch::BadBinding {
                    value: &route.value,
                    field_path: &variable.field_path,
                    error,
                };
            }
        }
    }
    RouteMatch::Found {
        value: &route.value,
        bindings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(Method, &str)]) -> Router<usize> {
        let mut router = Router::new();
        for (i, (method, template)) in routes.iter().enumerate() {
            if let Err(e) = router.insert(method.clone(), template, i) {
                panic!("{e}");
            }
        }
        router
    }

    /// (route index, "field.path=value" bindings) or a panic.
    fn found(router: &Router<usize>, method: Method, path: &str) -> (usize, Vec<String>) {
        match router.at(&method, path) {
            RouteMatch::Found { value, bindings } => (
                *value,
                bindings
                    .into_iter()
                    .map(|(path, value)| format!("{}={value}", path.join(".")))
                    .collect(),
            ),
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    fn not_found(router: &Router<usize>, method: Method, path: &str) {
        assert_eq!(router.at(&method, path), RouteMatch::NotFound, "{path}");
    }

    #[test]
    fn every_template_form() {
        let r = router(&[
            (Method::GET, "/v1/shelves"),
            (Method::GET, "/v1/shelves/{shelf}"),
            (Method::GET, "/v1/{name=shelves/*/books/*}"),
            (Method::PATCH, "/v1/{book.name=shelves/*/books/*}"),
            (Method::GET, "/v2/**"),
            (Method::GET, "/v3/{path=**}"),
            (Method::POST, "/v1/{shelf=shelves/*}:watch"),
            (Method::POST, "/v1/books:import"),
            (Method::GET, "/v4/{a}/x/{b=*}"),
            (Method::GET, "/v5/{path=files/**}:download"),
        ]);
        assert_eq!(found(&r, Method::GET, "/v1/shelves"), (0, vec![]));
        assert_eq!(
            found(&r, Method::GET, "/v1/shelves/s1"),
            (1, vec!["shelf=s1".into()])
        );
        assert_eq!(
            found(&r, Method::GET, "/v1/shelves/s1/books/b2"),
            (2, vec!["name=shelves/s1/books/b2".into()])
        );
        assert_eq!(
            found(&r, Method::PATCH, "/v1/shelves/s1/books/b2"),
            (3, vec!["book.name=shelves/s1/books/b2".into()])
        );
        assert_eq!(found(&r, Method::GET, "/v2/a/b/c"), (4, vec![]));
        assert_eq!(found(&r, Method::GET, "/v2"), (4, vec![]));
        assert_eq!(
            found(&r, Method::GET, "/v3/a/b/c"),
            (5, vec!["path=a/b/c".into()])
        );
        assert_eq!(found(&r, Method::GET, "/v3"), (5, vec!["path=".into()]));
        assert_eq!(
            found(&r, Method::POST, "/v1/shelves/1:watch"),
            (6, vec!["shelf=shelves/1".into()])
        );
        assert_eq!(found(&r, Method::POST, "/v1/books:import"), (7, vec![]));
        assert_eq!(
            found(&r, Method::GET, "/v4/p/x/q"),
            (8, vec!["a=p".into(), "b=q".into()])
        );
        assert_eq!(
            found(&r, Method::GET, "/v5/files/a/b.txt:download"),
            (9, vec!["path=files/a/b.txt".into()])
        );
        not_found(&r, Method::GET, "/v1/shelves/s1/books");
        not_found(&r, Method::GET, "/v1/nothing");
        not_found(&r, Method::GET, "v1/shelves");
        not_found(&r, Method::GET, "");
        not_found(&r, Method::GET, "/");
        not_found(&r, Method::POST, "/v1/books:export");
        // Without a matching verb the colon belongs to the segment.
        assert_eq!(
            r.at(&Method::POST, "/v1/shelves/1:unwatch"),
            RouteMatch::MethodNotAllowed {
                allow: vec![Method::GET]
            }
        );
    }

    #[test]
    fn verb_routes_and_plain_routes_coexist() {
        let r = router(&[
            (Method::GET, "/v1/{name}"),
            (Method::POST, "/v1/{name}:cancel"),
        ]);
        assert_eq!(
            found(&r, Method::POST, "/v1/op:cancel"),
            (1, vec!["name=op".into()])
        );
        // No GET route has the verb, so the colon is part of the value.
        assert_eq!(
            found(&r, Method::GET, "/v1/op:cancel"),
            (0, vec!["name=op:cancel".into()])
        );
        assert_eq!(
            found(&r, Method::GET, "/v1/a:b:c"),
            (0, vec!["name=a:b:c".into()])
        );
        // An empty name before the verb is not a segment.
        assert_eq!(
            r.at(&Method::POST, "/v1/:cancel"),
            RouteMatch::MethodNotAllowed {
                allow: vec![Method::GET]
            }
        );
    }

    #[test]
    fn literals_beat_wildcards_with_backtracking() {
        let r = router(&[
            (Method::GET, "/v1/shelves/{shelf}/books"),
            (Method::GET, "/v1/{parent}/special/{id}"),
            (Method::GET, "/v1/shelves/special"),
            (Method::GET, "/v1/**"),
            (Method::GET, "/v1/shelves/{shelf}"),
        ]);
        assert_eq!(found(&r, Method::GET, "/v1/shelves/special"), (2, vec![]));
        assert_eq!(
            found(&r, Method::GET, "/v1/shelves/other"),
            (4, vec!["shelf=other".into()])
        );
        assert_eq!(
            found(&r, Method::GET, "/v1/shelves/special/books"),
            (0, vec!["shelf=special".into()])
        );
        // The literal branch `shelves` dead-ends; `*` takes over.
        assert_eq!(
            found(&r, Method::GET, "/v1/shelves/special/7"),
            (1, vec!["parent=shelves".into(), "id=7".into()])
        );
        // Both dead-end; `**` catches it.
        assert_eq!(found(&r, Method::GET, "/v1/shelves/a/b/c"), (3, vec![]));
        assert_eq!(found(&r, Method::GET, "/v1/shelves//books"), (3, vec![]));
    }

    #[test]
    fn empty_segments_do_not_match_a_single_wildcard() {
        let r = router(&[(Method::GET, "/v1/{name}"), (Method::GET, "/v1/{a}/{b}")]);
        not_found(&r, Method::GET, "/v1/");
        not_found(&r, Method::GET, "/v1//x");
        not_found(&r, Method::GET, "/v1/x/");
        not_found(&r, Method::GET, "//v1/x");
        assert_eq!(found(&r, Method::GET, "/v1/x").0, 0);
    }

    #[test]
    fn method_not_allowed_lists_every_method_of_the_path() {
        let r = router(&[
            (Method::GET, "/v1/shelves/{shelf}"),
            (Method::DELETE, "/v1/shelves/{id}"),
            (Method::PATCH, "/v1/{name=shelves/*}"),
            (Method::POST, "/v1/**"),
            (Method::PUT, "/v2/x"),
        ]);
        assert_eq!(
            r.at(&Method::PUT, "/v1/shelves/1"),
            RouteMatch::MethodNotAllowed {
                allow: vec![Method::GET, Method::DELETE, Method::PATCH, Method::POST]
            }
        );
        assert_eq!(
            r.at(&Method::GET, "/v2/x"),
            RouteMatch::MethodNotAllowed {
                allow: vec![Method::PUT]
            }
        );
        // A lower-priority route of the right method still wins over a 405.
        assert_eq!(found(&r, Method::POST, "/v1/shelves/1").0, 3);
        let custom = Method::from_bytes(b"PURGE").unwrap();
        let mut r = Router::new();
        r.insert(custom.clone(), "/v1/cache", 0).unwrap();
        assert_eq!(
            r.at(&Method::GET, "/v1/cache"),
            RouteMatch::MethodNotAllowed {
                allow: vec![custom.clone()]
            }
        );
        assert!(matches!(
            r.at(&custom, "/v1/cache"),
            RouteMatch::Found { value: 0, .. }
        ));
    }

    #[test]
    fn conflicts() {
        let mut r = Router::new();
        r.insert(Method::GET, "/v1/{name=shelves/*}", 0).unwrap();
        let err = r.insert(Method::GET, "/v1/shelves/{id}", 1).unwrap_err();
        assert!(matches!(err, RouteError::Conflict { .. }));
        assert_eq!(
            err.to_string(),
            "route GET /v1/shelves/{id} conflicts with GET /v1/{name=shelves/*}: both match the same paths"
        );
        // Other method, other verb, other shape: no conflict.
        r.insert(Method::DELETE, "/v1/shelves/{id}", 2).unwrap();
        r.insert(Method::GET, "/v1/shelves/{id}:watch", 3).unwrap();
        r.insert(Method::GET, "/v1/shelves/**", 4).unwrap();
        r.insert(Method::GET, "/v1/shelves/*/x", 5).unwrap();
        assert!(matches!(
            r.insert(Method::GET, "/v1/{rest=shelves/**}", 6),
            Err(RouteError::Conflict { .. })
        ));
        assert!(matches!(
            r.insert(Method::GET, "/v1/shelves/*:watch", 7),
            Err(RouteError::Conflict { .. })
        ));
        r.insert(Method::POST, "/v1/books:import", 8).unwrap();
        assert!(matches!(
            r.insert(Method::POST, "/v1/{x=books}:import", 9),
            Err(RouteError::Conflict { .. })
        ));
        assert!(matches!(
            r.insert(Method::GET, "/v1/{name", 10),
            Err(RouteError::Template(_))
        ));
        // Failed inserts changed nothing.
        assert_eq!(found_any(&r, Method::GET, "/v1/shelves/1"), Some(0));
    }

    fn found_any(r: &Router<usize>, method: Method, path: &str) -> Option<usize> {
        match r.at(&method, path) {
            RouteMatch::Found { value, .. } => Some(*value),
            _ => None,
        }
    }

    #[test]
    fn percent_decoding() {
        let r = router(&[
            (Method::GET, "/one/{name}"),
            (Method::GET, "/multi/{name=**}"),
            (Method::GET, "/two/{name=a/*}"),
            (Method::GET, "/lit/%41/{x}"),
        ]);
        // One segment: everything is decoded, %2F included.
        assert_eq!(
            found(&r, Method::GET, "/one/a%2Fb%20c%3A"),
            (0, vec!["name=a/b c:".into()])
        );
        // Several segments: everything but %2F / %2f.
        assert_eq!(
            found(&r, Method::GET, "/multi/x%2Fy/%2fz%20w"),
            (1, vec!["name=x%2Fy/%2fz w".into()])
        );
        assert_eq!(
            found(&r, Method::GET, "/multi/x%2F"),
            (1, vec!["name=x%2F".into()])
        );
        assert_eq!(
            found(&r, Method::GET, "/two/a/b%2Fc%C3%A9"),
            (2, vec!["name=a/b%2Fcé".into()])
        );
        // Literals compare raw.
        assert_eq!(found(&r, Method::GET, "/lit/%41/1").0, 3);
        not_found(&r, Method::GET, "/lit/A/1");
        // `+` is not a space in paths.
        assert_eq!(found(&r, Method::GET, "/one/a+b").1, ["name=a+b"]);
        match r.at(&Method::GET, "/one/%FF") {
            RouteMatch::BadBinding {
                value,
                field_path,
                error,
            } => {
                assert_eq!((*value, field_path), (0, &["name".to_owned()][..]));
                assert_eq!(error, DecodeError::NotUtf8);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            r.at(&Method::GET, "/multi/a/%zz"),
            RouteMatch::BadBinding {
                error: DecodeError::BadEscape(_),
                ..
            }
        ));
    }

    #[test]
    fn two_thousand_routes() {
        let mut r = Router::new();
        let mut expected = Vec::new();
        for i in 0..2000 {
            let (method, template, path) = match i % 4 {
                0 => (
                    Method::GET,
                    format!("/v1/res{i}/{{name}}"),
                    format!("/v1/res{i}/x{i}"),
                ),
                1 => (
                    Method::POST,
                    format!("/v1/{{parent=projects/*}}/res{i}:run"),
                    format!("/v1/projects/p{i}/res{i}:run"),
                ),
                2 => (
                    Method::DELETE,
                    format!("/v{i}/{{name=things/*/items/*}}"),
                    format!("/v{i}/things/t/items/{i}"),
                ),
                _ => (
                    Method::PUT,
                    format!("/files{i}/{{path=**}}"),
                    format!("/files{i}/a/b{i}"),
                ),
            };
            r.insert(method.clone(), &template, i).unwrap();
            expected.push((method, path));
        }
        for (i, (method, path)) in expected.iter().enumerate() {
            let (value, bindings) = found(&r, method.clone(), path);
            assert_eq!(value, i, "{path}");
            assert_eq!(bindings.len(), 1, "{path}");
        }
        assert_eq!(
            found(&r, Method::POST, "/v1/projects/p/res1:run").1,
            ["parent=projects/p"]
        );
        assert_eq!(
            r.at(&Method::GET, "/v1/projects/p/res1:run"),
            RouteMatch::MethodNotAllowed {
                allow: vec![Method::POST]
            }
        );
        not_found(&r, Method::GET, "/v1/res2000/x");
    }

    #[test]
    fn never_panics_on_odd_paths() {
        let r = router(&[
            (Method::GET, "/{a}"),
            (Method::GET, "/{a}:v"),
            (Method::GET, "/x/**"),
            (Method::GET, "/**:w"),
        ]);
        for path in [
            "", "/", "//", ":", "/:", "/::", "/:v", "/a:", "/x", "/x/", "/x/:w", "/é", "/%",
            "/%e9", "/a%2", ":w", "/:w",
        ] {
            let _ = r.at(&Method::GET, path);
        }
        assert_eq!(found(&r, Method::GET, "/x:v").1, ["a=x"]);
        assert_eq!(found(&r, Method::GET, "/y/z:w").0, 3);
    }
}
