//! Each package's own encoded `FileDescriptorSet`, for gRPC server
//! reflection (`tonic-reflection`) and anything else that wants the schema
//! at run time, and the `FILE_DESCRIPTOR_SET` constant that points at it.
//!
//! A package's set holds its files and every file they import, directly or
//! not, dependencies first: it is self-contained, so a server can register
//! only the packages it serves. Each file's bytes are copied as they came,
//! never decoded and re-encoded, because prost's `FileDescriptorProto`
//! drops what it does not model: extension options such as
//! `google.api.http` would be lost. Source info (comments) stays when the
//! input has it (`compile_protos` asks protox for it).

use std::collections::{HashMap, HashSet};

use prost::Message as _;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};
use prost_types::FileDescriptorProto;

/// The name of `package`'s set, written beside its `{package}.dual.rs`.
pub(crate) fn file_name(package: &str) -> String {
    format!("{package}.descriptor_set.bin")
}

/// The constant appended to `{package}.dual.rs`. Many servers never use
/// it, and `include_proto!` in a private module would then warn.
///
/// `include_bytes!` resolves a relative path against the file that holds
/// the invocation, and for code brought in by `include!` that is the
/// included file itself (here `{package}.dual.rs`), not the crate source
/// that includes it. The set is always written to the same directory as
/// that file, so this holds for `OUT_DIR` and for any `Builder::out_dir`
/// alike, without embedding the bytes as a (slow to compile) literal.
pub(crate) fn rust_const(package: &str, out: &mut String) {
    out.push_str(&format!(
        "/// The encoded `google.protobuf.FileDescriptorSet` of `{package}`: its proto files and\n\
         /// every file they import, dependencies first, with their comments when compiled with\n\
         /// them. Register it with `tonic_reflection::server::Builder::register_encoded_file_descriptor_set`\n\
         /// to serve gRPC server reflection.\n\
         #[allow(dead_code)]\n\
         pub const FILE_DESCRIPTOR_SET: &[u8] = ::core::include_bytes!({:?});\n",
        file_name(package)
    ));
}

/// `(file name, encoded set)` for each of `packages`, from `encoded`, a
/// `FileDescriptorSet` with its imports.
pub(crate) fn split<'a>(
    encoded: &[u8],
    packages: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let files = files(encoded)?;
    let by_name: HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.name.as_str(), i))
        .collect();
    packages
        .into_iter()
        .map(|package| {
            let mut order = Vec::new();
            let mut seen = HashSet::new();
            for (i, file) in files.iter().enumerate() {
                if file.package == package {
                    visit(i, &files, &by_name, &mut seen, &mut order)?;
                }
            }
            let mut set = Vec::new();
            for i in order {
                encode_key(1, WireType::LengthDelimited, &mut set);
                encode_varint(files[i].raw.len() as u64, &mut set);
                set.extend_from_slice(files[i].raw);
            }
            Ok((file_name(package), set))
        })
        .collect()
}

/// One file of the input set: its bytes as given, and what orders it.
struct File<'a> {
    name: String,
    package: String,
    dependencies: Vec<String>,
    raw: &'a [u8],
}

/// The files of an encoded set, in its order.
fn files(mut buf: &[u8]) -> Result<Vec<File<'_>>, String> {
    let bad = |e: &dyn std::fmt::Display| format!("invalid FileDescriptorSet: {e}");
    let mut files = Vec::new();
    while !buf.is_empty() {
        let (tag, wire_type) = decode_key(&mut buf).map_err(|e| bad(&e))?;
        let len = match wire_type {
            WireType::LengthDelimited => {
                usize::try_from(decode_varint(&mut buf).map_err(|e| bad(&e))?)
                    .map_err(|e| bad(&e))?
            }
            WireType::Varint => {
                decode_varint(&mut buf).map_err(|e| bad(&e))?;
                0
            }
            WireType::ThirtyTwoBit => 4,
            WireType::SixtyFourBit => 8,
            WireType::StartGroup | WireType::EndGroup => return Err(bad(&"group")),
        };
        if len > buf.len() {
            return Err(bad(&"truncated"));
        }
        let (field, rest) = buf.split_at(len);
        buf = rest;
        // `repeated FileDescriptorProto file = 1`; nothing else is a file.
        if tag == 1 && wire_type == WireType::LengthDelimited {
            let file = FileDescriptorProto::decode(field).map_err(|e| bad(&e))?;
            files.push(File {
                name: file.name().to_owned(),
                package: file.package().to_owned(),
                dependencies: file.dependency,
                raw: field,
            });
        }
    }
    Ok(files)
}

/// Puts file `i` in `order` after everything it imports.
fn visit(
    i: usize,
    files: &[File<'_>],
    by_name: &HashMap<&str, usize>,
    seen: &mut HashSet<usize>,
    order: &mut Vec<usize>,
) -> Result<(), String> {
    if !seen.insert(i) {
        return Ok(());
    }
    for dependency in &files[i].dependencies {
        let Some(&d) = by_name.get(dependency.as_str()) else {
            return Err(format!(
                "{}: its import {dependency} is not in the descriptor set; include imports \
                 (protoc --include_imports, buf build without --exclude-imports) or turn \
                 Builder::file_descriptor_set off",
                files[i].name
            ));
        };
        visit(d, files, by_name, seen, order)?;
    }
    order.push(i);
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost_types::FileDescriptorSet;

    use super::*;

    #[test]
    fn a_package_set_holds_its_files_and_their_imports_first_with_options_kept() {
        let encoded = crate::test_protos::compile(&[
            (
                "a/v1/common.proto",
                r#"syntax = "proto3"; package a.v1;
                import "google/protobuf/timestamp.proto";
                message Common { google.protobuf.Timestamp at = 1; }"#,
            ),
            (
                "a/v1/a.proto",
                r#"syntax = "proto3"; package a.v1;
                import "google/api/annotations.proto";
                import "a/v1/common.proto";
                service Svc { rpc Get(Common) returns (Common) { option (google.api.http) = { get: "/v1/a" }; } }"#,
            ),
            (
                "b/v1/b.proto",
                r#"syntax = "proto3"; package b.v1;
                import "google/protobuf/empty.proto";
                message B { google.protobuf.Empty e = 1; }"#,
            ),
        ]);
        let sets = split(&encoded, ["a.v1", "b.v1"]).unwrap();
        let names = |set: &[u8]| -> Vec<String> {
            FileDescriptorSet::decode(set)
                .unwrap()
                .file
                .into_iter()
                .map(|f| f.name().to_owned())
                .collect()
        };
        assert_eq!(sets[0].0, "a.v1.descriptor_set.bin");
        let a = names(&sets[0].1);
        let position = |n: &str| {
            a.iter()
                .position(|x| x == n)
                .unwrap_or_else(|| panic!("{n} not in {a:?}"))
        };
        assert!(
            position("google/protobuf/descriptor.proto") < position("google/api/annotations.proto")
        );
        assert!(position("google/api/http.proto") < position("google/api/annotations.proto"));
        assert!(position("google/api/annotations.proto") < position("a/v1/a.proto"));
        assert!(position("google/protobuf/timestamp.proto") < position("a/v1/common.proto"));
        assert!(position("a/v1/common.proto") < position("a/v1/a.proto"));
        assert!(!a.contains(&"b/v1/b.proto".to_owned()), "{a:?}");
        assert!(
            !a.contains(&"google/protobuf/empty.proto".to_owned()),
            "{a:?}"
        );
        assert_eq!(
            names(&sets[1].1),
            ["google/protobuf/empty.proto", "b/v1/b.proto"]
        );
        // The file's bytes are the input's: the google.api.http option
        // (an extension prost would drop) is still there.
        let pool = prost_reflect::DescriptorPool::decode(sets[0].1.as_slice()).unwrap();
        let method = pool
            .get_service_by_name("a.v1.Svc")
            .unwrap()
            .methods()
            .next()
            .unwrap();
        let http = pool.get_extension_by_name("google.api.http").unwrap();
        assert!(method.options().has_extension(&http));
    }

    #[test]
    fn a_missing_import_is_named() {
        let encoded = crate::test_protos::compile(&[(
            "a/v1/a.proto",
            r#"syntax = "proto3"; package a.v1;
            import "google/protobuf/empty.proto";
            message A { google.protobuf.Empty e = 1; }"#,
        )]);
        let mut fds = FileDescriptorSet::decode(encoded.as_slice()).unwrap();
        fds.file.retain(|f| f.name() == "a/v1/a.proto");
        let error = split(&fds.encode_to_vec(), ["a.v1"]).unwrap_err();
        assert!(
            error.contains(
                "a/v1/a.proto: its import google/protobuf/empty.proto is not in the descriptor set"
            ),
            "{error}"
        );
    }

    #[test]
    fn generate_returns_the_sets_beside_the_tables_unless_turned_off() {
        let encoded = crate::test_protos::compile(&[(
            "a/v1/a.proto",
            r#"syntax = "proto3"; package a.v1;
            message A { string s = 1; }
            service Svc { rpc Get(A) returns (A); }"#,
        )]);
        let files = crate::configure().generate(&encoded).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "a.v1.descriptor_set.bin",
                "a.v1.dual.rs",
                "a.v1.openapi.json",
                "a.v1.rs",
                "a.v1.serde.rs",
            ]
        );
        let table = files[1].1.as_text().unwrap();
        assert!(table.contains("pub const DUAL_PROTOCOL"), "{table}");
        assert!(table.contains("pub const FILE_DESCRIPTOR_SET"), "{table}");
        let crate::Contents::Binary(set) = &files[0].1 else {
            panic!("not binary: {:?}", files[0].1)
        };
        let set = FileDescriptorSet::decode(set.as_slice()).unwrap();
        assert_eq!(set.file.len(), 1);
        assert_eq!(set.file[0].service[0].name(), "Svc");

        let files = crate::configure()
            .file_descriptor_set(false)
            .generate(&encoded)
            .unwrap();
        // The table, the OpenAPI document, prost's and serde's code; no set.
        assert_eq!(files.len(), 4);
        assert!(
            !files[0]
                .1
                .as_text()
                .unwrap()
                .contains("FILE_DESCRIPTOR_SET")
        );
    }

    #[test]
    fn the_constant_includes_the_set_beside_the_table() {
        let mut out = String::new();
        rust_const("a.v1", &mut out);
        assert!(
            out.contains(
                r#"pub const FILE_DESCRIPTOR_SET: &[u8] = ::core::include_bytes!("a.v1.descriptor_set.bin");"#
            ),
            "{out}"
        );
    }
}
