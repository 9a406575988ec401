//! URL query strings to `(field path, value)` pairs, and the strict
//! percent-decoding shared with path variables.
//!
//! Decoding is strict (a `%` must start a two-digit hex escape, the result
//! must be UTF-8) because the values become protobuf strings: a lenient
//! decoder would hand the service a different value than the client sent.

use std::fmt;

/// Why a percent-encoded value could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// `%` not followed by two hex digits, at this byte of the input.
    BadEscape(usize),
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadEscape(at) => {
                write!(f, "'%' not followed by two hex digits at byte {at}")
            }
            DecodeError::NotUtf8 => f.write_str("not valid UTF-8 once percent-decoded"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Percent-decodes `input`.
///
/// `plus_as_space` is for query strings (`application/x-www-form-urlencoded`);
/// `keep_encoded_slash` is for multi-segment path variables, where the spec
/// keeps `%2F`/`%2f` as is so that an encoded slash stays distinguishable
/// from a segment separator.
pub(crate) fn percent_decode(
    input: &str,
    plus_as_space: bool,
    keep_encoded_slash: bool,
) -> Result<String, DecodeError> {
    let bytes = input.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_as_space && b == b'+'))
    {
        return Ok(input.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (Some(hi), Some(lo)) = (
                    bytes.get(i + 1).and_then(|&b| hex(b)),
                    bytes.get(i + 2).and_then(|&b| hex(b)),
                ) else {
                    return Err(DecodeError::BadEscape(i));
                };
                let byte = hi << 4 | lo;
                if keep_encoded_slash && byte == b'/' {
                    out.extend_from_slice(&bytes[i..i + 3]);
                } else {
                    out.push(byte);
                }
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A query parameter that could not be read; the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryError {
    parameter: String,
    message: String,
}

impl QueryError {
    /// The parameter as it appeared in the query (still encoded).
    pub(crate) fn parameter(&self) -> &str {
        &self.parameter
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "query parameter {:?}: {}", self.parameter, self.message)
    }
}

impl std::error::Error for QueryError {}

/// One decoded parameter: the field path (the name split on `.`) and the value.
pub(crate) type QueryParam = (Vec<String>, String);

/// Parses a query string (without the `?`) into parameters, in order.
///
/// Repeated names are all kept (they fill repeated fields); `a` and `a=`
/// both give an empty value; empty pieces (`a=1&&b=2`) are skipped, as
/// browsers and `url::form_urlencoded` do.
pub(crate) fn parse(query: &str) -> Result<Vec<QueryParam>, QueryError> {
    let mut params = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = piece.split_once('=').unwrap_or((piece, ""));
        let error = |message: String| QueryError {
            parameter: raw_name.to_owned(),
            message,
        };
        let name = percent_decode(raw_name, true, false).map_err(|e| error(format!("name {e}")))?;
        if name.is_empty() {
            return Err(error("empty parameter name".to_owned()));
        }
        let path: Vec<String> = name.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            return Err(error(format!("{name:?} is not a field path")));
        }
        let value =
            percent_decode(raw_value, true, false).map_err(|e| error(format!("value {e}")))?;
        params.push((path, value));
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(query: &str) -> Vec<(String, String)> {
        match parse(query) {
            Ok(params) => params
                .into_iter()
                .map(|(path, value)| (path.join("|"), value))
                .collect(),
            Err(e) => panic!("{query}: {e}"),
        }
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_pairs_and_field_paths() {
        assert_eq!(
            parsed("a=1&b.c.d=x&e_f=2"),
            pairs(&[("a", "1"), ("b|c|d", "x"), ("e_f", "2")])
        );
        assert_eq!(parsed(""), pairs(&[]));
    }

    #[test]
    fn plus_and_percent_escapes() {
        assert_eq!(
            parsed("q=hello+world&r=hello%20world&s=a%2Bb&t=%2F%2f&u=caf%C3%A9"),
            pairs(&[
                ("q", "hello world"),
                ("r", "hello world"),
                ("s", "a+b"),
                ("t", "//"),
                ("u", "café"),
            ])
        );
        assert_eq!(parsed("a%2Eb=1"), pairs(&[("a|b", "1")]));
        assert_eq!(parsed("x=a=b"), pairs(&[("x", "a=b")]));
    }

    #[test]
    fn repeated_keys_stay_in_order() {
        assert_eq!(
            parsed("tag=a&other=1&tag=b&tag=a"),
            pairs(&[("tag", "a"), ("other", "1"), ("tag", "b"), ("tag", "a")])
        );
    }

    #[test]
    fn empty_values_and_pieces() {
        assert_eq!(
            parsed("a=&b&&c=1&"),
            pairs(&[("a", ""), ("b", ""), ("c", "1")])
        );
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            ("a=%zz", "a", "two hex digits"),
            ("a=%2", "a", "two hex digits"),
            ("a=%", "a", "two hex digits"),
            ("n%G1=1", "n%G1", "two hex digits"),
            ("a=%FF", "a", "UTF-8"),
            ("a=%C3", "a", "UTF-8"),
            ("=1", "", "empty parameter name"),
            ("a..b=1", "a..b", "not a field path"),
            (".a=1", ".a", "not a field path"),
            ("a.=1", "a.", "not a field path"),
        ];
        for (query, parameter, message) in cases {
            let Err(e) = parse(query) else {
                panic!("{query} parsed");
            };
            assert_eq!(e.parameter(), parameter, "{query}");
            assert!(e.to_string().contains(message), "{query}: {e}");
            assert!(e.to_string().contains(&format!("{parameter:?}")), "{e}");
        }
    }

    #[test]
    fn decoding_modes() {
        assert_eq!(
            percent_decode("a%2Fb%2fc", false, true).as_deref(),
            Ok("a%2Fb%2fc")
        );
        assert_eq!(
            percent_decode("a%2Fb%20c", false, false).as_deref(),
            Ok("a/b c")
        );
        assert_eq!(
            percent_decode("a%20b%2F", false, true).as_deref(),
            Ok("a b%2F")
        );
        assert_eq!(percent_decode("a+b", false, false).as_deref(), Ok("a+b"));
        assert_eq!(percent_decode("a+b", true, false).as_deref(), Ok("a b"));
        assert_eq!(
            percent_decode("%E2%82%AC", false, false).as_deref(),
            Ok("€")
        );
        assert_eq!(
            percent_decode("x%", false, false),
            Err(DecodeError::BadEscape(1))
        );
        assert_eq!(
            percent_decode("%%41", false, false),
            Err(DecodeError::BadEscape(0))
        );
        assert_eq!(
            percent_decode("%80", false, false),
            Err(DecodeError::NotUtf8)
        );
    }
}
