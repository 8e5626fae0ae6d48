//! DNS rules, run on the derived zones. Each code has a fixture in
//! `examples/errors/dns-*` and a golden diagnostic in `golden/errors/`.

use std::collections::{BTreeMap, BTreeSet};

use crate::dns::derive::{is_marker, Derived};
use crate::dns::{fqdn, Origin, OwnedRr};
use jardin_core::code::Code;
use jardin_core::diag::Diagnostic;
use jardin_core::source::Span;

use crate::check::{Context, Rule, Stage};
use jardin_core::code;

/// Shortest TTL jardin accepts: below a minute resolvers hammer the server.
pub(crate) const TTL_MIN: u32 = 60;
/// Longest TTL jardin accepts: a week (longer makes mistakes stick).
pub(crate) const TTL_MAX: u32 = 604_800;

/// Where an owner of records was declared.
fn span(ctx: &Context<'_>, origin: &Origin) -> Option<Span> {
    match origin {
        Origin::Tenant(id, path) => ctx
            .tenants
            .iter()
            .find(|t| t.compiled.tenant.id == *id)
            .and_then(|t| t.source_map.get(path)),
        Origin::Collective(path) => ctx.collective_map.get(path),
        Origin::Derived => None,
    }
}

/// J0401–J0407, over the derived zones.
pub(crate) struct Zones;

impl Rule for Zones {
    fn codes(&self) -> &'static [Code] {
        &[
            code::CNAME_CONFLICT,
            code::OWNER_CONFLICT,
            code::SEVERAL_SPF,
            code::MAIL_AUTHENTICATION,
            code::TTL_OUT_OF_RANGE,
            code::INVALID_RECORD,
            code::MISSING_GLUE,
        ]
    }

    fn stage(&self) -> Stage {
        Stage::Zones
    }

    fn check(&self, ctx: &Context<'_>) -> Vec<Diagnostic> {
        ctx.zones.map_or_else(Vec::new, |zones| check(zones, ctx))
    }
}

/// Runs every DNS rule.
fn check(derived: &Derived, src: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    out.extend(invalid_records(derived, src));
    for zone in &derived.zones {
        out.extend(cname_conflicts(zone, src));
        out.extend(owner_conflicts(zone, src));
        out.extend(several_spf(zone, src));
        out.extend(ttl_range(zone, src));
        out.extend(missing_glue(zone, src));
    }
    out.extend(mail_authentication(derived, src));
    out
}

/// J0401: a CNAME at a zone apex, or beside other data at the same name.
///
/// A CNAME says "this name is that other name": nothing else may live at
/// the name (RFC 1034 §3.6.2), and an apex always has SOA and NS. Resolvers
/// then answer unpredictably, and mail to the apex breaks. Use A/AAAA at
/// the apex (jardin does so for a served apex), and give the other record
/// another name or drop the CNAME.
fn cname_conflicts(zone: &crate::dns::ZoneData, src: &Context<'_>) -> Vec<Diagnostic> {
    let mut by_name: BTreeMap<&str, Vec<&OwnedRr>> = BTreeMap::new();
    for r in &zone.records {
        by_name.entry(r.rr.name.as_str()).or_default().push(r);
    }
    let mut out = Vec::new();
    for (name, recs) in by_name {
        let Some(cname) = recs.iter().find(|r| r.rr.rtype == "CNAME") else {
            continue;
        };
        let others: Vec<&&OwnedRr> = recs.iter().filter(|r| r.rr.rtype != "CNAME").collect();
        if name == zone.apex {
            out.push(
                Diagnostic::error(code::CNAME_CONFLICT, format!("CNAME at the apex of zone {}", zone.name()))
                    .with_span(span(src, &cname.origin).as_ref(), "this CNAME is at the zone apex")
                    .with_help("a zone apex has SOA and NS records: use A/AAAA records there instead of a CNAME"),
            );
        } else if let Some(other) = others.first() {
            out.push(
                Diagnostic::error(
                    code::CNAME_CONFLICT,
                    format!(
                        "CNAME beside other data at {}: {} wants a CNAME, {} wants {}",
                        name.trim_end_matches('.'),
                        cname.owner,
                        other.owner,
                        other.rr.rtype
                    ),
                )
                .with_span(span(src, &cname.origin).as_ref(), "this asks for a CNAME")
                .with_span(
                    span(src, &other.origin).as_ref(),
                    "this asks for another record at the same name",
                )
                .with_help(
                    "a name with a CNAME can hold nothing else: move one of them to another name",
                ),
            );
        }
    }
    out
}

/// Types whose records are independent values, merged from several owners.
const MERGEABLE: &[&str] = &["TXT", "MX", "CAA", "SRV", "NS"];

/// J0402: two owners want different records at the same name and type.
///
/// jardin writes one RRset per name and type. When an app and a zone's
/// hand-written record (or two tenants) want different addresses or CNAME
/// targets there, resolvers would spread visitors over both: one of them
/// would silently lose. (TXT, MX, CAA, SRV and NS records from several
/// owners are merged: they are independent values.) Say which one is right: remove the other
/// record, or serve the host from one place.
fn owner_conflicts(zone: &crate::dns::ZoneData, src: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for ((name, rtype), recs) in zone.rrsets() {
        // Independent values (several TXT, MX, CAA…) share an RRset fine.
        if MERGEABLE.contains(&rtype.as_str()) {
            continue;
        }
        let owners: BTreeSet<String> = recs.iter().map(|r| r.owner.to_string()).collect();
        if owners.len() < 2 && !(rtype == "CNAME" && recs.len() > 1) {
            continue;
        }
        let (a, b) = (recs[0], recs[recs.len() - 1]);
        out.push(
            Diagnostic::error(
                code::OWNER_CONFLICT,
                format!(
                    "{} and {} want different {rtype} records at {}",
                    a.owner,
                    b.owner,
                    name.trim_end_matches('.')
                ),
            )
            .with_span(
                span(src, &a.origin).as_ref(),
                format!("{rtype} {}", a.rr.data),
            )
            .with_span(
                span(src, &b.origin).as_ref(),
                format!("{rtype} {}", b.rr.data),
            )
            .with_help("keep one: remove the other record, or move one host to another name"),
        );
    }
    out
}

/// J0403: more than one SPF record at a name.
///
/// RFC 7208 §4.5: with two `v=spf1` TXT records, SPF evaluation returns
/// `permerror` and receivers treat the domain's mail as unauthenticated.
/// jardin writes the SPF of a tenant's sending domain itself: merge other
/// senders into it through the relay's include instead of adding a record.
fn several_spf(zone: &crate::dns::ZoneData, src: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for ((name, rtype), recs) in zone.rrsets() {
        if rtype != "TXT" {
            continue;
        }
        let mut spf: Vec<&&OwnedRr> = recs
            .iter()
            .filter(|r| r.rr.data.starts_with("\"v=spf1"))
            .collect();
        // jardin's own (a tenant's mail) first: the other one is the mistake.
        spf.sort_by_key(|r| !matches!(r.owner, crate::dns::Owner::Mail { .. }));
        if spf.len() > 1 {
            out.push(
                Diagnostic::error(
                    code::SEVERAL_SPF,
                    format!(
                        "{} SPF records at {}",
                        spf.len(),
                        name.trim_end_matches('.')
                    ),
                )
                .with_span(span(src, &spf[1].origin).as_ref(), "another v=spf1 record")
                .with_span(
                    span(src, &spf[0].origin).as_ref(),
                    "jardin's SPF for the sending domain",
                )
                .with_note(format!(
                    "owners: {}",
                    spf.iter()
                        .map(|r| r.owner.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .with_help("a domain has exactly one SPF record: remove the hand-written one"),
            );
        }
    }
    out
}

/// J0404: a tenant's sending domain lacks SPF, DKIM or DMARC.
///
/// Receivers (Gmail, Outlook, …) reject or junk mail from a domain that
/// does not authenticate. jardin publishes all three for a sending domain
/// in a zone it manages; when the domain is in no zone (not in the tenant's
/// `zones` nor the collective's), nothing is published.
fn mail_authentication(derived: &Derived, src: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let by_apex: BTreeMap<&str, &crate::dns::ZoneData> =
        derived.zones.iter().map(|z| (z.apex.as_str(), z)).collect();
    for unit in src.tenants {
        let t = &unit.compiled.tenant;
        let Some(mail) = &t.mail else { continue };
        if t.state == "archived" {
            continue;
        }
        let domain = fqdn(&mail.sending_domain);
        // Only the zone holding the domain can hold its records.
        let mut zone = None;
        let mut rest = domain.as_str();
        while !rest.is_empty() {
            if let Some(z) = by_apex.get(rest) {
                zone = Some(*z);
                break;
            }
            rest = rest.split_once('.').map_or("", |(_, parent)| parent);
        }
        let all: Vec<&OwnedRr> = zone.map(|z| z.records.iter().collect()).unwrap_or_default();
        let has = |pred: &dyn Fn(&OwnedRr) -> bool| all.iter().any(|r| pred(r));
        let mut missing = Vec::new();
        if !has(&|r| {
            r.rr.name == domain && r.rr.rtype == "TXT" && r.rr.data.starts_with("\"v=spf1")
        }) {
            missing.push("SPF");
        }
        if !has(&|r| {
            r.rr.name.ends_with(&format!("._domainkey.{domain}")) && !is_marker(&r.rr.name)
        }) {
            missing.push("DKIM");
        }
        let dmarc = format!("_dmarc.{domain}");
        if !has(&|r| r.rr.name == dmarc && r.rr.data.starts_with("\"v=DMARC1")) {
            missing.push("DMARC");
        }
        if missing.is_empty() {
            continue;
        }
        out.push(
            Diagnostic::error(
                code::MAIL_AUTHENTICATION,
                format!("sending domain {} has no {}", mail.sending_domain, missing.join(", ")),
            )
            .with_span(unit.source_map.get("mail.sending_domain").as_ref(), "mail is sent from this domain")
            .with_help(format!(
                "add \"{}\" (or its parent zone) to the tenant's zones so that jardin publishes SPF, DKIM and DMARC",
                mail.sending_domain
            )),
        );
    }
    out
}

/// J0405: a TTL outside 60 s … 1 week.
///
/// Below a minute, resolvers query the server for every lookup; above a
/// week, a mistake stays cached for longer than anyone will wait. Zones and
/// hand-written records both take TTLs in seconds.
fn ttl_range(zone: &crate::dns::ZoneData, src: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let ok = |t: u32| (TTL_MIN..=TTL_MAX).contains(&t);
    let s = &zone.settings;
    if !ok(s.ttl) {
        let origin = Origin::Collective(format!("zones.{}.ttl", zone.name()));
        out.push(
            Diagnostic::error(
                code::TTL_OUT_OF_RANGE,
                format!("zone {} has TTL {} s", zone.name(), s.ttl),
            )
            .with_span(span(src, &origin).as_ref(), "this TTL")
            .with_help(format!("use a TTL between {TTL_MIN} and {TTL_MAX} seconds")),
        );
        return out;
    }
    for (i, r) in s.records.iter().enumerate() {
        if let Some(ttl) = r.ttl.filter(|t| !ok(*t)) {
            let origin = Origin::Collective(format!("zones.{}.records.{i}.ttl", zone.name()));
            out.push(
                Diagnostic::error(
                    code::TTL_OUT_OF_RANGE,
                    format!(
                        "record {} {} in zone {} has TTL {ttl} s",
                        r.name,
                        r.kind,
                        zone.name()
                    ),
                )
                .with_span(span(src, &origin).as_ref(), "this TTL")
                .with_help(format!("use a TTL between {TTL_MIN} and {TTL_MAX} seconds")),
            );
        }
    }
    out
}

/// J0406: a hand-written record whose type or data is not valid.
///
/// The record could not be parsed as master-file data of its type (an
/// address that is not one, a name in the data that is not absolute, an
/// unknown type). It is left out of the zone. Names in record data must
/// end with a dot.
fn invalid_records(derived: &Derived, src: &Context<'_>) -> Vec<Diagnostic> {
    derived
        .rejected
        .iter()
        .map(|r| {
            Diagnostic::error(
                code::INVALID_RECORD,
                // Escaped: a name or value from the config is printed as
                // one line, whatever it holds.
                format!(
                    "invalid {} record {} in zone {}: {}",
                    r.rtype.escape_debug(),
                    r.name.trim_end_matches('.').escape_debug(),
                    r.zone.trim_end_matches('.'),
                    r.reason
                ),
            )
            .with_span(
                span(src, &r.origin).as_ref(),
                format!("{} {}", r.rtype.escape_debug(), r.value.escape_debug()),
            )
            .with_help(
                "write the data as in a zone file; names in it must be absolute (end with a dot)",
            )
        })
        .collect()
}

/// J0407: a nameserver of the zone lies inside it and has no address.
///
/// When the apex NS names a host in the zone itself (`ns1.example.org` for
/// `example.org`), resolvers need its address from the zone (glue) to reach
/// it at all; without an A or AAAA record the zone cannot be resolved and
/// `kzonecheck` rejects it. The default nameserver is `ns1.` the domain of
/// the collective's contact address.
fn missing_glue(zone: &crate::dns::ZoneData, src: &Context<'_>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for ns in zone
        .records
        .iter()
        .filter(|r| r.rr.rtype == "NS" && r.rr.name == zone.apex)
    {
        let target = ns.rr.data.to_ascii_lowercase();
        let inside = target == zone.apex || target.ends_with(&format!(".{}", zone.apex));
        let has_address = zone
            .records
            .iter()
            .any(|r| r.rr.name == target && (r.rr.rtype == "A" || r.rr.rtype == "AAAA"));
        if inside && !has_address {
            let origin = Origin::Collective(format!("zones.{}", zone.name()));
            out.push(
                Diagnostic::error(
                    code::MISSING_GLUE,
                    format!("nameserver {} of zone {} is inside the zone and has no address", target.trim_end_matches('.'), zone.name()),
                )
                .with_span(span(src, &origin).as_ref(), "this zone")
                .with_help(format!(
                    "set nameservers = [\"ns1.example.net\"] for the zone, or add its A/AAAA record to the zone's records: {{ name = \"{}\", type = \"A\", value = \"...\" }}",
                    target.trim_end_matches('.').strip_suffix(&format!(".{}", zone.name())).unwrap_or("@")
                )),
            );
        }
    }
    out
}
