//! Run with `cargo run --example server`
//! (options: `--config FILE`, `--listen ADDR`, `--token TOKEN`,
//! `--cors-origin ORIGIN`, repeatable).
//!
//! Serves the example API on one port, by gRPC and by HTTP/JSON, over
//! HTTP/1.1 and h2c, and prints how to call it both ways.

mod common;

use dual_protocol::{Config, OpenApiConfig, Protocol, Protocols};

const DEFAULT_CONFIG: &str = include_str!("server.toml");

const USAGE: &str = "usage: server [--config FILE] [--listen ADDR] [--token TOKEN] [--cors-origin ORIGIN]... [--trace]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut config_file = None;
    let mut listen = None;
    let mut token = None;
    // Pages allowed to call by CORS, beside the config's `allow_origins`.
    let mut cors_origins = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--config" => config_file = Some(value()?),
            "--listen" => listen = Some(value()?),
            "--token" => token = Some(value()?),
            "--cors-origin" => cors_origins.push(value()?),
            // Every request's span (tower-http's TraceLayer) and each
            // transcoded call's (`dual_protocol`), on stderr.
            "--trace" => tracing_subscriber::fmt()
                .with_max_level(tracing::Level::DEBUG)
                .with_writer(std::io::stderr)
                .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
                .init(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
        }
    }
    let mut config = match &config_file {
        Some(path) => Config::from_file(path)?,
        None => Config::from_toml(DEFAULT_CONFIG)?,
    };
    if let Some(listen) = listen {
        config.server.listen = listen
            .parse()
            .map_err(|e| format!("--listen {listen}: {e}"))?;
    }
    config.cors.allow_origins.extend(cors_origins);
    // Checked before binding, so that a bad origin is named at once.
    config.cors_layer()?;
    let listener = tokio::net::TcpListener::bind(config.server.listen).await?;
    let addr = listener.local_addr()?;
    print_usage(
        addr,
        config.server.protocols(),
        token.as_deref(),
        &config.openapi,
    );
    if !config.cors.allow_origins.is_empty() {
        println!();
        println!(
            "CORS: pages from {} may call it from a browser",
            config.cors.allow_origins.join(", ")
        );
    }
    common::serve(listener, &config, token).await
}

fn print_usage(
    addr: std::net::SocketAddr,
    protocols: Protocols,
    token: Option<&str>,
    openapi: &OpenApiConfig,
) {
    let served = protocols
        .iter()
        .map(|p| match p {
            Protocol::Grpc => "gRPC",
            Protocol::Json => "HTTP/JSON",
            Protocol::Connect => "Connect",
            Protocol::GrpcWeb => "gRPC-Web",
            _ => "other",
        })
        .collect::<Vec<_>>()
        .join(", ");
    let auth = token
        .map(|t| format!(" -H 'authorization: Bearer {t}'"))
        .unwrap_or_default();
    println!("dual-protocol example server on {addr}: {served}, HTTP/1.1 and h2c on one port");
    if let Some(path) = &openapi.path {
        println!();
        println!("OpenAPI document: http://{addr}{path}");
        if let Some(docs) = &openapi.docs {
            println!("API docs page:    http://{addr}{docs}");
        }
    }
    println!();
    println!("HTTP/JSON:");
    println!(
        "  curl{auth} -H 'content-type: application/json' -d '{{\"name\":\"shelves/1/books/1\"}}' \\\n       http://{addr}/library.v1.LibraryService/GetBook"
    );
    println!(
        "  curl{auth} -H 'content-type: application/json' -d '{{\"parent\":\"shelves/1\"}}' \\\n       http://{addr}/library.v1.LibraryService/ListBooks"
    );
    println!(
        "  curl{auth} -H 'content-type: application/json' -d '{{\"message\":\"hi\"}}' http://{addr}/echo.v1.EchoService/Echo"
    );
    println!("  curl{auth} http://{addr}/v1/shelves/1/books/1            # REST");
    println!();
    println!("Streaming over HTTP (NDJSON, SSE, WebSocket):");
    println!(
        "  curl{auth} -N http://{addr}/v1/shelves/1:watch                                   # NDJSON"
    );
    println!(
        "  curl{auth} -N -H 'accept: text/event-stream' http://{addr}/v1/shelves/1:watch   # SSE"
    );
    println!(
        "  curl{auth} -N -H 'content-type: application/json' -d '{{\"message\":\"hi\",\"repeat\":5,\"delay\":\"0.5s\"}}' \\\n       http://{addr}/echo.v1.EchoService/EchoStream"
    );
    println!(
        "  printf '%s\\n' '{{\"parent\":\"shelves/2\",\"book\":{{\"title\":\"A\"}}}}' '{{\"parent\":\"shelves/2\",\"book\":{{\"title\":\"B\"}}}}' | \\\n    curl{auth} -H 'content-type: application/x-ndjson' --data-binary @- http://{addr}/v1/books:import"
    );
    println!(
        "  curl{auth} --http2-prior-knowledge -N -X POST -H 'content-type: application/x-ndjson' -T - \\\n       http://{addr}/echo.v1.EchoService/EchoChat    # bidi, full duplex: type lines"
    );
    println!(
        "  websocat{} ws://{addr}/echo.v1.EchoService/EchoChat    # bidi over a WebSocket",
        token
            .map(|t| format!(" -H 'authorization: Bearer {t}'"))
            .unwrap_or_default()
    );
    println!(
        "  curl{auth} -T cover.png -H 'content-type: image/png' http://{addr}/v1/shelves/1/books/1/cover   # raw upload"
    );
    println!(
        "  curl{auth} -o cover.png http://{addr}/v1/shelves/1/books/1/cover:download                         # raw download"
    );
    println!();
    println!("Connect and gRPC-Web (what browsers use; buf is `npm i -g @bufbuild/buf`):");
    println!(
        "  curl{auth} -H 'content-type: application/json' -H 'connect-protocol-version: 1' -d '{{\"message\":\"hi\"}}' \\\n       http://{addr}/echo.v1.EchoService/Echo                       # Connect unary"
    );
    println!(
        "  curl{auth} 'http://{addr}/echo.v1.EchoService/Echo?connect=v1&encoding=json&message=%7B%22message%22%3A%22hi%22%7D'   # Connect GET"
    );
    println!(
        "  buf curl{auth} --protocol connect -d '{{\"message\":\"hi\",\"repeat\":3}}' \\\n       http://{addr}/echo.v1.EchoService/EchoStream"
    );
    println!(
        "  buf curl{auth} --protocol grpcweb -d '{{\"name\":\"shelves/1/books/1\"}}' \\\n       http://{addr}/library.v1.LibraryService/GetBook"
    );
    println!();
    println!(
        "In a browser: http://{addr}/ calls it every way above (fetch, Connect, gRPC-Web, SSE, WebSocket)"
    );
    println!();
    println!("gRPC:");
    println!(
        "  cargo run --example client -- http://{addr}{}",
        token.map(|t| format!(" {t}")).unwrap_or_default()
    );
    println!(
        "  grpcurl -plaintext{} -d '{{\"name\":\"shelves/1/books/1\"}}' {addr} library.v1.LibraryService/GetBook",
        token
            .map(|t| format!(" -H 'authorization: Bearer {t}'"))
            .unwrap_or_default()
    );
    println!(
        "  grpcurl -plaintext {addr} describe library.v1.LibraryService    # the schema, by reflection"
    );
    println!("  buf curl --list-methods http://{addr}");
    println!();
    println!(
        "gRPC server reflection (v1, v1alpha) serves the schema: grpcurl and buf curl need no protos."
    );
}
