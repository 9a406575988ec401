//! Compiles the crate's own protos (google.rpc, for error details) and the
//! example API (used by examples, tests and benches) with our own generator.
//! The `google/api` and `google/rpc` files come from the copies bundled in
//! `dual-protocol-build`, as they do for users.

fn main() -> std::io::Result<()> {
    dual_protocol_build::configure().compile_protos(
        &[
            "google/rpc/status.proto",
            "google/rpc/error_details.proto",
            "google/api/httpbody.proto",
            "proto/library/v1/library.proto",
            "proto/echo/v1/echo.proto",
            "proto/resttest/v1/resttest.proto",
            "proto/kitchen/v1/kitchen.proto",
        ],
        &["proto"],
    )
}
