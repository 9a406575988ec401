//! Compiles the suite's protos (copied from protobuf, see proto/README.md)
//! with our own generator, as a user would.

fn main() -> std::io::Result<()> {
    dual_protocol_build::configure()
        .build_server(false)
        .build_client(false)
        .file_descriptor_set(false)
        .compile_protos(
            &[
                "conformance/conformance.proto",
                "google/protobuf/test_messages_proto3.proto",
                // TODO(issue 11): "google/protobuf/test_messages_proto2.proto",
                // once the generator's serde code for `required` fields
                // compiles (with its module and match arm in main.rs).
            ],
            &["proto"],
        )
}
