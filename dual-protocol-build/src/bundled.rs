//! The `google/api` and `google/rpc` protos this crate ships (under its
//! `proto/` directory, compiled in), so that users need not vendor them.
//!
//! They are looked up last: after every include path the user gives and
//! after the well-known types, so a user's own copy of any of them, found
//! under one of their include paths, is the one compiled.

use std::path::Path;

use protox::file::{
    ChainFileResolver, File, FileResolver, GoogleFileResolver, IncludeFileResolver,
};

/// Import name and source of every bundled file.
pub(crate) const FILES: &[(&str, &str)] = &[
    (
        "google/api/annotations.proto",
        include_str!("../proto/google/api/annotations.proto"),
    ),
    (
        "google/api/http.proto",
        include_str!("../proto/google/api/http.proto"),
    ),
    (
        "google/api/httpbody.proto",
        include_str!("../proto/google/api/httpbody.proto"),
    ),
    (
        "google/rpc/code.proto",
        include_str!("../proto/google/rpc/code.proto"),
    ),
    (
        "google/rpc/error_details.proto",
        include_str!("../proto/google/rpc/error_details.proto"),
    ),
    (
        "google/rpc/status.proto",
        include_str!("../proto/google/rpc/status.proto"),
    ),
];

/// Serves [`FILES`] by import name; has no files on disk.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bundled;

impl FileResolver for Bundled {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match FILES.iter().find(|(n, _)| *n == name) {
            Some((name, source)) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// Where imports are looked up, in order: each of `includes`, the
/// well-known types (`google/protobuf/*`), then [`Bundled`].
pub(crate) fn resolver<'a>(includes: impl IntoIterator<Item = &'a Path>) -> ChainFileResolver {
    let mut resolver = ChainFileResolver::new();
    for include in includes {
        resolver.add(IncludeFileResolver::new(include.to_path_buf()));
    }
    resolver.add(GoogleFileResolver::new());
    resolver.add(Bundled);
    resolver
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_file_compiles() {
        let mut compiler = protox::Compiler::with_file_resolver(resolver([]));
        compiler
            .open_files(FILES.iter().map(|(name, _)| name))
            .expect("bundled protos compile");
        let names: Vec<_> = compiler.files().map(|f| f.name().to_owned()).collect();
        for (name, _) in FILES {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
    }

    #[test]
    fn an_include_path_takes_precedence() {
        let dir = std::env::temp_dir().join(format!(
            "dual-protocol-build-bundled-{}",
            std::process::id()
        ));
        let api = dir.join("google/api");
        std::fs::create_dir_all(&api).unwrap();
        // A user's own copy with an extra message: the one compiled.
        let own = format!(
            "{}\nmessage OwnCopy {{}}\n",
            FILES
                .iter()
                .find(|(n, _)| *n == "google/api/httpbody.proto")
                .unwrap()
                .1
        );
        std::fs::write(api.join("httpbody.proto"), own).unwrap();
        std::fs::write(
            dir.join("uses.proto"),
            "syntax = \"proto3\";\npackage uses;\n\
             import \"google/api/annotations.proto\";\n\
             import \"google/api/httpbody.proto\";\n\
             service S {\n  rpc M(google.api.HttpBody) returns (google.api.HttpBody) {\n\
             option (google.api.http) = { post: \"/m\" body: \"*\" };\n  }\n}\n",
        )
        .unwrap();
        let mut compiler = protox::Compiler::with_file_resolver(resolver([dir.as_path()]));
        compiler.include_imports(true);
        let result = compiler
            .open_file("uses.proto")
            .map(|c| c.descriptor_pool());
        std::fs::remove_dir_all(&dir).unwrap();
        let pool = result.expect("compiles");
        assert!(pool.get_message_by_name("google.api.OwnCopy").is_some());
        assert!(pool.get_extension_by_name("google.api.http").is_some());
        let httpbody = compiler
            .files()
            .find(|f| f.name() == "google/api/httpbody.proto")
            .unwrap();
        assert!(httpbody.path().is_some(), "read from the include path");
        let annotations = compiler
            .files()
            .find(|f| f.name() == "google/api/annotations.proto")
            .unwrap();
        assert!(annotations.path().is_none(), "the bundled copy");
    }
}
