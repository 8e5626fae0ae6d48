//! The plan: a pure diff between a derived zone and a live one.
//!
//! Ownership. jardin changes or deletes only RRsets it owns. It records
//! what it owns in the zone itself: for every name where it writes data,
//! a TXT RRset at `_jardin-owner.<name>` whose strings are `jardin-owner`
//! then one `TYPE=owner` per owned type (e.g. `"A=app:faire-ecole/cloud"`).
//! A zone declared `exclusive` is owned whole (but SOA and apex NS, which
//! are the server's). Everything else is foreign: listed, never touched.
//! When jardin wants an RRset that exists as foreign data with the same
//! records, it adopts it (the marker is added); with other records, it is a
//! conflict, listed and left alone.
//!
//! Deletion budget. Deleting more RRsets than `deletion_budget.count`, or
//! more than `deletion_budget.percent` of the zone's RRsets, needs an
//! explicit allowance (`--allow-deletes N`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::derive::{is_marker, managed_type, markers_for};
use super::{OwnedRr, Rr, RrKey, ZoneData};

/// What jardin reads from a server or a snapshot.
#[derive(Clone, Debug, Serialize)]
pub struct LiveZone {
    pub apex: String,
    pub records: Vec<Rr>,
}

impl LiveZone {
    pub(crate) fn soa(&self) -> Option<&Rr> {
        self.records
            .iter()
            .find(|r| r.rtype == "SOA" && r.name == self.apex)
    }
}

/// The same three actions as the Kubernetes plan.
pub(crate) use crate::plan::Action;

/// One RRset to change.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Change {
    pub(crate) action: Action,
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) rtype: String,
    /// The owner jardin records for it (or had recorded, for a deletion).
    pub(crate) owner: String,
    pub(crate) before: Vec<Rr>,
    pub(crate) after: Vec<Rr>,
}

/// An RRset that is not jardin's.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Foreign {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) rtype: String,
    pub(crate) records: Vec<Rr>,
    /// What jardin would have written here, when it wants this RRset.
    pub(crate) conflict: Option<Vec<Rr>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ZonePlan {
    pub(crate) zone: String,
    /// The SOA read with the live zone: apply requires it unchanged.
    pub(crate) live_soa: Option<Rr>,
    pub(crate) changes: Vec<Change>,
    pub(crate) foreign: Vec<Foreign>,
    /// RRsets deleted (ownership markers not counted).
    pub(crate) deletes: usize,
    /// RRsets in the live zone (SOA and markers not counted).
    pub(crate) live_rrsets: usize,
    pub(crate) budget_count: u32,
    pub(crate) budget_percent: u32,
    pub over_budget: bool,
    /// Hashes of the desired and live records the plan was computed from.
    pub(crate) desired_hash: String,
    pub(crate) live_hash: String,
}

/// A hash of a set of records, independent of their order.
fn hash_records<'a>(records: impl Iterator<Item = &'a Rr>) -> String {
    let mut lines: Vec<String> = records
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.rtype, r.data))
        .collect();
    lines.sort();
    let mut h = blake3::Hasher::new();
    for l in &lines {
        h.update(l.as_bytes());
        h.update(b"\n");
    }
    h.finalize().to_hex()[..16].to_string()
}

impl ZonePlan {
    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
    pub(crate) fn count(&self, a: Action) -> usize {
        self.changes
            .iter()
            .filter(|c| c.action == a && !is_marker(&c.name))
            .count()
    }
}

fn group(records: &[Rr]) -> BTreeMap<RrKey, Vec<Rr>> {
    let mut out: BTreeMap<RrKey, Vec<Rr>> = BTreeMap::new();
    for r in records {
        out.entry((r.name.clone(), r.rtype.clone()))
            .or_default()
            .push(r.clone());
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
    }
    out
}

/// The character-strings of a TXT's presentation.
pub(crate) fn txt_parts(data: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut inside = false;
    let mut chars = data.chars();
    while let Some(c) = chars.next() {
        match (inside, c) {
            (true, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (true, '"') => {
                out.push(std::mem::take(&mut cur));
                inside = false;
            }
            (true, c) => cur.push(c),
            (false, '"') => inside = true,
            (false, _) => {}
        }
    }
    out
}

/// Owned RRsets according to the live markers: (name, type) → owner.
pub(crate) fn owned_by_markers(live: &BTreeMap<RrKey, Vec<Rr>>) -> BTreeMap<RrKey, String> {
    let mut out = BTreeMap::new();
    for ((name, rtype), recs) in live {
        if rtype != "TXT" || !is_marker(name) {
            continue;
        }
        let owned_name = &name[super::derive::MARKER_LABEL.len() + 1..];
        for r in recs {
            let parts = txt_parts(&r.data);
            if parts.first().map(String::as_str) != Some("jardin-owner") {
                continue;
            }
            for p in &parts[1..] {
                if let Some((t, owner)) = p.split_once('=') {
                    out.insert(
                        (owned_name.to_string(), t.to_ascii_uppercase()),
                        owner.to_string(),
                    );
                }
            }
        }
    }
    out
}

/// Diffs one zone.
pub fn plan_zone(desired: &ZoneData, live: &LiveZone) -> ZonePlan {
    let apex = desired.apex.as_str();
    let live_sets = group(&live.records);
    let marked = owned_by_markers(&live_sets);
    let exclusive = desired.settings.exclusive;
    let owned = |key: &RrKey| -> bool {
        is_marker(&key.0) && key.1 == "TXT" || marked.contains_key(key) || exclusive
    };

    // Desired data, markers aside: they are recomputed once conflicts are known.
    let data: Vec<&OwnedRr> = desired
        .records
        .iter()
        .filter(|r| managed_type(&r.rr, apex) && !is_marker(&r.rr.name))
        .collect();
    let mut want: BTreeMap<RrKey, (Vec<Rr>, String)> = BTreeMap::new();
    for r in &data {
        let e = want
            .entry((r.rr.name.clone(), r.rr.rtype.clone()))
            .or_insert_with(|| (Vec::new(), String::new()));
        e.0.push(r.rr.clone());
        // Several owners can share an RRset (TXT at an apex): name them all.
        let owner = r.owner.to_string();
        if !e.1.split(',').any(|o| o == owner) {
            if !e.1.is_empty() {
                e.1.push(',');
            }
            e.1.push_str(&owner);
        }
    }
    let mut changes = Vec::new();
    let mut foreign = Vec::new();
    let mut conflicts: Vec<RrKey> = Vec::new();
    for (key, (after, owner)) in &want {
        let mut after = after.clone();
        after.sort();
        match live_sets.get(key) {
            None => changes.push(change(Action::Create, key, owner, Vec::new(), after)),
            Some(before) if *before == after => {}
            Some(before) if owned(key) => {
                changes.push(change(Action::Update, key, owner, before.clone(), after))
            }
            Some(before) => {
                conflicts.push(key.clone());
                foreign.push(Foreign {
                    name: key.0.clone(),
                    rtype: key.1.clone(),
                    records: before.clone(),
                    conflict: Some(after),
                });
            }
        }
    }
    let mut deletes = 0;
    for (key, before) in &live_sets {
        if want.contains_key(key) || is_marker(&key.0) || !managed_type(&before[0], apex) {
            continue;
        }
        if owned(key) {
            deletes += 1;
            let owner = marked
                .get(key)
                .cloned()
                .unwrap_or_else(|| "exclusive zone".into());
            changes.push(change(
                Action::Delete,
                key,
                &owner,
                before.clone(),
                Vec::new(),
            ));
        } else {
            foreign.push(Foreign {
                name: key.0.clone(),
                rtype: key.1.clone(),
                records: before.clone(),
                conflict: None,
            });
        }
    }

    // Markers: one per name jardin writes, without the conflicting RRsets.
    let markers = markers_for(data.iter().copied(), apex, desired.settings.ttl, &conflicts);
    let mut marker_sets: BTreeMap<RrKey, Vec<Rr>> = BTreeMap::new();
    for m in &markers {
        marker_sets
            .entry((m.rr.name.clone(), "TXT".into()))
            .or_default()
            .push(m.rr.clone());
    }
    let zone_owner = format!("zone:{}", desired.name());
    for (key, after) in &marker_sets {
        match live_sets.get(key) {
            None => changes.push(change(
                Action::Create,
                key,
                &zone_owner,
                Vec::new(),
                after.clone(),
            )),
            Some(before) if before == after => {}
            Some(before) => changes.push(change(
                Action::Update,
                key,
                &zone_owner,
                before.clone(),
                after.clone(),
            )),
        }
    }
    for (key, before) in &live_sets {
        if key.1 == "TXT" && is_marker(&key.0) && !marker_sets.contains_key(key) {
            changes.push(change(
                Action::Delete,
                key,
                &zone_owner,
                before.clone(),
                Vec::new(),
            ));
        }
    }
    changes.sort_by(|a, b| (&a.name, &a.rtype).cmp(&(&b.name, &b.rtype)));
    foreign.sort_by(|a, b| (&a.name, &a.rtype).cmp(&(&b.name, &b.rtype)));

    let live_rrsets = live_sets
        .iter()
        .filter(|(k, v)| !is_marker(&k.0) && managed_type(&v[0], apex))
        .count();
    let budget = &desired.settings.deletion_budget;
    let over_budget = over_budget(deletes, budget.count, budget.percent, live_rrsets);
    ZonePlan {
        zone: desired.name().to_string(),
        live_soa: live.soa().cloned(),
        changes,
        foreign,
        deletes,
        live_rrsets,
        budget_count: budget.count,
        budget_percent: budget.percent,
        over_budget,
        desired_hash: hash_records(desired.records.iter().map(|r| &r.rr)),
        live_hash: hash_records(live.records.iter()),
    }
}

/// Whether `deletes` RRset deletions, in a zone of `live_rrsets`, exceed a
/// budget of `count` RRsets or `percent` of the zone.
pub(crate) fn over_budget(deletes: usize, count: u32, percent: u32, live_rrsets: usize) -> bool {
    deletes > count as usize
        || (deletes > 0 && deletes * 100 > percent as usize * live_rrsets.max(1))
}

fn change(action: Action, key: &RrKey, owner: &str, before: Vec<Rr>, after: Vec<Rr>) -> Change {
    Change {
        action,
        name: key.0.clone(),
        rtype: key.1.clone(),
        owner: owner.to_string(),
        before,
        after,
    }
}

/// The whole plan, as saved with `-o` and read back by `apply --plan`.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct PlanFile {
    pub format_version: u32,
    pub zones: Vec<SavedZone>,
}

/// What apply needs of a zone plan. Apply trusts none of it: it recomputes
/// the plan and compares (`dns::verify`); the figures are saved so that an
/// edit of what the reviewer saw is caught, not to decide anything.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct SavedZone {
    pub zone: String,
    pub server: Option<String>,
    pub live_soa: Option<SavedRr>,
    pub deletes: usize,
    pub over_budget: bool,
    pub budget_count: u32,
    pub budget_percent: u32,
    pub live_rrsets: usize,
    /// The hash of the desired records: tells a config changed since the
    /// plan from an edited file, for the message only.
    pub desired_hash: String,
    pub changes: Vec<SavedChange>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct SavedRr {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub ttl: u32,
    pub data: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SavedChange {
    pub action: String,
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub before: Vec<SavedRr>,
    pub after: Vec<SavedRr>,
}

pub(crate) fn saved_rr(r: &Rr) -> SavedRr {
    SavedRr {
        name: r.name.clone(),
        rtype: r.rtype.clone(),
        ttl: r.ttl,
        data: r.data.clone(),
    }
}

/// A change as saved: records sorted, so that two saves of one change are
/// equal.
pub(crate) fn saved_change(c: &Change) -> SavedChange {
    SavedChange {
        action: format!("{:?}", c.action).to_lowercase(),
        name: c.name.clone(),
        rtype: c.rtype.clone(),
        before: sorted(c.before.iter().map(saved_rr).collect()),
        after: sorted(c.after.iter().map(saved_rr).collect()),
    }
}

pub(crate) fn sorted(mut records: Vec<SavedRr>) -> Vec<SavedRr> {
    records.sort();
    records.dedup();
    records
}

impl SavedZone {
    pub fn from_plan(p: &ZonePlan, server: Option<String>) -> Self {
        SavedZone {
            zone: p.zone.clone(),
            server,
            live_soa: p.live_soa.as_ref().map(saved_rr),
            deletes: p.deletes,
            over_budget: p.over_budget,
            budget_count: p.budget_count,
            budget_percent: p.budget_percent,
            live_rrsets: p.live_rrsets,
            desired_hash: p.desired_hash.clone(),
            changes: p.changes.iter().map(saved_change).collect(),
        }
    }
}

/// Text rendering of a zone plan, for people and for review in CI.
pub fn render_text(p: &ZonePlan) -> String {
    let mut s = String::new();
    let serial = p
        .live_soa
        .as_ref()
        .and_then(|r| r.data.split_whitespace().nth(2).map(str::to_string))
        .unwrap_or_else(|| "none".into());
    s.push_str(&format!("zone {} (live serial {serial})\n", p.zone));
    for c in &p.changes {
        match c.action {
            Action::Create => {
                for r in &c.after {
                    s.push_str(&format!(
                        "  + {} {} {} {}  [{}]\n",
                        r.name, r.ttl, r.rtype, r.data, c.owner
                    ));
                }
            }
            Action::Update => {
                s.push_str(&format!("  ~ {} {}  [{}]\n", c.name, c.rtype, c.owner));
                let before: BTreeSet<&Rr> = c.before.iter().collect();
                let after: BTreeSet<&Rr> = c.after.iter().collect();
                for r in before.difference(&after) {
                    s.push_str(&format!("      - {} {}\n", r.ttl, r.data));
                }
                for r in after.difference(&before) {
                    s.push_str(&format!("      + {} {}\n", r.ttl, r.data));
                }
            }
            Action::Delete => {
                for r in &c.before {
                    s.push_str(&format!(
                        "  - {} {} {} {}  [owned: {}]\n",
                        r.name, r.ttl, r.rtype, r.data, c.owner
                    ));
                }
            }
        }
    }
    for f in &p.foreign {
        match &f.conflict {
            None => s.push_str(&format!(
                "  = foreign, left alone: {} {}\n",
                f.name, f.rtype
            )),
            Some(want) => s.push_str(&format!(
                "  ! conflict, left alone: {} {} is not jardin's; jardin wants {}\n",
                f.name,
                f.rtype,
                want.iter()
                    .map(|r| r.data.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    s.push_str(&format!(
        "  {} to add, {} to change, {} to delete, {} foreign\n",
        p.count(Action::Create),
        p.count(Action::Update),
        p.count(Action::Delete),
        p.foreign.len()
    ));
    if p.over_budget {
        s.push_str(&format!(
            "  deletions over budget: {} of {} RRsets (budget {} or {}%): apply needs --allow-deletes {}\n",
            p.deletes, p.live_rrsets, p.budget_count, p.budget_percent, p.deletes
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::derive::marker_name;
    use crate::dns::{Origin, Owner};

    fn rr(name: &str, t: &str, d: &str) -> Rr {
        Rr {
            name: name.into(),
            rtype: t.into(),
            ttl: 300,
            data: d.into(),
        }
    }

    fn desired(records: Vec<Rr>) -> ZoneData {
        let mut z = ZoneData {
            apex: "example.org.".into(),
            settings: crate::test_support::zone_settings(300),
            records: records
                .into_iter()
                .map(|rr| OwnedRr {
                    rr,
                    owner: Owner::App {
                        tenant: "t".into(),
                        app: "pad".into(),
                    },
                    origin: Origin::Derived,
                })
                .collect(),
        };
        crate::dns::derive::add_markers(&mut z);
        z
    }

    fn live(records: Vec<Rr>) -> LiveZone {
        LiveZone {
            apex: "example.org.".into(),
            records,
        }
    }

    const SOA: &str = "ns1.example.net. admin.example.net. 7 3600 900 1209600 300";

    #[test]
    fn fresh_zone_is_all_creates_and_applied_zone_is_clean() {
        let d = desired(vec![rr(
            "pad.example.org.",
            "CNAME",
            "ingress.example.net.",
        )]);
        let p = plan_zone(&d, &live(vec![rr("example.org.", "SOA", SOA)]));
        assert_eq!(p.count(Action::Create), 1);
        assert_eq!(p.changes.len(), 2, "data and marker");
        let mut after: Vec<Rr> = p.changes.iter().flat_map(|c| c.after.clone()).collect();
        after.push(rr("example.org.", "SOA", SOA));
        let p2 = plan_zone(&d, &live(after));
        assert!(!p2.has_changes(), "{}", render_text(&p2));
    }

    #[test]
    fn foreign_records_are_left_alone_and_owned_ones_repaired() {
        let d = desired(vec![rr("pad.example.org.", "A", "192.0.2.1")]);
        let marker = rr(
            &marker_name("pad.example.org."),
            "TXT",
            "\"jardin-owner\" \"A=app:t/pad\"",
        );
        let p = plan_zone(
            &d,
            &live(vec![
                rr("pad.example.org.", "A", "192.0.2.9"),
                marker,
                rr("other.example.org.", "TXT", "\"hello\""),
            ]),
        );
        assert_eq!(p.count(Action::Update), 1);
        assert_eq!(p.count(Action::Delete), 0);
        assert_eq!(p.foreign.len(), 1);
        assert!(p.foreign[0].conflict.is_none());
    }

    #[test]
    fn unowned_different_data_is_a_conflict() {
        let d = desired(vec![rr("pad.example.org.", "A", "192.0.2.1")]);
        let p = plan_zone(&d, &live(vec![rr("pad.example.org.", "A", "192.0.2.9")]));
        assert!(p.changes.is_empty(), "{}", render_text(&p));
        assert!(p.foreign[0].conflict.is_some());
    }

    #[test]
    fn deletions_over_budget_need_approval() {
        let d = desired(vec![]);
        let mut recs = Vec::new();
        for i in 0..12 {
            let n = format!("h{i}.example.org.");
            recs.push(rr(&n, "A", "192.0.2.1"));
            recs.push(rr(
                &marker_name(&n),
                "TXT",
                "\"jardin-owner\" \"A=app:t/pad\"",
            ));
        }
        let p = plan_zone(&d, &live(recs));
        assert_eq!(p.deletes, 12);
        assert!(p.over_budget);
    }

    #[test]
    fn txt_parts_unescape() {
        assert_eq!(txt_parts("\"a\" \"b \\\"c\\\"\""), vec!["a", "b \"c\""]);
    }
}
