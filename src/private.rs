//! What generated code names, and nothing else. Not a public API.

use prost::Message;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::registry::Registration;
pub use inventory;

use crate::registry::{
    MessageDescriptor, MethodDescriptor, MethodKind, PackageDescriptor, ServiceDescriptor,
};
use crate::transcode::json::{json_to_proto, proto_to_json};

pub const fn package(
    name: &'static str,
    services: &'static [ServiceDescriptor],
    messages: &'static [MessageDescriptor],
) -> PackageDescriptor {
    PackageDescriptor {
        name,
        services,
        messages,
    }
}

pub const fn service(
    name: &'static str,
    methods: &'static [MethodDescriptor],
) -> ServiceDescriptor {
    ServiceDescriptor { name, methods }
}

const fn method<Req, Resp>(path: &'static str, kind: MethodKind) -> MethodDescriptor
where
    Req: Message + Default + DeserializeOwned,
    Resp: Message + Default + Serialize,
{
    MethodDescriptor {
        path,
        kind,
        request: json_to_proto::<Req>,
        response: proto_to_json::<Resp>,
    }
}

pub const fn unary<Req, Resp>(path: &'static str) -> MethodDescriptor
where
    Req: Message + Default + DeserializeOwned,
    Resp: Message + Default + Serialize,
{
    method::<Req, Resp>(path, MethodKind::Unary)
}

pub const fn server_streaming<Req, Resp>(path: &'static str) -> MethodDescriptor
where
    Req: Message + Default + DeserializeOwned,
    Resp: Message + Default + Serialize,
{
    method::<Req, Resp>(path, MethodKind::ServerStreaming)
}

pub const fn client_streaming<Req, Resp>(path: &'static str) -> MethodDescriptor
where
    Req: Message + Default + DeserializeOwned,
    Resp: Message + Default + Serialize,
{
    method::<Req, Resp>(path, MethodKind::ClientStreaming)
}

pub const fn bidi_streaming<Req, Resp>(path: &'static str) -> MethodDescriptor
where
    Req: Message + Default + DeserializeOwned,
    Resp: Message + Default + Serialize,
{
    method::<Req, Resp>(path, MethodKind::BidiStreaming)
}

pub const fn message<M>(full_name: &'static str) -> MessageDescriptor
where
    M: Message + Default + Serialize,
{
    MessageDescriptor {
        full_name,
        to_json: proto_to_json::<M>,
    }
}
