//! Run with `cargo run --example client -- [URL] [TOKEN]`
//! (default URL `http://127.0.0.1:50051`; start `cargo run --example server` first).
//!
//! Calls the example server twice for the same book: by gRPC with the
//! generated tonic client, and by HTTP/JSON with a plain hyper client.

mod common;

use common::library::v1::GetBookRequest;
use common::library::v1::library_service_client::LibraryServiceClient;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let token = args.next();
    let bearer = token.map(|t| format!("Bearer {t}"));

    // gRPC.
    let mut grpc = LibraryServiceClient::connect(url.clone()).await?;
    let mut request = tonic::Request::new(GetBookRequest {
        name: "shelves/1/books/1".into(),
    });
    if let Some(bearer) = &bearer {
        request
            .metadata_mut()
            .insert("authorization", bearer.parse()?);
    }
    let book = grpc.get_book(request).await?.into_inner();
    println!("gRPC      GetBook -> {book:?}");

    // HTTP/JSON on the same port.
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let mut request = http::Request::post(format!("{url}/library.v1.LibraryService/GetBook"))
        .header("content-type", "application/json");
    if let Some(bearer) = &bearer {
        request = request.header("authorization", bearer);
    }
    let response = http
        .request(request.body(Full::from(r#"{"name":"shelves/1/books/1"}"#))?)
        .await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    println!(
        "HTTP/JSON GetBook -> {status} {}",
        String::from_utf8_lossy(&body)
    );
    Ok(())
}
