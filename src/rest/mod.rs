//! REST routes from `google.api.http` annotations, as pure building blocks:
//! path templates, the router that matches them, and query strings.
//!
//! Nothing here knows about messages or JSON: the router hands back the
//! field paths and decoded string values of path variables and query
//! parameters, and the generated per-message field tables decide how each
//! becomes a JSON value.

pub(crate) mod query;
pub(crate) mod router;
pub(crate) mod template;
