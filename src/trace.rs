//! One `tracing` span per transcoded call (cargo feature `tracing`, on by
//! default), named `dual_protocol`, at `INFO`, with these fields:
//!
//! | field | value |
//! | --- | --- |
//! | `protocol` | how the client is answered: `Json`, `Ndjson`, `Sse`, `WebSocket`, `Raw`, `Connect(..)`, `GrpcWeb { .. }`, ... |
//! | `wire` | how the client's request is read: `Json`, `Proto`, `Ndjson`, `Envelopes { .. }`, ... |
//! | `method` | the gRPC path called (`/pkg.Service/Method`) |
//! | `route` | the REST template matched, if any (`/v1/{name=shelves/*}`) |
//! | `http.status` | the answer's HTTP status, when its head is sent |
//! | `grpc.code` | the call's final status code (`OK`, `NOT_FOUND`, ...) |
//! | `bytes.in` / `bytes.out` | body bytes read from / written to the client |
//!
//! The span is entered while the layer works for the call (so the inner
//! service's own spans nest under it) and closes when the call's last part
//! (the response body) is done; the byte counts are recorded then. When no
//! subscriber wants the span it costs no allocation; without the feature
//! it is a zero-sized no-op.

#[cfg(feature = "tracing")]
mod enabled {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::classify::{Respond, Wire};
    use crate::status::Code;

    /// `None` when no subscriber wants the span: then a call costs no
    /// allocation for it.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct CallSpan(Option<Arc<Inner>>);

    #[derive(Debug)]
    struct Inner {
        span: tracing::Span,
        bytes_in: AtomicU64,
        bytes_out: AtomicU64,
    }

    impl Drop for Inner {
        fn drop(&mut self) {
            self.span
                .record("bytes.in", self.bytes_in.load(Ordering::Relaxed))
                .record("bytes.out", self.bytes_out.load(Ordering::Relaxed));
        }
    }

    impl CallSpan {
        pub(crate) fn new(respond: Respond, wire: Wire, method: &str, route: &str) -> Self {
            let span = tracing::info_span!(
                "dual_protocol",
                protocol = ?respond,
                wire = ?wire,
                method,
                route,
                http.status = tracing::field::Empty,
                grpc.code = tracing::field::Empty,
                bytes.in = tracing::field::Empty,
                bytes.out = tracing::field::Empty,
            );
            if span.is_disabled() {
                return Self(None);
            }
            Self(Some(Arc::new(Inner {
                span,
                bytes_in: AtomicU64::new(0),
                bytes_out: AtomicU64::new(0),
            })))
        }

        pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
            match &self.0 {
                Some(inner) => inner.span.in_scope(f),
                None => f(),
            }
        }

        pub(crate) fn http_status(&self, status: http::StatusCode) {
            if let Some(inner) = &self.0 {
                inner.span.record("http.status", status.as_u16());
            }
        }

        pub(crate) fn code(&self, code: Code) {
            if let Some(inner) = &self.0 {
                inner.span.record("grpc.code", code.name());
            }
        }

        pub(crate) fn bytes_in(&self, n: usize) {
            if let Some(inner) = &self.0 {
                inner.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
            }
        }

        pub(crate) fn bytes_out(&self, n: usize) {
            if let Some(inner) = &self.0 {
                inner.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(not(feature = "tracing"))]
mod enabled {
    use crate::classify::{Respond, Wire};
    use crate::status::Code;

    #[derive(Debug, Clone, Default)]
    pub(crate) struct CallSpan(());

    impl CallSpan {
        #[inline(always)]
        pub(crate) fn new(_: Respond, _: Wire, _: &str, _: &str) -> Self {
            Self(())
        }

        #[inline(always)]
        pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
            f()
        }

        #[inline(always)]
        pub(crate) fn http_status(&self, _: http::StatusCode) {}

        #[inline(always)]
        pub(crate) fn code(&self, _: Code) {}

        #[inline(always)]
        pub(crate) fn bytes_in(&self, _: usize) {}

        #[inline(always)]
        pub(crate) fn bytes_out(&self, _: usize) {}
    }
}

pub(crate) use enabled::CallSpan;
