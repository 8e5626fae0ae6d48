//! `jardin dns plan` and `jardin dns apply`.
//!
//! Exit codes: 0 no change (or applied), 1 error, 2 changes, 3 changes that
//! need approval (deletions over a zone's budget).

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use rayon::prelude::*;

use super::{exit, options, Global, Output};
use jardin_compiler::dns::derive::derive;
use jardin_compiler::dns::live::{LiveSource, Snapshot};
use jardin_compiler::dns::plan::{plan_zone, render_text, PlanFile, SavedZone, ZonePlan};
use jardin_compiler::dns::verify::{check_server, verify_saved, PlanText, Verified};
use jardin_compiler::dns::ZoneData;
use jardin_compiler::pipeline;
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_net::axfr::Server;
use jardin_net::tsig::TsigKey;

pub(super) const CHANGES: i32 = 2;
pub(super) const NEEDS_APPROVAL: i32 = 3;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub(crate) enum DnsCommand {
    /// Show what would change on the authoritative servers.
    Plan {
        #[arg(default_value = ".")]
        root: PathBuf,
        /// Only this zone (repeatable) [default: every rfc2136 zone, or every zone with --snapshot].
        #[arg(long = "zone", value_name = "ZONE")]
        zones: Vec<String>,
        /// Read every zone from this server (host:port) instead of its configured one.
        #[arg(long, conflicts_with = "snapshot")]
        server: Option<String>,
        /// Read zones from master files DIR/<zone>.zone instead of a server.
        #[arg(long, value_name = "DIR")]
        snapshot: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        /// Save the plan, for `jardin dns apply --plan`.
        #[arg(short, long, value_name = "PLAN")]
        output: Option<PathBuf>,
    },
    /// Change the authoritative servers: one signed RFC 2136 update per zone.
    Apply {
        #[arg(default_value = ".")]
        root: PathBuf,
        #[arg(long = "zone", value_name = "ZONE")]
        zones: Vec<String>,
        #[arg(long)]
        server: Option<String>,
        /// Apply this saved plan: only its changes that jardin, reading the
        /// zones again, still proposes identically; refused if a zone
        /// changed since or the file holds anything else.
        #[arg(long, value_name = "PLAN")]
        plan: Option<PathBuf>,
        /// Allow up to N RRset deletions per zone, over the zone's budget.
        #[arg(long, value_name = "N", default_value_t = 0)]
        allow_deletes: usize,
    },
}

pub(super) fn dns(g: &Global, out: &Output, command: DnsCommand) -> i32 {
    match command {
        DnsCommand::Plan {
            root,
            zones,
            server,
            snapshot,
            format,
            output,
        } => plan(g, out, root, &zones, server, snapshot, format, output),
        DnsCommand::Apply {
            root,
            zones,
            server,
            plan,
            allow_deletes,
        } => apply(g, out, root, &zones, server, plan, allow_deletes),
    }
}

/// The derived zones of a config root, or the diagnostics.
fn desired(g: &Global, out: &Output, root: PathBuf) -> Result<Vec<ZoneData>, i32> {
    let c = pipeline::compile(&options(g, root));
    out.diagnostics(&c.diagnostics);
    out.summary(&c);
    if c.errors() > 0 {
        return Err(exit::ERROR);
    }
    let Some(collective) = &c.collective else {
        return Err(exit::ERROR);
    };
    Ok(derive(collective, &c.catalog, &c.tenants).zones)
}

pub(super) fn select<'a>(
    zones: &'a [ZoneData],
    only: &[String],
    all: bool,
    out: &Output,
) -> Result<Vec<&'a ZoneData>, i32> {
    for z in only {
        if !zones.iter().any(|d| d.name() == z.trim_end_matches('.')) {
            let names: Vec<&str> = zones.iter().map(ZoneData::name).collect();
            let mut d =
                Diagnostic::error(code::UNKNOWN_ZONE, format!("no zone {z} in this config"))
                    .with_help(
                        "pass a zone a tenant lists in `zones` or the collective configures",
                    );
            if let Some(s) = jardin_core::diag::did_you_mean(z, names.iter().copied()) {
                d = d.with_note(format!("did you mean {s}?"));
            }
            out.diagnostics(&[d]);
            return Err(exit::ERROR);
        }
    }
    Ok(zones
        .iter()
        .filter(|z| {
            if only.is_empty() {
                all || z.settings.provider == "rfc2136"
            } else {
                only.iter().any(|o| o.trim_end_matches('.') == z.name())
            }
        })
        .collect())
}

/// The server address and key of a zone.
fn endpoint(
    z: &ZoneData,
    server: &Option<String>,
) -> Result<(String, Option<TsigKey>), Diagnostic> {
    let addr = server.clone().or_else(|| z.settings.server.clone()).ok_or_else(|| {
        Diagnostic::error(code::DNS_PROVIDER_UNPLANNABLE, format!("zone {} has no server", z.name()))
            .with_help("set provider = \"rfc2136\" and server = \"host:port\" in the zone, or pass --server or --snapshot")
    })?;
    let key = z.settings.tsig.as_ref().map(TsigKey::load).transpose()?;
    Ok((addr, key))
}

/// Reads and diffs every selected zone, in parallel (each zone is its own
/// TCP connection).
pub(super) fn plans(
    zones: &[&ZoneData],
    server: &Option<String>,
    snapshot: &Option<PathBuf>,
) -> Vec<Result<(ZonePlan, Option<String>), Diagnostic>> {
    zones
        .par_iter()
        .map(|z| {
            let (live, addr) = match snapshot {
                Some(dir) => (Snapshot { dir: dir.clone() }.read(z.name())?, None),
                None => {
                    let (addr, key) = endpoint(z, server)?;
                    (Server::new(&addr, key).read(z.name())?, Some(addr))
                }
            };
            Ok((plan_zone(z, &live), addr))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn plan(
    g: &Global,
    out: &Output,
    root: PathBuf,
    only: &[String],
    server: Option<String>,
    snapshot: Option<PathBuf>,
    format: PlanFormat,
    output: Option<PathBuf>,
) -> i32 {
    let zones = match desired(g, out, root) {
        Ok(z) => z,
        Err(code) => return code,
    };
    let selected = match select(&zones, only, snapshot.is_some(), out) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if selected.is_empty() && !g.quiet {
        eprintln!(
            "no zone to plan: no zone has provider = \"rfc2136\" (use --zone, or --snapshot DIR)"
        );
    }
    let t0 = std::time::Instant::now();
    let results = plans(&selected, &server, &snapshot);
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for r in results {
        match r {
            Ok(p) => ok.push(p),
            Err(d) => errors.push(d),
        }
    }
    if g.verbose {
        eprintln!("planned {} zones in {:?}", selected.len(), t0.elapsed());
    }
    out.diagnostics(&errors);
    match format {
        PlanFormat::Text => {
            let text: String = ok
                .iter()
                .map(|(p, _)| render_text(p))
                .collect::<Vec<_>>()
                .join("\n");
            print!("{text}");
        }
        PlanFormat::Json => {
            let value = serde_json::json!({
                "format_version": 1,
                "zones": ok.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        }
    }
    if let Some(path) = output {
        let file = PlanFile {
            format_version: 1,
            zones: ok
                .iter()
                .map(|(p, addr)| SavedZone::from_plan(p, addr.clone()))
                .collect(),
        };
        let text = serde_json::to_string_pretty(&file).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text) {
            out.diagnostics(&[Diagnostic::error(
                code::CANNOT_WRITE,
                format!("cannot write {}: {e}", path.display()),
            )
            .with_help("check the directory exists and is writable")]);
            return exit::ERROR;
        }
    }
    if !errors.is_empty() {
        return exit::ERROR;
    }
    if ok.iter().any(|(p, _)| p.over_budget) {
        return NEEDS_APPROVAL;
    }
    if ok.iter().any(|(p, _)| p.has_changes()) {
        return CHANGES;
    }
    exit::OK
}

fn apply(
    g: &Global,
    out: &Output,
    root: PathBuf,
    only: &[String],
    server: Option<String>,
    plan_path: Option<PathBuf>,
    allow_deletes: usize,
) -> i32 {
    let zones = match desired(g, out, root) {
        Ok(z) => z,
        Err(code) => return code,
    };
    let selected = match select(&zones, only, false, out) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (send, unreviewed) = match &plan_path {
        Some(path) => match verified_plan(out, path, &zones, &selected, &server, allow_deletes) {
            Ok(v) => v,
            Err(code) => return code,
        },
        None => {
            let mut send = Vec::new();
            let mut errors = Vec::new();
            for r in plans(&selected, &server, &None) {
                match r {
                    Ok((p, addr)) => send.push(SavedZone::from_plan(&p, addr)),
                    Err(d) => errors.push(d),
                }
            }
            if !errors.is_empty() {
                out.diagnostics(&errors);
                return exit::ERROR;
            }
            (send, Vec::new())
        }
    };
    // The deletion budget is checked for every zone before any is changed;
    // `over_budget` is jardin's own figure here, never a plan file's.
    if let Err(code) = within_budget(out, &send, allow_deletes) {
        return code;
    }
    let mut code = exit::OK;
    for z in &send {
        let Some(settings) = selected.iter().find(|s| s.name() == z.zone) else {
            continue;
        };
        let sent = send_zone(settings, z, &server);
        if !g.quiet {
            eprintln!("zone {}: {}", z.zone, sent.describe());
        }
        let failed = sent.diagnostics();
        if !failed.is_empty() {
            out.diagnostics(&failed);
            code = exit::ERROR;
        }
    }
    if !unreviewed.is_empty() {
        out.diagnostics(&unreviewed);
        if code == exit::OK {
            code = CHANGES;
        }
    }
    code
}

/// What sending one zone's update did.
pub(super) enum ZoneSent {
    NoChanges,
    Applied(usize),
    /// Sent, but the zone read back does not show these changes.
    NotTaken(usize, Vec<Diagnostic>),
    /// Not reached, or refused.
    Failed(Diagnostic),
}

impl ZoneSent {
    pub(super) fn describe(&self) -> String {
        match self {
            ZoneSent::NoChanges => "no changes".to_string(),
            ZoneSent::Applied(n) => format!("applied {n} RRset changes"),
            ZoneSent::NotTaken(n, ds) => format!(
                "sent {n} RRset changes, {} not taken by the server",
                ds.len()
            ),
            ZoneSent::Failed(d) => format!("failed: {}", d.message),
        }
    }

    /// The diagnostics of a failure; none when it went through.
    pub(super) fn diagnostics(self) -> Vec<Diagnostic> {
        match self {
            ZoneSent::NotTaken(_, ds) => ds,
            ZoneSent::Failed(d) => vec![d],
            _ => Vec::new(),
        }
    }
}

/// One signed RFC 2136 update for a checked zone plan, then the zone read
/// back: a change the server did not take is a failure.
pub(super) fn send_zone(settings: &ZoneData, z: &SavedZone, server: &Option<String>) -> ZoneSent {
    let result = endpoint(settings, server)
        .and_then(|(addr, key)| jardin_net::update::apply_zone(z, &addr, key.as_ref()));
    match result {
        Ok(jardin_net::update::Outcome::NothingToDo) => ZoneSent::NoChanges,
        Ok(jardin_net::update::Outcome::Applied { changes, not_taken }) => {
            if not_taken.is_empty() {
                ZoneSent::Applied(changes)
            } else {
                ZoneSent::NotTaken(changes, not_taken)
            }
        }
        Err(d) => ZoneSent::Failed(d),
    }
}

/// Refuses, before any zone is changed, deletions over a zone's budget
/// that `--allow-deletes` does not cover.
pub(super) fn within_budget(
    out: &Output,
    zones: &[SavedZone],
    allow_deletes: usize,
) -> Result<(), i32> {
    let over: Vec<Diagnostic> = zones
        .iter()
        .filter(|z| z.over_budget && z.deletes > allow_deletes)
        .map(|z| {
            Diagnostic::error(
                code::DNS_DELETIONS_OVER_BUDGET,
                format!(
                    "zone {}: {} RRset deletions are over the zone's budget",
                    z.zone, z.deletes
                ),
            )
            .with_help(format!(
                "review the plan, then pass --allow-deletes {}",
                z.deletes
            ))
        })
        .collect();
    if over.is_empty() {
        return Ok(());
    }
    out.diagnostics(&over);
    Err(NEEDS_APPROVAL)
}

/// Reads a saved plan and checks it again: the zones are read from their
/// servers, the plan recomputed from the config, and only the saved changes
/// the recomputed plan proposes identically are kept. Any other saved
/// change refuses the whole apply. Returns the zones to send and a warning
/// per zone for changes proposed now that the plan does not hold.
fn verified_plan(
    out: &Output,
    path: &std::path::Path,
    zones: &[ZoneData],
    selected: &[&ZoneData],
    server: &Option<String>,
    allow_deletes: usize,
) -> Result<(Vec<SavedZone>, Vec<Diagnostic>), i32> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        unusable(
            out,
            format!("cannot read plan {}: {e}", path.display()),
            "save a plan with `jardin dns plan -o PLAN`",
        )
    })?;
    let file = match serde_json::from_str::<PlanFile>(&text) {
        Ok(p) if p.format_version == 1 => p,
        Ok(p) => {
            return Err(unusable(
                out,
                format!("plan format {} is not supported", p.format_version),
                "make the plan again with this version of jardin",
            ))
        }
        Err(e) => return Err(unusable(
            out,
            format!("{} is not a jardin DNS plan: {e}", path.display()),
            "save a plan with `jardin dns plan -o PLAN` (plans of older versions of jardin too)",
        )),
    };
    verify_zones(
        out,
        &path.display().to_string(),
        &text,
        &file.zones,
        zones,
        selected,
        server,
        allow_deletes,
    )
}

/// Says that a saved plan cannot be used, and why: the run's error code.
fn unusable(out: &Output, message: String, help: &str) -> i32 {
    out.diagnostics(&[Diagnostic::error(code::DNS_PLAN_UNUSABLE, message).with_help(help)]);
    exit::ERROR
}

/// Checks a saved plan's zones against the zones read again and the plan
/// made again (`dns::verify`): the zones to send, and a warning per zone
/// for changes proposed now that the plan does not hold. `text` is the
/// whole plan file, whose top-level `zones` locates a refusal. Also used
/// by `jardin apply` for a plan made with `jardin plan --dns`.
#[allow(clippy::too_many_arguments)]
pub(super) fn verify_zones(
    out: &Output,
    name: &str,
    text: &str,
    file_zones: &[SavedZone],
    zones: &[ZoneData],
    selected: &[&ZoneData],
    server: &Option<String>,
    allow_deletes: usize,
) -> Result<(Vec<SavedZone>, Vec<Diagnostic>), i32> {
    // A plan is applied only to the zones it was made for, and all of them
    // must still be in the config.
    let foreign: Vec<&str> = file_zones
        .iter()
        .filter(|z| !zones.iter().any(|d| d.name() == z.zone))
        .map(|z| z.zone.as_str())
        .collect();
    if !foreign.is_empty() {
        return Err(unusable(
            out,
            format!(
                "{} was made for zones this config does not have: {}",
                name,
                foreign.join(", ")
            ),
            "plan again from this config with `jardin dns plan -o PLAN`",
        ));
    }
    let located = PlanText::new(name, text);
    let saved: Vec<(usize, &SavedZone, &ZoneData)> = file_zones
        .iter()
        .enumerate()
        .filter_map(|(i, z)| {
            let d = selected.iter().find(|s| s.name() == z.zone)?;
            Some((i, z, *d))
        })
        .collect();
    // What the file asks for is refused before any server is read: the
    // approval it says it needs, and records the wire format refuses.
    let asked: Vec<SavedZone> = saved.iter().map(|(_, z, _)| (*z).clone()).collect();
    within_budget(out, &asked, allow_deletes)?;
    let unencodable: Vec<Diagnostic> = asked
        .iter()
        .filter_map(|z| jardin_net::update::update_message(z).err())
        .collect();
    if !unencodable.is_empty() {
        out.diagnostics(&unencodable);
        return Err(exit::ERROR);
    }
    let checked: Vec<Result<Verified, Vec<Diagnostic>>> = saved
        .par_iter()
        .map(|(i, z, d)| {
            let (addr, key) = endpoint(d, server).map_err(|e| vec![e])?;
            check_server(z, *i, &addr, &located).map_err(|e| vec![e])?;
            let live = Server::new(&addr, key)
                .read(d.name())
                .map_err(|e| vec![e])?;
            let now = plan_zone(d, &live);
            verify_saved(z, *i, &now, &live, &located)
        })
        .collect();
    let mut send = Vec::new();
    let mut unreviewed = Vec::new();
    let mut errors = Vec::new();
    for r in checked {
        match r {
            Ok(v) => {
                if !v.unreviewed.is_empty() {
                    unreviewed.push(
                        Diagnostic::warning(
                            code::DNS_CHANGES_NOT_REVIEWED,
                            format!(
                                "zone {}: {} changes jardin proposes now are not in the plan, and are not applied: {}",
                                v.zone.zone,
                                v.unreviewed.len(),
                                v.unreviewed.join(", ")
                            ),
                        )
                        .with_help("run `jardin dns plan -o PLAN` again and review them"),
                    );
                }
                send.push(v.zone);
            }
            Err(mut d) => errors.append(&mut d),
        }
    }
    if !errors.is_empty() {
        jardin_core::diag::sort(&mut errors);
        out.diagnostics(&errors);
        return Err(exit::ERROR);
    }
    Ok((send, unreviewed))
}
