//! What an apply shows while it runs, on stderr. On a terminal: one bar,
//! with the wave, the objects done out of the total, and what is still
//! awaited with its status. Elsewhere (a CI log): one line per object, and
//! a line every few seconds while a wave waits. Names and statuses only:
//! never an object's content, so never a secret.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::super::{ErrorFormat, Global};
use jardin_compiler::apply::report::{Outcome, Report};
use jardin_compiler::apply::{ObjectRef, Send, Step};

/// How often a CI log says what a wave still waits for.
const LOG_WAITING_EVERY: Duration = Duration::from_secs(10);

pub(super) struct Show {
    bar: Option<ProgressBar>,
    quiet: bool,
    wave: String,
    last_waiting: Instant,
}

impl Show {
    pub(super) fn new(g: &Global, total: usize) -> Show {
        let terminal =
            !g.quiet && g.error_format == ErrorFormat::Human && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let style =
                ProgressStyle::with_template("{spinner} {prefix} {bar:25} {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("█▉▊▋▌▍▎▏ ");
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
                    .with_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Show {
            bar,
            quiet: g.quiet,
            wave: String::new(),
            last_waiting: Instant::now(),
        }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if !self.quiet => eprintln!("{text}"),
            None => {}
        }
    }

    pub(super) fn wave(&mut self, cluster: &str, wave: usize, waves: usize, objects: usize) {
        self.wave = format!("{cluster} wave {wave}/{waves}");
        match &self.bar {
            Some(bar) => bar.set_prefix(self.wave.clone()),
            None => self.line(format!(
                "{}: {objects} object{}",
                self.wave,
                if objects == 1 { "" } else { "s" }
            )),
        }
        self.last_waiting = Instant::now();
    }

    /// Sent; in a dry run that is all there is.
    pub(super) fn sent(&mut self, cluster: &str, send: &Send, dry_run: bool) {
        if dry_run {
            self.line(format!(
                "{cluster}: would {} {}",
                verb(send.step),
                send.object
            ));
            self.inc();
        }
    }

    pub(super) fn ready(&mut self, cluster: &str, send: &Send) {
        self.line(format!("{cluster}: {} {}", past(send.step), send.object));
        self.inc();
    }

    pub(super) fn pruned(&mut self, cluster: &str, object: &ObjectRef, dry_run: bool) {
        let verb = if dry_run { "would delete" } else { "deleted" };
        self.line(format!("{cluster}: {verb} {object}"));
        self.inc();
    }

    /// Objects of the wave not ready yet, with what was last seen of each.
    pub(super) fn waiting(&mut self, waiting: &[(String, String)]) {
        let Some((first, why)) = waiting.first() else {
            return;
        };
        let more = match waiting.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        match &self.bar {
            Some(bar) => bar.set_message(format!("waiting for {first}: {why}{more}")),
            None => {
                if self.last_waiting.elapsed() >= LOG_WAITING_EVERY {
                    self.last_waiting = Instant::now();
                    self.line(format!("{}: waiting for {first}: {why}{more}", self.wave));
                }
            }
        }
    }

    fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub(super) fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn verb(step: Step) -> &'static str {
    match step {
        Step::Create => "create",
        Step::Update => "update",
        Step::Adopt => "label (adopt)",
        Step::Recreate => "recreate",
    }
}

fn past(step: Step) -> &'static str {
    match step {
        Step::Create => "created",
        Step::Update => "updated",
        Step::Adopt => "adopted",
        Step::Recreate => "recreated",
    }
}

/// The last line of a run.
pub(super) fn summary(report: &Report) -> String {
    let applied = report.count(Outcome::Applied);
    let pruned = report.count(Outcome::Pruned);
    let skipped = report.count(Outcome::Skipped);
    let rrsets: usize = report.zones.iter().map(|z| z.changes).sum();
    if applied + pruned + skipped + rrsets == 0 {
        return "Nothing to do: the clusters are as the config says.".to_string();
    }
    let (a, d) = if report.dry_run {
        ("would apply", "would delete")
    } else {
        ("applied", "deleted")
    };
    let mut s = format!(
        "{a} {applied} object{}, {d} {pruned}",
        if applied == 1 { "" } else { "s" }
    );
    if skipped > 0 {
        s.push_str(&format!(", kept back {skipped}"));
    }
    if !report.zones.is_empty() {
        s.push_str(&format!(
            "; DNS: {rrsets} RRset change{} in {} zone{}",
            if rrsets == 1 { "" } else { "s" },
            report.zones.len(),
            if report.zones.len() == 1 { "" } else { "s" }
        ));
    }
    if report.dry_run {
        s.push_str(" (server-side dry run: nothing changed)");
    }
    s
}
