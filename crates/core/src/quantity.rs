//! Kubernetes resource quantities: CPU in millicores, sizes in bytes, and
//! back to text for diagnostics.
//!
//! The grammar is apimachinery's (`resource.Quantity`):
//!
//! ```text
//! <quantity>        ::= <signedNumber><suffix>
//! <signedNumber>    ::= <number> | <sign><number>
//! <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
//! <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
//! <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
//! <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
//! <decimalExponent> ::= "e" <signedInteger> | "E" <signedInteger>
//! ```
//!
//! (`1E` is one exa, `1E3` is a thousand.) Parsing is exact: the digits are
//! never read into a float, so `"9007199254740993"` stays odd and `"0.1"` is
//! a hundred millicores, not 99.
//!
//! A quantity finer than the unit asked for is rounded *up*, as Kubernetes'
//! `Quantity.MilliValue()` and `Value()` do (what the scheduler and the quota
//! controller count): `"0.5m"` is 1 millicore and `"100m"` of memory (a tenth
//! of a byte: valid, if odd) is 1 byte. Whatever is requested counts as at
//! least something.
//!
//! What jardin cannot count is an error ([`QuantityError`]), never zero: a
//! string outside the grammar (including surrounding spaces, which the API
//! server refuses too), a negative value (requests, limits, quotas and
//! capacities cannot be negative; `-0` is zero), or a value above
//! `u64::MAX` of the unit (about 18 exabytes, or 18 million million cores).

use std::fmt;

/// Why a quantity cannot be counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantityError {
    /// Not in the Kubernetes grammar (or not a string or number in JSON).
    Malformed,
    /// Below zero.
    Negative,
    /// Above `u64::MAX` bytes or millicores.
    TooLarge,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuantityError::Malformed => "is not a Kubernetes quantity",
            QuantityError::Negative => "is negative",
            QuantityError::TooLarge => "is larger than jardin can count",
        })
    }
}

impl std::error::Error for QuantityError {}

/// A quantity split along the grammar, before scaling: the value is
/// `±int.frac × 10^exp10 × 2^exp2`.
struct Parts<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
    exp10: i64,
    exp2: u32,
}

/// Exponents beyond this are saturated: the value is then zero-ish or too
/// large either way, and the arithmetic on them cannot overflow.
const EXPONENT_CAP: i64 = 1 << 40;

fn split(q: &str) -> Result<Parts<'_>, QuantityError> {
    let s = q.as_bytes();
    let (negative, mut i) = match s.first() {
        Some(b'-') => (true, 1),
        Some(b'+') => (false, 1),
        _ => (false, 0),
    };
    let digits = |from: usize| from + s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int_end = digits(i);
    let int = &s[i..int_end];
    i = int_end;
    let mut frac: &[u8] = &[];
    if s.get(i) == Some(&b'.') {
        let frac_end = digits(i + 1);
        frac = &s[i + 1..frac_end];
        i = frac_end;
    }
    if int.is_empty() && frac.is_empty() {
        return Err(QuantityError::Malformed);
    }
    let (exp10, exp2) = match &s[i..] {
        b"" => (0, 0),
        b"n" => (-9, 0),
        b"u" => (-6, 0),
        b"m" => (-3, 0),
        b"k" => (3, 0),
        b"M" => (6, 0),
        b"G" => (9, 0),
        b"T" => (12, 0),
        b"P" => (15, 0),
        b"E" => (18, 0),
        b"Ki" => (0, 10),
        b"Mi" => (0, 20),
        b"Gi" => (0, 30),
        b"Ti" => (0, 40),
        b"Pi" => (0, 50),
        b"Ei" => (0, 60),
        [b'e' | b'E', rest @ ..] => (exponent(rest)?, 0),
        _ => return Err(QuantityError::Malformed),
    };
    Ok(Parts {
        negative,
        int,
        frac,
        exp10,
        exp2,
    })
}

/// The signed integer of a decimal exponent, saturated at [`EXPONENT_CAP`].
fn exponent(s: &[u8]) -> Result<i64, QuantityError> {
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(QuantityError::Malformed);
    }
    let magnitude = digits.iter().fold(0i64, |n, d| {
        (n * 10 + i64::from(d - b'0')).min(EXPONENT_CAP)
    });
    Ok(if negative { -magnitude } else { magnitude })
}

/// `q × 10^shift`, rounded up to an integer.
fn scaled(q: &str, shift: i64) -> Result<u64, QuantityError> {
    let p = split(q)?;
    // The digits of int and frac as one string D, read as 0.D × 10^point.
    let int_lead = p.int.iter().take_while(|&&d| d == b'0').count();
    let mut int = &p.int[int_lead..];
    let mut frac = p.frac;
    let mut point = int.len() as i64 + p.exp10 + shift;
    if int.is_empty() {
        let frac_lead = frac.iter().take_while(|&&d| d == b'0').count();
        frac = &frac[frac_lead..];
        point -= frac_lead as i64;
    }
    // Trailing zeros say nothing about the value.
    let frac_trail = frac.iter().rev().take_while(|&&d| d == b'0').count();
    frac = &frac[..frac.len() - frac_trail];
    if frac.is_empty() {
        let int_trail = int.iter().rev().take_while(|&&d| d == b'0').count();
        int = &int[..int.len() - int_trail];
    }
    let len = (int.len() + frac.len()) as i64;
    if len == 0 {
        return Ok(0);
    }
    if p.negative {
        return Err(QuantityError::Negative);
    }
    // 0.D × 10^point ≥ 10^(point - 1), and 10^20 > u64::MAX.
    if point > 20 {
        return Err(QuantityError::TooLarge);
    }
    // 0.D × 10^point × 2^60 < 10^-40 × 2^60 < 1: the smallest non-zero count.
    if point < -40 {
        return Ok(1);
    }
    let digit = |i: i64| -> u128 {
        let i = i as usize;
        u128::from(
            if i < int.len() {
                int[i]
            } else {
                frac[i - int.len()]
            } - b'0',
        )
    };
    // The whole part W (below 10^20) and the fraction's digits after it.
    let mut whole: u128 = 0;
    for i in 0..point.max(0) {
        whole = whole * 10 + if i < len { digit(i) } else { 0 };
    }
    let whole = whole << p.exp2;
    // 0.F × 2^exp2, digit by digit from the right: its whole part is the
    // last carry; any non-zero digit left behind rounds up.
    let mut carry: u128 = 0;
    let mut rest = false;
    if point < len {
        if p.exp2 == 0 {
            rest = true; // the last digit of D is not zero
        } else {
            for i in (point..len).rev() {
                let d = if i >= 0 { digit(i) } else { 0 };
                let t = d * (1u128 << p.exp2) + carry;
                rest |= !t.is_multiple_of(10);
                carry = t / 10;
            }
        }
    }
    let total = whole + carry + u128::from(rest);
    u64::try_from(total).map_err(|_| QuantityError::TooLarge)
}

/// A CPU quantity ("500m", "2", "0.5", "1e3") in millicores.
pub fn parse_cpu_millis(q: &str) -> Result<u64, QuantityError> {
    scaled(q, 3)
}

/// A size ("512Mi", "10Gi", "1T", "1e9", "1000") in bytes.
pub fn parse_bytes(q: &str) -> Result<u64, QuantityError> {
    scaled(q, 0)
}

/// A JSON quantity: a string, or a number (which Kubernetes reads as the
/// same decimal text).
fn json(v: &serde_json::Value, shift: i64) -> Result<u64, QuantityError> {
    match v {
        serde_json::Value::String(s) => scaled(s, shift),
        serde_json::Value::Number(n) => match n.as_u64() {
            Some(u) => u
                .checked_mul(10u64.pow(shift as u32))
                .ok_or(QuantityError::TooLarge),
            // Negative integers and floats: serde_json writes them
            // exactly as a decimal ("-3", "0.25", "1e300").
            None => scaled(&n.to_string(), shift),
        },
        _ => Err(QuantityError::Malformed),
    }
}

/// A JSON quantity (string or number) in millicores.
pub fn parse_json_cpu(v: &serde_json::Value) -> Result<u64, QuantityError> {
    json(v, 3)
}

/// A JSON quantity (string or number) in bytes.
pub fn parse_json_bytes(v: &serde_json::Value) -> Result<u64, QuantityError> {
    json(v, 0)
}

/// [`parse_cpu_millis`], when the reason does not matter.
pub fn cpu_millis(q: &str) -> Option<u64> {
    parse_cpu_millis(q).ok()
}

/// [`parse_bytes`], when the reason does not matter.
pub fn bytes(q: &str) -> Option<u64> {
    parse_bytes(q).ok()
}

/// [`parse_json_bytes`], when the reason does not matter.
pub fn json_bytes(v: &serde_json::Value) -> Option<u64> {
    parse_json_bytes(v).ok()
}

/// `n / unit` with at most three decimals, when that is exact.
fn in_unit(n: u128, unit: u128) -> Option<String> {
    let (whole, rest) = (n / unit, n % unit);
    // rest < unit ≤ 2^60: no overflow.
    if !(rest * 1000).is_multiple_of(unit) {
        return None;
    }
    let frac = rest * 1000 / unit;
    Some(if frac == 0 {
        format!("{whole}")
    } else {
        let frac = format!("{frac:03}");
        format!("{whole}.{}", frac.trim_end_matches('0'))
    })
}

/// Millicores in cores, exactly: 2500 is "2.5", 1001 is "1.001". What it
/// gives parses back to the same millicores.
pub fn show_cpu(millis: impl Into<u128>) -> String {
    in_unit(millis.into(), 1000).expect("every millicore count is exact in cores")
}

/// Bytes, exactly, in the shortest of: a binary unit with at most three
/// decimals ("1.5Gi", "5.25Gi"), a decimal one ("1G", "2.5k"), plain bytes
/// ("1025"); on a tie, the larger unit and binary first. What it gives
/// parses back to the same bytes.
pub fn show_bytes(b: impl Into<u128>) -> String {
    const UNITS: [(&str, u128); 12] = [
        ("Ei", 1 << 60),
        ("Pi", 1 << 50),
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
        ("E", 1_000_000_000_000_000_000),
        ("P", 1_000_000_000_000_000),
        ("T", 1_000_000_000_000),
        ("G", 1_000_000_000),
        ("M", 1_000_000),
        ("k", 1_000),
    ];
    let b = b.into();
    UNITS
        .iter()
        .filter(|(_, size)| b >= *size)
        .filter_map(|(unit, size)| in_unit(b, *size).map(|v| v + unit))
        .chain(std::iter::once(b.to_string()))
        .min_by_key(String::len)
        .expect("plain bytes are always there")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn parses_kubernetes_quantities() {
        assert_eq!(cpu_millis("500m"), Some(500));
        assert_eq!(cpu_millis("2"), Some(2000));
        assert_eq!(cpu_millis("0.25"), Some(250));
        assert_eq!(bytes("512Mi"), Some(512 << 20));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("10Zi"), None);
        assert_eq!(bytes("0"), Some(0));
        assert_eq!(show_cpu(2500u64), "2.5");
        assert_eq!(show_bytes(3u64 << 30), "3Gi");
        assert_eq!(show_bytes(1536u64 << 20), "1.5Gi");
    }

    #[test]
    fn shows_every_millicore() {
        assert_eq!(show_cpu(1001u64), "1.001");
        assert_eq!(show_cpu(1010u64), "1.01");
        assert_eq!(show_cpu(1u64), "0.001");
        assert_eq!(show_cpu(0u64), "0");
        assert_eq!(cpu_millis(&show_cpu(1001u64)), Some(1001));
        assert_eq!(show_cpu(u64::MAX), "18446744073709551.615");
    }

    #[test]
    fn shows_bytes_exactly() {
        assert_eq!(show_bytes(0u64), "0");
        assert_eq!(show_bytes(1023u64), "1023");
        assert_eq!(show_bytes(1025u64), "1025");
        assert_eq!(show_bytes(1024u64), "1Ki");
        assert_eq!(show_bytes(2500u64), "2.5k");
        assert_eq!(show_bytes(1536u64 << 20), "1.5Gi");
        assert_eq!(show_bytes(5376u64 << 20), "5.25Gi");
        assert_eq!(show_bytes(1_000_000_000u64), "1G");
        assert_eq!(show_bytes(1_717_986_918u64), "1717986918");
        assert_eq!(show_bytes(2u64 << 60), "2Ei");
        assert_eq!(bytes(&show_bytes(u64::MAX)), Some(u64::MAX));
    }

    #[test]
    fn reads_the_exponent_form() {
        assert_eq!(cpu_millis("1e3"), Some(1_000_000));
        assert_eq!(bytes("1e3"), Some(1000));
        assert_eq!(bytes("1E3"), Some(1000));
        assert_eq!(bytes("1.5e+3"), Some(1500));
        assert_eq!(bytes("15e-1"), Some(2)); // 1.5 bytes, rounded up
        assert_eq!(cpu_millis("1e-3"), Some(1));
        assert_eq!(bytes("1e"), None);
        assert_eq!(bytes("1e3.5"), None);
        assert_eq!(bytes("1e3Ki"), None);
    }

    #[test]
    fn reads_exa_and_exbi() {
        assert_eq!(bytes("2Ei"), Some(2 << 60));
        assert_eq!(bytes("1E"), Some(1_000_000_000_000_000_000));
        assert_eq!(bytes("15Ei"), Some(15 << 60));
        assert_eq!(parse_bytes("16Ei"), Err(QuantityError::TooLarge));
        assert_eq!(parse_bytes("19E"), Err(QuantityError::TooLarge));
    }

    #[test]
    fn reads_fractions_exactly() {
        assert_eq!(bytes("1.5Gi"), Some(3 << 29));
        assert_eq!(cpu_millis("0.1"), Some(100));
        assert_eq!(cpu_millis("100m"), Some(100));
        assert_eq!(cpu_millis(".5"), Some(500));
        assert_eq!(cpu_millis("1."), Some(1000));
        assert_eq!(cpu_millis("+1"), Some(1000));
        assert_eq!(bytes("0.1Ki"), Some(103)); // 102.4, rounded up
        assert_eq!(bytes("9007199254740993"), Some(9_007_199_254_740_993));
        assert_eq!(bytes("18446744073709551615"), Some(u64::MAX));
        assert_eq!(
            parse_bytes("18446744073709551616"),
            Err(QuantityError::TooLarge)
        );
        assert_eq!(bytes("0000000000000000000000000001"), Some(1));
        assert_eq!(bytes("1.000000000000000000000000000"), Some(1));
        assert_eq!(bytes("1.000000000000000000000000001"), Some(2));
        assert_eq!(bytes("0.000000000000000000000000001Ei"), Some(1));
        assert_eq!(bytes("1e-999999999999999999999999"), Some(1));
        assert_eq!(bytes("0e999999999999999999999999"), Some(0));
        assert_eq!(
            parse_bytes("1e999999999999999999999999"),
            Err(QuantityError::TooLarge)
        );
    }

    #[test]
    fn milli_bytes_round_up() {
        assert_eq!(bytes("100m"), Some(1));
        assert_eq!(bytes("1000m"), Some(1));
        assert_eq!(bytes("1001m"), Some(2));
        assert_eq!(bytes("0m"), Some(0));
        assert_eq!(cpu_millis("1n"), Some(1));
        assert_eq!(cpu_millis("1000000u"), Some(1000));
    }

    #[test]
    fn rejects_negatives_and_garbage() {
        for q in ["-1", "-100m", "-0.5Gi", "-1e3"] {
            assert_eq!(parse_bytes(q), Err(QuantityError::Negative), "{q}");
            assert_eq!(parse_cpu_millis(q), Err(QuantityError::Negative), "{q}");
        }
        assert_eq!(bytes("-0"), Some(0));
        for q in [
            "", " ", "1 ", " 1", "abc", "Mi", "+", "-", ".", "1..2", "1.2.3", "1KB", "1K", "1ki",
            "1mi", "1Gb", "1Ki ", "0x10", "1_000", "∞", "NaN", "1e", "e3", "--1", "1Mi1",
        ] {
            assert_eq!(parse_bytes(q), Err(QuantityError::Malformed), "{q:?}");
            assert_eq!(parse_cpu_millis(q), Err(QuantityError::Malformed), "{q:?}");
        }
    }

    #[test]
    fn reads_json_numbers_and_strings() {
        assert_eq!(parse_json_cpu(&json!("250m")), Ok(250));
        assert_eq!(parse_json_cpu(&json!(2)), Ok(2000));
        assert_eq!(parse_json_cpu(&json!(0.25)), Ok(250));
        assert_eq!(parse_json_cpu(&json!(-1)), Err(QuantityError::Negative));
        assert_eq!(
            parse_json_cpu(&json!(u64::MAX)),
            Err(QuantityError::TooLarge)
        );
        assert_eq!(parse_json_bytes(&json!(u64::MAX)), Ok(u64::MAX));
        assert_eq!(parse_json_bytes(&json!(1.5)), Ok(2));
        assert_eq!(
            parse_json_bytes(&json!(1e300)),
            Err(QuantityError::TooLarge)
        );
        assert_eq!(
            parse_json_bytes(&json!(null)),
            Err(QuantityError::Malformed)
        );
        assert_eq!(
            parse_json_bytes(&json!(true)),
            Err(QuantityError::Malformed)
        );
        assert_eq!(json_bytes(&json!("1Gi")), Some(1 << 30));
    }

    /// Any number of the grammar: sign, digits, point, digits.
    fn number() -> impl Strategy<Value = String> {
        "[+-]?([0-9]{1,25}|[0-9]{1,25}\\.[0-9]{1,25}|[0-9]{1,25}\\.|\\.[0-9]{1,25})"
    }

    /// Any suffix of the grammar.
    fn suffix() -> impl Strategy<Value = String> {
        "(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]{1,3})?"
    }

    proptest! {
        #[test]
        fn cpu_round_trips(millis in any::<u64>()) {
            prop_assert_eq!(parse_cpu_millis(&show_cpu(millis)), Ok(millis));
        }

        #[test]
        fn small_cpu_round_trips(millis in 0u64..10_000_000) {
            prop_assert_eq!(parse_cpu_millis(&show_cpu(millis)), Ok(millis));
        }

        #[test]
        fn bytes_round_trip(b in any::<u64>()) {
            prop_assert_eq!(parse_bytes(&show_bytes(b)), Ok(b));
        }

        #[test]
        fn binary_bytes_round_trip(n in 0u64..1 << 20, shift in 0u32..44, frac in 0u64..8) {
            let b = (n << shift) + (frac << shift.saturating_sub(3));
            prop_assert_eq!(parse_bytes(&show_bytes(b)), Ok(b));
        }

        /// Every form of the grammar is read: to a count, or to "too large"
        /// or "negative", never "malformed".
        #[test]
        fn every_grammar_form_parses(q in (number(), suffix()).prop_map(|(n, s)| n + &s)) {
            for r in [parse_bytes(&q), parse_cpu_millis(&q)] {
                prop_assert_ne!(r, Err(QuantityError::Malformed), "{}", q);
            }
        }

        /// Integers with any suffix agree with exact u128 arithmetic, and a
        /// value above u64::MAX is an error, never a wrapped number.
        #[test]
        fn integers_never_wrap(n in any::<u64>(), i in 0usize..16) {
            const SUFFIXES: [(&str, u128); 16] = [
                ("", 1), ("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000),
                ("T", 1_000_000_000_000), ("P", 1_000_000_000_000_000),
                ("E", 1_000_000_000_000_000_000), ("Ki", 1 << 10), ("Mi", 1 << 20),
                ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50), ("Ei", 1 << 60),
                ("e0", 1), ("e2", 100), ("e19", 10_000_000_000_000_000_000),
            ];
            let (suffix, mult) = SUFFIXES[i];
            let exact = u128::from(n) * mult;
            let expected = u64::try_from(exact).map_err(|_| QuantityError::TooLarge);
            prop_assert_eq!(parse_bytes(&format!("{n}{suffix}")), expected);
            let millis = exact
                .checked_mul(1000)
                .and_then(|m| u64::try_from(m).ok())
                .ok_or(QuantityError::TooLarge);
            prop_assert_eq!(parse_cpu_millis(&format!("{n}{suffix}")), millis);
        }

        /// A decimal with up to three places is exact in millicores, and a
        /// finer one rounds up by at most one millicore.
        #[test]
        fn decimals_are_exact(whole in 0u64..1_000_000_000, frac in 0u64..1_000_000) {
            let q = format!("{whole}.{frac:06}");
            let exact = u128::from(whole) * 1_000_000 + u128::from(frac);
            let expected = exact.div_ceil(1000) as u64;
            prop_assert_eq!(parse_cpu_millis(&q), Ok(expected));
        }

        /// Fractions with a binary suffix agree with exact arithmetic,
        /// rounded up.
        #[test]
        fn binary_fractions_are_exact(
            whole in 0u64..1_000_000,
            frac in 0u64..1_000_000,
            i in 0usize..7,
        ) {
            const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
            let q = format!("{whole}.{frac:06}{}", SUFFIXES[i]);
            let exact = (u128::from(whole) * 1_000_000 + u128::from(frac)) << (10 * i);
            let expected = u64::try_from(exact.div_ceil(1_000_000))
                .map_err(|_| QuantityError::TooLarge);
            prop_assert_eq!(parse_bytes(&q), expected);
        }

        #[test]
        fn garbage_never_panics(q in "\\PC{0,30}") {
            let _ = parse_bytes(&q);
            let _ = parse_cpu_millis(&q);
        }
    }
}
