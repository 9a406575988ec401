//! Internals the benchmarks measure on their own. Not a public API.

use crate::rest::router::{RouteMatch, Router};

/// The REST router alone, for the route-matching benchmark.
#[derive(Debug, Default)]
pub struct RouteTable(Router<usize>);

impl RouteTable {
    /// Adds `template` for `verb`, answering `value`.
    pub fn insert(
        &mut self,
        verb: http::Method,
        template: &str,
        value: usize,
    ) -> Result<(), String> {
        self.0
            .insert(verb, template, value)
            .map_err(|e| e.to_string())
    }

    /// The value of the route matching `verb` and `path`, with the number of
    /// path variables bound.
    pub fn find(&self, verb: &http::Method, path: &str) -> Option<(usize, usize)> {
        match self.0.at(verb, path) {
            RouteMatch::Found { value, bindings } => Some((*value, bindings.len())),
            _ => None,
        }
    }
}
