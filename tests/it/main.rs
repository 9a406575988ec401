//! Integration tests: real servers on 127.0.0.1:0, real tonic and hyper
//! clients over HTTP/1.1 and h2c. One test binary (each links separately).
#![allow(unreachable_pub, missing_docs, non_snake_case)]

#[path = "../../examples/common/mod.rs"]
mod common;
mod compose;
mod connect;
mod cors;
mod example;
mod openapi;
mod panics;
mod reflection;
mod regressions;
mod rest;
mod security;
mod serving;
mod streaming;
mod support;
mod unary;
#[cfg(feature = "websocket")]
mod websocket;
