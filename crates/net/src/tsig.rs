//! TSIG keys. The secret is read at run time from the environment variable
//! or the file the config names (`{ external = "env:VAR" }` or
//! `{ external = "file:/path" }`), never from the config itself, and the
//! key type masks it in `Debug` and `Display` and has no `Serialize`.

use std::fmt;

use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, TSigner};

use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::{SecretSource, TsigKeyRef};

/// A TSIG key with its secret. Prints as `TsigKey(name, algorithm, ***)`.
#[derive(Clone)]
pub struct TsigKey {
    pub(crate) name: String,
    pub(crate) algorithm: String,
    secret: Vec<u8>,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TsigKey({}, {}, ***)", self.name, self.algorithm)
    }
}

impl fmt::Display for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.algorithm)
    }
}

impl TsigKey {
    /// A key from its parts; `secret_b64` is the base64 text Knot and BIND
    /// print (`keymgr -t`, `tsig-keygen`).
    pub(crate) fn new(name: &str, algorithm: &str, secret_b64: &str) -> Result<Self, Diagnostic> {
        let secret = base64_decode(secret_b64.trim()).ok_or_else(|| {
            Diagnostic::error(
                code::TSIG_KEY_UNUSABLE,
                format!("the secret of TSIG key {name} is not valid base64"),
            )
            .with_help("give the key's secret as printed by `keymgr -t` or `tsig-keygen` (base64)")
        })?;
        algorithm_of(algorithm).ok_or_else(|| unsupported(name, algorithm))?;
        Ok(TsigKey {
            name: name.to_string(),
            algorithm: algorithm.to_string(),
            secret,
        })
    }

    /// Resolves a key reference from the config.
    pub fn load(key: &TsigKeyRef) -> Result<Self, Diagnostic> {
        let reference =
            match &key.secret {
                SecretSource::External(r) => r.clone(),
                _ => return Err(Diagnostic::error(
                    code::TSIG_KEY_UNUSABLE,
                    format!("the secret of TSIG key {} must be external", key.name),
                )
                .with_help(
                    "write secret = { external = \"env:VAR\" } or { external = \"file:/path\" }",
                )),
            };
        let text = if let Some(var) = reference.strip_prefix("env:") {
            std::env::var(var).map_err(|_| {
                Diagnostic::error(
                    code::TSIG_KEY_UNUSABLE,
                    format!(
                        "environment variable {var} (secret of TSIG key {}) is not set",
                        key.name
                    ),
                )
                .with_help(format!(
                    "export {var}=<base64 secret> before running jardin"
                ))
            })?
        } else if let Some(path) = reference.strip_prefix("file:") {
            let raw = std::fs::read_to_string(path).map_err(|e| {
                Diagnostic::error(
                    code::TSIG_KEY_UNUSABLE,
                    format!("cannot read {path} (secret of TSIG key {}): {e}", key.name),
                )
                .with_help(
                    "the file holds the base64 secret, or a Knot/BIND key block with `secret`",
                )
            })?;
            secret_from_file(&raw)
        } else {
            return Err(Diagnostic::error(
                code::TSIG_KEY_UNUSABLE,
                format!("unknown secret reference for TSIG key {}", key.name),
            )
            .with_help("write { external = \"env:VAR\" } or { external = \"file:/path\" }"));
        };
        TsigKey::new(&key.name, &key.algorithm, &text)
    }

    pub(crate) fn signer(&self) -> Result<TSigner, Diagnostic> {
        let alg = algorithm_of(&self.algorithm)
            .ok_or_else(|| unsupported(&self.name, &self.algorithm))?;
        let name = Name::from_ascii(&self.name).map_err(|e| {
            Diagnostic::error(
                code::TSIG_KEY_UNUSABLE,
                format!("TSIG key name {} is not a DNS name: {e}", self.name),
            )
            .with_help("key names are DNS names, e.g. jardin-key")
        })?;
        TSigner::new(self.secret.clone(), alg, name, 300).map_err(|e| {
            Diagnostic::error(
                code::TSIG_KEY_UNUSABLE,
                format!("TSIG key {}: {e}", self.name),
            )
        })
    }
}

fn unsupported(name: &str, algorithm: &str) -> Diagnostic {
    Diagnostic::error(
        code::TSIG_KEY_UNUSABLE,
        format!("TSIG key {name}: algorithm {algorithm} is not supported"),
    )
    .with_help("use hmac-sha256, hmac-sha384 or hmac-sha512")
}

fn algorithm_of(a: &str) -> Option<TsigAlgorithm> {
    match a.to_ascii_lowercase().as_str() {
        "hmac-sha256" => Some(TsigAlgorithm::HmacSha256),
        "hmac-sha384" => Some(TsigAlgorithm::HmacSha384),
        "hmac-sha512" => Some(TsigAlgorithm::HmacSha512),
        _ => None,
    }
}

/// A secret file is either the bare base64 secret or a key block
/// (`secret: ...` in Knot, `secret "...";` in BIND): take the secret.
fn secret_from_file(raw: &str) -> String {
    for line in raw.lines() {
        let l = line.trim();
        if let Some(rest) = l.strip_prefix("secret") {
            return rest
                .trim_start_matches([':', ' ', '\t'])
                .trim_end_matches(';')
                .trim_matches('"')
                .trim()
                .to_string();
        }
    }
    raw.trim().to_string()
}

/// Standard base64 with padding (the form DNS tools print); line breaks and
/// spaces inside a key file's value are allowed, anything else is refused.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .filter(|key| !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1uZXZlci1wcmludA==";

    #[test]
    fn key_never_prints_its_secret() {
        let k = TsigKey::new("jardin", "hmac-sha256", SECRET).unwrap();
        for text in [format!("{k:?}"), format!("{k}"), format!("{k:#?}")] {
            assert!(!text.contains(SECRET), "{text}");
            assert!(!text.contains("secret-value"), "{text}");
        }
        assert_eq!(format!("{k:?}"), "TsigKey(jardin, hmac-sha256, ***)");
    }

    #[test]
    fn base64_round_trip() {
        assert_eq!(
            base64_decode(SECRET).unwrap(),
            b"secret-value-that-must-never-print"
        );
        assert!(base64_decode("not base64!").is_none());
        // Trailing garbage after the padding, or a truncated key, is refused.
        assert!(base64_decode(&format!("{SECRET}garbage")).is_none());
        assert!(base64_decode(&format!("{SECRET}=")).is_none());
        assert!(base64_decode(&SECRET[..SECRET.len() - 3]).is_none());
        assert!(base64_decode("").is_none());
    }

    #[test]
    fn secret_files_in_knot_and_bind_forms() {
        assert_eq!(secret_from_file("  secret: abc=\n"), "abc=");
        assert_eq!(
            secret_from_file("key \"k\" {\n algorithm hmac-sha256;\n secret \"abc=\";\n};"),
            "abc="
        );
        assert_eq!(secret_from_file("abc=\n"), "abc=");
    }

    #[test]
    fn key_from_a_knot_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jardin.key");
        std::fs::write(
            &path,
            format!("key:\n  - id: jardin\n    algorithm: hmac-sha256\n    secret: {SECRET}\n"),
        )
        .unwrap();
        let r = TsigKeyRef {
            name: "jardin".into(),
            algorithm: "hmac-sha256".into(),
            secret: SecretSource::External(format!("file:{}", path.display())),
        };
        let k = TsigKey::load(&r).unwrap();
        assert_eq!(k.secret, b"secret-value-that-must-never-print");
        assert!(k.signer().is_ok());
    }

    #[test]
    fn missing_env_var_is_a_diagnostic_without_value() {
        let r = TsigKeyRef {
            name: "k".into(),
            algorithm: "hmac-sha256".into(),
            secret: SecretSource::External("env:JARDIN_TEST_SURELY_UNSET_VAR".into()),
        };
        let e = TsigKey::load(&r).unwrap_err();
        assert_eq!(e.code, code::TSIG_KEY_UNUSABLE);
    }
}
