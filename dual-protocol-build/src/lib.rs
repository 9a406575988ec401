//! Build-time generator for [`dual-protocol`](https://docs.rs/dual-protocol).
//!
//! Use it from `build.rs` the way you would use `tonic-prost-build`:
//!
//! ```no_run
//! // build.rs
//! fn main() -> std::io::Result<()> {
//!     dual_protocol_build::configure()
//!         .compile_protos(&["proto/library/v1/library.proto"], &["proto"])
//! }
//! ```
//!
//! and bring the generated code in with `dual_protocol::include_proto!("library.v1")`.
//!
//! For every proto package it writes these files to `OUT_DIR`:
//!
//! | file | made by | what it holds |
//! | --- | --- | --- |
//! | `{package}.rs` | prost + tonic-prost-build | messages, gRPC server and client |
//! | `{package}.serde.rs` | this crate | proto3 JSON `Serialize`/`Deserialize` for every message and enum, with run-time options |
//! | `{package}.dual.rs` | this crate | `DUAL_PROTOCOL`: the table of methods and messages `DualProtocolLayer` serves as JSON; `OPENAPI`, the document below; `FILE_DESCRIPTOR_SET` |
//! | `{package}.openapi.json` | this crate | an OpenAPI 3.1 document of the package: its RPC paths and REST bindings, schemas in proto3 JSON |
//! | `{package}.descriptor_set.bin` | this crate | the package's encoded `FileDescriptorSet` (its files and all they import, with comments), which `FILE_DESCRIPTOR_SET` includes |
//!
//! ## gRPC server reflection
//!
//! Pass `FILE_DESCRIPTOR_SET` (e.g. `library::v1::FILE_DESCRIPTOR_SET`) to
//! [`tonic-reflection`](https://docs.rs/tonic-reflection)'s
//! `Builder::register_encoded_file_descriptor_set` and serve the service it
//! builds beside yours: `grpcurl` and `buf curl` then need no `.proto`
//! files (the example server of `dual-protocol` does this). Each package's
//! set is self-contained, so register those of the packages you serve
//! (reflection lists every service of the sets it has). A set is only in
//! your binary if you use its constant; [`Builder::file_descriptor_set`]
//! turns them off.
//!
//! Protos are compiled with [`protox`], so no `protoc` is needed. Well-known
//! types (`google.protobuf.*`) come from `dual_protocol::types`, so your
//! crate needs `prost`, `tonic`, `tonic-prost`, `serde` and `dual-protocol`
//! as dependencies.
//!
//! ## Bundled protos
//!
//! This crate ships the protos dual-protocol reads, so you need not vendor
//! them: `google/api/annotations.proto`, `google/api/http.proto` (REST
//! rules), `google/api/httpbody.proto` (raw bodies), and
//! `google/rpc/status.proto`, `google/rpc/error_details.proto` and
//! `google/rpc/code.proto` (the error model). Import them as usual.
//! [`compile_protos`](Builder::compile_protos) looks an import up in your
//! include paths first, in order, then among the well-known types
//! (`google/protobuf/*`), and only then among these: a copy of your own
//! under one of your include paths (e.g. a full googleapis checkout) is
//! the one compiled.
//!
//! ## Testing without a file system
//!
//! [`Builder::generate`] returns every file `compile_*` would write
//! (prost's and tonic's code included) as `(file name, contents)` pairs.
//!
//! ## Limitations
//! - Protos without a `package` statement are not supported.
//! - proto2 JSON follows prost's types: a `required` field, which prost
//!   cannot tell unset, is always written; extensions, which prost drops,
//!   are not in the JSON (`[ext.name]` keys are unknown fields).
//! - Editions (`edition = "2023"`) are not supported: protox does not parse
//!   them yet.
//! - Options of prost-build and tonic-prost-build beyond those of [`Builder`]
//!   are not exposed yet.

mod bundled;
mod descriptor_set;
mod emit;
mod emit_serde;
mod http_rule;
mod json;
mod model;
mod names;
mod openapi;
#[cfg(test)]
mod test_protos;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use prost::Message as _;
use prost_types::FileDescriptorSet;

/// Starts a [`Builder`] with the defaults: gRPC server and client code, JSON
/// for every message, a method table for every service, a descriptor set
/// for every package.
pub fn configure() -> Builder {
    Builder {
        out_dir: None,
        build_server: true,
        build_client: true,
        emit_rerun_if_changed: std::env::var_os("CARGO").is_some(),
        file_descriptor_set: true,
    }
}

/// Compiles `protos` (found under `includes`) with the default [`Builder`].
pub fn compile_protos(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> io::Result<()> {
    configure().compile_protos(protos, includes)
}

/// Generator settings; made by [`configure`].
#[derive(Clone)]
#[must_use]
pub struct Builder {
    out_dir: Option<PathBuf>,
    build_server: bool,
    build_client: bool,
    emit_rerun_if_changed: bool,
    file_descriptor_set: bool,
}

/// The contents of a file [`Builder::generate`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Contents {
    /// Source text (Rust).
    Text(String),
    /// Binary data (an encoded `FileDescriptorSet`).
    Binary(Vec<u8>),
}

impl Contents {
    /// The bytes to write.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Contents::Text(text) => text.as_bytes(),
            Contents::Binary(bytes) => bytes,
        }
    }

    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Contents::Text(text) => Some(text),
            Contents::Binary(_) => None,
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("out_dir", &self.out_dir)
            .field("build_server", &self.build_server)
            .field("build_client", &self.build_client)
            .field("emit_rerun_if_changed", &self.emit_rerun_if_changed)
            .field("file_descriptor_set", &self.file_descriptor_set)
            .finish()
    }
}

impl Builder {
    /// Where to write the generated files (default: `OUT_DIR`).
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Generate tonic server code (default: on).
    pub fn build_server(mut self, enable: bool) -> Self {
        self.build_server = enable;
        self
    }

    /// Generate tonic client code (default: on).
    pub fn build_client(mut self, enable: bool) -> Self {
        self.build_client = enable;
        self
    }

    /// Print `cargo:rerun-if-changed` for every proto file read from disk
    /// (default: on when run by cargo).
    pub fn emit_rerun_if_changed(mut self, enable: bool) -> Self {
        self.emit_rerun_if_changed = enable;
        self
    }

    /// Write each package's encoded `FileDescriptorSet` to
    /// `{package}.descriptor_set.bin` and define `FILE_DESCRIPTOR_SET` in its
    /// `{package}.dual.rs` (default: on). The sets cost nothing in a binary
    /// that does not use the constant; turn them off to save the build the
    /// work and `OUT_DIR` the space.
    pub fn file_descriptor_set(mut self, enable: bool) -> Self {
        self.file_descriptor_set = enable;
        self
    }

    /// Compiles `protos` with [`protox`], looking up imports under `includes`,
    /// then among the well-known types and the [bundled](crate#bundled-protos)
    /// `google/api` and `google/rpc` protos, and generates code for them and
    /// everything they import.
    pub fn compile_protos(
        self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> io::Result<()> {
        let resolver = bundled::resolver(includes.iter().map(AsRef::as_ref));
        let mut compiler = protox::Compiler::with_file_resolver(resolver);
        compiler.include_imports(true).include_source_info(true);
        compiler
            .open_files(protos.iter().map(AsRef::as_ref))
            .map_err(io::Error::other)?;
        if self.emit_rerun_if_changed {
            for file in compiler.files() {
                if let Some(path) = file.path() {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
        }
        self.compile_fds_bytes(&compiler.encode_file_descriptor_set())
    }

    /// Generates code for an encoded `FileDescriptorSet` (imports included),
    /// for users of `buf build -o` or `protoc --descriptor_set_out
    /// --include_imports`. Reads `google.api.http` rules from it.
    pub fn compile_fds_bytes(self, encoded: &[u8]) -> io::Result<()> {
        self.compile(encoded)
    }

    /// Generates code for every file of `fds` (it must include imports).
    ///
    /// prost's `FileDescriptorSet` drops extension options, so this sees no
    /// `google.api.http` rules: use [`compile_fds_bytes`](Self::compile_fds_bytes)
    /// with the encoded set to serve REST paths.
    pub fn compile_fds(self, fds: FileDescriptorSet) -> io::Result<()> {
        self.compile(&fds.encode_to_vec())
    }

    /// Generates every file [`compile_fds_bytes`](Self::compile_fds_bytes)
    /// would write for an encoded `FileDescriptorSet` (imports included)
    /// and returns them as `(file name, contents)` pairs, sorted by name,
    /// writing nothing: per package `{package}.rs` (prost and tonic),
    /// `{package}.serde.rs`, `{package}.dual.rs`, `{package}.openapi.json`
    /// and `{package}.descriptor_set.bin`. Errors are those `compile_*`
    /// would report.
    pub fn generate(&self, encoded: &[u8]) -> io::Result<Vec<(String, Contents)>> {
        // The one front end: one pool, one model, which every emitter reads.
        let (pool, model) = model::Model::decode(encoded).map_err(io::Error::other)?;
        let mut files: Vec<(String, Contents)> = self
            .prost(&pool)?
            .into_iter()
            .map(|(name, code)| (name, Contents::Text(code)))
            .collect();
        for package in &model.packages {
            let mut serde = String::new();
            emit_serde::package(
                &model,
                package,
                "::dual_protocol::__private::json",
                &mut serde,
            );
            files.push((format!("{package}.serde.rs"), Contents::Text(serde)));

            let document = openapi::document(&model, package);
            let mut table = String::new();
            emit::package(&model, package, &mut table);
            table.push_str(&openapi_const(&document));
            if self.file_descriptor_set {
                descriptor_set::rust_const(package, &mut table);
            }
            files.push((format!("{package}.dual.rs"), Contents::Text(table)));
            files.push((format!("{package}.openapi.json"), Contents::Text(document)));
        }
        if self.file_descriptor_set {
            let sets = descriptor_set::split(encoded, model.packages.iter().map(String::as_str))
                .map_err(io::Error::other)?;
            files.extend(
                sets.into_iter()
                    .map(|(name, set)| (name, Contents::Binary(set))),
            );
        }
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(files)
    }

    /// prost-build's messages and tonic-prost-build's services, in memory:
    /// `(file name, code)` as `Config::compile_fds` would name them.
    fn prost(&self, pool: &prost_reflect::DescriptorPool) -> io::Result<Vec<(String, String)>> {
        let mut prost = prost_build::Config::new();
        prost
            .compile_well_known_types()
            // `prost::Name` for every message, so `Any::pack` knows its URL.
            .enable_type_names()
            .type_name_domain(["."], "type.googleapis.com")
            .extern_path(format!(".{}", names::WELL_KNOWN), names::WELL_KNOWN_RUST)
            .service_generator(
                tonic_prost_build::configure()
                    .build_server(self.build_server)
                    .build_client(self.build_client)
                    .compile_well_known_types(true)
                    .service_generator(),
            );
        let requests = pool
            .file_descriptor_protos()
            .map(|file| {
                (
                    prost_build::Module::from_protobuf_package_name(file.package()),
                    file.clone(),
                )
            })
            .collect();
        Ok(prost
            .generate(requests)?
            .into_iter()
            .map(|(module, code)| (module.to_file_name_or("_"), code))
            .collect())
    }

    /// [`generate`](Self::generate), then writes the files to the output
    /// directory (a file whose contents did not change is not touched, so
    /// cargo does not rebuild for it).
    fn compile(self, encoded: &[u8]) -> io::Result<()> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| io::Error::other("OUT_DIR is not set; call out_dir()"))?,
        };
        for (name, contents) in self.generate(encoded)? {
            let path = out_dir.join(name);
            if std::fs::read(&path).is_ok_and(|old| old == contents.as_bytes()) {
                continue;
            }
            std::fs::write(path, contents.as_bytes())?;
        }
        Ok(())
    }
}

/// `OPENAPI`, the document as a raw string literal, which `DUAL_PROTOCOL`
/// names.
fn openapi_const(document: &str) -> String {
    let mut hashes = String::from("#");
    while document.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!(
        "/// The OpenAPI 3.1 document of this package (`PackageDescriptor::openapi`).\n\
         pub const OPENAPI: &str = r{hashes}\"{document}\"{hashes};\n"
    )
}
