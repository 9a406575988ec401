//! The code dual-protocol-build generates for protobuf's conformance-suite
//! protos (copied unchanged to `proto/`, BSD-3-Clause, from protobuf
//! v33.2's `src/google/protobuf/`): that it compiles is the test, and
//! `tests/suite.rs` round-trips the messages through their JSON.

#![allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::all
)]

pub mod protobuf_test_messages {
    pub mod proto3 {
        dual_protocol::include_proto!("protobuf_test_messages.proto3");
    }
    pub mod proto2 {
        dual_protocol::include_proto!("protobuf_test_messages.proto2");
    }
}

pub mod suite {
    pub mod proto2 {
        dual_protocol::include_proto!("suite.proto2");
    }
}
