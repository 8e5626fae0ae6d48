//! Apply: one RFC 2136 UPDATE message per zone, TSIG-signed.
//!
//! Prerequisite: the zone's SOA RRset is exactly the one read when the plan
//! was made (RFC 2136 §2.4.2, value-dependent). Every change on the server
//! bumps the serial, so a plan made before an out-of-band change is
//! refused with NXRRSET and nothing is changed: the update is atomic.
//! Updates: every RRset to replace or delete is deleted whole (class ANY)
//! first, then the new records are added: a server drops a record added
//! beside a CNAME that the same update deletes later (RFC 2136 §3.4.2.2),
//! so the order matters when a host goes from CNAME to A/AAAA.
//!
//! A server may answer NOERROR and still drop part of an update, so the
//! zone is read back afterwards and every change checked
//! (`dns::verify::not_taken`).

use std::time::Duration;

use hickory_proto::op::{Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::axfr::{check_response, sign, zone_name, Conn, Server};
use crate::tsig::TsigKey;
use jardin_compiler::dns::live::LiveSource;
use jardin_compiler::dns::plan::{SavedRr, SavedZone};
use jardin_compiler::dns::verify::not_taken;
use jardin_core::code;
use jardin_core::diag::Diagnostic;

/// What happened to a zone.
#[derive(Clone, Debug)]
pub enum Outcome {
    NothingToDo,
    /// The server answered NOERROR; `not_taken` holds an error for each
    /// change the zone, read back, does not show.
    Applied {
        changes: usize,
        not_taken: Vec<Diagnostic>,
    },
}

fn record(r: &SavedRr, ttl: u32, class: DNSClass) -> Result<Record, Diagnostic> {
    let name = Name::from_ascii(&r.name).map_err(|e| {
        Diagnostic::error(
            code::DNS_UPDATE_UNENCODABLE,
            format!("{} is not a DNS name: {e}", r.name),
        )
    })?;
    let t: RecordType = r.rtype.parse().map_err(|_| {
        Diagnostic::error(
            code::DNS_UPDATE_UNENCODABLE,
            format!("unknown record type {}", r.rtype),
        )
    })?;
    let data = RData::try_from_str(t, &r.data).map_err(|e| {
        Diagnostic::error(
            code::DNS_UPDATE_UNENCODABLE,
            format!("cannot encode {} {} {}: {e}", r.name, r.rtype, r.data),
        )
    })?;
    let mut rec = Record::from_rdata(name, ttl, data);
    rec.dns_class = class;
    Ok(rec)
}

/// The UPDATE message of a zone plan (unsigned); also how apply finds a
/// record the wire format refuses before it sends anything.
pub fn update_message(zone: &SavedZone) -> Result<Message, Diagnostic> {
    let origin = zone_name(&zone.zone)?;
    let mut msg = Message::query();
    msg.metadata.op_code = OpCode::Update;
    msg.metadata.recursion_desired = false;
    let mut z = Query::query(origin, RecordType::SOA);
    z.set_query_class(DNSClass::IN);
    msg.add_query(z);
    if let Some(soa) = &zone.live_soa {
        // Value-dependent prerequisite: TTL zero, class of the zone.
        msg.add_answer(record(soa, 0, DNSClass::IN)?);
    }
    for c in zone.changes.iter().filter(|c| c.action != "create") {
        let name = Name::from_ascii(&c.name).map_err(|e| {
            Diagnostic::error(
                code::DNS_UPDATE_UNENCODABLE,
                format!("{} is not a DNS name: {e}", c.name),
            )
        })?;
        let t: RecordType = c.rtype.parse().map_err(|_| {
            Diagnostic::error(
                code::DNS_UPDATE_UNENCODABLE,
                format!("unknown record type {}", c.rtype),
            )
        })?;
        let mut del = Record::update0(name, 0, t);
        del.dns_class = DNSClass::ANY;
        msg.add_authority(del);
    }
    for c in &zone.changes {
        for r in &c.after {
            msg.add_authority(record(r, r.ttl, DNSClass::IN)?);
        }
    }
    Ok(msg)
}

/// Sends the update of one zone and checks the answer.
pub fn apply_zone(
    zone: &SavedZone,
    server: &str,
    key: Option<&TsigKey>,
) -> Result<Outcome, Diagnostic> {
    if zone.changes.is_empty() {
        return Ok(Outcome::NothingToDo);
    }
    let mut msg = update_message(zone)?;
    let mut verifier = sign(&mut msg, key)?;
    let mut conn = Conn::open(server, Duration::from_secs(10))?;
    conn.send(&msg)?;
    let bytes = conn.receive()?;
    let reply = Message::from_vec(&bytes).map_err(|e| {
        Diagnostic::error(
            code::DNS_SERVER_ERROR,
            format!(
                "update of {}: {server} sent an invalid message: {e}",
                zone.zone
            ),
        )
    })?;
    if reply.metadata.response_code == ResponseCode::NXRRSet {
        return Err(Diagnostic::error(
            code::ZONE_CHANGED,
            format!(
                "zone {} changed on {server} since the plan was made; nothing was applied",
                zone.zone
            ),
        )
        .with_help("run `jardin dns plan` again, review the new plan, then apply it"));
    }
    check_response(
        &bytes,
        &mut verifier,
        key,
        &format!("update of {}", zone.zone),
        server,
    )?;
    let back = Server::new(server, key.cloned())
        .read(&zone.zone)
        .map_err(|d| {
            d.with_note(format!(
                "the update of {} was answered NOERROR, but the zone could not be read back to check it",
                zone.zone
            ))
        })?;
    Ok(Outcome::Applied {
        changes: zone.changes.len(),
        not_taken: not_taken(zone, server, &back),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jardin_compiler::dns::plan::SavedChange;

    fn rr(n: &str, t: &str, d: &str) -> SavedRr {
        SavedRr {
            name: n.into(),
            rtype: t.into(),
            ttl: 300,
            data: d.into(),
        }
    }

    fn zone(changes: Vec<SavedChange>) -> SavedZone {
        SavedZone {
            zone: "example.org".into(),
            server: None,
            live_soa: Some(rr(
                "example.org.",
                "SOA",
                "ns1.example.net. admin.example.net. 7 3600 900 1209600 300",
            )),
            deletes: 0,
            over_budget: false,
            budget_count: 10,
            budget_percent: 10,
            live_rrsets: 1,
            desired_hash: String::new(),
            changes,
        }
    }

    #[test]
    fn update_has_soa_prerequisite_and_replacements() {
        let zone = zone(vec![SavedChange {
            action: "update".into(),
            name: "pad.example.org.".into(),
            rtype: "A".into(),
            before: vec![rr("pad.example.org.", "A", "192.0.2.9")],
            after: vec![rr("pad.example.org.", "A", "192.0.2.1")],
        }]);
        let m = update_message(&zone).unwrap();
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].ttl, 0);
        assert_eq!(m.authorities.len(), 2);
        assert_eq!(m.authorities[0].dns_class, DNSClass::ANY);
        assert!(m.to_vec().is_ok());
    }

    /// A host going from CNAME to A: the plan lists the A first (sorted by
    /// type), but the CNAME must go before the A comes, or the server drops
    /// the A.
    #[test]
    fn deletions_come_before_additions() {
        let zone = zone(vec![
            SavedChange {
                action: "create".into(),
                name: "pad.example.org.".into(),
                rtype: "A".into(),
                before: vec![],
                after: vec![rr("pad.example.org.", "A", "192.0.2.1")],
            },
            SavedChange {
                action: "delete".into(),
                name: "pad.example.org.".into(),
                rtype: "CNAME".into(),
                before: vec![rr("pad.example.org.", "CNAME", "ingress.example.net.")],
                after: vec![],
            },
        ]);
        let m = update_message(&zone).unwrap();
        let order: Vec<(DNSClass, RecordType)> = m
            .authorities
            .iter()
            .map(|r| (r.dns_class, r.record_type()))
            .collect();
        assert_eq!(
            order,
            [
                (DNSClass::ANY, RecordType::CNAME),
                (DNSClass::IN, RecordType::A)
            ]
        );
    }
}
