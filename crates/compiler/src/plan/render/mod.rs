//! Rendering a [`Plan`]: `text` for terminals and logs, `markdown` for
//! merge-request comments, `json` for machines (the contract).
//! Every renderer reads only the plan, whose values are already masked.

pub mod json;
pub mod markdown;
pub mod text;

use std::collections::HashMap;

use similar::{ChangeTag, TextDiff};

use super::{Action, Change, Counts, Plan, SHARED};
use crate::emit::to_yaml;

/// Tenants in display order: by id, objects shared by tenants last.
pub(crate) fn tenant_order(plan: &Plan) -> Vec<(&str, &Counts)> {
    let mut v: Vec<(&str, &Counts)> = plan
        .tenants
        .iter()
        .filter(|(t, _)| t.as_str() != SHARED)
        .map(|(t, c)| (t.as_str(), c))
        .collect();
    if let Some(c) = plan.tenants.get(SHARED) {
        v.push((SHARED, c));
    }
    v
}

/// Each tenant's changes (`SHARED` for shared objects), in plan order,
/// gathered in one pass: looking them up tenant by tenant would scan every
/// change once per tenant.
pub(crate) fn changes_by_tenant(plan: &Plan) -> HashMap<&str, Vec<&Change>> {
    let mut by: HashMap<&str, Vec<&Change>> = HashMap::new();
    for c in &plan.changes {
        by.entry(c.tenant.as_deref().unwrap_or(SHARED))
            .or_default()
            .push(c);
    }
    by
}

/// `+3 ~2 -1`
pub(crate) fn short(c: &Counts) -> String {
    format!("+{} ~{} -{}", c.create, c.update, c.delete)
}

/// One line of a rendered object diff.
pub(crate) enum Line {
    Header(String),
    Context(String),
    Added(String),
    Removed(String),
}

/// The YAML diff of one change, live → desired, as unified-diff lines.
/// Creates show the whole object; deletes show nothing (the reason says
/// what and why).
pub(crate) fn object_diff(c: &Change) -> Vec<Line> {
    match c.action {
        Action::Create => c
            .desired
            .as_ref()
            .map(|d| {
                to_yaml(d)
                    .lines()
                    .map(|l| Line::Added(l.to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        Action::Delete => Vec::new(),
        Action::Update => {
            let (Some(live), Some(desired)) = (&c.live, &c.desired) else {
                return Vec::new();
            };
            let (a, b) = (to_yaml(live), to_yaml(desired));
            let diff = TextDiff::from_lines(&a, &b);
            let mut out = Vec::new();
            for group in diff.grouped_ops(3) {
                let (first, last) = (&group[0], &group[group.len() - 1]);
                let old = first.old_range().start..last.old_range().end;
                let new = first.new_range().start..last.new_range().end;
                out.push(Line::Header(format!(
                    "@@ -{},{} +{},{} @@",
                    old.start + 1,
                    old.len(),
                    new.start + 1,
                    new.len()
                )));
                for op in &group {
                    for change in diff.iter_changes(op) {
                        let text = change.value().trim_end_matches('\n').to_string();
                        out.push(match change.tag() {
                            ChangeTag::Equal => Line::Context(text),
                            ChangeTag::Insert => Line::Added(text),
                            ChangeTag::Delete => Line::Removed(text),
                        });
                    }
                }
            }
            out
        }
    }
}

/// `+ create`, `~ update`, `- delete`
pub(crate) fn action_word(a: Action) -> (&'static str, &'static str) {
    match a {
        Action::Create => ("+", "create"),
        Action::Update => ("~", "update"),
        Action::Delete => ("-", "delete"),
    }
}
