//! Compiles the crate's own protos (google.rpc, for error details) and the
//! example API (used by examples, tests and benches) with our own generator.

fn main() -> std::io::Result<()> {
    dual_protocol_build::configure().compile_protos(
        &[
            "proto/google/rpc/status.proto",
            "proto/google/rpc/error_details.proto",
            "proto/google/api/httpbody.proto",
            "proto/library/v1/library.proto",
            "proto/echo/v1/echo.proto",
            "proto/resttest/v1/resttest.proto",
            "proto/kitchen/v1/kitchen.proto",
        ],
        &["proto"],
    )
}
