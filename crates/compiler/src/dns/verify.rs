//! A saved plan checked again at apply, and an update checked after it is
//! sent. Pure: the live zones come from the caller.
//!
//! A saved plan is only what a person reviewed. At apply, jardin reads the
//! zone again, recomputes the plan from the current config and that zone
//! (`plan::plan_zone`: ownership, the deletion budget, what needs approval),
//! and sends a saved change only when the recomputed plan proposes the very
//! same change. Anything else in the file (a record jardin does not own, a
//! budget or an approval flag edited) refuses the whole apply. A zone whose
//! SOA changed since the plan refuses it too: plan again.
//!
//! After an update, the zone is read back: a server may answer NOERROR and
//! still drop part of an update (RFC 2136 §3.4.2.2: a CNAME beside other
//! data), which [`not_taken`] reports.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::source::SourceFile;

use super::derive::is_marker;
use super::plan::{over_budget, saved_change, saved_rr, sorted, LiveZone, SavedChange, SavedRr};
use super::plan::{SavedZone, ZonePlan};

/// A saved plan's text, with the byte ranges of its zones, their fields and
/// their changes, so that a refusal points at what was refused.
pub struct PlanText {
    file: SourceFile,
    zones: Vec<ZoneSpans>,
}

#[derive(Default)]
struct ZoneSpans {
    whole: Range<usize>,
    fields: BTreeMap<String, Range<usize>>,
    changes: Vec<Range<usize>>,
}

impl PlanText {
    /// `text` must already have been read as a `PlanFile`; a part that is
    /// not found just has no label.
    pub fn new(name: &str, text: &str) -> Self {
        let mut zones = Vec::new();
        if let Some(Json::Object(top, _)) = Json::parse(text) {
            if let Some((_, Json::Array(items, _))) = top.iter().find(|(k, _)| k == "zones") {
                for z in items {
                    let mut spans = ZoneSpans {
                        whole: z.span(),
                        ..ZoneSpans::default()
                    };
                    if let Json::Object(fields, _) = z {
                        for (k, v) in fields {
                            if let (true, Json::Array(changes, _)) = (k == "changes", v) {
                                spans.changes = changes.iter().map(Json::name_span).collect();
                            }
                            spans.fields.insert(k.clone(), v.span());
                        }
                    }
                    zones.push(spans);
                }
            }
        }
        PlanText {
            file: SourceFile::new(name, text),
            zones,
        }
    }

    fn label(&self, d: Diagnostic, span: Option<Range<usize>>, message: &str) -> Diagnostic {
        match span {
            Some(s) => d.with_label(self.file.clone(), s, message),
            None => d,
        }
    }

    fn field(&self, zone: usize, key: &str) -> Option<Range<usize>> {
        let z = self.zones.get(zone)?;
        z.fields.get(key).cloned().or_else(|| Some(z.whole.clone()))
    }

    fn change(&self, zone: usize, change: usize) -> Option<Range<usize>> {
        self.zones.get(zone)?.changes.get(change).cloned()
    }
}

/// Just enough JSON to know where values are: the file was already parsed
/// by serde, which keeps no positions.
enum Json {
    Object(Vec<(String, Json)>, Range<usize>),
    Array(Vec<Json>, Range<usize>),
    Scalar(Range<usize>),
}

impl Json {
    fn span(&self) -> Range<usize> {
        match self {
            Json::Object(_, r) | Json::Array(_, r) | Json::Scalar(r) => r.clone(),
        }
    }

    /// A change is shown by its name: the whole object would fill the
    /// screen.
    fn name_span(&self) -> Range<usize> {
        match self {
            Json::Object(fields, whole) => fields
                .iter()
                .find(|(k, _)| k == "name")
                .map_or(whole.clone(), |(_, v)| v.span()),
            other => other.span(),
        }
    }

    fn parse(text: &str) -> Option<Json> {
        let mut p = Scanner {
            b: text.as_bytes(),
            i: 0,
            depth: 0,
        };
        p.value()
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
    depth: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return serde_json::from_slice(&self.b[start..self.i]).ok();
                }
                _ => self.i += 1,
            }
        }
        None
    }

    fn value(&mut self) -> Option<Json> {
        // serde_json refuses deeper nesting anyway: no stack to exhaust here.
        if self.depth > 128 {
            return None;
        }
        self.ws();
        let start = self.i;
        match *self.b.get(self.i)? {
            b'{' => {
                self.depth += 1;
                self.i += 1;
                let mut fields = Vec::new();
                loop {
                    self.ws();
                    match *self.b.get(self.i)? {
                        b'}' => break,
                        b',' => self.i += 1,
                        b'"' => {
                            let key = self.string()?;
                            self.ws();
                            (*self.b.get(self.i)? == b':').then_some(())?;
                            self.i += 1;
                            fields.push((key, self.value()?));
                        }
                        _ => return None,
                    }
                }
                self.i += 1;
                self.depth -= 1;
                Some(Json::Object(fields, start..self.i))
            }
            b'[' => {
                self.depth += 1;
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    match *self.b.get(self.i)? {
                        b']' => break,
                        b',' => self.i += 1,
                        _ => items.push(self.value()?),
                    }
                }
                self.i += 1;
                self.depth -= 1;
                Some(Json::Array(items, start..self.i))
            }
            b'"' => {
                self.string()?;
                Some(Json::Scalar(start..self.i))
            }
            _ => {
                while self.i < self.b.len() && !b",]} \t\r\n".contains(&self.b[self.i]) {
                    self.i += 1;
                }
                (self.i > start).then_some(Json::Scalar(start..self.i))
            }
        }
    }
}

/// What apply may send for a zone of a saved plan.
#[derive(Debug)]
pub struct Verified {
    /// The saved changes, every one proposed now, identically.
    pub zone: SavedZone,
    /// Changes proposed now that the saved plan does not hold: not sent.
    pub unreviewed: Vec<String>,
}

/// Refuses a saved zone read from another server than the one apply would
/// change (`target`).
pub fn check_server(
    saved: &SavedZone,
    index: usize,
    target: &str,
    text: &PlanText,
) -> Result<(), Diagnostic> {
    match &saved.server {
        Some(planned) if planned != target => {
            let d = Diagnostic::error(
                code::DNS_PLAN_OTHER_SERVER,
                format!(
                    "zone {}: the plan was made against {planned}, apply would change {target}; nothing was applied",
                    saved.zone
                ),
            )
            .with_help(format!(
                "pass --server {planned} if that is the server you meant, or plan again against {target}"
            ));
            Err(text.label(d, text.field(index, "server"), "the plan's server"))
        }
        _ => Ok(()),
    }
}

fn describe(c: &SavedChange) -> String {
    format!("{} {} {}", c.action, c.name, c.rtype)
}

fn records(rs: &[SavedRr]) -> String {
    if rs.is_empty() {
        return "nothing".into();
    }
    rs.iter()
        .map(|r| format!("{} {}", r.ttl, r.data))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The live RRsets by name and type, as saved records.
fn live_sets(live: &LiveZone) -> BTreeMap<(String, String), Vec<SavedRr>> {
    let mut out: BTreeMap<(String, String), Vec<SavedRr>> = BTreeMap::new();
    for r in &live.records {
        out.entry((r.name.clone(), r.rtype.clone()))
            .or_default()
            .push(saved_rr(r));
    }
    out.into_iter().map(|(k, v)| (k, sorted(v))).collect()
}

/// Checks saved zone `index` of a plan file against `now`, the plan
/// recomputed from the current config and `live`, read just before.
pub fn verify_saved(
    saved: &SavedZone,
    index: usize,
    now: &ZonePlan,
    live: &LiveZone,
    text: &PlanText,
) -> Result<Verified, Vec<Diagnostic>> {
    let zone = &saved.zone;
    let plan_again = "run `jardin dns plan -o PLAN` again, review it, then apply that plan";
    // Stale: every change on a server bumps the serial, so the SOA says
    // whether the zone is still the one the plan was made from.
    let live_soa = live.soa().map(saved_rr);
    if saved.live_soa != live_soa {
        let serial = |r: &Option<SavedRr>| {
            r.as_ref()
                .and_then(|r| r.data.split_whitespace().nth(2).map(str::to_string))
                .unwrap_or_else(|| "none".into())
        };
        let d = Diagnostic::error(
            code::ZONE_CHANGED,
            format!(
                "zone {zone} changed on the server since the plan was made (serial {}, now {}); nothing was applied",
                serial(&saved.live_soa),
                serial(&live_soa)
            ),
        )
        .with_help(plan_again);
        return Err(vec![text.label(
            d,
            text.field(index, "live_soa"),
            "the SOA the plan read",
        )]);
    }

    let config_changed = saved.desired_hash != now.desired_hash;
    let why_now = if config_changed {
        "the config changed since the plan"
    } else {
        "the plan file was edited"
    };
    let live = live_sets(live);
    let proposed: BTreeMap<(&str, &str), SavedChange> = now
        .changes
        .iter()
        .map(|c| ((c.name.as_str(), c.rtype.as_str()), saved_change(c)))
        .collect();
    let mut errors = Vec::new();
    let mut refuse = |i: usize, c: &SavedChange, why: String| {
        let d = Diagnostic::error(
            code::DNS_PLAN_CHANGE_REFUSED,
            format!(
                "zone {zone}: the plan would {}, which jardin does not propose now: {why}; nothing was applied",
                describe(c)
            ),
        )
        .with_note(format!("{why_now}: apply sends only changes it proposes itself"))
        .with_help(plan_again);
        errors.push(text.label(d, text.change(index, i), "refused"));
    };
    for (i, c) in saved.changes.iter().enumerate() {
        let key = (c.name.clone(), c.rtype.clone());
        let holds = live.get(&key).cloned().unwrap_or_default();
        if sorted(c.before.clone()) != holds {
            refuse(
                i,
                c,
                format!(
                    "the plan read {} there, the zone holds {}",
                    records(&c.before),
                    records(&holds)
                ),
            );
            continue;
        }
        let mine = SavedChange {
            before: sorted(c.before.clone()),
            after: sorted(c.after.clone()),
            ..c.clone()
        };
        match proposed.get(&(c.name.as_str(), c.rtype.as_str())) {
            Some(p) if *p == mine => {}
            Some(p) if p.action != mine.action => {
                refuse(i, c, format!("jardin would {} it", p.action))
            }
            Some(p) => refuse(
                i,
                c,
                format!(
                    "jardin would write {}, the plan writes {}",
                    records(&p.after),
                    records(&mine.after)
                ),
            ),
            None => {
                let foreign = now
                    .foreign
                    .iter()
                    .find(|f| f.name == c.name && f.rtype == c.rtype);
                let why = match foreign {
                    Some(f) if f.conflict.is_some() => {
                        "it is not jardin's: jardin wants other data there and leaves it to a person"
                            .to_string()
                    }
                    Some(_) => "it is not jardin's: no ownership marker claims it and the zone is not exclusive".to_string(),
                    None if c.rtype == "SOA"
                        || (c.rtype == "NS" && c.name.trim_end_matches('.') == zone.trim_end_matches('.')) =>
                    {
                        "the SOA and the apex NS are the server's".to_string()
                    }
                    None if holds.is_empty() => "the config does not ask for it".to_string(),
                    None => "the zone already holds what the config asks for".to_string(),
                };
                refuse(i, c, why);
            }
        }
    }

    // The approval is decided on apply's own figures; the file's must
    // agree, or what the reviewer saw was not the truth.
    let deletes = saved
        .changes
        .iter()
        .filter(|c| c.action == "delete" && !is_marker(&c.name))
        .count();
    let over = over_budget(
        deletes,
        now.budget_count,
        now.budget_percent,
        now.live_rrsets,
    );
    let figures: [(&str, String, String); 5] = [
        ("deletes", saved.deletes.to_string(), deletes.to_string()),
        (
            "budget_count",
            saved.budget_count.to_string(),
            now.budget_count.to_string(),
        ),
        (
            "budget_percent",
            saved.budget_percent.to_string(),
            now.budget_percent.to_string(),
        ),
        (
            "live_rrsets",
            saved.live_rrsets.to_string(),
            now.live_rrsets.to_string(),
        ),
        (
            "over_budget",
            saved.over_budget.to_string(),
            over.to_string(),
        ),
    ];
    for (field, says, is) in figures {
        if says != is {
            let d = Diagnostic::error(
                code::DNS_PLAN_APPROVAL_MISMATCH,
                format!(
                    "zone {zone}: the plan says {field} = {says}, apply computes {is} from the config and the live zone; nothing was applied"
                ),
            )
            .with_note(format!("{why_now}: the deletion budget and the approval it needs are recomputed, never read from the plan"))
            .with_help(plan_again);
            errors.push(text.label(d, text.field(index, field), "not what apply computes"));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let reviewed: BTreeSet<(&str, &str)> = saved
        .changes
        .iter()
        .map(|c| (c.name.as_str(), c.rtype.as_str()))
        .collect();
    let unreviewed = proposed
        .iter()
        .filter(|(k, _)| !reviewed.contains(*k))
        .map(|(_, c)| describe(c))
        .collect();
    Ok(Verified {
        zone: SavedZone {
            deletes,
            over_budget: over,
            ..saved.clone()
        },
        unreviewed,
    })
}

/// The changes of an update that the zone, read back after it, does not
/// show: one error per RRset that is not what the update wrote.
pub fn not_taken(zone: &SavedZone, server: &str, live: &LiveZone) -> Vec<Diagnostic> {
    let sets = live_sets(live);
    let types_at = |name: &str| -> Vec<&str> {
        sets.keys()
            .filter(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
            .collect()
    };
    let mut out = Vec::new();
    for c in &zone.changes {
        let want = sorted(c.after.clone());
        let holds = sets
            .get(&(c.name.clone(), c.rtype.clone()))
            .cloned()
            .unwrap_or_default();
        if want == holds {
            continue;
        }
        let others: Vec<&str> = types_at(&c.name)
            .into_iter()
            .filter(|t| *t != c.rtype)
            .collect();
        let same_data = |a: &[SavedRr], b: &[SavedRr]| {
            let data = |v: &[SavedRr]| v.iter().map(|r| r.data.clone()).collect::<BTreeSet<_>>();
            data(a) == data(b)
        };
        let help = if c.rtype == "CNAME" && !want.is_empty() && !others.is_empty() {
            format!(
                "a CNAME cannot share its name with other data (RFC 1034 §3.6.2), and the server drops it without an error: {} holds {}, which jardin does not own; remove it, or serve the host elsewhere",
                c.name,
                others.join(", ")
            )
        } else if c.rtype != "CNAME" && !want.is_empty() && others.contains(&"CNAME") {
            format!(
                "{} has a CNAME, and a server drops other data beside a CNAME without an error; remove the CNAME",
                c.name
            )
        } else if !want.is_empty() && same_data(&want, &holds) {
            "the server gives every record of an RRset one TTL: give the records of this RRset the same `ttl`".to_string()
        } else {
            format!("the server answered NOERROR but did not apply this change: check its log for the update of {}", zone.zone)
        };
        out.push(
            Diagnostic::error(
                code::DNS_UPDATE_NOT_TAKEN,
                format!(
                    "zone {}: {server} did not take {}: it holds {}",
                    zone.zone,
                    describe(c),
                    records(&holds)
                ),
            )
            .with_note(format!("the update wrote {}", records(&want)))
            .with_help(help),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::plan::{plan_zone, PlanFile};
    use crate::dns::{Origin, OwnedRr, Owner, Rr, ZoneData};

    const SOA: &str = "ns1.example.net. admin.example.net. 7 3600 900 1209600 300";

    fn rr(name: &str, t: &str, d: &str) -> Rr {
        Rr {
            name: name.into(),
            rtype: t.into(),
            ttl: 300,
            data: d.into(),
        }
    }

    fn desired() -> ZoneData {
        let mut z = ZoneData {
            apex: "example.org.".into(),
            settings: crate::test_support::zone_settings(300),
            records: vec![OwnedRr {
                rr: rr("pad.example.org.", "CNAME", "ingress.example.net."),
                owner: Owner::App {
                    tenant: "t".into(),
                    app: "pad".into(),
                },
                origin: Origin::Derived,
            }],
        };
        crate::dns::derive::add_markers(&mut z);
        z
    }

    fn live(extra: Vec<Rr>) -> LiveZone {
        let mut records = vec![rr("example.org.", "SOA", SOA)];
        records.extend(extra);
        LiveZone {
            apex: "example.org.".into(),
            records,
        }
    }

    /// A plan saved then read back, as apply gets it.
    fn saved(z: &ZoneData, l: &LiveZone) -> (SavedZone, PlanText) {
        let file = PlanFile {
            format_version: 1,
            zones: vec![SavedZone::from_plan(&plan_zone(z, l), None)],
        };
        let text = serde_json::to_string_pretty(&file).unwrap();
        let back: PlanFile = serde_json::from_str(&text).unwrap();
        (back.zones[0].clone(), PlanText::new("plan.json", &text))
    }

    #[test]
    fn an_unedited_plan_is_sent_whole() {
        let (z, l) = (desired(), live(vec![]));
        let (s, text) = saved(&z, &l);
        let v = verify_saved(&s, 0, &plan_zone(&z, &l), &l, &text).unwrap();
        assert_eq!(v.zone.changes, s.changes);
        assert!(v.unreviewed.is_empty());
    }

    #[test]
    fn a_foreign_deletion_is_refused_where_it_is_written() {
        let l = live(vec![rr("shop.example.org.", "A", "192.0.2.7")]);
        let z = desired();
        let (mut s, _) = saved(&z, &l);
        s.changes.push(SavedChange {
            action: "delete".into(),
            name: "shop.example.org.".into(),
            rtype: "A".into(),
            before: vec![saved_rr(&rr("shop.example.org.", "A", "192.0.2.7"))],
            after: vec![],
        });
        s.deletes = 1;
        let file = serde_json::to_string_pretty(&PlanFile {
            format_version: 1,
            zones: vec![s.clone()],
        })
        .unwrap();
        let text = PlanText::new("plan.json", &file);
        let errors = verify_saved(&s, 0, &plan_zone(&z, &l), &l, &text).unwrap_err();
        let refused: Vec<&Diagnostic> = errors
            .iter()
            .filter(|d| d.code == code::DNS_PLAN_CHANGE_REFUSED)
            .collect();
        assert_eq!(refused.len(), 1, "{errors:?}");
        assert!(
            refused[0].message.contains("delete shop.example.org. A")
                && refused[0].message.contains("it is not jardin's"),
            "{}",
            refused[0].message
        );
        let at = refused[0].labels[0].span.clone();
        assert_eq!(&file[at], "\"shop.example.org.\"");
        // Its deletion count is apply's, but the budget says no.
        assert!(errors
            .iter()
            .any(|d| d.code == code::DNS_PLAN_APPROVAL_MISMATCH
                && d.message
                    .contains("over_budget = false, apply computes true")));
    }

    #[test]
    fn a_changed_serial_refuses_before_anything_else() {
        let z = desired();
        let (s, text) = saved(&z, &live(vec![]));
        let mut l = live(vec![rr("other.example.org.", "A", "192.0.2.1")]);
        l.records[0].data = SOA.replace(" 7 ", " 8 ");
        let errors = verify_saved(&s, 0, &plan_zone(&z, &l), &l, &text).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, code::ZONE_CHANGED);
        assert!(
            errors[0].message.contains("serial 7, now 8"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn a_dropped_cname_is_not_taken_and_explained() {
        let z = desired();
        let l = live(vec![]);
        let (s, _) = saved(&z, &l);
        let back = live(vec![
            rr("pad.example.org.", "TXT", "\"someone else's\""),
            rr(
                "_jardin-owner.pad.example.org.",
                "TXT",
                "\"jardin-owner\" \"CNAME=app:t/pad\"",
            ),
        ]);
        let errors = not_taken(&s, "127.0.0.1:53", &back);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0]
            .message
            .contains("did not take create pad.example.org. CNAME"));
        assert!(errors[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("holds TXT"));
    }

    #[test]
    fn plan_text_locates_changes_and_fields() {
        let text = r#"{"format_version": 1, "zones": [
  {"zone": "a.org", "deletes": 0, "changes": [{"name": "x \"}\" ["}, {"name": "y"}]},
  {"zone": "b.org", "over_budget": false, "changes": []}
]}"#;
        let p = PlanText::new("plan.json", text);
        assert_eq!(p.zones.len(), 2);
        let c = p.change(0, 1).unwrap();
        assert_eq!(&text[c], r#""y""#);
        let c = p.change(0, 0).unwrap();
        assert_eq!(&text[c], r#""x \"}\" [""#);
        assert_eq!(&text[p.field(1, "over_budget").unwrap()], "false");
        assert_eq!(&text[p.field(0, "deletes").unwrap()], "0");
        assert!(p.change(1, 0).is_none());
    }

    #[test]
    fn plan_text_of_garbage_has_no_spans() {
        let p = PlanText::new("plan.json", "{\"zones\": [ {");
        assert!(p.zones.is_empty());
        let deep = "[".repeat(10_000);
        assert!(PlanText::new("plan.json", &deep).zones.is_empty());
    }
}
