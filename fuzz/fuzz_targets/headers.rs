//! Header and metadata mapping: JSON request headers -> gRPC metadata
//! (`grpc-timeout`, `connect-timeout-ms`, `-bin` values, dropped names),
//! gRPC response metadata and trailers -> HTTP headers, and the
//! `content-encoding` / `accept-encoding` reading.
#![no_main]

use arbitrary::Arbitrary;
use dual_protocol_fuzz::header_map;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    request: Vec<(String, Vec<u8>)>,
    response: Vec<(String, Vec<u8>)>,
    trailers: Vec<(String, Vec<u8>)>,
    timeout: Option<(bool, Vec<u8>)>,
}

fuzz_target!(|input: Input| {
    let mut request = header_map(&input.request);
    if let Some((grpc, value)) = &input.timeout {
        let name = if *grpc {
            "grpc-timeout"
        } else {
            "connect-timeout-ms"
        };
        if let Ok(value) = http::HeaderValue::from_bytes(value) {
            request.insert(name, value);
        }
    }
    let _ = dual_protocol::__fuzz::compression(&request);
    let _ = dual_protocol::__fuzz::request_headers(&mut request);
    let mut response = header_map(&input.response);
    let trailers = header_map(&input.trailers);
    dual_protocol::__fuzz::response_headers(&mut response, &trailers);
});
