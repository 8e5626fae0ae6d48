//! `apply --dns`: the zones' RFC 2136 updates in the same run.
//!
//! They go out before any cluster's first wave. In the graph, a record
//! needs nothing jardin applies (it names the clusters' ingress addresses,
//! which come from the config), and an Ingress's certificate needs its
//! records (Ingress → Certificate → DNS name): the ACME challenge must
//! resolve. A zone that fails holds back the Ingresses serving names in
//! it; everything else goes on, and the run exits 1.

use std::collections::BTreeSet;
use std::time::Instant;

use super::super::dns::{self as dns_cli, ZoneSent};
use super::super::{exit, Global, Output};
use jardin_compiler::apply::report::{Entry, Outcome, Report, ZoneEntry};
use jardin_compiler::apply::{ClusterSchedule, Send};
use jardin_compiler::dns::derive::derive;
use jardin_compiler::dns::plan::SavedZone;
use jardin_compiler::dns::ZoneData;
use jardin_compiler::pipeline::Compilation;
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_core::model::Collective;

/// The zones of a run, checked and ready to send.
pub(super) struct Zones {
    data: Vec<ZoneData>,
    /// Each zone's checked plan, in the order they are sent.
    plans: Vec<SavedZone>,
    /// Zones of a config root whose server could not be read: failed
    /// before anything is sent, like a zone whose update fails.
    unread: Vec<(String, Diagnostic)>,
    server: Option<String>,
}

/// Where the zones to send come from.
pub(super) enum Source<'a> {
    /// A saved plan's zones, and the plan's text (to point at a refusal).
    Plan {
        name: &'a str,
        text: &'a str,
        zones: &'a [SavedZone],
    },
    /// A config root: planned now.
    Root,
}

/// Reads every zone again and checks a saved plan's zones against it, or
/// plans them now. A saved plan's zone that cannot be read again refuses
/// the run (it cannot be checked); a root's zone that cannot be read fails
/// alone, and holds back its Ingresses. Refuses (exit 3) deletions over a zone's budget that
/// `--allow-dns-deletes` does not cover, before anything is changed.
pub(super) fn prepare(
    out: &Output,
    whole: bool,
    source: Source<'_>,
    collective: &Collective,
    compiled: &Compilation,
    server: &Option<String>,
    allow_deletes: usize,
) -> Result<Zones, i32> {
    if !whole {
        out.diagnostics(&[Diagnostic::error(
            code::DNS_PLAN_UNUSABLE,
            "--dns updates whole zones, and cannot be combined with --tenant or --cluster",
        )
        .with_help("apply the zones in a run without --tenant and --cluster, or leave out --dns")]);
        return Err(exit::ERROR);
    }
    let data = derive(collective, &compiled.catalog, &compiled.tenants).zones;
    let selected = dns_cli::select(&data, &[], false, out)?;
    let mut unread = Vec::new();
    let send = match source {
        Source::Plan { name, text, zones } => {
            let (send, unreviewed) = dns_cli::verify_zones(
                out,
                name,
                text,
                zones,
                &data,
                &selected,
                server,
                allow_deletes,
            )?;
            // Changes proposed now that the plan does not hold: not sent,
            // said, left for the next plan.
            out.diagnostics(&unreviewed);
            send
        }
        Source::Root => {
            let mut send = Vec::new();
            for (r, z) in dns_cli::plans(&selected, server, &None)
                .into_iter()
                .zip(&selected)
            {
                match r {
                    Ok((p, addr)) => send.push(SavedZone::from_plan(&p, addr)),
                    Err(d) => unread.push((z.name().to_string(), d)),
                }
            }
            send
        }
    };
    dns_cli::within_budget(out, &send, allow_deletes)?;
    let names: Vec<String> = selected.iter().map(|z| z.name().to_string()).collect();
    let data = data
        .into_iter()
        .filter(|z| names.iter().any(|n| n == z.name()))
        .collect();
    Ok(Zones {
        data,
        plans: send,
        unread,
        server: server.clone(),
    })
}

impl Zones {
    /// RRset changes to send, over all zones.
    pub(super) fn changes(&self) -> usize {
        self.plans.iter().map(|z| z.changes.len()).sum()
    }

    /// Sends each zone's update (none in a dry run: DNS has no dry run).
    /// Returns the zones that failed.
    pub(super) fn send(
        &self,
        g: &Global,
        out: &Output,
        dry_run: bool,
        report: &mut Report,
    ) -> BTreeSet<String> {
        let mut failed = BTreeSet::new();
        for (zone, d) in &self.unread {
            if !g.quiet {
                eprintln!("zone {zone}: failed: {}", d.message);
            }
            report.zones.push(ZoneEntry {
                zone: zone.clone(),
                outcome: Outcome::Failed,
                changes: 0,
                message: d.message.clone(),
                millis: 0,
            });
            out.diagnostics(std::slice::from_ref(d));
            failed.insert(zone.clone());
        }
        for z in &self.plans {
            let Some(settings) = self.data.iter().find(|d| d.name() == z.zone) else {
                continue;
            };
            let t = Instant::now();
            let mut entry = ZoneEntry {
                zone: z.zone.clone(),
                outcome: Outcome::Applied,
                changes: 0,
                message: String::new(),
                millis: 0,
            };
            if dry_run {
                entry.outcome = Outcome::Skipped;
                entry.message = format!("dry run: {} RRset changes not sent", z.changes.len());
                if !g.quiet {
                    eprintln!("zone {}: {}", z.zone, entry.message);
                }
                report.zones.push(entry);
                continue;
            }
            let sent = dns_cli::send_zone(settings, z, &self.server);
            if !g.quiet {
                eprintln!("zone {}: {}", z.zone, sent.describe());
            }
            match &sent {
                ZoneSent::NoChanges => {}
                ZoneSent::Applied(n) => entry.changes = *n,
                ZoneSent::NotTaken(_, _) | ZoneSent::Failed(_) => {
                    if let ZoneSent::NotTaken(n, _) = &sent {
                        entry.changes = *n;
                    }
                    entry.outcome = Outcome::Failed;
                    entry.message = sent.describe();
                    failed.insert(z.zone.clone());
                }
            }
            entry.millis = t.elapsed().as_millis() as u64;
            report.zones.push(entry);
            out.diagnostics(&sent.diagnostics());
        }
        failed
    }
}

/// Takes out of the schedules the Ingresses serving a name in a zone that
/// failed, reported as skipped: their certificates could not be issued.
pub(super) fn hold_back(
    schedules: &mut [ClusterSchedule],
    failed: &BTreeSet<String>,
    report: &mut Report,
) {
    if failed.is_empty() {
        return;
    }
    for s in schedules.iter_mut() {
        for (i, wave) in s.waves.iter_mut().enumerate() {
            let (held, kept): (Vec<Send>, Vec<Send>) = std::mem::take(wave)
                .into_iter()
                .partition(|send| failed_zone(send, failed).is_some());
            *wave = kept;
            for send in held {
                let zone = failed_zone(&send, failed).unwrap_or_default();
                let mut e = Entry::new(&s.cluster, &send.object, "hold", Outcome::Skipped);
                e.wave = Some(i + 1);
                e.message = format!("held back: zone {zone} was not updated");
                report.objects.push(e);
            }
        }
        s.waves.retain(|w| !w.is_empty());
    }
}

/// The failed zone an Ingress serves a name in, if any.
fn failed_zone(send: &Send, failed: &BTreeSet<String>) -> Option<String> {
    if send.object.kind != "Ingress" {
        return None;
    }
    let spec = &send.value["spec"];
    let rules = spec["rules"].as_array().into_iter().flatten();
    let tls = spec["tls"].as_array().into_iter().flatten();
    let hosts = rules.filter_map(|r| r["host"].as_str()).chain(
        tls.flat_map(|t| t["hosts"].as_array().into_iter().flatten())
            .filter_map(|h| h.as_str()),
    );
    for host in hosts {
        let host = host.trim_end_matches('.');
        if let Some(z) = failed
            .iter()
            .find(|z| host == z.as_str() || host.ends_with(&format!(".{z}")))
        {
            return Some(z.clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use jardin_compiler::apply::{ObjectRef, Step};
    use serde_json::json;

    fn ingress(name: &str, host: &str) -> Send {
        Send {
            object: ObjectRef {
                api_version: "networking.k8s.io/v1".into(),
                kind: "Ingress".into(),
                namespace: "t".into(),
                name: name.into(),
            },
            step: Step::Create,
            tenant: None,
            value: json!({"spec": {"rules": [{"host": host}], "tls": [{"hosts": [host]}]}}),
        }
    }

    #[test]
    fn only_the_ingresses_of_a_failed_zone_are_held_back() {
        let mut schedules = vec![ClusterSchedule {
            cluster: "c".into(),
            waves: vec![vec![
                ingress("pad", "pad.example.org"),
                ingress("apex", "example.org"),
                ingress("other", "pad.notexample.org"),
            ]],
            ..ClusterSchedule::default()
        }];
        let failed: BTreeSet<String> = ["example.org".to_string()].into();
        let mut report = Report::new(false);
        hold_back(&mut schedules, &failed, &mut report);
        let left: Vec<&str> = schedules[0].waves[0]
            .iter()
            .map(|s| s.object.name.as_str())
            .collect();
        assert_eq!(left, ["other"]);
        assert_eq!(report.count(Outcome::Skipped), 2);
        assert!(report.objects[0].message.contains("zone example.org"));
    }
}
