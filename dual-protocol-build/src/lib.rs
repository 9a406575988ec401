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
//! For every proto package it writes four files to `OUT_DIR`:
//!
//! | file | made by | what it holds |
//! | --- | --- | --- |
//! | `{package}.rs` | prost + tonic-prost-build | messages, gRPC server and client |
//! | `{package}.serde.rs` | this crate | proto3 JSON `Serialize`/`Deserialize` for every message and enum, with run-time options |
//! | `{package}.dual.rs` | this crate | `DUAL_PROTOCOL`: the table of methods and messages `DualProtocolLayer` serves as JSON, and `OPENAPI`, the document below |
//! | `{package}.openapi.json` | this crate | an OpenAPI 3.1 document of the package: its RPC paths and REST bindings, schemas in proto3 JSON |
//!
//! Protos are compiled with [`protox`], so no `protoc` is needed. Well-known
//! types (`google.protobuf.*`) come from `dual_protocol::types`, so your
//! crate needs `prost`, `tonic`, `tonic-prost`, `serde` and `dual-protocol`
//! as dependencies.
//!
//! ## Limitations
//! - Protos without a `package` statement are not supported.
//! - Options of prost-build and tonic-prost-build beyond those of [`Builder`]
//!   are not exposed yet.

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
/// for every message, a method table for every service.
pub fn configure() -> Builder {
    Builder {
        out_dir: None,
        build_server: true,
        build_client: true,
        emit_rerun_if_changed: std::env::var_os("CARGO").is_some(),
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
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("out_dir", &self.out_dir)
            .field("build_server", &self.build_server)
            .field("build_client", &self.build_client)
            .field("emit_rerun_if_changed", &self.emit_rerun_if_changed)
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

    /// Compiles `protos` with [`protox`], looking up imports under `includes`,
    /// and generates code for them and everything they import.
    pub fn compile_protos(
        self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> io::Result<()> {
        let mut compiler =
            protox::Compiler::new(includes.iter().map(AsRef::as_ref)).map_err(io::Error::other)?;
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
        let fds = FileDescriptorSet::decode(encoded).map_err(io::Error::other)?;
        let rules = http_rule::http_rules(encoded).map_err(io::Error::other)?;
        self.compile(fds, encoded, &rules)
    }

    /// Generates code for every file of `fds` (it must include imports).
    ///
    /// prost's `FileDescriptorSet` drops extension options, so this sees no
    /// `google.api.http` rules: use [`compile_fds_bytes`](Self::compile_fds_bytes)
    /// with the encoded set to serve REST paths.
    pub fn compile_fds(self, fds: FileDescriptorSet) -> io::Result<()> {
        let encoded = fds.encode_to_vec();
        self.compile(fds, &encoded, &http_rule::HttpRules::default())
    }

    /// Generates only this crate's part (`{package}.dual.rs` and
    /// `{package}.openapi.json`) for an encoded `FileDescriptorSet` and
    /// returns `(file name, contents)` pairs, writing nothing; errors are
    /// those `compile_*` would report.
    pub fn generate(&self, encoded: &[u8]) -> io::Result<Vec<(String, String)>> {
        let fds = FileDescriptorSet::decode(encoded).map_err(io::Error::other)?;
        let rules = http_rule::http_rules(encoded).map_err(io::Error::other)?;
        tables(&fds, encoded, &rules)
    }

    fn compile(
        self,
        fds: FileDescriptorSet,
        encoded: &[u8],
        rules: &http_rule::HttpRules,
    ) -> io::Result<()> {
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| io::Error::other("OUT_DIR is not set; call out_dir()"))?,
        };
        let tables = tables(&fds, encoded, rules)?;
        let prefixes: Vec<String> = tables
            .iter()
            .filter_map(|(name, _)| name.strip_suffix(".dual.rs"))
            .map(|package| format!(".{package}"))
            .collect();

        let mut prost = prost_build::Config::new();
        prost
            .compile_well_known_types()
            // `prost::Name` for every message, so `Any::pack` knows its URL.
            .enable_type_names()
            .type_name_domain(["."], "type.googleapis.com")
            .extern_path(format!(".{}", names::WELL_KNOWN), names::WELL_KNOWN_RUST)
            .out_dir(&out_dir)
            .service_generator(
                tonic_prost_build::configure()
                    .build_server(self.build_server)
                    .build_client(self.build_client)
                    .compile_well_known_types(true)
                    .service_generator(),
            );
        prost.compile_fds(fds)?;

        let pool = prost_reflect::DescriptorPool::decode(encoded).map_err(io::Error::other)?;
        for prefix in &prefixes {
            let package = prefix.trim_start_matches('.');
            let mut code = String::new();
            emit_serde::package(
                &pool,
                package,
                "::dual_protocol::__private::json",
                &mut code,
            );
            std::fs::write(out_dir.join(format!("{package}.serde.rs")), code)?;
        }

        for (name, code) in tables {
            std::fs::write(out_dir.join(name), code)?;
        }
        Ok(())
    }
}

/// The `{package}.dual.rs` and `{package}.openapi.json` files: (file
/// name, contents).
fn tables(
    fds: &FileDescriptorSet,
    encoded: &[u8],
    rules: &http_rule::HttpRules,
) -> io::Result<Vec<(String, String)>> {
    let mut packages = model::packages(fds).map_err(io::Error::other)?;
    model::attach_http(&mut packages, rules, fds).map_err(io::Error::other)?;
    let pool = prost_reflect::DescriptorPool::decode(encoded).map_err(io::Error::other)?;
    let mut files = Vec::with_capacity(2 * packages.len());
    for package in packages {
        let document = openapi::document(&pool, rules, &package.name);
        let mut code = String::new();
        emit::package(&package, &mut code);
        code.push_str(&openapi_const(&document));
        files.push((format!("{}.dual.rs", package.name), code));
        files.push((format!("{}.openapi.json", package.name), document));
    }
    Ok(files)
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
