//! J0214: a site served on a domain and its `www.` name (the catalog entry's
//! `www_twin`) whose instance does not list the other name.

use super::{app_span, Context, Rule};
use jardin_core::code;
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;

pub(super) struct WwwTwin;

impl Rule for WwwTwin {
    fn codes(&self) -> &'static [Code] {
        &[code::WWW_TWIN_MISSING]
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for unit in ctx.tenants {
            let t = &unit.compiled.tenant;
            for (instance, inst) in &t.apps {
                if !ctx.catalog.get(&inst.app).is_some_and(|e| e.www_twin) {
                    continue;
                }
                let Some(twin) = twin(&inst.host, &t.zones) else {
                    continue;
                };
                if inst.aliases.iter().any(|a| a.eq_ignore_ascii_case(&twin)) {
                    continue;
                }
                out.push(
                    Diagnostic::error(
                        code::WWW_TWIN_MISSING,
                        format!(
                            "{}/{instance}: {} is served on {}, but not on {twin}",
                            t.id, inst.app, inst.host
                        ),
                    )
                    .with_span(
                        app_span(unit, instance, "host").as_ref(),
                        "expected its www twin in `aliases`",
                    )
                    .with_help(format!(
                        "add aliases = [\"{twin}\"]: the app redirects it to {}",
                        inst.host
                    )),
                );
            }
        }
        out
    }
}

/// The other name of a host that is a zone apex or `www.` under one.
fn twin(host: &str, zones: &[String]) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let is_zone = |name: &str| zones.iter().any(|z| z.eq_ignore_ascii_case(name));
    if is_zone(&host) {
        return Some(format!("www.{host}"));
    }
    match host.strip_prefix("www.") {
        Some(apex) if is_zone(apex) => Some(apex.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::twin;

    #[test]
    fn the_twin_of_an_apex_is_www_and_back() {
        let zones = vec!["example.org".to_string()];
        assert_eq!(
            twin("example.org", &zones).as_deref(),
            Some("www.example.org")
        );
        assert_eq!(
            twin("www.example.org", &zones).as_deref(),
            Some("example.org")
        );
        assert_eq!(twin("blog.example.org", &zones), None);
        assert_eq!(twin("www.blog.example.org", &zones), None);
    }
}
