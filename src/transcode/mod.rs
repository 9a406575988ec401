//! Byte-level work: gRPC framing and the JSON <-> protobuf codecs. Pure
//! functions, testable without a server.

pub(crate) mod frame;
pub(crate) mod json;
pub(crate) mod unary;
