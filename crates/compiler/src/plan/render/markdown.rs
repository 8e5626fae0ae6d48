//! The plan as a merge-request comment: a summary table, then one
//! collapsible section per tenant. Past the size budget, per-object diffs
//! are cut (and then object lines), with a note saying what was left out:
//! forges refuse comments over ~65,000 characters.

use std::fmt::Write;

use super::{action_word, changes_by_tenant, object_diff, short, tenant_order, Line};
use crate::plan::{sign, Counts, Plan};

pub const DEFAULT_BUDGET: usize = 60_000;

/// The smallest budget the renderer can keep to: the heading, the total,
/// a row for the tenants left out, and the note.
pub(crate) const MIN_BUDGET: usize = 1_000;

/// Parses `--markdown-budget`: a number of characters, at least [`MIN_BUDGET`].
pub fn parse_budget(s: &str) -> Result<usize, String> {
    parse_budget_at_least(s, MIN_BUDGET)
}

/// Parses a number of characters of at least `min`.
pub(crate) fn parse_budget_at_least(s: &str, min: usize) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("expected a number of characters, got {s:?}"))?;
    if n < min {
        return Err(format!(
            "a Markdown comment needs at least {min} characters (heading, totals, notes)"
        ));
    }
    Ok(n)
}

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

/// Room kept at the end for the note that says what was cut (its longest
/// form, with five counts and the budget at twenty digits each, is 343
/// characters).
const NOTE_ROOM: usize = 360;

/// Room kept for the table's last rows: "… N more tenants" and the total.
const TABLE_TAIL_ROOM: usize = 200;

/// What was left out to stay within the budget.
#[derive(Default)]
struct Cut {
    rows: usize,
    approvals: usize,
    sections: usize,
    objects: usize,
    diffs: usize,
}

impl Cut {
    fn note(&self, budget: usize) -> Option<String> {
        let parts: Vec<String> = [
            (self.diffs, "the diffs of", "objects"),
            (self.objects, "", "objects entirely"),
            (self.sections, "the sections of", "tenants"),
            (self.rows, "", "tenants from the table"),
            (self.approvals, "", "reasons for approval"),
        ]
        .into_iter()
        .filter(|(n, ..)| *n > 0)
        .map(|(n, before, after)| {
            format!(
                "{before}{}{n} {after}",
                if before.is_empty() { "" } else { " " }
            )
        })
        .collect();
        (!parts.is_empty()).then(|| {
            format!(
                "> Cut to stay under {budget} characters: {}. The full plan is in the JSON plan and in `jardin plan --format text`.\n",
                parts.join(", ")
            )
        })
    }
}

/// Renders the plan within `budget` characters (for a budget of at least
/// [`MIN_BUDGET`]). What gives way first: per-object diffs, then object
/// entries, then whole tenant sections, then table rows; the heading, the
/// total and what needs approval stay.
pub fn render(plan: &Plan, budget: usize) -> String {
    let s = &plan.summary;
    let mut out = format!(
        "### jardin plan: {} ({} unchanged)\n\n",
        short(s),
        s.unchanged
    );
    if s.changes() == 0 {
        out.push_str("No changes.\n");
        return out;
    }
    let mut cut = Cut::default();
    let changed: Vec<(&str, &Counts)> = tenant_order(plan)
        .into_iter()
        .filter(|(_, c)| c.changes() > 0)
        .collect();
    let total = format!(
        "| **total** | **{}** | **{}** | **{}** | **{}** |\n",
        s.create, s.update, s.delete, s.unchanged
    );
    let approvals = approvals_block(plan, budget / 4, &mut cut);

    // The table: as many tenants as fit beside what must stay.
    out.push_str("| tenant | create | update | delete | unchanged |\n|---|--:|--:|--:|--:|\n");
    let fixed = total.len() + approvals.len() + 1 + NOTE_ROOM + TABLE_TAIL_ROOM;
    let mut listed = 0;
    for (t, c) in &changed {
        let row = format!(
            "| {t} | {} | {} | {} | {} |\n",
            c.create, c.update, c.delete, c.unchanged
        );
        if out.len() + row.len() + fixed > budget {
            break;
        }
        out.push_str(&row);
        listed += 1;
    }
    if listed < changed.len() {
        let rest: Counts = changed[listed..].iter().map(|(_, c)| *c).sum();
        cut.rows = changed.len() - listed;
        let _ = writeln!(
            out,
            "| … {} more tenants | {} | {} | {} | {} |",
            cut.rows, rest.create, rest.update, rest.delete, rest.unchanged
        );
    }
    out.push_str(&total);
    out.push_str(&approvals);
    out.push('\n');

    // Every tenant given a section gets at least its opening and closing
    // lines: keep the tenants whose sections fit, then fill them in order.
    let close = "</details>\n\n";
    let opens: Vec<String> = changed[..listed]
        .iter()
        .map(|(t, c)| format!("<details><summary><b>{t}</b>: {}</summary>\n\n", short(c)))
        .collect();
    let (mut frames, mut framed) = (0, 0);
    for open in &opens {
        let cost = open.len() + close.len();
        if out.len() + framed + cost + NOTE_ROOM > budget {
            break;
        }
        framed += cost;
        frames += 1;
    }
    cut.sections = listed - frames;
    // What must still fit after the current point: the frames of the
    // tenants not yet written, and the note.
    let mut reserve = NOTE_ROOM + framed;
    let by_tenant = changes_by_tenant(plan);
    for ((t, _), open) in changed.iter().zip(&opens[..frames]) {
        out.push_str(open);
        reserve -= open.len();
        for change in by_tenant.get(t).into_iter().flatten() {
            let (sym, word) = action_word(change.action);
            let mut entry = format!("**{sym} {word}** {}\n", code(&change.id.to_string()));
            if let Some(r) = &change.reason {
                let _ = writeln!(entry, "  - why ours: {r}");
            }
            for f in &change.fields {
                let _ = writeln!(entry, "  - {} {}", sign(f.op), code(&f.path));
            }
            entry.push('\n');
            if out.len() + entry.len() + reserve > budget {
                cut.objects += 1;
                continue;
            }
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
                let block = format!("{f}diff\n{body}\n{f}\n\n");
                if out.len() + entry.len() + block.len() + reserve > budget {
                    cut.diffs += 1;
                } else {
                    entry.push_str(&block);
                }
            }
            out.push_str(&entry);
        }
        out.push_str(close);
        reserve -= close.len();
    }
    if let Some(note) = cut.note(budget) {
        out.push_str(&note);
    }
    out
}

/// What needs approval, as a warning block of at most `room` characters.
fn approvals_block(plan: &Plan, room: usize, cut: &mut Cut) -> String {
    let reasons: Vec<String> = plan
        .approval
        .iter()
        .cloned()
        .chain(plan.changes.iter().flat_map(|c| {
            c.approval
                .iter()
                .map(move |a| format!("{}: {a}", code(&c.id.to_string())))
        }))
        .collect();
    if reasons.is_empty() {
        return String::new();
    }
    let mut block = String::from("\n> [!WARNING]\n> **Needs approval**\n");
    for (i, a) in reasons.iter().enumerate() {
        let line = format!("> - {a}\n");
        if block.len() + line.len() > room {
            cut.approvals = reasons.len() - i;
            let _ = writeln!(block, "> - … and {} more", cut.approvals);
            break;
        }
        block.push_str(&line);
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::plan_of_updates as plan;

    #[test]
    fn stays_within_any_budget() {
        for (tenants, per_tenant) in [(1, 1), (3, 40), (40, 3), (400, 2)] {
            let p = plan(tenants, per_tenant);
            let mut budget = MIN_BUDGET;
            while budget <= 40_000 {
                let md = render(&p, budget);
                assert!(
                    md.len() <= budget,
                    "{tenants}×{per_tenant}, budget {budget}: {} characters",
                    md.len()
                );
                assert!(md.contains("| **total** | **0** |"), "{md}");
                assert!(md.contains("**Needs approval**"), "{md}");
                budget += 777;
            }
        }
    }

    #[test]
    fn says_what_it_cut_and_cuts_nothing_with_room() {
        let p = plan(400, 2);
        let md = render(&p, 3_000);
        assert!(md.contains("tenants from the table"), "{md}");
        assert!(md.contains("| … "), "{md}");
        assert!(md.contains("more tenants | 0 |"), "{md}");
        assert!(md.contains("reasons for approval"), "{md}");

        let full = render(&p, usize::MAX / 2);
        assert!(!full.contains("Cut to stay under"));
        assert_eq!(full.matches("<details>").count(), 400);
        assert_eq!(full.matches("```diff").count(), 800);
    }

    #[test]
    fn budgets_below_the_minimum_are_refused() {
        assert_eq!(parse_budget("60000"), Ok(60_000));
        assert!(parse_budget("999").is_err());
        assert!(parse_budget("lots").is_err());
    }
}
