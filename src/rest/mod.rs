//! REST routes from `google.api.http` annotations: path templates, the
//! router that matches them, query strings, and (`request`) how path
//! variables, query parameters and the body become the request JSON, using
//! the generated per-message field tables.

pub(crate) mod query;
pub(crate) mod request;
pub(crate) mod router;
/// Path templates: the parser shared with `dual-protocol-build`.
pub(crate) use dual_protocol_template as template;
