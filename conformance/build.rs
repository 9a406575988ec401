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
                "google/protobuf/test_messages_proto2.proto",
                "google/protobuf/test_messages_proto3.proto",
                // The editions files are not compiled: protox 0.10 does not
                // parse `edition = "2023"` (and prost-build 0.14 accepts
                // only proto2 and proto3), see proto/README.md.
            ],
            &["proto"],
        )
}
