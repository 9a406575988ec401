//! The transcoding pipeline. A call is: a [`request`] adapter (the client's
//! JSON body, NDJSON lines or WebSocket messages in, gRPC frames out), the
//! inner service, and a [`response`] adapter (gRPC frames and trailers in,
//! a JSON body, NDJSON lines, SSE events or WebSocket messages out). The
//! adapters are plain `Body` types driven by whoever polls them; the byte
//! work ([`frame`], [`json`]) is pure functions.

use std::sync::{Arc, Mutex};

use http::StatusCode;

use crate::status::Status;

pub(crate) mod envelope;
pub(crate) mod frame;
pub(crate) mod json;
pub(crate) mod request;
pub(crate) mod response;

/// Why the layer ended a call from the request side (a bad NDJSON line, a
/// body over the limit): set by the request adapter, read by the response
/// side, which answers it instead of whatever the handler made of the
/// broken request stream. The HTTP status is the one to answer with when
/// nothing has been sent yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct Failure(Arc<Mutex<Option<(StatusCode, Status)>>>);

impl Failure {
    pub(crate) fn set(&self, http: StatusCode, status: Status) {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert((http, status));
    }

    pub(crate) fn get(&self) -> Option<(StatusCode, Status)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
