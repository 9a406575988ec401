//! Settings read from TOML.
//!
//! ```toml
//! [server]
//! protocols = ["grpc", "json", "connect", "grpc-web"]   # the default: all
//! # type = "dual"          # the older shorthand: "grpc" | "http" | "dual"
//! listen = "127.0.0.1:50051"
//! max_request_bytes = 4194304
//! max_message_bytes = 4194304   # per streamed message, both ways
//! max_decoded_bytes = 16777216  # one JSON message once read (4 x max_request_bytes)
//! max_json_depth = 100          # nested messages in one JSON message
//! sse_keep_alive_ms = 15000     # 0: no keep-alive comments
//!
//! [json]                   # proto3 JSON options, all false by default
//! emit_unpopulated = false
//! proto_names = false
//! enums_as_ints = false
//! ignore_unknown_fields = false
//!
//! [cors]                   # off unless allow_origins names an origin
//! allow_origins = ["https://app.example"]   # or ["*"]: any origin
//! allow_credentials = false
//! max_age_secs = 7200
//! allow_headers = ["x-tenant"]              # beside the defaults
//! expose_headers = ["x-request-id"]         # beside the defaults
//!
//! [openapi]                # off unless path is set
//! path = "/openapi.json"   # the OpenAPI 3.1 document of the services served
//! docs = "/docs"           # a page that renders it (needs path)
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

/// The default for [`Builder::max_json_depth`](crate::Builder::max_json_depth):
/// 100, prost's own recursion limit.
pub const DEFAULT_MAX_JSON_DEPTH: u32 = 100;

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
    /// The `[cors]` table.
    #[serde(default)]
    pub cors: CorsConfig,
    /// The `[openapi]` table.
    #[serde(default)]
    pub openapi: OpenApiConfig,
}

/// The `[openapi]` table: the OpenAPI document and docs page the layer
/// serves (see [`Builder::openapi`](crate::Builder::openapi)); off while
/// `path` is unset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct OpenApiConfig {
    /// `path`: where the OpenAPI 3.1 document is served, e.g. `/openapi.json`.
    pub path: Option<String>,
    /// `docs`: where the docs page is served, e.g. `/docs` (needs `path`).
    pub docs: Option<String>,
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
    /// `max_decoded_bytes`: what one JSON message may hold once read
    /// (default: 4 times `max_request_bytes`; see
    /// [`Builder::max_decoded_bytes`](crate::Builder::max_decoded_bytes)).
    pub max_decoded_bytes: Option<usize>,
    /// `max_json_depth`: how deep messages may nest in one JSON message
    /// (default 100).
    pub max_json_depth: u32,
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
            max_decoded_bytes: None,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
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

    /// The CORS layer the `[cors]` table asks for: `None` when
    /// `allow_origins` is empty. Put it outside the
    /// [`DualProtocolLayer`](crate::DualProtocolLayer); see
    /// [`cors`](crate::cors).
    #[cfg(feature = "cors")]
    pub fn cors_layer(&self) -> Result<Option<crate::cors::CorsLayer>, Error> {
        let Some(cors) = self.cors.parse()? else {
            return Ok(None);
        };
        let origins = match cors.origins {
            None => crate::cors::AllowOrigin::any(),
            Some(list) => crate::cors::AllowOrigin::list(list),
        };
        Ok(Some(
            crate::cors::CorsLayer::new(origins)
                .allow_credentials(self.cors.allow_credentials)
                .max_age(Duration::from_secs(self.cors.max_age_secs))
                .allow_headers(cors.allow_headers)
                .expose_headers(cors.expose_headers),
        ))
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
        self.cors.parse()?;
        if self.openapi.docs.is_some() && self.openapi.path.is_none() {
            return Err(Error::new(
                "openapi.docs: needs openapi.path (the page shows the document)",
            ));
        }
        if self.server.max_request_bytes == 0 {
            return Err(Error::new(
                "server.max_request_bytes: must be greater than 0",
            ));
        }
        if self.server.max_decoded_bytes == Some(0) {
            return Err(Error::new(
                "server.max_decoded_bytes: must be greater than 0",
            ));
        }
        Ok(())
    }
}

/// The `[cors]` table: which web pages may call the server from a browser.
/// CORS is off while `allow_origins` is empty. See [`crate::cors`] for what
/// is allowed and why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CorsConfig {
    /// `allow_origins`: the origins of the pages allowed, as browsers send
    /// them (`https://app.example`, `http://localhost:5173`: scheme, host,
    /// port, no path), or `["*"]` for any origin (not with credentials).
    pub allow_origins: Vec<String>,
    /// `allow_credentials`: let pages send cookies, HTTP authentication and
    /// TLS client certificates (default false).
    pub allow_credentials: bool,
    /// `max_age_secs`: how long browsers may cache a preflight answer
    /// (default 7200).
    pub max_age_secs: u64,
    /// `allow_headers`: request headers pages may send beside the defaults
    /// (custom metadata).
    pub allow_headers: Vec<String>,
    /// `expose_headers`: response headers pages may read beside the
    /// defaults (response metadata; `trailer-{name}` for unary Connect
    /// trailers).
    pub expose_headers: Vec<String>,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            allow_credentials: false,
            max_age_secs: 2 * 60 * 60,
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
        }
    }
}

/// A checked `[cors]` table.
#[cfg_attr(not(feature = "cors"), allow(dead_code))]
struct Cors {
    /// `None`: any origin.
    origins: Option<Vec<http::HeaderValue>>,
    allow_headers: Vec<http::HeaderName>,
    expose_headers: Vec<http::HeaderName>,
}

impl CorsConfig {
    /// Checks the table; `None` when CORS is off. Errors name the key.
    fn parse(&self) -> Result<Option<Cors>, Error> {
        let allow_headers = header_names("cors.allow_headers", &self.allow_headers)?;
        let expose_headers = header_names("cors.expose_headers", &self.expose_headers)?;
        if self.allow_origins.is_empty() {
            return Ok(None);
        }
        if !cfg!(feature = "cors") {
            return Err(Error::new(
                "cors.allow_origins: CORS needs dual-protocol's `cors` feature (on by default)",
            ));
        }
        let origins = if self.allow_origins.iter().any(|o| o == "*") {
            if self.allow_origins.len() > 1 {
                return Err(Error::new(
                    "cors.allow_origins: \"*\" (any origin) must be the only origin",
                ));
            }
            if self.allow_credentials {
                return Err(Error::new(
                    "cors.allow_origins: \"*\" (any origin) cannot be combined with \
                     allow_credentials = true (browsers refuse it): name the origins",
                ));
            }
            None
        } else {
            let mut list = Vec::with_capacity(self.allow_origins.len());
            for (i, origin) in self.allow_origins.iter().enumerate() {
                list.push(parse_origin(origin).map_err(|why| {
                    Error::new(format!("cors.allow_origins[{i}]: {origin:?} {why}"))
                })?);
            }
            Some(list)
        };
        Ok(Some(Cors {
            origins,
            allow_headers,
            expose_headers,
        }))
    }
}

/// An origin as browsers send it in `Origin`: `scheme://host[:port]`,
/// lowercase scheme and host, no path, query or fragment.
fn parse_origin(origin: &str) -> Result<http::HeaderValue, &'static str> {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return Err("is not an origin: expected scheme://host[:port], e.g. https://app.example");
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    {
        return Err("has a bad scheme: expected a lowercase one such as https");
    }
    if authority.contains(['/', '?', '#']) {
        return Err(
            "has a path: an origin is scheme://host[:port] only, without even a \
                    trailing slash (browsers never send one)",
        );
    }
    if authority.is_empty() || authority.contains('@') {
        return Err("is not an origin: expected scheme://host[:port], e.g. https://app.example");
    }
    if authority.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("has uppercase letters: browsers send the host in lowercase");
    }
    // The port, if any, follows the last colon after an IPv6 literal.
    let host_end = authority.rfind(']').unwrap_or(0);
    let port = authority[host_end..].split_once(':').map(|(_, port)| port);
    if authority.parse::<http::uri::Authority>().is_err()
        || port.is_some_and(|port| port.parse::<u16>().is_err())
    {
        return Err("has a bad host or port");
    }
    http::HeaderValue::from_str(origin).map_err(|_| "is not a valid header value")
}

fn header_names(key: &str, names: &[String]) -> Result<Vec<http::HeaderName>, Error> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            if name == "*" {
                return Err(Error::new(format!(
                    "{key}[{i}]: \"*\" is not supported here: name each header"
                )));
            }
            http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Error::new(format!("{key}[{i}]: {name:?} is not a valid header name")))
        })
        .collect()
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

    #[test]
    #[cfg(feature = "cors")]
    fn cors_is_off_by_default_and_on_with_an_origin() {
        let config = Config::from_toml("").unwrap();
        assert!(config.cors.allow_origins.is_empty());
        assert!(!config.cors.allow_credentials);
        assert_eq!(config.cors.max_age_secs, 7200);
        assert!(config.cors_layer().unwrap().is_none());

        let config = Config::from_toml(
            "[cors]\nallow_origins = [\"https://app.example\", \"http://[::1]:5173\"]\n\
             allow_credentials = true\nmax_age_secs = 60\n\
             allow_headers = [\"X-Tenant\"]\nexpose_headers = [\"trailer-x-cost\"]\n",
        )
        .unwrap();
        assert_eq!(config.cors.allow_origins.len(), 2);
        assert_eq!(config.cors.allow_headers, ["X-Tenant"]);
        assert!(config.cors_layer().unwrap().is_some());
        let config = Config::from_toml("[cors]\nallow_origins = [\"*\"]\n").unwrap();
        assert!(config.cors_layer().unwrap().is_some());
    }

    #[test]
    #[cfg(not(feature = "cors"))]
    fn cors_needs_its_feature() {
        assert!(Config::from_toml("[cors]\nmax_age_secs = 60\n").is_ok());
        let err = Config::from_toml("[cors]\nallow_origins = [\"https://a.example\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`cors` feature"), "{err}");
    }

    #[test]
    #[cfg(feature = "cors")]
    fn cors_errors_name_the_key() {
        let err = |toml: &str| Config::from_toml(toml).unwrap_err().to_string();
        let e = err("[cors]\nallow_origins = [\"*\"]\nallow_credentials = true\n");
        assert!(e.starts_with("cors.allow_origins: "), "{e}");
        assert!(e.contains("allow_credentials"), "{e}");
        let e = err("[cors]\nallow_origins = [\"*\", \"https://a.example\"]\n");
        assert!(e.contains("only origin"), "{e}");
        for (origin, needle) in [
            ("https://a.example/", "trailing slash"),
            ("https://a.example/app", "path"),
            ("a.example", "scheme://host"),
            ("null", "scheme://host"),
            ("HTTPS://a.example", "scheme"),
            ("https://A.example", "lowercase"),
            ("https://a.example:port", "port"),
            ("https://", "scheme://host"),
        ] {
            let e = err(&format!(
                "[cors]\nallow_origins = [\"https://ok.example\", {origin:?}]\n"
            ));
            assert!(e.starts_with("cors.allow_origins[1]: "), "{origin}: {e}");
            assert!(e.contains(needle), "{origin}: {e}");
        }
        let e = err("[cors]\nallow_origins = [\"https://a.example\"]\nallow_headers = [\"a b\"]\n");
        assert!(e.starts_with("cors.allow_headers[0]: "), "{e}");
        let e = err("[cors]\nallow_origins = [\"https://a.example\"]\nexpose_headers = [\"*\"]\n");
        assert!(e.starts_with("cors.expose_headers[0]: "), "{e}");
        // Checked while CORS is off too.
        let e = err("[cors]\nexpose_headers = [\"a:b\"]\n");
        assert!(e.starts_with("cors.expose_headers[0]: "), "{e}");
        let e = err("[cors]\nallow_origin = [\"https://a.example\"]\n");
        assert!(e.contains("unknown field `allow_origin`"), "{e}");
        let e = err("[cors]\nmax_age_secs = -1\n");
        assert!(e.starts_with("cors.max_age_secs: "), "{e}");
    }
}
