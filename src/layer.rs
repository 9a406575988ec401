//! [`DualProtocolLayer`]: options, checked once when the layer is built.

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use crate::JsonOptions;
use crate::config::{
    Config, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_SSE_KEEP_ALIVE, Protocol, Protocols, ServerType,
};
use crate::error::Error;
use crate::registry::{self, PackageDescriptor, Registry};
use crate::service::DualProtocolService;
use crate::shared::Shared;

/// A tower [`Layer`] that serves HTTP/JSON beside gRPC on the same service.
///
/// gRPC requests pass through untouched; JSON requests to the methods of
/// generated services are transcoded into gRPC requests, sent down the same
/// inner service, and their answers transcoded back.
/// See the [crate documentation](crate) for the whole picture.
#[derive(Debug, Clone)]
#[must_use]
pub struct DualProtocolLayer {
    shared: Arc<Shared>,
}

impl DualProtocolLayer {
    /// A layer that knows every service `dual-protocol-build` generated in
    /// this binary, with the default options.
    ///
    /// # Panics
    ///
    /// When two generated packages bind the same REST route (the generator
    /// rejects this within one build; packages from different crates can
    /// still collide). Use [`builder`](Self::builder) to get the error instead.
    pub fn new() -> Self {
        Builder::new().build().unwrap_or_else(|e| panic!("{e}"))
    }

    /// A [`Builder`] to choose services and options.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A layer with the settings of `config`.
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let mut builder = Builder::new();
        if let Some(path) = &config.openapi.path {
            builder = builder.openapi(path);
        }
        if let Some(path) = &config.openapi.docs {
            builder = builder.openapi_docs(path);
        }
        if let Some(limit) = config.server.max_decoded_bytes {
            builder = builder.max_decoded_bytes(limit);
        }
        builder
            .protocols(config.server.protocols())
            .max_request_bytes(config.server.max_request_bytes)
            .max_message_bytes(config.server.max_message_bytes)
            .max_json_depth(config.server.max_json_depth)
            .sse_keep_alive(
                Some(Duration::from_millis(config.server.sse_keep_alive_ms))
                    .filter(|d| !d.is_zero()),
            )
            .json_options(config.json)
            .websocket_origins(config.cors.allow_origins.iter().cloned())
            .build()
    }

    /// The gRPC paths of every method this layer knows, sorted.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut paths: Vec<&'static str> = self.shared.registry.method_paths().collect();
        paths.sort_unstable();
        paths
    }
}

impl Default for DualProtocolLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for DualProtocolLayer {
    type Service = DualProtocolService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DualProtocolService::new(inner, self.shared.clone())
    }
}

/// Builds a [`DualProtocolLayer`]; made by [`DualProtocolLayer::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    packages: Vec<PackageDescriptor>,
    discover: bool,
    only: Option<Vec<String>>,
    protocols: Protocols,
    max_request_bytes: usize,
    max_message_bytes: usize,
    max_decoded_bytes: Option<usize>,
    max_json_depth: u32,
    sse_keep_alive: Option<Duration>,
    json: JsonOptions,
    websocket_origins: crate::shared::Origins,
    openapi: Option<String>,
    openapi_docs: Option<String>,
}

impl Builder {
    fn new() -> Self {
        Self {
            packages: Vec::new(),
            discover: true,
            only: None,
            protocols: Protocols::ALL,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_decoded_bytes: None,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
            sse_keep_alive: Some(DEFAULT_SSE_KEEP_ALIVE),
            json: JsonOptions::default(),
            websocket_origins: crate::shared::Origins::Same,
            openapi: None,
            openapi_docs: None,
        }
    }

    /// Registers a generated package (its `DUAL_PROTOCOL` constant)
    /// explicitly, e.g. when discovery is off or the package lives in a crate
    /// the binary does not otherwise reference.
    pub fn package(mut self, package: PackageDescriptor) -> Self {
        self.packages.push(package);
        self
    }

    /// Whether to find every generated package linked into the binary
    /// (default: on).
    pub fn discover(mut self, enable: bool) -> Self {
        self.discover = enable;
        self
    }

    /// Serves only these services (`package.Service`) as JSON; the others
    /// stay gRPC only. Naming a service that is not registered is an error
    /// of [`build`](Self::build).
    pub fn services<I, N>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: Into<String>,
    {
        self.only = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Which protocols are served, as a shorthand (see
    /// [`protocols`](Self::protocols)).
    pub fn server_type(mut self, server_type: ServerType) -> Self {
        self.protocols = server_type.protocols();
        self
    }

    /// Which protocols are served (default: [`Protocols::ALL`]). A request
    /// in a protocol that is off is answered as by a server without it:
    /// gRPC gets a trailers-only `UNIMPLEMENTED`, JSON and Connect a 415,
    /// gRPC-Web is passed to the inner service unchanged (for a `tonic_web`
    /// layer inside, if you compose one).
    pub fn protocols(mut self, protocols: Protocols) -> Self {
        self.protocols = protocols;
        self
    }

    /// Serves `protocol` too.
    pub fn enable(mut self, protocol: Protocol) -> Self {
        self.protocols = self.protocols.with(protocol);
        self
    }

    /// Stops serving `protocol`.
    pub fn disable(mut self, protocol: Protocol) -> Self {
        self.protocols = self.protocols.without(protocol);
        self
    }

    /// The largest JSON request body read; larger ones get 413 without
    /// being read past the limit (default 4 MiB).
    pub fn max_request_bytes(mut self, limit: usize) -> Self {
        self.max_request_bytes = limit;
        self
    }

    /// The largest single message of a stream: an NDJSON request line, a
    /// WebSocket message, a gRPC response message read for a JSON client
    /// (default 4 MiB). A larger one ends the call with
    /// `RESOURCE_EXHAUSTED`, naming the limit.
    pub fn max_message_bytes(mut self, limit: usize) -> Self {
        self.max_message_bytes = limit;
        self
    }

    /// What one JSON message (a body, an NDJSON line, a WebSocket message)
    /// may hold once read (default: 4 times
    /// [`max_request_bytes`](Self::max_request_bytes), 16 MiB): the growth
    /// of each repeated field and map is counted before it is allocated,
    /// each string and `bytes` value by its length, each boxed message by
    /// its size, an `Any`'s JSON as it is held. Within the body limit, JSON
    /// such as `[{},{},...]` or `["","",...]` would otherwise cost tens of
    /// times its size. A message over the limit ends its call with
    /// `RESOURCE_EXHAUSTED` (HTTP 413) naming the limit, as soon as the
    /// limit is reached.
    pub fn max_decoded_bytes(mut self, limit: usize) -> Self {
        self.max_decoded_bytes = Some(limit);
        self
    }

    /// How deep messages may nest in one JSON message, counted as prost
    /// counts when the inner service decodes it (a map entry and a
    /// `Struct`'s levels count; default 100, prost's own limit, so a message
    /// the layer accepts is one tonic can decode). Deeper is
    /// `RESOURCE_EXHAUSTED` (HTTP 413) naming the limit. JSON itself may
    /// not nest deeper than 128 arrays and objects (serde_json's limit).
    pub fn max_json_depth(mut self, levels: u32) -> Self {
        self.max_json_depth = levels;
        self
    }

    /// How long a server stream answered as SSE may stay silent before a
    /// keep-alive comment (`: keep-alive`) is sent; `None` sends none
    /// (default 15 s).
    pub fn sse_keep_alive(mut self, every: Option<Duration>) -> Self {
        self.sse_keep_alive = every;
        self
    }

    /// The proto3 JSON options (default: all off: JSON names, enum names,
    /// defaults omitted, unknown fields rejected).
    pub fn json_options(mut self, options: JsonOptions) -> Self {
        self.json = options;
        self
    }

    /// Other origins whose pages may open WebSockets (`https://app.example`,
    /// or `*` for any). By default only the server's own origin may: a
    /// browser sends no CORS preflight for a WebSocket handshake, so
    /// without this check any site could open one with the user's cookies.
    /// A handshake from another origin is 403 (code 7); clients that send
    /// no `Origin` (not browsers) are not affected. [`DualProtocolLayer::from_config`]
    /// takes the `[cors] allow_origins` list.
    pub fn websocket_origins<I, O>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: Into<String>,
    {
        let list: Vec<String> = origins.into_iter().map(Into::into).collect();
        self.websocket_origins = if list.iter().any(|o| o == "*") {
            crate::shared::Origins::Any
        } else {
            crate::shared::Origins::List(list)
        };
        self
    }

    /// Serves the OpenAPI 3.1 document of the services this layer serves at
    /// `path` (e.g. `/openapi.json`), answered by the layer without calling
    /// the inner service. It merges the documents `dual-protocol-build`
    /// generated for each package (see
    /// [`PackageDescriptor::openapi`]), keeps the services
    /// [`services`](Self::services) leaves in, and is rewritten for the
    /// [`json_options`](Self::json_options). Off by default. A path that is
    /// not absolute or that the API itself serves is an error of
    /// [`build`](Self::build).
    pub fn openapi(mut self, path: impl Into<String>) -> Self {
        self.openapi = Some(path.into());
        self
    }

    /// Serves a docs page at `path` (e.g. `/docs`): a self-contained page
    /// (no CDN, nothing fetched but the document) that lists every
    /// operation with its parameters, request and response schemas, and
    /// can send requests. Needs [`openapi`](Self::openapi).
    pub fn openapi_docs(mut self, path: impl Into<String>) -> Self {
        self.openapi_docs = Some(path.into());
        self
    }

    /// Checks the options and builds the layer.
    pub fn build(self) -> Result<DualProtocolLayer, Error> {
        if self.max_request_bytes == 0 {
            return Err(Error::new("max_request_bytes must be greater than 0"));
        }
        if self.max_message_bytes == 0 {
            return Err(Error::new("max_message_bytes must be greater than 0"));
        }
        if self.max_decoded_bytes == Some(0) {
            return Err(Error::new("max_decoded_bytes must be greater than 0"));
        }
        let mut packages = self.packages.clone();
        if self.discover {
            packages.extend(registry::discovered().copied());
        }
        if let Some(only) = &self.only {
            for name in only {
                let known = packages
                    .iter()
                    .flat_map(|p| p.services.iter())
                    .any(|s| s.name == name);
                if !known {
                    return Err(Error::new(format!(
                        "unknown service {name}: no generated package registers it \
                         (is its proto compiled by dual-protocol-build and its module linked?)"
                    )));
                }
            }
        }
        let mut registry = Registry::default();
        // The types an `Any` may hold in this layer's JSON: its own.
        let mut types = crate::any::Types::base();
        registry.add(&crate::rpc::DUAL_PROTOCOL, |_| false)?;
        for package in &packages {
            types.add(package);
            registry.add(package, |service| {
                self.only
                    .as_ref()
                    .is_none_or(|only| only.iter().any(|n| n == service))
            })?;
        }
        let openapi = match (self.openapi, self.openapi_docs) {
            (Some(path), docs) => Some(crate::openapi::Pages::new(
                path, docs, &packages, &registry, self.json,
            )?),
            (None, Some(_)) => {
                return Err(Error::new(
                    "openapi_docs needs openapi: the page shows the document",
                ));
            }
            (None, None) => None,
        };
        Ok(DualProtocolLayer {
            shared: Arc::new(Shared {
                registry,
                protocols: self.protocols,
                max_request_bytes: self.max_request_bytes,
                max_message_bytes: self.max_message_bytes,
                sse_keep_alive: self.sse_keep_alive,
                json: self.json,
                websocket_origins: self.websocket_origins,
                context: crate::registry::JsonContext {
                    options: self.json,
                    types: Arc::new(types),
                    limits: crate::__private::json::Limits {
                        max_decoded_bytes: self
                            .max_decoded_bytes
                            .unwrap_or(self.max_request_bytes.saturating_mul(4)),
                        max_depth: self.max_json_depth,
                    },
                },
                openapi,
            }),
        })
    }
}
