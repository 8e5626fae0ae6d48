//! One cluster's apply: the inventory widened to old ∪ new before anything
//! else (a run killed at any point leaks nothing: every object it may have
//! created is already listed), each wave sent and waited for, deletions in
//! order, then the inventory narrowed to what is desired.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::show::Show;
use super::Cluster;
use jardin_compiler::apply::inventory;
use jardin_compiler::apply::report::{Entry, Outcome, Report};
use jardin_compiler::apply::status::{readiness, Readiness};
use jardin_compiler::apply::{ClusterSchedule, ObjectRef, Send, Step};
use jardin_core::code;
use jardin_core::diag::Diagnostic;
use jardin_net::apply::ApplyError;

pub(super) struct Settings {
    pub(super) dry_run: bool,
    pub(super) force: bool,
    /// Per object.
    pub(super) timeout: Duration,
    /// The whole run.
    pub(super) deadline: Instant,
    pub(super) failure_grace: Duration,
    /// A `--tenant` run: the inventory keeps what it listed.
    pub(super) filtered: bool,
}

/// How often a wave's objects are read while waiting.
const POLL: Duration = Duration::from_millis(250);

/// Applies one cluster's schedule. Ok(true) when anything changed.
pub(super) fn cluster(
    cl: &Cluster,
    s: &ClusterSchedule,
    settings: &Settings,
    show: &mut Show,
    report: &mut Report,
) -> Result<bool, Vec<Diagnostic>> {
    let widened = cl.old.union(&s.members);
    if s.is_empty() && widened == cl.old && (settings.filtered || s.members == cl.old) {
        return Ok(false);
    }
    if !settings.dry_run {
        write_inventory(cl, &widened)?;
    }
    let total = s.waves.len();
    for (i, wave) in s.waves.iter().enumerate() {
        show.wave(&cl.id, i + 1, total, wave.len());
        let mut sent: Vec<(&Send, Instant)> = Vec::new();
        for send in wave {
            let t = Instant::now();
            if let Err(d) = send_one(cl, send, settings) {
                let mut e = entry(cl, send, i, Outcome::Failed);
                e.message = d.message.clone();
                e.millis = t.elapsed().as_millis() as u64;
                report.objects.push(e);
                skip_rest(cl, s, i, report);
                return Err(vec![d]);
            }
            sent.push((send, t));
            show.sent(&cl.id, send, settings.dry_run);
        }
        let waited = if settings.dry_run {
            Ok(sent.iter().map(|(_, t)| t.elapsed()).collect())
        } else {
            wait_ready(cl, &sent, settings, show)
        };
        match waited {
            Ok(times) => {
                for ((send, _), took) in sent.iter().zip(times) {
                    let mut e = entry(cl, send, i, Outcome::Applied);
                    e.millis = took.as_millis() as u64;
                    report.objects.push(e);
                }
            }
            Err((not_ready, diagnostics)) => {
                for (send, _) in &sent {
                    let failed = not_ready.get(&send.object);
                    let mut e = entry(
                        cl,
                        send,
                        i,
                        if failed.is_some() {
                            Outcome::Failed
                        } else {
                            Outcome::Applied
                        },
                    );
                    e.message = failed.cloned().unwrap_or_default();
                    report.objects.push(e);
                }
                skip_rest(cl, s, i + 1, report);
                return Err(diagnostics);
            }
        }
    }
    prune(cl, s, settings, show, report)?;
    if !settings.dry_run {
        let narrowed = if settings.filtered {
            widened
        } else {
            s.members.clone()
        };
        write_inventory(cl, &narrowed)?;
    }
    Ok(s.sends() + s.prunes.len() > 0)
}

fn entry(cl: &Cluster, send: &Send, wave: usize, outcome: Outcome) -> Entry {
    let mut e = Entry::new(&cl.id, &send.object, step_name(send.step), outcome);
    e.wave = Some(wave + 1);
    e
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::Create => "create",
        Step::Update => "update",
        Step::Adopt => "adopt",
        Step::Recreate => "recreate",
    }
}

/// The waves a failure stopped, and the deletions, in the report as skipped.
fn skip_rest(cl: &Cluster, s: &ClusterSchedule, from: usize, report: &mut Report) {
    for (i, wave) in s.waves.iter().enumerate().skip(from) {
        for send in wave {
            let mut e = entry(cl, send, i, Outcome::Skipped);
            e.message = "an earlier wave failed".to_string();
            report.objects.push(e);
        }
    }
    for p in &s.prunes {
        let mut e = Entry::new(&cl.id, &p.object, "delete", Outcome::Skipped);
        e.message = "an earlier wave failed".to_string();
        report.objects.push(e);
    }
}

/// The parent namespace and the parent, listing `members`.
fn write_inventory(cl: &Cluster, members: &inventory::Members) -> Result<(), Vec<Diagnostic>> {
    for object in [inventory::parent_namespace(), members.parent()] {
        cl.api
            .apply(&object, false, true)
            .map_err(|e| vec![failure(cl, &ObjectRef::of(&object), e)])?;
    }
    Ok(())
}

/// Sends one object; a recreate deletes it first and waits until it is gone.
fn send_one(cl: &Cluster, send: &Send, settings: &Settings) -> Result<(), Diagnostic> {
    if send.step == Step::Recreate && !settings.dry_run {
        if let Some(live) = cl.api.get(&send.object)? {
            let uid = live["metadata"]["uid"].as_str().unwrap_or("");
            cl.api.delete(&send.object, uid, false)?;
            if !cl.api.wait_gone(&send.object, settings.timeout)? {
                return Err(Diagnostic::error(
                    code::OBJECT_NOT_READY,
                    format!(
                        "{} {}: still being deleted after {:?}, cannot create it again",
                        cl.id, send.object, settings.timeout
                    ),
                )
                .with_help("a finalizer holds it: see `kubectl get -o yaml` of the object"));
            }
        }
    }
    cl.api
        .apply(&send.value, settings.dry_run, settings.force)
        .map(|_| ())
        .map_err(|e| failure(cl, &send.object, e))
}

fn failure(cl: &Cluster, object: &ObjectRef, e: ApplyError) -> Diagnostic {
    match e {
        ApplyError::Conflict(fields) => {
            let mut by_manager: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (m, f) in fields {
                by_manager.entry(m).or_default().push(f);
            }
            let owners: Vec<String> = by_manager
                .iter()
                .map(|(m, f)| format!("\"{m}\" owns {}", f.join(", ")))
                .collect();
            Diagnostic::error(
                code::FIELD_CONFLICT,
                format!("{} {object}: {}", cl.id, owners.join("; ")),
            )
            .with_help("another tool or a person changed these fields: make the config agree, or take them over with --force-conflicts")
        }
        ApplyError::Rejected(why) | ApplyError::Forbidden(why) => Diagnostic::error(
            code::OBJECT_REJECTED,
            format!("{} {object}: the API server refused it: {why}", cl.id),
        )
        .with_help("nothing after it was applied; fix the config (or the cluster) and apply again"),
        ApplyError::NotServed(d) => d,
        ApplyError::Unreachable(why) => Diagnostic::error(
            code::CLUSTER_UNREACHABLE,
            format!("{} {object}: {why}", cl.id),
        )
        .with_help("apply again once the cluster answers: the run converges from where it stopped"),
    }
}

/// Object → what was last seen of a object that did not become ready.
type NotReady = BTreeMap<ObjectRef, String>;

/// Waits until every object sent in the wave is ready, and returns how long
/// each took. A failure condition counts only once it has lasted
/// `failure_grace`: a blip does not fail the wave.
fn wait_ready(
    cl: &Cluster,
    sent: &[(&Send, Instant)],
    settings: &Settings,
    show: &mut Show,
) -> Result<Vec<Duration>, (NotReady, Vec<Diagnostic>)> {
    let mut ready: Vec<Option<Duration>> = vec![None; sent.len()];
    let mut failing_since: Vec<Option<Instant>> = vec![None; sent.len()];
    let mut last: Vec<String> = vec![String::new(); sent.len()];
    loop {
        let mut failed: Vec<usize> = Vec::new();
        for (i, (send, t)) in sent.iter().enumerate() {
            if ready[i].is_some() {
                continue;
            }
            let now = match cl.api.get(&send.object) {
                Ok(Some(v)) => readiness(&v),
                Ok(None) => Readiness::InProgress("not found yet".to_string()),
                Err(d) => Readiness::InProgress(d.message),
            };
            match now {
                Readiness::Current => {
                    ready[i] = Some(t.elapsed());
                    failing_since[i] = None;
                    show.ready(&cl.id, send);
                }
                Readiness::InProgress(why) => {
                    failing_since[i] = None;
                    last[i] = why;
                    if t.elapsed() > settings.timeout {
                        failed.push(i);
                    }
                }
                Readiness::Failed(why) => {
                    let since = *failing_since[i].get_or_insert_with(Instant::now);
                    last[i] = format!("failed: {why}");
                    if since.elapsed() >= settings.failure_grace || t.elapsed() > settings.timeout {
                        failed.push(i);
                    }
                }
            }
        }
        let waiting: Vec<(String, String)> = sent
            .iter()
            .enumerate()
            .filter(|(i, _)| ready[*i].is_none())
            .map(|(i, (s, _))| (s.object.to_string(), last[i].clone()))
            .collect();
        if waiting.is_empty() {
            return Ok(ready.into_iter().map(Option::unwrap_or_default).collect());
        }
        let overall = Instant::now() >= settings.deadline;
        if !failed.is_empty() || overall {
            let stuck: Vec<usize> = if overall {
                (0..sent.len()).filter(|i| ready[*i].is_none()).collect()
            } else {
                failed
            };
            let mut not_ready = NotReady::new();
            let mut ds = Vec::new();
            for i in stuck {
                let object = &sent[i].0.object;
                not_ready.insert(object.clone(), last[i].clone());
                ds.push(
                    Diagnostic::error(
                        code::OBJECT_NOT_READY,
                        format!(
                            "{} {object}: not ready after {:.0?}: {}",
                            cl.id,
                            sent[i].1.elapsed(),
                            last[i]
                        ),
                    )
                    .with_help(if overall {
                        "the apply's --overall-timeout passed; nothing after this wave was applied"
                    } else {
                        "nothing after this wave was applied; see `kubectl describe` of the object and its pods, fix, and apply again"
                    }),
                );
            }
            return Err((not_ready, ds));
        }
        show.waiting(&waiting);
        std::thread::sleep(POLL);
    }
}

/// Deletions, in order, each only if the object still has the uid it had
/// when the plan was made.
fn prune(
    cl: &Cluster,
    s: &ClusterSchedule,
    settings: &Settings,
    show: &mut Show,
    report: &mut Report,
) -> Result<(), Vec<Diagnostic>> {
    for p in &s.prunes {
        let t = Instant::now();
        let result = cl.api.delete(&p.object, &p.uid, settings.dry_run);
        let outcome = match &result {
            Ok(_) => Outcome::Pruned,
            Err(_) => Outcome::Failed,
        };
        let mut e = Entry::new(&cl.id, &p.object, "delete", outcome);
        e.millis = t.elapsed().as_millis() as u64;
        if let Err(d) = &result {
            e.message = d.message.clone();
        }
        report.objects.push(e);
        match result {
            Ok(_) => show.pruned(&cl.id, &p.object, settings.dry_run),
            Err(d) => return Err(vec![d]),
        }
    }
    for k in &s.kept {
        let mut e = Entry::new(&cl.id, &k.object, "delete", Outcome::Skipped);
        e.message = k.reason.clone();
        report.objects.push(e);
    }
    Ok(())
}
