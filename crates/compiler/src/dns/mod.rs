//! DNS: the records every zone needs, derived from the model, written as
//! RFC 1035 master files, compared with what an authoritative server serves,
//! and changed through signed RFC 2136 updates.
//!
//! - `derive`: pure, model → [`ZoneData`] (records with their owner)
//! - `rules`: diagnostics `J04xx` on the derived zones
//! - `zonefile`: master file and JSON writer, master file reader
//! - `live`: where the current zone comes from (AXFR + TSIG, or a file)
//! - `plan`: pure diff of desired and live, honouring ownership markers
//! - `verify`: a saved plan checked against the plan recomputed at apply,
//!   and an update checked against the zone read back after it
//! - `apply`: one RFC 2136 update per zone, with prerequisites
//! - `tsig`: the key type, which never prints its secret
//!
//! Only `live` and `apply` touch the network.

pub mod derive;
pub mod live;
pub mod plan;
pub mod verify;
pub mod zonefile;

use std::collections::BTreeMap;

use hickory_proto::rr::{RData, RecordType};
use serde::Serialize;

/// Who asked for a record. Shown in plans and used by rules to explain
/// conflicts; stored in the ownership markers on the server.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub(crate) enum Owner {
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
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) rtype: String,
    pub(crate) ttl: u32,
    pub(crate) data: String,
}

/// A desired record and who wants it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct OwnedRr {
    #[serde(flatten)]
    pub(crate) rr: Rr,
    pub(crate) owner: Owner,
    /// Value path in the config that caused it (for diagnostics), e.g.
    /// `apps.pad.host` in a tenant or `zones.x.org.records.0`.
    #[serde(skip)]
    pub(crate) origin: Origin,
}

/// Where a record came from in the user's files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A tenant file (by tenant id) and a value path in it.
    Tenant(String, String),
    /// The collective's jardin.ncl and a value path in it.
    Collective(String),
    #[default]
    Derived,
}

/// The key of an RRset.
pub(crate) type RrKey = (String, String);

/// A zone: its apex, settings and every desired record.
#[derive(Clone, Debug)]
pub struct ZoneData {
    /// Apex with a trailing dot, lower case.
    pub(crate) apex: String,
    pub settings: jardin_core::model::Zone,
    pub(crate) records: Vec<OwnedRr>,
}

impl ZoneData {
    /// The zone's apex as the user writes it (no trailing dot).
    pub fn name(&self) -> &str {
        self.apex.trim_end_matches('.')
    }

    /// Records grouped into RRsets, in a stable order.
    pub(crate) fn rrsets(&self) -> BTreeMap<RrKey, Vec<&OwnedRr>> {
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
pub(crate) fn canonical_data(rtype: &str, data: &str) -> Result<String, String> {
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
    // What is written must read back as the same record: the library's
    // presentation of some types (CAA) does not escape what it prints, and
    // a quote or a `;` in a value would end it, or start a comment.
    let text = present(&rdata);
    // Only these characters can make a presentation read back otherwise
    // (most records have none: reading them again would cost for nothing).
    if !text.contains(['"', '\\', ';', '(', ')']) && !text.chars().any(char::is_control) {
        return Ok(text);
    }
    match RData::try_from_str(t, &text) {
        Ok(back) if back == rdata => Ok(text),
        _ => Err("its data cannot be written in a zone file as it is (a quote, a `;` or a control character)".into()),
    }
}

/// Presentation format of record data: hickory's `Display`, except TXT,
/// whose `Display` drops the quotes and the string boundaries.
pub(crate) fn present(rdata: &RData) -> String {
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
pub(crate) fn quote(s: &str) -> String {
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
pub(crate) fn txt_strings(value: &str) -> String {
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

/// The files of the derived zones: `dns/<zone>.zone` and `dns/<zone>.json`.
pub(crate) fn files(derived: &derive::Derived) -> Vec<(String, Vec<u8>)> {
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
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Data whose presentation would not read back (a CAA value holding a
    /// quote and a `;`) is refused rather than written.
    #[test]
    fn data_that_would_not_read_back_is_refused() {
        assert!(canonical_data("CAA", "0 issue \"letsencrypt.org\"").is_ok());
        assert!(canonical_data("CAA", "0 issue \"le.org\\\" ; x\"").is_err());
        assert!(canonical_data("TXT", "\"a \\\" b ; c\"").is_ok());
    }

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
