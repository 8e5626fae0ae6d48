//! Secret values in a plan: sealed as soon as an object is read, shown only
//! as opaque tokens.
//!
//! [`seal`] takes every secret field out of an object (a Secret's `data` and
//! `stringData`, and literal env values whose name says they are secret) into
//! [`SecretValue`]s, whose `Debug` and `Display` print nothing of the value,
//! and leaves a placeholder in the JSON. From then on, the JSON can go
//! anywhere. Placeholders are replaced by
//! - a keyed digest when hashing a state (`plan::state_hash`), and
//! - a token such as `(secret 3f2a9c1b07de)` for display.
//!
//! The token key is derived from the hashes of the desired and live states
//! (which themselves cover every secret value), plus `$JARDIN_PLAN_KEY` when
//! set: tokens are stable across runs over the same state (golden tests, CI
//! re-runs), equal on both sides when a value did not change, different when
//! it did, and not comparable across plans of different states. Someone who
//! reads a plan cannot test a guess of one value without every other value
//! of both states; set `$JARDIN_PLAN_KEY` in CI to rule that out entirely.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use serde_json::Value;

/// What stands in a sealed object where a secret value was, followed by the
/// value's index in [`Sealed::secrets`]. The index travels with the
/// placeholder, so normalization may move or drop fields freely.
pub(crate) const PLACEHOLDER: &str = "\u{1}jardin-sealed:";

fn placeholder(i: usize) -> Value {
    Value::String(format!("{PLACEHOLDER}{i}"))
}

/// A secret value. It can be hashed; it cannot be printed or serialized.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretValue(Vec<u8>);

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<sealed>)")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<sealed>")
    }
}

/// An object with its secret values taken out.
#[derive(Clone, Debug)]
pub(crate) struct Sealed {
    pub(crate) value: Value,
    pub(crate) secrets: Vec<SecretValue>,
}

/// Env var names whose literal `value` is treated as secret: defence in
/// depth, since the model already rejects literal secrets in config.
fn secret_env_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "PWD",
        "SECRET",
        "TOKEN",
        "PRIVATE_KEY",
        "API_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|w| n.contains(w))
        // A word of its own, not part of another (`XMPP_AUTH_DOMAIN` names
        // a domain; `BASIC_AUTH`, `AUTH_KEY` and `SMTP_PASS` hold secrets).
        || ["PASS", "AUTH"]
            .iter()
            .any(|w| n == *w || n.ends_with(&format!("_{w}")) || n.starts_with(&format!("{w}_")))
}

/// A URL that carries credentials (`scheme://user:password@host`), whatever
/// its variable's name: a database or queue URL.
fn url_with_credentials(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// Takes every secret field out of `value`. A Secret's `stringData` is
/// merged into `data` (as the API server does), so that desired
/// `stringData` and live `data` compare by their decoded bytes.
pub(crate) fn seal(mut value: Value) -> Sealed {
    let mut secrets = Vec::new();
    if value["kind"] == "Secret" && value["apiVersion"] == "v1" {
        let mut data: BTreeMap<String, SecretValue> = BTreeMap::new();
        if let Some(Value::Object(map)) = value.get("data") {
            for (k, v) in map {
                let raw = v.as_str().unwrap_or_default();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(raw.trim())
                    .unwrap_or_else(|_| raw.as_bytes().to_vec());
                data.insert(k.clone(), SecretValue(bytes));
            }
        }
        if let Some(Value::Object(map)) = value.get("stringData") {
            for (k, v) in map {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                data.insert(k.clone(), SecretValue(s.into_bytes()));
            }
        }
        if let Value::Object(obj) = &mut value {
            obj.remove("stringData");
            if data.is_empty() {
                obj.remove("data");
            } else {
                let mut sealed = serde_json::Map::new();
                for (k, v) in data {
                    sealed.insert(k, placeholder(secrets.len()));
                    secrets.push(v);
                }
                obj.insert("data".into(), Value::Object(sealed));
            }
        }
    }
    seal_env(&mut value, &mut secrets);
    Sealed { value, secrets }
}

fn seal_env(value: &mut Value, secrets: &mut Vec<SecretValue>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match v {
                    Value::Array(items) if k == "env" => {
                        for item in items.iter_mut() {
                            let value = item.get("value").and_then(Value::as_str);
                            let secret = value.is_some()
                                && (item["name"].as_str().is_some_and(secret_env_name)
                                    || value.is_some_and(url_with_credentials));
                            if secret {
                                let s = item["value"].as_str().unwrap_or_default().to_string();
                                item["value"] = placeholder(secrets.len());
                                secrets.push(SecretValue(s.into_bytes()));
                            }
                        }
                    }
                    _ => seal_env(v, secrets),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| seal_env(v, secrets)),
        _ => {}
    }
}

/// Replaces each placeholder in `value` with `f(secret)`.
pub(crate) fn replace(
    value: &mut Value,
    secrets: &[SecretValue],
    f: &dyn Fn(&SecretValue) -> String,
) {
    match value {
        Value::String(s) => {
            if let Some(i) = s.strip_prefix(PLACEHOLDER) {
                *s = match i.parse::<usize>().ok().and_then(|i| secrets.get(i)) {
                    Some(secret) => f(secret),
                    None => "(secret)".to_string(),
                };
            }
        }
        Value::Object(map) => map.values_mut().for_each(|v| replace(v, secrets, f)),
        Value::Array(items) => items.iter_mut().for_each(|v| replace(v, secrets, f)),
        _ => {}
    }
}

/// Keys for state digests and display tokens.
pub(crate) struct Keys {
    state: [u8; 32],
    extra: Vec<u8>,
}

impl Keys {
    /// `extra` is `$JARDIN_PLAN_KEY`, when set.
    pub(crate) fn new(extra: Option<&str>) -> Self {
        let extra = extra.unwrap_or("").as_bytes().to_vec();
        Keys {
            state: blake3::derive_key("jardin plan state digest v1", &extra),
            extra,
        }
    }

    /// What a secret contributes to a state hash.
    pub(crate) fn digest(&self, s: &SecretValue) -> String {
        format!(
            "(secret {})",
            blake3::keyed_hash(&self.state, &s.0).to_hex()
        )
    }

    /// The token key for a plan computed from these two states.
    pub(crate) fn tokens(&self, desired_hash: &str, live_hash: &str) -> Tokens {
        let mut material = Vec::new();
        material.extend_from_slice(desired_hash.as_bytes());
        material.push(0);
        material.extend_from_slice(live_hash.as_bytes());
        material.push(0);
        material.extend_from_slice(&self.extra);
        Tokens {
            key: blake3::derive_key("jardin plan secret token v1", &material),
        }
    }
}

pub(crate) struct Tokens {
    key: [u8; 32],
}

impl Tokens {
    /// `(secret 3f2a9c1b07de)`: 48 bits, enough to tell values apart within
    /// one plan, too few to be worth anything else.
    pub(crate) fn token(&self, s: &SecretValue) -> String {
        let hash = blake3::keyed_hash(&self.key, &s.0).to_hex();
        format!("(secret {})", &hash.as_str()[..12])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_data_and_data_seal_to_the_same_bytes() {
        let a = seal(
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"u":"hunter2"}}),
        );
        let b = seal(
            json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"u":"aHVudGVyMg=="}}),
        );
        assert_eq!(a.value, b.value);
        assert_eq!(a.secrets, b.secrets);
        assert!(!a.value.to_string().contains("hunter2"));
        assert_eq!(format!("{:?}", a), format!("{:?}", b));
        assert!(!format!("{:?}", a).contains("hunter2"));
    }

    #[test]
    fn tokens_differ_when_values_differ() {
        let keys = Keys::new(None);
        let t = keys.tokens("d", "l");
        let x = SecretValue(b"one".to_vec());
        let y = SecretValue(b"two".to_vec());
        assert_ne!(t.token(&x), t.token(&y));
        assert_eq!(t.token(&x), keys.tokens("d", "l").token(&x));
        assert_ne!(t.token(&x), keys.tokens("d", "l2").token(&x));
    }

    #[test]
    fn secret_env_values_are_sealed() {
        let s = seal(
            json!({"kind":"Deployment","spec":{"containers":[{"env":[{"name":"DB_PASSWORD","value":"hunter2"},{"name":"HOST","value":"x"}]}]}}),
        );
        assert!(!s.value.to_string().contains("hunter2"));
        assert_eq!(s.secrets.len(), 1);
    }

    #[test]
    fn more_secret_names_and_urls_with_credentials_are_sealed() {
        let env = json!([
            {"name": "SMTP_PASS", "value": "p1"},
            {"name": "DB_PWD", "value": "p2"},
            {"name": "AUTH_KEY", "value": "p3"},
            {"name": "BASIC_AUTH", "value": "p4"},
            {"name": "DATABASE_URL", "value": "postgres://app:p5@db:5432/app"},
            {"name": "CACHE", "value": "redis://:p6@redis:6379"},
            {"name": "PUBLIC_URL", "value": "https://pad.example.org/a@b"},
            {"name": "PASSENGER_MODE", "value": "on"},
            {"name": "XMPP_AUTH_DOMAIN", "value": "auth.meet.jitsi"},
        ]);
        let s = seal(json!({"kind": "Deployment", "spec": {"containers": [{"env": env}]}}));
        let text = s.value.to_string();
        for secret in ["p1", "p2", "p3", "p4", "p5", "p6"] {
            assert!(
                !text.contains(&format!("\"{secret}\"")) && !text.contains(&format!(":{secret}@")),
                "{secret} printed: {text}"
            );
        }
        assert_eq!(s.secrets.len(), 6);
        assert!(text.contains("https://pad.example.org/a@b") && text.contains("\"on\""));
        assert!(text.contains("auth.meet.jitsi"), "{text}");
    }
}
