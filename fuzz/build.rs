//! The example API and the kitchen-sink message, compiled for the fuzz
//! targets by the crate's own generator (as the root build.rs does).

fn main() -> std::io::Result<()> {
    dual_protocol_build::configure().compile_protos(
        &[
            "google/api/httpbody.proto",
            "../proto/library/v1/library.proto",
            "../proto/echo/v1/echo.proto",
            "../proto/kitchen/v1/kitchen.proto",
        ],
        &["../proto"],
    )
}
