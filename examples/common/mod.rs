//! The example API, shared by the examples, the tests and the benchmarks:
//! `library.v1.LibraryService` over an in-memory store and
//! `echo.v1.EchoService`.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use dual_protocol::rpc;
use prost::Message as _;
use tokio_stream::Stream;
use tonic::metadata::{Ascii, MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Code, Request, Response, Status, Streaming};

pub mod serve;

/// `google.api.HttpBody`, which the library's cover methods use.
pub mod google {
    pub mod api {
        dual_protocol::include_proto!("google.api");
    }
}

pub mod library {
    pub mod v1 {
        dual_protocol::include_proto!("library.v1");
    }
}

pub mod echo {
    pub mod v1 {
        dual_protocol::include_proto!("echo.v1");
    }
}

use echo::v1::echo_service_server::{EchoService, EchoServiceServer};
use echo::v1::{EchoRequest, EchoResponse};
use library::v1::library_service_server::{LibraryService, LibraryServiceServer};
use library::v1::*;

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Every service of the example, behind the bearer-token check when `token`
/// is set, as tonic `Routes` (add `DualProtocolLayer` around them).
pub fn routes(token: Option<String>) -> tonic::service::Routes {
    let auth = BearerToken(token.map(Arc::from));
    tonic::service::Routes::new(LibraryServiceServer::with_interceptor(
        Library::seeded(),
        auth.clone(),
    ))
    .add_service(EchoServiceServer::with_interceptor(Echo, auth))
}

/// Serves the example on `listener` until Ctrl-C (then lets the calls in
/// flight finish): one port, gRPC and HTTP/JSON, HTTP/1.1 and h2c.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: &dual_protocol::Config,
    token: Option<String>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_ok() {
            println!("shutting down: finishing the calls in flight");
        } else {
            std::future::pending::<()>().await;
        }
    };
    serve_until(listener, config, token, ctrl_c).await
}

/// Serves the example on `listener` until `shutdown` completes, then lets
/// the calls in flight finish.
///
/// This runs on [`serve::serve`] (hyper-util's auto builder: HTTP/1.1 and
/// h2c on one port, with HTTP upgrades, and the limits a public server
/// needs, see [`serve::Limits`]) rather than `tonic::transport::Server`,
/// which serves connections without upgrades, so a WebSocket (or any
/// `Upgrade`) route added beside the services could never work there, or
/// `axum::serve`, which has no timeouts or HTTP/2 limits. One difference
/// to know: tonic's `Server` applies a gRPC client's `grpc-timeout` itself,
/// hyper does not. The layer applies the deadline of transcoded (JSON)
/// calls on its own; a native gRPC call's deadline is the client's to
/// enforce (tonic's client does), and when it gives up the call is
/// cancelled and its handler dropped.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    config: &dual_protocol::Config,
    token: Option<String>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    serve_with(listener, config, token, serve::Limits::default(), shutdown).await
}

/// [`serve_until`] with other [`serve::Limits`].
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    config: &dual_protocol::Config,
    token: Option<String>,
    limits: serve::Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let layer = dual_protocol::DualProtocolLayer::from_config(config)?;
    // grpc.health.v1 for load balancers and Kubernetes probes (no token:
    // probes do not carry one).
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<LibraryServiceServer<Library>>()
        .await;
    reporter.set_serving::<EchoServiceServer<Echo>>().await;
    let (reflection_v1, reflection_v1alpha) = reflection()?;
    let router = routes(token)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .into_axum_router()
        .merge(page());
    // The layer goes around the whole router, not on it with
    // `Router::layer`: axum applies that to each route separately, and a
    // REST path such as `/v1/shelves/1/books` matches no route, so the
    // fallback's copy of the layer would send the transcoded call to the
    // fallback (UNIMPLEMENTED) instead of the service.
    let app = tower::ServiceBuilder::new()
        // Outermost: a span per request, whatever its protocol (the
        // layer's `dual_protocol` span of a transcoded call nests in it).
        .layer(tower_http::trace::TraceLayer::new_for_http())
        // CORS next: preflights are answered before the token check
        // (browsers send none with them), and the layer's own answers get
        // the CORS headers too. None unless `[cors]` names origins.
        .option_layer(config.cors_layer()?)
        .map_response(|response: http::Response<_>| response.map(axum::body::Body::new))
        // gzip for JSON answers (and the docs) of 1 KiB or more, above the
        // layer so that it sees the JSON; see `Compressible`.
        .layer(
            tower_http::compression::CompressionLayer::new()
                .no_br()
                .no_deflate()
                .no_zstd()
                .compress_when(Compressible),
        )
        .map_response(|response: http::Response<_>| response.map(axum::body::Body::new))
        // A last resort against a handler that never answers: 504 after
        // five minutes without a response head. Per-call deadlines
        // (`grpc-timeout`, `connect-timeout-ms`) are the layer's, answered
        // in each protocol; this one is a bare 504 for every protocol.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::GATEWAY_TIMEOUT,
            std::time::Duration::from_secs(300),
        ))
        .map_response(|response: http::Response<_>| response.map(axum::body::Body::new))
        .layer(layer)
        .service(router);
    serve::serve(listener, app, limits, shutdown).await?;
    Ok(())
}

/// What tower-http's `CompressionLayer` may gzip here: whole JSON answers
/// and pages of 1 KiB or more. Never gRPC, Connect streams or gRPC-Web
/// (their own compression is per message, in the protocol), nor NDJSON and
/// SSE (a compressor holds back a stream's messages until its buffer
/// fills), nor what the layer compressed itself (a Connect answer).
#[derive(Debug, Clone, Copy)]
struct Compressible;

impl tower_http::compression::Predicate for Compressible {
    fn should_compress<B: http_body::Body>(&self, response: &http::Response<B>) -> bool {
        let json_or_page = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/json") || t.starts_with("text/html"));
        json_or_page
            && tower_http::compression::predicate::SizeAbove::new(1024).should_compress(response)
    }
}

/// gRPC server reflection, v1 and the older v1alpha (some clients still
/// ask for it), from the descriptor sets the generator wrote: grpcurl and
/// `buf curl` need no protos. Like health, it takes no token. The layer
/// has no table for it, so gRPC passes through and Connect and gRPC-Web
/// are served in protobuf.
pub fn reflection() -> Result<
    (
        tonic_reflection::server::v1::ServerReflectionServer<
            impl tonic_reflection::server::v1::ServerReflection,
        >,
        tonic_reflection::server::v1alpha::ServerReflectionServer<
            impl tonic_reflection::server::v1alpha::ServerReflection,
        >,
    ),
    tonic_reflection::server::Error,
> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(library::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(echo::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // No service: the error details' types, for clients that
            // decode `grpc-status-details-bin` (grpcurl does).
            .register_encoded_file_descriptor_set(dual_protocol::rpc::FILE_DESCRIPTOR_SET)
    };
    Ok((builder().build_v1()?, builder().build_v1alpha()?))
}

/// The browser page at `/` and its script at `/app.js`: calls the example
/// API by `fetch`, Connect, gRPC-Web, SSE and WebSocket (see
/// `examples/web`; the script is the committed bundle `npm run build` makes).
pub fn page() -> axum::Router {
    use http::header::{CACHE_CONTROL, CONTENT_TYPE};
    // `no-cache`: a rebuilt bundle is picked up on the next load.
    let asset = |content_type: &'static str, body: &'static str| {
        axum::routing::get(move || async move {
            (
                [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
                body,
            )
        })
    };
    axum::Router::new()
        .route(
            "/",
            asset(
                "text/html; charset=utf-8",
                include_str!("../web/index.html"),
            ),
        )
        .route(
            "/app.js",
            asset(
                "text/javascript; charset=utf-8",
                include_str!("../web/dist/app.js"),
            ),
        )
}

/// Demands `authorization: Bearer <token>` on every call when a token is set.
#[derive(Clone)]
pub struct BearerToken(Option<Arc<str>>);

impl Interceptor for BearerToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(token) = &self.0 else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given == Some(&**token) {
            Ok(request)
        } else {
            Err(Status::unauthenticated("missing or wrong bearer token"))
        }
    }
}

#[derive(Default)]
struct State {
    shelves: BTreeMap<String, Shelf>,
    books: BTreeMap<String, Book>,
    /// Book name -> (content type, bytes).
    covers: BTreeMap<String, (String, bytes::Bytes)>,
    next_id: u64,
    /// What the store holds: shelves and books (their protobuf size) and
    /// covers, bounded by [`MAX_STORED_BYTES`].
    stored: usize,
}

/// The most the example's store holds, shelves, books and covers
/// together: a client cannot fill the server's memory through it.
pub const MAX_STORED_BYTES: usize = 16 * 1024 * 1024;

impl State {
    /// Accounts for `added` bytes stored in place of `removed`, or refuses
    /// when the store would pass [`MAX_STORED_BYTES`].
    fn charge(&mut self, added: usize, removed: usize) -> Result<(), Status> {
        let stored = self.stored.saturating_sub(removed).saturating_add(added);
        if stored > MAX_STORED_BYTES {
            return Err(Status::resource_exhausted(format!(
                "the example's store is full ({MAX_STORED_BYTES} bytes): delete books first"
            )));
        }
        self.stored = stored;
        Ok(())
    }
}

/// The largest cover the example stores.
pub const MAX_COVER_BYTES: usize = 1024 * 1024;

/// The chunk size of a cover download.
const COVER_CHUNK: usize = 16 * 1024;

/// The library: shelves and books in memory.
#[derive(Clone, Default)]
pub struct Library {
    state: Arc<Mutex<State>>,
}

fn timestamp(seconds: i64) -> dual_protocol::types::Timestamp {
    dual_protocol::types::Timestamp { seconds, nanos: 0 }
}

impl Library {
    /// `shelves/1` with two books and an empty `shelves/2`.
    pub fn seeded() -> Self {
        let mut state = State {
            next_id: 100,
            ..State::default()
        };
        for (id, theme) in [("1", "Fiction"), ("2", "Science")] {
            let name = format!("shelves/{id}");
            state.shelves.insert(
                name.clone(),
                Shelf {
                    name,
                    theme: theme.into(),
                },
            );
        }
        for book in [
            Book {
                name: "shelves/1/books/1".into(),
                title: "The Left Hand of Darkness".into(),
                author: "Ursula K. Le Guin".into(),
                page_count: 304,
                publish_time: Some(timestamp(-26_438_400)),
                tags: vec!["classic".into(), "hugo".into()],
                genre: Genre::Fiction.into(),
                labels: [("language".to_owned(), "en".to_owned())].into(),
                cover_thumbnail: vec![0x89, 0x50, 0x4e, 0x47],
                rating: 4.5,
            },
            Book {
                name: "shelves/1/books/2".into(),
                title: "Kindred".into(),
                author: "Octavia E. Butler".into(),
                page_count: 264,
                publish_time: Some(timestamp(265_680_000)),
                tags: vec!["classic".into()],
                genre: Genre::Fiction.into(),
                labels: Default::default(),
                cover_thumbnail: Default::default(),
                rating: 4.25,
            },
        ] {
            state.books.insert(book.name.clone(), book);
        }
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn not_found(what: &str, name: &str) -> Status {
    Status::not_found(format!("{what} {name} not found"))
}

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` detail naming `field`.
fn bad_field(field: &str, description: &str) -> Status {
    let detail = rpc::BadRequest {
        field_violations: vec![rpc::bad_request::FieldViolation {
            field: field.into(),
            description: description.into(),
            ..Default::default()
        }],
    };
    let status = rpc::Status {
        code: Code::InvalidArgument as i32,
        message: format!("{field}: {description}"),
        details: vec![dual_protocol::types::Any {
            type_url: "type.googleapis.com/google.rpc.BadRequest".into(),
            value: detail.encode_to_vec().into(),
        }],
    };
    Status::with_details(
        Code::InvalidArgument,
        status.message.clone(),
        status.encode_to_vec().into(),
    )
}

fn shelf_of(book_name: &str) -> Option<&str> {
    let mut parts = book_name.splitn(4, '/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("shelves"), Some(_), Some("books"), Some(id))
            if !id.is_empty() && !id.contains('/') =>
        {
            book_name.rfind("/books/").map(|i| &book_name[..i])
        }
        _ => None,
    }
}

#[tonic::async_trait]
impl LibraryService for Library {
    async fn create_shelf(
        &self,
        request: Request<CreateShelfRequest>,
    ) -> Result<Response<Shelf>, Status> {
        let request = request.into_inner();
        let mut shelf = request.shelf.unwrap_or_default();
        let mut state = self.state();
        let id = if request.shelf_id.is_empty() {
            state.next_id += 1;
            state.next_id.to_string()
        } else {
            request.shelf_id
        };
        shelf.name = format!("shelves/{id}");
        if state.shelves.contains_key(&shelf.name) {
            return Err(Status::already_exists(format!(
                "shelf {} already exists",
                shelf.name
            )));
        }
        state.charge(shelf.encoded_len(), 0)?;
        state.shelves.insert(shelf.name.clone(), shelf.clone());
        Ok(Response::new(shelf))
    }

    async fn list_shelves(
        &self,
        _request: Request<ListShelvesRequest>,
    ) -> Result<Response<ListShelvesResponse>, Status> {
        let shelves = self.state().shelves.values().cloned().collect();
        Ok(Response::new(ListShelvesResponse { shelves }))
    }

    async fn get_book(&self, request: Request<GetBookRequest>) -> Result<Response<Book>, Status> {
        let name = request.into_inner().name;
        let book = self.state().books.get(&name).cloned();
        book.map(Response::new)
            .ok_or_else(|| not_found("book", &name))
    }

    async fn list_books(
        &self,
        request: Request<ListBooksRequest>,
    ) -> Result<Response<ListBooksResponse>, Status> {
        let request = request.into_inner();
        let state = self.state();
        if !state.shelves.contains_key(&request.parent) {
            return Err(not_found("shelf", &request.parent));
        }
        let start: usize = if request.page_token.is_empty() {
            0
        } else {
            request
                .page_token
                .parse()
                .map_err(|_| bad_field("page_token", "not a token this server issued"))?
        };
        let size = match request.page_size {
            n if n < 0 => return Err(bad_field("page_size", "must not be negative")),
            0 => 10,
            n => (n as usize).min(100),
        };
        let prefix = format!("{}/books/", request.parent);
        let all: Vec<&Book> = state
            .books
            .range(prefix.clone()..)
            .take_while(|(name, _)| name.starts_with(&prefix))
            .map(|(_, book)| book)
            .collect();
        let books: Vec<Book> = all
            .iter()
            .skip(start)
            .take(size)
            .map(|b| (*b).clone())
            .collect();
        let next = start + books.len();
        let next_page_token = if next < all.len() {
            next.to_string()
        } else {
            String::new()
        };
        Ok(Response::new(ListBooksResponse {
            books,
            next_page_token,
        }))
    }

    async fn create_book(
        &self,
        request: Request<CreateBookRequest>,
    ) -> Result<Response<Book>, Status> {
        self.create(request.into_inner()).map(Response::new)
    }

    async fn update_book(
        &self,
        request: Request<UpdateBookRequest>,
    ) -> Result<Response<Book>, Status> {
        let request = request.into_inner();
        let update = request
            .book
            .ok_or_else(|| bad_field("book", "is required"))?;
        let mut state = self.state();
        let book = state
            .books
            .get_mut(&update.name)
            .ok_or_else(|| not_found("book", &update.name))?;
        let paths = request.update_mask.map(|m| m.paths).unwrap_or_default();
        let everything = [
            "title",
            "author",
            "page_count",
            "publish_time",
            "tags",
            "genre",
            "labels",
            "cover_thumbnail",
            "rating",
        ];
        let paths: Vec<String> = if paths.is_empty() {
            everything.iter().map(|p| p.to_string()).collect()
        } else {
            paths
        };
        let mut updated = book.clone();
        for path in &paths {
            match path.as_str() {
                "title" => updated.title = update.title.clone(),
                "author" => updated.author = update.author.clone(),
                "page_count" | "pageCount" => updated.page_count = update.page_count,
                "publish_time" | "publishTime" => updated.publish_time = update.publish_time,
                "tags" => updated.tags = update.tags.clone(),
                "genre" => updated.genre = update.genre,
                "labels" => updated.labels = update.labels.clone(),
                "cover_thumbnail" | "coverThumbnail" => {
                    updated.cover_thumbnail = update.cover_thumbnail.clone()
                }
                "rating" => updated.rating = update.rating,
                other => {
                    return Err(bad_field(
                        "update_mask",
                        &format!("unknown or read-only field {other:?}"),
                    ));
                }
            }
        }
        if updated.title.is_empty() {
            return Err(bad_field("book.title", "must not be empty"));
        }
        let (added, removed) = (updated.encoded_len(), book.encoded_len());
        state.charge(added, removed)?;
        if let Some(book) = state.books.get_mut(&update.name) {
            *book = updated.clone();
        }
        Ok(Response::new(updated))
    }

    async fn delete_book(
        &self,
        request: Request<DeleteBookRequest>,
    ) -> Result<Response<dual_protocol::types::Empty>, Status> {
        let name = request.into_inner().name;
        let mut state = self.state();
        match state.books.remove(&name) {
            Some(book) => {
                let cover = state.covers.remove(&name).map_or(0, |(_, data)| data.len());
                state.charge(0, book.encoded_len() + cover)?;
                Ok(Response::new(dual_protocol::types::Empty {}))
            }
            None => Err(not_found("book", &name)),
        }
    }

    type WatchShelfStream = BoxStream<BookEvent>;

    /// Sends the shelf's books as `KIND_CREATED` events, then ends.
    async fn watch_shelf(
        &self,
        request: Request<WatchShelfRequest>,
    ) -> Result<Response<Self::WatchShelfStream>, Status> {
        let shelf = request.into_inner().shelf;
        let state = self.state();
        if !state.shelves.contains_key(&shelf) {
            return Err(not_found("shelf", &shelf));
        }
        let events: Vec<Result<BookEvent, Status>> = state
            .books
            .values()
            .filter(|b| shelf_of(&b.name) == Some(shelf.as_str()))
            .map(|book| {
                Ok(BookEvent {
                    kind: book_event::Kind::Created.into(),
                    book: Some(book.clone()),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(events))))
    }

    async fn import_books(
        &self,
        request: Request<Streaming<CreateBookRequest>>,
    ) -> Result<Response<ImportBooksResponse>, Status> {
        let mut stream = request.into_inner();
        let mut imported = 0;
        while let Some(request) = stream.message().await? {
            self.create(request)?;
            imported += 1;
        }
        Ok(Response::new(ImportBooksResponse { imported }))
    }

    /// Stores the chunks as the book's cover, with the first chunk's content
    /// type; at most [`MAX_COVER_BYTES`].
    async fn upload_cover(
        &self,
        request: Request<Streaming<UploadCoverRequest>>,
    ) -> Result<Response<Cover>, Status> {
        let mut stream = request.into_inner();
        let mut name = None;
        let mut content_type = String::new();
        let mut data = Vec::new();
        while let Some(chunk) = stream.message().await? {
            let name = name.get_or_insert_with(|| chunk.name.clone());
            if !self.state().books.contains_key(name.as_str()) {
                return Err(not_found("book", name));
            }
            let body = chunk.data.unwrap_or_default();
            if content_type.is_empty() {
                content_type = body.content_type;
            }
            if data.len() + body.data.len() > MAX_COVER_BYTES {
                return Err(Status::resource_exhausted(format!(
                    "a cover is at most {MAX_COVER_BYTES} bytes"
                )));
            }
            data.extend_from_slice(&body.data);
        }
        let name = name.ok_or_else(|| bad_field("name", "no chunk was sent"))?;
        if content_type.is_empty() {
            content_type = "application/octet-stream".into();
        }
        let cover = Cover {
            name: name.clone(),
            content_type: content_type.clone(),
            size: data.len() as i64,
        };
        let mut state = self.state();
        let replaced = state.covers.get(&name).map_or(0, |(_, old)| old.len());
        state.charge(data.len(), replaced)?;
        state
            .covers
            .insert(name, (content_type, bytes::Bytes::from(data)));
        Ok(Response::new(cover))
    }

    async fn get_cover(
        &self,
        request: Request<GetCoverRequest>,
    ) -> Result<Response<google::api::HttpBody>, Status> {
        let (content_type, data) = self.cover(&request.get_ref().name)?;
        Ok(Response::new(google::api::HttpBody {
            content_type,
            data: data.to_vec(),
            extensions: Vec::new(),
        }))
    }

    type DownloadCoverStream = BoxStream<google::api::HttpBody>;

    /// The cover in chunks of 16 KiB, made as the client reads them.
    async fn download_cover(
        &self,
        request: Request<GetCoverRequest>,
    ) -> Result<Response<Self::DownloadCoverStream>, Status> {
        let (content_type, data) = self.cover(&request.get_ref().name)?;
        let chunks = unfold(
            (content_type, data),
            |(content_type, mut data)| async move {
                if data.is_empty() {
                    return None;
                }
                let chunk = data.split_to(data.len().min(COVER_CHUNK));
                let body = google::api::HttpBody {
                    content_type: content_type.clone(),
                    data: chunk.to_vec(),
                    extensions: Vec::new(),
                };
                Some((Ok(body), (content_type, data)))
            },
        );
        Ok(Response::new(chunks))
    }
}

impl Library {
    fn cover(&self, name: &str) -> Result<(String, bytes::Bytes), Status> {
        let state = self.state();
        if !state.books.contains_key(name) {
            return Err(not_found("book", name));
        }
        state
            .covers
            .get(name)
            .cloned()
            .ok_or_else(|| not_found("cover of book", name))
    }
}

impl Library {
    fn create(&self, request: CreateBookRequest) -> Result<Book, Status> {
        let mut book = request
            .book
            .ok_or_else(|| bad_field("book", "is required"))?;
        if book.title.is_empty() {
            return Err(bad_field("book.title", "must not be empty"));
        }
        let mut state = self.state();
        if !state.shelves.contains_key(&request.parent) {
            return Err(not_found("shelf", &request.parent));
        }
        let id = if request.book_id.is_empty() {
            state.next_id += 1;
            state.next_id.to_string()
        } else {
            request.book_id
        };
        book.name = format!("{}/books/{id}", request.parent);
        if state.books.contains_key(&book.name) {
            return Err(Status::already_exists(format!(
                "book {} already exists",
                book.name
            )));
        }
        state.charge(book.encoded_len(), 0)?;
        state.books.insert(book.name.clone(), book.clone());
        Ok(book)
    }
}

/// The most answers one `EchoStream` call may ask for (`repeat`); more is
/// INVALID_ARGUMENT. The answers are made one at a time as the client reads
/// them, so this bounds the length of a call, not memory.
pub const MAX_REPEAT: i32 = 10_000;

/// The most entries `response_headers` or `response_trailers` may hold;
/// more is INVALID_ARGUMENT.
pub const MAX_METADATA_ENTRIES: usize = 64;

/// The most bytes (names plus values) `response_headers` or
/// `response_trailers` may hold; more is INVALID_ARGUMENT. Keeps an answer's
/// headers well inside the header-list limits HTTP clients and proxies
/// enforce (often 16 KiB).
pub const MAX_METADATA_BYTES: usize = 8 * 1024;

/// How many `EchoStream` and `EchoChat` response streams exist right now:
/// one more when a handler creates its stream, one less when the server
/// drops it (finished, failed, or the client went away). Process-wide.
pub static LIVE_STREAMS: AtomicUsize = AtomicUsize::new(0);

/// The current value of [`LIVE_STREAMS`].
pub fn live_streams() -> usize {
    LIVE_STREAMS.load(Ordering::SeqCst)
}

/// Answers with what it is sent.
#[derive(Clone, Copy, Default)]
pub struct Echo;

/// Metadata entries, checked and ready to add to a `MetadataMap`.
type Entries = Vec<(MetadataKey<Ascii>, MetadataValue<Ascii>)>;

impl Echo {
    /// One answer: waits `delay`, then fails with `fail_code` (and
    /// `trailers`) or echoes the request.
    async fn answer(
        request: &EchoRequest,
        trailers: &Entries,
        metadata: &MetadataMap,
        index: i32,
    ) -> Result<EchoResponse, Status> {
        if let Some(delay) = &request.delay {
            let delay =
                std::time::Duration::new(delay.seconds.max(0) as u64, delay.nanos.max(0) as u32);
            tokio::time::sleep(delay).await;
        }
        if request.fail_code != 0 {
            let mut status =
                Status::new(Code::from_i32(request.fail_code), request.message.clone());
            add_metadata(status.metadata_mut(), trailers);
            return Err(status);
        }
        let request_metadata = metadata
            .iter()
            .filter_map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(key, value) => {
                    Some((key.to_string(), value.to_str().ok()?.to_owned()))
                }
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            })
            .collect();
        Ok(EchoResponse {
            message: request.message.clone(),
            payload: request.payload.clone(),
            request_metadata,
            index,
        })
    }
}

/// The `response_headers` and `response_trailers` of `request`, checked.
fn response_metadata(request: &EchoRequest) -> Result<(Entries, Entries), Status> {
    Ok((
        checked_metadata("response_headers", &request.response_headers)?,
        checked_metadata("response_trailers", &request.response_trailers)?,
    ))
}

/// Checks metadata a client asks to be sent back: at most
/// [`MAX_METADATA_ENTRIES`] entries and [`MAX_METADATA_BYTES`] bytes, valid
/// ASCII metadata names (not `*-bin`) and values, and no name that frames
/// the HTTP message or belongs to gRPC itself (those would corrupt the
/// answer or be dropped without a word). Any of these is INVALID_ARGUMENT
/// naming `field`.
fn checked_metadata(
    field: &str,
    entries: &std::collections::HashMap<String, String>,
) -> Result<Entries, Status> {
    if entries.len() > MAX_METADATA_ENTRIES {
        return Err(bad_field(
            field,
            &format!(
                "at most {MAX_METADATA_ENTRIES} entries are allowed, got {}",
                entries.len()
            ),
        ));
    }
    let bytes: usize = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_METADATA_BYTES {
        return Err(bad_field(
            field,
            &format!(
                "at most {MAX_METADATA_BYTES} bytes of names and values are allowed, got {bytes}"
            ),
        ));
    }
    // In name order, so that the entry an error names does not depend on
    // the map's iteration order.
    let mut sorted: Vec<(&String, &String)> = entries.iter().collect();
    sorted.sort();
    let mut checked = Vec::with_capacity(sorted.len());
    for (name, value) in sorted {
        let shown = shorten(name);
        let invalid = |what: &str| bad_field(field, &format!("{shown:?} {what}"));
        let key = MetadataKey::<Ascii>::from_bytes(name.as_bytes()).map_err(|_| {
            invalid("is not a valid ASCII metadata name (`*-bin` is not supported)")
        })?;
        if is_reserved(key.as_str()) {
            return Err(invalid("is reserved for HTTP framing or gRPC"));
        }
        // gRPC's ASCII values are space and visible ASCII (`http` would
        // also take tabs and bytes above 0x7f).
        let value = Some(value.as_str())
            .filter(|v| v.bytes().all(|b| matches!(b, b' '..=b'~')))
            .and_then(|v| MetadataValue::<Ascii>::try_from(v).ok())
            .ok_or_else(|| invalid("has a value that is not space and visible ASCII"))?;
        checked.push((key, value));
    }
    Ok(checked)
}

/// Names a handler must not set: they frame the HTTP message, are
/// hop-by-hop, or are gRPC's own (tonic drops some of them silently).
fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "content-type"
    ) || name.starts_with("proxy-")
        || name.starts_with("grpc-")
}

/// At most 40 characters of `s`, for error messages that quote input.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_owned(),
    }
}

fn add_metadata(map: &mut MetadataMap, entries: &Entries) {
    for (key, value) in entries {
        map.insert(key.clone(), value.clone());
    }
}

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let (headers, trailers) = response_metadata(request.get_ref())?;
        let answer = Self::answer(request.get_ref(), &trailers, request.metadata(), 0).await?;
        let mut response = Response::new(answer);
        add_metadata(response.metadata_mut(), &headers);
        Ok(response)
    }

    type EchoStreamStream = BoxStream<EchoResponse>;

    /// `repeat` answers (at least one, at most [`MAX_REPEAT`]), each made
    /// when the client is ready for it, `delay` before each. A `fail_code`
    /// fails the stream at its first answer.
    async fn echo_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<Self::EchoStreamStream>, Status> {
        let (metadata, _, request) = request.into_parts();
        if request.repeat > MAX_REPEAT {
            return Err(bad_field(
                "repeat",
                &format!("must be at most {MAX_REPEAT}, got {}", request.repeat),
            ));
        }
        let (headers, trailers) = response_metadata(&request)?;
        let repeat = request.repeat.max(1);
        let answers = unfold(
            (request, trailers, metadata, 0),
            move |(request, trailers, metadata, index)| async move {
                if index >= repeat {
                    return None;
                }
                let answer = Self::answer(&request, &trailers, &metadata, index).await;
                // A failure ends the stream.
                let next = if answer.is_ok() { index + 1 } else { repeat };
                Some((answer, (request, trailers, metadata, next)))
            },
        );
        let mut response = Response::new(counted(answers));
        add_metadata(response.metadata_mut(), &headers);
        Ok(response)
    }

    type EchoChatStream = BoxStream<EchoResponse>;

    /// One answer per request, each request read when the client is ready
    /// for the previous answer. A failure (a `fail_code`, a bad request or
    /// a broken client stream) ends the stream.
    async fn echo_chat(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Self::EchoChatStream>, Status> {
        let (metadata, _, incoming) = request.into_parts();
        let answers = unfold(
            (incoming, metadata, 0, false),
            |(mut incoming, metadata, index, failed)| async move {
                if failed {
                    return None;
                }
                let answer = match incoming.message().await {
                    Ok(None) => return None,
                    Ok(Some(request)) => match response_metadata(&request) {
                        Ok((_, trailers)) => {
                            Self::answer(&request, &trailers, &metadata, index).await
                        }
                        Err(status) => Err(status),
                    },
                    Err(status) => Err(status),
                };
                let failed = answer.is_err();
                Some((answer, (incoming, metadata, index + 1, failed)))
            },
        );
        Ok(Response::new(counted(answers)))
    }
}

/// A stream that makes each item only when it is polled for it: `step`
/// takes the state and returns the next item with the next state, or
/// `None` to end. Nothing runs ahead of the reader, and dropping the stream
/// drops the step in progress (a pending `delay` included).
fn unfold<St, T, F, Fut>(state: St, step: F) -> BoxStream<T>
where
    St: Send + 'static,
    T: Send + 'static,
    F: FnMut(St) -> Fut + Send + 'static,
    Fut: Future<Output = Option<(Result<T, Status>, St)>> + Send + 'static,
{
    Box::pin(Unfold {
        state: Some(state),
        step,
        pending: None,
    })
}

struct Unfold<St, F, Fut> {
    state: Option<St>,
    step: F,
    pending: Option<Pin<Box<Fut>>>,
}

// Neither the state nor `step` is ever pinned (the future is boxed), so
// moving an `Unfold` is fine whatever they are.
impl<St, F, Fut> Unpin for Unfold<St, F, Fut> {}

impl<St, T, F, Fut> Stream for Unfold<St, F, Fut>
where
    F: FnMut(St) -> Fut,
    Fut: Future<Output = Option<(Result<T, Status>, St)>>,
{
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let pending = match &mut this.pending {
            Some(pending) => pending,
            None => {
                let Some(state) = this.state.take() else {
                    return Poll::Ready(None);
                };
                this.pending.insert(Box::pin((this.step)(state)))
            }
        };
        let next = std::task::ready!(pending.as_mut().poll(cx));
        this.pending = None;
        Poll::Ready(next.map(|(item, state)| {
            this.state = Some(state);
            item
        }))
    }
}

/// `inner`, counted in [`LIVE_STREAMS`] for as long as it exists.
fn counted<T: Send + 'static>(inner: BoxStream<T>) -> BoxStream<T> {
    LIVE_STREAMS.fetch_add(1, Ordering::SeqCst);
    Box::pin(Counted { inner })
}

struct Counted<T> {
    inner: BoxStream<T>,
}

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        LIVE_STREAMS.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<T> Stream for Counted<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
