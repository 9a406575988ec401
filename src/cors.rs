//! CORS for browsers: a tower-http CORS layer set up for every protocol the
//! layer serves (gRPC-Web, Connect, JSON RPC paths, REST routes, NDJSON and
//! SSE streams).
//!
//! Put [`CorsLayer`] **outside** [`DualProtocolLayer`](crate::DualProtocolLayer),
//! so that preflights are answered before anything else runs (an auth
//! interceptor would turn a preflight away: browsers never send credentials
//! with one) and the answers the layer makes itself carry the CORS headers
//! too:
//!
//! ```no_run
//! # mod echo { pub mod v1 { dual_protocol::include_proto!("echo.v1"); } }
//! # use echo::v1::echo_service_server::{EchoService, EchoServiceServer};
//! use dual_protocol::DualProtocolLayer;
//! use dual_protocol::cors::CorsLayer;
//! use http::HeaderValue;
//! use tonic::transport::Server;
//!
//! # async fn run(echo: impl EchoService) -> Result<(), Box<dyn std::error::Error>> {
//! Server::builder()
//!     .accept_http1(true)
//!     .layer(CorsLayer::new(HeaderValue::from_static("https://app.example")))
//!     .layer(DualProtocolLayer::new())
//!     .add_service(EchoServiceServer::new(echo))
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(()) }
//! # fn main() {}
//! ```
//!
//! A preflight of a Connect call from an allowed origin:
//!
//! ```
//! use dual_protocol::cors::CorsLayer;
//! use http::{HeaderValue, Request, Response};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = service_fn(|_: Request<String>| async {
//!     Ok::<_, std::convert::Infallible>(Response::new(String::from("{}")))
//! });
//! let service = CorsLayer::new(HeaderValue::from_static("https://app.example")).layer(app);
//!
//! let preflight = Request::options("/echo.v1.EchoService/Echo")
//!     .header("origin", "https://app.example")
//!     .header("access-control-request-method", "POST")
//!     .header("access-control-request-headers", "content-type,connect-protocol-version")
//!     .body(String::new())
//!     .unwrap();
//! let response = service.oneshot(preflight).await.unwrap();
//!
//! let headers = response.headers();
//! assert_eq!(headers["access-control-allow-origin"], "https://app.example");
//! let allowed = headers["access-control-allow-headers"].to_str().unwrap();
//! assert!(allowed.contains("connect-protocol-version"));
//! assert_eq!(headers["access-control-max-age"], "7200");
//! # }
//! ```
//!
//! What it allows, and nothing more unless asked:
//! - origins: the ones given ([`Any`] only when given explicitly);
//! - methods: [`ALLOW_METHODS`];
//! - request headers: [`ALLOW_HEADERS`], plus those given to
//!   [`CorsLayer::allow_headers`];
//! - response headers a page may read: [`EXPOSE_HEADERS`], plus those given
//!   to [`CorsLayer::expose_headers`];
//! - credentials (cookies, HTTP authentication, TLS client certificates):
//!   only with [`CorsLayer::allow_credentials`];
//! - preflights are cached for [`DEFAULT_MAX_AGE`].
//!
//! The same can be set from TOML, in the `[cors]` table of
//! [`Config`](crate::Config) and [`Config::cors_layer`](crate::Config::cors_layer).
//!
//! # Limitations
//! - Custom metadata is not allowed by default: a page that sends a header
//!   of its own (`x-tenant`) needs it in [`CorsLayer::allow_headers`], and
//!   one that reads response metadata needs it in
//!   [`CorsLayer::expose_headers`] (unary Connect trailers arrive as
//!   `trailer-{name}` headers: expose those names).
//! - An `OPTIONS` request that is not a preflight (no `Origin` or no
//!   `Access-Control-Request-Method`) is passed to the inner service without
//!   CORS headers, so a page cannot call `OPTIONS` itself. That keeps
//!   `OPTIONS` answered as it is without CORS for every other client.
//! - WebSocket handshakes are not subject to CORS: browsers open them from
//!   any page, sending its `Origin`. The layer checks that `Origin` itself
//!   (only the server's own, and those given to
//!   [`Builder::websocket_origins`](crate::Builder::websocket_origins), which
//!   [`DualProtocolLayer::from_config`](crate::DualProtocolLayer::from_config)
//!   fills from `[cors] allow_origins`): give it the same list as here.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::{self, HeaderName};
use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

pub use tower_http::cors::{AllowOrigin, Any};

/// The methods a page may call with: every verb of an RPC path (`POST`,
/// Connect's `GET`), of a `google.api.http` rule (`GET`, `POST`, `PUT`,
/// `PATCH`, `DELETE`) and `HEAD` on a `GET` route. Not `OPTIONS`: see the
/// [module's limitations](self#limitations).
pub const ALLOW_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// The request headers a page may send: what Connect, gRPC-Web and JSON
/// clients send (connect-web's own list, less the ones a page cannot set),
/// and `authorization` for bearer tokens.
///
/// | header | sent by |
/// | --- | --- |
/// | `content-type` | every call with a body (`application/json` is not a CORS-safelisted type) |
/// | `authorization` | clients with a bearer token |
/// | `connect-protocol-version` | Connect |
/// | `connect-timeout-ms` | Connect, with a deadline |
/// | `connect-content-encoding`, `connect-accept-encoding` | Connect streams, compressed |
/// | `content-encoding` | Connect unary, a compressed request |
/// | `grpc-timeout` | gRPC-Web and JSON clients, with a deadline |
/// | `x-grpc-web`, `x-user-agent` | gRPC-Web |
///
/// `accept-encoding` is not listed: browsers set it themselves and a page
/// cannot. Extend it with [`CorsLayer::allow_headers`].
pub static ALLOW_HEADERS: &[HeaderName] = &ALLOW_HEADER_NAMES;

// A static, not a const: `HeaderName` has interior mutability, so a const
// slice of them cannot be borrowed for `'static`.
static ALLOW_HEADER_NAMES: [HeaderName; 10] = [
    header::CONTENT_TYPE,
    header::AUTHORIZATION,
    HeaderName::from_static("connect-protocol-version"),
    HeaderName::from_static("connect-timeout-ms"),
    HeaderName::from_static("connect-content-encoding"),
    HeaderName::from_static("connect-accept-encoding"),
    header::CONTENT_ENCODING,
    HeaderName::from_static("grpc-timeout"),
    HeaderName::from_static("x-grpc-web"),
    HeaderName::from_static("x-user-agent"),
];

/// The response headers a page may read, beyond the CORS-safelisted ones
/// (`content-type`, `content-length`, ...): a gRPC-Web client reads the
/// status of a trailers-only answer from `grpc-status`, `grpc-message` and
/// `grpc-status-details-bin`; Connect clients read the encodings.
///
/// Extend it with [`CorsLayer::expose_headers`].
pub static EXPOSE_HEADERS: &[HeaderName] = &EXPOSE_HEADER_NAMES;

static EXPOSE_HEADER_NAMES: [HeaderName; 5] = [
    HeaderName::from_static("grpc-status"),
    HeaderName::from_static("grpc-message"),
    HeaderName::from_static("grpc-status-details-bin"),
    HeaderName::from_static("connect-content-encoding"),
    header::CONTENT_ENCODING,
];

/// How long a browser may cache a preflight answer: 2 hours. That is
/// Chromium's cap (Firefox's is 24 hours), so a longer time saves no
/// preflights there, and a change of the CORS settings reaches every
/// browser within it.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(2 * 60 * 60);

/// A tower [`Layer`] that answers CORS preflights and adds CORS headers to
/// answers, set up for every protocol the layer serves.
///
/// It is tower-http's [`CorsLayer`](tower_http::cors::CorsLayer) with the
/// settings of the [module documentation](self), and one difference:
/// only real preflights are answered by it (an `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`); tower-http answers every `OPTIONS`.
#[derive(Debug, Clone)]
#[must_use]
pub struct CorsLayer {
    cors: tower_http::cors::CorsLayer,
    allow_headers: Vec<HeaderName>,
    expose_headers: Vec<HeaderName>,
}

impl CorsLayer {
    /// CORS for `origins`: one origin (a [`HeaderValue`](http::HeaderValue)
    /// such as `https://app.example`, scheme, host and port as the browser
    /// sends it), a list of them (an array or a `Vec`), an
    /// [`AllowOrigin::predicate`], or [`Any`] origin.
    pub fn new(origins: impl Into<AllowOrigin>) -> Self {
        let layer = Self {
            cors: tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods(ALLOW_METHODS.to_vec())
                .max_age(DEFAULT_MAX_AGE),
            allow_headers: ALLOW_HEADERS.to_vec(),
            expose_headers: EXPOSE_HEADERS.to_vec(),
        };
        layer.with_headers()
    }

    /// Lets pages send and receive credentials (cookies, HTTP
    /// authentication, TLS client certificates): `fetch` with
    /// `credentials: "include"`, `EventSource` with `withCredentials`.
    /// Off by default. Browsers refuse credentials with [`Any`] origin, so
    /// that combination panics when the layer is applied.
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.cors = self.cors.allow_credentials(allow);
        self
    }

    /// How long a browser may cache a preflight answer (default
    /// [`DEFAULT_MAX_AGE`]).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.cors = self.cors.max_age(max_age);
        self
    }

    /// Allows pages to send these request headers too (custom metadata),
    /// beside [`ALLOW_HEADERS`].
    pub fn allow_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        extend_unique(&mut self.allow_headers, names);
        self.with_headers()
    }

    /// Lets pages read these response headers too (response metadata;
    /// `trailer-{name}` for the trailers of unary Connect calls), beside
    /// [`EXPOSE_HEADERS`].
    pub fn expose_headers(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        extend_unique(&mut self.expose_headers, names);
        self.with_headers()
    }

    fn with_headers(mut self) -> Self {
        self.cors = self
            .cors
            .allow_headers(self.allow_headers.clone())
            .expose_headers(self.expose_headers.clone());
        self
    }
}

fn extend_unique(list: &mut Vec<HeaderName>, names: impl IntoIterator<Item = HeaderName>) {
    for name in names {
        if !list.contains(&name) {
            list.push(name);
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    /// # Panics
    ///
    /// When credentials are allowed with [`Any`] origin (tower-http's check).
    fn layer(&self, inner: S) -> Self::Service {
        // tower-http checks the settings when its layer is applied: apply
        // it once here, so that a bad combination fails at startup.
        let _checked = self.cors.layer(());
        Cors {
            inner,
            cors: self.cors.clone(),
        }
    }
}

/// The service of [`CorsLayer`].
#[derive(Debug, Clone)]
pub struct Cors<S> {
    inner: S,
    cors: tower_http::cors::CorsLayer,
}

impl<S> Cors<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Cors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let kind = if request.method() == Method::OPTIONS && !is_preflight(&request) {
            // Not a browser asking: answered as without CORS (tower-http
            // would answer it as a preflight).
            Kind::Passthrough {
                future: self.inner.call(request),
            }
        } else {
            // tower-http's service over `&mut S` (ready: polled above), so
            // that the plain `OPTIONS` above can reach `inner` too.
            Kind::Cors {
                future: self.cors.layer(&mut self.inner).call(request),
            }
        };
        ResponseFuture { kind }
    }
}

/// A CORS preflight (Fetch standard): `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
fn is_preflight<B>(request: &Request<B>) -> bool {
    let headers = request.headers();
    headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for Cors<S> {
    const NAME: &'static str = S::NAME;
}

pin_project! {
    /// The response future of [`Cors`].
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Cors { #[pin] future: tower_http::cors::ResponseFuture<F> },
        Passthrough { #[pin] future: F },
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Cors { future } => future.poll(cx),
            KindProj::Passthrough { future } => future.poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn extra_headers_are_added_once_to_the_defaults() {
        let layer = CorsLayer::new(HeaderValue::from_static("https://a.example"))
            .allow_headers([HeaderName::from_static("x-tenant"), header::CONTENT_TYPE])
            .expose_headers([HeaderName::from_static("trailer-x-cost")]);
        assert_eq!(layer.allow_headers.len(), ALLOW_HEADERS.len() + 1);
        assert_eq!(layer.allow_headers.last().unwrap(), "x-tenant");
        assert_eq!(layer.expose_headers.len(), EXPOSE_HEADERS.len() + 1);
    }

    #[test]
    #[should_panic(expected = "Access-Control-Allow-Origin: *")]
    fn credentials_with_any_origin_panic_when_applied() {
        let _ = CorsLayer::new(Any).allow_credentials(true).layer(());
    }

    #[test]
    fn a_preflight_has_an_origin_and_a_method() {
        let request = |headers: &[(&str, &str)]| {
            let mut builder = Request::options("/");
            for (name, value) in headers {
                builder = builder.header(*name, *value);
            }
            builder.body(()).unwrap()
        };
        assert!(is_preflight(&request(&[
            ("origin", "https://a.example"),
            ("access-control-request-method", "POST"),
        ])));
        assert!(!is_preflight(&request(&[("origin", "https://a.example")])));
        assert!(!is_preflight(&request(&[(
            "access-control-request-method",
            "POST"
        )])));
    }
}
