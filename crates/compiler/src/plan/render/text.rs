//! The plan for people at a terminal: summary first, then each object.

use std::fmt::Write;

use super::{action_word, changes_by_tenant, object_diff, short, tenant_order, Line};
use crate::plan::{sign, Action, Plan};

struct Style {
    color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    fn action(&self, a: Action, s: &str) -> String {
        self.paint(
            match a {
                Action::Create => "32",
                Action::Update => "33",
                Action::Delete => "31",
            },
            s,
        )
    }
}

pub fn render(plan: &Plan, color: bool) -> String {
    let st = Style { color };
    let mut out = String::new();
    let s = &plan.summary;
    if s.changes() == 0 {
        let _ = writeln!(out, "No changes. {} objects up to date.", s.unchanged);
        return out;
    }
    let _ = writeln!(
        out,
        "{} ({} to create, {} to update, {} to delete, {} unchanged)",
        st.paint("1", &format!("Plan: {}", short(s))),
        s.create,
        s.update,
        s.delete,
        s.unchanged
    );
    let width = tenant_order(plan)
        .iter()
        .map(|(t, _)| t.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let _ = writeln!(out);
    for (t, c) in tenant_order(plan) {
        if c.changes() == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "  {t:<width$}  {:<14} ({} unchanged)",
            short(c),
            c.unchanged
        );
    }
    let _ = writeln!(
        out,
        "  {:<width$}  {:<14} ({} unchanged)",
        "total",
        short(s),
        s.unchanged
    );

    let approvals: Vec<String> = plan
        .approval
        .iter()
        .cloned()
        .chain(
            plan.changes
                .iter()
                .flat_map(|c| c.approval.iter().map(move |a| format!("{}: {a}", c.id))),
        )
        .collect();
    if !approvals.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", st.paint("1;31", "Needs approval:"));
        for a in approvals {
            let _ = writeln!(out, "  ! {a}");
        }
    }

    let by_tenant = changes_by_tenant(plan);
    for (t, c) in tenant_order(plan) {
        if c.changes() == 0 {
            continue;
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "{}", st.paint("1", &format!("── {t} ({})", short(c))));
        for change in by_tenant.get(t).into_iter().flatten() {
            let (sym, word) = action_word(change.action);
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "{}",
                st.action(
                    change.action,
                    &format!("{sym} {word} {} ({})", change.id, change.api_version)
                )
            );
            if let Some(r) = &change.reason {
                let _ = writeln!(out, "    why ours: {r}");
            }
            for f in &change.fields {
                let _ = writeln!(out, "    {} {}", sign(f.op), f.path);
            }
            for line in object_diff(change) {
                let _ = match line {
                    Line::Header(h) => writeln!(out, "    {}", st.paint("36", &h)),
                    Line::Context(l) => writeln!(out, "     {l}"),
                    Line::Added(l) => writeln!(out, "    {}", st.paint("32", &format!("+{l}"))),
                    Line::Removed(l) => writeln!(out, "    {}", st.paint("31", &format!("-{l}"))),
                };
            }
        }
    }
    out
}
