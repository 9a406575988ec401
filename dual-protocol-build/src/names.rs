//! prost-build's naming rules, shared by every emitter: generated code must
//! name exactly the idents prost-build generates.

use heck::{ToSnakeCase, ToUpperCamelCase};

/// The package whose types come from `dual_protocol::types`, not from us.
pub(crate) const WELL_KNOWN: &str = "google.protobuf";
/// Where generated code finds the well-known types.
pub(crate) const WELL_KNOWN_RUST: &str = "::dual_protocol::types";

/// prost-build's rule for module and field names.
pub(crate) fn to_snake(s: &str) -> String {
    sanitize(s.to_snake_case())
}

/// prost-build's rule for type and variant names.
pub(crate) fn to_upper_camel(s: &str) -> String {
    sanitize(s.to_upper_camel_case())
}

/// Keywords become raw identifiers or get a suffix, as prost-build does.
fn sanitize(ident: String) -> String {
    match ident.as_str() {
        "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for" | "if"
        | "impl" | "in" | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref"
        | "return" | "static" | "struct" | "trait" | "true" | "type" | "unsafe" | "use"
        | "where" | "while" | "dyn" | "abstract" | "become" | "box" | "do" | "final" | "macro"
        | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "async" | "await"
        | "try" | "gen" => format!("r#{ident}"),
        "_" | "super" | "self" | "Self" | "extern" | "crate" => format!("{ident}_"),
        s if s.starts_with(|c: char| c.is_numeric()) => format!("_{ident}"),
        _ => ident,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_escaped_like_prost() {
        assert_eq!(to_snake("Type"), "r#type");
        assert_eq!(to_upper_camel("self"), "Self_");
        assert_eq!(to_snake("HTTPRule"), "http_rule");
    }
}
