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

fn file_section_md(title: &str, files: &[FileChange], out: &mut String) {
    if files.is_empty() {
        return;
    }
    let (a, d) = counts(files);
    out.push_str(&format!(
        "\n<details><summary><b>{title}</b>: +{a} −{d} in {} file(s)</summary>\n\n",
        files.len()
    ));
    for f in files {
        out.push_str(&format!(
            "`{}`\n\n```diff\n{}```\n\n",
            f.path,
            f.diff
                .lines()
                .skip(2)
                .map(|l| format!("{l}\n"))
                .collect::<String>()
        ));
    }
    out.push_str("</details>\n");
}

/// Markdown for a merge-request comment, within `budget` characters for
/// the object diffs (the plan's renderer enforces it).
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
    out.push_str(
        "| tenants affected | objects | DNS records | backup coverage |\n|---|---|---|---|\n",
    );
    out.push_str(&format!(
        "| {} | +{} ~{} −{} | +{da} −{dd} | +{ba} −{bd} |\n\n",
        if tenants.is_empty() {
            "none".to_string()
        } else {
            tenants.join(", ")
        },
        s.create,
        s.update,
        s.delete
    ));
    if s.changes() > 0 {
        out.push_str(&plan_render::markdown::render(&r.objects, budget));
    }
    file_section_md("DNS records", &r.dns, &mut out);
    file_section_md("Backup coverage", &r.backup, &mut out);
    out.push_str(&unaffected(r));
    out
}

pub fn json(r: &Review) -> String {
    let mut s = serde_json::to_string_pretty(r).unwrap_or_default();
    s.push('\n');
    s
}
