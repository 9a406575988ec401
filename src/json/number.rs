//! Strict parsing of the numbers proto3 JSON allows in strings.

/// The parts of a JSON number: sign, digits (integer and fraction parts
/// joined), and the power of ten to scale them by. `None` unless `text` is
/// a JSON number: `-? digits (. digits)? ([eE] [+-]? digits)?`.
fn split(text: &str) -> Option<(bool, &str, &str, i64)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let (int, frac) = match mantissa.find('.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || (mantissa.contains('.') && !digits(frac)) {
        return None;
    }
    let exponent = match exponent {
        None => 0,
        Some(e) => {
            let unsigned = e.strip_prefix(['+', '-']).unwrap_or(e);
            if !digits(unsigned) {
                return None;
            }
            // Clamp absurd exponents; they are out of range either way.
            let magnitude: i64 = unsigned.parse().unwrap_or(i64::MAX / 2).min(100_000);
            if e.starts_with('-') {
                -magnitude
            } else {
                magnitude
            }
        }
    };
    Some((negative, int, frac, exponent))
}

/// An integer written as a JSON number in a string (`"12"`, `"-3"`,
/// `"1e3"`, `"1.5e1"`), exactly; `None` for fractions, malformed text, or
/// magnitudes beyond `i128`.
pub fn parse_int(text: &str) -> Option<i128> {
    let (negative, int, frac, exponent) = split(text)?;
    // value = int.frac * 10^exponent = digits * 10^(exponent - frac.len())
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let mut scale = exponent - frac.len() as i64;
    while scale < 0 {
        match digits.last() {
            Some(b'0') => {
                digits.pop();
                scale += 1;
            }
            Some(_) => return None,
            None => break,
        }
    }
    let mut value: i128 = 0;
    for d in digits {
        value = value.checked_mul(10)?.checked_add(i128::from(d - b'0'))?;
    }
    if value != 0 {
        for _ in 0..scale.max(0) {
            value = value.checked_mul(10)?;
        }
    }
    Some(if negative { -value } else { value })
}

/// A float written as a JSON number in a string; `None` for anything else
/// (Rust's own syntax such as `"inf"`, `"+1"` or `".5"` included). Values
/// too large for `f64` come back infinite.
pub fn parse_float(text: &str) -> Option<f64> {
    split(text)?;
    text.parse().ok()
}
