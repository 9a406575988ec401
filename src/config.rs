//! Settings read from TOML.
//!
//! ```toml
//! [server]
//! protocols = ["grpc", "json", "connect", "grpc-web"]   # the default: all
//! # type = "dual"          # the older shorthand: "grpc" | "http" | "dual"
//! listen = "127.0.0.1:50051"
//! max_request_bytes = 4194304
//! max_message_bytes = 4194304   # per streamed message, both ways
//! sse_keep_alive_ms = 15000     # 0: no keep-alive comments
//!
//! [json]                   # proto3 JSON options, all false by default
//! emit_unpopulated = false
//! proto_names = false
//! enums_as_ints = false
//! ignore_unknown_fields = false
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::JsonOptions;
use crate::error::Error;

/// The default for [`Builder::max_request_bytes`](crate::Builder::max_request_bytes): 4 MiB.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// The default for [`Builder::max_message_bytes`](crate::Builder::max_message_bytes): 4 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// The default for [`Builder::sse_keep_alive`](crate::Builder::sse_keep_alive): 15 s.
pub const DEFAULT_SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Which protocols a server answers, as a shorthand (see [`Protocols`]
/// for the full choice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerType {
    /// gRPC only: JSON requests to RPC paths get a 415 JSON error.
    Grpc,
    /// Everything but gRPC (JSON/REST, Connect, gRPC-Web): gRPC requests
    /// get a trailers-only `UNIMPLEMENTED`.
    Http,
    /// Every protocol (the default).
    #[default]
    Dual,
}

impl ServerType {
    /// The protocols this shorthand stands for.
    pub fn protocols(self) -> Protocols {
        match self {
            ServerType::Grpc => Protocols::NONE.with(Protocol::Grpc),
            ServerType::Http => Protocols::ALL.without(Protocol::Grpc),
            ServerType::Dual => Protocols::ALL,
        }
    }
}

/// One protocol a layer can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Protocol {
    /// gRPC (`application/grpc`), passed through to the inner service.
    Grpc,
    /// HTTP/JSON: JSON on RPC paths, `google.api.http` REST routes, NDJSON,
    /// SSE and WebSocket streams.
    Json,
    /// The Connect protocol, JSON and binary, unary (POST and GET) and
    /// streaming.
    Connect,
    /// gRPC-Web, binary and text.
    GrpcWeb,
}

impl Protocol {
    const fn bit(self) -> u8 {
        match self {
            Protocol::Grpc => 1,
            Protocol::Json => 2,
            Protocol::Connect => 4,
            Protocol::GrpcWeb => 8,
        }
    }

    /// The name used in TOML (`grpc`, `json`, `connect`, `grpc-web`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Json => "json",
            Protocol::Connect => "connect",
            Protocol::GrpcWeb => "grpc-web",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Protocol`]s: what a layer serves.
///
/// ```
/// use dual_protocol::{Protocol, Protocols};
/// let browsers_only = Protocols::NONE.with(Protocol::Connect).with(Protocol::GrpcWeb);
/// assert!(browsers_only.contains(Protocol::GrpcWeb));
/// assert!(!Protocols::ALL.without(Protocol::Json).contains(Protocol::Json));
/// let from_list: Protocols = [Protocol::Grpc, Protocol::Json].into_iter().collect();
/// assert_eq!(from_list, Protocols::NONE.with(Protocol::Grpc).with(Protocol::Json));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Protocols(u8);

impl Protocols {
    /// Every protocol (the default).
    pub const ALL: Protocols = Protocols(1 | 2 | 4 | 8);
    /// None: add with [`Protocols::with`].
    pub const NONE: Protocols = Protocols(0);

    /// This set and `protocol`.
    #[must_use]
    pub const fn with(self, protocol: Protocol) -> Self {
        Protocols(self.0 | protocol.bit())
    }

    /// This set without `protocol`.
    #[must_use]
    pub const fn without(self, protocol: Protocol) -> Self {
        Protocols(self.0 & !protocol.bit())
    }

    /// Whether `protocol` is in the set.
    pub const fn contains(self, protocol: Protocol) -> bool {
        self.0 & protocol.bit() != 0
    }

    /// The protocols in the set.
    pub fn iter(self) -> impl Iterator<Item = Protocol> {
        [
            Protocol::Grpc,
            Protocol::Json,
            Protocol::Connect,
            Protocol::GrpcWeb,
        ]
        .into_iter()
        .filter(move |p| self.contains(*p))
    }
}

impl Default for Protocols {
    fn default() -> Self {
        Self::ALL
    }
}

impl std::fmt::Debug for Protocols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<Protocol> for Protocols {
    fn from_iter<I: IntoIterator<Item = Protocol>>(iter: I) -> Self {
        iter.into_iter().fold(Protocols::NONE, Protocols::with)
    }
}

/// Settings of a dual-protocol server, usually read with [`Config::from_toml`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Config {
    /// The `[server]` table.
    #[serde(default)]
    pub server: ServerConfig,
    /// The `[json]` table.
    #[serde(default)]
    pub json: JsonOptions,
}

/// The `[server]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ServerConfig {
    /// `type`: which protocols are served, as a shorthand; `protocols`
    /// wins when both are given.
    #[serde(rename = "type")]
    pub server_type: ServerType,
    /// `protocols`: which protocols are served, e.g. `["grpc", "connect"]`
    /// (default: all; see [`ServerConfig::protocols`]).
    #[serde(rename = "protocols")]
    pub protocol_list: Option<Vec<Protocol>>,
    /// `listen`: the address to bind (default `127.0.0.1:50051`).
    pub listen: SocketAddr,
    /// `max_request_bytes`: the largest JSON request body read (default 4 MiB).
    pub max_request_bytes: usize,
    /// `max_message_bytes`: the largest message of a stream (an NDJSON line,
    /// a WebSocket message, a gRPC response message; default 4 MiB).
    pub max_message_bytes: usize,
    /// `sse_keep_alive_ms`: how long an SSE stream may stay silent before a
    /// keep-alive comment is sent (default 15000; 0 turns it off).
    pub sse_keep_alive_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            server_type: ServerType::Dual,
            protocol_list: None,
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            sse_keep_alive_ms: DEFAULT_SSE_KEEP_ALIVE.as_millis() as u64,
        }
    }
}

impl ServerConfig {
    /// The protocols served: `protocols` if given, otherwise what `type`
    /// stands for.
    pub fn protocols(&self) -> Protocols {
        match &self.protocol_list {
            Some(list) => list.iter().copied().collect(),
            None => self.server_type.protocols(),
        }
    }
}

impl Config {
    /// Parses TOML. An error names the key and what was expected, e.g.
    /// ``server.type: unknown variant `both`, expected one of `grpc`, `http`, `dual` ``.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let de = toml::Deserializer::parse(text)
            .map_err(|e| Error::with_source(format!("invalid TOML: {}", e.message()), e))?;
        let config: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Error::new(format!("{path}: {}", inner.message()))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::with_source(format!("cannot read {}: {e}", path.display()), e))?;
        Self::from_toml(&text).map_err(|e| Error::new(format!("{}: {e}", path.display())))
    }

    fn validate(&self) -> Result<(), Error> {
        if self
            .server
            .protocol_list
            .as_ref()
            .is_some_and(Vec::is_empty)
        {
            return Err(Error::new(
                "server.protocols: name at least one of \"grpc\", \"json\", \"connect\", \"grpc-web\"",
            ));
        }
        if self.server.max_request_bytes == 0 {
            return Err(Error::new(
                "server.max_request_bytes: must be greater than 0",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config.server.server_type, ServerType::Dual);
        assert_eq!(config.server.max_request_bytes, 4 * 1024 * 1024);
        let config = Config::from_toml(
            "[server]\ntype = \"grpc\"\nlisten = \"0.0.0.0:8080\"\nmax_request_bytes = 10\n",
        )
        .unwrap();
        assert_eq!(config.server.server_type, ServerType::Grpc);
        assert_eq!(config.server.listen.port(), 8080);
        assert_eq!(config.server.max_request_bytes, 10);
        assert_eq!(
            config.server.protocols(),
            Protocols::NONE.with(Protocol::Grpc)
        );
        let config = Config::from_toml(
            "[server]\ntype = \"grpc\"\nprotocols = [\"connect\", \"grpc-web\"]\n",
        )
        .unwrap();
        assert_eq!(
            config.server.protocols(),
            Protocols::NONE
                .with(Protocol::Connect)
                .with(Protocol::GrpcWeb)
        );
        let err = Config::from_toml("[server]\nprotocols = [\"soap\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("server.protocols[0]: unknown variant `soap`"),
            "{err}"
        );
        assert!(Config::from_toml("[server]\nprotocols = []\n").is_err());
        let config = Config::from_toml("[json]\nproto_names = true\n").unwrap();
        assert!(config.json.proto_names && !config.json.enums_as_ints);
    }

    #[test]
    fn errors_name_the_key_and_the_allowed_values() {
        let err = Config::from_toml("[server]\ntype = \"both\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("server.type: "), "{err}");
        assert!(err.contains("`grpc`, `http`, `dual`"), "{err}");
        let err = Config::from_toml("[server]\nlisten = \"nowhere\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("server.listen: "), "{err}");
        let err = Config::from_toml("[server]\nport = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `port`"), "{err}");
        let err = Config::from_toml("[server]\nmax_request_bytes = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_request_bytes"), "{err}");
        assert!(Config::from_toml("[server").is_err());
        let err = Config::from_toml("[json]\nproto_names = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("json.proto_names: "), "{err}");
    }
}
