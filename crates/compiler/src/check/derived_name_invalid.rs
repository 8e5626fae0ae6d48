//! J0820: a name jardin derives is not a valid Kubernetes or Postgres name.
//! J0230: an object an app renders has a kind, namespace or name that can
//! name neither a Kubernetes object nor a file of the output (judged on the
//! tenant's worker, before its objects are written).

use super::{Context, Rule};
use crate::emit::DesiredObject;
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::TenantUnit;

pub(super) struct DerivedNameInvalid;

impl Rule for DerivedNameInvalid {
    fn codes(&self) -> &'static [Code] {
        &[code::DERIVED_NAME_INVALID, code::OBJECT_NAME_UNUSABLE]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        run(ctx)
    }

    fn check_objects(&self, unit: &TenantUnit, objects: &[DesiredObject]) -> Vec<Diagnostic> {
        objects
            .iter()
            .filter_map(|o| {
                let instance = o.instance.as_deref().unwrap_or_default();
                let derived = unit.compiled.apps.get(instance).map(|a| a.namespace.as_str());
                let why = unusable(o, derived)?;
                Some(
                    Diagnostic::error(
                        code::OBJECT_NAME_UNUSABLE,
                        format!(
                            "{}/{instance}: the {} {:?} (namespace {:?}) cannot be written: {why}",
                            unit.compiled.tenant.id,
                            o.kind(),
                            o.name(),
                            o.namespace().unwrap_or(""),
                        ),
                    )
                    .with_span(
                        super::app_span(unit, instance, "app").as_ref(),
                        "this app's catalog entry renders it",
                    )
                    .with_help("fix the catalog app's render function: an object's name is 1 to 253 characters, not `.` or `..`, without `/`, `%` or control characters, and its namespace a DNS label"),
                )
            })
            .collect()
    }
}

/// Why an object's identity can name neither a Kubernetes object nor the
/// file `k8s/<cluster>/<namespace>/<kind>-<name>.yaml` below the output,
/// or `None` when it can. These are the rules Kubernetes applies to every
/// kind (a path segment, at most 253 characters), and every output path
/// they allow stays inside the output directory. The namespace jardin
/// derives for the app (`derived`) need only be a path segment here: J0820
/// says, once for the app, when it is not a DNS label.
pub(crate) fn unusable(o: &DesiredObject, derived: Option<&str>) -> Option<String> {
    let kind = o.kind();
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Some(format!("its kind {kind:?} is not letters and digits"));
    }
    if !is_dns_label(&o.cluster) {
        return Some(format!("its cluster {:?} is not a DNS label", o.cluster));
    }
    if let Some(ns) = o.namespace() {
        if Some(ns) == derived {
            if let Some(why) = name_problem(ns) {
                return Some(format!("its namespace {why}"));
            }
        } else if !is_dns_label(ns) {
            return Some(format!("its namespace {ns:?} is not a DNS label"));
        }
    }
    if let Some(why) = name_problem(o.name()) {
        return Some(format!("its name {why}"));
    }
    // `<kind>-<name>.yaml` is one file name, which filesystems keep to 255
    // bytes: a long name of a long kind does not fit.
    if o.kind().len() + o.name().len() + ".yaml".len() + 1 > 255 {
        return Some(format!(
            "its file name {}-{}.yaml would be longer than 255 bytes",
            o.kind().to_lowercase(),
            o.name()
        ));
    }
    // What the rules above allow is a plain relative path: kept as a
    // guard, so that a future change to them cannot let a path through.
    crate::emit::write::unsafe_output_path(&o.path())
        .map(|why| format!("its output path {:?} is unsafe: {why}", o.path()))
}

/// Why `name` is not a Kubernetes object name of any kind.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.len() > 253 {
        Some("is longer than 253 characters")
    } else if name == "." || name == ".." {
        Some("is `.` or `..`")
    } else if name.contains(['/', '%']) {
        Some("contains `/` or `%`")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    }
}

pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn run(ctx: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for unit in ctx.tenants {
        let t = &unit.compiled.tenant;
        for (name, app) in &unit.compiled.apps {
            if is_dns_label(&app.namespace) {
                continue;
            }
            let span = unit
                .source_map
                .exact(&format!("apps.{name}#name"))
                .cloned()
                .or_else(|| unit.source_map.get(&format!("apps.{name}")));
            let why = if app.namespace.len() > 63 {
                format!("{} characters, at most 63", app.namespace.len())
            } else {
                "only lowercase letters, digits and '-'".to_string()
            };
            out.push(
                Diagnostic::error(
                    code::DERIVED_NAME_INVALID,
                    format!(
                        "the namespace \"{}\" derived for {}/{name} is not a DNS label ({why})",
                        app.namespace, t.id
                    ),
                )
                .with_span(span.as_ref(), "the app's key becomes part of the namespace")
                .with_help("use a shorter key of lowercase letters, digits and '-' for this app"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::write::{unsafe_output_path, Staging};
    use proptest::prelude::*;
    use std::path::{Component, Path, PathBuf};

    /// Names as an attacker or a careless hand would write them: plain
    /// labels, path pieces, separators, NUL and control characters,
    /// unicode, and anything at all.
    fn hostile_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9-]{1,12}",
            "[a-z0-9./%-]{0,16}",
            prop::collection::vec(
                prop_oneof![
                    Just("..".to_string()),
                    Just(".".to_string()),
                    Just("/".to_string()),
                    Just("".to_string()),
                    Just("\0".to_string()),
                    Just("\n".to_string()),
                    Just("é".to_string()),
                    "[a-z]{1,4}",
                ],
                0..8
            )
            .prop_map(|parts| parts.concat()),
            any::<String>(),
        ]
    }

    /// `rel` below `root`, resolved by its components alone.
    fn lexically_inside(root: &Path, rel: &str) -> bool {
        let mut path = PathBuf::new();
        for c in Path::new(rel).components() {
            match c {
                Component::Normal(n) => path.push(n),
                Component::CurDir => {}
                _ => return false,
            }
        }
        root.join(path).starts_with(root)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Every name that reaches a path stays inside the output: an
        /// object built from arbitrary cluster, tenant, app key,
        /// namespace, kind and name is either refused by the check the
        /// build runs before writing (J0230), or written by the build's
        /// writer inside the staging directory, and nothing appears
        /// beside it.
        #[test]
        fn every_name_that_reaches_a_path_stays_inside_the_output(
            cluster in hostile_name(),
            tenant in hostile_name(),
            app in hostile_name(),
            own_namespace in proptest::option::of(hostile_name()),
            kind in hostile_name(),
            name in hostile_name(),
        ) {
            let derived = format!("{tenant}-{app}");
            let namespace = own_namespace.unwrap_or_else(|| derived.clone());
            let object = DesiredObject::new(
                &cluster,
                Some(tenant),
                Some(app),
                serde_json::json!({
                    "kind": kind,
                    "metadata": { "name": name, "namespace": namespace },
                }),
            );
            let path = object.path();
            let tmp = tempfile::tempdir().unwrap();
            let staging = tmp.path().join("staging");
            std::fs::create_dir(&staging).unwrap();
            let written = Staging::new(&staging).write(&path, b"x");
            if unusable(&object, Some(&derived)).is_none() {
                // What the check lets through is a plain relative path,
                // which the writer takes.
                prop_assert!(unsafe_output_path(&path).is_none(), "{path:?}");
                prop_assert!(lexically_inside(&staging, &path), "{path:?}");
                // A namespace may still be too long for the filesystem
                // (J0820 reports it): then nothing is written at all.
                if written.is_ok() {
                    let file = staging.join(&path).canonicalize().unwrap();
                    prop_assert!(file.starts_with(staging.canonicalize().unwrap()));
                }
            } else if unsafe_output_path(&path).is_some() {
                prop_assert!(written.is_err(), "{path:?} was written");
            }
            let beside: Vec<_> = std::fs::read_dir(tmp.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            prop_assert_eq!(beside, vec![std::ffi::OsString::from("staging")]);
        }

        /// The other output files are named after zones: whatever the
        /// name, the writer refuses it or writes inside the output.
        #[test]
        fn a_zone_file_stays_inside_the_output(zone in hostile_name()) {
            let tmp = tempfile::tempdir().unwrap();
            let staging = tmp.path().join("staging");
            std::fs::create_dir(&staging).unwrap();
            let rel = format!("dns/{zone}.zone");
            if crate::emit::write::write_file(&staging, &rel, b"x").is_ok() {
                prop_assert!(lexically_inside(&staging, &rel), "{rel:?}");
                let file = staging.join(&rel).canonicalize().unwrap();
                prop_assert!(file.starts_with(staging.canonicalize().unwrap()));
            }
            let beside: Vec<_> = std::fs::read_dir(tmp.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            prop_assert_eq!(beside, vec![std::ffi::OsString::from("staging")]);
        }
    }
}
