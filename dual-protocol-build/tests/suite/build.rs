//! Generates code for every file of protobuf's conformance suite that
//! protox can compile: the proto3 and proto2 test messages (and a proto2
//! file of our own, `proto/suite/proto2.proto`). The editions
//! files cannot be (see `tests/suite.rs`, `editions_do_not_compile_yet`).

fn main() -> std::io::Result<()> {
    dual_protocol_build::configure().compile_protos(
        &[
            "google/protobuf/test_messages_proto3.proto",
            "google/protobuf/test_messages_proto2.proto",
            "suite/proto2.proto",
        ],
        &["proto"],
    )
}
