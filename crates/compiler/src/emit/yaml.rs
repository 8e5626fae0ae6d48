//! YAML for manifests, fast: block style, sorted keys, what `yaml_serde`
//! writes for the same value, except that a string YAML 1.1 would read as
//! something else is quoted. kubectl and most tools around Kubernetes read
//! YAML 1.1, where `yes`, `no`, `on`, `off`, `y`, `n` are booleans and
//! `1_000` or `12:30` are numbers; `yaml_serde` writes YAML 1.2, where they
//! are strings, and leaves them plain.
//!
//! Writing manifests with `yaml_serde` alone took a third of a cached
//! build: its emitter asks the YAML parser, scalar by scalar, whether a
//! string could be read back as something else. Here the structure is
//! written directly, strings that are plain beyond doubt are written as
//! they are, any other one-line string is rendered by `yaml_serde` alone,
//! and an object holding anything else (a multi-line string, a float) is
//! left entirely to `yaml_serde`. A test compares both writers on every
//! example's objects and on strings made to be awkward.

use std::fmt::Write;

use serde_json::{Map, Value};

/// The YAML document of one object.
pub(crate) fn to_string(value: &Value) -> String {
    let mut out = String::with_capacity(2048);
    let written = match value {
        Value::Object(m) if !m.is_empty() => mapping(m, 0, &mut out).is_some(),
        _ => false,
    };
    if written {
        out
    } else if holds_yaml11_ambiguous(value) {
        // `yaml_serde` would leave those strings plain: write every string
        // it would have laid out (several lines) as a JSON string instead,
        // which YAML reads back as the same string.
        let mut out = String::with_capacity(2048);
        match value {
            Value::Object(m) if !m.is_empty() => {
                let _ = mapping_with(m, 0, &mut out, true);
                out
            }
            _ => serde_json::to_string(value).unwrap_or_default() + "\n",
        }
    } else {
        by_yaml_serde(value)
    }
}

/// True when a string anywhere in `value` is one YAML 1.1 reads as other
/// than a string, written plain.
fn holds_yaml11_ambiguous(value: &Value) -> bool {
    match value {
        Value::String(s) => yaml11_ambiguous(s),
        Value::Array(a) => a.iter().any(holds_yaml11_ambiguous),
        Value::Object(m) => m
            .iter()
            .any(|(k, v)| yaml11_ambiguous(k) || holds_yaml11_ambiguous(v)),
        _ => false,
    }
}

/// A plain scalar YAML 1.1 (and kubectl's parser) reads as a boolean, a
/// null or a number: its boolean and null words in any case, decimal
/// numbers with `_` between digits (`1_000`), numbers in base 2, 8, 16 or
/// 60 (`0b101`, `0o17`, `0x1F`, `12:30`), and infinities and NaN.
fn yaml11_ambiguous(s: &str) -> bool {
    const WORDS: [&str; 13] = [
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ".inf", "-.inf", ".nan",
    ];
    if WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)) || s.eq_ignore_ascii_case("+.inf") {
        return true;
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let digits = |t: &str, radix: u32| {
        !t.is_empty()
            && t.chars().all(|c| c == '_' || c.is_digit(radix))
            && t.chars().any(|c| c != '_')
    };
    if let Some(rest) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
    {
        return digits(rest, 16);
    }
    if let Some(rest) = unsigned
        .strip_prefix("0b")
        .or_else(|| unsigned.strip_prefix("0B"))
    {
        return digits(rest, 2);
    }
    if let Some(rest) = unsigned
        .strip_prefix("0o")
        .or_else(|| unsigned.strip_prefix("0O"))
    {
        return digits(rest, 8);
    }
    // Base 60: 1:30, 190:20:30 (each part after the first below 60).
    if let Some((head, tail)) = unsigned.split_once(':') {
        return digits(head, 10)
            && tail
                .split(':')
                .all(|p| p.len() <= 2 && digits(p, 10) && p.parse::<u32>().is_ok_and(|n| n < 60));
    }
    // Decimal: digits, at most one point, an optional exponent.
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let number = (digits(whole, 10) && (fraction.is_empty() || digits(fraction, 10)))
        || (whole.is_empty() && digits(fraction, 10));
    number && exponent_ok
}

fn by_yaml_serde(value: &Value) -> String {
    yaml_serde::to_string(value).unwrap_or_else(|e| format!("# cannot serialize: {e}\n"))
}

fn indent(n: usize, out: &mut String) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// Block mapping entries at `col`; the first line's indentation is the
/// caller's.
fn mapping(m: &Map<String, Value>, col: usize, out: &mut String) -> Option<()> {
    mapping_with(m, col, out, false)
}

/// [`mapping`]; with `json`, what the block writer cannot lay out (a string
/// of several lines, a float, a nested sequence) is written as JSON, which
/// YAML reads as it is, instead of giving up.
fn mapping_with(m: &Map<String, Value>, col: usize, out: &mut String, json: bool) -> Option<()> {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            indent(col, out);
        }
        out.push_str(&scalar(k, json)?);
        out.push(':');
        match v {
            Value::Object(c) if !c.is_empty() => {
                out.push('\n');
                indent(col + 2, out);
                mapping_with(c, col + 2, out, json)?;
            }
            // A sequence under a key is not indented further.
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                indent(col, out);
                sequence(a, col, out, json)?;
            }
            _ => {
                out.push(' ');
                leaf(v, out, json)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

/// Block sequence items at `col`; the first dash's indentation is the
/// caller's.
fn sequence(a: &[Value], col: usize, out: &mut String, json: bool) -> Option<()> {
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            indent(col, out);
        }
        out.push_str("- ");
        match v {
            Value::Object(c) if !c.is_empty() => mapping_with(c, col + 2, out, json)?,
            // Nested sequences do not occur in manifests: leave them to
            // yaml_serde, or write them as JSON.
            Value::Array(c) if !c.is_empty() => {
                if !json {
                    return None;
                }
                out.push_str(&serde_json::to_string(v).ok()?);
                out.push('\n');
            }
            _ => {
                leaf(v, out, json)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

/// A scalar or an empty collection.
fn leaf(v: &Value, out: &mut String, json: bool) -> Option<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            let _ = write!(out, "{n}");
        }
        Value::Number(n) if json => {
            let _ = write!(out, "{n}");
        }
        Value::Number(_) => return None,
        Value::String(s) => out.push_str(&scalar(s, json)?),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
    Some(())
}

/// Words YAML reads as booleans, null or special floats in some schema.
const KEYWORDS: [&str; 12] = [
    "true", "false", "null", "yes", "no", "on", "off", "y", "n", "inf", "nan", "infinity",
];

/// True for a string YAML can only read back as that string, written plain:
/// - made of letters, digits and `.-_/:@`, starting with a letter or digit;
/// - a `:` is never last (`a:` would be a key);
/// - starting with a letter: not a keyword (so no boolean or null);
/// - starting with a digit: no `:` (sexagesimal numbers), and a letter no
///   number can hold (`512Mi`, `100m`; not `0x1F`, `1e3`).
fn plain_beyond_doubt(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | ':' | '@');
    if !s.chars().all(allowed) || s.ends_with(':') {
        return false;
    }
    if first.is_ascii_alphabetic() {
        return !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s));
    }
    first.is_ascii_digit()
        && !s.contains(':')
        && s.chars().any(|c| {
            c.is_ascii_alphabetic() && !c.is_ascii_hexdigit() && !matches!(c, 'x' | 'X' | 'o' | 'O')
        })
}

/// How a string is written: as it is when plain beyond doubt, else as
/// `yaml_serde` writes it alone, if that fits on one line as a plain or
/// single-quoted scalar. `None` when it does not (the whole object then
/// goes to `yaml_serde`).
fn scalar(s: &str, json: bool) -> Option<std::borrow::Cow<'_, str>> {
    if plain_beyond_doubt(s) {
        return Some(s.into());
    }
    let as_json = || serde_json::to_string(s).ok().map(Into::into);
    if s.is_empty() || s.chars().any(|c| c.is_control()) {
        return if json { as_json() } else { None };
    }
    let Some(line) = yaml_serde::to_string(&Value::String(s.to_string()))
        .ok()
        .and_then(|alone| alone.strip_suffix('\n').map(str::to_string))
    else {
        return if json { as_json() } else { None };
    };
    let single = line.starts_with('\'') && line.ends_with('\'') && line.len() >= 2;
    // A plain scalar comes back as the string itself.
    let plain = line == s;
    if plain && yaml11_ambiguous(s) {
        // Plain, it has no quote of its own.
        return Some(format!("'{s}'").into());
    }
    if single || plain {
        Some(line.into())
    } else if json {
        as_json()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Our YAML reads back as the value; it is `yaml_serde`'s, but where a
    /// string YAML 1.1 reads otherwise stands plain there: quoted here.
    fn same(v: &Value) {
        let ours = to_string(v);
        let back: Value = yaml_serde::from_str(&ours).unwrap_or_else(|e| panic!("{e}: {ours}"));
        assert_eq!(&back, v, "{ours}");
        if !holds_yaml11_ambiguous(v) {
            assert_eq!(ours, by_yaml_serde(v), "for {v}");
            return;
        }
        // No string YAML 1.1 reads otherwise stands plain: as a whole key or
        // value on a line (numbers of the value may, as numbers).
        let mut strings = Vec::new();
        let mut numbers = Vec::new();
        collect(v, &mut strings, &mut numbers);
        for line in ours.lines() {
            let item = line.trim_start().trim_start_matches("- ");
            let (key, value) = item.split_once(": ").unwrap_or(("", item));
            let key = key.strip_suffix(':').unwrap_or(key);
            for part in [key, value, item.strip_suffix(':').unwrap_or("")] {
                let plain_string =
                    strings.iter().any(|s| s == part) && !numbers.iter().any(|n| n == part);
                assert!(
                    !(plain_string && yaml11_ambiguous(part)),
                    "plain {line:?} in {ours}"
                );
            }
        }
    }

    fn collect(v: &Value, strings: &mut Vec<String>, numbers: &mut Vec<String>) {
        match v {
            Value::String(s) => strings.push(s.clone()),
            Value::Number(n) => numbers.push(n.to_string()),
            Value::Array(a) => a.iter().for_each(|x| collect(x, strings, numbers)),
            Value::Object(m) => {
                for (k, x) in m {
                    strings.push(k.clone());
                    collect(x, strings, numbers);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn only_what_yaml11_reads_otherwise_is_ambiguous() {
        for s in [
            "yes", "Off", "1_000", "12:30", "1", "-1.5", ".5", "1e3", "0x1F", "0o17", "0b1",
            ".NaN", "-.inf",
        ] {
            assert!(yaml11_ambiguous(s), "{s}");
        }
        for s in [
            "1.10.3", "7d", "100m", "512Mi", "v1", "12:60", "1:2:3x", "0x", "e3", "yess", "", "-",
            ".",
        ] {
            assert!(!yaml11_ambiguous(s), "{s}");
        }
    }

    #[test]
    fn yaml11_booleans_and_numbers_are_quoted() {
        for word in [
            "yes", "No", "on", "OFF", "y", "N", "1_000", "12:30", "~", "0b101", "+.INF",
        ] {
            let v = json!({ "k": word, word: [word] });
            same(&v);
            assert!(
                to_string(&v).contains(&format!("k: '{word}'")),
                "{}",
                to_string(&v)
            );
        }
        // In an object with a string of several lines (which yaml_serde
        // would lay out on its own), too.
        let v = json!({"data": {"conf": "a\nb\n", "flag": "on"}, "n": 0.5, "m": [[1, 2]]});
        same(&v);
        assert!(to_string(&v).contains("flag: 'on'"));
    }

    #[test]
    fn structure_matches_yaml_serde() {
        same(&json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "x"}, "annotations": {}},
            "spec": {
                "replicas": 2,
                "paused": false,
                "list": [],
                "template": {"spec": {"containers": [
                    {"name": "a", "args": ["--x", "-y", "1"], "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
                    {"name": "b", "ports": [{"containerPort": 80, "protocol": "TCP"}], "volumeMounts": []},
                ]}},
                "items": [{}, [], "x", 3, null, true, {"a": {"b": [{"c": []}]}}],
            },
        }));
    }

    /// Thousands of short strings over the characters that decide how YAML
    /// reads a scalar (digits, number and keyword letters, indicators).
    #[test]
    fn generated_strings_match_yaml_serde() {
        let alphabet: Vec<char> = "0123456789abefilnorstuxyEFINOTXY.-_/:@ #+~'\""
            .chars()
            .collect();
        let mut next = crate::test_support::xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let len = 1 + (next() % 7) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let mut v = json!({ "k": s });
            v[&s] = json!([s]);
            same(&v);
        }
    }

    #[test]
    fn awkward_strings_match_yaml_serde() {
        let strings = [
            "",
            " ",
            "a b",
            " a",
            "a ",
            "true",
            "True",
            "TRUE",
            "yes",
            "No",
            "on",
            "OFF",
            "y",
            "N",
            "null",
            "Null",
            "~",
            "1",
            "-1",
            "+1",
            "0x1F",
            "0o17",
            "0b101",
            "1e3",
            "1.5",
            ".5",
            ".inf",
            "-.Inf",
            ".NaN",
            "0755",
            "1_000",
            "12:30",
            "*/5 * * * *",
            "a: b",
            "a:b",
            "a #b",
            "a#b",
            "#a",
            "- a",
            "-a",
            "--x",
            "? a",
            "?a",
            ":a",
            "a:",
            "[a]",
            "{a}",
            "a,b",
            "&a",
            "*a",
            "!a",
            "|a",
            ">a",
            "'a'",
            "\"a\"",
            "a'b",
            "a\"b",
            "%a",
            "@a",
            "`a",
            "---",
            "...",
            "a\\b",
            "é",
            "naïve café",
            "https://example.org/a?b=c&d",
            "pg-lyon-rw.databases.svc:5432",
            "docker.io/library/nextcloud:31.0.9-fpm",
            "sh -c 'eval \"$X\"'",
            "a\tb",
            "line\nline",
            "2Gi",
            "0x1F",
            "0X1f",
            "5d",
            "1e3",
            "1E3",
            "0o17",
            "0b1",
            "1_000",
            "1.0",
            "1.0.0",
            "31.0.9-fpm",
            "1:20",
            "190:20:30",
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "a:b",
            "a::b",
            "a:",
            "img:1.0",
            "https://a.example.org/x",
            "bureau@x.org",
            "@x",
            "x@",
            "inf",
            "Inf",
            "nan",
            "NaN",
            "infinity",
            "Infinity",
            "-inf",
            "+.inf",
            "1g",
            "10Gi",
            "0755",
            "00",
            "1-2",
            "1/2",
            "1.5Gi",
            "3h",
            "3m",
            "2s",
            "1y",
            "1n",
            "trailing\n",
            "100m",
            "512Mi",
            "10G",
            "3000",
            "0",
            "-",
            "a-",
            "A_b.c/d",
            "x.y",
        ];
        for s in strings {
            let mut v = json!({ "k": s, "list": [s, {"k": s}] });
            v[s] = json!(1);
            same(&v);
        }
    }
}
