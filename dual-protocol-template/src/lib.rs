//! Path templates of `google.api.http` rules, parsed into segments and
//! variables.
//!
//! The parser shared by [`dual-protocol`](https://docs.rs/dual-protocol),
//! whose router matches requests against the templates of a generated
//! table, and [`dual-protocol-build`](https://docs.rs/dual-protocol-build),
//! which rejects a bad template at build time: a template the generator
//! accepts is exactly one the runtime can route, with one set of error
//! messages. It depends on `std` only. Its API follows the versions of
//! those two crates; it is not meant to be used on its own.
//!
//! ```
//! use dual_protocol_template::{Segment, Template};
//!
//! let t = Template::parse("/v1/{name=shelves/*}:watch").unwrap();
//! assert_eq!(t.segments[0], Segment::Literal("v1".into()));
//! assert_eq!(t.variables[0].field_path, ["name"]);
//! assert_eq!(t.verb.as_deref(), Some("watch"));
//! assert_eq!(t.canonical(), "/v1/shelves/*:watch");
//! assert!(Template::parse("/v1/{name").is_err());
//! ```
//!
//! The grammar (from `google/api/http.proto`):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! The grammar is ambiguous about a `:` in the last segment: `/v1/books:import`
//! is read as the literal `books` and the verb `import`. dual-protocol's
//! router splits the last segment of a request path the same way (at its
//! last `:`), so the reading is invisible to users.

use std::fmt;

/// One segment of a template, with variables flattened away (they are
/// recorded as index ranges in [`Template::variables`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Matches exactly this raw (percent-encoded) path segment.
    Literal(String),
    /// `*`: any one non-empty segment.
    Any,
    /// `**`: the rest of the path, zero or more segments. Always last.
    Rest,
}

/// A `{field.path=...}` binding: which segments fill which request field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Variable {
    /// The request field, split on `.`.
    pub field_path: Vec<String>,
    /// First segment of [`Template::segments`] the variable covers.
    pub start: usize,
    /// One past its last segment. When that last segment is
    /// [`Segment::Rest`] the variable runs to the end of the request path.
    pub end: usize,
}

impl Variable {
    /// Whether the value may span several path segments, which decides how
    /// it is percent-decoded (`%2F` is kept in multi-segment values so that
    /// the segment structure survives).
    pub fn is_multi_segment(&self, segments: &[Segment]) -> bool {
        self.end - self.start > 1 || segments.get(self.start) == Some(&Segment::Rest)
    }
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Template {
    /// At least one segment; [`Segment::Rest`] only last.
    pub segments: Vec<Segment>,
    /// The `:verb` suffix, without the colon.
    pub verb: Option<String>,
    /// In template order; field paths are distinct and none is a prefix of
    /// another.
    pub variables: Vec<Variable>,
}

/// Why a template was rejected; the message quotes the template and points
/// at the byte where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    template: String,
    position: usize,
    message: String,
}

impl TemplateError {
    /// The problem alone, without the template.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "path template {:?}: {} (at byte {})",
            self.template, self.message, self.position
        )
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Parses `template`, checking everything the grammar and the spec's
    /// prose require, so that the router never sees a template it cannot
    /// match unambiguously.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        Parser {
            template,
            bytes: template.as_bytes(),
            pos: 0,
        }
        .parse()
    }

    /// The template with variable names dropped (`/v1/shelves/*:watch`):
    /// two templates with the same canonical form match the same paths.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            out.push('/');
            match segment {
                Segment::Literal(literal) => out.push_str(literal),
                Segment::Any => out.push('*'),
                Segment::Rest => out.push_str("**"),
            }
        }
        if let Some(verb) = &self.verb {
            out.push(':');
            out.push_str(verb);
        }
        out
    }
}

struct Parser<'a> {
    template: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, position: usize, message: impl Into<String>) -> TemplateError {
        TemplateError {
            template: self.template.to_owned(),
            position,
            message: message.into(),
        }
    }

    fn parse(mut self) -> Result<Template, TemplateError> {
        if self.bytes.first() != Some(&b'/') {
            return Err(self.error(0, "must start with '/'"));
        }
        let (body_end, verb) = self.split_verb()?;
        self.bytes = &self.bytes[..body_end];
        self.pos = 1;
        let mut segments = Vec::new();
        let mut variables: Vec<Variable> = Vec::new();
        loop {
            match self.bytes.get(self.pos) {
                Some(b'{') => {
                    let variable = self.variable(&mut segments)?;
                    variables.push(variable);
                }
                _ => {
                    let segment = self.segment(false)?;
                    segments.push(segment);
                }
            }
            match self.bytes.get(self.pos) {
                None => break,
                Some(b'/') => self.pos += 1,
                Some(b'}') => return Err(self.error(self.pos, "'}' without a matching '{'")),
                Some(_) => {
                    return Err(self.error(self.pos, "expected '/' or the end of the template"));
                }
            }
        }
        if let Some(i) = segments.iter().position(|s| *s == Segment::Rest)
            && i + 1 != segments.len()
        {
            return Err(self.error(
                self.rest_position(),
                "'**' must be the last segment of the template",
            ));
        }
        self.check_distinct(&variables)?;
        Ok(Template {
            segments,
            verb,
            variables,
        })
    }

    /// Finds a `:verb` suffix: a ':' in the last segment, outside any
    /// variable. Returns where the segments end and the verb.
    fn split_verb(&self) -> Result<(usize, Option<String>), TemplateError> {
        let tail_start = self
            .bytes
            .iter()
            .rposition(|&b| b == b'/' || b == b'}')
            .map_or(0, |i| i + 1);
        let tail = &self.bytes[tail_start..];
        // Inside an unclosed variable: leave it to the parser to complain.
        if tail.contains(&b'{') {
            return Ok((self.bytes.len(), None));
        }
        let Some(colon) = tail.iter().rposition(|&b| b == b':') else {
            return Ok((self.bytes.len(), None));
        };
        let colon = tail_start + colon;
        let verb = &self.template[colon + 1..];
        if verb.is_empty() {
            return Err(self.error(colon, "empty verb after ':'"));
        }
        if let Some(bad) = verb.bytes().position(|b| !is_literal_byte(b) || b == b':') {
            return Err(self.error(colon + 1 + bad, "invalid character in verb"));
        }
        self.check_escapes(colon + 1, colon + 1 + verb.len())?;
        Ok((colon, Some(verb.to_owned())))
    }

    /// One segment that is not a variable: `*`, `**` or a literal.
    fn segment(&mut self, in_variable: bool) -> Result<Segment, TemplateError> {
        let start = self.pos;
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'/' | b'}' => break,
                b'{' if in_variable => {
                    return Err(self.error(self.pos, "variables must not be nested"));
                }
                b'{' => break,
                _ => self.pos += 1,
            }
        }
        let text = &self.template[start..self.pos];
        match text {
            "" => Err(self.error(start, "empty segment")),
            "*" => Ok(Segment::Any),
            "**" => Ok(Segment::Rest),
            _ => {
                if let Some(bad) = text.bytes().position(|b| !is_literal_byte(b)) {
                    let at = start + bad;
                    let what = if self.bytes[at] == b'*' {
                        "'*' and '**' must be whole segments"
                    } else {
                        "invalid character in literal segment"
                    };
                    return Err(self.error(at, what));
                }
                self.check_escapes(start, self.pos)?;
                Ok(Segment::Literal(text.to_owned()))
            }
        }
    }

    /// `{field.path}` or `{field.path=segments}`; pushes its segments.
    fn variable(&mut self, segments: &mut Vec<Segment>) -> Result<Variable, TemplateError> {
        let open = self.pos;
        self.pos += 1;
        let path_start = self.pos;
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b'=' || b == b'}' || b == b'/' || b == b'{' {
                break;
            }
            self.pos += 1;
        }
        let field_path = self.field_path(path_start, self.pos)?;
        let start = segments.len();
        match self.bytes.get(self.pos) {
            Some(b'}') => {
                self.pos += 1;
                segments.push(Segment::Any);
            }
            Some(b'=') => {
                self.pos += 1;
                loop {
                    if self.bytes.get(self.pos) == Some(&b'{') {
                        return Err(self.error(self.pos, "variables must not be nested"));
                    }
                    let segment = self.segment(true)?;
                    segments.push(segment);
                    match self.bytes.get(self.pos) {
                        Some(b'/') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.error(open, "unclosed variable")),
                    }
                }
            }
            Some(b'{') => return Err(self.error(self.pos, "variables must not be nested")),
            _ => return Err(self.error(open, "unclosed variable")),
        }
        Ok(Variable {
            field_path,
            start,
            end: segments.len(),
        })
    }

    fn field_path(&self, start: usize, end: usize) -> Result<Vec<String>, TemplateError> {
        let text = &self.template[start..end];
        if text.is_empty() {
            return Err(self.error(start, "variable without a field path"));
        }
        let mut path = Vec::new();
        let mut offset = start;
        for ident in text.split('.') {
            if !is_ident(ident) {
                return Err(self.error(
                    offset,
                    format!("invalid field path {text:?}: {ident:?} is not an identifier"),
                ));
            }
            path.push(ident.to_owned());
            offset += ident.len() + 1;
        }
        Ok(path)
    }

    /// `%` must start a two-digit hex escape, so that literals compare
    /// byte-for-byte with request paths that are correctly encoded.
    fn check_escapes(&self, start: usize, end: usize) -> Result<(), TemplateError> {
        let mut i = start;
        while i < end {
            if self.bytes[i] == b'%' {
                let hex = |j: usize| j < end && self.bytes[j].is_ascii_hexdigit();
                if !(hex(i + 1) && hex(i + 2)) {
                    return Err(self.error(i, "'%' not followed by two hex digits"));
                }
                i += 3;
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    fn rest_position(&self) -> usize {
        self.template.find("**").unwrap_or(0)
    }

    fn check_distinct(&self, variables: &[Variable]) -> Result<(), TemplateError> {
        for (i, a) in variables.iter().enumerate() {
            for b in &variables[..i] {
                let shorter = a.field_path.len().min(b.field_path.len());
                if a.field_path[..shorter] == b.field_path[..shorter] {
                    let what = if a.field_path == b.field_path {
                        format!("field {} is bound twice", a.field_path.join("."))
                    } else {
                        format!(
                            "fields {} and {} overlap",
                            b.field_path.join("."),
                            a.field_path.join(".")
                        )
                    };
                    let position = self
                        .template
                        .match_indices('{')
                        .nth(i)
                        .map_or(0, |(p, _)| p);
                    return Err(self.error(position, what));
                }
            }
        }
        Ok(())
    }
}

/// RFC 3986 `pchar` minus `*` (reserved for wildcards): unreserved,
/// sub-delims, `:`, `@` and `%` (checked separately for escapes).
fn is_literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'%'
        )
}

fn is_ident(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::Segment::{Any, Literal, Rest};
    use super::*;

    fn lit(s: &str) -> Segment {
        Literal(s.to_owned())
    }

    fn var(path: &str, start: usize, end: usize) -> Variable {
        Variable {
            field_path: path.split('.').map(str::to_owned).collect(),
            start,
            end,
        }
    }

    fn parse(s: &str) -> Template {
        match Template::parse(s) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    fn error(s: &str) -> String {
        match Template::parse(s) {
            Ok(t) => panic!("{s} parsed as {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn literals_only() {
        let t = parse("/v1/shelves");
        assert_eq!(t.segments, [lit("v1"), lit("shelves")]);
        assert_eq!(t.verb, None);
        assert!(t.variables.is_empty());
    }

    #[test]
    fn variable_shorthand_means_one_segment() {
        assert_eq!(parse("/v1/{name}"), parse("/v1/{name=*}"));
        let t = parse("/v1/{name}");
        assert_eq!(t.segments, [lit("v1"), Any]);
        assert_eq!(t.variables, [var("name", 1, 2)]);
        assert!(!t.variables[0].is_multi_segment(&t.segments));
    }

    #[test]
    fn variable_with_segments() {
        let t = parse("/v1/{name=shelves/*/books/*}");
        assert_eq!(
            t.segments,
            [lit("v1"), lit("shelves"), Any, lit("books"), Any]
        );
        assert_eq!(t.variables, [var("name", 1, 5)]);
        assert!(t.variables[0].is_multi_segment(&t.segments));
    }

    #[test]
    fn nested_field_path() {
        let t = parse("/v1/{book.name=shelves/*/books/*}");
        assert_eq!(t.variables, [var("book.name", 1, 5)]);
        let t = parse("/v1/{a.b_c.d2}/x");
        assert_eq!(t.variables, [var("a.b_c.d2", 1, 2)]);
    }

    #[test]
    fn several_variables() {
        let t = parse("/v1/shelves/{shelf}/books/{book}");
        assert_eq!(t.variables, [var("shelf", 2, 3), var("book", 4, 5)]);
    }

    #[test]
    fn double_wildcards() {
        let t = parse("/v1/**");
        assert_eq!(t.segments, [lit("v1"), Rest]);
        let t = parse("/v1/{path=**}");
        assert_eq!(t.segments, [lit("v1"), Rest]);
        assert_eq!(t.variables, [var("path", 1, 2)]);
        assert!(t.variables[0].is_multi_segment(&t.segments));
        let t = parse("/v1/{path=files/**}");
        assert_eq!(t.variables, [var("path", 1, 3)]);
        let t = parse("/**");
        assert_eq!(t.segments, [Rest]);
    }

    #[test]
    fn verbs() {
        let t = parse("/v1/{shelf=shelves/*}:watch");
        assert_eq!(t.segments, [lit("v1"), lit("shelves"), Any]);
        assert_eq!(t.verb.as_deref(), Some("watch"));
        assert_eq!(t.variables, [var("shelf", 1, 3)]);
        let t = parse("/v1/{name}:cancel");
        assert_eq!(t.verb.as_deref(), Some("cancel"));
        let t = parse("/v1/**:download");
        assert_eq!(t.segments, [lit("v1"), Rest]);
        assert_eq!(t.verb.as_deref(), Some("download"));
        let t = parse("/v1/*:get");
        assert_eq!(t.segments, [lit("v1"), Any]);
    }

    #[test]
    fn literal_with_colon() {
        // The last segment's colon is the verb; earlier ones are literal.
        let t = parse("/v1/books:import");
        assert_eq!(t.segments, [lit("v1"), lit("books")]);
        assert_eq!(t.verb.as_deref(), Some("import"));
        let t = parse("/v1/a:b/c");
        assert_eq!(t.segments, [lit("v1"), lit("a:b"), lit("c")]);
        assert_eq!(t.verb, None);
        let t = parse("/v1/{name=a:b}");
        assert_eq!(t.segments, [lit("v1"), lit("a:b")]);
        assert_eq!(t.verb, None);
        // Its canonical form is the key of the paths it matches: those of
        // `/v1/a:b` when no verb route takes them first (the fuzzer found
        // that the form reads back split at the verb).
        assert_eq!(t.canonical(), "/v1/a:b");
        let t = parse("/v1/a:b:c");
        assert_eq!(t.segments, [lit("v1"), lit("a:b")]);
        assert_eq!(t.verb.as_deref(), Some("c"));
    }

    #[test]
    fn literal_characters() {
        let t = parse("/v1/a-b_c.d~e/%2A/x@y");
        assert_eq!(
            t.segments,
            [lit("v1"), lit("a-b_c.d~e"), lit("%2A"), lit("x@y")]
        );
    }

    #[test]
    fn canonical_form_drops_variable_names() {
        assert_eq!(
            parse("/v1/{name=shelves/*}:watch").canonical(),
            "/v1/shelves/*:watch"
        );
        assert_eq!(
            parse("/v1/{a}/{b=**}").canonical(),
            parse("/v1/{x=*}/{y=**}").canonical()
        );
        assert_eq!(parse("/v1/books:import").canonical(), "/v1/books:import");
    }

    #[test]
    fn malformed() {
        let cases = [
            ("/v1/{name=shelves/*", "unclosed variable"),
            ("/v1/{name", "unclosed variable"),
            ("/v1/{name=shelves/{id}}", "must not be nested"),
            ("/v1/{name={id}}", "must not be nested"),
            ("/v1/{a{b}}", "must not be nested"),
            ("/v1/**/books", "'**' must be the last"),
            ("/v1/{path=**}/books", "'**' must be the last"),
            ("/v1/{path=**/x}", "'**' must be the last"),
            ("/v1//books", "empty segment"),
            ("/v1/", "empty segment"),
            ("/", "empty segment"),
            ("/v1/{name=}", "empty segment"),
            ("/v1/{name=a//b}", "empty segment"),
            ("v1/books", "must start with '/'"),
            ("", "must start with '/'"),
            ("/v1/{1name}", "invalid field path"),
            ("/v1/{a..b}", "invalid field path"),
            ("/v1/{a.}", "invalid field path"),
            ("/v1/{a-b}", "invalid field path"),
            ("/v1/{}", "without a field path"),
            ("/v1/{=*}", "without a field path"),
            ("/v1/books:", "empty verb"),
            ("/v1/books}", "without a matching"),
            ("/v1/bo*ks", "whole segments"),
            ("/v1/***", "whole segments"),
            ("/v1/a b", "invalid character"),
            ("/v1/a?b", "invalid character"),
            ("/v1/%zz", "two hex digits"),
            ("/v1/%2", "two hex digits"),
            ("/v1/{name}x", "expected '/'"),
            ("/v1/{name}:", "empty verb"),
            ("/v1/{a}/{a}", "bound twice"),
            ("/v1/{a.b}/{a.b=x/*}", "bound twice"),
            ("/v1/{a}/{a.b}", "overlap"),
        ];
        for (template, expected) in cases {
            let message = error(template);
            assert!(message.contains(expected), "{template}: {message}");
            assert!(message.contains(&format!("{template:?}")), "{message}");
        }
    }

    #[test]
    fn error_names_the_template_and_position() {
        assert_eq!(
            error("/v1/{name=shelves/*"),
            r#"path template "/v1/{name=shelves/*": unclosed variable (at byte 4)"#
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "/{",
            "/}",
            "/{=",
            "/{a=",
            "/{a=*",
            "/:",
            "/::",
            "/a:",
            "/é",
            "/{é}",
            "/{a}:{b}",
            "/*:*",
            "/**:x/",
            "/{a=**}:v",
            "/%",
            "/a%",
            "/{a=%}",
        ] {
            let _ = Template::parse(s);
        }
        assert!(Template::parse("/{a=**}:v").is_ok());
    }
}
