//! One `dual_protocol` span per transcoded call, with its fields.
//!
//! A test binary of its own: a scoped subscriber in a binary whose other
//! tests register the same callsites at the same time without one can miss
//! spans (the callsites' cached interest races with them).
#![allow(unreachable_pub, missing_docs)]

#[path = "../../examples/common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "../it/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

use crate::support::*;

type Fields = BTreeMap<String, String>;

/// Keeps the fields of every `dual_protocol` span, as they are when it
/// closes.
#[derive(Default)]
struct Spans {
    next: AtomicU64,
    open: Mutex<BTreeMap<u64, Fields>>,
    closed: Mutex<Vec<Fields>>,
}

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Spans>);

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.name() == "dual_protocol"
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Fields::new();
        span.record(&mut Collect(&mut fields));
        self.0.open.lock().unwrap().insert(id, fields);
        Id::from_u64(id)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(fields) = self.0.open.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Collect(fields));
        }
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
    fn try_close(&self, id: Id) -> bool {
        if let Some(fields) = self.0.open.lock().unwrap().remove(&id.into_u64()) {
            self.0.closed.lock().unwrap().push(fields);
        }
        true
    }
}

#[tokio::test]
async fn each_transcoded_call_has_a_span_with_its_fields() {
    let capture = Capture::default();
    // A current-thread runtime: the server runs on this thread, under
    // this subscriber.
    let _guard = tracing::subscriber::set_default(capture.clone());
    tracing::callsite::rebuild_interest_cache();
    let addr = start_default().await;
    let answer = post_json(
        Version::Http1,
        addr,
        "/echo.v1.EchoService/Echo",
        r#"{"message":"traced"}"#,
    )
    .await;
    assert_eq!(answer.status, 200);
    let answer = send(
        Version::Http1,
        http::Request::get(format!("http://{addr}/v1/shelves/1/books/404"))
            .body(Default::default())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 404);
    // gRPC passes through: no span of ours.
    let mut client = echo(addr).await;
    client
        .echo(crate::common::echo::v1::EchoRequest::default())
        .await
        .unwrap();
    drop(client);
    // A span closes when hyper drops the answer's body, which may come
    // just after the client has read it.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let closed = capture.0.closed.lock().unwrap().clone();
            if closed.len() >= 2 {
                break closed;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("two spans closed: {:#?}", capture.0.closed.lock().unwrap()));
    assert_eq!(closed.len(), 2, "{closed:#?}");
    let by_method = |method: &str| {
        closed
            .iter()
            .find(|fields| fields["method"] == method)
            .unwrap_or_else(|| panic!("no span of {method}: {closed:#?}"))
    };
    let echo = by_method("/echo.v1.EchoService/Echo");
    assert_eq!(echo["method"], "/echo.v1.EchoService/Echo");
    assert_eq!(echo["protocol"], "Json");
    assert_eq!(echo["wire"], "Json");
    assert_eq!(echo["http.status"], "200");
    assert_eq!(echo["grpc.code"], "OK");
    assert_eq!(
        echo["bytes.in"],
        r#"{"message":"traced"}"#.len().to_string()
    );
    assert_eq!(echo["bytes.out"], answer_len(addr).await.to_string());
    let rest = by_method("/library.v1.LibraryService/GetBook");
    assert_eq!(rest["method"], "/library.v1.LibraryService/GetBook");
    assert_eq!(rest["route"], "/v1/{name=shelves/*/books/*}");
    assert_eq!(rest["http.status"], "404");
    assert_eq!(rest["grpc.code"], "NOT_FOUND");
    assert_eq!(rest["bytes.in"], "0");
}

/// The length of the JSON answer to the traced call.
async fn answer_len(addr: std::net::SocketAddr) -> usize {
    post_json(
        Version::Http1,
        addr,
        "/echo.v1.EchoService/Echo",
        r#"{"message":"traced"}"#,
    )
    .await
    .body
    .len()
}
