//! DNS: the records every zone needs, derived from the model, written as
//! RFC 1035 master files, compared with what an authoritative server serves,
//! and changed through signed RFC 2136 updates.
//!
//! - `derive`: pure, model → [`ZoneData`] (records with their owner)
//! - `rules`: diagnostics `J04xx` on the derived zones
//! - `zonefile`: master file and JSON writer, master file reader
//! - `live`: where the current zone comes from (AXFR + TSIG, or a file)
//! - `plan`: pure diff of desired and live, honouring ownership markers
//! - `apply`: one RFC 2136 update per zone, with prerequisites
//! - `tsig`: the key type, which never prints its secret
//!
//! Only `live` and `apply` touch the network.

pub mod apply;
pub mod derive;
pub mod live;
pub mod plan;
pub mod rules;
pub mod tsig;
pub mod zonefile;

use std::collections::BTreeMap;

use hickory_proto::rr::{RData, RecordType};
use serde::Serialize;

/// Who asked for a record. Shown in plans and used by rules to explain
/// conflicts; stored in the ownership markers on the server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Owner {
    /// A web record for an app's host.
    App { tenant: String, app: String },
    /// Mail authentication for a tenant's sending domain.
    Mail { tenant: String },
    /// The zone itself: SOA, NS, CAA and its hand-written records.
    Zone { apex: String },
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::App { tenant, app } => write!(f, "app:{tenant}/{app}"),
            Owner::Mail { tenant } => write!(f, "mail:{tenant}"),
            Owner::Zone { apex } => write!(f, "zone:{apex}"),
        }
    }
}

/// One resource record in canonical form: absolute lower-case name with a
/// trailing dot, type mnemonic, TTL, and the record data in presentation
/// format as jardin writes it (so that desired and live compare as text).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Rr {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub ttl: u32,
    pub data: String,
}

/// A desired record and who wants it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OwnedRr {
    #[serde(flatten)]
    pub rr: Rr,
    pub owner: Owner,
    /// Value path in the config that caused it (for diagnostics), e.g.
    /// `apps.pad.host` in a tenant or `zones.x.org.records.0`.
    #[serde(skip)]
    pub origin: Origin,
}

/// Where a record came from in the user's files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Origin {
    /// A tenant file (by tenant id) and a value path in it.
    Tenant(String, String),
    /// The collective's jardin.ncl and a value path in it.
    Collective(String),
    #[default]
    Derived,
}

/// The key of an RRset.
pub type RrKey = (String, String);

/// A zone: its apex, settings and every desired record.
#[derive(Clone, Debug)]
pub struct ZoneData {
    /// Apex with a trailing dot, lower case.
    pub apex: String,
    pub settings: crate::model::Zone,
    pub records: Vec<OwnedRr>,
}

impl ZoneData {
    /// The zone's apex as the user writes it (no trailing dot).
    pub fn name(&self) -> &str {
        self.apex.trim_end_matches('.')
    }

    /// Records grouped into RRsets, in a stable order.
    pub fn rrsets(&self) -> BTreeMap<RrKey, Vec<&OwnedRr>> {
        let mut sets: BTreeMap<RrKey, Vec<&OwnedRr>> = BTreeMap::new();
        for r in &self.records {
            sets.entry((r.rr.name.clone(), r.rr.rtype.clone()))
                .or_default()
                .push(r);
        }
        sets
    }
}

/// An absolute, lower-case name with a trailing dot.
pub fn fqdn(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    if n.ends_with('.') {
        n
    } else {
        format!("{n}.")
    }
}

/// Parses record data as written in a master file and gives it back in
/// jardin's canonical presentation. Names in the data must be absolute.
pub fn canonical_data(rtype: &str, data: &str) -> Result<String, String> {
    let t: RecordType = rtype
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| format!("unknown record type {rtype}"))?;
    if matches!(
        t,
        RecordType::Unknown(_)
            | RecordType::ANY
            | RecordType::AXFR
            | RecordType::IXFR
            | RecordType::OPT
    ) {
        return Err(format!("record type {rtype} cannot be written in a zone"));
    }
    let rdata = RData::try_from_str(t, data).map_err(|e| format!("{e}"))?;
    Ok(present(&rdata))
}

/// Presentation format of record data: hickory's `Display`, except TXT,
/// whose `Display` drops the quotes and the string boundaries.
pub fn present(rdata: &RData) -> String {
    match rdata {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| quote(&String::from_utf8_lossy(s)))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// A character-string in double quotes, with `"` and `\` escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Splits a long TXT value into 255-byte strings, as RFC 1035 requires.
pub fn txt_strings(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() <= 255 {
        return quote(value);
    }
    let mut parts = Vec::new();
    let mut start = 0;
    while start < value.len() {
        let mut end = (start + 255).min(value.len());
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        parts.push(quote(&value[start..end]));
        start = end;
    }
    parts.join(" ")
}

/// The DNS part of `build`: derives the zones, runs the rules, and gives
/// the diagnostics and the files `dns/<zone>.zone` and `dns/<zone>.json`.
pub fn build(
    collective: &crate::model::Collective,
    collective_map: &crate::source::SourceMap,
    tenants: &[crate::model::TenantUnit],
) -> (Vec<crate::diag::Diagnostic>, Vec<(String, Vec<u8>)>) {
    let derived = derive::derive(collective, tenants);
    let sources = rules::Sources {
        collective,
        collective_map,
        tenants,
    };
    let diags = rules::check(&derived, &sources);
    let mut files = Vec::new();
    for z in &derived.zones {
        files.push((
            format!("dns/{}.zone", z.name()),
            zonefile::write_zone(z).into_bytes(),
        ));
        files.push((
            format!("dns/{}.json", z.name()),
            zonefile::write_json(z).into_bytes(),
        ));
    }
    (diags, files)
}

/// The DNS codes with their docs, for docs/DIAGNOSTICS.md.
pub static CODES: &[crate::check::Code] = &[
    crate::check::Code { code: "J0401", title: "CNAME at an apex or beside other data", doc: "A CNAME cannot live at a zone apex (where SOA and NS are) nor beside any other record at the same name (RFC 1034). Serve the apex with addresses (A/AAAA), or move the other data." },
    crate::check::Code { code: "J0402", title: "conflicting owners", doc: "Two owners (apps, tenants, the zone's hand-written records) want different records of the same type at the same name. jardin does not pick one: remove one of them." },
    crate::check::Code { code: "J0403", title: "more than one SPF record", doc: "A name has several TXT records starting with `v=spf1`. Receivers then treat SPF as a permanent error and mail from the domain fails authentication. Merge them into one." },
    crate::check::Code { code: "J0404", title: "sending domain without SPF, DKIM or DMARC", doc: "A tenant sends mail from a domain that lacks one of SPF, DKIM or DMARC in the zones jardin writes. Mail would land in spam or be rejected. The hint names what is missing." },
    crate::check::Code { code: "J0405", title: "TTL out of range", doc: "A zone or record TTL is outside 60 seconds to one week: too short floods the servers, too long makes changes take days." },
    crate::check::Code { code: "J0406", title: "invalid hand-written record", doc: "A record in a zone's `records` has an unknown type or data that does not parse for its type." },
    crate::check::Code { code: "J0407", title: "nameserver without glue", doc: "A nameserver of the zone lies inside the zone and has no address record in it: resolvers could never reach it, and `kzonecheck` rejects the zone." },
    crate::check::Code { code: "J0420", title: "DNS snapshot unreadable", doc: "A zone-file snapshot given to `jardin dns plan --snapshot` cannot be read or parsed." },
    crate::check::Code { code: "J0421", title: "DNS server unreachable or refusing", doc: "The authoritative server could not be reached, or answered an AXFR or an update with an error." },
    crate::check::Code { code: "J0422", title: "DNS plan file unusable", doc: "A plan given to `jardin dns apply --plan` cannot be read, or was made for other zones." },
    crate::check::Code { code: "J0423", title: "DNS deletions over budget", doc: "The plan deletes more records than the budget allows (a count and a share of the zone). Nothing is applied without `--allow-deletes N`." },
    crate::check::Code { code: "J0424", title: "DNS provider cannot be planned", doc: "The zone's provider has no live source jardin can read (for example a zone written only as a file)." },
    crate::check::Code { code: "J0430", title: "TSIG key unusable", doc: "The TSIG key named in the zone's config cannot be loaded from its environment variable or file, or is not valid. Its value is never printed." },
    crate::check::Code { code: "J0431", title: "TSIG key refused", doc: "The server refused the TSIG signature: a wrong key name, algorithm or secret." },
    crate::check::Code { code: "J0432", title: "DNS update cannot be encoded", doc: "A record of the plan cannot be turned into an RFC 2136 update (a name or data the wire format refuses)." },
    crate::check::Code { code: "J0433", title: "zone changed since the plan", doc: "The zone's SOA on the server differs from the one the plan was computed against: someone changed the zone. Nothing was applied; plan again." },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// User record data and snapshots never panic the parsers.
    #[test]
    fn arbitrary_record_data_never_panics() {
        let alphabet: Vec<char> = "ab09.:-_\" \\;()@*$\u{e9}\u{0}\t\n\u{1F600}"
            .chars()
            .collect();
        let types = [
            "A", "AAAA", "CNAME", "TXT", "MX", "CAA", "SRV", "NS", "SOA", "TLSA", "SSHFP", "HINFO",
            "X",
        ];
        let mut next = crate::test_support::xorshift(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let data: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let t = types[(next() % types.len() as u64) as usize];
            let _ = canonical_data(t, &data);
            let _ = zonefile::parse_zone(&format!("x 300 IN {t} {data}\n"), "example.org");
        }
    }
}
