//! The example API, shared by the examples, the tests and the benchmarks:
//! `library.v1.LibraryService` over an in-memory store and
//! `echo.v1.EchoService`.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use dual_protocol::rpc;
use prost::Message as _;
use tokio_stream::Stream;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Code, Request, Response, Status, Streaming};

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

/// Serves the example on `listener` until the process ends: one port,
/// gRPC and HTTP/JSON, HTTP/1.1 and h2c.
///
/// This runs on `axum::serve` (hyper-util's auto builder: HTTP/1.1 and h2c
/// on one port, with HTTP upgrades) rather than
/// `tonic::transport::Server`, which serves connections without upgrades,
/// so a WebSocket (or any `Upgrade`) route added beside the services could
/// never work there. One difference to know: tonic's `Server` applies a
/// gRPC client's `grpc-timeout` itself, `axum::serve` does not. The layer
/// applies the deadline of transcoded (JSON) calls on its own; a native
/// gRPC call's deadline is the client's to enforce (tonic's client does),
/// and when it gives up the call is cancelled and its handler dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: &dual_protocol::Config,
    token: Option<String>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let layer = dual_protocol::DualProtocolLayer::from_config(config)?;
    // grpc.health.v1 for load balancers and Kubernetes probes (no token:
    // probes do not carry one).
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<LibraryServiceServer<Library>>()
        .await;
    reporter.set_serving::<EchoServiceServer<Echo>>().await;
    let router = routes(token).add_service(health).into_axum_router();
    // The layer goes around the whole router, not on it with
    // `Router::layer`: axum applies that to each route separately, and a
    // REST path such as `/v1/shelves/1/books` matches no route, so the
    // fallback's copy of the layer would send the transcoded call to the
    // fallback (UNIMPLEMENTED) instead of the service.
    let app = tower::ServiceBuilder::new()
        .map_response(|response: http::Response<_>| response.map(axum::body::Body::new))
        .layer(layer)
        .service(router);
    axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
    )
    .await?;
    Ok(())
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
    next_id: u64,
}

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
        *book = updated.clone();
        Ok(Response::new(updated))
    }

    async fn delete_book(
        &self,
        request: Request<DeleteBookRequest>,
    ) -> Result<Response<dual_protocol::types::Empty>, Status> {
        let name = request.into_inner().name;
        match self.state().books.remove(&name) {
            Some(_) => Ok(Response::new(dual_protocol::types::Empty {})),
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
        state.books.insert(book.name.clone(), book.clone());
        Ok(book)
    }
}

/// Answers with what it is sent.
#[derive(Clone, Copy, Default)]
pub struct Echo;

impl Echo {
    async fn answer(
        request: &EchoRequest,
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
            add_metadata(status.metadata_mut(), &request.response_trailers);
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

fn add_metadata(map: &mut MetadataMap, entries: &std::collections::HashMap<String, String>) {
    for (key, value) in entries {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            map.insert(key, value);
        }
    }
}

#[tonic::async_trait]
impl EchoService for Echo {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let answer = Self::answer(request.get_ref(), request.metadata(), 0).await?;
        let mut response = Response::new(answer);
        add_metadata(response.metadata_mut(), &request.get_ref().response_headers);
        Ok(response)
    }

    type EchoStreamStream = BoxStream<EchoResponse>;

    async fn echo_stream(
        &self,
        request: Request<EchoRequest>,
    ) -> Result<Response<Self::EchoStreamStream>, Status> {
        let repeat = request.get_ref().repeat.max(1);
        let mut answers = Vec::with_capacity(repeat as usize);
        for index in 0..repeat {
            answers.push(Self::answer(request.get_ref(), request.metadata(), index).await);
        }
        let mut response = Response::new(Box::pin(tokio_stream::iter(answers)) as BoxStream<_>);
        add_metadata(response.metadata_mut(), &request.get_ref().response_headers);
        Ok(response)
    }

    type EchoChatStream = BoxStream<EchoResponse>;

    async fn echo_chat(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Self::EchoChatStream>, Status> {
        let metadata = request.metadata().clone();
        let mut stream = request.into_inner();
        let answers = async_stream_like(move |tx| async move {
            let mut index = 0;
            while let Some(next) = stream.message().await.transpose() {
                let answer = match next {
                    Ok(request) => Self::answer(&request, &metadata, index).await,
                    Err(status) => Err(status),
                };
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    break;
                }
                index += 1;
            }
        });
        Ok(Response::new(answers))
    }
}

/// A stream fed by a task through a channel.
fn async_stream_like<T, F, Fut>(producer: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(producer(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
