//! A review for people and machines: the plan's renderers for the objects,
//! plus sections for DNS zones and backup coverage.

use super::{FileChange, Review};
use crate::plan::render as plan_render;

fn counts(files: &[FileChange]) -> (usize, usize) {
    files
        .iter()
        .fold((0, 0), |(a, r), f| (a + f.added, r + f.removed))
}

fn file_section_text(title: &str, files: &[FileChange], out: &mut String) {
    if files.is_empty() {
        return;
    }
    out.push_str(&format!("\n── {title}\n"));
    for f in files {
        out.push_str(&format!("\n~ {} (+{} -{})\n", f.path, f.added, f.removed));
        for line in f.diff.lines().skip(2) {
            out.push_str("    ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

pub fn text(r: &Review, color: bool) -> String {
    let mut out = format!("Changes from {} to {}\n\n", r.base, r.head);
    if !r.has_changes() {
        out.push_str("No changes to the generated output.\n");
        return out;
    }
    out.push_str(&plan_render::text::render(&r.objects, color));
    file_section_text("DNS records", &r.dns, &mut out);
    file_section_text("Backup coverage", &r.backup, &mut out);
    out.push_str(&unaffected(r));
    out
}

/// The tenants left out of the comparison, said once at the end.
fn unaffected(r: &Review) -> String {
    match r.unaffected_tenants {
        0 => String::new(),
        1 => "\n1 other tenant is unaffected: its inputs are the same at both revisions.\n".into(),
        n => format!(
            "\n{n} other tenants are unaffected: their inputs are the same at both revisions.\n"
        ),
    }
}

/// Room kept for a DNS or backup section beyond its files: its frame and
/// the note on what was cut.
const SECTION_ROOM: usize = 300;

/// How many tenants the summary table names before "and N more".
const NAMED_TENANTS: usize = 8;

/// The smallest review budget: the summary, a plan of
/// [`plan_render::markdown::MIN_BUDGET`] and the frames of both sections.
pub(crate) const MIN_BUDGET: usize = 3_000;

/// Parses the review's `--markdown-budget`: at least [`MIN_BUDGET`].
pub fn parse_budget(s: &str) -> Result<usize, String> {
    plan_render::markdown::parse_budget_at_least(s, MIN_BUDGET)
}

/// One section of changed files, within `room` characters: each file's
/// diff while it fits, then only its name and counts, then only a count.
fn file_section_md(title: &str, files: &[FileChange], room: usize, out: &mut String) {
    if files.is_empty() {
        return;
    }
    let limit = out.len() + room;
    let (a, d) = counts(files);
    out.push_str(&format!(
        "\n<details><summary><b>{title}</b>: +{a} −{d} in {} file(s)</summary>\n\n",
        files.len()
    ));
    let close = "</details>\n";
    // The note on what was cut, at its longest.
    let reserve = close.len() + 160;
    let (mut cut_diffs, mut cut_files) = (0, 0);
    for f in files {
        let body: String = f.diff.lines().skip(2).map(|l| format!("{l}\n")).collect();
        let full = format!("`{}`\n\n```diff\n{body}```\n\n", f.path);
        let short = format!("`{}` (+{} −{})\n\n", f.path, f.added, f.removed);
        if out.len() + full.len() + reserve <= limit {
            out.push_str(&full);
        } else if out.len() + short.len() + reserve <= limit {
            out.push_str(&short);
            cut_diffs += 1;
        } else {
            cut_files += 1;
        }
    }
    if cut_diffs + cut_files > 0 {
        out.push_str(&format!(
            "> Cut to stay under the budget: the diffs of {cut_diffs} files, {cut_files} files entirely. `jardin diff` prints them all.\n\n"
        ));
    }
    out.push_str(close);
}

/// Markdown for a merge-request comment, within `budget` characters (at
/// least [`MIN_BUDGET`]): the objects get what the summary and the frames
/// of the DNS and backup sections leave, and those sections what the
/// objects leave.
pub fn markdown(r: &Review, budget: usize) -> String {
    let s = &r.objects.summary;
    let tenants: Vec<&str> = r
        .objects
        .tenants
        .iter()
        .filter(|(_, c)| c.changes() > 0)
        .map(|(t, _)| t.as_str())
        .collect();
    let (da, dd) = counts(&r.dns);
    let (ba, bd) = counts(&r.backup);
    let mut out = format!("### jardin: `{}` → `{}`\n\n", r.base, r.head);
    if !r.has_changes() {
        out.push_str("No changes to the generated output.\n");
        return out;
    }
    let named = match tenants.len() {
        0 => "none".to_string(),
        n if n <= NAMED_TENANTS => tenants.join(", "),
        n => format!(
            "{} and {} more",
            tenants[..NAMED_TENANTS].join(", "),
            n - NAMED_TENANTS
        ),
    };
    out.push_str(
        "| tenants affected | objects | DNS records | backup coverage |\n|---|---|---|---|\n",
    );
    out.push_str(&format!(
        "| {named} | +{} ~{} −{} | +{da} −{dd} | +{ba} −{bd} |\n\n",
        s.create, s.update, s.delete
    ));
    let tail = unaffected(r);
    let sections = [("DNS records", &r.dns), ("Backup coverage", &r.backup)];
    let mut frames = sections.iter().filter(|(_, f)| !f.is_empty()).count() * SECTION_ROOM;
    if s.changes() > 0 {
        let room = budget
            .saturating_sub(out.len() + tail.len() + frames)
            .max(plan_render::markdown::MIN_BUDGET);
        out.push_str(&plan_render::markdown::render(&r.objects, room));
    }
    for (title, files) in sections {
        if files.is_empty() {
            continue;
        }
        frames -= SECTION_ROOM;
        let room = budget.saturating_sub(out.len() + tail.len() + frames);
        file_section_md(title, files, room, &mut out);
    }
    out.push_str(&tail);
    out
}

pub fn json(r: &Review) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::plan_of_updates;

    /// A review of `tenants` changed tenants, each with a zone and a
    /// coverage entry that changed too.
    fn review(tenants: usize) -> Review {
        let file = |path: String, t: usize| {
            FileChange {
            path,
            added: 1,
            removed: 1,
            diff: format!("--- a\n+++ b\n@@ -1 +1 @@\n-cloud 300 IN A 192.0.2.{}\n+cloud 300 IN A 198.51.100.{}\n", t % 250, t % 250),
        }
        };
        Review {
            format_version: 1,
            base: "main".into(),
            head: "the working tree".into(),
            objects: plan_of_updates(tenants, 2),
            dns: (0..tenants)
                .map(|t| file(format!("dns/association-{t:05}.org.zone"), t))
                .collect(),
            backup: (0..tenants)
                .map(|t| file(format!("backup/association-{t:05}.json"), t))
                .collect(),
            unaffected_tenants: 12,
        }
    }

    #[test]
    fn stays_within_any_budget() {
        for tenants in [1, 5, 60, 700] {
            let r = review(tenants);
            let mut budget = MIN_BUDGET;
            while budget <= 70_000 {
                let md = markdown(&r, budget);
                assert!(
                    md.len() <= budget,
                    "{tenants} tenants, budget {budget}: {} characters",
                    md.len()
                );
                assert!(md.contains("12 other tenants are unaffected"), "{md}");
                budget += 1_777;
            }
        }
    }

    #[test]
    fn names_a_few_tenants_and_says_what_it_cut() {
        let md = markdown(&review(700), 20_000);
        assert!(md.contains("and 692 more |"), "{md}");
        assert!(
            md.contains("<b>DNS records</b>: +700 −700 in 700 file(s)"),
            "{md}"
        );
        assert!(
            md.contains("> Cut to stay under the budget: the diffs of"),
            "{md}"
        );

        let full = markdown(&review(3), usize::MAX / 4);
        assert!(!full.contains("Cut to stay"), "{full}");
        assert_eq!(full.matches("```diff").count(), 3 * 2 + 3 + 3);
    }
}
