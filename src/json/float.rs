//! Floats in the form protobuf's other implementations print: the shortest
//! digits that read back as the same value (found by `zmij`, the printer
//! serde_json itself uses), laid out as ECMAScript's `Number.prototype.toString`
//! does, which is what Go's protojson and protobuf-es print: `1`, `0.1`,
//! `1e+300`, `1.5e-7`, `-0`. `float` fields print their shortest `f32`
//! form (`0.1`, not `0.10000000149011612`).

use std::io;

/// serde_json's compact output, with floats in the form above. NaN and the
/// infinities never reach it: proto3 JSON writes them as strings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Formatter;

impl serde_json::ser::Formatter for Formatter {
    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        let mut shortest = zmij::Buffer::new();
        write(writer, shortest.format_finite(value))
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        let mut shortest = zmij::Buffer::new();
        write(writer, shortest.format_finite(value))
    }
}

/// Appends `value` as proto3 JSON prints a `double`: the number in the
/// form above, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub(crate) fn append_f64(value: f64, out: &mut Vec<u8>) {
    if value.is_finite() {
        append(zmij::Buffer::new().format_finite(value), out);
    } else {
        out.extend_from_slice(special(value.is_nan(), value > 0.0));
    }
}

/// As [`append_f64`], for a `float` (its shortest `f32` form).
pub(crate) fn append_f32(value: f32, out: &mut Vec<u8>) {
    if value.is_finite() {
        append(zmij::Buffer::new().format_finite(value), out);
    } else {
        out.extend_from_slice(special(value.is_nan(), value > 0.0));
    }
}

fn special(nan: bool, positive: bool) -> &'static [u8] {
    match (nan, positive) {
        (true, _) => b"\"NaN\"",
        (false, true) => b"\"Infinity\"",
        (false, false) => b"\"-Infinity\"",
    }
}

fn append(shortest: &str, out: &mut Vec<u8>) {
    // zmij writes plain digits only between ~1e-6 and 1e16, where
    // ECMAScript does too: all that differs is its `.0` (the test compares
    // this with `layout` across the range).
    let shortest = shortest.as_bytes();
    if !shortest.contains(&b'e') {
        out.extend_from_slice(shortest.strip_suffix(b".0").unwrap_or(shortest));
        return;
    }
    let mut laid = [0u8; 40];
    let len = layout(shortest, &mut laid);
    out.extend_from_slice(&laid[..len]);
}

fn write<W: ?Sized + io::Write>(writer: &mut W, shortest: &str) -> io::Result<()> {
    let mut out = [0u8; 40];
    let len = layout(shortest.as_bytes(), &mut out);
    writer.write_all(&out[..len])
}

/// Rewrites a shortest-digits printer's output (`1.0`, `1e300`, `1e+300`,
/// `1.5e-7`, `0.001`, `-0.0`) in ECMAScript's layout into `out`, returning
/// the length written.
fn layout(shortest: &[u8], out: &mut [u8; 40]) -> usize {
    let (negative, text) = match shortest.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, shortest),
    };
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (&text[..at], parse_exponent(&text[at + 1..])),
        None => (text, 0),
    };
    // value = 0.d1 d2 ... dk * 10^n
    let mut digits = [0u8; 20];
    let (mut k, mut n, mut after_point) = (0usize, 0i32, false);
    for &b in mantissa {
        match b {
            b'.' => after_point = true,
            b'0' if k == 0 => n -= i32::from(after_point),
            digit => {
                digits[k] = digit;
                k += 1;
                n += i32::from(!after_point);
            }
        }
    }
    while k > 0 && digits[k - 1] == b'0' {
        k -= 1;
    }
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        out[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    if negative {
        push(b"-");
    }
    if k == 0 {
        push(b"0");
        return len;
    }
    let n = n + exponent;
    let digits = &digits[..k];
    let k = k as i32;
    if k <= n && n <= 21 {
        push(digits);
        for _ in k..n {
            push(b"0");
        }
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        push(int);
        push(b".");
        push(frac);
    } else if -6 < n && n <= 0 {
        push(b"0.");
        for _ in n..0 {
            push(b"0");
        }
        push(digits);
    } else {
        push(&digits[..1]);
        if k > 1 {
            push(b".");
            push(&digits[1..]);
        }
        let e = n - 1;
        push(if e < 0 { b"e-" } else { b"e+" });
        let mut exp = [0; 10];
        push(format_u32(e.unsigned_abs(), &mut exp));
    }
    len
}

fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .fold(0i32, |acc, d| acc * 10 + i32::from(d - b'0'));
    if negative { -magnitude } else { magnitude }
}

fn format_u32(mut value: u32, buffer: &mut [u8; 10]) -> &[u8] {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return &buffer[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64s(value: f64) -> String {
        let mut out = Vec::new();
        serde_json::ser::Formatter::write_f64(&mut Formatter, &mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn f32s(value: f32) -> String {
        let mut out = Vec::new();
        serde_json::ser::Formatter::write_f32(&mut Formatter, &mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn doubles_print_as_ecmascript_does() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e300, "1e+300"),
            (1e-6, "0.000001"),
            (1.5e-6, "0.0000015"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (0.001, "0.001"),
            (1234.5678, "1234.5678"),
            (9007199254740993.0, "9007199254740992"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (-2.5e-10, "-2.5e-10"),
            (123456789012345680000.0, "123456789012345680000"),
        ];
        for &(value, text) in cases {
            assert_eq!(f64s(value), text, "{value:e}");
            assert_eq!(text.parse::<f64>().unwrap().to_bits(), value.to_bits());
        }
    }

    #[test]
    fn append_prints_as_the_serde_path_does() {
        use crate::__private::json::{F32, F64, Kind as _};
        let mut bits = 0x1234_5678_9abc_def0u64;
        let specials = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            1e300,
            4.5,
        ];
        for i in 0..5_000 {
            bits = bits
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Half the values log-uniform over 1e-9..1e23 with 1 to 17
            // digits, where the plain and the exponent forms meet.
            let value = match specials.get(i) {
                Some(&special) => special,
                None if i % 2 == 1 => {
                    let exponent = (bits >> 11) as f64 / (1u64 << 53) as f64 * 32.0 - 9.0;
                    let digits = 10f64.powi((bits % 17) as i32);
                    ((10f64.powf(exponent) * digits).round() / digits)
                        .copysign(f64::from_bits(bits))
                }
                None => f64::from_bits(bits),
            };
            let (mut ours, mut serde) = (Vec::new(), Vec::new());
            append_f64(value, &mut ours);
            let mut writer = serde_json::Serializer::with_formatter(&mut serde, Formatter);
            F64::ser(&value, &mut writer).unwrap();
            assert_eq!(ours, serde, "{value:e}");
            let single = if i < specials.len() || i % 2 == 1 {
                value as f32
            } else {
                f32::from_bits((bits >> 32) as u32)
            };
            let (mut ours, mut serde) = (Vec::new(), Vec::new());
            append_f32(single, &mut ours);
            let mut writer = serde_json::Serializer::with_formatter(&mut serde, Formatter);
            F32::ser(&single, &mut writer).unwrap();
            assert_eq!(ours, serde, "{single:e}");
        }
    }

    #[test]
    fn floats_print_their_shortest_f32_form() {
        assert_eq!(f32s(0.1), "0.1");
        assert_eq!(f32s(1.0), "1");
        assert_eq!(f32s(-0.0), "-0");
        assert_eq!(f32s(3.4028235e38), "3.4028235e+38");
        assert_eq!(f32s(1e-7), "1e-7");
        assert_eq!(f32s(16777216.0), "16777216");
        assert_eq!(f32s(f32::MIN_POSITIVE), "1.1754944e-38");
    }

    /// How many significant digits a printed number has. std's `{:e}`
    /// prints the shortest digits that read back too, so the counts must
    /// match (the digits may not: on a tie std rounds half up, zmij and ryu
    /// half to even, e.g. `3697036.25f32`).
    fn digits(text: &str) -> usize {
        let mantissa = text.split(['e', 'E']).next().unwrap();
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        digits.trim_start_matches('0').trim_end_matches('0').len()
    }

    #[test]
    fn every_layout_reads_back_as_the_same_value() {
        let mut bits = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            bits = bits
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let value = f64::from_bits(bits);
            if value.is_finite() {
                assert_eq!(
                    f64s(value).parse::<f64>().unwrap().to_bits(),
                    value.to_bits()
                );
                assert_eq!(
                    digits(&f64s(value)),
                    digits(&format!("{value:e}")),
                    "{value:e}"
                );
            }
            let single = f32::from_bits((bits >> 32) as u32);
            if single.is_finite() {
                assert_eq!(
                    f32s(single).parse::<f32>().unwrap().to_bits(),
                    single.to_bits()
                );
                assert_eq!(
                    digits(&f32s(single)),
                    digits(&format!("{single:e}")),
                    "{single:e}"
                );
            }
        }
    }
}
