//! The plan as a merge-request comment: a summary table, then one
//! collapsible section per tenant. Past the size budget, per-object diffs
//! are cut (and then object lines), with a note saying what was left out:
//! forges refuse comments over ~65,000 characters.

use std::fmt::Write;

use super::{action_word, changes_of, object_diff, short, tenant_order, Line};
use crate::plan::{sign, Plan};

pub const DEFAULT_BUDGET: usize = 60_000;

/// A fence longer than any run of backticks in `text`.
fn fence(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat(longest.max(2) + 1)
}

fn code(s: &str) -> String {
    let f = if s.contains('`') { "`` " } else { "`" };
    let g = if s.contains('`') { " ``" } else { "`" };
    format!("{f}{s}{g}")
}

pub fn render(plan: &Plan, budget: usize) -> String {
    let mut out = String::new();
    let s = &plan.summary;
    let _ = writeln!(
        out,
        "### jardin plan: {} ({} unchanged)",
        short(s),
        s.unchanged
    );
    let _ = writeln!(out);
    if s.changes() == 0 {
        let _ = writeln!(out, "No changes.");
        return out;
    }
    let _ = writeln!(out, "| tenant | create | update | delete | unchanged |");
    let _ = writeln!(out, "|---|--:|--:|--:|--:|");
    for (t, c) in tenant_order(plan) {
        if c.changes() > 0 {
            let _ = writeln!(
                out,
                "| {t} | {} | {} | {} | {} |",
                c.create, c.update, c.delete, c.unchanged
            );
        }
    }
    let _ = writeln!(
        out,
        "| **total** | **{}** | **{}** | **{}** | **{}** |",
        s.create, s.update, s.delete, s.unchanged
    );
    let approvals: Vec<String> = plan
        .approval
        .iter()
        .cloned()
        .chain(plan.changes.iter().flat_map(|c| {
            c.approval
                .iter()
                .map(move |a| format!("{}: {a}", code(&c.id.to_string())))
        }))
        .collect();
    if !approvals.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "> [!WARNING]\n> **Needs approval**");
        for a in approvals {
            let _ = writeln!(out, "> - {a}");
        }
    }
    let _ = writeln!(out);

    let (mut cut_diffs, mut cut_objects) = (0usize, 0usize);
    // What must still fit after the current point: each remaining
    // `</details>` and the final note.
    let reserve = 400;
    for (t, c) in tenant_order(plan) {
        if c.changes() == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "<details><summary><b>{t}</b>: {}</summary>\n",
            short(c)
        );
        for change in changes_of(plan, t) {
            let (sym, word) = action_word(change.action);
            let mut entry = format!("**{sym} {word}** {}\n", code(&change.id.to_string()));
            if let Some(r) = &change.reason {
                let _ = writeln!(entry, "  - why ours: {r}");
            }
            for f in &change.fields {
                let _ = writeln!(entry, "  - {} {}", sign(f.op), code(&f.path));
            }
            if out.len() + entry.len() + reserve > budget {
                cut_objects += 1;
                continue;
            }
            out.push_str(&entry);
            let lines: Vec<String> = object_diff(change)
                .into_iter()
                .map(|l| match l {
                    Line::Header(h) => h,
                    Line::Context(l) => format!(" {l}"),
                    Line::Added(l) => format!("+{l}"),
                    Line::Removed(l) => format!("-{l}"),
                })
                .collect();
            if !lines.is_empty() {
                let body = lines.join("\n");
                let f = fence(&body);
                let block = format!("\n{f}diff\n{body}\n{f}\n");
                if out.len() + block.len() + reserve > budget {
                    cut_diffs += 1;
                } else {
                    out.push_str(&block);
                }
            }
            out.push('\n');
        }
        let _ = writeln!(out, "</details>\n");
    }
    if cut_diffs + cut_objects > 0 {
        let _ = writeln!(
            out,
            "> Cut to stay under {budget} characters: the diffs of {cut_diffs} objects{}. The full plan is in the JSON plan and in `jardin plan --format text`.",
            if cut_objects > 0 { format!(" and {cut_objects} objects entirely") } else { String::new() }
        );
    }
    out
}
