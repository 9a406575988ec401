//! What every service made by one layer shares: the tables and the options,
//! fixed when the layer is built.

use std::time::Duration;

use crate::JsonOptions;
use crate::config::Protocols;
use crate::registry::Registry;

/// What every service made by one layer shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    pub(crate) protocols: Protocols,
    pub(crate) max_request_bytes: usize,
    pub(crate) max_message_bytes: usize,
    pub(crate) sse_keep_alive: Option<Duration>,
    pub(crate) json: JsonOptions,
}
