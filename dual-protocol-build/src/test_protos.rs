//! Compiling small protos in memory for the generator's tests.

struct InMemory(Vec<(String, String)>);

impl protox::file::FileResolver for InMemory {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        match self.0.iter().find(|(n, _)| n == name) {
            Some((n, source)) => protox::file::File::from_source(n, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// Compiles `files` (name, source), which may import the well-known types
/// and our copies of `google/api/{annotations,http}.proto`, and returns
/// protox's encoding of the set, which keeps extension options.
pub(crate) fn compile(files: &[(&str, &str)]) -> Vec<u8> {
    let mut sources: Vec<(String, String)> = files
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
    sources.push((
        "google/api/annotations.proto".into(),
        include_str!("../../proto/google/api/annotations.proto").into(),
    ));
    sources.push((
        "google/api/http.proto".into(),
        include_str!("../../proto/google/api/http.proto").into(),
    ));
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(protox::file::GoogleFileResolver::new());
    resolver.add(InMemory(sources));
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(true).include_source_info(true);
    compiler
        .open_files(files.iter().map(|(n, _)| *n))
        .expect("test protos compile");
    compiler.encode_file_descriptor_set()
}
