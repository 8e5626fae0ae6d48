//! YAML for manifests, fast: block style, sorted keys, byte for byte what
//! `yaml_serde` writes for the same value.
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
    } else {
        by_yaml_serde(value)
    }
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
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            indent(col, out);
        }
        out.push_str(&scalar(k)?);
        out.push(':');
        match v {
            Value::Object(c) if !c.is_empty() => {
                out.push('\n');
                indent(col + 2, out);
                mapping(c, col + 2, out)?;
            }
            // A sequence under a key is not indented further.
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                indent(col, out);
                sequence(a, col, out)?;
            }
            _ => {
                out.push(' ');
                leaf(v, out)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

/// Block sequence items at `col`; the first dash's indentation is the
/// caller's.
fn sequence(a: &[Value], col: usize, out: &mut String) -> Option<()> {
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            indent(col, out);
        }
        out.push_str("- ");
        match v {
            Value::Object(c) if !c.is_empty() => mapping(c, col + 2, out)?,
            // Nested sequences do not occur in manifests: leave them to yaml_serde.
            Value::Array(c) if !c.is_empty() => return None,
            _ => {
                leaf(v, out)?;
                out.push('\n');
            }
        }
    }
    Some(())
}

/// A scalar or an empty collection.
fn leaf(v: &Value, out: &mut String) -> Option<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            let _ = write!(out, "{n}");
        }
        Value::Number(_) => return None,
        Value::String(s) => out.push_str(&scalar(s)?),
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
fn scalar(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    if plain_beyond_doubt(s) {
        return Some(s.into());
    }
    if s.is_empty() || s.chars().any(|c| c.is_control()) {
        return None;
    }
    let alone = yaml_serde::to_string(&Value::String(s.to_string())).ok()?;
    let line = alone.strip_suffix('\n')?;
    let single = line.starts_with('\'') && line.ends_with('\'') && line.len() >= 2;
    // A plain scalar comes back as the string itself.
    let plain = line == s;
    (single || plain).then(|| line.to_string().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same(v: &Value) {
        assert_eq!(to_string(v), by_yaml_serde(v), "for {v}");
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
