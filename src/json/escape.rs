//! JSON strings written straight into the output, as serde_json writes
//! them (`"`, `\` and control characters escaped, short forms where JSON
//! has them, `\u00XX` with lower-case hex otherwise; nothing else).
//!
//! Written by hand rather than through `serde_json::Serializer`: its
//! escaper goes through `io::Write`, ~170 instructions a short string in
//! the direct printer's profile, more than the rest of printing the field;
//! here it is a table lookup a byte and one copy per clean run.

/// What each byte is escaped as: 0 not at all, `u` as `\u00XX`, else
/// `\` and that byte.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `text` as a JSON string; `false` (with `out` as it was) when
/// `text` is not UTF-8.
#[inline]
pub(crate) fn append_str(text: &[u8], out: &mut Vec<u8>) -> bool {
    if !text.is_ascii() && std::str::from_utf8(text).is_err() {
        return false;
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    let mut clean = 0;
    let mut at = 0;
    while at < text.len() {
        // Eight bytes at a time while none needs escaping.
        if let Some(word) = text.get(at..at + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            if !needs_escape(word) {
                at += 8;
                continue;
            }
        }
        let byte = text[at];
        let escape = ESCAPE[usize::from(byte)];
        if escape != 0 {
            out.extend_from_slice(&text[clean..at]);
            clean = at + 1;
            if escape == b'u' {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            } else {
                out.push(b'\\');
                out.push(escape);
            }
        }
        at += 1;
    }
    out.extend_from_slice(&text[clean..]);
    out.push(b'"');
    true
}

/// Whether any byte of `word` may need escaping: below 0x20, `"` or `\`
/// (the zero-byte test of "Bit Twiddling Hacks"; a byte at 0x80 or above
/// never matches, a false match only costs the byte-at-a-time path).
#[inline(always)]
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = word.wrapping_sub(ONES * 0x20);
    let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
    let slash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
    (below | quote | slash) & !word & HIGH != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(text: &[u8]) -> Option<Vec<u8>> {
        let mut out = b"[".to_vec();
        append_str(text, &mut out).then_some(out)
    }

    fn serde(text: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(text).ok()?;
        let mut out = b"[".to_vec();
        serde_json::to_writer(&mut out, text).unwrap();
        Some(out)
    }

    #[test]
    fn escapes_as_serde_json_does() {
        // Every byte alone, and inside clean text.
        for byte in 0..=255u8 {
            assert_eq!(ours(&[byte]), serde(&[byte]), "{byte:#x}");
            let text = [b'a', byte, b'b', byte];
            assert_eq!(ours(&text), serde(&text), "{byte:#x}");
        }
        for text in [
            &b""[..],
            b"plain",
            "na\u{ef}ve \u{1f600} \u{2028}".as_bytes(),
            b"\"\\/\x7f",
            b"\xff",
            b"ok\xc3",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
        ] {
            assert_eq!(ours(text), serde(text), "{text:?}");
        }
        // Pseudo-random bytes, mostly ASCII with some multi-byte runs.
        let mut state = 0x853c_49e6_748f_ea9bu64;
        for _ in 0..20_000 {
            let len = (state % 24) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let b = (state >> 56) as u8;
                    if b < 0xe0 { b & 0x7f } else { b }
                })
                .collect();
            let utf8 = String::from_utf8_lossy(&text).into_owned();
            assert_eq!(ours(&text), serde(&text), "{text:?}");
            assert_eq!(ours(utf8.as_bytes()), serde(utf8.as_bytes()), "{utf8:?}");
        }
        // Long clean runs (eight bytes at a time) with a rare byte to
        // escape or a multi-byte character anywhere in a word.
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state % 40) as usize;
            let mut text: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            for shift in [8, 20, 32] {
                let rare = [b'"', b'\\', b'\n', 0x1f, 0x7f, b'/', b' ', 0]
                    [(state >> (shift + 6)) as usize % 8];
                if len > 0 && (state >> shift).is_multiple_of(3) {
                    text[(state >> (shift + 12)) as usize % len] = rare;
                }
            }
            if len > 0 && state.is_multiple_of(5) {
                let at = (state >> 40) as usize % len;
                text.splice(at..at, "\u{e9}".bytes());
            }
            assert_eq!(ours(&text), serde(&text), "{text:?}");
        }
    }

    #[test]
    fn leaves_the_output_alone_when_not_utf8() {
        let mut out = b"kept".to_vec();
        assert!(!append_str(b"a\xffb", &mut out));
        assert_eq!(out, b"kept");
    }
}
