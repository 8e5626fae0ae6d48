//! Live zones: what the authoritative server serves now. One trait, two
//! sources: a snapshot directory of master files (`<zone>.zone`) for
//! offline plans, here, and a server (AXFR), in jardin-net.

use std::path::PathBuf;

use super::fqdn;
use super::plan::LiveZone;
use super::zonefile::parse_zone;
use jardin_core::code;
use jardin_core::diag::Diagnostic;

/// A source of live zones.
pub trait LiveSource {
    /// The zone `apex` (no trailing dot) as it is now.
    fn read(&self, apex: &str) -> Result<LiveZone, Diagnostic>;
    /// Where it reads from, for messages.
    fn describe(&self) -> String;
}

/// Master files `<dir>/<zone>.zone`; a missing file is an empty zone.
pub struct Snapshot {
    pub dir: PathBuf,
}

impl LiveSource for Snapshot {
    fn read(&self, apex: &str) -> Result<LiveZone, Diagnostic> {
        let path = self.dir.join(format!("{apex}.zone"));
        let records = match std::fs::read_to_string(&path) {
            Ok(text) => parse_zone(&text, apex).map_err(|e| {
                Diagnostic::error(code::DNS_SNAPSHOT_UNREADABLE, format!("cannot read snapshot {}: {e}", path.display()))
                    .with_help("a snapshot is an RFC 1035 master file, e.g. from `kdig AXFR` or `jardin build`")
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(Diagnostic::error(code::DNS_SNAPSHOT_UNREADABLE, format!("cannot read snapshot {}: {e}", path.display()))
                    .with_help("check the --snapshot directory"))
            }
        };
        Ok(LiveZone {
            apex: fqdn(apex),
            records,
        })
    }

    fn describe(&self) -> String {
        format!("snapshot {}", self.dir.display())
    }
}
