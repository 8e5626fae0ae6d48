//! The JSON plan: the contract CI and `apply` read (docs/PLAN.md).

use crate::plan::Plan;

pub fn render(plan: &Plan) -> String {
    let mut s = serde_json::to_string_pretty(plan).unwrap_or_else(|_| "{}".to_string());
    s.push('\n');
    s
}
