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
    /// The JSON options and the types an `Any` may hold, for the codecs.
    pub(crate) context: crate::registry::JsonContext,
    /// Origins other than the server's own that may open WebSockets.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) websocket_origins: Origins,
    /// The OpenAPI document and docs page, when served.
    pub(crate) openapi: Option<crate::openapi::Pages>,
}

/// Which browser origins may open a WebSocket: the server's own always
/// (its `Origin` names the `Host` asked for), clients that send no
/// `Origin` (not browsers) always, and these.
#[derive(Debug, Clone, Default)]
pub(crate) enum Origins {
    /// Only the server's own.
    #[default]
    Same,
    /// The server's own and these (`scheme://host[:port]`, compared
    /// ignoring ASCII case).
    List(Vec<String>),
    /// Any origin.
    Any,
}

impl Origins {
    /// Whether a handshake with these headers may go on.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) fn allow(&self, headers: &http::HeaderMap) -> bool {
        let Some(origin) = headers.get(http::header::ORIGIN) else {
            return true;
        };
        let origin = origin.as_bytes();
        let same = origin
            .split(|&b| b == b'/')
            .nth(2)
            .zip(headers.get(http::header::HOST))
            .is_some_and(|(host, asked)| host.eq_ignore_ascii_case(asked.as_bytes()));
        same || match self {
            Origins::Same => false,
            Origins::List(list) => list
                .iter()
                .any(|o| o.as_bytes().eq_ignore_ascii_case(origin)),
            Origins::Any => true,
        }
    }
}
