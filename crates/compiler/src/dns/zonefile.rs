//! RFC 1035 master files and the zone's JSON form.
//!
//! The writer is deterministic: records sorted by name, type and data; the
//! SOA serial is derived from the content (a hash), never from the clock,
//! so the same config gives the same bytes. The reader (hickory's parser)
//! turns a snapshot back into canonical [`Rr`]s for offline plans.

use hickory_proto::rr::Name;
use hickory_proto::serialize::txt::Parser;
use serde_json::json;

use super::{fqdn, present, Rr, ZoneData};

/// The serial of a zone: 1,000,000,000 plus a hash of every record but the
/// SOA, so it changes when the content does and only then. A secondary that
/// compares serials as numbers may see it go down: jardin's zones are meant
/// for an authoritative primary (which keeps its own serial on updates) or
/// for review, not for serial-driven transfers of the written file.
pub(crate) fn serial(zone: &ZoneData) -> u32 {
    let mut h = blake3::Hasher::new();
    for r in zone.records.iter().filter(|r| r.rr.rtype != "SOA") {
        h.update(format!("{} {} {} {}\n", r.rr.name, r.rr.ttl, r.rr.rtype, r.rr.data).as_bytes());
    }
    let bytes = h.finalize();
    let mut four = [0u8; 4];
    four.copy_from_slice(&bytes.as_bytes()[..4]);
    1_000_000_000 + u32::from_be_bytes(four) % 3_000_000_000
}

/// The SOA data with the content serial in place of the placeholder.
fn soa_with_serial(data: &str, serial: u32) -> String {
    let mut fields: Vec<String> = data.split_whitespace().map(str::to_string).collect();
    if fields.len() >= 3 {
        fields[2] = serial.to_string();
    }
    fields.join(" ")
}

/// Records of a zone with the SOA serial filled in, in written order.
pub(crate) fn final_records(zone: &ZoneData) -> Vec<(Rr, String)> {
    let serial = serial(zone);
    let mut out: Vec<(Rr, String)> = zone
        .records
        .iter()
        .map(|r| {
            let mut rr = r.rr.clone();
            if rr.rtype == "SOA" {
                rr.data = soa_with_serial(&rr.data, serial);
            }
            (rr, r.owner.to_string())
        })
        .collect();
    // SOA first, as master files expect; then in DNS order (labels compared
    // from the right, so a name's children follow it), type, data.
    out.sort_by_cached_key(|(r, _)| {
        (
            r.rtype != "SOA",
            canonical_order(&r.name),
            r.rtype.clone(),
            r.data.clone(),
        )
    });
    // An RRset is a set: a record two owners both want is written once,
    // under the first owner in order.
    out.dedup_by(|b, a| a.0 == b.0);
    out
}

/// Sort key of a name in DNS order: its labels from the right.
pub(crate) fn canonical_order(name: &str) -> Vec<String> {
    name.trim_end_matches('.')
        .rsplit('.')
        .map(str::to_string)
        .collect()
}

/// A name relative to the origin, `@` for the apex.
fn relative(name: &str, apex: &str) -> String {
    if name == apex {
        "@".into()
    } else if let Some(prefix) = name.strip_suffix(&format!(".{apex}")) {
        prefix.to_string()
    } else {
        name.to_string()
    }
}

/// The master file of a zone.
pub(crate) fn write_zone(zone: &ZoneData) -> String {
    let records = final_records(zone);
    let width = records
        .iter()
        .map(|(r, _)| relative(&r.name, &zone.apex).len())
        .max()
        .unwrap_or(1);
    let mut out = String::new();
    out.push_str(&format!(
        "; Zone {} written by jardin from the config; do not edit.\n; Each record ends with its owner.\n$ORIGIN {}\n$TTL {}\n",
        zone.name(),
        zone.apex,
        zone.settings.ttl
    ));
    for (r, owner) in records {
        out.push_str(&format!(
            "{:<width$} {:>6} IN {:<5} {} ; {owner}\n",
            relative(&r.name, &zone.apex),
            r.ttl,
            r.rtype,
            r.data,
        ));
    }
    out
}

/// The JSON form of a zone: settings (no secrets: the TSIG key is a
/// reference) and every record with its owner.
pub(crate) fn write_json(zone: &ZoneData) -> String {
    let records: Vec<serde_json::Value> = final_records(zone)
        .into_iter()
        .map(|(r, owner)| json!({ "name": r.name, "type": r.rtype, "ttl": r.ttl, "data": r.data, "owner": owner }))
        .collect();
    let s = &zone.settings;
    let value = json!({
        "zone": zone.name(),
        "serial": serial(zone),
        "provider": s.provider,
        "server": s.server,
        "exclusive": s.exclusive,
        "ttl": s.ttl,
        "records": records,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// Reads a master file (a snapshot) of the zone `apex` into canonical
/// records, sorted; relative names are read against `apex`. Any text gives
/// records or an error, never a panic: the fuzz target `zonefile`
/// (`fuzz/`) holds it to that.
pub fn parse_zone(text: &str, apex: &str) -> Result<Vec<Rr>, String> {
    // The parser would read whatever file an absolute `$INCLUDE` names (a
    // secret into the error message, `/dev/zero` into memory). A snapshot
    // is one file: refused wherever the word appears, even in a comment or
    // a quoted string, rather than trust a second lexer to agree with the
    // parser's on where a directive starts.
    if text.contains("$INCLUDE") {
        return Err(
            "`$INCLUDE` is not allowed: a snapshot is one self-contained master file".into(),
        );
    }
    let origin = Name::from_ascii(fqdn(apex)).map_err(|e| format!("bad zone name {apex}: {e}"))?;
    let (_, sets) = Parser::new(text, None, Some(origin))
        .parse()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for set in sets.values() {
        for r in set.records_without_rrsigs() {
            out.push(from_record(r));
        }
    }
    out.sort();
    Ok(out)
}

/// A hickory record in canonical form.
pub fn from_record(r: &hickory_proto::rr::Record) -> Rr {
    Rr {
        name: fqdn(&r.name.to_ascii()),
        rtype: r.record_type().to_string(),
        ttl: r.ttl,
        data: present(&r.data),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::{Origin, OwnedRr, Owner};

    fn zone() -> ZoneData {
        let owner = Owner::Zone {
            apex: "example.org".into(),
        };
        let rec = |name: &str, t: &str, d: &str| OwnedRr {
            rr: Rr {
                name: name.into(),
                rtype: t.into(),
                ttl: 300,
                data: crate::dns::canonical_data(t, d).unwrap(),
            },
            owner: owner.clone(),
            origin: Origin::Derived,
        };
        ZoneData {
            apex: "example.org.".into(),
            settings: crate::test_support::zone_settings(3600),
            records: vec![
                rec(
                    "example.org.",
                    "SOA",
                    "ns1.example.net. admin.example.net. 1 3600 900 1209600 300",
                ),
                rec("example.org.", "NS", "ns1.example.net."),
                rec(
                    "example.org.",
                    "TXT",
                    "\"v=spf1 -all\" \"a \\\"quoted\\\" part\"",
                ),
                rec("pad.example.org.", "CNAME", "ingress.example.net."),
                rec("example.org.", "CAA", "0 issue \"letsencrypt.org\""),
            ],
        }
    }

    #[test]
    fn written_zone_reads_back_identically() {
        let z = zone();
        let text = write_zone(&z);
        let back = parse_zone(&text, "example.org").unwrap();
        let mut written: Vec<Rr> = final_records(&z).into_iter().map(|(r, _)| r).collect();
        written.sort();
        assert_eq!(back, written, "{text}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Every zone file jardin writes parses back to the records it
        /// meant: records of every type jardin writes, with names and data
        /// drawn at random (quotes, backslashes, `;`, parentheses, control
        /// characters, non-ASCII) and kept when jardin accepts them, as
        /// the record rules do, are read back by the DNS library exactly.
        #[test]
        fn every_written_zone_parses_back_to_its_records(
            records in proptest::collection::vec(
                (
                    "(\\*|[A-Za-z0-9_-]{1,12})(\\.[a-z0-9_-]{1,12}){0,2}",
                    proptest::sample::select(vec!["A", "AAAA", "CNAME", "TXT", "MX", "SRV", "CAA", "NS"]),
                    proptest::prelude::any::<u8>(),
                    "[ -~\\t\\n\"\\\\;()é]{0,40}",
                ),
                0..12,
            )
        ) {
            let owner = Owner::Zone { apex: "example.org".into() };
            let mut z = zone();
            z.records.truncate(2);
            for (name, rtype, n, text) in records {
                let data = match rtype {
                    "A" => format!("192.0.2.{n}"),
                    "AAAA" => format!("2001:db8::{n:x}"),
                    "CNAME" | "NS" => format!("{}.example.net.", text.len()),
                    "MX" => format!("{n} mail{}.example.net.", text.len()),
                    "SRV" => format!("{n} 5 {} sip.example.net.", 5000 + u16::from(n)),
                    "CAA" => format!("0 issue \"{text}\""),
                    _ => format!("\"{text}\""),
                };
                // As the records' builder does: lower case, absolute.
                let name = crate::dns::fqdn(&format!("{name}.example.org"));
                let Ok(data) = crate::dns::canonical_data(rtype, &data) else {
                    continue;
                };
                if crate::dns::derive::valid_owner_name(&name).is_err() {
                    continue;
                }
                // What the CNAME rule (J0401) refuses: a CNAME beside
                // anything else at its name.
                let at_name = |t: Option<&str>| {
                    z.records.iter().any(|r| r.rr.name == name && t.is_none_or(|t| r.rr.rtype == t))
                };
                if at_name(Some("CNAME")) || (rtype == "CNAME" && at_name(None)) {
                    continue;
                }
                z.records.push(OwnedRr {
                    rr: Rr { name, rtype: rtype.into(), ttl: 300, data },
                    owner: owner.clone(),
                    origin: Origin::Derived,
                });
            }
            let text = write_zone(&z);
            let back = parse_zone(&text, "example.org").map_err(|e| {
                proptest::test_runner::TestCaseError::fail(format!("{e}\n{text}"))
            })?;
            let mut meant: Vec<Rr> = final_records(&z).into_iter().map(|(r, _)| r).collect();
            meant.sort();
            proptest::prop_assert_eq!(back, meant, "{}", text);
        }
    }

    #[test]
    fn serial_depends_on_content_only() {
        let a = zone();
        let mut b = zone();
        assert_eq!(serial(&a), serial(&b));
        b.records[3].rr.data = "other.example.net.".into();
        assert_ne!(serial(&a), serial(&b));
    }

    #[test]
    fn bad_snapshot_is_an_error_not_a_panic() {
        assert!(parse_zone("@ IN A not-an-ip\n", "example.org").is_err());
        // Garbage never panics, whatever the parser makes of it.
        let _ = parse_zone("\u{0}\u{1}garbage \"", "example.org");
    }

    /// Found while writing the `zonefile` fuzz target: the parser follows
    /// an absolute `$INCLUDE`, so a snapshot could read any file on the
    /// machine into its records (which a plan shows) or its error, or read
    /// `/dev/zero` until memory runs out.
    #[test]
    fn include_is_refused() {
        let mut secret = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut secret, b"leak 300 IN TXT hunter2\n").unwrap();
        let text = format!("$INCLUDE {}\n", secret.path().display());
        let err = parse_zone(&text, "example.org").unwrap_err();
        assert!(
            err.contains("$INCLUDE") && !err.contains("hunter2"),
            "{err}"
        );
        let err = parse_zone("@ 300 IN A 192.0.2.1\n$INCLUDE /dev/zero\n", "example.org");
        assert!(err.unwrap_err().contains("$INCLUDE"));
    }
}
